//! `mpe transcode`: the ladder of one source, published as one asset folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use profiles::Profile;

use crate::progress::{Mode, Reporter};

/// Arguments of `mpe transcode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source media file (not with --job, whose FileInput names it). Several are
    /// joined in order into one timeline, as MediaConvert joins a job's Inputs: the
    /// asset is named after the first and keeps its size and frame rate.
    #[arg(required_unless_present = "job", value_name = "SOURCE")]
    pub source: Vec<PathBuf>,
    /// Run a MediaConvert CreateJob request (JSON, as `mpe cloud render` writes it)
    /// locally: its settings become the profile, its FileInput the source, its
    /// destination the asset folder.
    #[arg(long, conflicts_with_all = ["source", "profile", "output"])]
    pub job: Option<PathBuf>,
    /// With --job: the local folder that stands for S3; s3://bucket/key is read from and
    /// written to <DIR>/bucket/key.
    #[arg(long, default_value = ".", requires = "job")]
    pub s3_root: PathBuf,
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
    /// Encode each rung in GOP-aligned chunks on parallel x264 instances, joined without
    /// re-encoding: `off`, `auto` (chunk the rungs that have more cores than one x264 of
    /// their size uses well; the same as `off` on a few cores) or a number of chunk
    /// encoders per rung.
    #[arg(long, default_value = "off", value_parser = parse_chunks)]
    pub chunks: engine::Chunks,
    /// MiB of raw frames the chunk encoders together may queue (each holds a segment of
    /// frames): rungs get fewer encoders, or none, rather than go over it.
    #[arg(long, value_name = "MIB", default_value_t = engine::transcode::DEFAULT_CHUNK_MEMORY >> 20,
        value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub chunk_memory_mib: u64,
    /// Progress display: a bar on a terminal, plain lines otherwise, or JSON lines.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub progress: Mode,
    /// Print the report (plan and files) as JSON on stdout when done.
    #[arg(long)]
    pub json: bool,
}

/// Parses `--chunks`: off, auto, or a number of encoders per rung.
pub(crate) fn parse_chunks(s: &str) -> Result<engine::Chunks, String> {
    match s {
        "off" => Ok(engine::Chunks::Off),
        "auto" => Ok(engine::Chunks::Auto),
        n => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(engine::Chunks::Lanes(n)),
            _ => Err(format!(
                "'{n}' is not off, auto or a number of encoders (1 or more)"
            )),
        },
    }
}

/// Maps an `s3://bucket/key` URI to a local path under `root`, and nothing else: a job run
/// with `--s3-root` reads and writes only inside that folder. Other schemes, plain paths,
/// an empty or dot bucket, and keys with empty, `.` or `..` segments are refused from the
/// URI alone, before anything is looked up, so the error never tells whether a file
/// exists.
fn local(root: &Path, uri: &str) -> anyhow::Result<PathBuf> {
    let outside = |why: &str| {
        anyhow::anyhow!("{uri}: {why} (a job run with --s3-root reads and writes only s3://bucket/key under that folder)")
    };
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| outside("not an s3:// URI"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(outside("names no bucket"));
    }
    // Bucket names are lower-case letters, digits, dots and hyphens (older ones also
    // upper case and '_'); nothing else may become a folder name under the root.
    let bucket_ok = bucket != "."
        && bucket != ".."
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !bucket_ok {
        return Err(outside("is not a valid bucket name"));
    }
    let key = key.strip_suffix('/').unwrap_or(key);
    if !key.is_empty()
        && key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == ".." || p.contains('\\') || p.contains('\0'))
    {
        return Err(outside(
            "has an empty, '.' or '..' path segment, which no folder can stand for",
        ));
    }
    let mut path = root.join(bucket);
    if !key.is_empty() {
        path.push(key);
    }
    Ok(path)
}

/// The local asset folder of a job's Destination: below a bucket's top, never the bucket
/// itself (`--force` would replace every other asset in it).
fn asset_folder(root: &Path, destination: &str) -> anyhow::Result<(PathBuf, String)> {
    let dest = local(root, destination)?;
    let parent = dest.parent().filter(|p| *p != root).ok_or_else(|| {
        anyhow::anyhow!(
            "{destination}: the asset folder would be the bucket itself; give the output groups' destinations a folder inside it, such as s3://bucket/asset/cmaf/"
        )
    })?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| anyhow::anyhow!("{destination}: names no folder"))?;
    Ok((parent.to_path_buf(), name))
}

/// What to run.
struct What {
    source: PathBuf,
    /// Folder that receives the asset folder.
    output: PathBuf,
    asset_name: Option<String>,
    profile: Profile,
    /// The asset's folders that a job sends elsewhere (`thumbnails/` to a bucket of
    /// their own).
    elsewhere: Vec<(String, PathBuf)>,
    /// A job's rotation override (`VideoSelector.Rotate`).
    rotation: Option<u32>,
    /// A job's clip (`InputClippings`).
    clip: Option<profiles::Clip>,
    /// A job's further inputs and clips.
    joined: Vec<engine::Joined>,
    /// What a job asked that is made otherwise.
    warnings: Vec<cloud::JobWarning>,
}

/// What to run: from the arguments, or from a MediaConvert job.
fn what(args: &Args) -> anyhow::Result<What> {
    let Some(job_path) = &args.job else {
        let (source, rest) = args
            .source
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("give a source or --job"))?;
        return Ok(What {
            source: source.clone(),
            output: args.output.clone(),
            asset_name: None,
            profile: Profile::load(&args.profile)?,
            elsewhere: Vec::new(),
            rotation: None,
            clip: None,
            joined: rest
                .iter()
                .map(|s| engine::Joined {
                    source: s.clone(),
                    clip: None,
                    rotation: None,
                })
                .collect(),
            warnings: Vec::new(),
        });
    };
    let text = std::fs::read_to_string(job_path)
        .with_context(|| format!("reading {}", job_path.display()))?;
    let request: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", job_path.display()))?;
    let job = cloud::parse_job(&request).with_context(|| job_path.display().to_string())?;
    let source =
        local(&args.s3_root, &job.input).with_context(|| job_path.display().to_string())?;
    let joined = job
        .joined
        .iter()
        .map(|j| {
            Ok(engine::Joined {
                source: local(&args.s3_root, &j.input)?,
                clip: j.clip,
                rotation: j.rotation,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (parent, name) = asset_folder(&args.s3_root, &job.destination)
        .with_context(|| job_path.display().to_string())?;
    let elsewhere = job
        .elsewhere
        .iter()
        .map(|(folder, uri)| {
            let to = local(&args.s3_root, uri)?;
            // A folder sent elsewhere is replaced with --force: never a whole bucket.
            if to.parent() == Some(args.s3_root.as_path()) {
                anyhow::bail!("{uri}: a bucket's top cannot receive {folder}");
            }
            Ok((folder.clone(), to))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(What {
        source,
        output: parent,
        asset_name: Some(name),
        profile: job.profile,
        elsewhere,
        rotation: job.rotation,
        clip: job.clip,
        joined,
        warnings: job.warnings,
    })
}

/// Moves the folders a job writes elsewhere out of the published asset.
fn send_elsewhere(asset: &Path, moves: &[(String, PathBuf)], force: bool) -> anyhow::Result<()> {
    for (folder, to) in moves {
        let from = asset.join(folder.trim_end_matches('/'));
        if !from.exists() {
            continue;
        }
        if to.exists() {
            if !force {
                anyhow::bail!("{} exists (use --force to replace it)", to.display());
            }
            std::fs::remove_dir_all(to).with_context(|| format!("replacing {}", to.display()))?;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::rename(&from, to)
            .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// Runs the transcode and prints where the asset is.
pub fn run(args: Args) -> anyhow::Result<()> {
    let What {
        source,
        output,
        asset_name,
        profile,
        elsewhere,
        rotation,
        clip,
        joined,
        warnings,
    } = what(&args)?;
    for w in &warnings {
        eprintln!("mpe: warning {}: {}", w.code, w.message);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // Ctrl-C asks the engine to stop; it then removes its temp folder and publishes nothing.
        ctrlc::set_handler(move || cancel.store(true, Ordering::Relaxed))
            .context("installing the Ctrl-C handler")?;
    }
    let opts = engine::TranscodeOptions {
        source: source.clone(),
        output,
        asset_name,
        profile,
        force: args.force,
        threads: crate::cmd::sane_threads(args.threads),
        chunks: args.chunks,
        chunk_memory: Some(args.chunk_memory_mib << 20),
        cancel: Some(cancel),
        rotation,
        clip,
        joined,
    };
    let mut reporter = Reporter::new(args.progress, &source.display().to_string());
    let report = engine::transcode(&opts, &mut |p| reporter.update(p));
    reporter.finish();
    let report = report?;
    send_elsewhere(&report.asset_dir, &elsewhere, args.force)?;
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
