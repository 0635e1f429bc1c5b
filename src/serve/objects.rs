//! The buckets behind `mpe serve`'s S3 API: one folder per bucket under `DATA/buckets`,
//! each object a plain file at its key (so the workflow and the delivery path read them
//! as files), written to a temp file and published by one rename, with its S3 facts
//! (ETag, type, user metadata, checksums) in a sidecar in the parallel tree `DATA/.meta`.
//!
//! A sidecar is believed only while the object's size and mtime are those it records (a
//! rename keeps the mtime), so a crash between the two renames of a PUT never pairs new
//! facts with old bytes: the facts are then worked out again from the file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::hex;

/// Longest key S3 takes, in bytes.
const MAX_KEY: usize = 1024;

/// Longest single path segment of a key: what the file systems mpe runs on allow.
const MAX_SEGMENT: usize = 255;

/// S3's smallest part but the last, in bytes.
pub const MIN_PART: u64 = 5 << 20;

/// S3's highest part number.
pub const MAX_PARTS: u32 = 10_000;

/// What can go wrong with an object or an upload.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// No such bucket.
    #[error("{0}: no such bucket")]
    NoSuchBucket(String),
    /// No such object.
    #[error("{0}: no such key")]
    NoSuchKey(String),
    /// A key that would leave its bucket, or that a file cannot be named.
    #[error("{key:?}: {why}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// A key whose folder is an object, or whose object would be a folder.
    #[error("{0}: another object's key is a folder of this one, or this one of another's")]
    KeyConflict(String),
    /// No such multipart upload.
    #[error("{0}: no such upload (completed, aborted or never created)")]
    NoSuchUpload(String),
    /// A part list naming a part not uploaded, or with another ETag.
    #[error("part {0}: not uploaded, or uploaded with another ETag")]
    InvalidPart(u32),
    /// A part list out of order.
    #[error("the parts are not in ascending order of part number")]
    InvalidPartOrder,
    /// A part but the last under 5 MiB.
    #[error("part {0} is smaller than 5 MiB and is not the last")]
    EntityTooSmall(u32),
    /// A checksum the client sent does not match the bytes.
    #[error("the {0} checksum sent does not match the body")]
    BadChecksum(&'static str),
    /// The disk said no.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ObjectError + '_ {
    move |source| ObjectError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The S3 facts of an object, kept beside it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Facts {
    /// Bytes.
    pub size: u64,
    /// The file's mtime when the facts were written, in ns since the epoch.
    pub mtime_ns: u128,
    /// The ETag, quoted as S3 sends it.
    pub etag: String,
    /// Content-Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Cache-Control given at upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// x-amz-meta-* pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Checksums by algorithm name (`CRC32`, `SHA256`...), base64 as S3 sends them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// Parts of a multipart object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

/// What a client says of an object beside its bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Given {
    /// Content-Type.
    pub content_type: Option<String>,
    /// Cache-Control.
    pub cache_control: Option<String>,
    /// x-amz-meta-* pairs.
    pub metadata: BTreeMap<String, String>,
}

/// An object as listed or read.
#[derive(Debug, Clone)]
pub struct Stat {
    /// Its file.
    pub path: PathBuf,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its S3 facts.
    pub facts: Facts,
}

/// The object store under a data folder.
#[derive(Debug)]
pub struct Objects {
    buckets: PathBuf,
    meta: PathBuf,
    tmp: PathBuf,
    uploads: PathBuf,
}

/// Bytes on their way in: a temp file, hashed as it is written.
pub struct Incoming {
    file: File,
    path: PathBuf,
    md5: Md5,
    sums: s3s::checksum::ChecksumHasher,
    size: u64,
}

impl Incoming {
    /// Appends bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        self.file.write_all(data).map_err(io_at(&self.path))?;
        self.md5.update(data);
        self.sums.update(data);
        self.size += data.len() as u64;
        Ok(())
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes to disk; the MD5 (hex) and the checksums of what was written.
    fn finish(mut self) -> Result<(PathBuf, String, BTreeMap<String, String>, u64), ObjectError> {
        self.file.sync_all().map_err(io_at(&self.path))?;
        let md5 = hex(&std::mem::take(&mut self.md5).finalize());
        let c = std::mem::take(&mut self.sums).finalize();
        let mut sums = BTreeMap::new();
        for (name, v) in [
            ("CRC32", c.checksum_crc32),
            ("CRC32C", c.checksum_crc32c),
            ("CRC64NVME", c.checksum_crc64nvme),
            ("SHA1", c.checksum_sha1),
            ("SHA256", c.checksum_sha256),
        ] {
            if let Some(v) = v {
                sums.insert(name.to_string(), v);
            }
        }
        // The caller owns the temp file from here (and removes it if it goes wrong).
        Ok((std::mem::take(&mut self.path), md5, sums, self.size))
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // An abandoned upload leaves nothing behind.
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Checksums a client says its body has, to check against the bytes.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// (algorithm, base64 value) pairs.
    pub sums: Vec<(&'static str, String)>,
    /// The Content-MD5 header (base64).
    pub md5: Option<String>,
}

/// The multipart upload's own record.
#[derive(Debug, Serialize, Deserialize)]
struct UploadInfo {
    bucket: String,
    key: String,
    given: Given,
    initiated_ns: u128,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartInfo {
    /// Its number.
    pub number: u32,
    /// Bytes.
    pub size: u64,
    /// Its ETag (quoted MD5).
    pub etag: String,
    /// When it was uploaded.
    pub modified_ns: u128,
    /// Checksums.
    pub checksums: BTreeMap<String, String>,
}

fn ns(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Whether `name` can be one of the store's buckets (S3's naming rules, in short).
pub fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// Refuses a key that cannot stay inside its bucket folder as a file of that name.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let bad = |why| {
        Err(ObjectError::InvalidKey {
            key: key.to_string(),
            why,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("an absolute key (leading '/') is refused");
    }
    if key.chars().any(char::is_control) {
        return bad("control characters are refused");
    }
    if key.ends_with('/') {
        return bad("a folder marker (trailing '/') is refused: folders exist by their objects");
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return bad("an empty path segment ('//') is refused");
        }
        if seg == "." || seg == ".." {
            return bad("'.' and '..' path segments are refused");
        }
        if seg.len() > MAX_SEGMENT {
            return bad("a path segment longer than 255 bytes is refused");
        }
    }
    Ok(())
}

impl Objects {
    /// The store under `data`, with `buckets` made if missing. Temp files a crash left
    /// are removed; multipart uploads in progress are kept.
    pub fn open(data: &Path, buckets: &[String]) -> Result<Objects, ObjectError> {
        let o = Objects {
            buckets: data.join("buckets"),
            meta: data.join(".meta"),
            tmp: data.join(".tmp"),
            uploads: data.join(".uploads"),
        };
        for d in [&o.buckets, &o.meta, &o.uploads] {
            fs::create_dir_all(d).map_err(io_at(d))?;
        }
        if o.tmp.exists() {
            fs::remove_dir_all(&o.tmp).map_err(io_at(&o.tmp))?;
        }
        fs::create_dir_all(&o.tmp).map_err(io_at(&o.tmp))?;
        for b in buckets {
            let d = o.buckets.join(b);
            fs::create_dir_all(&d).map_err(io_at(&d))?;
        }
        Ok(o)
    }

    /// The folder of a bucket's objects.
    pub fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, ObjectError> {
        let d = self.buckets.join(bucket);
        if !valid_bucket(bucket) || !d.is_dir() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        Ok(d)
    }

    /// Every bucket and when it was made.
    pub fn buckets(&self) -> Result<Vec<(String, SystemTime)>, ObjectError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.buckets).map_err(io_at(&self.buckets))? {
            let e = e.map_err(io_at(&self.buckets))?;
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let meta = e.metadata().map_err(io_at(&e.path()))?;
            if meta.is_dir() && valid_bucket(&name) {
                out.push((name, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The file of `key` in `bucket` (which may not exist yet).
    pub fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, ObjectError> {
        check_key(key)?;
        Ok(self.bucket_dir(bucket)?.join(key))
    }

    fn meta_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.meta.join(bucket).join(key)
    }

    /// A new temp file for an object's or a part's bytes.
    pub fn begin(&self, algorithms: &[&str]) -> Result<Incoming, ObjectError> {
        let path = self
            .tmp
            .join(format!("in-{}", uuid::Uuid::new_v4().simple()));
        let file = File::create_new(&path).map_err(io_at(&path))?;
        let mut sums = s3s::checksum::ChecksumHasher::default();
        use s3s::crypto::Checksum as _;
        for a in algorithms {
            match *a {
                "CRC32" => sums.crc32 = Some(Default::default()),
                "CRC32C" => sums.crc32c = Some(Default::default()),
                "CRC64NVME" => sums.crc64nvme = Some(Default::default()),
                "SHA1" => sums.sha1 = Some(s3s::crypto::Sha1::new()),
                "SHA256" => sums.sha256 = Some(s3s::crypto::Sha256::new()),
                _ => {}
            }
        }
        Ok(Incoming {
            file,
            path,
            md5: Md5::new(),
            sums,
            size: 0,
        })
    }

    /// Publishes `incoming` as `key`: its facts first, then its bytes, each by a rename.
    pub fn commit(
        &self,
        bucket: &str,
        key: &str,
        incoming: Incoming,
        given: Given,
        claimed: &Claimed,
    ) -> Result<Stat, ObjectError> {
        let target = self.path(bucket, key)?;
        let (tmp, md5, checksums, size) = incoming.finish()?;
        let keep = Temp(tmp.clone());
        check_claims(&md5, &checksums, claimed)?;
        let facts = Facts {
            size,
            mtime_ns: 0,
            etag: format!("\"{md5}\""),
            content_type: given.content_type,
            cache_control: given.cache_control,
            metadata: given.metadata,
            checksums,
            parts: None,
        };
        let stat = self.publish(bucket, key, &tmp, &target, facts)?;
        std::mem::forget(keep);
        Ok(stat)
    }

    fn publish(
        &self,
        bucket: &str,
        key: &str,
        tmp: &Path,
        target: &Path,
        mut facts: Facts,
    ) -> Result<Stat, ObjectError> {
        let modified = fs::metadata(tmp)
            .and_then(|m| m.modified())
            .map_err(io_at(tmp))?;
        facts.mtime_ns = ns(modified);
        let meta = self.meta_path(bucket, key);
        for dir in [target.parent(), meta.parent()].into_iter().flatten() {
            fs::create_dir_all(dir).map_err(|e| conflict_or(e, key, dir))?;
        }
        if target.is_dir() {
            return Err(ObjectError::KeyConflict(key.to_string()));
        }
        let meta_tmp = self
            .tmp
            .join(format!("meta-{}", uuid::Uuid::new_v4().simple()));
        let json = serde_json::to_vec(&facts).map_err(|e| ObjectError::Io {
            path: meta_tmp.clone(),
            source: io::Error::other(e),
        })?;
        fs::write(&meta_tmp, json).map_err(io_at(&meta_tmp))?;
        fs::rename(&meta_tmp, &meta).map_err(|e| {
            let _ = fs::remove_file(&meta_tmp);
            conflict_or(e, key, &meta)
        })?;
        fs::rename(tmp, target).map_err(|e| conflict_or(e, key, target))?;
        Ok(Stat {
            path: target.to_path_buf(),
            modified,
            facts,
        })
    }

    /// The object `key`, with its facts (worked out again if its sidecar is stale).
    pub fn stat(&self, bucket: &str, key: &str) -> Result<Stat, ObjectError> {
        let path = self.path(bucket, key)?;
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(ObjectError::NoSuchKey(key.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ObjectError::NoSuchKey(key.to_string()))
            }
            Err(e) if e.raw_os_error() == Some(20) => {
                // ENOTDIR: a folder on the way is an object.
                return Err(ObjectError::NoSuchKey(key.to_string()));
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        let modified = meta.modified().map_err(io_at(&path))?;
        let sidecar = fs::read(self.meta_path(bucket, key))
            .ok()
            .and_then(|b| serde_json::from_slice::<Facts>(&b).ok())
            .filter(|f| f.size == meta.len() && f.mtime_ns == ns(modified));
        let facts = match sidecar {
            Some(f) => f,
            None => Facts {
                size: meta.len(),
                mtime_ns: ns(modified),
                etag: format!("\"{}\"", md5_file(&path)?),
                ..Facts::default()
            },
        };
        Ok(Stat {
            path,
            modified,
            facts,
        })
    }

    /// Removes `key`; a key that is not there is no error, as in S3.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        let path = self.path(bucket, key)?;
        if path.is_dir() {
            return Ok(());
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(20) => return Ok(()),
            Err(e) => return Err(io_at(&path)(e)),
        }
        let _ = fs::remove_file(self.meta_path(bucket, key));
        // Folders left empty go, as S3 has no folders of its own.
        let root = self.buckets.join(bucket);
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == root || fs::remove_dir(d).is_err() {
                break;
            }
            let _ = fs::remove_dir(
                self.meta
                    .join(bucket)
                    .join(d.strip_prefix(&root).unwrap_or(d)),
            );
            dir = d.parent();
        }
        Ok(())
    }

    /// Every key of `bucket` that starts with `prefix`, in S3's (byte) order.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, ObjectError> {
        let root = self.bucket_dir(bucket)?;
        // Only the folder the prefix names (up to its last '/') needs walking.
        let start = match prefix.rfind('/') {
            Some(i) => root.join(&prefix[..i]),
            None => root.clone(),
        };
        let mut keys = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound) => continue,
                Err(e) if e.raw_os_error() == Some(20) => continue,
                Err(e) => return Err(io_at(&dir)(e)),
            };
            for e in entries {
                let e = e.map_err(io_at(&dir))?;
                let ft = e.file_type().map_err(io_at(&e.path()))?;
                let path = e.path();
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() {
                    let Ok(rel) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let Some(key) = rel.to_str() else { continue };
                    if key.starts_with(prefix) {
                        keys.push(key.to_string());
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn upload_dir(&self, id: &str) -> Result<PathBuf, ObjectError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ObjectError::NoSuchUpload(id.to_string()));
        }
        let d = self.uploads.join(id);
        if !d.is_dir() {
            return Err(ObjectError::NoSuchUpload(id.to_string()));
        }
        Ok(d)
    }

    fn upload_info(&self, id: &str, bucket: &str, key: &str) -> Result<UploadInfo, ObjectError> {
        let d = self.upload_dir(id)?;
        let info: UploadInfo = fs::read(d.join("upload.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ObjectError::NoSuchUpload(id.to_string()))?;
        if info.bucket != bucket || info.key != key {
            return Err(ObjectError::NoSuchUpload(id.to_string()));
        }
        Ok(info)
    }

    /// Starts a multipart upload; its id.
    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        given: Given,
    ) -> Result<String, ObjectError> {
        self.path(bucket, key)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let d = self.uploads.join(&id);
        fs::create_dir(&d).map_err(io_at(&d))?;
        let info = UploadInfo {
            bucket: bucket.into(),
            key: key.into(),
            given,
            initiated_ns: ns(SystemTime::now()),
        };
        let json = serde_json::to_vec(&info).map_err(|e| ObjectError::Io {
            path: d.clone(),
            source: io::Error::other(e),
        })?;
        let tmp = d.join("upload.json.tmp");
        fs::write(&tmp, json).map_err(io_at(&tmp))?;
        fs::rename(&tmp, d.join("upload.json")).map_err(io_at(&d))?;
        Ok(id)
    }

    /// Stores part `number` of upload `id` (replacing one of that number).
    pub fn put_part(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        number: u32,
        incoming: Incoming,
        claimed: &Claimed,
    ) -> Result<PartInfo, ObjectError> {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(ObjectError::InvalidPart(number));
        }
        self.upload_info(id, bucket, key)?;
        let d = self.upload_dir(id)?;
        let (tmp, md5, checksums, size) = incoming.finish()?;
        let keep = Temp(tmp.clone());
        check_claims(&md5, &checksums, claimed)?;
        let part = PartInfo {
            number,
            size,
            etag: format!("\"{md5}\""),
            modified_ns: ns(SystemTime::now()),
            checksums,
        };
        let json = serde_json::to_vec(&part).map_err(|e| ObjectError::Io {
            path: d.clone(),
            source: io::Error::other(e),
        })?;
        // Bytes first, then the record that vouches for them.
        let bytes = d.join(format!("{number:05}.part"));
        fs::rename(&tmp, &bytes).map_err(io_at(&bytes))?;
        std::mem::forget(keep);
        let rec = d.join(format!("{number:05}.json"));
        let rec_tmp = d.join(format!("{number:05}.json.tmp"));
        fs::write(&rec_tmp, json).map_err(io_at(&rec_tmp))?;
        fs::rename(&rec_tmp, &rec).map_err(io_at(&rec))?;
        Ok(part)
    }

    /// The parts of upload `id` so far, by number.
    pub fn parts(&self, id: &str, bucket: &str, key: &str) -> Result<Vec<PartInfo>, ObjectError> {
        self.upload_info(id, bucket, key)?;
        let d = self.upload_dir(id)?;
        let mut parts = Vec::new();
        for e in fs::read_dir(&d).map_err(io_at(&d))? {
            let e = e.map_err(io_at(&d))?;
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() == 10 && name.ends_with(".json") {
                let p: Option<PartInfo> = fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                let bytes = d.join(format!("{}.part", &name[..5]));
                if let Some(p) =
                    p.filter(|p| fs::metadata(&bytes).map(|m| m.len()).ok() == Some(p.size))
                {
                    parts.push(p);
                }
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    /// The uploads in progress in `bucket`: (key, id, initiated).
    pub fn uploads(&self, bucket: &str) -> Result<Vec<(String, String, SystemTime)>, ObjectError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.uploads).map_err(io_at(&self.uploads))? {
            let e = e.map_err(io_at(&self.uploads))?;
            let Ok(id) = e.file_name().into_string() else {
                continue;
            };
            let info: Option<UploadInfo> = fs::read(e.path().join("upload.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(info) = info.filter(|i| i.bucket == bucket) {
                let t = SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_nanos(info.initiated_ns as u64);
                out.push((info.key, id, t));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Joins the parts listed (number, ETag) into the object, which appears at once, and
    /// ends the upload. The ETag is S3's: the MD5 of the parts' MD5s, `-` and their count.
    pub fn complete(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        listed: &[(u32, String)],
    ) -> Result<Stat, ObjectError> {
        let info = self.upload_info(id, bucket, key)?;
        let target = self.path(bucket, key)?;
        let d = self.upload_dir(id)?;
        let have: BTreeMap<u32, PartInfo> = self
            .parts(id, bucket, key)?
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
        let mut last = 0;
        let mut chosen = Vec::new();
        for (n, etag) in listed {
            if *n <= last {
                return Err(ObjectError::InvalidPartOrder);
            }
            last = *n;
            let p = have.get(n).ok_or(ObjectError::InvalidPart(*n))?;
            if p.etag.trim_matches('"') != etag.trim_matches('"') {
                return Err(ObjectError::InvalidPart(*n));
            }
            chosen.push(p);
        }
        if chosen.is_empty() {
            return Err(ObjectError::InvalidPart(0));
        }
        for p in &chosen[..chosen.len() - 1] {
            if p.size < MIN_PART {
                return Err(ObjectError::EntityTooSmall(p.number));
            }
        }
        let tmp = self
            .tmp
            .join(format!("mpu-{}", uuid::Uuid::new_v4().simple()));
        let keep = Temp(tmp.clone());
        let mut out = File::create_new(&tmp).map_err(io_at(&tmp))?;
        let mut md5s = Md5::new();
        let mut size = 0;
        for p in &chosen {
            let src = d.join(format!("{:05}.part", p.number));
            let mut f = File::open(&src).map_err(io_at(&src))?;
            size += io::copy(&mut f, &mut out).map_err(io_at(&tmp))?;
            let raw: Vec<u8> = (0..p.etag.trim_matches('"').len() / 2)
                .filter_map(|i| {
                    u8::from_str_radix(&p.etag.trim_matches('"')[2 * i..2 * i + 2], 16).ok()
                })
                .collect();
            md5s.update(&raw);
        }
        out.sync_all().map_err(io_at(&tmp))?;
        drop(out);
        let facts = Facts {
            size,
            mtime_ns: 0,
            etag: format!("\"{}-{}\"", hex(&md5s.finalize()), chosen.len()),
            content_type: info.given.content_type,
            cache_control: info.given.cache_control,
            metadata: info.given.metadata,
            checksums: BTreeMap::new(),
            parts: Some(chosen.len() as u32),
        };
        let stat = self.publish(bucket, key, &tmp, &target, facts)?;
        std::mem::forget(keep);
        fs::remove_dir_all(&d).map_err(io_at(&d))?;
        Ok(stat)
    }

    /// Ends upload `id` without an object.
    pub fn abort(&self, id: &str, bucket: &str, key: &str) -> Result<(), ObjectError> {
        self.upload_info(id, bucket, key)?;
        let d = self.upload_dir(id)?;
        fs::remove_dir_all(&d).map_err(io_at(&d))
    }
}

/// A temp file removed unless forgotten.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn conflict_or(e: io::Error, key: &str, path: &Path) -> ObjectError {
    // EEXIST / ENOTDIR / EISDIR: a file where a folder must be, or the other way round.
    if matches!(e.raw_os_error(), Some(17 | 20 | 21)) {
        ObjectError::KeyConflict(key.to_string())
    } else {
        io_at(path)(e)
    }
}

fn check_claims(
    md5: &str,
    sums: &BTreeMap<String, String>,
    claimed: &Claimed,
) -> Result<(), ObjectError> {
    if let Some(m) = &claimed.md5 {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(m.as_bytes())
            .unwrap_or_default();
        if hex(&raw) != md5 {
            return Err(ObjectError::BadChecksum("Content-MD5"));
        }
    }
    for (alg, v) in &claimed.sums {
        if sums.get(*alg) != Some(v) {
            return Err(ObjectError::BadChecksum(alg));
        }
    }
    Ok(())
}

fn md5_file(path: &Path) -> Result<String, ObjectError> {
    let mut f = File::open(path).map_err(io_at(path))?;
    let mut h = Md5::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_leave_their_bucket_are_refused() {
        for k in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a\u{1}b",
            "dir/",
            "",
        ] {
            assert!(check_key(k).is_err(), "{k:?}");
        }
        for k in ["uploads/a.mp4", "a b/c+d.mov", "ümlaut/..x", "a.../b"] {
            assert!(check_key(k).is_ok(), "{k:?}");
        }
    }
}
