//! Planning: profile + probed source -> the renditions that apply to it.
//!
//! Rules: never upscale, keep the display aspect ratio (rotation and pixel aspect applied,
//! portrait stays portrait), keep dimensions even, never raise the frame rate, and work
//! without audio. A rung's `height` is the short side of its picture, so the 1080p rung of
//! a portrait 1080x1920 source is 1080x1920.

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::media::MediaInfo;
use crate::profile::{Profile, Rendition};

/// What will be made from one source with one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Index of the video stream that is encoded.
    pub video_stream: usize,
    /// Displayed source size (rotation and pixel aspect applied).
    pub display_width: u32,
    /// Displayed source height.
    pub display_height: u32,
    /// Clockwise rotation the engine applies to the pixels, in degrees.
    pub rotation: u32,
    /// Output frame rate as `[num, den]`.
    pub frame_rate: [u32; 2],
    /// Keep one source frame in `frame_step` (1 keeps them all).
    pub frame_step: u32,
    /// Seconds between IDR frames.
    pub gop_seconds: f64,
    /// Target segment length in seconds.
    pub segment_seconds: f64,
    /// Source duration in seconds.
    pub duration: f64,
    /// The video renditions, tallest first.
    pub renditions: Vec<PlannedRendition>,
    /// The audio output, when the profile asks for audio and the source has it.
    pub audio: Option<PlannedAudio>,
    /// Names of the renditions written as progressive MP4s.
    pub file_renditions: Vec<String>,
}

/// One rendition that applies to the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRendition {
    /// Rung name (output modifier `_<name>`).
    pub name: String,
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Target average bitrate, bits per second.
    pub bitrate: u32,
    /// Peak bitrate, bits per second.
    pub max_bitrate: u32,
    /// VBV buffer, bits.
    pub buffer_size: u32,
    /// True for the rung added at the source's own size.
    pub source_size: bool,
}

/// The audio output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAudio {
    /// Index of the source audio stream that is encoded.
    pub source_stream: usize,
    /// Bits per second.
    pub bitrate: u32,
    /// Output channels.
    pub channels: u32,
    /// Output sample rate.
    pub sample_rate: u32,
}

impl Plan {
    /// Number of segments of a stream of `duration` seconds: MediaConvert's
    /// `ceil(duration / SegmentLength)` (MEDIACONVERT.md section 3). A tail shorter than a
    /// millisecond is rounding noise, not a segment.
    pub fn segment_count(&self, duration: f64) -> u32 {
        (((duration - 0.001) / self.segment_seconds).ceil().max(1.0)) as u32
    }
}

fn even_floor(x: f64) -> u32 {
    ((x / 2.0).floor() as u32 * 2).max(2)
}

fn even_round(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// Makes the plan for `media` with `profile`.
pub fn plan(profile: &Profile, media: &MediaInfo) -> Result<Plan, PlanError> {
    let video = media.video.first().ok_or_else(|| PlanError::NoVideo {
        path: media.path.clone(),
    })?;
    let bad = |reason: String| PlanError::BadVideo {
        path: media.path.clone(),
        index: video.index,
        reason,
    };
    if video.width < 2 || video.height < 2 {
        return Err(bad(format!(
            "size {}x{} is too small",
            video.width, video.height
        )));
    }
    let fps = video.fps();
    if !(fps > 0.0 && fps.is_finite()) {
        return Err(bad("frame rate is unknown".into()));
    }
    if video.frame_rate.iter().any(|v| *v > i32::MAX as u32) {
        return Err(bad("frame rate is out of range".into()));
    }
    let (dw, dh) = video.display_size();
    let landscape = dw >= dh;
    let (long, short) = if landscape { (dw, dh) } else { (dh, dw) };
    let source_short = even_floor(short);

    let size_for = |rung_short: u32| -> (u32, u32) {
        let rung_long = even_round(long * f64::from(rung_short) / short);
        if landscape {
            (rung_long, rung_short)
        } else {
            (rung_short, rung_long)
        }
    };
    let planned = |r: &Rendition, rung_short: u32, source_size: bool| {
        let (width, height) = size_for(rung_short);
        PlannedRendition {
            name: r.name.clone(),
            width,
            height,
            bitrate: r.bitrate,
            max_bitrate: r.max_bitrate,
            buffer_size: r.buffer_size,
            source_size,
        }
    };

    let fits: Vec<&Rendition> = profile
        .renditions
        .iter()
        .filter(|r| r.height <= source_short)
        .collect();
    let dropped = profile
        .renditions
        .iter()
        .rev()
        .find(|r| r.height > source_short);
    let mut renditions = Vec::new();
    let exact = fits.iter().any(|r| r.height == source_short);
    if let Some(next_taller) = dropped {
        if !exact && (profile.video.keep_source_height || fits.is_empty()) {
            // Scale the next taller rung's rates by pixel count, never below the rung under it.
            let k = (f64::from(source_short) / f64::from(next_taller.height)).powi(2);
            let floor = fits
                .first()
                .map(|r| (r.bitrate, r.max_bitrate, r.buffer_size));
            let scale = |v: u32, lo: u32| ((f64::from(v) * k) as u32).max(lo);
            let (lb, lm, lf) = floor.unwrap_or((0, 0, 0));
            let r = Rendition {
                name: format!("{source_short}p"),
                height: source_short,
                bitrate: scale(next_taller.bitrate, lb),
                max_bitrate: scale(next_taller.max_bitrate, lm),
                buffer_size: scale(next_taller.buffer_size, lf),
            };
            renditions.push(planned(&r, source_short, true));
        }
    }
    renditions.extend(fits.iter().map(|r| planned(r, r.height, false)));

    let (mut num, mut den) = (video.frame_rate[0], video.frame_rate[1].max(1));
    let mut frame_step = 1;
    if let Some(max) = profile.video.max_frame_rate {
        if fps > max * 1.001 {
            frame_step = (fps / max - 0.001).ceil() as u32;
            let g = gcd(num, frame_step);
            num /= g;
            // Containers reduce rates against i32::MAX; a huge denominator must not overflow.
            den = den
                .checked_mul(frame_step / g)
                .filter(|d| *d <= i32::MAX as u32)
                .ok_or_else(|| bad(format!("frame rate {num}/{den} is out of range")))?;
        }
    }

    let audio = match (&profile.audio, media.audio.first()) {
        (Some(a), Some(src)) => Some(PlannedAudio {
            source_stream: src.index,
            bitrate: a.bitrate,
            channels: a.channels.min(src.channels.max(1)),
            sample_rate: a.sample_rate,
        }),
        _ => None,
    };

    let file_renditions = match &profile.outputs.file {
        None => Vec::new(),
        Some(f) => {
            let chosen: Vec<String> = renditions
                .iter()
                .filter(|r| f.renditions.contains(&r.name))
                .map(|r| r.name.clone())
                .collect();
            if chosen.is_empty() {
                // Every rung the file group asked for is taller than the source: give it the
                // tallest rung there is rather than upscaling or writing nothing.
                renditions.iter().take(1).map(|r| r.name.clone()).collect()
            } else {
                chosen
            }
        }
    };

    Ok(Plan {
        video_stream: video.index,
        display_width: even_round(dw),
        display_height: even_round(dh),
        rotation: video.rotation,
        frame_rate: [num, den],
        frame_step,
        gop_seconds: profile.video.gop_seconds,
        segment_seconds: profile.video.segment_seconds,
        duration: video.duration.unwrap_or(media.duration),
        renditions,
        audio,
        file_renditions,
    })
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests;
