//! The event stream: `GET /events` answers `text/event-stream` with every event written
//! to `DATA/events.jsonl` from then on (or after the one a reconnecting client names in
//! `Last-Event-ID`, or from the first with `?from=start`), as the log is appended; each
//! message carries the event's id, its detail-type as the SSE event name and the event
//! JSON as data. The token is an HMAC of the secret key, printed at start, since a
//! browser's EventSource cannot sign requests.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::Stream;
use hmac::{KeyInit, Mac};
use hyper::body::Bytes;

/// How often the log is looked at for new lines.
const POLL: Duration = Duration::from_millis(200);

/// How long a quiet stream waits before a comment line keeps proxies from closing it.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The token `/events` wants, from the secret access key.
pub fn token(secret: &str) -> String {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key");
    m.update(b"mpe-events");
    super::hex(&m.finalize().into_bytes()[..16])
}

/// Where the stream starts.
pub enum From {
    /// The events written from now on.
    Now,
    /// Every event in the log.
    Start,
    /// The events after the one with this id (a client reconnecting); from the start if
    /// it is not in the log.
    After(String),
}

impl From {
    /// Where a request asks to start: after its `Last-Event-ID` (an `EventSource`
    /// reconnecting), from the first event with `from=start` in its query, else now.
    pub fn of(headers: &hyper::HeaderMap, from: Option<&str>) -> From {
        let last = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        match (last, from) {
            (Some(id), _) => From::After(id.to_string()),
            (None, Some("start")) => From::Start,
            _ => From::Now,
        }
    }
}

struct Tail {
    reader: BufReader<std::fs::File>,
    partial: String,
    quiet_since: Instant,
}

/// One SSE message for an event line, or nothing for a line that is not an event.
fn message(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let id = v["id"].as_str().unwrap_or_default();
    let kind = v["detail-type"]
        .as_str()
        .unwrap_or("event")
        .replace(['\n', '\r'], " ");
    Some(format!("id: {id}\nevent: {kind}\ndata: {line}\n\n"))
}

/// The stream of `log` from `from`.
pub fn stream(
    log: PathBuf,
    from: From,
) -> std::io::Result<
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + Unpin + 'static,
> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .create(false)
        .open(&log)?;
    match &from {
        From::Now => {
            file.seek(SeekFrom::End(0))?;
        }
        From::Start => {}
        From::After(id) => {
            // Scanned once: the position just past the line of that id.
            let mut reader = BufReader::new(&mut file);
            let (mut pos, mut found) = (0u64, None);
            let mut line = String::new();
            loop {
                line.clear();
                let n = reader.read_line(&mut line)?;
                if n == 0 {
                    break;
                }
                pos += n as u64;
                if line.contains(&format!("\"id\":\"{id}\"")) {
                    found = Some(pos);
                }
            }
            file.seek(SeekFrom::Start(found.unwrap_or(0)))?;
        }
    }
    let tail = Tail {
        reader: BufReader::new(file),
        partial: String::new(),
        quiet_since: Instant::now(),
    };
    // A comment first, so that the client knows the stream is open.
    let first = Some(Bytes::from_static(b": mpe events\n\n"));
    Ok(futures_util::stream::unfold(
        (tail, first),
        |(mut tail, first)| {
            Box::pin(async move {
                if let Some(b) = first {
                    return Some((Ok(b), (tail, None)));
                }
                loop {
                    let mut out = String::new();
                    let mut buf = String::new();
                    match tail.reader.read_to_string(&mut buf) {
                        Ok(_) => {}
                        Err(e) => return Some((Err(e), (tail, None))),
                    }
                    tail.partial.push_str(&buf);
                    // Only whole lines: a line being written waits for its newline.
                    while let Some(i) = tail.partial.find('\n') {
                        let line: String = tail.partial.drain(..=i).collect();
                        if let Some(m) = message(line.trim_end()) {
                            out.push_str(&m);
                        }
                    }
                    if !out.is_empty() {
                        tail.quiet_since = Instant::now();
                        return Some((Ok(Bytes::from(out)), (tail, None)));
                    }
                    if tail.quiet_since.elapsed() >= KEEPALIVE {
                        tail.quiet_since = Instant::now();
                        return Some((Ok(Bytes::from_static(b": keepalive\n\n")), (tail, None)));
                    }
                    tokio::time::sleep(POLL).await;
                }
            })
        },
    ))
}

/// The `text/event-stream` answer following `log` (made if missing) from `from`.
pub fn response(log: PathBuf, from: From) -> hyper::Response<s3s::Body> {
    if !log.exists() {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log);
    }
    match stream(log, from) {
        Ok(s) => {
            let s: s3s::stream::DynByteStream = Box::pin(s3s::dto::StreamingBlob::wrap(s));
            let mut r = hyper::Response::new(s3s::Body::from(s));
            for (k, v) in [
                ("content-type", "text/event-stream"),
                ("cache-control", "no-store"),
                ("access-control-allow-origin", "*"),
            ] {
                r.headers_mut()
                    .insert(k, hyper::header::HeaderValue::from_static(v));
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "opening an event log for a stream");
            let mut r = hyper::Response::new(s3s::Body::from(
                "the event log cannot be read\n".to_string(),
            ));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}
