//! Subcommands: one module each, with its own clap arguments and `run`.

pub mod cloud;
pub mod jobs;
pub mod mediaconvert;
pub mod probe;
pub mod serve;
pub mod thumbs;
pub mod transcode;
pub mod watch;

use clap::{Parser, Subcommand};

/// Local-first media processing engine with AWS MediaConvert parity.
#[derive(Debug, Parser)]
#[command(name = "mpe", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Describe a media file: container, streams, sizes, rates, colour.
    Probe(probe::Args),
    /// Make the HLS + DASH + MP4 ladder of a source, as the profile says.
    Transcode(transcode::Args),
    /// Still thumbnails at chosen times (exact frames, by parallel seeking).
    Thumbs(thumbs::Args),
    /// Watch a folder: every finished source becomes a job (records, retries, failures).
    Watch(watch::Args),
    /// The jobs of a watch folder: list, show, retry, cancel.
    Jobs(jobs::Args),
    /// AWS Elemental MediaConvert: render jobs and templates; upload, submit and follow jobs.
    Cloud(cloud::Args),
    /// The MediaConvert API on localhost, running jobs with the engine.
    Mediaconvert(mediaconvert::Args),
    /// The whole stack's local twin on one port: S3, the upload workflow, MediaConvert,
    /// job records and events, delivery.
    Serve(serve::Args),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Probe(a) => probe::run(a),
        Command::Transcode(a) => transcode::run(a),
        Command::Thumbs(a) => thumbs::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Jobs(a) => jobs::run(a),
        Command::Cloud(a) => cloud::run(a),
        Command::Mediaconvert(a) => mediaconvert::run(a),
        Command::Serve(a) => serve::run(a),
    }
}

/// `--threads` within reason: more than four threads a core only adds memory (each
/// encoder thread holds frames) and contention, so a larger number is brought down to
/// that, with a warning.
pub(crate) fn sane_threads(asked: Option<usize>) -> Option<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = 4 * cores;
    asked.map(|n| {
        if n > cap {
            eprintln!(
                "mpe: warning: --threads {n} is more than 4 x the {cores} cores here; using {cap}"
            );
            cap
        } else {
            n.max(1)
        }
    })
}

/// The webhook's flags, shared by `mpe watch` and `mpe mediaconvert serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// POST every event (JSON) to this http:// or https:// URL too. Undelivered events
    /// wait in an outbox (SQLite) and are retried, in order, across restarts.
    #[arg(long)]
    pub webhook: Option<String>,
    /// Sign each POST: header `X-Mpe-Signature-256: sha256=<hex HMAC-SHA256 of the body>`
    /// with the first line of this file as the key (else MPE_WEBHOOK_SECRET, if set).
    #[arg(long, requires = "webhook")]
    pub webhook_secret_file: Option<std::path::PathBuf>,
    /// PEM file of CA certificates to trust for the webhook, besides the system's.
    #[arg(long, requires = "webhook")]
    pub webhook_ca: Option<std::path::PathBuf>,
}

impl WebhookArgs {
    /// The webhook, checked (URL, secret, CA file), if one was given.
    pub fn webhook(&self) -> anyhow::Result<Option<crate::watch::events::Webhook>> {
        self.webhook
            .as_deref()
            .map(|url| {
                crate::watch::events::Webhook::new(
                    url,
                    self.webhook_secret_file.as_deref(),
                    self.webhook_ca.as_deref(),
                )
                .map_err(anyhow::Error::from)
            })
            .transpose()
    }
}
