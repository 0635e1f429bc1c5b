//! The profile: a ladder of renditions, encoder settings and the output groups to write.
//!
//! Profiles are JSON documents (see `profiles/*.json`). Unknown fields are refused so that a
//! misspelled setting is an error rather than a silently ignored default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::pictures::{
    validate_preview, validate_thumbnails, validate_trickplay, PreviewSettings, ThumbnailSettings,
    TrickPlaySettings,
};

/// The profiles shipped with mpe, by name, as JSON text.
const SHIPPED: &[(&str, &str)] = &[
    ("default", include_str!("../default.json")),
    ("mobile", include_str!("../mobile.json")),
];

/// A complete encoding profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, used in job records and MediaConvert user metadata.
    pub name: String,
    /// What the profile is for.
    #[serde(default)]
    pub description: String,
    /// Video encoder settings shared by every rendition.
    pub video: VideoSettings,
    /// The ladder, tallest first. Each rung's `height` is the short side of its picture.
    pub renditions: Vec<Rendition>,
    /// Audio settings; `None` writes video-only outputs even when the source has audio.
    #[serde(default)]
    pub audio: Option<AudioSettings>,
    /// Further audio-only outputs of the CMAF and DASH groups, beside the profile's own
    /// `audio` output: each another encoding of the same tracks (a lower bitrate, mono),
    /// a member of the HLS master's one audio group and a Representation of the MPD
    /// (MediaConvert: several audio-only outputs in one CMAF or DASH ISO group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_renditions: Vec<AudioRendition>,
    /// Which output groups to write.
    pub outputs: OutputGroups,
    /// Still thumbnails (MediaConvert's frame capture), taken from the transcode's decode.
    #[serde(default)]
    pub thumbnails: Option<ThumbnailSettings>,
    /// A short preview clip.
    #[serde(default)]
    pub preview: Option<PreviewSettings>,
    /// Scrubbing thumbnails: sprite sheets and a WebVTT track.
    #[serde(default)]
    pub trickplay: Option<TrickPlaySettings>,
}

/// Video settings common to all renditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSettings {
    /// The codec; only H.264 for now.
    #[serde(default)]
    pub codec: VideoCodec,
    /// H.264 profile written into every rendition.
    #[serde(default)]
    pub profile: H264Profile,
    /// x264 speed preset.
    pub preset: X264Preset,
    /// How bitrate is controlled.
    pub rate_control: RateControl,
    /// Constant rate factor for `capped_crf` (the local stand-in for MediaConvert's QVBR).
    #[serde(default)]
    pub crf: Option<f32>,
    /// Seconds between IDR frames. Every GOP is closed.
    pub gop_seconds: f64,
    /// Target segment length of the streaming groups; a whole multiple of `gop_seconds`
    /// (unless `gop_frames` or `segments_whole_gops` is set).
    pub segment_seconds: f64,
    /// Segments a whole number of GOPs: `segment_seconds` rounded up to the next GOP
    /// boundary, no IDR frame forced off the GOP cadence (MediaConvert's
    /// `SegmentLengthControl: GOP_MULTIPLE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub segments_whole_gops: bool,
    /// A last segment shorter than this is joined to the one before it (MediaConvert's
    /// `MinFinalSegmentLength`); under `segment_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_final_segment_seconds: Option<f64>,
    /// The largest source width or height decoded (default
    /// [`crate::plan::MAX_SOURCE_SIDE`], 8192): a larger source is refused before it is
    /// decoded. Raise it (to at most 16384) to allow bigger sources on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_source_side: Option<u32>,
    /// Keep a rung at the source's own size when it falls between two rungs (or below all).
    #[serde(default = "yes")]
    pub keep_source_height: bool,
    /// Highest output frame rate; faster sources are decimated by a whole factor.
    #[serde(default)]
    pub max_frame_rate: Option<f64>,
    /// The output frame rate exactly, as `[numerator, denominator]` (MediaConvert's
    /// `FramerateControl: SPECIFIED`). From a whole multiple of it, frames are dropped
    /// evenly; from any other rate, repeated or dropped onto this rate's grid
    /// (`DUPLICATE_DROP`), or blended with `interpolate_frames`.
    #[serde(default)]
    pub frame_rate: Option<[u32; 2]>,
    /// Where frames are placed on another rate's grid, each output frame between two
    /// source frames is a blend of both, weighted by how near it lies to each (MediaConvert's
    /// `FramerateConversionAlgorithm: INTERPOLATE`), instead of a repeat of the earlier one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interpolate_frames: bool,
    /// GOP length in frames of the output rate, instead of `gop_seconds` (MediaConvert's
    /// `GopSizeUnits: FRAMES`). Segments then need not be a multiple of the GOP: an IDR
    /// frame is also forced on every segment boundary (MediaConvert's
    /// `SegmentLengthControl: EXACT`).
    #[serde(default)]
    pub gop_frames: Option<u32>,
    /// Finer x264 settings; each absent one is the preset's choice.
    #[serde(default)]
    pub tuning: EncoderTuning,
    /// Filters on the decoded source, before any scaling (MediaConvert's input
    /// `DenoiseFilter`, `DeblockFilter`, `FilterStrength`).
    #[serde(default)]
    pub input_filter: Option<InputFilter>,
}

/// Denoising and deblocking of the source, once, before the ladder is made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFilter {
    /// Denoise (FFmpeg's hqdn3d).
    #[serde(default)]
    pub denoise: bool,
    /// Deblock (FFmpeg's deblock); applies to MPEG-2 and uncompressed sources only, as
    /// MediaConvert's does ("only manually controllable for MPEG2 and uncompressed").
    #[serde(default)]
    pub deblock: bool,
    /// 1 (least) to 5 (most); absent: a moderate amount (3), MediaConvert's AUTO.
    #[serde(default)]
    pub strength: Option<u8>,
}

/// x264 settings beyond preset and rate control. `None` leaves the preset's value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderTuning {
    /// B-frames between reference frames (x264 `bframes`).
    #[serde(default)]
    pub b_frames: Option<u32>,
    /// Whether B-frames may be references (x264 `b-pyramid` normal / none).
    #[serde(default)]
    pub b_pyramid: Option<bool>,
    /// Reference frames (x264 `ref`).
    #[serde(default)]
    pub ref_frames: Option<u32>,
    /// H.264 level, e.g. `"4.1"` (x264 `level`); `None` lets x264 pick.
    #[serde(default)]
    pub level: Option<String>,
    /// CAVLC instead of CABAC entropy coding.
    #[serde(default)]
    pub cavlc: bool,
    /// Slices per picture.
    #[serde(default)]
    pub slices: Option<u32>,
    /// Extra I-frames on scene cuts (x264 `scenecut` threshold); GOP and segment IDRs
    /// are forced either way.
    #[serde(default)]
    pub scene_cut: Option<u32>,
    /// Minimum frames between I-frames that scene cuts may add (x264 `min-keyint`).
    #[serde(default)]
    pub min_i_interval: Option<u32>,
    /// Spatial adaptive quantization strength (x264 `aq-strength`; 0 turns it off).
    #[serde(default)]
    pub aq_strength: Option<f32>,
    /// Temporal adaptive quantization (x264 `mbtree`).
    #[serde(default)]
    pub mb_tree: Option<bool>,
    /// How full the VBV buffer starts, 0 to 1 (x264 `vbv-init`).
    #[serde(default)]
    pub vbv_init: Option<f32>,
}

fn yes() -> bool {
    true
}

/// Supported video codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264 / AVC through x264.
    #[default]
    H264,
}

/// H.264 profiles mpe writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum H264Profile {
    /// Constrained baseline-compatible profile for the oldest devices.
    Baseline,
    /// Main profile.
    Main,
    /// High profile, the default.
    #[default]
    High,
}

impl H264Profile {
    /// The name x264 and MediaConvert's `CodecProfile` use (lower case here).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Main => "main",
            Self::High => "high",
        }
    }
}

/// x264 presets, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum X264Preset {
    Ultrafast,
    Superfast,
    Veryfast,
    Faster,
    Fast,
    Medium,
    Slow,
    Slower,
    Veryslow,
}

impl X264Preset {
    /// The preset name as x264 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ultrafast => "ultrafast",
            Self::Superfast => "superfast",
            Self::Veryfast => "veryfast",
            Self::Faster => "faster",
            Self::Fast => "fast",
            Self::Medium => "medium",
            Self::Slow => "slow",
            Self::Slower => "slower",
            Self::Veryslow => "veryslow",
        }
    }
}

/// Rate control modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateControl {
    /// Average bitrate `bitrate`, peaks bounded by `max_bitrate` and `buffer_size` (VBV).
    Vbr,
    /// Constant bitrate: `bitrate` = max rate, with HRD signalling.
    Cbr,
    /// Constant quality `video.crf`, capped by `max_bitrate`/`buffer_size`. MediaConvert's
    /// QVBR is the cloud counterpart.
    CappedCrf,
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    /// Rung name, e.g. `1080p`; output names carry it as the modifier `_<name>`.
    pub name: String,
    /// Short side of the picture in pixels (1080 for 1920x1080 and for 1080x1920).
    pub height: u32,
    /// Target average bitrate in bits per second.
    pub bitrate: u32,
    /// Peak bitrate in bits per second (VBV max rate).
    pub max_bitrate: u32,
    /// VBV buffer in bits.
    pub buffer_size: u32,
    /// An exact output size instead of the ladder's rule (MediaConvert's `Width`, `Height`
    /// and `ScalingBehavior`): such a rung is never dropped, upscaled if need be, and its
    /// `height` only orders the ladder.
    #[serde(default)]
    pub size: Option<OutputSize>,
    /// The audio muxed into this rung's own outputs (the HLS group's segments and the file
    /// group's MP4), when it differs from the profile's `audio`; the groups that keep audio
    /// apart (CMAF, DASH) carry the profile's. MediaConvert gives every output its own
    /// `AudioDescriptions`; each distinct setting is encoded once and shared. The track
    /// is the profile's (`track` is not allowed here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSettings>,
    /// The audio of this rung's progressive MP4 (the file group) when it differs from
    /// what the rung's streaming outputs mux (`audio`, else the profile's): MediaConvert
    /// gives the MP4 output its own `AudioDescriptions`. The track is the profile's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_audio: Option<AudioSettings>,
    /// The scaler's sharpness, 0 (softest) to 100 (sharpest), MediaConvert's `Sharpness`;
    /// absent: 50, the bicubic scaler's own kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<u8>,
}

/// A rung's size as a MediaConvert output gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSize {
    /// Output width; `None` derives it from the height and the source's aspect (both
    /// `None`: the source's size).
    #[serde(default)]
    pub width: Option<u32>,
    /// Output height; `None` derives it from the width.
    #[serde(default)]
    pub height: Option<u32>,
    /// How a source of another aspect ratio meets a box of both sides.
    #[serde(default)]
    pub scaling: Scaling,
}

/// How the picture meets an output box of another aspect ratio (MediaConvert's
/// `ScalingBehavior`, one variant each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Fit inside the box, black bars fill the rest (`DEFAULT`).
    #[default]
    Pad,
    /// Stretch to the box, aspect not kept (`STRETCH_TO_OUTPUT`).
    Stretch,
    /// The output is the largest picture of the source's aspect inside the box (`FIT`).
    Fit,
    /// As `Fit`, never larger than the source (`FIT_NO_UPSCALE`).
    FitNoUpscale,
    /// Cover the box, the overflow cropped evenly (`FILL`).
    Fill,
}

/// Audio settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSettings {
    /// The codec; only AAC-LC for now.
    #[serde(default)]
    pub codec: AudioCodec,
    /// Bits per second.
    pub bitrate: u32,
    /// 1 (mono) or 2 (stereo); more channels are down-mixed.
    pub channels: u32,
    /// 44100 or 48000.
    pub sample_rate: u32,
    /// Which of the source's audio tracks, 1 the first (MediaConvert's audio selector
    /// `Tracks`); absent: the first. A source without it cannot be planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u32>,
    /// Several tracks made one, in order: their channels follow each other, as in an
    /// audio selector with `Tracks: [1, 2]` ("output track 2 contains the channels from
    /// input tracks 1 and 3", MediaConvert User Guide, "Setting up audio tracks and audio
    /// selectors"); then mixed down to `channels`. Two mono tracks and stereo: the first
    /// is left, the second right. Instead of `track`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<u32>,
}

impl AudioSettings {
    /// The source tracks this audio is made from, 1 the first; `None`: the first track,
    /// where the source has audio at all.
    pub fn selected_tracks(&self) -> Option<Vec<u32>> {
        match (&self.track, self.tracks.is_empty()) {
            (_, false) => Some(self.tracks.clone()),
            (Some(t), true) => Some(vec![*t]),
            (None, true) => None,
        }
    }
}

/// One more audio-only output of the groups that keep audio apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioRendition {
    /// Output name, `audio_<suffix>`: the files carry the modifier `_<name>` (the
    /// profile's own audio output is `audio`).
    pub name: String,
    /// What it encodes; the tracks are the profile's (`track` is not allowed here).
    pub audio: AudioSettings,
}

/// The most renditions a profile may have: MediaConvert's own limit on outputs per group
/// is higher, but each rung here is a live encoder, and ladders rarely pass ten.
const MAX_RENDITIONS: usize = 16;

/// The largest profile file read: a real one is a few kilobytes.
const MAX_PROFILE_BYTES: u64 = 4 << 20;

/// Reads a profile file whole, refusing what is not a plain file (a FIFO or `/dev/zero`
/// would be read forever) and what is larger than [`MAX_PROFILE_BYTES`].
fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(|e| e.to_string())?
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_PROFILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_PROFILE_BYTES >> 20));
    }
    Ok(text)
}

/// The most source tracks one audio setting combines (a 7.1 programme as eight monos).
const MAX_MIXED_TRACKS: usize = 8;

/// The limits every audio setting keeps, `at` naming it in the error.
fn check_audio(a: &AudioSettings, at: &str) -> Result<(), (String, String)> {
    if !(16_000..=512_000).contains(&a.bitrate) {
        return Err((
            format!("{at}.bitrate"),
            format!("{} is outside [16000, 512000]", a.bitrate),
        ));
    }
    if !(1..=2).contains(&a.channels) {
        return Err((
            format!("{at}.channels"),
            format!("{} must be 1 or 2", a.channels),
        ));
    }
    if a.sample_rate != 44_100 && a.sample_rate != 48_000 {
        return Err((
            format!("{at}.sample_rate"),
            format!("{} must be 44100 or 48000", a.sample_rate),
        ));
    }
    Ok(())
}

/// Supported audio codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    /// AAC low complexity.
    #[default]
    Aac,
}

/// The output groups, named after MediaConvert's. Each is written when present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputGroups {
    /// CMAF group: one set of fMP4 segments (`.cmfv`/`.cmfa`) behind both an HLS master
    /// playlist and a DASH MPD.
    #[serde(default)]
    pub cmaf: Option<GroupSettings>,
    /// HLS group: MPEG-TS segments, audio muxed into every rung, for older devices.
    #[serde(default)]
    pub hls: Option<HlsGroupSettings>,
    /// DASH ISO group: fMP4 `.mp4` segments behind an MPD.
    #[serde(default)]
    pub dash: Option<GroupSettings>,
    /// File group: progressive MP4s (faststart, audio muxed).
    #[serde(default)]
    pub file: Option<FileGroupSettings>,
}

/// Settings of a streaming output group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    /// Folder under the asset root, ending in `/` (MediaConvert's Destination).
    pub destination: String,
    /// The CMAF group's HLS media playlists give segment durations in whole seconds,
    /// rounded (its `ManifestDurationFormat: INTEGER`); the MPD keeps exact ones. Not for
    /// the DASH group, which writes no HLS playlist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integer_durations: bool,
    /// One fMP4 file per output instead of an init segment and one file per segment: the
    /// init, one `sidx` indexing every segment, then the segments' fragments. The MPD
    /// addresses it by SegmentBase, the CMAF group's HLS playlists by `EXT-X-BYTERANGE`
    /// (MediaConvert's `SegmentControl: SINGLE_FILE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_file: bool,
}

/// Settings of the HLS group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HlsGroupSettings {
    /// Folder under the asset root, ending in `/` (MediaConvert's Destination).
    pub destination: String,
    /// The MPEG-TS program the segments carry (MediaConvert's `M3u8Settings`).
    #[serde(default, skip_serializing_if = "TransportStream::is_default")]
    pub transport: TransportStream,
    /// Segment durations in the media playlists in whole seconds, rounded
    /// (MediaConvert's `ManifestDurationFormat: INTEGER`); decimals otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integer_durations: bool,
    /// `#EXT-X-PROGRAM-DATE-TIME` tags in the media playlists (MediaConvert's
    /// `ProgramDateTime: INCLUDE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_date_time: Option<ProgramDateTime>,
    /// One `.ts` file per output instead of one per segment, the media playlists
    /// addressing segments by `EXT-X-BYTERANGE` (MediaConvert's `SegmentControl:
    /// SINGLE_FILE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_file: bool,
}

/// The wall-clock time the HLS media playlists give their segments. MediaConvert: "the
/// program date and time are initialized using the input timecode source, or the time is
/// initialized using the input timecode source and the date is initialized using the
/// timestamp_offset" (API reference, HlsProgramDateTime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramDateTime {
    /// The first frame's date, `YYYY-MM-DD` (`TimecodeConfig.TimestampOffset`); absent: the
    /// day (UTC) the transcode runs, timecodes having no date of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The first frame's time of day: its timecode (`TimecodeConfig.Source` and `Start`).
    #[serde(default = "embedded")]
    pub origin: crate::TimecodeOrigin,
    /// Seconds between tags (`ProgramDateTimePeriod`): one on the first segment, then on
    /// the first segment starting at or after each further period.
    #[serde(default = "pdt_period")]
    pub period_seconds: u32,
}

fn embedded() -> crate::TimecodeOrigin {
    crate::TimecodeOrigin::Embedded
}

fn pdt_period() -> u32 {
    600
}

/// Whether `s` is a calendar date written `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return false;
    }
    if !digits(8..10) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day)
}

/// The identifiers of the MPEG-TS program in every segment. The defaults are
/// MediaConvert's (API reference, M3u8Settings: PMT PID 480, video 481, audio from 482,
/// program 1), so local and cloud segments carry the same PIDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportStream {
    /// PID of the program map table.
    pub pmt_pid: u16,
    /// PID of the video stream (which also carries the PCR).
    pub video_pid: u16,
    /// PID of the audio stream.
    pub audio_pid: u16,
    /// The program number (`service_id`).
    pub program_number: u16,
    /// The transport stream id; FFmpeg's default (1) when absent.
    pub transport_stream_id: Option<u16>,
}

impl Default for TransportStream {
    fn default() -> Self {
        TransportStream {
            pmt_pid: 480,
            video_pid: 481,
            audio_pid: 482,
            program_number: 1,
            transport_stream_id: None,
        }
    }
}

impl TransportStream {
    /// Whether these are MediaConvert's defaults (nothing to write in a job).
    pub fn is_default(&self) -> bool {
        self == &TransportStream::default()
    }
}

/// Settings of the file group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGroupSettings {
    /// Folder under the asset root, ending in `/`.
    pub destination: String,
    /// Which rungs (by name) get a progressive MP4. Rungs the plan drops are skipped.
    pub renditions: Vec<String>,
}

impl Profile {
    /// Names of the profiles shipped with mpe.
    pub fn shipped_names() -> impl Iterator<Item = &'static str> {
        SHIPPED.iter().map(|(n, _)| *n)
    }

    /// Loads a shipped profile by name, never a file (a file named like a profile in the
    /// working folder does not shadow it).
    pub fn shipped(name: &str) -> Result<Profile, ProfileError> {
        match SHIPPED.iter().find(|(n, _)| *n == name) {
            Some((name, text)) => Self::from_json(text, name),
            None => Err(ProfileError::Unknown {
                name: name.to_string(),
                shipped: Self::shipped_names().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Loads a shipped profile by name, or a profile file by path.
    ///
    /// A value that names an existing file, or ends in `.json`, is read as a file.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        let path = Path::new(name_or_path);
        if path.is_file() || name_or_path.ends_with(".json") {
            let text = read_capped(path).map_err(|reason| ProfileError::Read {
                origin: name_or_path.to_string(),
                reason,
            })?;
            return Self::from_json(&text, name_or_path);
        }
        Self::shipped(name_or_path)
    }

    /// Parses and validates a profile; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        // Editors on Windows save UTF-8 with a byte-order mark; it is no part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut de = serde_json::Deserializer::from_str(text);
        let profile: Profile =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ProfileError::Parse {
                origin: origin.to_string(),
                field: e.path().to_string(),
                reason: e.inner().to_string(),
            })?;
        // A second document or stray text after the first is a mistake, never ignored.
        de.end().map_err(|e| ProfileError::Parse {
            origin: origin.to_string(),
            field: String::new(),
            reason: format!("more after the profile's closing brace: {e}"),
        })?;
        profile.validate(origin)?;
        Ok(profile)
    }

    /// Checks ranges and cross-field rules; errors name the field.
    pub fn validate(&self, origin: &str) -> Result<(), ProfileError> {
        let bad = |field: &str, reason: String| ProfileError::Invalid {
            origin: origin.to_string(),
            field: field.to_string(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(bad("name", "must not be empty".into()));
        }
        let v = &self.video;
        if !(v.gop_seconds > 0.0 && v.gop_seconds <= 20.0) {
            return Err(bad(
                "video.gop_seconds",
                format!("{} is outside (0, 20]", v.gop_seconds),
            ));
        }
        if !(v.segment_seconds >= 1.0 && v.segment_seconds <= 60.0) {
            return Err(bad(
                "video.segment_seconds",
                format!("{} is outside [1, 60]", v.segment_seconds),
            ));
        }
        let ratio = v.segment_seconds / v.gop_seconds;
        if v.gop_frames.is_none()
            && !v.segments_whole_gops
            && ((ratio - ratio.round()).abs() > 1e-6 || ratio.round() < 1.0)
        {
            return Err(bad(
                "video.segment_seconds",
                format!(
                    "{} is not a whole multiple of video.gop_seconds ({}): segments must start on an IDR frame",
                    v.segment_seconds, v.gop_seconds
                ),
            ));
        }
        if let Some(m) = v.max_source_side {
            if !(crate::plan::MIN_SOURCE_SIDE..=16384).contains(&m) {
                return Err(bad(
                    "video.max_source_side",
                    format!("{m} is outside [{}, 16384]", crate::plan::MIN_SOURCE_SIDE),
                ));
            }
        }
        if let Some(m) = v.min_final_segment_seconds {
            if !(m > 0.0 && m < v.segment_seconds) {
                return Err(bad(
                    "video.min_final_segment_seconds",
                    format!(
                        "{m} is not above 0 and under video.segment_seconds ({})",
                        v.segment_seconds
                    ),
                ));
            }
        }
        match (v.rate_control, v.crf) {
            (RateControl::CappedCrf, None) => {
                return Err(bad(
                    "video.crf",
                    "required when rate_control is capped_crf".into(),
                ))
            }
            (RateControl::CappedCrf, Some(c)) if !(0.0..=51.0).contains(&c) => {
                return Err(bad("video.crf", format!("{c} is outside [0, 51]")))
            }
            (RateControl::Vbr | RateControl::Cbr, Some(_)) => {
                return Err(bad(
                    "video.crf",
                    "only used with rate_control capped_crf; remove it".into(),
                ))
            }
            _ => {}
        }
        if let Some(fps) = v.max_frame_rate {
            if !(1.0..=120.0).contains(&fps) {
                return Err(bad(
                    "video.max_frame_rate",
                    format!("{fps} is outside [1, 120]"),
                ));
            }
        }
        if let Some(g) = v.gop_frames {
            if !(1..=1000).contains(&g) {
                return Err(bad("video.gop_frames", format!("{g} is outside [1, 1000]")));
            }
        }
        if let Some([n, d]) = v.frame_rate {
            if d == 0 || n == 0 || !(1.0..=120.0).contains(&(f64::from(n) / f64::from(d))) {
                return Err(bad(
                    "video.frame_rate",
                    format!("{n}/{d} is outside [1, 120] frames per second"),
                ));
            }
        }
        if let Some((field, reason)) = validate_tuning(&v.tuning) {
            return Err(bad(&format!("video.tuning.{field}"), reason));
        }
        if self.renditions.is_empty() {
            return Err(bad("renditions", "at least one rendition is needed".into()));
        }
        if self.renditions.len() > MAX_RENDITIONS {
            return Err(bad(
                "renditions",
                format!(
                    "{} renditions: at most {MAX_RENDITIONS} (every rung is an encoder with its own frames in memory)",
                    self.renditions.len()
                ),
            ));
        }
        for (i, r) in self.renditions.iter().enumerate() {
            let f = |name: &str| format!("renditions[{i}].{name}");
            if r.name.is_empty()
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(
                    &f("name"),
                    format!(
                        "{:?} must be non-empty ASCII letters, digits, '-' or '_'",
                        r.name
                    ),
                ));
            }
            if crate::naming::is_audio_output(&r.name) {
                return Err(bad(
                    &f("name"),
                    "\"audio\" and \"audio_...\" are reserved for the audio outputs".into(),
                ));
            }
            if self.renditions[..i].iter().any(|o| o.name == r.name) {
                return Err(bad(&f("name"), format!("{:?} is used twice", r.name)));
            }
            if let Some(size) = &r.size {
                for (side, v) in [("width", size.width), ("height", size.height)] {
                    if let Some(v) = v.filter(|v| !(32..=8192).contains(v) || v % 2 != 0) {
                        return Err(bad(
                            &f(&format!("size.{side}")),
                            format!("{v} must be even and within [32, 8192]"),
                        ));
                    }
                }
            } else if !(r.height >= 64 && r.height <= 4320) || r.height % 2 != 0 {
                return Err(bad(
                    &f("height"),
                    format!("{} must be even and within [64, 4320]", r.height),
                ));
            }
            let sized = r.size.is_some() || i == 0 || self.renditions[i - 1].size.is_some();
            if !sized && r.height >= self.renditions[i - 1].height {
                return Err(bad(
                    &f("height"),
                    "renditions must be listed tallest first, with distinct heights".into(),
                ));
            }
            if let Some(s) = r.sharpness.filter(|s| *s > 100) {
                return Err(bad(&f("sharpness"), format!("{s} is outside [0, 100]")));
            }
            if r.bitrate < 50_000 {
                return Err(bad(
                    &f("bitrate"),
                    format!("{} b/s is below 50000", r.bitrate),
                ));
            }
            if r.max_bitrate < r.bitrate {
                return Err(bad(
                    &f("max_bitrate"),
                    format!("{} is below bitrate {}", r.max_bitrate, r.bitrate),
                ));
            }
            if r.buffer_size < r.max_bitrate / 4 {
                return Err(bad(
                    &f("buffer_size"),
                    format!(
                        "{} bits is under a quarter second at max_bitrate {}",
                        r.buffer_size, r.max_bitrate
                    ),
                ));
            }
        }
        if let Some(a) = &self.audio {
            check_audio(a, "audio").map_err(|(f, r)| bad(&f, r))?;
        }
        // Another encoding of the profile's tracks: its own limits, never its own track.
        let other_audio = |a: &AudioSettings, at: &str| {
            if self.audio.is_none() {
                return Err(bad(
                    at,
                    "another audio encoding needs the profile's `audio` (its track and the audio-only outputs)".into(),
                ));
            }
            if a.track.is_some() || !a.tracks.is_empty() {
                let field = if a.track.is_some() { "track" } else { "tracks" };
                return Err(bad(
                    &format!("{at}.{field}"),
                    "the track is chosen once, in the profile's `audio`".into(),
                ));
            }
            check_audio(a, at).map_err(|(f, r)| bad(&f, r))
        };
        for (i, r) in self.renditions.iter().enumerate() {
            if let Some(a) = &r.audio {
                other_audio(a, &format!("renditions[{i}].audio"))?;
            }
            if let Some(a) = &r.file_audio {
                let at = format!("renditions[{i}].file_audio");
                if self.outputs.file.is_none() {
                    return Err(bad(&at, "the profile has no file group".into()));
                }
                other_audio(a, &at)?;
            }
        }
        for (i, r) in self.audio_renditions.iter().enumerate() {
            let at = format!("audio_renditions[{i}]");
            let suffix = r.name.strip_prefix("audio_").unwrap_or("");
            if suffix.is_empty()
                || !suffix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(
                    &format!("{at}.name"),
                    format!(
                        "{:?} must be `audio_` then ASCII letters, digits, '-' or '_'",
                        r.name
                    ),
                ));
            }
            if self.audio_renditions[..i].iter().any(|o| o.name == r.name) {
                return Err(bad(
                    &format!("{at}.name"),
                    format!("{:?} is used twice", r.name),
                ));
            }
            if self.outputs.cmaf.is_none() && self.outputs.dash.is_none() {
                return Err(bad(
                    &at,
                    "audio-only outputs belong to the CMAF and DASH groups; the profile has neither"
                        .into(),
                ));
            }
            other_audio(&r.audio, &format!("{at}.audio"))?;
        }
        if let Some(a) = &self.audio {
            if a.track == Some(0) {
                return Err(bad("audio.track", "tracks count from 1".into()));
            }
            if a.track.is_some() && !a.tracks.is_empty() {
                return Err(bad(
                    "audio.tracks",
                    "give `track` or `tracks`, not both".into(),
                ));
            }
            if let Some(i) = a.tracks.iter().position(|t| *t == 0) {
                return Err(bad(
                    &format!("audio.tracks[{i}]"),
                    "tracks count from 1".into(),
                ));
            }
            if a.tracks.len() > MAX_MIXED_TRACKS {
                return Err(bad(
                    "audio.tracks",
                    format!("at most {MAX_MIXED_TRACKS} tracks are made one"),
                ));
            }
        }
        let o = &self.outputs;
        if o.cmaf.is_none() && o.hls.is_none() && o.dash.is_none() && o.file.is_none() {
            return Err(bad("outputs", "no output group is enabled".into()));
        }
        if let Some(f) = &self.video.input_filter {
            if f.strength.is_some_and(|s| !(1..=5).contains(&s)) {
                return Err(bad(
                    "video.input_filter.strength",
                    "must be from 1 to 5".into(),
                ));
            }
            if !f.denoise && !f.deblock {
                return Err(bad(
                    "video.input_filter",
                    "enables neither denoise nor deblock".into(),
                ));
            }
        }
        if o.dash.as_ref().is_some_and(|d| d.integer_durations) {
            return Err(bad(
                "outputs.dash.integer_durations",
                "the DASH group writes no HLS playlist".into(),
            ));
        }
        if let Some(h) = &o.hls {
            let t = &h.transport;
            // MediaConvert's range for every PID (API reference, M3u8Settings).
            for (field, pid) in [
                ("pmt_pid", t.pmt_pid),
                ("video_pid", t.video_pid),
                ("audio_pid", t.audio_pid),
            ] {
                if !(32..=8182).contains(&pid) {
                    return Err(bad(
                        &format!("outputs.hls.transport.{field}"),
                        format!("{pid} is not a PID from 32 to 8182"),
                    ));
                }
            }
            if t.pmt_pid == t.video_pid || t.pmt_pid == t.audio_pid || t.video_pid == t.audio_pid {
                return Err(bad(
                    "outputs.hls.transport",
                    "the PMT, video and audio PIDs must differ".into(),
                ));
            }
            if let Some(p) = &h.program_date_time {
                if let Some(d) = p.date.as_deref().filter(|d| !is_date(d)) {
                    return Err(bad(
                        "outputs.hls.program_date_time.date",
                        format!("{d:?} is not a date written YYYY-MM-DD"),
                    ));
                }
                // MediaConvert's range for ProgramDateTimePeriod, less 0 (no period).
                if !(1..=3600).contains(&p.period_seconds) {
                    return Err(bad(
                        "outputs.hls.program_date_time.period_seconds",
                        format!("{} is outside [1, 3600]", p.period_seconds),
                    ));
                }
            }
        }
        let groups = [
            (
                "outputs.cmaf.destination",
                o.cmaf.as_ref().map(|g| &g.destination),
            ),
            (
                "outputs.hls.destination",
                o.hls.as_ref().map(|g| &g.destination),
            ),
            (
                "outputs.dash.destination",
                o.dash.as_ref().map(|g| &g.destination),
            ),
            (
                "outputs.file.destination",
                o.file.as_ref().map(|g| &g.destination),
            ),
        ];
        let extras = [
            (
                "thumbnails.destination",
                self.thumbnails.as_ref().map(|g| &g.destination),
            ),
            (
                "preview.destination",
                self.preview.as_ref().map(|g| &g.destination),
            ),
            (
                "trickplay.destination",
                self.trickplay.as_ref().map(|g| &g.destination),
            ),
        ];
        let mut seen: Vec<&String> = Vec::new();
        for (field, dest) in groups.into_iter().chain(extras) {
            let Some(dest) = dest else { continue };
            if !valid_destination(dest) {
                return Err(bad(
                    field,
                    format!("{dest:?} must be a relative folder ending in '/' (e.g. \"cmaf/\"), without '..'"),
                ));
            }
            if seen.contains(&dest) {
                return Err(bad(field, format!("{dest:?} is used by another group")));
            }
            seen.push(dest);
        }
        let sections = [
            self.thumbnails.as_ref().map(validate_thumbnails),
            self.preview.as_ref().map(validate_preview),
            self.trickplay.as_ref().map(validate_trickplay),
        ];
        if let Some((field, reason)) = sections.into_iter().flatten().find_map(Result::err) {
            return Err(bad(&field, reason));
        }
        if let Some(file) = &o.file {
            if file.renditions.is_empty() {
                return Err(bad(
                    "outputs.file.renditions",
                    "list at least one rendition".into(),
                ));
            }
            for (i, name) in file.renditions.iter().enumerate() {
                if !self.renditions.iter().any(|r| &r.name == name) {
                    return Err(bad(
                        &format!("outputs.file.renditions[{i}]"),
                        format!("{name:?} is not a rendition of this profile"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The first out-of-range tuning value: `(field, reason)`.
fn validate_tuning(t: &EncoderTuning) -> Option<(&'static str, String)> {
    let range = |field: &'static str, v: Option<u32>, lo: u32, hi: u32| {
        v.filter(|v| !(lo..=hi).contains(v))
            .map(|v| (field, format!("{v} is outside [{lo}, {hi}]")))
    };
    let fraction = |field: &'static str, v: Option<f32>, hi: f32| {
        v.filter(|v| !(0.0..=hi).contains(v))
            .map(|v| (field, format!("{v} is outside [0, {hi}]")))
    };
    const LEVELS: &[&str] = &[
        "1", "1b", "1.1", "1.2", "1.3", "2", "2.1", "2.2", "3", "3.1", "3.2", "4", "4.1", "4.2",
        "5", "5.1", "5.2", "6", "6.1", "6.2",
    ];
    range("b_frames", t.b_frames, 0, 16)
        .or_else(|| range("ref_frames", t.ref_frames, 1, 16))
        .or_else(|| range("slices", t.slices, 1, 32))
        .or_else(|| range("scene_cut", t.scene_cut, 0, 100))
        .or_else(|| range("min_i_interval", t.min_i_interval, 0, 30))
        .or_else(|| fraction("aq_strength", t.aq_strength, 3.0))
        .or_else(|| fraction("vbv_init", t.vbv_init, 1.0))
        .or_else(|| {
            t.level.as_deref().filter(|l| !LEVELS.contains(l)).map(|l| {
                (
                    "level",
                    format!("{l:?} is not an H.264 level ({})", LEVELS.join(", ")),
                )
            })
        })
}

fn valid_destination(dest: &str) -> bool {
    dest.ends_with('/')
        && !dest.starts_with('/')
        && dest.len() > 1
        && dest
            .trim_end_matches('/')
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests;
