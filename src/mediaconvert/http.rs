//! The local API's HTTP side: hyper's HTTP/1 server with a deadline for each request's
//! headers and body, a cap on the body and on requests in flight, and MediaConvert's JSON
//! error shape for every refusal. Handlers are plain functions run on tokio's blocking
//! pool, as they touch SQLite and files.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// The largest request body read. A CreateJob body is a few dozen kilobytes even for a
/// large ladder; anything near this is no job, and reading it would only cost memory.
pub const BODY_LIMIT: usize = 4 << 20;

/// Bodies declared up to this size beyond [`BODY_LIMIT`] are read (and dropped) before
/// the 413 goes out.
const DRAIN_LIMIT: u64 = 16 << 20;

/// Requests handled at once; more get 429 TooManyRequestsException.
pub const MAX_IN_FLIGHT: usize = 64;

/// Connections open at once; more are closed as soon as they are accepted.
const MAX_CONNECTIONS: usize = 1024;

/// One request, read whole.
pub struct Request {
    /// GET, POST, ...
    pub method: Method,
    /// The path's segments, percent-decoded (`["2017-08-29", "jobs", "ID"]`).
    pub segments: Vec<String>,
    /// The query, percent-decoded.
    pub query: HashMap<String, String>,
    /// The Host header, for answers that name the server's own URL.
    pub host: Option<String>,
    /// The body (empty for none).
    pub body: Bytes,
    /// The headers, for a caller that checks signatures.
    pub headers: hyper::HeaderMap,
    /// The path and query as sent (still percent-encoded), for the same.
    pub raw_path: String,
    /// The query as sent.
    pub raw_query: Option<String>,
}

/// An answer: status and JSON body, with MediaConvert's error type header for a refusal.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// `x-amzn-ErrorType` (`BadRequestException`, ...).
    pub error_type: Option<&'static str>,
}

impl Reply {
    /// A success.
    pub fn ok(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            error_type: None,
        }
    }

    /// A refusal, in MediaConvert's shape: `{"message": ...}` and the error type header.
    pub fn error(status: u16, error_type: &'static str, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "message": message.into() }),
            error_type: Some(error_type),
        }
    }
}

/// What handles each request.
pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// Serves `handler` on `addr` until the process stops, on a runtime of its own. A client
/// has `read_timeout` to send a request's headers, and as long again for its body.
pub fn serve(addr: SocketAddr, read_timeout: Duration, handler: Handler) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let (handler, in_flight) = (handler.clone(), in_flight.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    answer(req, handler.clone(), in_flight.clone(), read_timeout)
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended");
                }
                drop(permit);
            });
        }
    })
}

/// Answers one request with `handler`: at most [`MAX_IN_FLIGHT`] at once, its body read
/// within `read_timeout` and up to [`BODY_LIMIT`].
pub async fn answer(
    req: hyper::Request<Incoming>,
    handler: Handler,
    in_flight: Arc<Semaphore>,
    read_timeout: Duration,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let reply = match in_flight.try_acquire_owned() {
        Err(_) => Reply::error(
            429,
            "TooManyRequestsException",
            "too many requests at once; retry",
        ),
        Ok(permit) => {
            let reply = read(req, handler, read_timeout).await;
            drop(permit);
            reply
        }
    };
    Ok(response(reply))
}

async fn read(req: hyper::Request<Incoming>, handler: Handler, read_timeout: Duration) -> Reply {
    let too_large = || {
        Reply::error(
            413,
            "PayloadTooLargeException",
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > BODY_LIMIT as u64) {
        // A body somewhat over the limit is read and dropped, so that the client, still
        // sending, gets to read the 413 rather than a reset; a larger one is not read.
        if n <= DRAIN_LIMIT {
            let mut body = req.into_body();
            let drain = async {
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(read_timeout, drain).await;
        }
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let body =
        match tokio::time::timeout(read_timeout, Limited::new(body, BODY_LIMIT).collect()).await {
            Err(_) => {
                return Reply::error(
                    408,
                    "RequestTimeoutException",
                    format!(
                        "the request body did not arrive within {:.0} s",
                        read_timeout.as_secs_f64()
                    ),
                )
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(e)) => {
                return Reply::error(
                    400,
                    "BadRequestException",
                    format!("reading the request body: {e}"),
                )
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
    let Some(segments) = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect::<Option<Vec<String>>>()
    else {
        return Reply::error(
            400,
            "BadRequestException",
            "the path is not percent-encoded UTF-8",
        );
    };
    let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let request = Request {
        method: parts.method,
        segments,
        query,
        host: parts
            .headers
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
        body,
        raw_path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
    };
    match tokio::task::spawn_blocking(move || handler(request)).await {
        Ok(reply) => reply,
        Err(e) => Reply::error(
            500,
            "InternalServerErrorException",
            format!("the request's handler failed: {e}"),
        ),
    }
}

fn response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(reply.body.to_string())));
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let headers = r.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(t) = reply.error_type {
        headers.insert(
            "x-amzn-ErrorType",
            hyper::header::HeaderValue::from_static(t),
        );
    }
    r
}

/// `%XX` sequences decoded (a path segment's `+` stays a plus); `None` if the result is
/// not UTF-8 or a sequence is broken.
pub fn percent_decode(s: &str) -> Option<String> {
    cloud::api::percent_decode(s)
}

/// The body as JSON (camelCase wire): 400 for one that is not UTF-8 JSON. An empty body
/// reads as `{}`.
pub fn json_body(req: &Request) -> Result<Value, Reply> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        Reply::error(
            400,
            "BadRequestException",
            format!("the request body is not UTF-8 JSON: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(
            percent_decode("My%20Template+1").as_deref(),
            Some("My Template+1")
        );
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
