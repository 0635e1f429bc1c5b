//! `mpe thumbs`: thumbnails of a source at chosen times, with a JSON index.

use std::path::PathBuf;

use profiles::timespec::duration;
use profiles::{ImageFormat, TimeSpec};

/// Arguments of `mpe thumbs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source media file.
    pub source: PathBuf,
    /// Times, comma separated: seconds (5, 2.5s), [HH:]MM:SS[.fff], a percentage (25%),
    /// or from the end (end, end-2s).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "TIMES",
        allow_hyphen_values = true
    )]
    pub at: Vec<TimeSpec>,
    /// One thumbnail every DURATION (10, 10s, 00:01:00), from the first frame.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<f64>,
    /// N thumbnails spread evenly: one in the middle of each of N equal parts.
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// Image width in pixels (the aspect ratio is kept; never larger than the source).
    #[arg(long)]
    pub width: Option<u32>,
    /// Image height in pixels.
    #[arg(long)]
    pub height: Option<u32>,
    /// Image format: jpeg, webp (lossless) or png.
    #[arg(long, default_value = "jpeg")]
    pub format: ImageFormat,
    /// JPEG quality, 1 to 100.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// Take the keyframe at or before each time (faster, not frame-exact).
    #[arg(long)]
    pub fast: bool,
    /// Folder for the images and `<name>_thumbs.json`.
    #[arg(short, long, default_value = "thumbs")]
    pub output: PathBuf,
    /// Parallel workers (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the index as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match duration(s.trim()) {
        Ok(d) if d > 0.0 => Ok(d),
        Ok(_) => Err("must be above zero".into()),
        Err(e) => Err(e),
    }
}

/// Extracts the thumbnails and says where they are.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = engine::ThumbsOptions {
        source: args.source,
        output: args.output,
        at: args.at,
        every: args.every,
        count: args.count,
        width: args.width,
        height: args.height,
        format: args.format,
        quality: args.quality,
        fast: args.fast,
        threads: crate::cmd::sane_threads(args.threads),
    };
    let report = engine::thumbs(&opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.index)?);
    } else {
        println!(
            "{}: {} thumbnails in {:.2} s",
            report.index_path.display(),
            report.index.thumbnails.len(),
            report.elapsed.as_secs_f64()
        );
    }
    Ok(())
}
