//! `mpe serve`: the stack's local twin on one port (S3, the workflow, MediaConvert,
//! delivery).

use std::path::PathBuf;

/// Arguments of `mpe serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder: buckets, job store, event log, credentials and outputs.json
    /// (made private, 0700).
    #[arg(long, default_value = "mpe-data")]
    pub data: PathBuf,
    /// Address and port. Anything but loopback needs MPE_ACCESS_KEY_ID and
    /// MPE_SECRET_ACCESS_KEY set.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: std::net::SocketAddr,
    /// Profile of uploads that name none (by `mpe-profile` metadata or their folder
    /// under uploads/).
    #[arg(short, long, default_value = "default")]
    pub profile: String,
    /// Jobs run at once, sharing the cores.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// The stack's EnvironmentSuffix: buckets are mpe-raw-SUFFIX, mpe-media-SUFFIX and
    /// mpe-thumbnails-SUFFIX.
    #[arg(long, default_value = "local")]
    pub suffix: String,
    /// The region named in answers, ARNs and events.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// The S3 endpoint of buckets other than the stack's, for jobs created through the
    /// MediaConvert API that read or write them (credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY); the stack's buckets are always this server's.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    #[command(flatten)]
    pub webhook: crate::cmd::WebhookArgs,
}

/// Serves until stopped.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !args
        .suffix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || args.suffix.is_empty()
        || args.suffix.len() > 20
    {
        anyhow::bail!("--suffix: 1 to 20 lowercase letters, digits and hyphens");
    }
    crate::serve::serve(crate::serve::ServeOptions {
        data: args.data,
        listen: args.listen,
        profile: args.profile,
        jobs: usize::from(args.jobs),
        suffix: args.suffix,
        region: args.region,
        read_timeout: std::time::Duration::from_secs(args.read_timeout),
        s3_endpoint: args.s3_endpoint,
        webhook: args.webhook.webhook()?,
    })
}
