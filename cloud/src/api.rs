//! The upload and status API's contract (`/api/...`): what a request must hold, how a
//! file is sent (one presigned PUT or presigned parts), the answers' and the status
//! record's shapes and the JSON errors; one contract for `mpe serve` and the Lambda
//! handlers, so that a client cannot tell them apart. No I/O here: each side signs the
//! URLs and keeps the records its own way.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One mebibyte.
const MIB: u64 = 1024 * 1024;

/// S3's limits on a multipart upload: parts, and the smallest part but the last.
const MAX_PARTS: u64 = 10_000;
const MIN_PART: u64 = 5 * MIB;

/// Extensions a file name may end with (what the validate handler can recognise).
pub const EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "ts", "m2ts", "avi", "mxf", "flv", "mpg",
];

/// Content types a client may declare.
pub const CONTENT_TYPES: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/mp2t",
    "video/x-msvideo",
    "video/mpeg",
    "video/x-flv",
    "application/mxf",
    "application/octet-stream",
];

/// What an upload may be and how it is sent.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest file taken.
    pub max_size: u64,
    /// Files above this go in parts.
    pub multipart_threshold: u64,
    /// The largest part (a CDN in front of the bucket may cap request bodies near 100 MB).
    pub max_part_size: u64,
    /// How long the presigned URLs stay valid.
    pub ttl: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_size: 50 * 1024 * MIB,
            multipart_threshold: 100 * MIB,
            max_part_size: 90 * MIB,
            ttl: Duration::from_secs(15 * 60),
        }
    }
}

impl Limits {
    /// Checks the limits hold together; the reason otherwise.
    pub fn check(&self) -> Result<(), String> {
        if self.max_part_size < MIN_PART {
            return Err(format!(
                "the part size must be at least {} MiB (S3's smallest part)",
                MIN_PART / MIB
            ));
        }
        if self.multipart_threshold == 0 || self.max_size == 0 {
            return Err("the maximum size and the multipart threshold must be above 0".into());
        }
        if self.max_size > self.max_part_size * MAX_PARTS {
            return Err(format!(
                "a maximum size of {} bytes needs parts over the part size ({} bytes): S3 takes at most {MAX_PARTS} parts",
                self.max_size, self.max_part_size
            ));
        }
        if self.ttl.is_zero() || self.ttl > Duration::from_secs(7 * 24 * 3600) {
            return Err("URLs must stay valid between 1 second and 7 days".into());
        }
        Ok(())
    }
}

/// An error answer: the HTTP status and `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable code clients may branch on.
    pub code: &'static str,
    /// What was wrong, for a person.
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// No bearer token.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            401,
            "Unauthorized",
            "send the API token as `Authorization: Bearer TOKEN`",
        )
    }

    /// A token that is not the API's.
    pub fn forbidden() -> ApiError {
        ApiError::new(403, "Forbidden", "the API token is wrong")
    }

    /// No such route, upload or record.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(404, "NotFound", what)
    }

    /// A route that takes other methods.
    pub fn method_not_allowed(allowed: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("this route takes {allowed}"),
        )
    }

    /// A request that does not read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// Something on the server's side.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// The answer's body.
    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

/// `POST /api/uploads`' body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUpload {
    /// The file's name: the asset's name and the status record's key.
    pub file_name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its content type, as the browser reports it.
    pub content_type: String,
    /// A profile other than the default.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Reads and checks `POST /api/uploads`' body against `limits` and the `profiles` offered.
pub fn new_upload(
    body: &[u8],
    limits: &Limits,
    profiles: &[String],
) -> Result<NewUpload, ApiError> {
    let u: NewUpload = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"fileName\", \"size\", \"contentType\", \"profile\"?}}: {e}"
        ))
    })?;
    check_file_name(&u.file_name)?;
    let ext = u
        .file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    if !ext.as_deref().is_some_and(|e| EXTENSIONS.contains(&e)) {
        return Err(ApiError::new(
            415,
            "UnsupportedType",
            format!(
                "fileName {:?}: the extension must be one of {}",
                u.file_name,
                EXTENSIONS.join(", ")
            ),
        ));
    }
    let ct = u.content_type.to_ascii_lowercase();
    let ct = ct.split(';').next().unwrap_or_default().trim();
    if !CONTENT_TYPES.contains(&ct) {
        return Err(ApiError::new(
            415,
            "UnsupportedType",
            format!(
                "contentType {:?} is not a video type taken here ({})",
                u.content_type,
                CONTENT_TYPES.join(", ")
            ),
        ));
    }
    if u.size == 0 {
        return Err(ApiError::bad_request("size: an empty file is no video"));
    }
    if u.size > limits.max_size {
        return Err(ApiError::new(
            413,
            "TooLarge",
            format!(
                "size {} bytes is over the largest upload taken, {} bytes",
                u.size, limits.max_size
            ),
        ));
    }
    if let Some(p) = &u.profile {
        if !profiles.contains(p) {
            return Err(ApiError::bad_request(format!(
                "profile {p:?} is not one of {}",
                profiles.join(", ")
            )));
        }
    }
    Ok(u)
}

/// A file name that stays one object under the upload prefix: 1 to 200 letters,
/// digits, `.`, `-`, `_` and spaces, not starting with `.` (so no `..`, no `/`).
pub fn check_file_name(name: &str) -> Result<(), ApiError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '));
    if name.is_empty()
        || name.len() > 200
        || !ok_chars
        || name.starts_with('.')
        || name.starts_with(' ')
        || name.ends_with(' ')
    {
        return Err(ApiError::new(
            400,
            "InvalidFileName",
            format!(
                "fileName {name:?}: use 1 to 200 letters, digits, spaces, '.', '-' or '_', not starting with '.' (it names one object under the upload prefix)"
            ),
        ));
    }
    Ok(())
}

/// The object key of an upload: `<prefix>[<profile>/]<fileName>`.
pub fn key_for(prefix: &str, u: &NewUpload) -> String {
    match &u.profile {
        Some(p) => format!("{prefix}{p}/{}", u.file_name),
        None => format!("{prefix}{}", u.file_name),
    }
}

/// The file name of an object key under `prefix` (the last segment), if it is one an
/// upload could have.
pub fn file_name_of(prefix: &str, key: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let name = rest.rsplit('/').next()?;
    check_file_name(name).ok().map(|()| name.to_string())
}

/// How a file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// One presigned PUT.
    Single,
    /// Parts of `part_size` bytes (the last smaller), `parts` of them.
    Multipart {
        /// Bytes per part.
        part_size: u64,
        /// How many.
        parts: u64,
    },
}

/// The transfer for `size` bytes: parts of 16 MiB, or larger (whole MiB) where a file
/// would otherwise need more than S3's 10,000, never over the limit's part size.
pub fn transfer(size: u64, limits: &Limits) -> Transfer {
    if size <= limits.multipart_threshold {
        return Transfer::Single;
    }
    let base = (16 * MIB).min(limits.max_part_size);
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    let part_size = base.max(needed).min(limits.max_part_size);
    Transfer::Multipart {
        part_size,
        parts: size.div_ceil(part_size),
    }
}

/// The answer to a single-PUT upload.
pub fn single_answer(upload_id: &str, u: &NewUpload, expires_at: &str, url: &str) -> Value {
    json!({
        "uploadId": upload_id,
        "fileName": u.file_name,
        "expiresAt": expires_at,
        "method": "PUT",
        "url": url,
        "headers": { "Content-Type": u.content_type },
    })
}

/// The answer to a multipart upload: the parts' presigned URLs (1-based, in order) and
/// the presigned CompleteMultipartUpload.
pub fn multipart_answer(
    upload_id: &str,
    u: &NewUpload,
    expires_at: &str,
    part_size: u64,
    part_urls: &[String],
    complete_url: &str,
) -> Value {
    json!({
        "uploadId": upload_id,
        "fileName": u.file_name,
        "expiresAt": expires_at,
        "partSize": part_size,
        "parts": part_urls.iter().enumerate().map(|(i, url)| json!({
            "partNumber": i + 1, "url": url,
        })).collect::<Vec<_>>(),
        "complete": { "method": "POST", "url": complete_url },
    })
}

/// A part S3 holds, as `GET /api/uploads/{uploadId}/parts` lists it.
pub fn part_entry(number: u32, size: u64, etag: &str) -> Value {
    json!({ "partNumber": number, "size": size, "etag": etag })
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    /// URLs handed out, the object not complete yet.
    Uploading,
    /// The object is complete; the workflow has it.
    Uploaded,
    /// Its MediaConvert job exists.
    Submitted,
    /// The job runs.
    Progressing,
    /// Published.
    Complete,
    /// Rejected or failed: see `error`.
    Error,
}

impl Stage {
    /// As the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Uploading => "UPLOADING",
            Stage::Uploaded => "UPLOADED",
            Stage::Submitted => "SUBMITTED",
            Stage::Progressing => "PROGRESSING",
            Stage::Complete => "COMPLETE",
            Stage::Error => "ERROR",
        }
    }

    /// From the wire.
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "UPLOADING" => Stage::Uploading,
            "UPLOADED" => Stage::Uploaded,
            "SUBMITTED" => Stage::Submitted,
            "PROGRESSING" => Stage::Progressing,
            "COMPLETE" => Stage::Complete,
            "ERROR" => Stage::Error,
            _ => return None,
        })
    }
}

/// The published outputs of an asset, as URLs on the delivery path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The HLS multivariant playlist.
    pub hls: Option<String>,
    /// The DASH manifest.
    pub dash: Option<String>,
    /// The progressive MP4s.
    pub mp4: Vec<String>,
    /// The still thumbnails.
    pub thumbnails: Vec<String>,
    /// The preview clip.
    pub preview: Option<String>,
    /// The trick-play track (WebVTT of sprite tiles).
    pub trickplay: Option<String>,
}

/// The key of an `s3://bucket/key` URI.
fn key_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("s3://")?.split_once('/').map(|(_, k)| k)
}

/// Sorts a finished job's output paths (`s3://bucket/key`, from its COMPLETE event) into
/// [`Outputs`], each as `<cdn><key>` (`cdn` ends with `/`).
pub fn outputs_of(paths: &[String], cdn: &str) -> Outputs {
    let mut o = Outputs::default();
    for p in paths {
        let key = key_of(p).unwrap_or(p);
        let url = format!("{cdn}{key}");
        let lower = key.to_ascii_lowercase();
        if lower.contains("/preview") {
            o.preview.get_or_insert(url);
        } else if lower.contains("trickplay") || lower.ends_with(".vtt") {
            if lower.ends_with(".vtt") {
                o.trickplay = Some(url);
            }
        } else if lower.ends_with(".m3u8") {
            o.hls.get_or_insert(url);
        } else if lower.ends_with(".mpd") {
            o.dash.get_or_insert(url);
        } else if lower.ends_with(".mp4") {
            o.mp4.push(url);
        } else if lower.contains("/thumbnails/")
            && (lower.ends_with(".jpg") || lower.ends_with(".webp"))
        {
            o.thumbnails.push(url);
        }
    }
    o.mp4.sort();
    o.thumbnails.sort();
    o
}

/// The status record (the DynamoDB item, partition key `FileName`) as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRecord {
    /// The file's name (the key).
    pub file_name: String,
    /// The upload that sent it (none for an object put into the bucket directly).
    pub upload_id: Option<String>,
    /// Where it stands.
    pub status: Stage,
    /// How far its job is, 0 to 100.
    pub percent: u8,
    /// Its MediaConvert job.
    pub job_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When this record last changed (RFC 3339).
    pub updated_at: String,
    /// What was published (empty until COMPLETE).
    pub outputs: Outputs,
}

/// The detail-type of a status change on the event stream.
pub const CHANGE: &str = "Upload Status Change";

/// A status change as the event stream carries it: an EventBridge-shaped event whose
/// detail is the record.
pub fn change_event(id: &str, r: &StatusRecord) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": CHANGE,
        "source": "mpe.api",
        "time": r.updated_at,
        "detail": r,
    })
}

/// How far along a stage is, so that a late event never moves a record back (the job
/// may report PROGRESSING before the workflow has said SUBMITTED).
pub fn rank(s: Stage) -> u8 {
    match s {
        Stage::Uploading => 0,
        Stage::Uploaded => 1,
        Stage::Submitted => 2,
        Stage::Progressing => 3,
        Stage::Complete | Stage::Error => 4,
    }
}

impl StatusRecord {
    /// URLs handed out for `file_name` by upload `upload_id`.
    pub fn uploading(file_name: &str, upload_id: &str, now: &str) -> StatusRecord {
        StatusRecord {
            file_name: file_name.to_string(),
            upload_id: Some(upload_id.to_string()),
            status: Stage::Uploading,
            percent: 0,
            job_id: None,
            error: None,
            updated_at: now.to_string(),
            outputs: Outputs::default(),
        }
    }

    /// An object complete under the upload prefix (through the API or not): a new upload
    /// of its name whatever was before, which keeps the upload id only of an upload
    /// still under way (`before`).
    pub fn uploaded(file_name: &str, before: Option<&StatusRecord>, now: &str) -> StatusRecord {
        let upload_id = before
            .filter(|r| r.status == Stage::Uploading)
            .and_then(|r| r.upload_id.clone());
        StatusRecord {
            upload_id,
            status: Stage::Uploaded,
            ..StatusRecord::uploading(file_name, "", now)
        }
    }

    /// Moves the record forward to `stage` (never back, never past an end, never to
    /// another job's news) with `edit` applied; whether it changed.
    pub fn advance(
        &mut self,
        stage: Stage,
        job: Option<&str>,
        now: &str,
        edit: impl FnOnce(&mut StatusRecord),
    ) -> bool {
        let other_job = matches!((job, &self.job_id), (Some(j), Some(had)) if j != had);
        let ended = rank(self.status) == 4;
        // Progress within PROGRESSING is a change too; anything else only moves on.
        let forward = rank(stage) > rank(self.status)
            || (stage == Stage::Progressing && self.status == stage);
        if other_job || ended || !forward {
            return false;
        }
        self.status = stage;
        if let Some(j) = job {
            self.job_id = Some(j.to_string());
        }
        self.updated_at = now.to_string();
        edit(self);
        true
    }
}

/// What a "MediaConvert Job State Change" event says of the upload its job came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNews {
    /// The upload's object key (from the job's `mpe_upload` user metadata).
    pub key: String,
    /// Its MediaConvert job.
    pub job_id: Option<String>,
    /// The stage it reached, and what comes with it.
    pub news: News,
}

/// The stage a job event reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// The job exists.
    Submitted,
    /// It runs, this far (0 to 99).
    Progressing(u8),
    /// It published these.
    Complete(Outputs),
    /// It failed, or was canceled, for this reason.
    Error(String),
}

impl JobNews {
    /// Reads a job state event; `None` for jobs no upload started and for the states
    /// that say nothing of progress (`INPUT_INFORMATION`, `NEW_WARNING`). Output paths
    /// become URLs under `cdn`.
    pub fn of(event: &Value, cdn: &str) -> Option<JobNews> {
        let d = &event["detail"];
        let key = d["userMetadata"]["mpe_upload"]
            .as_str()
            .and_then(key_of)?
            .to_string();
        let news = match d["status"].as_str().unwrap_or_default() {
            "SUBMITTED" => News::Submitted,
            "PROGRESSING" | "STATUS_UPDATE" => News::Progressing(
                d["jobProgress"]["jobPercentComplete"]
                    .as_u64()
                    .unwrap_or(0)
                    .min(99) as u8,
            ),
            "COMPLETE" => {
                let paths = crate::lambda::job_state::update(event)
                    .ok()
                    .flatten()
                    .map(|u| u.outputs)
                    .unwrap_or_default();
                let mut outputs = outputs_of(&paths, cdn);
                // Trick play is drawn once the job is done, so its event cannot list it:
                // the track is where the job's order puts it.
                if let Some(Ok(order)) = crate::trickplay::Order::of_metadata(&d["userMetadata"]) {
                    let track = order.track();
                    outputs.trickplay = Some(format!("{cdn}{}", key_of(&track).unwrap_or(&track)));
                }
                News::Complete(outputs)
            }
            "ERROR" | "CANCELED" => News::Error(
                d["errorMessage"]
                    .as_str()
                    .unwrap_or("the job was canceled")
                    .to_string(),
            ),
            _ => return None,
        };
        Some(JobNews {
            key,
            job_id: d["jobId"].as_str().map(str::to_string),
            news,
        })
    }

    /// Applies the news to the upload's record; whether it changed.
    pub fn apply(self, r: &mut StatusRecord, now: &str) -> bool {
        let job = self.job_id.as_deref();
        match self.news {
            News::Submitted => r.advance(Stage::Submitted, job, now, |_| {}),
            News::Progressing(p) => r.advance(Stage::Progressing, job, now, |r| {
                r.percent = r.percent.max(p)
            }),
            News::Complete(outputs) => r.advance(Stage::Complete, job, now, |r| {
                r.percent = 100;
                r.outputs = outputs;
            }),
            News::Error(message) => r.advance(Stage::Error, job, now, |r| r.error = Some(message)),
        }
    }
}

/// `GET /api/status`' page size when the client asks for none, and the most it may ask.
pub const PAGE: usize = 50;
/// The largest page.
pub const MAX_PAGE: usize = 500;

/// The page size `GET /api/status?limit=` asks for (the default when it asks none).
pub fn page_limit(asked: Option<&str>) -> Result<usize, ApiError> {
    match asked {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| ApiError::bad_request(format!("limit: 1 to {MAX_PAGE}"))),
        None => Ok(PAGE),
    }
}

/// A page of records, newest first, and the token of the next page.
pub fn status_page(items: &[StatusRecord], next: Option<String>) -> Value {
    json!({ "items": items, "nextToken": next })
}

/// Decodes `%XX` escapes (a path segment or query value); `None` for a bad escape or
/// bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes all but RFC 3986's unreserved characters (a query value, as SigV4 wants it).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn profiles() -> Vec<String> {
        vec!["default".into(), "mobile".into()]
    }

    #[test]
    fn a_good_request_reads_and_its_key_stays_under_the_prefix() {
        let u = new_upload(
            &body(json!({"fileName": "My clip.mp4", "size": 10, "contentType": "video/mp4", "profile": "mobile"})),
            &Limits::default(),
            &profiles(),
        )
        .expect("valid");
        assert_eq!(key_for("uploads/", &u), "uploads/mobile/My clip.mp4");
        assert_eq!(
            file_name_of("uploads/", "uploads/mobile/My clip.mp4").as_deref(),
            Some("My clip.mp4")
        );
        assert_eq!(file_name_of("uploads/", "elsewhere/a.mp4"), None);
    }

    #[test]
    fn each_bad_request_has_its_status_and_code() {
        let l = Limits {
            max_size: 1000,
            ..Limits::default()
        };
        let case = |v: Value| {
            new_upload(&body(v), &l, &profiles())
                .map(|_| ())
                .expect_err("refused")
        };
        let e = case(json!({"fileName": "../x.mp4", "size": 1, "contentType": "video/mp4"}));
        assert_eq!((e.status, e.code), (400, "InvalidFileName"));
        let e = case(json!({"fileName": "a/b.mp4", "size": 1, "contentType": "video/mp4"}));
        assert_eq!((e.status, e.code), (400, "InvalidFileName"));
        let e = case(json!({"fileName": "a.exe", "size": 1, "contentType": "video/mp4"}));
        assert_eq!((e.status, e.code), (415, "UnsupportedType"));
        let e = case(json!({"fileName": "a.mp4", "size": 1, "contentType": "text/html"}));
        assert_eq!((e.status, e.code), (415, "UnsupportedType"));
        let e = case(json!({"fileName": "a.mp4", "size": 1001, "contentType": "video/mp4"}));
        assert_eq!((e.status, e.code), (413, "TooLarge"));
        let e = case(
            json!({"fileName": "a.mp4", "size": 1, "contentType": "video/mp4", "profile": "x"}),
        );
        assert_eq!((e.status, e.code), (400, "BadRequest"));
        let e = case(json!({"fileName": "a.mp4", "contentType": "video/mp4"}));
        assert_eq!((e.status, e.code), (400, "BadRequest"));
        assert_eq!(e.body()["error"]["code"], "BadRequest");
    }

    #[test]
    fn big_files_go_in_parts_within_s3s_and_the_cdns_limits() {
        let l = Limits::default();
        assert_eq!(transfer(100 * MIB, &l), Transfer::Single);
        assert_eq!(
            transfer(100 * MIB + 1, &l),
            Transfer::Multipart {
                part_size: 16 * MIB,
                parts: 7
            }
        );
        // 50 GiB: 16 MiB parts would be 3,200; fine. 800 GiB needs bigger parts.
        let huge = 800 * 1024 * MIB;
        let Transfer::Multipart { part_size, parts } = transfer(
            huge,
            &Limits {
                max_size: huge,
                ..l.clone()
            },
        ) else {
            panic!("parts");
        };
        assert!(
            parts <= MAX_PARTS && part_size <= l.max_part_size,
            "{part_size} {parts}"
        );
        assert!(Limits {
            max_size: 900 * 1024 * MIB,
            ..l
        }
        .check()
        .is_err());
    }

    #[test]
    fn outputs_sort_into_their_kinds_as_delivery_urls() {
        let paths: Vec<String> = [
            "s3://m/a/cmaf/a.m3u8",
            "s3://m/a/cmaf/a.mpd",
            "s3://m/a/mp4/a_720p.mp4",
            "s3://m/a/mp4/a_360p.mp4",
            "s3://t/a/thumbnails/a_thumb.0000001.jpg",
            "s3://t/a/preview/a_preview.mp4",
            "s3://t/a/trickplay/a_trickplay.vtt",
            "s3://t/a/trickplay/a_trickplay_000.jpg",
        ]
        .map(String::from)
        .to_vec();
        let o = outputs_of(&paths, "http://h/cdn/");
        assert_eq!(o.hls.as_deref(), Some("http://h/cdn/a/cmaf/a.m3u8"));
        assert_eq!(o.dash.as_deref(), Some("http://h/cdn/a/cmaf/a.mpd"));
        assert_eq!(o.mp4.len(), 2);
        assert_eq!(
            o.thumbnails,
            vec!["http://h/cdn/a/thumbnails/a_thumb.0000001.jpg"]
        );
        assert_eq!(
            o.preview.as_deref(),
            Some("http://h/cdn/a/preview/a_preview.mp4")
        );
        assert_eq!(
            o.trickplay.as_deref(),
            Some("http://h/cdn/a/trickplay/a_trickplay.vtt")
        );
    }
}
