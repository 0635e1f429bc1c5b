//! HLS playlists: a multivariant (master) playlist per group and a media playlist per
//! output, after Apple's HLS authoring rules (VOD, independent segments, BANDWIDTH from the
//! measured peak segment bitrate, AVERAGE-BANDWIDTH from the whole stream).

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist,
    MediaPlaylistType, MediaSegment, Resolution, VariantStream,
};

use crate::error::Error;
use crate::uri;

/// One packaged output (a rung, or the audio) as the manifests see it.
#[derive(Debug, Clone)]
pub struct PackagedOutput {
    /// Rendition name (`1080p`, `audio`).
    pub name: String,
    /// Video picture size and frame rate, or `None` for audio-only outputs.
    pub video: Option<(u32, u32, f64)>,
    /// Audio channels, when the output carries audio.
    pub audio_channels: Option<u32>,
    /// Audio sample rate, when the output carries audio.
    pub audio_rate: Option<u32>,
    /// RFC 6381 codec strings of what the output carries, comma separated.
    pub codecs: String,
    /// File name of the media playlist, relative to the group folder.
    pub playlist: String,
    /// File name of the init segment, for fMP4.
    pub init: Option<String>,
    /// Where the init and the segment index lie in the output's one file (SINGLE_FILE fMP4).
    pub single: Option<SingleFile>,
    /// Media segments in order.
    pub segments: Vec<Segment>,
}

/// The layout of a single-file fMP4 output: its init, its `sidx`, then its segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingleFile {
    /// Bytes of the init segment, at the start of the file.
    pub init: u64,
    /// Byte range (first, last, inclusive) of the `sidx` indexing the segments.
    pub index: (u64, u64),
}

/// One media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// File name relative to the group folder.
    pub file: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Size in bytes.
    pub bytes: u64,
    /// Where it starts in `file` when it is a byte range of it (SINGLE_FILE outputs).
    pub offset: Option<u64>,
}

impl PackagedOutput {
    /// Total duration in seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// Average bitrate over the whole output, bits per second.
    pub fn average_bandwidth(&self) -> u64 {
        let bytes: u64 = self.segments.iter().map(|s| s.bytes).sum();
        let d = self.duration();
        if d > 0.0 {
            (bytes as f64 * 8.0 / d).ceil() as u64
        } else {
            0
        }
    }

    /// Peak segment bitrate, bits per second, by the HLS spec's rule: the highest bitrate
    /// of any run of contiguous segments lasting 0.5 to 1.5 times the target duration
    /// (RFC 8216bis, 4.4.6.2). Never below the average.
    pub fn peak_bandwidth(&self, target: f64) -> u64 {
        let mut peak: f64 = 0.0;
        for i in 0..self.segments.len() {
            let (mut seconds, mut bytes) = (0.0, 0u64);
            for s in &self.segments[i..] {
                seconds += s.duration;
                bytes += s.bytes;
                if seconds > 1.5 * target {
                    break;
                }
                if seconds >= 0.5 * target {
                    peak = peak.max(bytes as f64 * 8.0 / seconds);
                }
            }
        }
        (peak.ceil() as u64).max(self.average_bandwidth())
    }
}

/// Reads the segment list the segmenting muxer wrote into its playlist.
pub(crate) fn read_muxer_playlist(text: &[u8], label: &str) -> Result<Vec<(String, f64)>, Error> {
    match m3u8_rs::parse_media_playlist_res(text) {
        Ok(p) => Ok(p
            .segments
            .into_iter()
            .map(|s| (s.uri, f64::from(s.duration)))
            .collect()),
        Err(e) => Err(Error::Internal(format!(
            "cannot read the segment list {label}: {e}"
        ))),
    }
}

/// The media playlist of one output; with `whole`, its durations rounded to whole
/// seconds (`ManifestDurationFormat: INTEGER`).
/// `dated`: the first frame's wall-clock time and the seconds between
/// `EXT-X-PROGRAM-DATE-TIME` tags, the first on the first segment, then one on the first
/// segment starting at or after each further period.
pub fn media_playlist(
    out: &PackagedOutput,
    target: f64,
    whole: bool,
    dated: Option<(chrono::DateTime<chrono::FixedOffset>, u32)>,
) -> Result<String, Error> {
    let longest = out.segments.iter().map(|s| s.duration).fold(0.0, f64::max);
    let mut start = 0.0;
    let mut next_tag = 0.0;
    let mut program_date_time = |duration: f64| {
        let at = start;
        start += duration;
        let (first, period) = dated?;
        if at + 1e-6 < next_tag {
            return None;
        }
        let period = f64::from(period.max(1));
        next_tag = ((at + 1e-6) / period).floor() * period + period;
        Some(first + chrono::Duration::milliseconds((at * 1000.0).round() as i64))
    };
    let segments = out
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| MediaSegment {
            program_date_time: program_date_time(s.duration),
            byte_range: s.offset.map(|offset| ByteRange {
                length: s.bytes,
                offset: Some(offset),
            }),
            uri: uri::encode(&s.file),
            duration: if whole {
                s.duration.round()
            } else {
                s.duration
            } as f32,
            map: match (i, &out.init) {
                (0, Some(init)) => Some(Map {
                    uri: uri::encode(init),
                    byte_range: out.single.map(|f| ByteRange {
                        length: f.init,
                        offset: Some(0),
                    }),
                    ..Default::default()
                }),
                _ => None,
            },
            ..Default::default()
        })
        .collect();
    let playlist = MediaPlaylist {
        // EXT-X-MAP in a playlist without I-frames only needs version 6; 7 covers fMP4 whole.
        // EXT-X-BYTERANGE needs version 4.
        version: Some(
            match (&out.init, out.segments.iter().any(|s| s.offset.is_some())) {
                (Some(_), _) => 7,
                (None, true) => 4,
                (None, false) => 3,
            },
        ),
        target_duration: longest.round().max(target.round()).max(1.0) as u64,
        media_sequence: 1,
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        ..Default::default()
    };
    write(|w| playlist.write_to(w))
}

/// The multivariant playlist of a group. `audio` are the separate audio outputs, if any:
/// one audio group, the first its default. Every variant's CODECS adds theirs, and its
/// bandwidths add the largest of theirs (RFC 8216bis 4.4.6.2: BANDWIDTH bounds the variant
/// played with any rendition of its group).
pub fn master_playlist(
    videos: &[PackagedOutput],
    audio: &[PackagedOutput],
    target: f64,
) -> Result<String, Error> {
    const GROUP: &str = "audio";
    let alternatives = audio
        .iter()
        .enumerate()
        .map(|(i, a)| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(uri::encode(&a.playlist)),
            group_id: GROUP.into(),
            // NAME is unique within a group: the first keeps the plain name it always had.
            name: if i == 0 {
                "Audio".into()
            } else {
                a.name.clone()
            },
            default: i == 0,
            autoselect: true,
            channels: a.audio_channels.map(|c| c.to_string()),
            ..Default::default()
        })
        .collect();
    let peak_a = audio.iter().map(|a| a.peak_bandwidth(target)).max();
    let avg_a = audio.iter().map(|a| a.average_bandwidth()).max();
    let mut audio_codecs: Vec<&str> = Vec::new();
    for a in audio {
        if !audio_codecs.contains(&a.codecs.as_str()) {
            audio_codecs.push(&a.codecs);
        }
    }
    let variants = videos
        .iter()
        .map(|v| {
            let codecs = std::iter::once(v.codecs.as_str())
                .chain(audio_codecs.iter().copied())
                .collect::<Vec<_>>()
                .join(",");
            VariantStream {
                uri: uri::encode(&v.playlist),
                bandwidth: v.peak_bandwidth(target) + peak_a.unwrap_or(0),
                average_bandwidth: Some(v.average_bandwidth() + avg_a.unwrap_or(0)),
                codecs: Some(codecs),
                resolution: v.video.map(|(w, h, _)| Resolution {
                    width: u64::from(w),
                    height: u64::from(h),
                }),
                // Three decimals, as the HLS spec's decimal-floating-point allows.
                frame_rate: v.video.map(|(_, _, fps)| (fps * 1000.0).round() / 1000.0),
                audio: (!audio.is_empty()).then(|| GROUP.to_string()),
                ..Default::default()
            }
        })
        .collect();
    let master = MasterPlaylist {
        version: Some(if videos.iter().any(|v| v.init.is_some()) {
            7
        } else {
            3
        }),
        variants,
        independent_segments: true,
        alternatives,
        ..Default::default()
    };
    write(|w| master.write_to(w))
}

fn write(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<String, Error> {
    let mut buf = Vec::new();
    f(&mut buf).map_err(|e| Error::Internal(format!("writing a playlist: {e}")))?;
    String::from_utf8(buf).map_err(|e| Error::Internal(format!("playlist is not UTF-8: {e}")))
}
