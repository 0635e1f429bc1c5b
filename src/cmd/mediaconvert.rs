//! `mpe mediaconvert serve`: the MediaConvert API on localhost, executing with the engine.

use std::path::PathBuf;

/// Arguments of `mpe mediaconvert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: McCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum McCommand {
    /// Serve MediaConvert's jobs, job templates, presets, queues, DescribeEndpoints and
    /// Probe on 127.0.0.1; credentials for the S3 endpoint come from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY.
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8642)]
        port: u16,
        /// The S3 endpoint jobs read inputs from and write outputs to.
        #[arg(long)]
        s3_endpoint: String,
        /// Scratch folder for running jobs, made private (0700); default: a fresh one of
        /// a random name in the temp folder.
        #[arg(long)]
        work: Option<PathBuf>,
        /// Address to listen on; anything but loopback exposes the API (which has no
        /// authentication) to the network.
        #[arg(long, default_value = "127.0.0.1")]
        listen: std::net::IpAddr,
        /// Folder of the store (mediaconvert.db): jobs, templates, presets and queues
        /// survive a restart; default: $XDG_DATA_HOME/mpe/mediaconvert (or
        /// ~/.local/share/mpe/mediaconvert).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Jobs run at once, sharing the cores, as a queue runs jobs in parallel.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Seconds a client has to send a request's headers, and as long again for its
        /// body; a connection that takes longer is closed (408 for a late body).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        read_timeout: u64,
        /// Append each job's state changes ("MediaConvert Job State Change" EventBridge
        /// events: SUBMITTED, PROGRESSING, STATUS_UPDATE at the job's
        /// StatusUpdateInterval, COMPLETE, CANCELED, ERROR) to this JSON-lines file.
        #[arg(long)]
        events: Option<PathBuf>,
        /// The webhook each event is also POSTed to (needs --events; its outbox is
        /// FILE.outbox.db).
        #[command(flatten)]
        webhook: crate::cmd::WebhookArgs,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        McCommand::Serve {
            port,
            s3_endpoint,
            work,
            listen,
            data,
            jobs,
            read_timeout,
            events,
            webhook,
        } => crate::mediaconvert::serve(crate::mediaconvert::ServeOptions {
            port,
            s3_endpoint,
            work,
            listen,
            data: match data {
                Some(d) => d,
                None => default_data_dir()?,
            },
            jobs: usize::from(jobs),
            read_timeout: std::time::Duration::from_secs(read_timeout),
            events,
            webhook: webhook.webhook()?,
        }),
    }
}

/// `$XDG_DATA_HOME/mpe/mediaconvert`, else `~/.local/share/mpe/mediaconvert`.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            anyhow::anyhow!("no --data given, and neither XDG_DATA_HOME nor HOME is set")
        })?;
    Ok(base.join("mpe").join("mediaconvert"))
}
