//! The S3 operations `mpe serve` answers, on s3s's protocol layer, over [`Objects`]:
//! buckets listed and headed, objects put, got (with Range), headed, copied, deleted and
//! listed (V2 and V1), multipart uploads, and bucket CORS kept per bucket.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::objects::{Claimed, Given, Incoming, ObjectError, Objects, Stat};

/// The largest single PUT (or part) S3 takes.
pub const MAX_PUT: u64 = 5 << 30;

/// Called once an object is published: (bucket, key, what it is).
pub type Created = Arc<dyn Fn(&str, &str, &Stat) + Send + Sync>;

/// The S3 side of the server.
pub struct Service {
    /// The buckets.
    pub objects: Arc<Objects>,
    /// The workflow's trigger.
    pub created: Created,
    /// Bucket CORS configurations.
    pub cors: Arc<super::cors::Cors>,
    /// The region answered for every bucket.
    pub region: String,
}

fn err(e: ObjectError) -> S3Error {
    let code = match &e {
        ObjectError::NoSuchBucket(_) => S3ErrorCode::NoSuchBucket,
        ObjectError::NoSuchKey(_) => S3ErrorCode::NoSuchKey,
        ObjectError::InvalidKey { .. } | ObjectError::KeyConflict(_) => {
            S3ErrorCode::InvalidArgument
        }
        ObjectError::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
        ObjectError::InvalidPart(_) => S3ErrorCode::InvalidPart,
        ObjectError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        ObjectError::EntityTooSmall(_) => S3ErrorCode::EntityTooSmall,
        ObjectError::BadChecksum(_) => S3ErrorCode::BadDigest,
        ObjectError::Io { .. } => {
            tracing::error!(error = %e, "S3 request failed");
            S3ErrorCode::InternalError
        }
    };
    S3Error::with_message(code, e.to_string())
}

fn blocking<T>(r: Result<T, ObjectError>) -> S3Result<T> {
    r.map_err(err)
}

fn timestamp(t: SystemTime) -> Timestamp {
    Timestamp::from(t)
}

fn given(
    content_type: Option<String>,
    cache_control: Option<String>,
    metadata: Option<Metadata>,
) -> Given {
    Given {
        content_type,
        cache_control,
        metadata: metadata.unwrap_or_default().into_iter().collect(),
    }
}

/// The checksum algorithms a request asks to be computed: the one it names, the ones it
/// sends values for, and the one its trailer will carry.
fn algorithms(named: Option<&ChecksumAlgorithm>, headers: &http::HeaderMap) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |s: &str| {
        let a = match s.to_ascii_uppercase().as_str() {
            "CRC32" => "CRC32",
            "CRC32C" => "CRC32C",
            "CRC64NVME" => "CRC64NVME",
            "SHA1" => "SHA1",
            "SHA256" => "SHA256",
            _ => return,
        };
        if !out.contains(&a) {
            out.push(a);
        }
    };
    if let Some(n) = named {
        add(n.as_str());
    }
    for (name, value) in headers {
        if let Some(a) = name.as_str().strip_prefix("x-amz-checksum-") {
            add(a);
        }
        if name == "x-amz-trailer" {
            if let Ok(v) = value.to_str() {
                for t in v.split(',') {
                    if let Some(a) = t.trim().strip_prefix("x-amz-checksum-") {
                        add(a);
                    }
                }
            }
        }
    }
    out
}

/// The checksum values a request claims, from its headers and its trailer.
fn claims(
    headers: &http::HeaderMap,
    trailer: Option<http::HeaderMap>,
    md5: Option<String>,
) -> Claimed {
    let mut sums = Vec::new();
    for h in [Some(headers), trailer.as_ref()].into_iter().flatten() {
        for a in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] {
            let name = format!("x-amz-checksum-{}", a.to_ascii_lowercase());
            if let Some(v) = h.get(&name).and_then(|v| v.to_str().ok()) {
                sums.push((a, v.to_string()));
            }
        }
    }
    Claimed { sums, md5 }
}

/// Refuses a body declared larger than S3 takes, before a byte of it is read.
fn too_large(declared: Option<i64>) -> S3Result<()> {
    if declared.is_some_and(|n| u64::try_from(n).unwrap_or(0) > MAX_PUT) {
        return Err(s3_error!(
            EntityTooLarge,
            "a single PUT or part takes at most 5 GiB; use a multipart upload"
        ));
    }
    Ok(())
}

/// Reads a request body into a temp file of the store, refusing one over [`MAX_PUT`].
async fn receive(
    objects: &Objects,
    body: Option<StreamingBlob>,
    algorithms: &[&str],
) -> S3Result<Incoming> {
    let mut incoming = blocking(objects.begin(algorithms))?;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "reading the body: {e}"))?;
            if incoming.size() + chunk.len() as u64 > MAX_PUT {
                return Err(s3_error!(
                    EntityTooLarge,
                    "a single PUT takes at most 5 GiB"
                ));
            }
            blocking(incoming.write(&chunk))?;
        }
    }
    Ok(incoming)
}

/// The checksums kept, as the output fields want them.
struct Sums {
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
}

fn checksums_into(sums: &BTreeMap<String, String>) -> Sums {
    let g = |k: &str| sums.get(k).cloned();
    Sums {
        crc32: g("CRC32"),
        crc32c: g("CRC32C"),
        crc64: g("CRC64NVME"),
        sha1: g("SHA1"),
        sha256: g("SHA256"),
    }
}

/// S3's ETag type from the quoted string kept.
fn etag(s: &str) -> ETag {
    ETag::Strong(s.trim_matches('"').to_string())
}

#[async_trait::async_trait]
impl s3s::S3 for Service {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = blocking(self.objects.buckets())?
            .into_iter()
            .map(|(name, made)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(made)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                display_name: Some("mpe".into()),
                id: Some("mpe".into()),
            }),
            ..Default::default()
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        blocking(self.objects.bucket_dir(&req.input.bucket))?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        blocking(self.objects.bucket_dir(&req.input.bucket))?;
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: Some(BucketLocationConstraint::from(self.region.clone())),
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        // The stack's buckets exist from the first start; others are its resources too.
        match self.objects.bucket_dir(&req.input.bucket) {
            Ok(_) => Err(s3_error!(BucketAlreadyOwnedByYou)),
            Err(_) => Err(s3_error!(
                AccessDenied,
                "mpe serve has the stack's buckets only ({})",
                blocking(self.objects.buckets())?
                    .into_iter()
                    .map(|b| b.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let algs = algorithms(req.input.checksum_algorithm.as_ref(), &req.headers);
        let input = req.input;
        blocking(self.objects.path(&input.bucket, &input.key))?;
        too_large(input.content_length)?;
        let incoming = receive(&self.objects, input.body, &algs).await?;
        let claimed = claims(
            &req.headers,
            req.trailing_headers.and_then(|t| t.take()),
            input.content_md5,
        );
        let stat = blocking(self.objects.commit(
            &input.bucket,
            &input.key,
            incoming,
            given(input.content_type, input.cache_control, input.metadata),
            &claimed,
        ))?;
        (self.created)(&input.bucket, &input.key, &stat);
        let Sums {
            crc32,
            crc32c,
            crc64,
            sha1,
            sha256,
        } = checksums_into(&stat.facts.checksums);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&stat.facts.etag)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            size: Some(stat.facts.size as i64),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let stat = blocking(self.objects.stat(&input.bucket, &input.key))?;
        let size = stat.facts.size;
        let (range, content_range) = match &input.range {
            Some(r) => {
                let span = r
                    .check(size)
                    .map_err(|_| s3_error!(InvalidRange, "the range is outside the object"))?;
                let cr = format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1));
                (span, Some(cr))
            }
            None => (0..size, None),
        };
        let body = super::delivery::file_stream(&stat.path, range.clone()).map_err(|e| {
            tracing::error!(error = %e, "reading an object");
            s3_error!(InternalError, "reading the object")
        })?;
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some((range.end - range.start) as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&stat.facts.etag)),
            last_modified: Some(timestamp(stat.modified)),
            content_type: stat.facts.content_type.clone(),
            cache_control: stat.facts.cache_control.clone(),
            metadata: (!stat.facts.metadata.is_empty())
                .then(|| stat.facts.metadata.clone().into_iter().collect()),
            parts_count: stat.facts.parts.map(|p| p as i32),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let stat = blocking(self.objects.stat(&req.input.bucket, &req.input.key))?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(stat.facts.size as i64),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&stat.facts.etag)),
            last_modified: Some(timestamp(stat.modified)),
            content_type: stat.facts.content_type.clone(),
            cache_control: stat.facts.cache_control.clone(),
            metadata: (!stat.facts.metadata.is_empty())
                .then(|| stat.facts.metadata.clone().into_iter().collect()),
            parts_count: stat.facts.parts.map(|p| p as i32),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        blocking(self.objects.delete(&req.input.bucket, &req.input.key))?;
        Ok(S3Response::with_status(
            DeleteObjectOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket;
        blocking(self.objects.bucket_dir(&bucket))?;
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for o in req.input.delete.objects {
            match self.objects.delete(&bucket, &o.key) {
                Ok(()) => deleted.push(DeletedObject {
                    key: Some(o.key),
                    ..Default::default()
                }),
                Err(e) => {
                    let e = err(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(o.key),
                        message: e.message().map(str::to_string),
                        version_id: None,
                    })
                }
            }
        }
        let quiet = req.input.delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let CopySource::Bucket {
            bucket: from_bucket,
            key: from_key,
            ..
        } = &input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "copies from access points"));
        };
        let src = blocking(self.objects.stat(from_bucket, from_key))?;
        blocking(self.objects.path(&input.bucket, &input.key))?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == "REPLACE");
        let mut incoming = blocking(self.objects.begin(&[]))?;
        let mut file = std::fs::File::open(&src.path)
            .map_err(|e| s3_error!(InternalError, "reading the source: {e}"))?;
        let mut buf = vec![0; 1 << 20];
        loop {
            use std::io::Read;
            let n = file
                .read(&mut buf)
                .map_err(|e| s3_error!(InternalError, "reading the source: {e}"))?;
            if n == 0 {
                break;
            }
            blocking(incoming.write(&buf[..n]))?;
        }
        let g = if replace {
            given(input.content_type, input.cache_control, input.metadata)
        } else {
            Given {
                content_type: src.facts.content_type.clone(),
                cache_control: src.facts.cache_control.clone(),
                metadata: src.facts.metadata.clone(),
            }
        };
        let stat = blocking(self.objects.commit(
            &input.bucket,
            &input.key,
            incoming,
            g,
            &Claimed::default(),
        ))?;
        (self.created)(&input.bucket, &input.key, &stat);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&stat.facts.etag)),
                last_modified: Some(timestamp(stat.modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match &input.continuation_token {
            Some(t) => Some(
                decode_token(t)
                    .ok_or_else(|| s3_error!(InvalidArgument, "bad continuation token"))?,
            ),
            None => input.start_after.clone(),
        };
        let page = self.page(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            after.as_deref(),
            input.max_keys,
        )?;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            max_keys: Some(page.max_keys),
            key_count: Some((page.objects.len() + page.prefixes.len()) as i32),
            is_truncated: Some(page.next.is_some()),
            next_continuation_token: page.next.as_deref().map(encode_token),
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            contents: Some(page.objects),
            common_prefixes: Some(page.prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self.page(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.marker.as_deref(),
            input.max_keys,
        )?;
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            delimiter: input.delimiter,
            marker: input.marker,
            max_keys: Some(page.max_keys),
            is_truncated: Some(page.next.is_some()),
            next_marker: page.next,
            contents: Some(page.objects),
            common_prefixes: Some(page.prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let id = blocking(self.objects.create_upload(
            &input.bucket,
            &input.key,
            given(input.content_type, input.cache_control, input.metadata),
        ))?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: input.checksum_type,
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let algs = algorithms(req.input.checksum_algorithm.as_ref(), &req.headers);
        let input = req.input;
        let number = u32::try_from(input.part_number)
            .map_err(|_| s3_error!(InvalidArgument, "part numbers run from 1 to 10000"))?;
        too_large(input.content_length)?;
        // The upload must exist before its bytes are taken.
        blocking(
            self.objects
                .parts(&input.upload_id, &input.bucket, &input.key),
        )?;
        let incoming = receive(&self.objects, input.body, &algs).await?;
        let claimed = claims(
            &req.headers,
            req.trailing_headers.and_then(|t| t.take()),
            input.content_md5,
        );
        let part = blocking(self.objects.put_part(
            &input.upload_id,
            &input.bucket,
            &input.key,
            number,
            incoming,
            &claimed,
        ))?;
        let Sums {
            crc32,
            crc32c,
            crc64,
            sha1,
            sha256,
        } = checksums_into(&part.checksums);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let after = input.part_number_marker.unwrap_or(0);
        let max = input.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let all = blocking(
            self.objects
                .parts(&input.upload_id, &input.bucket, &input.key),
        )?;
        let rest: Vec<_> = all
            .into_iter()
            .filter(|p| i64::from(p.number) > i64::from(after))
            .collect();
        let truncated = rest.len() > max;
        let parts: Vec<Part> = rest
            .into_iter()
            .take(max)
            .map(|p| Part {
                part_number: Some(p.number as i32),
                size: Some(p.size as i64),
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(timestamp(
                    SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(p.modified_ns as u64),
                )),
                ..Default::default()
            })
            .collect();
        let next = parts.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: if truncated { next } else { None },
            parts: Some(parts),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        blocking(self.objects.bucket_dir(&input.bucket))?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let uploads = blocking(self.objects.uploads(&input.bucket))?
            .into_iter()
            .filter(|(k, _, _)| k.starts_with(&prefix))
            .map(|(key, id, t)| MultipartUpload {
                key: Some(key),
                upload_id: Some(id),
                initiated: Some(timestamp(t)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            uploads: Some(uploads),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed: Vec<(u32, String)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                (
                    p.part_number
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    p.e_tag.map(|e| e.value().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        let objects = self.objects.clone();
        let (id, bucket, key) = (input.upload_id, input.bucket.clone(), input.key.clone());
        // Joining gigabytes of parts is disk work: off the request threads.
        let stat =
            tokio::task::spawn_blocking(move || objects.complete(&id, &bucket, &key, &listed))
                .await
                .map_err(|e| s3_error!(InternalError, "completing the upload: {e}"))?;
        let stat = blocking(stat)?;
        (self.created)(&input.bucket, &input.key, &stat);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(etag(&stat.facts.etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        blocking(self.objects.abort(&i.upload_id, &i.bucket, &i.key))?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        blocking(self.objects.bucket_dir(&req.input.bucket))?;
        let c = req.input.cors_configuration;
        if c.cors_rules.is_empty() || c.cors_rules.len() > 100 {
            return Err(s3_error!(
                MalformedXML,
                "a CORS configuration has 1 to 100 rules"
            ));
        }
        self.cors
            .set(&req.input.bucket, Some(c))
            .map_err(|e| s3_error!(InternalError, "saving the CORS configuration: {e}"))?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        blocking(self.objects.bucket_dir(&req.input.bucket))?;
        match self.cors.get(&req.input.bucket) {
            Some(c) => Ok(S3Response::new(GetBucketCorsOutput {
                cors_rules: Some(c.cors_rules.clone()),
            })),
            None => Err(s3_error!(NoSuchCORSConfiguration)),
        }
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        blocking(self.objects.bucket_dir(&req.input.bucket))?;
        self.cors
            .set(&req.input.bucket, None)
            .map_err(|e| s3_error!(InternalError, "removing the CORS configuration: {e}"))?;
        Ok(S3Response::with_status(
            DeleteBucketCorsOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }
}

/// One page of a listing.
struct Page {
    objects: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
    next: Option<String>,
    max_keys: i32,
}

impl Service {
    fn page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<Page> {
        let max_keys = max_keys.unwrap_or(1000).clamp(0, 1000);
        let keys = blocking(self.objects.keys(bucket, prefix))?;
        let (mut objects, mut prefixes) = (Vec::new(), Vec::<CommonPrefix>::new());
        let mut next = None;
        let mut count = 0;
        for key in keys {
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            let grouped = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                key[prefix.len()..]
                    .find(d)
                    .map(|i| key[..prefix.len() + i + d.len()].to_string())
            });
            if let Some(p) = &grouped {
                if prefixes.last().and_then(|c| c.prefix.as_deref()) == Some(p.as_str()) {
                    continue;
                }
                // A group already passed on an earlier page.
                if after.is_some_and(|a| a.starts_with(p.as_str())) {
                    continue;
                }
            }
            if count == max_keys {
                next = objects
                    .last()
                    .and_then(|o: &Object| o.key.clone())
                    .into_iter()
                    .chain(prefixes.last().and_then(|c| c.prefix.clone()))
                    .max();
                break;
            }
            count += 1;
            match grouped {
                Some(p) => prefixes.push(CommonPrefix { prefix: Some(p) }),
                None => {
                    let stat = match self.objects.stat(bucket, &key) {
                        Ok(s) => s,
                        // Deleted while listed.
                        Err(ObjectError::NoSuchKey(_)) => continue,
                        Err(e) => return Err(err(e)),
                    };
                    objects.push(Object {
                        key: Some(key),
                        size: Some(stat.facts.size as i64),
                        e_tag: Some(etag(&stat.facts.etag)),
                        last_modified: Some(timestamp(stat.modified)),
                        storage_class: Some(ObjectStorageClass::from_static(
                            ObjectStorageClass::STANDARD,
                        )),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(Page {
            objects,
            prefixes,
            next,
            max_keys,
        })
    }
}

fn encode_token(key: &str) -> String {
    super::hex(key.as_bytes())
}

fn decode_token(t: &str) -> Option<String> {
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..t.len() / 2)
        .map(|i| u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}
