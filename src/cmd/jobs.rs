//! `mpe jobs`: the job records of a watch folder: list, show, retry, cancel.

use std::path::PathBuf;

use crate::watch::{Job, Status};

/// Arguments of `mpe jobs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The watch folder (the one given to `mpe watch`).
    #[arg(short = 'w', long = "watch-dir", default_value = ".")]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// What to do with the jobs.
#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// Jobs with status, attempts, progress and duration, oldest first.
    List {
        /// Only jobs in this state: ingest, processing, complete, error.
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One job's whole record, as JSON.
    Show {
        /// Job id (a unique prefix of 4 or more characters will do).
        id: String,
    },
    /// Queue a failed job (or every failed job) again.
    Retry {
        /// Job id.
        #[arg(required_unless_present = "failed")]
        id: Option<String>,
        /// Retry every job in Error.
        #[arg(long, conflicts_with = "id")]
        failed: bool,
    },
    /// Cancel a waiting or running job.
    Cancel {
        /// Job id.
        id: String,
    },
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| format!("{s:?} is not ingest, processing, complete or error"))
}

/// Runs the jobs subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let jobs = crate::watch::Jobs::open(&args.dir)?;
    match args.command {
        JobsCommand::List { status, json } => {
            let list = jobs.list(status)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list);
            }
        }
        JobsCommand::Show { id } => {
            println!("{}", serde_json::to_string_pretty(&jobs.show(&id)?)?);
        }
        JobsCommand::Retry { id: Some(id), .. } => {
            let j = jobs.retry(&id)?;
            println!("{}: queued again", j.id);
        }
        JobsCommand::Retry { id: None, .. } => {
            let ids = jobs.retry_failed()?;
            println!("{} failed job(s) queued again", ids.len());
        }
        JobsCommand::Cancel { id } => {
            let j = jobs.cancel(&id)?;
            match j.status {
                Status::Processing => println!("{}: asked to stop", j.id),
                _ => println!("{}: cancelled", j.id),
            }
        }
    }
    Ok(())
}

fn print_table(list: &[Job]) {
    println!(
        "{:<8}  {:<10}  {:>3}  {:>5}  {:>8}  {:<30}  error",
        "id", "status", "try", "done", "time", "source"
    );
    for j in list {
        let name = std::path::Path::new(&j.source)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let time = duration(j.started_at.as_deref(), j.finished_at.as_deref());
        println!(
            "{:<8}  {:<10}  {:>3}  {:>4.0}%  {:>8}  {:<30}  {}",
            &j.id[..8.min(j.id.len())],
            j.status.as_str(),
            j.attempts,
            j.progress * 100.0,
            time,
            name,
            j.error.as_deref().unwrap_or("")
        );
    }
}

/// Seconds between two RFC 3339 UTC times (the end defaults to now), shown as `12.3s`.
fn duration(start: Option<&str>, end: Option<&str>) -> String {
    let secs = |t: &str| -> Option<i64> {
        // YYYY-MM-DDTHH:MM:SSZ: the same day's clock is enough for a job's length.
        let d: i64 = t.get(8..10)?.parse().ok()?;
        let h: i64 = t.get(11..13)?.parse().ok()?;
        let m: i64 = t.get(14..16)?.parse().ok()?;
        let s: i64 = t.get(17..19)?.parse().ok()?;
        Some(((d * 24 + h) * 60 + m) * 60 + s)
    };
    let now = engine::metadata::now_rfc3339();
    match start.and_then(secs) {
        Some(a) => match secs(end.unwrap_or(&now)) {
            Some(b) => format!("{}s", (b - a).max(0)),
            None => "-".into(),
        },
        None => "-".into(),
    }
}
