//! The `upload-url` handler: a Function URL request for a presigned PUT into the raw
//! bucket, so that web and mobile clients upload without AWS credentials of their own.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::{json, Value};

use crate::error::CloudError;

/// Extensions accepted for upload (what the validate handler can recognise).
const EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "ts", "m2ts", "avi", "mxf", "flv", "mpg",
];

/// The handler's configuration (the function's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The raw uploads bucket (`RAW_BUCKET`).
    pub raw_bucket: String,
    /// Uploads go under this prefix (`UPLOAD_PREFIX`).
    pub prefix: String,
    /// How long a URL stays valid (`URL_TTL_SECONDS`).
    pub ttl: Duration,
    /// Profiles a client may ask for (`PROFILES`).
    pub profiles: Vec<String>,
}

impl Settings {
    /// From the function's environment.
    pub fn from_env() -> Result<Settings, CloudError> {
        let raw_bucket = super::env_var("RAW_BUCKET")?;
        let ttl = std::env::var("URL_TTL_SECONDS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(900);
        Ok(Settings {
            raw_bucket,
            prefix: std::env::var("UPLOAD_PREFIX").unwrap_or_else(|_| "uploads/".into()),
            ttl: Duration::from_secs(ttl),
            profiles: super::env_list("PROFILES"),
        })
    }
}

/// The key a request asks for: `?name=movie.mp4[&profile=mobile]` (or the same fields
/// in a JSON body) gives `<prefix>[<profile>/]movie.mp4`.
pub fn key_for(request: &Value, s: &Settings) -> Result<String, String> {
    let body: Option<Value> = request
        .get("body")
        .and_then(Value::as_str)
        .and_then(|b| serde_json::from_str(b).ok());
    let field = |name: &str| {
        request
            .pointer(&format!("/queryStringParameters/{name}"))
            .or_else(|| body.as_ref().and_then(|b| b.get(name)))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let name = field("name").ok_or("give the file name: ?name=movie.mp4")?;
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if name.is_empty() || name.len() > 200 || !ok_chars || name.starts_with('.') {
        return Err(format!(
            "name {name:?}: use 1 to 200 letters, digits, '.', '-' or '_', not starting with '.'"
        ));
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if !ext.as_deref().is_some_and(|e| EXTENSIONS.contains(&e)) {
        return Err(format!(
            "name {name:?}: extension must be one of {}",
            EXTENSIONS.join(", ")
        ));
    }
    match field("profile") {
        Some(p) if s.profiles.contains(&p) => Ok(format!("{}{p}/{name}", s.prefix)),
        Some(p) => Err(format!(
            "profile {p:?} is not one of {}",
            s.profiles.join(", ")
        )),
        None => Ok(format!("{}{name}", s.prefix)),
    }
}

/// Presigns a PUT of `key` (no network: signing is local).
pub async fn presign(
    s3: &aws_sdk_s3::Client,
    s: &Settings,
    key: &str,
) -> Result<String, CloudError> {
    let config =
        PresigningConfig::expires_in(s.ttl).map_err(|e| CloudError::Config(e.to_string()))?;
    let req = s3
        .put_object()
        .bucket(&s.raw_bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(|e| CloudError::Aws {
            action: format!("presign PUT s3://{}/{key}", s.raw_bucket),
            message: e.to_string(),
        })?;
    Ok(req.uri().to_string())
}

/// Runs the handler: a Function URL event in, an HTTP response out (400 with the reason
/// for a bad request).
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    s: &Settings,
    request: &Value,
) -> Result<Value, CloudError> {
    let reply = |status: u16, body: Value| json!({ "statusCode": status, "headers": { "content-type": "application/json" }, "body": body.to_string() });
    match key_for(request, s) {
        Ok(key) => {
            let url = presign(s3, s, &key).await?;
            Ok(reply(
                200,
                json!({ "method": "PUT", "url": url, "key": key, "expiresIn": s.ttl.as_secs() }),
            ))
        }
        Err(reason) => Ok(reply(400, json!({ "error": reason }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            raw_bucket: "mpe-raw-dev-123456789012".into(),
            prefix: "uploads/".into(),
            ttl: Duration::from_secs(900),
            profiles: vec!["default".into(), "mobile".into()],
        }
    }

    /// A Function URL request (payload format 2.0), trimmed to what matters.
    fn request(query: Value) -> Value {
        json!({ "version": "2.0", "rawPath": "/", "rawQueryString": "",
            "queryStringParameters": query,
            "requestContext": { "http": { "method": "POST", "path": "/" } },
            "isBase64Encoded": false })
    }

    #[test]
    fn names_become_keys_under_the_prefix() {
        let s = settings();
        assert_eq!(
            key_for(&request(json!({ "name": "movie.mp4" })), &s),
            Ok("uploads/movie.mp4".into())
        );
        assert_eq!(
            key_for(
                &request(json!({ "name": "clip.MOV", "profile": "mobile" })),
                &s
            ),
            Ok("uploads/mobile/clip.MOV".into())
        );
        let body = json!({ "version": "2.0", "body": "{\"name\":\"a.mkv\"}" });
        assert_eq!(key_for(&body, &s), Ok("uploads/a.mkv".into()));
        for bad in [
            "../etc/passwd.mp4",
            ".hidden.mp4",
            "notes.txt",
            "a b.mp4",
            "",
        ] {
            assert!(
                key_for(&request(json!({ "name": bad })), &s).is_err(),
                "{bad}"
            );
        }
        assert!(key_for(&request(json!({ "name": "a.mp4", "profile": "x" })), &s).is_err());
    }

    #[tokio::test]
    async fn the_url_is_a_sigv4_presigned_put_of_that_key() {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-3"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(conf);
        let out = handle(&s3, &settings(), &request(json!({ "name": "movie.mp4" })))
            .await
            .expect("handled");
        assert_eq!(out["statusCode"], 200);
        let body: Value = serde_json::from_str(out["body"].as_str().expect("body")).expect("JSON");
        let url = url_parts(body["url"].as_str().expect("url"));
        assert_eq!(
            url.0,
            "https://mpe-raw-dev-123456789012.s3.eu-west-3.amazonaws.com/uploads/movie.mp4"
        );
        for q in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
        ] {
            assert!(url.1.contains(&q.to_string()), "{q} in {:?}", url.1);
        }
        assert!(url.1.iter().any(|q| q.starts_with("X-Amz-Signature=")));
        let bad = handle(&s3, &settings(), &request(json!({ "name": "x.exe" })))
            .await
            .expect("handled");
        assert_eq!(bad["statusCode"], 400);
    }

    fn url_parts(u: &str) -> (String, Vec<String>) {
        let (base, query) = u.split_once('?').expect("a query");
        (
            base.to_string(),
            query.split('&').map(str::to_string).collect(),
        )
    }
}
