//! Planning: profile + probed source -> the renditions that apply to it.
//!
//! Rules: never upscale, keep the display aspect ratio (rotation and pixel aspect applied,
//! portrait stays portrait), keep dimensions even, never raise the frame rate, and work
//! without audio. A rung's `height` is the short side of its picture, so the 1080p rung of
//! a portrait 1080x1920 source is 1080x1920.

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::media::{AudioStream, MediaInfo};
use crate::pictures::ImageFormat;
use crate::profile::{AudioSettings, OutputSize, Profile, Rendition, Scaling};

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
    /// Whether frames are duplicated or dropped onto the output rate's grid (a rate that
    /// is not the source's divided by a whole number: MediaConvert's DUPLICATE_DROP).
    #[serde(default)]
    pub retime: bool,
    /// On the grid, whether output frames between two source frames blend them
    /// (MediaConvert's INTERPOLATE) rather than repeat the earlier one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interpolate: bool,
    /// Seconds between IDR frames.
    pub gop_seconds: f64,
    /// Target segment length in seconds (a whole number of GOPs where the profile
    /// rounds segments to the GOP).
    pub segment_seconds: f64,
    /// A last segment shorter than this is joined to the one before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_final_segment_seconds: Option<f64>,
    /// Source duration in seconds.
    pub duration: f64,
    /// The video renditions, tallest first.
    pub renditions: Vec<PlannedRendition>,
    /// The audio output, when the profile asks for audio and the source has it.
    pub audio: Option<PlannedAudio>,
    /// Further audio-only outputs of the CMAF and DASH groups, by name (`audio_<suffix>`),
    /// in the profile's order; only with `audio`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_renditions: Vec<(String, PlannedAudio)>,
    /// Names of the renditions written as progressive MP4s.
    pub file_renditions: Vec<String>,
    /// The thumbnails, when the profile asks for them.
    #[serde(default)]
    pub thumbnails: Option<PlannedThumbnails>,
    /// The preview clip, when the profile asks for one.
    #[serde(default)]
    pub preview: Option<PlannedPreview>,
    /// The trick-play sheets, when the profile asks for them.
    #[serde(default)]
    pub trickplay: Option<PlannedTrickPlay>,
}

/// Thumbnails of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedThumbnails {
    /// Capture times in seconds, ascending; capture `i` is file number `i`.
    pub times: Vec<f64>,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Image format.
    pub format: ImageFormat,
    /// Encoder quality, 1 to 100.
    pub quality: u8,
}

/// The preview clip of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedPreview {
    /// Start in the source, seconds.
    pub start: f64,
    /// Length, seconds.
    pub seconds: f64,
    /// Picture width (even).
    pub width: u32,
    /// Picture height (even).
    pub height: u32,
    /// Average bitrate, bits per second.
    pub bitrate: u32,
    /// Peak bitrate, bits per second.
    pub max_bitrate: u32,
    /// VBV buffer, bits.
    pub buffer_size: u32,
    /// Whether the clip has audio (the profile asked and the source has it).
    pub audio: bool,
    /// The animated WebP version, when asked for.
    #[serde(default)]
    pub animated_webp: Option<PlannedAnimation>,
}

/// The animated WebP version of the preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAnimation {
    /// Width (even).
    pub width: u32,
    /// Height (even).
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// libwebp quality.
    pub quality: u8,
}

/// The trick-play sheets of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTrickPlay {
    /// Tile times in seconds, ascending; tile `i` covers `times[i]` to the next tile.
    pub times: Vec<f64>,
    /// Seconds between tiles.
    pub interval: f64,
    /// Tile width.
    pub tile_width: u32,
    /// Tile height.
    pub tile_height: u32,
    /// Tiles per row.
    pub columns: u32,
    /// Rows per sheet.
    pub rows: u32,
    /// JPEG quality.
    pub quality: u8,
}

impl PlannedTrickPlay {
    /// Tiles per sheet.
    pub fn per_sheet(&self) -> u32 {
        self.columns * self.rows
    }

    /// Number of sheets.
    pub fn sheets(&self) -> u32 {
        (self.times.len() as u32).div_ceil(self.per_sheet())
    }
}

/// The size of a picture of a source displayed at `display` (width, height): `width`
/// and/or `height` asked for (both: fit inside the box), aspect kept, never larger than
/// the source, at least 1x1.
pub fn picture_size(display: (f64, f64), width: Option<u32>, height: Option<u32>) -> (u32, u32) {
    let (dw, dh) = (display.0.max(1.0), display.1.max(1.0));
    let scale = match (width, height) {
        (Some(w), Some(h)) => (f64::from(w) / dw).min(f64::from(h) / dh),
        (Some(w), None) => f64::from(w) / dw,
        (None, Some(h)) => f64::from(h) / dh,
        (None, None) => 1.0,
    }
    .min(1.0);
    let side = |v: f64| ((v * scale).round() as u32).max(1);
    (side(dw), side(dh))
}

/// Times of interval captures on a stream of `duration` seconds: MediaConvert's frame
/// capture cadence, the first frame then one every `interval`, while `k x interval <
/// duration`, at most `max` of them.
pub fn interval_times(interval: f64, duration: f64, max: Option<u32>) -> Vec<f64> {
    let mut times = vec![0.0];
    let mut k = 1u32;
    while max.is_none_or(|m| k < m) {
        let t = f64::from(k) * interval;
        // A capture within a millisecond of the end has no frame of its own.
        if t >= duration - 0.001 {
            break;
        }
        times.push(t);
        k += 1;
    }
    times
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
    /// Where the scaled picture lies in the `width` x `height` frame, when it does not
    /// fill it exactly: bars around it (padding) or its overflow cut off (cropping).
    #[serde(default)]
    pub placement: Option<Placement>,
    /// The audio muxed into this rung's own outputs when it differs from the plan's
    /// `audio` (the profile's rendition asked for its own); `None`: the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<PlannedAudio>,
    /// The audio of this rung's progressive MP4 when it differs from what its other
    /// outputs mux (the profile's `file_audio`); `None`: the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_audio: Option<PlannedAudio>,
    /// The scaler's sharpness (0 to 100); `None`: the bicubic scaler's own (50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<u8>,
}

/// A scaled picture's size and position in its output frame; `x`/`y` are negative when
/// the picture is cropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Scaled picture width.
    pub width: u32,
    /// Scaled picture height.
    pub height: u32,
    /// Left edge in the frame.
    pub x: i32,
    /// Top edge in the frame.
    pub y: i32,
}

/// The audio output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAudio {
    /// Index of the source audio stream that is encoded.
    pub source_stream: usize,
    /// Further source streams whose channels follow the first's (several tracks made
    /// one); empty for one track.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_streams: Vec<usize>,
    /// Bits per second.
    pub bitrate: u32,
    /// Output channels.
    pub channels: u32,
    /// Output sample rate.
    pub sample_rate: u32,
}

impl PlannedAudio {
    /// Every source stream it is made from, in order.
    pub fn streams(&self) -> Vec<usize> {
        std::iter::once(self.source_stream)
            .chain(self.more_streams.iter().copied())
            .collect()
    }
}

impl Plan {
    /// The audio muxed into rung `r`'s own outputs: its own, or the plan's.
    pub fn rung_audio<'a>(&'a self, r: &'a PlannedRendition) -> Option<&'a PlannedAudio> {
        self.audio
            .as_ref()
            .and(r.audio.as_ref().or(self.audio.as_ref()))
    }

    /// The audio of rung `r`'s progressive MP4: its own for the file, else what the
    /// rung's other outputs mux.
    pub fn file_audio<'a>(&'a self, r: &'a PlannedRendition) -> Option<&'a PlannedAudio> {
        self.audio
            .as_ref()
            .and(r.file_audio.as_ref().or(self.rung_audio(r)))
    }

    /// Every distinct audio encoding of the plan, the plan's own first.
    pub fn audio_variants(&self) -> Vec<&PlannedAudio> {
        let mut v: Vec<&PlannedAudio> = self.audio.iter().collect();
        let others = self
            .renditions
            .iter()
            .flat_map(|r| r.audio.iter().chain(&r.file_audio));
        for a in others.chain(self.audio_renditions.iter().map(|(_, a)| a)) {
            if !v.contains(&a) {
                v.push(a);
            }
        }
        v
    }

    /// The audio-only outputs of the groups that keep audio apart, by name: `audio` (the
    /// plan's own) first, then the further renditions; none without audio.
    pub fn separate_audio(&self) -> Vec<(&str, &PlannedAudio)> {
        let Some(main) = &self.audio else {
            return Vec::new();
        };
        std::iter::once((crate::naming::AUDIO_NAME, main))
            .chain(self.audio_renditions.iter().map(|(n, a)| (n.as_str(), a)))
            .collect()
    }

    /// Number of segments of a stream of `duration` seconds: MediaConvert's
    /// `ceil(duration / SegmentLength)` (MEDIACONVERT.md section 3), less one where the
    /// last is shorter than the minimum final segment and joins the one before. A tail
    /// shorter than a millisecond is rounding noise, not a segment.
    pub fn segment_count(&self, duration: f64) -> u32 {
        let n = (((duration - 0.001) / self.segment_seconds).ceil().max(1.0)) as u32;
        let tail = duration - f64::from(n - 1) * self.segment_seconds;
        match self.min_final_segment_seconds {
            Some(min) if n > 1 && tail < min => n - 1,
            _ => n,
        }
    }
}

fn even_floor(x: f64) -> u32 {
    ((x / 2.0).floor() as u32 * 2).max(2)
}

fn even_round(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// The smallest source side x264 opens an encoder for (below 14 it fails with FFmpeg's
/// "Generic error in an external library"; a macroblock is the round figure).
pub const MIN_SOURCE_SIDE: u32 = 16;

/// The largest source side decoded (MediaConvert's own inputs stop at 8192 pixels wide).
pub const MAX_SOURCE_SIDE: u32 = 8192;

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
    if video.width < MIN_SOURCE_SIDE || video.height < MIN_SOURCE_SIDE {
        return Err(bad(format!(
            "size {}x{} is smaller than the {MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE} the H.264 encoder (x264) takes",
            video.width, video.height
        )));
    }
    let max = profile.video.max_source_side.unwrap_or(MAX_SOURCE_SIDE);
    if video.width > max || video.height > max {
        // Decoding such a stream takes gigabytes; a stream header claiming it over
        // small data (a hostile SPS) would decode concealment for minutes.
        return Err(bad(format!(
            "size {}x{} is larger than the {max}x{max} mpe decodes (the profile's video.max_source_side allows more)",
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
        let ((width, height), placement) = match &r.size {
            Some(size) => exact_size(size, (dw, dh)),
            None => (size_for(rung_short), None),
        };
        PlannedRendition {
            name: r.name.clone(),
            width,
            height,
            bitrate: r.bitrate,
            max_bitrate: r.max_bitrate,
            buffer_size: r.buffer_size,
            source_size,
            placement,
            audio: None,
            file_audio: None,
            sharpness: r.sharpness,
        }
    };

    // Rungs of an exact size are made whatever the source; the others only when they fit.
    let fits: Vec<&Rendition> = profile
        .renditions
        .iter()
        .filter(|r| r.size.is_some() || r.height <= source_short)
        .collect();
    let dropped = profile
        .renditions
        .iter()
        .rev()
        .find(|r| r.size.is_none() && r.height > source_short);
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
                size: None,
                audio: None,
                file_audio: None,
                sharpness: next_taller.sharpness,
            };
            renditions.push(planned(&r, source_short, true));
        }
    }
    renditions.extend(fits.iter().map(|r| planned(r, r.height, false)));

    let (mut num, mut den) = (video.frame_rate[0], video.frame_rate[1].max(1));
    let mut frame_step = 1;
    let mut retime = false;
    if let Some([n, d]) = profile.video.frame_rate {
        let target = f64::from(n) / f64::from(d.max(1));
        let k = (fps / target).round();
        if k < 1.0 || (fps / target - k).abs() > 0.001 * k {
            // Not a whole factor: frames are repeated or dropped, never blended.
            retime = true;
        } else {
            frame_step = k as u32;
        }
        (num, den) = (n, d.max(1));
    } else if let Some(max) = profile.video.max_frame_rate {
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

    let tracks = profile.audio.as_ref().and_then(|a| a.selected_tracks());
    let source_audio: Vec<&AudioStream> = match tracks {
        None => media.audio.first().into_iter().collect(),
        Some(list) => list
            .iter()
            .map(|&n| {
                media
                    .audio
                    .get((n as usize).saturating_sub(1))
                    .filter(|_| n >= 1)
                    .ok_or_else(|| PlanError::NoAudioTrack {
                        path: media.path.clone(),
                        track: n,
                        tracks: media.audio.len(),
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    // The channels the selected tracks have together: more are mixed down, fewer kept.
    let source_channels: u32 = source_audio.iter().map(|s| s.channels.max(1)).sum();
    let planned = |a: &AudioSettings, first: &AudioStream, more: &[&AudioStream]| PlannedAudio {
        source_stream: first.index,
        more_streams: more.iter().map(|s| s.index).collect(),
        bitrate: a.bitrate,
        channels: a.channels.min(source_channels),
        sample_rate: a.sample_rate,
    };
    let streams = source_audio.split_first();
    let audio = match (&profile.audio, streams) {
        (Some(a), Some((first, more))) => Some(planned(a, first, more)),
        _ => None,
    };
    // A rung's own audio, from the same tracks, where it asks for something else.
    if let (Some(main), Some((first, more))) = (&audio, streams) {
        let source_rung = dropped.filter(|_| renditions.first().is_some_and(|r| r.source_size));
        for r in &mut renditions {
            let own = profile
                .renditions
                .iter()
                .find(|p| p.name == r.name)
                .or(source_rung);
            let asked = own.and_then(|p| p.audio.as_ref());
            r.audio = asked.map(|a| planned(a, first, more)).filter(|a| a != main);
            let muxed = r.audio.as_ref().unwrap_or(main);
            r.file_audio = own
                .and_then(|p| p.file_audio.as_ref())
                .map(|a| planned(a, first, more))
                .filter(|a| a != muxed);
        }
    }
    let audio_renditions = match (&audio, streams) {
        (Some(_), Some((first, more))) => profile
            .audio_renditions
            .iter()
            .map(|r| (r.name.clone(), planned(&r.audio, first, more)))
            .collect(),
        _ => Vec::new(),
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

    let duration = video.duration.unwrap_or(media.duration);
    let thumbnails = profile.thumbnails.as_ref().map(|t| {
        let mut times = match t.interval_seconds {
            Some(i) => interval_times(i, duration, t.max_captures),
            None => Vec::new(),
        };
        times.extend(
            t.times
                .iter()
                .map(|s| s.resolve(duration))
                .filter(|x| *x >= 0.0 && *x <= duration),
        );
        times.sort_by(f64::total_cmp);
        times.dedup_by(|a, b| (*a - *b).abs() < 0.001);
        let (width, height) = picture_size((dw, dh), t.width, t.height);
        PlannedThumbnails {
            times,
            width,
            height,
            format: t.format,
            quality: t.quality,
        }
    });
    let preview = profile.preview.as_ref().map(|p| {
        let seconds = if duration > 0.0 {
            p.seconds.min(duration)
        } else {
            p.seconds
        };
        let start = p.start.resolve(duration).min(duration - seconds).max(0.0);
        let (width, height) = size_for(p.height.min(source_short));
        let nearest = renditions
            .iter()
            .min_by_key(|r| r.height.min(r.width).abs_diff(p.height));
        let (bitrate, max_bitrate, buffer_size) = match (p.bitrate, nearest) {
            (Some(b), _) => (b, b + b / 2, b * 2),
            (None, Some(r)) => (r.bitrate, r.max_bitrate, r.buffer_size),
            (None, None) => (1_000_000, 1_500_000, 2_000_000),
        };
        PlannedPreview {
            start,
            seconds,
            width,
            height,
            bitrate,
            max_bitrate,
            buffer_size,
            audio: p.audio && audio.is_some(),
            animated_webp: p.animated_webp.as_ref().map(|a| {
                let w = a.width.min(width);
                PlannedAnimation {
                    width: even_round(f64::from(w)),
                    height: even_round(f64::from(w) * f64::from(height) / f64::from(width.max(1))),
                    fps: a.fps.min(video.fps()),
                    quality: a.quality,
                }
            }),
        }
    });
    let trickplay = profile.trickplay.as_ref().map(|t| {
        let (tile_width, tile_height) = picture_size((dw, dh), Some(t.width), None);
        PlannedTrickPlay {
            times: interval_times(t.interval_seconds, duration, None),
            interval: t.interval_seconds,
            tile_width,
            tile_height,
            columns: t.columns,
            rows: t.rows,
            quality: t.quality,
        }
    });

    let gop_seconds = match profile.video.gop_frames {
        Some(g) => f64::from(g) * f64::from(den) / f64::from(num.max(1)),
        None => profile.video.gop_seconds,
    };
    let mut segment_seconds = profile.video.segment_seconds;
    if profile.video.segments_whole_gops {
        // "MediaConvert will round up the segment lengths to match the next GOP boundary"
        // (API reference, HlsSegmentLengthControl); the tolerance keeps 6 s of 2 s GOPs 6.
        segment_seconds = ((segment_seconds / gop_seconds) - 1e-9).ceil().max(1.0) * gop_seconds;
    }
    Ok(Plan {
        video_stream: video.index,
        display_width: even_round(dw),
        display_height: even_round(dh),
        rotation: video.rotation,
        frame_rate: [num, den],
        frame_step,
        retime,
        interpolate: profile.video.interpolate_frames,
        gop_seconds,
        segment_seconds,
        min_final_segment_seconds: profile.video.min_final_segment_seconds,
        duration,
        renditions,
        audio,
        audio_renditions,
        file_renditions,
        thumbnails,
        preview,
        trickplay,
    })
}

/// A rung's frame size and picture placement by MediaConvert's rules for `Width`,
/// `Height` and `ScalingBehavior` (MediaConvert User Guide, "Video scaling behavior and
/// aspect ratios"): a missing side follows the source's aspect, neither given is the
/// source's size, and a box of both is met as `scaling` says. Upscaling is allowed.
fn exact_size(size: &OutputSize, display: (f64, f64)) -> ((u32, u32), Option<Placement>) {
    let (dw, dh) = (display.0.max(1.0), display.1.max(1.0));
    let (bw, bh) = match (size.width, size.height) {
        (None, None) => return ((even_round(dw), even_round(dh)), None),
        (Some(w), None) => return ((w, even_round(f64::from(w) * dh / dw)), None),
        (None, Some(h)) => return ((even_round(f64::from(h) * dw / dh), h), None),
        (Some(w), Some(h)) => (w, h),
    };
    let (fw, fh) = (f64::from(bw), f64::from(bh));
    let fit = (fw / dw).min(fh / dh);
    let fitted = |k: f64| (even_round(dw * k).min(bw), even_round(dh * k).min(bh));
    let place = |(pw, ph): (u32, u32)| {
        ((pw, ph) != (bw, bh)).then(|| Placement {
            width: pw,
            height: ph,
            x: (i64::from(bw) - i64::from(pw)).div_euclid(4) as i32 * 2,
            y: (i64::from(bh) - i64::from(ph)).div_euclid(4) as i32 * 2,
        })
    };
    match size.scaling {
        Scaling::Stretch => ((bw, bh), None),
        Scaling::Fit => (fitted(fit), None),
        Scaling::FitNoUpscale => (fitted(fit.min(1.0)), None),
        Scaling::Pad => ((bw, bh), place(fitted(fit))),
        Scaling::Fill => {
            let cover = (fw / dw).max(fh / dh);
            let (pw, ph) = (
                even_round(dw * cover).max(bw),
                even_round(dh * cover).max(bh),
            );
            ((bw, bh), place((pw, ph)))
        }
    }
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
