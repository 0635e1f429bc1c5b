//! `mpe serve`: the stack's local twin on one port (S3, the workflow, MediaConvert,
//! delivery).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Arguments of `mpe serve`. Each setting may also come from `--config FILE`; a flag
/// given wins over the file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file of the settings below (`data`, `listen`, `profile`, `jobs`, `suffix`,
    /// `region`, `read_timeout`, `s3_endpoint`), the credentials (`access_key_id`,
    /// `secret_access_key`), the upload API's token (`api_token`) and limits
    /// (`upload_max_bytes`, `multipart_threshold_bytes`, `part_max_bytes`,
    /// `upload_url_ttl_seconds`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The data folder: buckets, job store, event log, credentials and outputs.json
    /// (made private, 0700) [default: mpe-data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address and port. Anything but loopback needs credentials given (MPE_ACCESS_KEY_ID
    /// and MPE_SECRET_ACCESS_KEY, or the config) [default: 127.0.0.1:4566].
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Profile of uploads that name none (by `mpe-profile` metadata or their folder
    /// under uploads/) [default: default].
    #[arg(short, long)]
    pub profile: Option<String>,
    /// Jobs run at once, sharing the cores [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    /// The stack's EnvironmentSuffix: buckets are mpe-raw-SUFFIX, mpe-media-SUFFIX and
    /// mpe-thumbnails-SUFFIX [default: local].
    #[arg(long)]
    pub suffix: Option<String>,
    /// The region named in answers, ARNs and events [default: us-east-1].
    #[arg(long)]
    pub region: Option<String>,
    /// Seconds a client has to send a request's headers [default: 30].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: Option<u64>,
    /// The S3 endpoint of buckets other than the stack's, for jobs created through the
    /// MediaConvert API that read or write them (credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY); the stack's buckets are always this server's.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    #[command(flatten)]
    pub webhook: crate::cmd::WebhookArgs,
}

/// What `--config` may set.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    data: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    profile: Option<String>,
    jobs: Option<u16>,
    suffix: Option<String>,
    region: Option<String>,
    read_timeout: Option<u64>,
    s3_endpoint: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    api_token: Option<String>,
    upload_max_bytes: Option<u64>,
    multipart_threshold_bytes: Option<u64>,
    part_max_bytes: Option<u64>,
    upload_url_ttl_seconds: Option<u64>,
}

fn read_config(path: &Path) -> anyhow::Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // toml's message spans lines (a caret under the spot); one line is kept.
    toml::from_str(&text).map_err(|e| {
        let first = e.message().lines().next().unwrap_or_default().to_string();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                anyhow::anyhow!("{}: line {line}: {first}", path.display())
            }
            None => anyhow::anyhow!("{}: {first}", path.display()),
        }
    })
}

/// Serves until stopped.
pub fn run(args: Args) -> anyhow::Result<()> {
    let c = match &args.config {
        Some(p) => read_config(p)?,
        None => Config::default(),
    };
    let suffix = args.suffix.or(c.suffix).unwrap_or_else(|| "local".into());
    if !suffix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || suffix.is_empty()
        || suffix.len() > 20
    {
        anyhow::bail!("--suffix: 1 to 20 lowercase letters, digits and hyphens");
    }
    let jobs = args.jobs.or(c.jobs).unwrap_or(1);
    if !(1..=64).contains(&jobs) {
        anyhow::bail!("jobs: 1 to 64");
    }
    let read_timeout = args.read_timeout.or(c.read_timeout).unwrap_or(30);
    if !(1..=3600).contains(&read_timeout) {
        anyhow::bail!("read_timeout: 1 to 3600 seconds");
    }
    let credentials = match (c.access_key_id, c.secret_access_key) {
        (Some(k), Some(s)) => Some((k, s)),
        (None, None) => None,
        _ => anyhow::bail!("the config sets access_key_id or secret_access_key without the other"),
    };
    let d = cloud::api::Limits::default();
    let limits = cloud::api::Limits {
        max_size: c.upload_max_bytes.unwrap_or(d.max_size),
        multipart_threshold: c.multipart_threshold_bytes.unwrap_or(d.multipart_threshold),
        max_part_size: c.part_max_bytes.unwrap_or(d.max_part_size),
        ttl: c
            .upload_url_ttl_seconds
            .map_or(d.ttl, std::time::Duration::from_secs),
    };
    limits
        .check()
        .map_err(|e| anyhow::anyhow!("the upload limits in the config: {e}"))?;
    crate::serve::serve(crate::serve::ServeOptions {
        data: args.data.or(c.data).unwrap_or_else(|| "mpe-data".into()),
        listen: args
            .listen
            .or(c.listen)
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 4566))),
        profile: args
            .profile
            .or(c.profile)
            .unwrap_or_else(|| "default".into()),
        jobs: usize::from(jobs),
        suffix,
        region: args
            .region
            .or(c.region)
            .unwrap_or_else(|| "us-east-1".into()),
        read_timeout: std::time::Duration::from_secs(read_timeout),
        s3_endpoint: args.s3_endpoint.or(c.s3_endpoint),
        webhook: args.webhook.webhook()?,
        credentials,
        api_token: c.api_token,
        limits,
    })
}
