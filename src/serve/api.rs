//! The upload and status API under `/api/` (API Gateway's and the Lambdas' twin): presigned
//! PUT or multipart URLs into the raw bucket, the parts S3 holds, the status records and
//! their change stream, behind a bearer token; the contract is `cloud::api`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use cloud::api::{self, ApiError, Limits, Transfer};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use rusty_s3::S3Action;
use serde_json::{json, Value};

use super::objects::{Given, Objects};
use super::status::Status;

/// The largest request body the API reads (its bodies are small JSON documents).
const MAX_BODY: usize = 64 * 1024;

/// What the API needs.
pub struct Api {
    /// The bearer token.
    pub token: String,
    /// Upload limits and URL lifetime.
    pub limits: Limits,
    /// The records.
    pub status: Arc<Status>,
    /// The buckets (multipart uploads are made here).
    pub objects: Arc<Objects>,
    /// The raw bucket uploads go to.
    pub raw: String,
    /// Its upload prefix.
    pub prefix: String,
    /// The region URLs are signed for.
    pub region: String,
    /// The access key the URLs are signed with.
    pub key: String,
    /// Its secret.
    pub secret: String,
    /// The URL of this server, when a request names no Host.
    pub endpoint: String,
    /// The profiles an upload may ask for.
    pub profiles: Vec<String>,
}

type Response = hyper::Response<s3s::Body>;

/// The API token: `MPE_API_TOKEN`, else the config's, else `DATA/api-token` (made at
/// first start, mode 0600); with where it came from.
pub fn load_token(data: &Path, configured: Option<String>) -> anyhow::Result<(String, String)> {
    let check = |t: &str, from: &str| -> anyhow::Result<()> {
        if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            anyhow::bail!(
                "{from}: the API token must be at least 16 printable characters, no spaces"
            );
        }
        Ok(())
    };
    if let Some(t) = std::env::var("MPE_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        check(&t, "MPE_API_TOKEN")?;
        return Ok((t, "MPE_API_TOKEN".into()));
    }
    if let Some(t) = configured {
        check(&t, "the config's api_token")?;
        return Ok((t, "the config file".into()));
    }
    let path = data.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let t = t.trim().to_string();
            check(&t, &path.display().to_string())?;
            Ok((t, path.display().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let t = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let tmp = data.join("api-token.tmp");
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| f.write_all(format!("{t}\n").as_bytes()))
                .and_then(|()| std::fs::rename(&tmp, &path))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok((t, path.display().to_string()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut r = hyper::Response::new(s3s::Body::from(body.to_string()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(e: &ApiError) -> Response {
    let mut r = json_response(e.status, &e.body());
    if e.status == 401 {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// RFC 3339 UTC of `t`.
fn rfc3339(t: SystemTime) -> String {
    let ts = s3s::dto::Timestamp::from(t);
    let mut out = Vec::new();
    match ts.format(s3s::dto::TimestampFormat::DateTime, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

impl Api {
    /// Answers a request under `/api/`.
    pub async fn answer(&self, req: hyper::Request<Incoming>) -> Response {
        let mut r = match self.route(req).await {
            Ok(r) => r,
            Err(e) => error(&e),
        };
        // A page on another origin (a dev server, the web bucket) may call the API: the
        // token, not a cookie, is what authorises, so any origin may read the answers.
        for (k, v) in [
            ("access-control-allow-origin", "*"),
            ("cache-control", "no-store"),
        ] {
            r.headers_mut()
                .insert(k, hyper::header::HeaderValue::from_static(v));
        }
        r
    }

    fn authorise(&self, req: &hyper::Request<Incoming>) -> Result<(), ApiError> {
        let given = match req.headers().get(hyper::header::AUTHORIZATION) {
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?
                .to_string(),
            // An EventSource cannot send headers: the stream takes the token in the query.
            None if req.uri().path() == "/api/events" => query(req)
                .remove("token")
                .ok_or_else(ApiError::unauthorized)?,
            None => return Err(ApiError::unauthorized()),
        };
        if super::auth::same_secret(given.as_bytes(), self.token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    async fn route(&self, req: hyper::Request<Incoming>) -> Result<Response, ApiError> {
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path
            .trim_start_matches("/api/")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if req.method() == hyper::Method::OPTIONS {
            return Ok(preflight());
        }
        self.authorise(&req)?;
        let method = req.method().clone();
        use hyper::Method as M;
        match (segments.as_slice(), &method) {
            (["uploads"], &M::POST) => {
                let host = host_of(&req).unwrap_or_else(|| self.endpoint.clone());
                let body = read_body(req).await?;
                self.new_upload(&body, &host)
            }
            (["uploads"], _) => Err(ApiError::method_not_allowed("POST")),
            (["uploads", id, "parts"], &M::GET) => self.parts(id),
            (["uploads", _, "parts"], _) => Err(ApiError::method_not_allowed("GET")),
            (["status"], &M::GET) => self.list(&req),
            (["status", name], &M::GET) => {
                let name = crate::mediaconvert::http::percent_decode(name)
                    .ok_or_else(|| ApiError::bad_request("the file name is not valid UTF-8"))?;
                match self.status.get(&name).map_err(internal)? {
                    Some(r) => Ok(json_response(200, &json!(r))),
                    None => Err(ApiError::not_found(format!("no upload named {name:?}"))),
                }
            }
            (["status", ..], _) => Err(ApiError::method_not_allowed("GET")),
            (["events"], &M::GET) => Ok(self.events(&req)),
            (["events"], _) => Err(ApiError::method_not_allowed("GET")),
            _ => Err(ApiError::not_found(format!("no route {method} {path}"))),
        }
    }

    fn bucket(&self, host: &str) -> Result<rusty_s3::Bucket, ApiError> {
        let base = url::Url::parse(&format!("http://{host}"))
            .map_err(|e| ApiError::bad_request(format!("Host {host:?}: {e}")))?;
        rusty_s3::Bucket::new(
            base,
            rusty_s3::UrlStyle::Path,
            self.raw.clone(),
            self.region.clone(),
        )
        .map_err(|e| internal(format!("the raw bucket's URL: {e}")))
    }

    /// `POST /api/uploads`.
    fn new_upload(&self, body: &[u8], host: &str) -> Result<Response, ApiError> {
        let u = api::new_upload(body, &self.limits, &self.profiles)?;
        let key = api::key_for(&self.prefix, &u);
        let bucket = self.bucket(host)?;
        let creds = rusty_s3::Credentials::new(self.key.clone(), self.secret.clone());
        let ttl = self.limits.ttl;
        let expires_at = rfc3339(SystemTime::now() + ttl);
        let answer = match api::transfer(u.size, &self.limits) {
            Transfer::Single => {
                let id = uuid::Uuid::new_v4().to_string();
                let url = bucket.put_object(Some(&creds), &key).sign(ttl);
                self.status
                    .uploading(&u.file_name, &key, &id)
                    .map_err(internal)?;
                api::single_answer(&id, &u, &expires_at, url.as_str())
            }
            Transfer::Multipart { part_size, parts } => {
                let id = self
                    .objects
                    .create_upload(
                        &self.raw,
                        &key,
                        Given {
                            content_type: Some(u.content_type.clone()),
                            ..Given::default()
                        },
                    )
                    .map_err(|e| internal(e.to_string()))?;
                let urls: Vec<String> = (1..=parts)
                    .map(|n| {
                        let n = u16::try_from(n).unwrap_or(u16::MAX);
                        bucket
                            .upload_part(Some(&creds), &key, n, &id)
                            .sign(ttl)
                            .to_string()
                    })
                    .collect();
                let complete = bucket
                    .complete_multipart_upload(Some(&creds), &key, &id, std::iter::empty())
                    .sign(ttl);
                self.status
                    .uploading(&u.file_name, &key, &id)
                    .map_err(internal)?;
                api::multipart_answer(&id, &u, &expires_at, part_size, &urls, complete.as_str())
            }
        };
        tracing::info!(file = %u.file_name, size = u.size, "upload URLs handed out");
        Ok(json_response(201, &answer))
    }

    /// `GET /api/uploads/{id}/parts`.
    fn parts(&self, id: &str) -> Result<Response, ApiError> {
        let Some((key, file_name)) = self.status.upload(id).map_err(internal)? else {
            return Err(ApiError::not_found(format!("no upload {id:?}")));
        };
        let parts = match self.objects.parts(id, &self.raw, &key) {
            Ok(p) => p,
            Err(super::objects::ObjectError::NoSuchUpload(_)) => {
                return Err(ApiError::not_found(format!(
                    "upload {id:?} is not in progress (completed, aborted or a single PUT)"
                )))
            }
            Err(e) => return Err(internal(e.to_string())),
        };
        Ok(json_response(
            200,
            &json!({
                "uploadId": id,
                "fileName": file_name,
                "parts": parts.iter().map(|p| api::part_entry(p.number, p.size, &p.etag)).collect::<Vec<_>>(),
            }),
        ))
    }

    /// `GET /api/status[?limit=N&nextToken=T]`.
    fn list(&self, req: &hyper::Request<Incoming>) -> Result<Response, ApiError> {
        let q = query(req);
        let limit = api::page_limit(q.get("limit").map(String::as_str))?;
        let skip = match q.get("nextToken") {
            Some(t) => t
                .parse::<usize>()
                .map_err(|_| ApiError::bad_request("nextToken: not one this API gave"))?,
            None => 0,
        };
        let (items, more) = self.status.list(skip, limit).map_err(internal)?;
        let next = more.then(|| (skip + items.len()).to_string());
        Ok(json_response(200, &api::status_page(&items, next)))
    }

    /// `GET /api/events`: every status change from now on (or after `Last-Event-ID`, or
    /// from the first with `?from=start`) as server-sent events.
    fn events(&self, req: &hyper::Request<Incoming>) -> Response {
        let from = super::sse::From::of(req.headers(), query(req).get("from").map(String::as_str));
        super::sse::response(PathBuf::from(self.status.log()), from)
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "API");
    ApiError::internal(e.to_string())
}

fn query(req: &hyper::Request<Incoming>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The Host the client reached this server by: the presigned URLs must name it, as the
/// signature covers it and the browser sends it.
fn host_of(req: &hyper::Request<Incoming>) -> Option<String> {
    let h = req.headers().get(hyper::header::HOST)?.to_str().ok()?;
    h.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        .then(|| h.to_string())
}

async fn read_body(req: hyper::Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    match tokio::time::timeout(Duration::from_secs(30), limited.collect()).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(_)) => Err(ApiError::bad_request(format!(
            "the body must be at most {MAX_BODY} bytes of JSON"
        ))),
        Err(_) => Err(ApiError::bad_request("the body did not arrive in time")),
    }
}

/// A browser's preflight of a cross-origin API call.
fn preflight() -> Response {
    let mut r = hyper::Response::new(s3s::Body::from(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::NO_CONTENT;
    for (k, v) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        (
            "access-control-allow-headers",
            "authorization, content-type, last-event-id",
        ),
        ("access-control-max-age", "600"),
    ] {
        r.headers_mut()
            .insert(k, hyper::header::HeaderValue::from_static(v));
    }
    r
}
