//! `mpe serve`: the local twin of the whole stack on one port — the S3 API over folders,
//! the workflow an upload starts, the MediaConvert API running the engine, job records
//! and events, and delivery as CloudFront serves it. See docs/serve.md.

pub mod api;
pub mod auth;
pub mod cors;
pub mod delivery;
pub mod objects;
pub mod records;
pub mod s3;
pub mod server;
pub mod sse;
pub mod status;
pub mod trickplay;
pub mod web;
pub mod workflow;

pub use server::{serve, ServeOptions};

/// Bytes as lowercase hex (ETags, tokens, digests).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now as RFC 3339 UTC (EventBridge's `time`).
pub fn rfc3339_now() -> String {
    let ts = s3s::dto::Timestamp::from(std::time::SystemTime::now());
    let mut out = Vec::new();
    match ts.format(s3s::dto::TimestampFormat::DateTime, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}
