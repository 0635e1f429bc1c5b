//! What a probe learns about a source: the facts planning and `mpe probe --json` rest on.
//!
//! The JSON form of [`MediaInfo`] is the documented, stable output of `mpe probe --json`:
//! fields are only ever added, never renamed or removed. Durations are seconds, rates
//! are bits per second, and optional facts are `null` when the container does not say.

use serde::{Deserialize, Serialize};

/// Everything mpe knows about a source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The path that was probed.
    pub path: String,
    /// Container format names as FFmpeg reports them, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// Duration of the whole file in seconds.
    pub duration: f64,
    /// File size in bytes.
    pub size: u64,
    /// Overall bitrate in bits per second.
    pub bit_rate: Option<u64>,
    /// Video streams, in file order (attached pictures such as cover art are skipped).
    pub video: Vec<VideoStream>,
    /// Audio streams, in file order.
    pub audio: Vec<AudioStream>,
    /// Subtitle streams, in file order.
    pub subtitles: Vec<SubtitleStream>,
}

/// One video stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    /// Stream index in the container.
    pub index: usize,
    /// Codec short name, e.g. `h264`.
    pub codec: String,
    /// Codec profile, e.g. `High`, when known.
    pub profile: Option<String>,
    /// Codec level, e.g. `4.0` for H.264, when known.
    pub level: Option<String>,
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Sample (pixel) aspect ratio as `[num, den]`; `[1, 1]` for square pixels.
    pub sample_aspect: [u32; 2],
    /// Display aspect ratio as `[num, den]`, before rotation.
    pub display_aspect: [u32; 2],
    /// Clockwise rotation in degrees a player applies on display: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Average frame rate as `[num, den]`.
    pub frame_rate: [u32; 2],
    /// Whether frame durations vary (average and base rates disagree).
    pub variable_frame_rate: bool,
    /// Pixel format, e.g. `yuv420p`.
    pub pixel_format: String,
    /// Bits per colour component.
    pub bit_depth: u32,
    /// Colour primaries, e.g. `bt709`, when tagged.
    pub color_primaries: Option<String>,
    /// Transfer characteristics, e.g. `bt709`, when tagged.
    pub color_transfer: Option<String>,
    /// Colour matrix, e.g. `bt709`, when tagged.
    pub color_space: Option<String>,
    /// Colour range: `tv` (limited) or `pc` (full), when tagged.
    pub color_range: Option<String>,
    /// Field order: `progressive`, `tt`, `bb`, `tb`, `bt`, or `null` when unknown.
    pub field_order: Option<String>,
    /// Stream duration in seconds, when known.
    pub duration: Option<f64>,
    /// Stream bitrate in bits per second, when known.
    pub bit_rate: Option<u64>,
}

impl MediaInfo {
    /// A source described rather than probed: one progressive 8-bit 4:2:0 H.264 stream of
    /// `width` x `height` (square pixels) at `frame_rate`, and 48 kHz stereo AAC. What a
    /// live channel is planned for before any frame arrives.
    pub fn nominal(width: u32, height: u32, frame_rate: [u32; 2]) -> MediaInfo {
        MediaInfo {
            path: String::new(),
            container: String::new(),
            duration: 0.0,
            size: 0,
            bit_rate: None,
            video: vec![VideoStream {
                index: 0,
                codec: "h264".into(),
                profile: None,
                level: None,
                width,
                height,
                sample_aspect: [1, 1],
                display_aspect: [width, height],
                rotation: 0,
                frame_rate,
                variable_frame_rate: false,
                pixel_format: "yuv420p".into(),
                bit_depth: 8,
                color_primaries: None,
                color_transfer: None,
                color_space: None,
                color_range: None,
                field_order: None,
                duration: None,
                bit_rate: None,
            }],
            audio: vec![AudioStream {
                index: 1,
                codec: "aac".into(),
                profile: None,
                channels: 2,
                channel_layout: Some("stereo".into()),
                sample_rate: 48_000,
                language: None,
                duration: None,
                bit_rate: None,
            }],
            subtitles: Vec::new(),
        }
    }
}

impl VideoStream {
    /// Frame rate as a float.
    pub fn fps(&self) -> f64 {
        if self.frame_rate[1] == 0 {
            0.0
        } else {
            f64::from(self.frame_rate[0]) / f64::from(self.frame_rate[1])
        }
    }

    /// Displayed width and height: sample aspect applied, then rotation.
    pub fn display_size(&self) -> (f64, f64) {
        let [n, d] = self.sample_aspect;
        let sar = if n == 0 || d == 0 {
            1.0
        } else {
            f64::from(n) / f64::from(d)
        };
        let (w, h) = (f64::from(self.width) * sar, f64::from(self.height));
        if self.rotation % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        }
    }
}

/// One audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    /// Stream index in the container.
    pub index: usize,
    /// Codec short name, e.g. `aac`.
    pub codec: String,
    /// Codec profile, e.g. `LC`, when known.
    pub profile: Option<String>,
    /// Number of channels.
    pub channels: u32,
    /// Channel layout, e.g. `stereo` or `5.1`, when known.
    pub channel_layout: Option<String>,
    /// Samples per second.
    pub sample_rate: u32,
    /// ISO 639 language tag, when tagged.
    pub language: Option<String>,
    /// Stream duration in seconds, when known.
    pub duration: Option<f64>,
    /// Stream bitrate in bits per second, when known.
    pub bit_rate: Option<u64>,
}

/// One subtitle stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleStream {
    /// Stream index in the container.
    pub index: usize,
    /// Codec short name, e.g. `mov_text`.
    pub codec: String,
    /// ISO 639 language tag, when tagged.
    pub language: Option<String>,
}
