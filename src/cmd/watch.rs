//! `mpe watch`: the whole pipeline on one machine, from a watch folder.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

/// Arguments of `mpe watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The watch folder. Its own state lives in IN/.mpe; sources end in IN/done or
    /// IN/failed.
    pub input: PathBuf,
    /// Where assets are published, as OUT/<job id>/<name>/.
    #[arg(short, long, default_value = "out")]
    pub output: PathBuf,
    /// Profile for sources whose sidecar NAME.json names none.
    #[arg(short, long, default_value = "default")]
    pub profile: String,
    /// Jobs run at once; their encoders share the machine's cores.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    #[command(flatten)]
    pub webhook: crate::cmd::WebhookArgs,
    /// Seconds a file must hold still, closed by every writer, before it is taken.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// Accepted extensions, comma separated (default: the video types MediaConvert takes).
    #[arg(long, value_delimiter = ',')]
    pub extensions: Vec<String>,
    /// Seconds a file that does not yet read as complete media (an MP4 whose index is not
    /// written, or whose data stops short of what it declares) may stay unchanged and
    /// still be taken for one being written in pieces: it is taken (and fails) only once
    /// it has been still this long. Writers that pause longer between pieces should
    /// write to a temp name and rename.
    #[arg(long, default_value_t = 30.0)]
    pub wait_incomplete: f64,
    /// Attempts before a transiently failing job is given up.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Seconds before the first retry; doubled each time, with jitter.
    #[arg(long, default_value_t = 5.0)]
    pub retry_base: f64,
    /// CPU cores all jobs together may use (default: all).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Encode each rung in GOP-aligned chunks on parallel encoders (as `mpe transcode
    /// --chunks`): off, auto, or a number of encoders per rung.
    #[arg(long, default_value = "off", value_parser = crate::cmd::transcode::parse_chunks)]
    pub chunks: engine::Chunks,
    /// MiB of raw frames each job's chunk encoders may queue (as `mpe transcode
    /// --chunk-memory-mib`).
    #[arg(long, value_name = "MIB", default_value_t = engine::transcode::DEFAULT_CHUNK_MEMORY >> 20,
        value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub chunk_memory_mib: u64,
    /// Leave processed sources where they were dropped instead of moving them to done/
    /// (a source already processed, same path and checksum, is not taken again).
    #[arg(long)]
    pub keep_sources: bool,
    /// Look for new files by listing the folder every second instead of by the OS's file
    /// notifications: for network mounts (NFS, SMB), where another machine's writes raise
    /// none. Used anyway, with a warning, where notifications cannot be had.
    #[arg(long)]
    pub poll: bool,
}

/// Watches until Ctrl-C or SIGTERM: the first stops taking new work and lets running jobs
/// finish; a second abandons them (they go back to the queue).
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.settle >= 0.0 && args.retry_base >= 0.0 && args.wait_incomplete >= 0.0) {
        anyhow::bail!("--settle, --retry-base and --wait-incomplete must not be negative");
    }
    let extensions = if args.extensions.is_empty() {
        crate::watch::DEFAULT_EXTENSIONS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        args.extensions
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect()
    };
    let opts = crate::watch::WatchOptions {
        input: args.input,
        output: args.output,
        profile: args.profile,
        jobs: args.jobs.max(1),
        settle: Duration::from_secs_f64(args.settle),
        extensions,
        max_attempts: args.max_attempts.max(1),
        retry_base: Duration::from_secs_f64(args.retry_base),
        webhook: args.webhook.webhook()?,
        cores: crate::cmd::sane_threads(args.threads),
        chunks: args.chunks,
        chunk_memory: Some(args.chunk_memory_mib << 20),
        keep_sources: args.keep_sources,
        poll: args.poll,
        wait_incomplete: Duration::from_secs_f64(args.wait_incomplete),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    {
        let (stop, abort) = (stop.clone(), abort.clone());
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::Relaxed) {
                abort.store(true, Ordering::Relaxed);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    crate::watch::watch(&opts, &stop, &abort)?;
    Ok(())
}
