//! Multipart upload of a local file to S3: parts in parallel, each checksummed (CRC32,
//! checked by S3) and retried by the SDK; aborted on failure so no parts linger.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::describe;
use crate::error::CloudError;

/// S3's smallest part (all but the last).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// How to upload.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Bytes per part; raised when the file would need more than 10,000 parts.
    pub part_size: u64,
    /// Parts in flight at once (memory: this many parts).
    pub concurrency: usize,
    /// SSE-KMS with this key (id, ARN or alias); the bucket's default encryption when
    /// absent.
    pub kms_key: Option<String>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: 16 * 1024 * 1024,
            concurrency: 4,
            kms_key: None,
        }
    }
}

/// What was uploaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Uploaded {
    /// `s3://bucket/key`.
    pub uri: String,
    /// Bytes.
    pub bytes: u64,
    /// Parts.
    pub parts: usize,
    /// The object's ETag (`"...-N"` for N parts).
    pub etag: String,
}

/// Called with the number of bytes just sent.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Uploads `path` to `s3://bucket/key` in parts.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    bucket: &str,
    key: &str,
    opts: &UploadOptions,
    progress: Progress,
) -> Result<Uploaded, CloudError> {
    let uri = format!("s3://{bucket}/{key}");
    let io = |e: std::io::Error| CloudError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let size = tokio::fs::metadata(path).await.map_err(io)?.len();
    let part_size = opts.part_size.max(MIN_PART).max(size.div_ceil(MAX_PARTS));
    let count = size.div_ceil(part_size).max(1);

    let mut create = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .content_type(content_type(path));
    if let Some(k) = &opts.kms_key {
        create = create
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(k);
    }
    let aws = |what: &str, msg: String| CloudError::Aws {
        action: format!("{what} {uri}"),
        message: msg,
    };
    let created = create
        .send()
        .await
        .map_err(|e| aws("upload", describe(&e)))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(aws("upload", "S3 returned no upload id".into()));
    };

    let sent = send_parts(
        s3, path, bucket, key, &upload_id, size, part_size, count, opts, progress,
    )
    .await;
    let parts = match sent {
        Ok(p) => p,
        Err(e) => {
            // Parts of an unfinished upload are billed until aborted.
            let _ = s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
    };
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws("complete upload", describe(&e)))?;
    Ok(Uploaded {
        uri: uri.clone(),
        bytes: size,
        parts: count as usize,
        etag: done.e_tag().unwrap_or_default().to_string(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    bucket: &str,
    key: &str,
    upload_id: &str,
    size: u64,
    part_size: u64,
    count: u64,
    opts: &UploadOptions,
    progress: Progress,
) -> Result<Vec<CompletedPart>, CloudError> {
    // The permit is taken before the part is read, so memory stays at `concurrency` parts.
    let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut parts = Vec::with_capacity(count as usize);
    for n in 0..count {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CloudError::Config(e.to_string()))?;
        let (s3, path, bucket, key, upload_id, progress) = (
            s3.clone(),
            path.to_path_buf(),
            bucket.to_string(),
            key.to_string(),
            upload_id.to_string(),
            progress.clone(),
        );
        let offset = n * part_size;
        let len = part_size.min(size - offset);
        tasks.spawn(async move {
            let _permit = permit;
            let io = |e: std::io::Error| CloudError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            };
            let mut f = tokio::fs::File::open(&path).await.map_err(io)?;
            f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf).await.map_err(io)?;
            let number = (n + 1) as i32;
            // In memory, so the SDK can compute the checksum and resend the part on a
            // retry.
            let out = s3
                .upload_part()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&upload_id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| CloudError::Aws {
                    action: format!("upload part {number} of s3://{bucket}/{key}"),
                    message: describe(&e),
                })?;
            progress(len);
            Ok::<_, CloudError>(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                    .build(),
            )
        });
        // Reap finished parts as we go so that the first failure stops the upload.
        while let Some(r) = tasks.try_join_next() {
            parts.push(finished(r)?);
        }
    }
    while let Some(r) = tasks.join_next().await {
        parts.push(finished(r)?);
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

fn finished(
    r: Result<Result<CompletedPart, CloudError>, tokio::task::JoinError>,
) -> Result<CompletedPart, CloudError> {
    r.map_err(|e| CloudError::Config(format!("upload task: {e}")))?
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("mkv") => "video/x-matroska",
        Some("webm") => "video/webm",
        Some("ts") => "video/mp2t",
        _ => "application/octet-stream",
    }
}
