//! The delivery path, as CloudFront serves the stack's media: published objects over
//! plain GET and HEAD at `/cdn/<key>` (the thumbnails bucket for `*/thumbnails/*`, the
//! media bucket for the rest), with Range, ETag and If-None-Match, Cache-Control (short
//! for manifests, immutable for segments), media content types and CORS for web players.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use futures_util::Stream;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};

use super::objects::{ObjectError, Objects};

/// The path prefix of the delivery path.
pub const PREFIX: &str = "/cdn/";

/// How much of a file each chunk of a response carries.
const CHUNK: usize = 256 << 10;

/// The bytes `range` of `path` as a stream of chunks.
pub fn file_stream(
    path: &Path,
    range: std::ops::Range<u64>,
) -> io::Result<impl Stream<Item = Result<Bytes, io::Error>> + Send + Sync + Unpin + 'static> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(range.start))?;
    let left = range.end - range.start;
    Ok(futures_util::stream::unfold(
        (file, left),
        |(mut file, left)| {
            Box::pin(async move {
                if left == 0 {
                    return None;
                }
                let mut buf = vec![0; CHUNK.min(left as usize)];
                match file.read(&mut buf) {
                    Ok(0) => Some((
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the file shrank while read",
                        )),
                        (file, 0),
                    )),
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
                    }
                    Err(e) => Some((Err(e), (file, 0))),
                }
            })
        },
    ))
}

/// The content type of a published file, by its extension.
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("mpd") => "application/dash+xml",
        Some("cmfv") | Some("m4v") => "video/mp4",
        Some("cmfa") | Some("m4a") => "audio/mp4",
        Some("m4s") | Some("mp4") => "video/mp4",
        Some("ts") => "video/mp2t",
        Some("vtt") => "text/vtt",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// CloudFront's cache rules for the stack's media: manifests change (live, republished)
/// and are cached briefly; segments and images never change under their name.
pub fn cache_control(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("m3u8") | Some("mpd") | Some("json") | Some("html") => "max-age=2",
        _ => "public, max-age=31536000, immutable",
    }
}

/// The bucket that serves `key`, as the distribution's behaviours route it.
pub fn bucket_for<'a>(key: &str, media: &'a str, thumbnails: &'a str) -> &'a str {
    if key.contains("/thumbnails/") {
        thumbnails
    } else {
        media
    }
}

/// A delivery answer: status, headers, and the bytes to send (a file range, or a small
/// body).
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// What a delivery answer sends.
pub enum Body {
    /// Nothing.
    Empty,
    /// A file's bytes.
    File(std::path::PathBuf, std::ops::Range<u64>),
    /// Small text.
    Text(String),
}

/// Answers a GET, HEAD or OPTIONS on the delivery path.
pub fn answer(
    objects: &Objects,
    method: &Method,
    key: &str,
    req: &hyper::HeaderMap,
    media: &str,
    thumbnails: &str,
) -> Answer {
    let mut headers = vec![
        ("access-control-allow-origin", "*".to_string()),
        (
            "access-control-expose-headers",
            "Content-Length, Content-Range, ETag".to_string(),
        ),
    ];
    let text = |status: StatusCode, msg: &str, mut headers: Vec<(&'static str, String)>| {
        headers.push(("content-type", "text/plain; charset=utf-8".into()));
        Answer {
            status,
            headers,
            body: Body::Text(format!("{msg}\n")),
        }
    };
    if method == Method::OPTIONS {
        headers.push(("access-control-allow-methods", "GET, HEAD".into()));
        headers.push((
            "access-control-allow-headers",
            "Range, If-None-Match".into(),
        ));
        headers.push(("access-control-max-age", "86400".into()));
        return Answer {
            status: StatusCode::NO_CONTENT,
            headers,
            body: Body::Empty,
        };
    }
    if method != Method::GET && method != Method::HEAD {
        headers.push(("allow", "GET, HEAD, OPTIONS".into()));
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the delivery path is read-only",
            headers,
        );
    }
    let bucket = bucket_for(key, media, thumbnails);
    let stat = match objects.stat(bucket, key) {
        Ok(s) => s,
        Err(ObjectError::NoSuchKey(_) | ObjectError::InvalidKey { .. }) => {
            return text(
                StatusCode::NOT_FOUND,
                &format!("{key}: not published"),
                headers,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "delivery");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the object failed",
                headers,
            );
        }
    };
    let size = stat.facts.size;
    headers.push(("etag", stat.facts.etag.clone()));
    headers.push(("cache-control", cache_control(key).into()));
    headers.push(("content-type", content_type(key).into()));
    headers.push(("accept-ranges", "bytes".into()));
    headers.push(("last-modified", httpdate(stat.modified)));
    let inm = req
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if inm.is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == stat.facts.etag || t.trim() == "*")
    }) {
        return Answer {
            status: StatusCode::NOT_MODIFIED,
            headers,
            body: Body::Empty,
        };
    }
    let range = req.get(hyper::header::RANGE).and_then(|v| v.to_str().ok());
    let (status, span) = match range {
        None => (StatusCode::OK, 0..size),
        Some(r) => match s3s::dto::Range::parse(r)
            .ok()
            .and_then(|r| r.check(size).ok())
        {
            Some(span) => {
                headers.push((
                    "content-range",
                    format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1)),
                ));
                (StatusCode::PARTIAL_CONTENT, span)
            }
            None => {
                headers.push(("content-range", format!("bytes */{size}")));
                return text(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range not satisfiable",
                    headers,
                );
            }
        },
    };
    headers.push(("content-length", (span.end - span.start).to_string()));
    Answer {
        status,
        headers,
        body: if method == Method::HEAD {
            Body::Empty
        } else {
            Body::File(stat.path, span)
        },
    }
}

/// An HTTP date (RFC 9110's IMF-fixdate).
fn httpdate(t: std::time::SystemTime) -> String {
    let ts = s3s::dto::Timestamp::from(t);
    let mut out = Vec::new();
    match ts.format(s3s::dto::TimestampFormat::HttpDate, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The index page: every published asset and links to its manifests.
pub fn index(objects: &Objects, media: &str) -> String {
    let mut rows = String::new();
    let keys = objects.keys(media, "").unwrap_or_default();
    for k in keys
        .iter()
        .filter(|k| k.ends_with(".m3u8") || k.ends_with(".mpd"))
    {
        // The master manifests: named for their asset (ASSET/cmaf/ASSET.m3u8), where the
        // variants carry a name modifier (ASSET_720p.m3u8).
        let asset = k.split('/').next().unwrap_or_default();
        let stem = k
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once('.'))
            .map_or("", |(s, _)| s);
        if stem != asset {
            continue;
        }
        let esc = k
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        rows.push_str(&format!("<li><a href=\"{PREFIX}{esc}\">{esc}</a></li>\n"));
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mpe serve</title></head>\
         <body><h1>Published assets</h1><ul>\n{rows}</ul></body></html>\n"
    )
}
