//! Just enough S3 for the local MediaConvert API: get and put objects through any
//! S3 endpoint, with SigV4-presigned URLs (rusty-s3) over a blocking HTTP client.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// An S3 endpoint with credentials.
#[derive(Clone)]
pub struct S3 {
    endpoint: url::Url,
    region: String,
    creds: Credentials,
    agent: ureq::Agent,
    /// The buckets this endpoint keeps, and the endpoint of every other bucket
    /// (`mpe serve --s3-endpoint`); `None`: this endpoint has them all.
    elsewhere: Option<(Vec<String>, Box<S3>)>,
}

/// What S3 says of an object it sends.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// The ETag header.
    pub etag: Option<String>,
    /// The Content-Type header.
    pub content_type: Option<String>,
}

/// The error of a request for an object or bucket that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("{0}: no such bucket or object")]
pub struct Missing(pub String);

/// Splits `s3://bucket/key` into its parts.
pub fn split(uri: &str) -> anyhow::Result<(String, String)> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow!("{uri}: not an s3:// URI"))?;
    let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
    if b.is_empty() {
        bail!("{uri}: names no bucket");
    }
    // S3 takes such a key literally, but a URL normalises its dot segments away, and the
    // request would reach another key or bucket: refused rather than sent.
    if k.split('/').any(|p| p == "." || p == "..") {
        bail!(
            "{uri}: keys with '.' or '..' path segments are not supported by mpe's local S3 client"
        );
    }
    Ok((b.to_string(), k.to_string()))
}

impl S3 {
    /// The endpoint (`http://127.0.0.1:5000`), with credentials from the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
    pub fn from_env(endpoint: &str) -> anyhow::Result<S3> {
        let endpoint =
            url::Url::parse(endpoint).with_context(|| format!("S3 endpoint {endpoint}"))?;
        let key = std::env::var("AWS_ACCESS_KEY_ID")
            .context("no credentials: AWS_ACCESS_KEY_ID is not set")?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
            .context("no credentials: AWS_SECRET_ACCESS_KEY is not set")?;
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        Ok(S3 {
            endpoint,
            region,
            creds: Credentials::new(key, secret),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(300))
                .build(),
            elsewhere: None,
        })
    }

    /// The endpoint with the credentials given (`mpe serve` calling its own S3 API).
    pub fn new(endpoint: &str, key: &str, secret: &str, region: &str) -> anyhow::Result<S3> {
        let endpoint =
            url::Url::parse(endpoint).with_context(|| format!("S3 endpoint {endpoint}"))?;
        Ok(S3 {
            endpoint,
            region: region.to_string(),
            creds: Credentials::new(key.to_string(), secret.to_string()),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(300))
                .build(),
            elsewhere: None,
        })
    }

    /// This endpoint for `own` buckets, `other` for the rest.
    pub fn with_others(mut self, own: Vec<String>, other: S3) -> S3 {
        self.elsewhere = Some((own, Box::new(other)));
        self
    }

    /// The endpoint that has `bucket`.
    fn for_bucket(&self, bucket: &str) -> &S3 {
        match &self.elsewhere {
            Some((own, other)) if !own.iter().any(|b| b == bucket) => other,
            _ => self,
        }
    }

    fn bucket(&self, name: &str) -> anyhow::Result<Bucket> {
        Bucket::new(
            self.endpoint.clone(),
            UrlStyle::Path,
            name.to_string(),
            self.region.clone(),
        )
        .map_err(|e| anyhow!("bucket {name}: {e}"))
    }

    /// Downloads `s3://bucket/key` to `to`; returns what S3 said of the object.
    pub fn get(&self, uri: &str, to: &Path) -> anyhow::Result<Object> {
        let (b, k) = split(uri)?;
        let s3 = self.for_bucket(&b);
        let url = s3
            .bucket(&b)?
            .get_object(Some(&s3.creds), &k)
            .sign(Duration::from_secs(600));
        let resp = s3
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| http_error(uri, e))?;
        let object = Object {
            etag: resp.header("ETag").map(str::to_string),
            content_type: resp.header("Content-Type").map(str::to_string),
        };
        let mut file = std::fs::File::create(to).with_context(|| to.display().to_string())?;
        std::io::copy(&mut resp.into_reader(), &mut file)
            .with_context(|| format!("reading {uri}"))?;
        Ok(object)
    }

    /// Uploads `from` to `s3://bucket/key`.
    pub fn put(&self, from: &Path, uri: &str) -> anyhow::Result<()> {
        let (b, k) = split(uri)?;
        let s3 = self.for_bucket(&b);
        let url = s3
            .bucket(&b)?
            .put_object(Some(&s3.creds), &k)
            .sign(Duration::from_secs(600));
        let file = std::fs::File::open(from).with_context(|| from.display().to_string())?;
        let len = file.metadata()?.len();
        s3.agent
            .put(url.as_str())
            .set("Content-Length", &len.to_string())
            .send(file)
            .map_err(|e| http_error(uri, e))?;
        Ok(())
    }
}

fn http_error(uri: &str, e: ureq::Error) -> anyhow::Error {
    match e {
        ureq::Error::Status(404, _) => anyhow::Error::new(Missing(uri.to_string())),
        ureq::Error::Status(403, _) => anyhow!("{uri}: access denied"),
        ureq::Error::Status(code, r) => anyhow!("{uri}: S3 answered {code} {}", r.status_text()),
        ureq::Error::Transport(t) => anyhow!("{uri}: S3 endpoint unreachable: {t}"),
    }
}
