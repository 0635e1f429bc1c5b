//! `mpe probe`: what a source contains, for people or (with `--json`) for programs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use profiles::MediaInfo;

/// Arguments of `mpe probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The media file.
    pub source: PathBuf,
    /// Print the stable JSON form (see docs/probe.md) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Probes and prints.
pub fn run(args: Args) -> anyhow::Result<()> {
    let info = engine::probe(&args.source)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info).context("writing JSON")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render(&info))?;
    }
    Ok(())
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |x| x.to_string())
}

fn render(i: &MediaInfo) -> String {
    let mut s = format!(
        "{}\n  container  {}\n  duration   {:.3} s\n  size       {} bytes\n  bitrate    {}\n",
        i.path,
        i.container,
        i.duration,
        i.size,
        i.bit_rate
            .map_or("-".into(), |b| format!("{} kb/s", b / 1000)),
    );
    for v in &i.video {
        s += &format!(
            "  video #{}   {} {} level {}, {}x{} (DAR {}:{}, SAR {}:{}), rotation {}°, {:.3} fps{}, {} {}-bit, primaries {}, transfer {}, matrix {}, range {}, field order {}\n",
            v.index,
            v.codec,
            opt(&v.profile),
            opt(&v.level),
            v.width,
            v.height,
            v.display_aspect[0],
            v.display_aspect[1],
            v.sample_aspect[0],
            v.sample_aspect[1],
            v.rotation,
            v.fps(),
            if v.variable_frame_rate { " (variable)" } else { "" },
            v.pixel_format,
            v.bit_depth,
            opt(&v.color_primaries),
            opt(&v.color_transfer),
            opt(&v.color_space),
            opt(&v.color_range),
            opt(&v.field_order),
        );
    }
    for a in &i.audio {
        s += &format!(
            "  audio #{}   {} {}, {} ch ({}), {} Hz, language {}\n",
            a.index,
            a.codec,
            opt(&a.profile),
            a.channels,
            opt(&a.channel_layout),
            a.sample_rate,
            opt(&a.language),
        );
    }
    for t in &i.subtitles {
        s += &format!(
            "  subtitle #{} {}, language {}\n",
            t.index,
            t.codec,
            opt(&t.language)
        );
    }
    s
}
