//! The `validate` handler: checks an upload named by an S3 "Object Created" event, picks
//! its profile and has MediaConvert probe it, so the state machine never starts a job on
//! a file that cannot be a video, and the plan step has the media facts it plans from.

use serde_json::{json, Value};

use crate::aws::describe;
use crate::error::CloudError;

/// How many leading bytes are read to recognise the container.
const SNIFF_BYTES: u64 = 4096;

/// The handler's configuration (the function's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The raw uploads bucket (`RAW_BUCKET`).
    pub raw_bucket: String,
    /// Sources are taken under this prefix only.
    pub prefix: String,
    /// The profile when the upload names none (`DEFAULT_PROFILE`, from SSM).
    pub default_profile: String,
    /// Profiles that have a job template (`PROFILES`, comma-separated).
    pub profiles: Vec<String>,
}

impl Settings {
    /// From the function's environment.
    pub fn from_env() -> Result<Settings, CloudError> {
        let profiles = super::env_list("PROFILES");
        if profiles.is_empty() {
            return Err(CloudError::Config(
                "environment variable PROFILES is empty".into(),
            ));
        }
        Ok(Settings {
            raw_bucket: super::env_var("RAW_BUCKET")?,
            prefix: std::env::var("UPLOAD_PREFIX").unwrap_or_else(|_| "uploads/".into()),
            default_profile: super::env_var("DEFAULT_PROFILE")?,
            profiles,
        })
    }
}

/// The object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Bucket.
    pub bucket: String,
    /// Key (URL-decoded as EventBridge delivers it).
    pub key: String,
    /// Bytes.
    pub size: u64,
}

/// Reads the upload from the state machine's payload: `{"executionId", "detail"}`, where
/// `detail` is the EventBridge S3 event's detail (`bucket.name`, `object.key`,
/// `object.size`).
pub fn upload(payload: &Value) -> Result<Upload, String> {
    let detail = payload.get("detail").unwrap_or(payload);
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .ok_or("event has no detail.bucket.name")?;
    let key = detail
        .pointer("/object/key")
        .and_then(Value::as_str)
        .ok_or("event has no detail.object.key")?;
    let size = detail
        .pointer("/object/size")
        .and_then(Value::as_u64)
        .ok_or("event has no detail.object.size")?;
    Ok(Upload {
        bucket: bucket.to_string(),
        key: key.to_string(),
        size,
    })
}

/// The container a file's first bytes announce, if it is one FFmpeg and MediaConvert
/// read as video.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| head.get(i..i + s.len()) == Some(s);
    // ISO BMFF: a box size then its type; files may open with ftyp, or (old QuickTime)
    // with moov, mdat, wide or free.
    if [b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"]
        .iter()
        .any(|t| at(4, *t))
    {
        return Some("mp4");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("matroska");
    }
    // MPEG-TS: a sync byte every 188 bytes.
    if head.len() > 376 && head[0] == 0x47 && head[188] == 0x47 && head[376] == 0x47 {
        return Some("mpegts");
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some("avi");
    }
    if at(0, &[0x00, 0x00, 0x01, 0xBA]) {
        return Some("mpeg-ps");
    }
    if at(0, b"FLV") {
        return Some("flv");
    }
    if at(0, b"MXF") || at(0, &[0x06, 0x0E, 0x2B, 0x34]) {
        return Some("mxf");
    }
    None
}

/// The profile for an upload: the object's `mpe-profile` metadata, else the folder
/// under the prefix when it names a profile (`uploads/mobile/a.mp4`), else the default.
pub fn profile_for(key: &str, metadata: Option<&str>, s: &Settings) -> Result<String, String> {
    if let Some(p) = metadata {
        return if s.profiles.iter().any(|k| k == p) {
            Ok(p.to_string())
        } else {
            Err(format!(
                "metadata mpe-profile {p:?} is not one of {}",
                s.profiles.join(", ")
            ))
        };
    }
    let rest = key.strip_prefix(&s.prefix).unwrap_or(key);
    if let Some((folder, _)) = rest.split_once('/') {
        if s.profiles.iter().any(|k| k == folder) {
            return Ok(folder.to_string());
        }
    }
    Ok(s.default_profile.clone())
}

/// A rejection: every member the state machine reads is there.
fn rejected(input: &str, s: &Settings, reason: String) -> Value {
    json!({ "accepted": false, "input": input, "profile": s.default_profile, "reason": reason, "probe": null })
}

/// The verdict on an upload, given what S3 said about it. Always carries `accepted`,
/// `input`, `profile`, `reason` (`null` when accepted) and `probe` (filled in by
/// [`handle`] once MediaConvert has read the file); the state machine reads them all.
pub fn verdict(u: &Upload, metadata: Option<&str>, head: &[u8], s: &Settings) -> Value {
    let input = format!("s3://{}/{}", u.bucket, u.key);
    let reject = |reason: String| rejected(&input, s, reason);
    if u.bucket != s.raw_bucket {
        return reject(format!(
            "bucket {} is not the raw bucket {}",
            u.bucket, s.raw_bucket
        ));
    }
    if !u.key.starts_with(&s.prefix) {
        return reject(format!("key {} is not under {}", u.key, s.prefix));
    }
    if u.size == 0 {
        return reject(format!("{input} is empty"));
    }
    if sniff(head).is_none() {
        return reject(format!("{input} is not a video container mpe knows"));
    }
    match profile_for(&u.key, metadata, s) {
        Ok(profile) => {
            json!({ "accepted": true, "input": input, "profile": profile, "reason": null, "probe": null })
        }
        Err(reason) => reject(reason),
    }
}

/// Runs the handler: reads the object's metadata and first bytes, judges, then has
/// MediaConvert probe an accepted upload. A file MediaConvert cannot read is rejected
/// with its answer as the reason; an error worth another try (S3 or MediaConvert
/// unreachable, throttled) fails the invocation, for the state machine to retry.
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    mc: &aws_sdk_mediaconvert::Client,
    s: &Settings,
    payload: &Value,
) -> Result<Value, CloudError> {
    let u = match upload(payload) {
        Ok(u) => u,
        Err(reason) => return Ok(rejected("", s, reason)),
    };
    if u.size == 0 || u.bucket != s.raw_bucket {
        return Ok(verdict(&u, None, &[], s));
    }
    let action = format!("read s3://{}/{}", u.bucket, u.key);
    let got = s3
        .get_object()
        .bucket(&u.bucket)
        .key(&u.key)
        .range(format!("bytes=0-{}", SNIFF_BYTES - 1))
        .send()
        .await
        .map_err(|e| CloudError::Aws {
            action: action.clone(),
            message: describe(&e),
        })?;
    let metadata = got.metadata().and_then(|m| m.get("mpe-profile")).cloned();
    let head = got
        .body
        .collect()
        .await
        .map_err(|e| CloudError::Aws {
            action,
            message: e.to_string(),
        })?
        .into_bytes();
    let mut v = verdict(&u, metadata.as_deref(), &head, s);
    if v["accepted"] != true {
        return Ok(v);
    }
    let input = v["input"].as_str().unwrap_or_default().to_string();
    match crate::client::probe(mc, &input).await {
        Ok(result) => v["probe"] = result.to_json(),
        Err(CloudError::Unreadable { message, .. }) => {
            return Ok(rejected(
                &input,
                s,
                format!("MediaConvert cannot read {input}: {message}"),
            ))
        }
        Err(e) => return Err(e),
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            raw_bucket: "mpe-raw-dev-123456789012".into(),
            prefix: "uploads/".into(),
            default_profile: "default".into(),
            profiles: vec!["default".into(), "mobile".into()],
        }
    }

    /// The "Object Created" event EventBridge delivers from S3 (`cloud/tests/events/`),
    /// for `key` and `size`, passed on as the state machine's Validate task does:
    /// `{"executionId": $$.Execution.Name, "detail": $.detail}`.
    fn event(key: &str, size: u64) -> Value {
        let mut e: Value =
            serde_json::from_str(include_str!("../../tests/events/s3-object-created.json"))
                .expect("event JSON");
        e["detail"]["object"]["key"] = json!(key);
        e["detail"]["object"]["size"] = json!(size);
        json!({ "executionId": "0b6c2d2e", "detail": e["detail"] })
    }

    fn mp4_head() -> Vec<u8> {
        let mut h = vec![0, 0, 0, 0x20];
        h.extend_from_slice(b"ftypisom");
        h.resize(64, 0);
        h
    }

    #[test]
    fn an_mp4_upload_is_accepted_with_the_default_or_its_folder_profile() {
        let s = settings();
        let u = upload(&event("uploads/movie.mp4", 1234)).expect("upload");
        let v = verdict(&u, None, &mp4_head(), &s);
        assert_eq!(
            v,
            json!({ "accepted": true, "input": "s3://mpe-raw-dev-123456789012/uploads/movie.mp4",
                    "profile": "default", "reason": null, "probe": null })
        );
        let u = upload(&event("uploads/mobile/clip.mov", 99)).expect("upload");
        assert_eq!(verdict(&u, None, &mp4_head(), &s)["profile"], "mobile");
        assert_eq!(
            verdict(&u, Some("default"), &mp4_head(), &s)["profile"],
            "default"
        );
    }

    #[test]
    fn uploads_that_cannot_be_video_are_rejected_with_a_reason() {
        let s = settings();
        let text = b"This is not a video file.\n".to_vec();
        for (key, size, head, why) in [
            ("uploads/a.mp4", 0, mp4_head(), "is empty"),
            ("elsewhere/a.mp4", 10, mp4_head(), "is not under uploads/"),
            ("uploads/a.mp4", 10, text, "not a video container"),
        ] {
            let u = upload(&event(key, size)).expect("upload");
            let v = verdict(&u, None, &head, &s);
            assert_eq!(v["accepted"], false);
            assert_eq!(v["profile"], "default", "the state machine reads it always");
            assert!(v["probe"].is_null(), "{v}");
            assert!(v["reason"].as_str().expect("reason").contains(why), "{v}");
        }
        let u = upload(&event("uploads/a.mp4", 10)).expect("upload");
        let v = verdict(&u, Some("cinema"), &mp4_head(), &s);
        assert!(
            v["reason"].as_str().expect("reason").contains("\"cinema\""),
            "{v}"
        );
        assert!(upload(&json!({ "detail": {} })).is_err());
    }

    #[test]
    fn containers_are_recognised_by_their_first_bytes() {
        let mut ts = vec![0u8; 400];
        for i in [0, 188, 376] {
            ts[i] = 0x47;
        }
        assert_eq!(sniff(&ts), Some("mpegts"));
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]), Some("matroska"));
        assert_eq!(sniff(&mp4_head()), Some("mp4"));
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Some("avi"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(&[]), None);
    }
}
