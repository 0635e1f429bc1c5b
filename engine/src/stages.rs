//! One stage of the pipeline at a time, for the criterion benchmarks in `benches/`.
//!
//! These run the same code as `transcode` (the decoder, the shared clock, a rung's scaler
//! and encoder, the manifest writers) without the rest of the pipeline around them, so the
//! cost of each stage can be measured on its own. Not a stable API.

use std::path::Path;
use std::sync::mpsc::channel;

use ff::{frame, Packet, Rational};
use ffmpeg_next as ff;
use profiles::{PlannedRendition, VideoSettings};

use crate::clock::Clock;
use crate::decode::{Failure, VideoDecoder};
use crate::error::Error;
use crate::rung::{self, Msg};

/// Decoded frames, stamped as the pipeline stamps them, with their time base and rate.
pub struct Frames {
    frames: Vec<frame::Video>,
    time_base: Rational,
    frame_rate: Rational,
}

impl Frames {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Size of the frames.
    pub fn size(&self) -> (u32, u32) {
        self.frames
            .first()
            .map_or((0, 0), |f| (f.width(), f.height()))
    }
}

/// Demuxes and decodes the first video stream of `path` (at most `limit` frames).
pub fn decode(path: &Path, limit: usize) -> Result<Frames, Error> {
    let mut input = crate::probe::open_input(path)?;
    let ist = input
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| Error::Internal("no video stream".into()))?;
    let index = ist.index();
    let rate = ist.avg_frame_rate();
    let mut decoder = VideoDecoder::open(path, &ist, 0, false, None, 0)?;
    let tb = decoder.time_base();
    let fps = f64::from(rate);
    let mut clock = Clock::new(0, tb, 2.0, fps, 1);
    let mut frames = Vec::new();
    let mut packet = Packet::empty();
    let mut sink = |f: frame::Video| -> Result<(), Error> {
        if frames.len() < limit {
            if let Some(f) = clock.stamp(f) {
                frames.push(f);
            }
        }
        Ok(())
    };
    let fail = |e: Failure| match e {
        Failure::Decode(e) => Error::ffmpeg("decoding")(e),
        Failure::Other(e) => e,
    };
    while packet.read(&mut input).is_ok() {
        if packet.stream() == index {
            decoder.decode(Some(&packet), &mut sink).map_err(fail)?;
        }
    }
    decoder.decode(None, &mut sink).map_err(fail)?;
    Ok(Frames {
        frames,
        time_base: tb,
        frame_rate: rate,
    })
}

/// Scales every frame to `width`x`height` yuv420p with the rungs' scaler settings.
pub fn scale(frames: &Frames, width: u32, height: u32) -> Result<Frames, Error> {
    let mut scaler = rung::Scaler::new(width, height);
    let out = frames
        .frames
        .iter()
        .map(|f| scaler.scale(f))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Frames {
        frames: out,
        time_base: frames.time_base,
        frame_rate: frames.frame_rate,
    })
}

/// Runs one rung (scale if needed, then x264) over the frames, writing no files.
pub fn encode(
    frames: &Frames,
    rendition: &PlannedRendition,
    video: &VideoSettings,
    threads: usize,
) -> Result<(), Error> {
    let (tx, rx) = channel();
    for f in &frames.frames {
        tx.send(Msg::Video(crate::pipeline::share(f)?))
            .map_err(|_| Error::Internal("queue closed".into()))?;
    }
    drop(tx);
    let fps = f64::from(frames.frame_rate);
    let setup = rung::Setup {
        rendition: rendition.clone(),
        video: video.clone(),
        time_base: frames.time_base,
        frame_rate: frames.frame_rate,
        gop_frames: (video.gop_seconds * fps).round().max(1.0) as u32,
        segment_seconds: video.segment_seconds,
        fmp4_offset: 0.0,
        threads,
        lanes: 1,
        targets: Vec::new(),
        audio: Vec::new(),
        color: rung::Color::default(),
    };
    rung::run(setup, rx).map(|_| ())
}

/// Converts frame `index` to an RGB picture of `width`x`height` and encodes it, as
/// thumbnails are made; returns the encoded size.
pub fn picture(
    frames: &Frames,
    index: usize,
    width: u32,
    height: u32,
    format: profiles::ImageFormat,
    quality: u8,
) -> Result<usize, Error> {
    let f = frames
        .frames
        .get(index)
        .ok_or_else(|| Error::Internal("no such frame".into()))?;
    let img = crate::picture::Converter::new(width, height).rgb(f)?;
    Ok(crate::picture::encode(&img, format, quality)?.len())
}
