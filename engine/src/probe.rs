//! Probing: what a source file contains, as a [`MediaInfo`].

use std::ffi::CStr;
use std::os::raw::c_char;
use std::path::Path;

use ff::ffi;
use ff::media::Type;
use ff::Rational;
use ffmpeg_next as ff;
use profiles::media::{AudioStream, MediaInfo, SubtitleStream, VideoStream};

use crate::error::Error;

/// Opens `path` and describes its container and streams.
pub fn probe(path: &Path) -> Result<MediaInfo, Error> {
    let input = open_input(path)?;
    Ok(describe(path, &input))
}

/// Whether `path` reads to the end its header declares: it opens as media, and the last
/// seconds of its video are there (a seek near the declared end, then its packets read to
/// the end of the file; no decoding). A file still being written fails it: an MP4 whose
/// index is not written yet is not media, one whose index is there but whose data stops
/// short is truncated. A file that declares no length passes (nothing to compare).
pub fn complete(path: &Path) -> Result<(), Error> {
    let mut input = open_input(path)?;
    // SAFETY: reads a plain field of the open context.
    let guessed = unsafe { (*input.as_ptr()).duration_estimation_method }
        == ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE;
    if guessed {
        // A length guessed from the size and bit rate says nothing about completeness.
        return Ok(());
    }
    let Some(stream) = input.streams().best(Type::Video) else {
        // Planning says "no video stream" with its own error.
        return Ok(());
    };
    let (index, tb) = (stream.index(), f64::from(stream.time_base()));
    let start = match stream.start_time() {
        t if t == ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let fps = f64::from(stream.avg_frame_rate());
    if stream.duration() <= 0 || tb <= 0.0 {
        return Ok(());
    }
    let declared = (start + stream.duration()) as f64 * tb;
    let from = ((declared - 2.0).max(0.0) * f64::from(ffi::AV_TIME_BASE)) as i64;
    // A seek that fails reads from where the probe left off: slower, not wrong.
    let _ = input.seek(from, ..from);
    let mut packet = ff::Packet::empty();
    let mut end = None::<f64>;
    loop {
        match packet.read(&mut input) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            // Data that stops mid-packet: the end is where the last whole one ends.
            Err(ff::Error::InvalidData) => break,
            Err(e) => {
                return Err(Error::ReadFailed {
                    path: path.to_path_buf(),
                    at: end.unwrap_or(0.0),
                    source: e,
                })
            }
        }
        if packet.stream() != index {
            continue;
        }
        if let Some(pts) = packet.pts() {
            let e = (pts + packet.duration().max(0)) as f64 * tb;
            end = Some(end.map_or(e, |x: f64| x.max(e)));
        }
    }
    // Two frame times of slack, as the transcode's own truncation check allows.
    let slack = if fps > 0.0 { 2.0 / fps } else { 0.1 };
    match end {
        Some(e) if e >= declared - slack => Ok(()),
        found => Err(Error::Truncated {
            path: path.to_path_buf(),
            decoded: found.unwrap_or(0.0),
            declared,
        }),
    }
}

/// Checks the file and opens it with libavformat, mapping failures to clear errors.
pub(crate) fn open_input(path: &Path) -> Result<ff::format::context::Input, Error> {
    crate::init();
    if path.to_str().is_none() {
        // ffmpeg-next would panic on it: FFmpeg takes paths as UTF-8 C strings.
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path is not valid UTF-8",
            ),
        });
    }
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        _ => Error::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    ff::format::input(path).map_err(|source| Error::NotMedia {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn describe(path: &Path, input: &ff::format::context::Input) -> MediaInfo {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let duration = if input.duration() > 0 {
        input.duration() as f64 / f64::from(ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    let bit_rate = match input.bit_rate() {
        b if b > 0 => Some(b as u64),
        _ => None,
    };
    let mut info = MediaInfo {
        path: path.display().to_string(),
        container: input.format().name().to_string(),
        duration,
        size,
        bit_rate,
        video: Vec::new(),
        audio: Vec::new(),
        subtitles: Vec::new(),
    };
    for stream in input.streams() {
        let par = stream.parameters();
        let language = stream.metadata().get("language").map(str::to_string);
        // Matroska has no per-stream duration in its header; its muxers write a DURATION tag.
        let seconds = stream_seconds(stream.duration(), stream.time_base())
            .or_else(|| stream.metadata().get("DURATION").and_then(parse_clock));
        // SAFETY: `par` wraps the stream's live AVCodecParameters, valid while `input` is.
        let raw = unsafe { &*par.as_ptr() };
        let stream_bit_rate = (raw.bit_rate > 0).then_some(raw.bit_rate as u64);
        match par.medium() {
            Type::Video => {
                if stream
                    .disposition()
                    .contains(ff::format::stream::Disposition::ATTACHED_PIC)
                {
                    continue;
                }
                let (width, height) = (raw.width.max(0) as u32, raw.height.max(0) as u32);
                let sar = ratio(raw.sample_aspect_ratio.num, raw.sample_aspect_ratio.den)
                    .unwrap_or([1, 1]);
                let dar = reduce(
                    u64::from(width) * u64::from(sar[0]),
                    u64::from(height) * u64::from(sar[1]),
                );
                let avg = stream.avg_frame_rate();
                let base = stream.rate();
                let frame_rate = ratio(avg.numerator(), avg.denominator())
                    .or_else(|| ratio(base.numerator(), base.denominator()))
                    .unwrap_or([0, 1]);
                let variable = match (
                    ratio(avg.numerator(), avg.denominator()),
                    ratio(base.numerator(), base.denominator()),
                ) {
                    (Some(a), Some(b)) => a != b,
                    _ => false,
                };
                // SAFETY: format is an AVPixelFormat value from libavcodec.
                let pix: ffi::AVPixelFormat = unsafe { std::mem::transmute(raw.format) };
                info.video.push(VideoStream {
                    index: stream.index(),
                    codec: codec_name(par.id()),
                    profile: profile_name(raw.codec_id, raw.profile),
                    level: level_name(raw.codec_id, raw.level),
                    width,
                    height,
                    sample_aspect: sar,
                    display_aspect: dar,
                    rotation: rotation(&stream),
                    frame_rate,
                    variable_frame_rate: variable,
                    pixel_format: cstr(unsafe { ffi::av_get_pix_fmt_name(pix) })
                        .unwrap_or_else(|| "unknown".into()),
                    bit_depth: bit_depth(pix),
                    color_primaries: cstr(unsafe {
                        ffi::av_color_primaries_name(raw.color_primaries)
                    })
                    .filter(|s| s != "unknown"),
                    color_transfer: cstr(unsafe { ffi::av_color_transfer_name(raw.color_trc) })
                        .filter(|s| s != "unknown"),
                    color_space: cstr(unsafe { ffi::av_color_space_name(raw.color_space) })
                        .filter(|s| s != "unknown"),
                    color_range: cstr(unsafe { ffi::av_color_range_name(raw.color_range) })
                        .filter(|s| s != "unknown"),
                    field_order: field_order(raw.field_order),
                    duration: seconds,
                    bit_rate: stream_bit_rate,
                });
            }
            Type::Audio => {
                let layout = &raw.ch_layout;
                let mut buf = [0 as c_char; 64];
                // SAFETY: buf is large enough and NUL-terminated by av_channel_layout_describe.
                let described =
                    unsafe { ffi::av_channel_layout_describe(layout, buf.as_mut_ptr(), buf.len()) };
                let channel_layout = if described > 0
                    && layout.order != ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC
                {
                    cstr(buf.as_ptr())
                } else {
                    None
                };
                info.audio.push(AudioStream {
                    index: stream.index(),
                    codec: codec_name(par.id()),
                    profile: profile_name(raw.codec_id, raw.profile),
                    channels: layout.nb_channels.max(0) as u32,
                    channel_layout,
                    sample_rate: raw.sample_rate.max(0) as u32,
                    language,
                    duration: seconds,
                    bit_rate: stream_bit_rate,
                });
            }
            Type::Subtitle => info.subtitles.push(SubtitleStream {
                index: stream.index(),
                codec: codec_name(par.id()),
                language,
            }),
            _ => {}
        }
    }
    info
}

fn stream_seconds(duration: i64, tb: Rational) -> Option<f64> {
    (duration > 0 && tb.denominator() != 0).then(|| duration as f64 * f64::from(tb))
}

/// Parses `HH:MM:SS.fraction` (Matroska's DURATION tag) into seconds.
fn parse_clock(text: &str) -> Option<f64> {
    let mut parts = text.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let v =
        h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    (v > 0.0 && v.is_finite()).then_some(v)
}

fn codec_name(id: ff::codec::Id) -> String {
    id.name().to_string()
}

fn cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: FFmpeg returns static NUL-terminated names.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

fn profile_name(id: ffi::AVCodecID, profile: i32) -> Option<String> {
    // SAFETY: avcodec_profile_name returns a static string or NULL.
    cstr(unsafe { ffi::avcodec_profile_name(id, profile) })
}

fn level_name(id: ffi::AVCodecID, level: i32) -> Option<String> {
    if level <= 0 {
        return None;
    }
    Some(match id {
        ffi::AVCodecID::AV_CODEC_ID_H264 => format!("{}.{}", level / 10, level % 10),
        ffi::AVCodecID::AV_CODEC_ID_HEVC => format!("{}.{}", level / 30, (level % 30) / 3),
        _ => level.to_string(),
    })
}

fn bit_depth(pix: ffi::AVPixelFormat) -> u32 {
    // SAFETY: av_pix_fmt_desc_get returns NULL or a static descriptor.
    let desc = unsafe { ffi::av_pix_fmt_desc_get(pix) };
    if desc.is_null() {
        0
    } else {
        unsafe { (*desc).comp[0].depth.max(0) as u32 }
    }
}

fn field_order(f: ffi::AVFieldOrder) -> Option<String> {
    use ffi::AVFieldOrder::*;
    Some(
        match f {
            AV_FIELD_PROGRESSIVE => "progressive",
            AV_FIELD_TT => "tt",
            AV_FIELD_BB => "bb",
            AV_FIELD_TB => "tb",
            AV_FIELD_BT => "bt",
            _ => return None,
        }
        .to_string(),
    )
}

/// Clockwise rotation a player applies, from the display matrix or the legacy `rotate` tag.
fn rotation(stream: &ff::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == ff::codec::packet::side_data::Type::DisplayMatrix && sd.data().len() >= 36 {
            let mut m = [0i32; 9];
            for (i, v) in m.iter_mut().enumerate() {
                let b = &sd.data()[i * 4..i * 4 + 4];
                *v = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            }
            // SAFETY: m is a 3x3 display matrix as FFmpeg defines it.
            let ccw = unsafe { ffi::av_display_rotation_get(m.as_ptr()) };
            if ccw.is_nan() {
                return 0;
            }
            return normalize(-(ccw.round() as i64));
        }
    }
    stream
        .metadata()
        .get("rotate")
        .and_then(|r| r.parse::<i64>().ok())
        .map(normalize)
        .unwrap_or(0)
}

fn normalize(deg: i64) -> u32 {
    let d = deg.rem_euclid(360);
    // Only quarter turns are meaningful for video; snap anything else.
    (((d + 45) / 90 * 90) % 360) as u32
}

fn ratio(num: i32, den: i32) -> Option<[u32; 2]> {
    (num > 0 && den > 0).then(|| reduce(num as u64, den as u64))
}

fn reduce(a: u64, b: u64) -> [u32; 2] {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = gcd(a, b).max(1);
    [(a / g) as u32, (b / g).max(1) as u32]
}

#[cfg(test)]
mod tests {
    #[test]
    fn matroska_duration_tags_parse() {
        assert_eq!(super::parse_clock("00:00:02.021000000"), Some(2.021));
        assert_eq!(super::parse_clock("01:02:03.5"), Some(3723.5));
        assert_eq!(super::parse_clock("garbage"), None);
    }
}
