//! MediaConvert's Probe: its ProbeResult as typed data, and the conversions between it
//! and the [`MediaInfo`] that `profiles::plan` reads, so that the cloud plans an upload
//! from MediaConvert's own facts exactly as the engine plans it from FFmpeg's.
//!
//! The types hold the members of botocore's `ProbeResult` shape that mpe reads or
//! writes, in the PascalCase the API model names them (the camelCase wire form is
//! [`crate::wire`]'s business); members they lack are ignored when read.

use profiles::media::{AudioStream, MediaInfo, SubtitleStream, VideoStream};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CloudError;

/// One file's result (`ProbeResults[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    /// Format, duration and tracks.
    pub container: Option<Container>,
    /// What S3 says of the object.
    pub metadata: Option<Metadata>,
    /// Which tracks are video, audio and data, by 1-based track index.
    pub track_mappings: Option<Vec<TrackMapping>>,
}

/// `Container`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// Overall bits per second.
    pub bit_rate: Option<i64>,
    /// Seconds.
    pub duration: Option<f64>,
    /// `mp4`, `quicktime`, `matroska`, ... (the model's `Format` enum).
    pub format: Option<String>,
    /// The tracks, in file order.
    pub tracks: Option<Vec<Track>>,
}

/// `Track`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Track {
    /// Audio facts, for audio tracks.
    pub audio_properties: Option<AudioProperties>,
    /// The model's `Codec` enum: `AVC`, `HEVC`, `AAC`, ...
    pub codec: Option<String>,
    /// Data facts, for data (caption) tracks.
    pub data_properties: Option<DataProperties>,
    /// Seconds.
    pub duration: Option<f64>,
    /// 1-based track number.
    pub index: Option<i32>,
    /// `video`, `audio` or `data`.
    pub track_type: Option<String>,
    /// Video facts, for video tracks.
    pub video_properties: Option<VideoProperties>,
}

/// A fraction (`FrameRate`, `AspectRatio`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ratio {
    /// Top.
    pub numerator: Option<i32>,
    /// Bottom.
    pub denominator: Option<i32>,
}

/// `VideoProperties`: what the container declares of a video track.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VideoProperties {
    /// Bits per colour component.
    pub bit_depth: Option<i32>,
    /// Bits per second.
    pub bit_rate: Option<i64>,
    /// What the video essence itself declares.
    pub codec_metadata: Option<CodecMetadata>,
    /// The `ColorPrimaries` enum (`ITU_709`, `ITU_2020`, ...).
    pub color_primaries: Option<String>,
    /// Display aspect ratio, as the container declares it.
    pub display_aspect_ratio: Option<Ratio>,
    /// Frames per second.
    pub frame_rate: Option<Ratio>,
    /// Pixels.
    pub height: Option<i32>,
    /// The `MatrixCoefficients` enum.
    pub matrix_coefficients: Option<String>,
    /// Clockwise degrees from container metadata; absent when none or 0.
    pub rotation: Option<i32>,
    /// Pixel aspect ratio, as the container declares it.
    pub sample_aspect_ratio: Option<Ratio>,
    /// The `TransferCharacteristics` enum.
    pub transfer_characteristics: Option<String>,
    /// Pixels.
    pub width: Option<i32>,
}

/// `CodecMetadata`: what the video bitstream's headers declare.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodecMetadata {
    /// Bits per colour component.
    pub bit_depth: Option<i32>,
    /// `4:2:0`, `4:2:2`, `4:4:4`.
    pub chroma_subsampling: Option<String>,
    /// The frame rate the bitstream declares.
    pub coded_frame_rate: Option<Ratio>,
    /// Display aspect ratio, as the bitstream declares it.
    pub display_aspect_ratio: Option<Ratio>,
    /// `TopFieldFirst` or `BottomFieldFirst`, for interlaced video.
    pub field_order: Option<String>,
    /// Coded pixels.
    pub height: Option<i32>,
    /// Codec level, e.g. `4.0`.
    pub level: Option<String>,
    /// Codec profile, e.g. `High`.
    pub profile: Option<String>,
    /// Clockwise degrees from a display-orientation SEI; absent when none or 0.
    pub rotation: Option<i32>,
    /// Pixel aspect ratio, as the bitstream declares it.
    pub sample_aspect_ratio: Option<Ratio>,
    /// `progressive` or `interlaced`.
    pub scan_type: Option<String>,
    /// Coded pixels.
    pub width: Option<i32>,
}

/// `AudioProperties`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AudioProperties {
    /// Bits per sample (nominal for lossy codecs).
    pub bit_depth: Option<i32>,
    /// Bits per second.
    pub bit_rate: Option<i64>,
    /// `mono`, `stereo`, `5.1`, ...
    pub channel_layout: Option<String>,
    /// Channel count.
    pub channels: Option<i32>,
    /// ISO 639-3 language.
    pub language_code: Option<String>,
    /// Samples per second.
    pub sample_rate: Option<i32>,
}

/// `DataProperties`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataProperties {
    /// ISO 639-3 language.
    pub language_code: Option<String>,
}

/// `Metadata`: the object as S3 describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    /// The object's ETag.
    #[serde(rename = "ETag")]
    pub e_tag: Option<String>,
    /// Bytes.
    pub file_size: Option<i64>,
    /// Unix seconds.
    pub last_modified: Option<f64>,
    /// Content-Type.
    pub mime_type: Option<String>,
}

/// `TrackMapping`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrackMapping {
    /// Audio track numbers.
    pub audio_track_indexes: Option<Vec<i32>>,
    /// Data track numbers.
    pub data_track_indexes: Option<Vec<i32>>,
    /// Video track numbers.
    pub video_track_indexes: Option<Vec<i32>>,
}

impl ProbeResult {
    /// PascalCase JSON without the members that are absent, as the API model's documents
    /// are (a member the service has no value for is left out, not `null`).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        drop_nulls(&mut v);
        v
    }

    /// Reads PascalCase JSON (a Step Functions payload, a stored result); camelCase wire
    /// JSON goes through [`crate::wire::to_pascal`] first.
    pub fn from_json(v: &Value) -> Result<ProbeResult, CloudError> {
        serde_path_to_error::deserialize(v).map_err(|e| CloudError::Probe {
            input: String::new(),
            field: e.path().to_string(),
            reason: e.inner().to_string(),
        })
    }
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// FFmpeg's codec names and the model's `Codec` enum, one pair a line. The first pair
/// with a name wins in each direction.
const CODECS: &[(&str, &str)] = &[
    ("h264", "AVC"),
    ("hevc", "HEVC"),
    ("av1", "AV1"),
    ("vp8", "VP8"),
    ("vp9", "VP9"),
    ("mpeg2video", "MPEG2"),
    ("mpeg1video", "MPEG1"),
    ("mpeg4", "MP4V"),
    ("prores", "PRORES"),
    ("dnxhd", "VC3"),
    ("dvvideo", "DV"),
    ("h263", "H263"),
    ("jpeg2000", "JPEG2000"),
    ("mjpeg", "MJPEG"),
    ("qtrle", "QTRLE"),
    ("theora", "THEORA"),
    ("vc1", "VC1"),
    ("rawvideo", "UNCOMPRESSED"),
    ("aac", "AAC"),
    ("ac3", "AC3"),
    ("eac3", "EAC3"),
    ("amr_nb", "AMR"),
    ("flac", "FLAC"),
    ("mp2", "MP2"),
    ("mp3", "MP3"),
    ("opus", "OPUS"),
    ("pcm_s16le", "PCM"),
    ("pcm_s24le", "PCM"),
    ("pcm_s16be", "PCM"),
    ("vorbis", "VORBIS"),
    ("wmav1", "WMA"),
    ("wmav2", "WMA2"),
    ("wmapro", "WMAPRO"),
    ("eia_608", "C608"),
    ("webvtt", "WEBVTT"),
];

/// FFmpeg's colour primaries names and the model's `ColorPrimaries` enum.
const PRIMARIES: &[(&str, &str)] = &[
    ("bt709", "ITU_709"),
    ("bt470m", "ITU_470M"),
    ("bt470bg", "ITU_470BG"),
    ("smpte170m", "SMPTE_170M"),
    ("smpte240m", "SMPTE_240M"),
    ("film", "GENERIC_FILM"),
    ("bt2020", "ITU_2020"),
    ("smpte428", "SMPTE_428_1"),
    ("smpte431", "SMPTE_431_2"),
    ("smpte432", "SMPTE_EG_432_1"),
    ("ebu3213", "EBU_3213_E"),
];

/// FFmpeg's transfer characteristics names and the `TransferCharacteristics` enum.
const TRANSFERS: &[(&str, &str)] = &[
    ("bt709", "ITU_709"),
    ("bt470m", "ITU_470M"),
    ("bt470bg", "ITU_470BG"),
    ("smpte170m", "SMPTE_170M"),
    ("smpte240m", "SMPTE_240M"),
    ("linear", "LINEAR"),
    ("log100", "LOG10_2"),
    ("log316", "LOC10_2_5"),
    ("iec61966-2-4", "IEC_61966_2_4"),
    ("bt1361e", "ITU_1361"),
    ("iec61966-2-1", "IEC_61966_2_1"),
    ("bt2020-10", "ITU_2020_10bit"),
    ("bt2020-12", "ITU_2020_12bit"),
    ("smpte2084", "SMPTE_2084"),
    ("smpte428", "SMPTE_428_1"),
    ("arib-std-b67", "ARIB_B67"),
];

/// FFmpeg's colour matrix names and the `MatrixCoefficients` enum.
const MATRICES: &[(&str, &str)] = &[
    ("gbr", "RGB"),
    ("bt709", "ITU_709"),
    ("fcc", "FCC"),
    ("bt470bg", "ITU_470BG"),
    ("smpte170m", "SMPTE_170M"),
    ("smpte240m", "SMPTE_240M"),
    ("ycgco", "YCgCo"),
    ("bt2020nc", "ITU_2020_NCL"),
    ("bt2020c", "ITU_2020_CL"),
    ("smpte2085", "SMPTE_2085"),
    ("chroma-derived-nc", "CD_NCL"),
    ("chroma-derived-c", "CD_CL"),
    ("ictcp", "ITU_2100ICtCp"),
];

fn to_model(table: &[(&str, &'static str)], ffmpeg: &str) -> Option<&'static str> {
    table.iter().find(|(f, _)| *f == ffmpeg).map(|(_, m)| *m)
}

fn to_ffmpeg(table: &[(&'static str, &str)], model: &str) -> Option<&'static str> {
    table.iter().find(|(_, m)| *m == model).map(|(f, _)| *f)
}

/// Where in a ProbeResult, for errors.
fn at(track: usize, member: &str) -> String {
    format!("Container.Tracks[{track}].{member}")
}

/// The media facts a plan needs, from MediaConvert's probe of `input`.
///
/// Picture size is the coded size (CodecMetadata's, else the track's), pixel aspect the
/// container's, else the bitstream's, else derived from a display aspect, else square;
/// rotation the container's, else the bitstream's, else none (Probe leaves it out when
/// it is 0). A video track without a size or a frame rate, an audio track without a
/// channel count, or a file without any duration is an error that names the member.
pub fn media_info(result: &ProbeResult, input: &str) -> Result<MediaInfo, CloudError> {
    let bad = |field: String, reason: &str| CloudError::Probe {
        input: input.to_string(),
        field,
        reason: reason.to_string(),
    };
    let container = result.container.as_ref().ok_or_else(|| {
        bad(
            "Container".into(),
            "missing: MediaConvert read no container",
        )
    })?;
    let tracks = container.tracks.as_deref().unwrap_or_default();
    let mut info = MediaInfo {
        path: input.to_string(),
        container: container.format.clone().unwrap_or_default(),
        duration: container.duration.unwrap_or(0.0),
        size: result
            .metadata
            .as_ref()
            .and_then(|m| m.file_size)
            .unwrap_or(0)
            .max(0) as u64,
        bit_rate: container.bit_rate.map(|b| b.max(0) as u64),
        video: Vec::new(),
        audio: Vec::new(),
        subtitles: Vec::new(),
    };
    for (i, t) in tracks.iter().enumerate() {
        let index = match t.index {
            Some(n) if n >= 1 => (n - 1) as usize,
            Some(_) => return Err(bad(at(i, "Index"), "track numbers start at 1")),
            None => i,
        };
        let codec = t
            .codec
            .as_deref()
            .map(|c| to_ffmpeg(CODECS, c).map_or_else(|| c.to_ascii_lowercase(), str::to_string))
            .unwrap_or_else(|| "unknown".into());
        match t.track_type.as_deref() {
            Some("video") => {
                let p = t
                    .video_properties
                    .as_ref()
                    .ok_or_else(|| bad(at(i, "VideoProperties"), "missing on a video track"))?;
                let cm = p.codec_metadata.clone().unwrap_or_default();
                let size = |a: Option<i32>, b: Option<i32>, name: &str| {
                    a.or(b)
                        .filter(|v| *v > 0)
                        .map(|v| v as u32)
                        .ok_or_else(|| bad(at(i, &format!("VideoProperties.{name}")), "missing"))
                };
                let width = size(cm.width, p.width, "Width")?;
                let height = size(cm.height, p.height, "Height")?;
                let frame_rate = p
                    .frame_rate
                    .or(cm.coded_frame_rate)
                    .and_then(positive)
                    .ok_or_else(|| {
                        bad(
                            at(i, "VideoProperties.FrameRate"),
                            "missing: a plan needs the frame rate",
                        )
                    })?;
                let dar = p.display_aspect_ratio.or(cm.display_aspect_ratio);
                let sample_aspect = p
                    .sample_aspect_ratio
                    .or(cm.sample_aspect_ratio)
                    .and_then(positive)
                    .or_else(|| {
                        // DAR = SAR x W / H, so SAR = DAR x H / W.
                        let [n, d] = positive(dar?)?;
                        Some(reduce(
                            u64::from(n) * u64::from(height),
                            u64::from(d) * u64::from(width),
                        ))
                    })
                    .unwrap_or([1, 1]);
                let rotation = p.rotation.or(cm.rotation).unwrap_or(0).rem_euclid(360) as u32;
                let bit_depth = p.bit_depth.or(cm.bit_depth).unwrap_or(8).max(1) as u32;
                info.video.push(VideoStream {
                    index,
                    codec,
                    profile: cm.profile.clone(),
                    level: cm.level.clone(),
                    width,
                    height,
                    sample_aspect,
                    display_aspect: reduce(
                        u64::from(width) * u64::from(sample_aspect[0]),
                        u64::from(height) * u64::from(sample_aspect[1]),
                    ),
                    rotation,
                    frame_rate,
                    variable_frame_rate: false,
                    pixel_format: pixel_format(cm.chroma_subsampling.as_deref(), bit_depth),
                    bit_depth,
                    color_primaries: p
                        .color_primaries
                        .as_deref()
                        .and_then(|c| to_ffmpeg(PRIMARIES, c))
                        .map(str::to_string),
                    color_transfer: p
                        .transfer_characteristics
                        .as_deref()
                        .and_then(|c| to_ffmpeg(TRANSFERS, c))
                        .map(str::to_string),
                    color_space: p
                        .matrix_coefficients
                        .as_deref()
                        .and_then(|c| to_ffmpeg(MATRICES, c))
                        .map(str::to_string),
                    color_range: None,
                    field_order: match (cm.field_order.as_deref(), cm.scan_type.as_deref()) {
                        (Some("TopFieldFirst"), _) => Some("tt".into()),
                        (Some("BottomFieldFirst"), _) => Some("bb".into()),
                        (_, Some("progressive")) => Some("progressive".into()),
                        _ => None,
                    },
                    duration: t.duration,
                    bit_rate: p.bit_rate.map(|b| b.max(0) as u64),
                });
            }
            Some("audio") => {
                let p = t
                    .audio_properties
                    .as_ref()
                    .ok_or_else(|| bad(at(i, "AudioProperties"), "missing on an audio track"))?;
                let channels = p
                    .channels
                    .filter(|c| *c > 0)
                    .ok_or_else(|| bad(at(i, "AudioProperties.Channels"), "missing"))?;
                info.audio.push(AudioStream {
                    index,
                    codec,
                    profile: None,
                    channels: channels as u32,
                    channel_layout: p.channel_layout.clone(),
                    sample_rate: p.sample_rate.unwrap_or(0).max(0) as u32,
                    language: p.language_code.clone(),
                    duration: t.duration,
                    bit_rate: p.bit_rate.map(|b| b.max(0) as u64),
                });
            }
            Some("data") => info.subtitles.push(SubtitleStream {
                index,
                codec,
                language: t
                    .data_properties
                    .as_ref()
                    .and_then(|d| d.language_code.clone()),
            }),
            _ => {}
        }
    }
    let any_duration = container.duration.is_some()
        || info.video.iter().any(|v| v.duration.is_some())
        || info.audio.iter().any(|a| a.duration.is_some());
    if !info.video.is_empty() && !any_duration {
        return Err(bad(
            "Container.Duration".into(),
            "missing, and no track gives one: a plan needs the duration",
        ));
    }
    Ok(info)
}

/// The ProbeResult MediaConvert would give for a file the engine probed as `media`
/// (what `mpe mediaconvert serve` answers), with S3's facts of the object.
pub fn probe_result(media: &MediaInfo, metadata: Metadata) -> ProbeResult {
    let ratio = |[n, d]: [u32; 2]| Ratio {
        numerator: i32::try_from(n).ok(),
        denominator: i32::try_from(d).ok(),
    };
    let int = |v: u32| i32::try_from(v).ok();
    let long = |v: Option<u64>| v.and_then(|b| i64::try_from(b).ok());
    let model_codec = |c: &str| to_model(CODECS, c).unwrap_or("UNKNOWN").to_string();
    let number = |index: usize| i32::try_from(index + 1).ok();
    let mut tracks: Vec<Track> = Vec::new();
    for v in &media.video {
        let chroma = chroma(&v.pixel_format);
        tracks.push(Track {
            codec: Some(model_codec(&v.codec)),
            duration: v.duration,
            index: number(v.index),
            track_type: Some("video".into()),
            video_properties: Some(VideoProperties {
                bit_depth: int(v.bit_depth),
                bit_rate: long(v.bit_rate),
                codec_metadata: Some(CodecMetadata {
                    bit_depth: int(v.bit_depth),
                    chroma_subsampling: chroma.map(str::to_string),
                    coded_frame_rate: Some(ratio(v.frame_rate)),
                    field_order: match v.field_order.as_deref() {
                        Some("tt" | "tb") => Some("TopFieldFirst".into()),
                        Some("bb" | "bt") => Some("BottomFieldFirst".into()),
                        _ => None,
                    },
                    height: int(v.height),
                    level: v.level.clone(),
                    profile: v.profile.clone(),
                    scan_type: match v.field_order.as_deref() {
                        Some("progressive") => Some("progressive".into()),
                        Some(_) => Some("interlaced".into()),
                        None => None,
                    },
                    width: int(v.width),
                    ..CodecMetadata::default()
                }),
                color_primaries: v
                    .color_primaries
                    .as_deref()
                    .and_then(|c| to_model(PRIMARIES, c))
                    .map(str::to_string),
                display_aspect_ratio: Some(ratio(v.display_aspect)),
                frame_rate: Some(ratio(v.frame_rate)),
                height: int(v.height),
                matrix_coefficients: v
                    .color_space
                    .as_deref()
                    .and_then(|c| to_model(MATRICES, c))
                    .map(str::to_string),
                // Probe leaves rotation out when there is none.
                rotation: (v.rotation != 0).then(|| int(v.rotation)).flatten(),
                sample_aspect_ratio: Some(ratio(v.sample_aspect)),
                transfer_characteristics: v
                    .color_transfer
                    .as_deref()
                    .and_then(|c| to_model(TRANSFERS, c))
                    .map(str::to_string),
                width: int(v.width),
            }),
            ..Track::default()
        });
    }
    for a in &media.audio {
        tracks.push(Track {
            audio_properties: Some(AudioProperties {
                bit_rate: long(a.bit_rate),
                channel_layout: a.channel_layout.clone(),
                channels: int(a.channels),
                language_code: a.language.clone(),
                sample_rate: int(a.sample_rate),
                ..AudioProperties::default()
            }),
            codec: Some(model_codec(&a.codec)),
            duration: a.duration,
            index: number(a.index),
            track_type: Some("audio".into()),
            ..Track::default()
        });
    }
    for s in &media.subtitles {
        tracks.push(Track {
            codec: Some(model_codec(&s.codec)),
            data_properties: Some(DataProperties {
                language_code: s.language.clone(),
            }),
            index: number(s.index),
            track_type: Some("data".into()),
            ..Track::default()
        });
    }
    tracks.sort_by_key(|t| t.index);
    let of = |kind: &str| -> Option<Vec<i32>> {
        let v: Vec<i32> = tracks
            .iter()
            .filter(|t| t.track_type.as_deref() == Some(kind))
            .filter_map(|t| t.index)
            .collect();
        (!v.is_empty()).then_some(v)
    };
    let mapping = TrackMapping {
        audio_track_indexes: of("audio"),
        data_track_indexes: of("data"),
        video_track_indexes: of("video"),
    };
    ProbeResult {
        container: Some(Container {
            bit_rate: long(media.bit_rate),
            duration: Some(media.duration),
            format: Some(format_name(&media.container).into()),
            tracks: Some(tracks),
        }),
        metadata: Some(metadata),
        track_mappings: Some(vec![mapping]),
    }
}

/// The model's `Format` for an FFmpeg demuxer name (`mov,mp4,m4a,3gp,3g2,mj2` is MP4).
fn format_name(ffmpeg: &str) -> &'static str {
    let first = ffmpeg.split(',').next().unwrap_or_default();
    match first {
        "mov" => "mp4",
        "matroska" => "matroska",
        "webm" => "webm",
        "mxf" => "mxf",
        "wav" => "wave",
        "avi" => "avi",
        "mpegts" => "mpegts",
        "mpeg" => "mpegps",
        "mp3" => "mp3",
        "flac" => "flac",
        "asf" => "asf",
        "ogg" => "ogg",
        "aac" => "aac",
        "ac3" => "ac3",
        "eac3" => "eac3",
        _ => "mp4",
    }
}

fn chroma(pixel_format: &str) -> Option<&'static str> {
    let rest = ["yuvj", "yuva", "yuv"]
        .iter()
        .find_map(|p| pixel_format.strip_prefix(p))?;
    match rest.get(..3)? {
        "420" => Some("4:2:0"),
        "422" => Some("4:2:2"),
        "444" => Some("4:4:4"),
        _ => None,
    }
}

fn pixel_format(chroma: Option<&str>, bit_depth: u32) -> String {
    let base = match chroma {
        Some("4:2:2") => "yuv422p",
        Some("4:4:4") => "yuv444p",
        Some("4:2:0") | None => "yuv420p",
        Some(_) => return "unknown".into(),
    };
    if bit_depth > 8 {
        format!("{base}{bit_depth}le")
    } else {
        base.into()
    }
}

fn positive(r: Ratio) -> Option<[u32; 2]> {
    match (r.numerator, r.denominator) {
        (Some(n), Some(d)) if n > 0 && d > 0 => Some([n as u32, d as u32]),
        _ => None,
    }
}

fn reduce(a: u64, b: u64) -> [u32; 2] {
    let (n, d) = crate::mediaconvert::reduce(a, b);
    [
        u32::try_from(n).unwrap_or(u32::MAX),
        u32::try_from(d).unwrap_or(u32::MAX),
    ]
}

#[cfg(test)]
mod tests;
