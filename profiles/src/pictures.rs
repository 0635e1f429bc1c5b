//! Profile settings for what an asset carries besides its ladder: thumbnails, a preview
//! clip and trick-play sprite sheets, with their validation.

use serde::{Deserialize, Serialize};

use crate::timespec::TimeSpec;

/// Still images at an interval and/or at listed times: MediaConvert's frame capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailSettings {
    /// Folder under the asset root, ending in `/`.
    pub destination: String,
    /// One capture every this many seconds, from the first frame (MediaConvert's
    /// FramerateDenominator / FramerateNumerator).
    #[serde(default)]
    pub interval_seconds: Option<f64>,
    /// Extra captures at these times (seconds, `HH:MM:SS`, `25%`, `end-2s`). Times that
    /// fall outside a given source are skipped: one profile serves sources of any length.
    #[serde(default)]
    pub times: Vec<TimeSpec>,
    /// At most this many interval captures (MediaConvert's MaxCaptures).
    #[serde(default)]
    pub max_captures: Option<u32>,
    /// Image width; with only one of width and height the other follows the aspect ratio,
    /// with both the image fits inside the box. Never larger than the source.
    #[serde(default)]
    pub width: Option<u32>,
    /// Image height (see `width`).
    #[serde(default)]
    pub height: Option<u32>,
    /// Image format; MediaConvert's frame capture writes JPEG only.
    #[serde(default)]
    pub format: ImageFormat,
    /// Encoder quality 1 to 100 (JPEG; WebP is written lossless and PNG ignores it).
    #[serde(default = "default_quality")]
    pub quality: u8,
}

/// A short progressive MP4 to preview the asset with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewSettings {
    /// Folder under the asset root, ending in `/`.
    pub destination: String,
    /// Where the clip starts; by default after the first 10% (titles and logos).
    #[serde(default = "default_preview_start")]
    pub start: TimeSpec,
    /// Length in seconds; shorter sources give a shorter clip.
    #[serde(default = "default_preview_seconds")]
    pub seconds: f64,
    /// Short side of the picture, as rendition heights are; never upscaled.
    #[serde(default = "default_preview_height")]
    pub height: u32,
    /// Bits per second; by default the bitrate of the ladder rung nearest in height.
    #[serde(default)]
    pub bitrate: Option<u32>,
    /// Whether the clip carries the source's audio.
    #[serde(default = "default_true")]
    pub audio: bool,
    /// Also write the clip as an animated WebP (`<dest><base>_preview.webp`), small and at
    /// a low frame rate, for hover previews in a catalogue.
    #[serde(default)]
    pub animated_webp: Option<AnimatedWebpSettings>,
}

/// The animated WebP version of the preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnimatedWebpSettings {
    /// Width in pixels (the height follows the aspect ratio; never larger than the clip).
    #[serde(default = "default_webp_width")]
    pub width: u32,
    /// Frames per second (never more than the clip's).
    #[serde(default = "default_webp_fps")]
    pub fps: f64,
    /// libwebp quality, 1 to 100 (lossy).
    #[serde(default = "default_webp_quality")]
    pub quality: u8,
}

/// Scrubbing thumbnails: tiles on sprite sheets, indexed by a WebVTT track whose cues
/// point at `sheet.jpg#xywh=x,y,w,h` (as video.js and Shaka Player read them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrickPlaySettings {
    /// Folder under the asset root, ending in `/`.
    pub destination: String,
    /// One tile every this many seconds.
    #[serde(default = "default_trickplay_interval")]
    pub interval_seconds: f64,
    /// Tiles per row of a sheet.
    #[serde(default = "default_grid")]
    pub columns: u32,
    /// Rows per sheet.
    #[serde(default = "default_grid")]
    pub rows: u32,
    /// Tile width in pixels; the height follows the aspect ratio.
    #[serde(default = "default_tile_width")]
    pub width: u32,
    /// JPEG quality of the sheets, 1 to 100.
    #[serde(default = "default_sheet_quality")]
    pub quality: u8,
}

/// Still image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// JPEG, what MediaConvert's frame capture writes.
    #[default]
    Jpeg,
    /// WebP (lossless).
    Webp,
    /// PNG.
    Png,
}

impl ImageFormat {
    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
            ImageFormat::Png => "png",
        }
    }
}

impl std::str::FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(ImageFormat::Jpeg),
            "webp" => Ok(ImageFormat::Webp),
            "png" => Ok(ImageFormat::Png),
            other => Err(format!("{other:?} is not jpeg, webp or png")),
        }
    }
}

fn default_quality() -> u8 {
    80
}
fn default_sheet_quality() -> u8 {
    75
}
fn default_preview_start() -> TimeSpec {
    TimeSpec::percent(10.0)
}
fn default_preview_seconds() -> f64 {
    10.0
}
fn default_preview_height() -> u32 {
    360
}
fn default_webp_width() -> u32 {
    320
}
fn default_webp_fps() -> f64 {
    10.0
}
fn default_webp_quality() -> u8 {
    70
}
fn default_true() -> bool {
    true
}
fn default_trickplay_interval() -> f64 {
    10.0
}
fn default_grid() -> u32 {
    5
}
fn default_tile_width() -> u32 {
    160
}

/// Checks one section; `Err((field, reason))` names the field under the section.
pub(crate) fn validate_thumbnails(t: &ThumbnailSettings) -> Result<(), (String, String)> {
    let bad = |f: &str, r: String| Err((format!("thumbnails.{f}"), r));
    match t.interval_seconds {
        Some(i) if !(0.04..=86_400.0).contains(&i) => {
            return bad("interval_seconds", format!("{i} is outside [0.04, 86400]"))
        }
        None if t.times.is_empty() => {
            return bad(
                "interval_seconds",
                "give interval_seconds, times, or both".into(),
            )
        }
        _ => {}
    }
    if t.max_captures == Some(0) {
        return bad("max_captures", "must be at least 1".into());
    }
    for (f, v) in [("width", t.width), ("height", t.height)] {
        if let Some(v) = v {
            if !(16..=8192).contains(&v) {
                return bad(f, format!("{v} is outside [16, 8192]"));
            }
        }
    }
    if !(1..=100).contains(&t.quality) {
        return bad("quality", format!("{} is outside [1, 100]", t.quality));
    }
    Ok(())
}

/// See [`validate_thumbnails`].
pub(crate) fn validate_preview(p: &PreviewSettings) -> Result<(), (String, String)> {
    let bad = |f: &str, r: String| Err((format!("preview.{f}"), r));
    if !(1.0..=600.0).contains(&p.seconds) {
        return bad("seconds", format!("{} is outside [1, 600]", p.seconds));
    }
    if !(64..=4320).contains(&p.height) || !p.height.is_multiple_of(2) {
        return bad(
            "height",
            format!("{} must be even and within [64, 4320]", p.height),
        );
    }
    if let Some(b) = p.bitrate {
        if b < 50_000 {
            return bad("bitrate", format!("{b} b/s is below 50000"));
        }
    }
    if let Some(w) = &p.animated_webp {
        if !(16..=1920).contains(&w.width) {
            return bad(
                "animated_webp.width",
                format!("{} is outside [16, 1920]", w.width),
            );
        }
        if !(1.0..=30.0).contains(&w.fps) {
            return bad("animated_webp.fps", format!("{} is outside [1, 30]", w.fps));
        }
        if !(1..=100).contains(&w.quality) {
            return bad(
                "animated_webp.quality",
                format!("{} is outside [1, 100]", w.quality),
            );
        }
    }
    if p.start.needs_duration() && p.start.resolve(100.0) > 100.0 {
        return bad("start", "must not lie past the end".into());
    }
    Ok(())
}

/// See [`validate_thumbnails`].
pub(crate) fn validate_trickplay(t: &TrickPlaySettings) -> Result<(), (String, String)> {
    let bad = |f: &str, r: String| Err((format!("trickplay.{f}"), r));
    if !(0.5..=600.0).contains(&t.interval_seconds) {
        return bad(
            "interval_seconds",
            format!("{} is outside [0.5, 600]", t.interval_seconds),
        );
    }
    for (f, v) in [("columns", t.columns), ("rows", t.rows)] {
        if !(1..=20).contains(&v) {
            return bad(f, format!("{v} is outside [1, 20]"));
        }
    }
    if !(16..=1920).contains(&t.width) {
        return bad("width", format!("{} is outside [16, 1920]", t.width));
    }
    if !(1..=100).contains(&t.quality) {
        return bad("quality", format!("{} is outside [1, 100]", t.quality));
    }
    Ok(())
}
