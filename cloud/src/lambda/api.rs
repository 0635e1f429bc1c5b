//! The `api` handler: the upload and status API (`/api/...`) behind the stack's API
//! Gateway HTTP API, answering what `mpe serve` answers (the contract is `crate::api`'s):
//! presigned uploads straight to the raw bucket, the parts S3 holds, the status table
//! and its changes as server-sent events. The token is checked before (the `authorize`
//! handler).

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client as S3;
use serde_json::{json, Value};

use crate::api::{self, ApiError, Limits, StatusRecord, Transfer};
use crate::aws::describe;
use crate::error::CloudError;
use crate::status_table::{self, Entry, Table};

/// Changes sent per event-stream answer; the browser asks again at once for more.
const EVENTS_PER_ANSWER: usize = 100;
/// How long an event-stream client waits before it asks again (SSE `retry`).
const EVENTS_RETRY_MS: u64 = 2000;

/// The handler's configuration (the function's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The raw uploads bucket (`RAW_BUCKET`).
    pub raw_bucket: String,
    /// Uploads go under this prefix (`UPLOAD_PREFIX`).
    pub prefix: String,
    /// The status table (`STATUS_TABLE`).
    pub table: String,
    /// Profiles a client may ask for (`PROFILES`).
    pub profiles: Vec<String>,
    /// What an upload may be (`MAX_UPLOAD_BYTES`, `MULTIPART_THRESHOLD_BYTES`,
    /// `PART_MAX_BYTES`, `URL_TTL_SECONDS`).
    pub limits: Limits,
}

impl Settings {
    /// From the function's environment; limits not given keep `Limits::default()`.
    pub fn from_env() -> Result<Settings, CloudError> {
        let number = |key: &str, default: u64| -> Result<u64, CloudError> {
            match std::env::var(key) {
                Ok(v) => v.trim().parse().map_err(|_| {
                    CloudError::Config(format!("environment variable {key}: {v:?} is not a number"))
                }),
                Err(_) => Ok(default),
            }
        };
        let d = Limits::default();
        let limits = Limits {
            max_size: number("MAX_UPLOAD_BYTES", d.max_size)?,
            multipart_threshold: number("MULTIPART_THRESHOLD_BYTES", d.multipart_threshold)?,
            max_part_size: number("PART_MAX_BYTES", d.max_part_size)?,
            ttl: Duration::from_secs(number("URL_TTL_SECONDS", d.ttl.as_secs())?),
        };
        limits.check().map_err(CloudError::Config)?;
        Ok(Settings {
            raw_bucket: super::env_var("RAW_BUCKET")?,
            prefix: std::env::var("UPLOAD_PREFIX").unwrap_or_else(|_| "uploads/".into()),
            table: super::env_var("STATUS_TABLE")?,
            profiles: super::env_list("PROFILES"),
            limits,
        })
    }
}

/// What signs the one URL the S3 SDK does not presign: the function's credentials and
/// region (the S3 client's own are not readable from it).
#[derive(Debug, Clone)]
pub struct Signer {
    /// The credentials the S3 client signs with.
    pub credentials: aws_credential_types::provider::SharedCredentialsProvider,
    /// Its region.
    pub region: String,
}

impl Signer {
    /// From the configuration the clients were made of.
    pub fn of(conf: &aws_config::SdkConfig) -> Result<Signer, CloudError> {
        Ok(Signer {
            credentials: conf
                .credentials_provider()
                .ok_or_else(|| CloudError::Config("no credentials to sign with".into()))?,
            region: conf
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| CloudError::Config("no region to sign for".into()))?,
        })
    }
}

/// The clients the handler calls.
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    /// S3, for the raw bucket.
    pub s3: &'a S3,
    /// DynamoDB, for the status table.
    pub ddb: &'a Dynamo,
    /// Signs the completion URL.
    pub signer: &'a Signer,
}

/// An API Gateway (payload 2.0) response with a JSON body.
fn respond(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json", "cache-control": "no-store" },
        "body": body.to_string(),
    })
}

fn internal(e: CloudError) -> ApiError {
    tracing::error!(error = %e, "api");
    ApiError::internal(e.to_string())
}

/// Answers one API Gateway HTTP API request (payload format 2.0); every failure is an
/// answer in the contract's JSON error shape.
pub async fn handle(c: Clients<'_>, s: &Settings, event: &Value) -> Value {
    match route(c, s, event).await {
        Ok(v) => v,
        Err(e) => respond(e.status, &e.body()),
    }
}

async fn route(c: Clients<'_>, s: &Settings, event: &Value) -> Result<Value, ApiError> {
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or_default();
    let path = event["rawPath"].as_str().unwrap_or_default();
    let segments: Vec<String> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| {
            api::percent_decode(p)
                .ok_or_else(|| ApiError::bad_request("the path is not valid UTF-8"))
        })
        .collect::<Result<_, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let table = Table {
        ddb: c.ddb,
        name: &s.table,
    };
    let query = |k: &str| event["queryStringParameters"][k].as_str();
    match (segments.as_slice(), method) {
        (["uploads"], "POST") => new_upload(c, table, s, &body_of(event)?).await,
        (["uploads"], _) => Err(ApiError::method_not_allowed("POST")),
        (["uploads", id, "parts"], "GET") => parts(c.s3, table, s, id).await,
        (["uploads", _, "parts"], _) => Err(ApiError::method_not_allowed("GET")),
        (["status"], "GET") => {
            let limit = api::page_limit(query("limit"))?;
            let (items, next) =
                table
                    .page(limit, query("nextToken"))
                    .await
                    .map_err(|e| match e {
                        Some(e) => internal(e),
                        None => ApiError::bad_request("nextToken: not one this API gave"),
                    })?;
            Ok(respond(200, &api::status_page(&items, next)))
        }
        (["status", name], "GET") => match table.get(name).await.map_err(internal)? {
            Some(e) => Ok(respond(200, &json!(e.record))),
            None => Err(ApiError::not_found(format!("no upload named {name:?}"))),
        },
        (["status", ..], _) => Err(ApiError::method_not_allowed("GET")),
        (["events"], "GET") => {
            let last = event["headers"]["last-event-id"].as_str();
            events(table, last, query("from")).await
        }
        (["events"], _) => Err(ApiError::method_not_allowed("GET")),
        _ => Err(ApiError::not_found(format!("no route {method} {path}"))),
    }
}

fn body_of(event: &Value) -> Result<Vec<u8>, ApiError> {
    let body = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool() == Some(true) {
        // API Gateway hands over bodies of some content types in base64.
        return aws_smithy_types::base64::decode(body)
            .map_err(|_| ApiError::bad_request("the body is not valid base64"));
    }
    Ok(body.as_bytes().to_vec())
}

/// `POST /api/uploads`.
async fn new_upload(
    c: Clients<'_>,
    table: Table<'_>,
    s: &Settings,
    body: &[u8],
) -> Result<Value, ApiError> {
    let s3 = c.s3;
    let u = api::new_upload(body, &s.limits, &s.profiles)?;
    let key = api::key_for(&s.prefix, &u);
    let ttl = s.limits.ttl;
    let presigning = PresigningConfig::expires_in(ttl)
        .map_err(|e| ApiError::internal(format!("URL expiry: {e}")))?;
    let expires_at = aws_smithy_types::DateTime::from(SystemTime::now() + ttl)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let failed = |action: &str, message: String| {
        internal(CloudError::Aws {
            action: format!("{action} s3://{}/{key}", s.raw_bucket),
            message,
        })
    };
    let (id, answer) = match api::transfer(u.size, &s.limits) {
        Transfer::Single => {
            let id = uuid::Uuid::new_v4().to_string();
            let put = s3
                .put_object()
                .bucket(&s.raw_bucket)
                .key(&key)
                .content_type(&u.content_type)
                .presigned(presigning)
                .await
                .map_err(|e| failed("presign a PUT to", describe(&e)))?;
            let answer = api::single_answer(&id, &u, &expires_at, put.uri());
            (id, answer)
        }
        Transfer::Multipart { part_size, parts } => {
            let made = s3
                .create_multipart_upload()
                .bucket(&s.raw_bucket)
                .key(&key)
                .content_type(&u.content_type)
                .send()
                .await
                .map_err(|e| failed("start a multipart upload of", describe(&e)))?;
            let id = made
                .upload_id()
                .ok_or_else(|| failed("start a multipart upload of", "S3 gave no UploadId".into()))?
                .to_string();
            let mut urls = Vec::new();
            for n in 1..=parts {
                let n = i32::try_from(n).unwrap_or(i32::MAX);
                let part = s3
                    .upload_part()
                    .bucket(&s.raw_bucket)
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n)
                    .presigned(presigning.clone())
                    .await
                    .map_err(|e| failed("presign a part of", describe(&e)))?;
                urls.push(part.uri().to_string());
            }
            let complete = presign_complete(c.signer, urls.first().map(String::as_str), &id, ttl)
                .await
                .map_err(|m| failed("presign the completion of", m))?;
            let answer = api::multipart_answer(&id, &u, &expires_at, part_size, &urls, &complete);
            (id, answer)
        }
    };
    let record = StatusRecord::uploading(&u.file_name, &id, &status_table::now());
    let entry = Entry {
        record,
        key: key.clone(),
    };
    table
        .change(&u.file_name, |_| Some(entry.clone()))
        .await
        .map_err(internal)?;
    tracing::info!(file = %u.file_name, size = u.size, "upload URLs handed out");
    Ok(respond(201, &answer))
}

/// A presigned CompleteMultipartUpload (which the SDK does not presign): a POST of the
/// object's URL with `uploadId`, signed in the query as the SDK signs the parts, so that
/// the browser finishes the upload without a backend in between. `part_url` is one
/// presigned part of the same upload: its scheme, host and path are the object's, as the
/// client's endpoint and addressing style make them.
async fn presign_complete(
    signer: &Signer,
    part_url: Option<&str>,
    upload_id: &str,
    ttl: Duration,
) -> Result<String, String> {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode,
    };
    let base = part_url
        .and_then(|u| u.split_once('?'))
        .map(|(b, _)| b)
        .ok_or("no part URL to take the object's URL from")?;
    let creds = signer
        .credentials
        .provide_credentials()
        .await
        .map_err(|e| format!("credentials: {e}"))?;
    let region = signer.region.clone();
    let identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(ttl);
    // S3's own rules: keys are encoded once and their paths never normalised.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| format!("signing parameters: {e}"))?
        .into();
    let url = format!("{base}?uploadId={}", api::percent_encode(upload_id));
    let request = SignableRequest::new(
        "POST",
        url.as_str(),
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| format!("the URL {url}: {e}"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    let mut out = url;
    for (k, v) in instructions.params() {
        out.push('&');
        out.push_str(k);
        out.push('=');
        out.push_str(&api::percent_encode(v));
    }
    Ok(out)
}

/// `GET /api/uploads/{id}/parts`.
async fn parts(s3: &S3, table: Table<'_>, s: &Settings, id: &str) -> Result<Value, ApiError> {
    let Some(entry) = table.by_upload(id).await.map_err(internal)? else {
        return Err(ApiError::not_found(format!("no upload {id:?}")));
    };
    let gone = || {
        ApiError::not_found(format!(
            "upload {id:?} is not in progress (completed, aborted or a single PUT)"
        ))
    };
    let mut held = Vec::new();
    let mut marker = None;
    loop {
        let page = s3
            .list_parts()
            .bucket(&s.raw_bucket)
            .key(&entry.key)
            .upload_id(id)
            .set_part_number_marker(marker.clone())
            .send()
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchUpload") => {
                return Err(gone())
            }
            Err(e) => {
                return Err(internal(CloudError::Aws {
                    action: format!("list the parts of upload {id}"),
                    message: describe(&e),
                }))
            }
        };
        for p in page.parts() {
            held.push(api::part_entry(
                p.part_number().unwrap_or(0).max(0) as u32,
                p.size().unwrap_or(0).max(0) as u64,
                p.e_tag().unwrap_or_default(),
            ));
        }
        match (page.is_truncated(), page.next_part_number_marker()) {
            (Some(true), Some(m)) => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(respond(
        200,
        &json!({ "uploadId": id, "fileName": entry.record.file_name, "parts": held }),
    ))
}

/// `GET /api/events`: API Gateway answers each request whole, so the stream is served
/// one batch per request: the changes after `Last-Event-ID` (from the first with
/// `?from=start`, none before now otherwise), each with its time as its id, and a
/// `retry` after which the browser's EventSource asks again with the last id it got.
async fn events(
    table: Table<'_>,
    last: Option<&str>,
    from: Option<&str>,
) -> Result<Value, ApiError> {
    let after = match (last, from) {
        (Some(id), _) => id.to_string(),
        // Before every RFC 3339 time (DynamoDB takes no empty key value).
        (None, Some("start")) => "0".to_string(),
        (None, _) => status_table::now(),
    };
    let changes = table
        .since(&after, EVENTS_PER_ANSWER)
        .await
        .map_err(internal)?;
    let mut body = format!("retry: {EVENTS_RETRY_MS}\n\n");
    let mut last_id = after;
    for r in &changes {
        let line = api::change_event(&uuid::Uuid::new_v4().to_string(), r);
        body.push_str(&format!(
            "id: {}\nevent: {}\ndata: {line}\n\n",
            r.updated_at,
            api::CHANGE
        ));
        last_id.clone_from(&r.updated_at);
    }
    if changes.is_empty() {
        // Nothing new: the id still moves the client's place to now.
        body.push_str(&format!("id: {last_id}\ndata:\n\n"));
    }
    Ok(json!({
        "statusCode": 200,
        "headers": { "content-type": "text/event-stream", "cache-control": "no-store" },
        "body": body,
    }))
}
