//! The web page (`/`: upload and follow) and the player page (`/play/{fileName}`), with
//! their scripts and the pinned player libraries, all built into the binary.

use hyper::body::Bytes;

const INDEX: &str = include_str!("../../web/index.html");
const PLAY: &str = include_str!("../../web/play.html");
const APP_JS: &str = include_str!("../../web/app.js");
const PLAY_JS: &str = include_str!("../../web/play.js");
const STYLE: &str = include_str!("../../web/style.css");
const CONFIG: &str = r#"{"apiUrl":"/api/"}"#;
const HLS_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js"));
const DASH_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dash.all.min.js"));

type Response = hyper::Response<s3s::Body>;

/// Whether an unsigned request for `path` is one of the pages' (a signed one is S3's).
pub fn is_page(path: &str) -> bool {
    path == "/"
        || path == "/index.html"
        || path == "/favicon.ico"
        || path.starts_with("/play/")
        || path.starts_with("/web/")
}

/// The page or file at `path`, for GET or HEAD.
pub fn answer(method: &hyper::Method, path: &str) -> Response {
    let found: Option<(&'static [u8], &'static str)> = match path {
        "/" | "/index.html" => Some((INDEX.as_bytes(), "text/html; charset=utf-8")),
        p if p.starts_with("/play/") && p.len() > "/play/".len() => {
            Some((PLAY.as_bytes(), "text/html; charset=utf-8"))
        }
        "/web/app.js" => Some((APP_JS.as_bytes(), "text/javascript; charset=utf-8")),
        "/web/play.js" => Some((PLAY_JS.as_bytes(), "text/javascript; charset=utf-8")),
        "/web/style.css" => Some((STYLE.as_bytes(), "text/css; charset=utf-8")),
        // The pages find the API here; in the stack, scripts/publish-web.sh writes the
        // distribution's ApiUrl in its place.
        "/web/config.json" => Some((CONFIG.as_bytes(), "application/json")),
        "/web/hls.min.js" if !HLS_JS.is_empty() => Some((HLS_JS, "text/javascript")),
        "/web/dash.all.min.js" if !DASH_JS.is_empty() => Some((DASH_JS, "text/javascript")),
        _ => None,
    };
    let (status, body, ct) = match (method, found) {
        (&hyper::Method::GET | &hyper::Method::HEAD, Some((body, ct))) => (200, body, ct),
        (&hyper::Method::GET | &hyper::Method::HEAD, None) => (
            404,
            &b"not found (the player libraries are built in only when web/fetch-players.sh ran before the build)\n"[..],
            "text/plain; charset=utf-8",
        ),
        _ => (405, &b"the pages take GET\n"[..], "text/plain; charset=utf-8"),
    };
    let len = body.len();
    let body = if method == hyper::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(body)
    };
    let mut r = hyper::Response::new(s3s::Body::from(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::NOT_FOUND);
    let h = r.headers_mut();
    for (k, v) in [
        ("content-type", ct.to_string()),
        ("content-length", len.to_string()),
        // The binary is the version: a new mpe may bring new pages.
        ("cache-control", "no-cache".to_string()),
        ("x-content-type-options", "nosniff".to_string()),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
             connect-src 'self'; style-src 'self'; worker-src 'self' blob:"
                .to_string(),
        ),
    ] {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}
