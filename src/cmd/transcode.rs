//! `mpe transcode`: the ladder of one source, published as one asset folder.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use profiles::Profile;

use crate::progress::{Mode, Reporter};

/// Arguments of `mpe transcode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source media file.
    pub source: PathBuf,
    /// A shipped profile name (default, mobile) or a profile JSON file.
    #[arg(short, long, default_value = "default")]
    pub profile: String,
    /// Folder that receives the asset folder `<source name>/`.
    #[arg(short, long, default_value = "out")]
    pub output: PathBuf,
    /// Replace the asset folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// CPU cores to plan encoder threads for (default: all).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Progress display: a bar on a terminal, plain lines otherwise, or JSON lines.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub progress: Mode,
    /// Print the report (plan and files) as JSON on stdout when done.
    #[arg(long)]
    pub json: bool,
}

/// Runs the transcode and prints where the asset is.
pub fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::load(&args.profile)?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // Ctrl-C asks the engine to stop; it then removes its temp folder and publishes nothing.
        ctrlc::set_handler(move || cancel.store(true, Ordering::Relaxed))
            .context("installing the Ctrl-C handler")?;
    }
    let opts = engine::TranscodeOptions {
        source: args.source.clone(),
        output: args.output.clone(),
        profile,
        force: args.force,
        threads: args.threads,
        cancel: Some(cancel),
    };
    let mut reporter = Reporter::new(args.progress, &args.source.display().to_string());
    let report = engine::transcode(&opts, &mut |p| reporter.update(p));
    reporter.finish();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let rungs: Vec<String> = report
            .plan
            .renditions
            .iter()
            .map(|r| format!("{}x{}", r.width, r.height))
            .collect();
        println!(
            "{}: {} files ({}) in {:.1} s",
            report.asset_dir.display(),
            report.files.len(),
            rungs.join(", "),
            report.elapsed.as_secs_f64()
        );
    }
    Ok(())
}
