//! The animated WebP preview: the preview's window of the source, small and at a low frame
//! rate, through libwebp's animation encoder.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use ff::{codec, encoder, format::Pixel, Dictionary, Packet, Rational};
use ffmpeg_next as ff;

use crate::error::Error;
use crate::mux::{Muxer, StreamSpec};
use crate::rung::{open_checked, Finished, Msg, Scaler};

/// Where and how to write the animation.
pub(crate) struct Setup {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub quality: u8,
    /// Time base of incoming frame pts.
    pub time_base: Rational,
}

/// Milliseconds: WebP frame durations are whole milliseconds.
const MS: Rational = Rational(1, 1000);

/// Encodes the frames it receives (audio is ignored) until the sender hangs up.
pub(crate) fn run(s: Setup, rx: Receiver<Msg>) -> Result<Finished, Error> {
    let stage = "opening the animated WebP encoder";
    let webp = encoder::find_by_name("libwebp_anim")
        .ok_or(ff::Error::EncoderNotFound)
        .map_err(Error::ffmpeg(stage))?;
    let mut enc = codec::Context::new_with_codec(webp)
        .encoder()
        .video()
        .map_err(Error::ffmpeg(stage))?;
    enc.set_width(s.width);
    enc.set_height(s.height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(MS);
    let mut opts = Dictionary::new();
    opts.set("lossless", "0");
    opts.set("quality", &s.quality.to_string());
    let opened = open_checked(enc.0 .0, webp, opts, "libwebp_anim")?;
    let mut enc = encoder::video::Encoder(opened.encoder().video().map_err(Error::ffmpeg(stage))?);
    let spec = StreamSpec {
        parameters: codec::Parameters::from(&enc),
        time_base: MS,
    };
    let mut muxer = Muxer::webp(&s.path, std::slice::from_ref(&spec))?;
    let tick = f64::from(s.time_base);
    let step = 1.0 / s.fps;
    let mut next = 0.0;
    let mut frames = 0;
    let mut scaler = Scaler::new(s.width, s.height);
    for msg in rx {
        let Msg::Video(f) = msg else { continue };
        let t = f.pts().unwrap_or(0) as f64 * tick;
        // Keep the first frame at or after each 1/fps step.
        if t + 1e-6 < next {
            continue;
        }
        while next <= t + 1e-6 {
            next += step;
        }
        let mut out = scaler.scale(&f)?;
        out.set_pts(Some((t * 1000.0).round() as i64));
        enc.send_frame(&out)
            .map_err(Error::ffmpeg("encoding the animated WebP"))?;
        frames += 1;
        drain(&mut enc, &mut muxer)?;
    }
    enc.send_eof()
        .map_err(Error::ffmpeg("flushing the animated WebP encoder"))?;
    drain(&mut enc, &mut muxer)?;
    muxer.finish()?;
    Ok(Finished {
        name: "preview-webp".into(),
        codec: "webp".into(),
        frames,
    })
}

fn drain(enc: &mut encoder::video::Encoder, muxer: &mut Muxer) -> Result<(), Error> {
    loop {
        let mut p = Packet::empty();
        match enc.receive_packet(&mut p) {
            Ok(()) => muxer.write(0, &p)?,
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => return Ok(()),
            Err(ff::Error::Eof) => return Ok(()),
            Err(e) => return Err(Error::ffmpeg("encoding the animated WebP")(e)),
        }
    }
}
