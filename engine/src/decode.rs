//! Video decoding, once per source, with deinterlacing and rotation applied before fan-out.

use std::path::Path;

use ff::{codec, decoder, filter, frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::error::Error;

/// Decodes the planned video stream and yields upright, progressive frames whose pts are
/// in the stream's time base.
pub(crate) struct VideoDecoder {
    decoder: decoder::Video,
    filter: Option<Filter>,
    time_base: Rational,
    decoded: frame::Video,
}

impl VideoDecoder {
    /// Opens the decoder of stream `index`; `rotation` is clockwise degrees to undo;
    /// `input_filter` denoises or deblocks; `threads` 0 lets FFmpeg pick.
    pub fn open(
        path: &Path,
        stream: &ff::format::stream::Stream,
        rotation: u32,
        interlaced: bool,
        input_filter: Option<&profiles::InputFilter>,
        threads: usize,
    ) -> Result<Self, Error> {
        let time_base = stream.time_base();
        let mut ctx = codec::Context::from_parameters(stream.parameters())
            .map_err(Error::ffmpeg("reading the video stream parameters"))?;
        // Frame threads (automatic count for a transcode): decoding is the serial head of
        // the pipeline.
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: threads,
            ..Default::default()
        });
        let id = stream.parameters().id();
        if ff::decoder::find(id).is_none() {
            return Err(Error::UnsupportedCodec {
                path: path.to_path_buf(),
                index: stream.index(),
                codec: match id {
                    codec::Id::None => "unknown".to_string(),
                    other => other.name().to_string(),
                },
            });
        }
        let mut decoder = ctx
            .decoder()
            .video()
            .map_err(Error::ffmpeg("opening the video decoder"))?;
        decoder.set_packet_time_base(time_base);

        let mut chain = Vec::new();
        if interlaced {
            // One output frame per input frame keeps the frame rate and timestamps.
            chain.push("yadif=mode=send_frame:parity=auto:deint=interlaced".to_string());
        }
        if let Some(f) = input_filter {
            chain.extend(input_filters(f, id));
        }
        match rotation {
            90 => chain.push("transpose=clock".into()),
            180 => chain.push("hflip,vflip".into()),
            270 => chain.push("transpose=cclock".into()),
            _ => {}
        }
        let mut filter = if chain.is_empty() {
            None
        } else {
            let aspect = decoder.aspect_ratio();
            let input = (decoder.width(), decoder.height(), decoder.format());
            Some(Filter::new(chain.join(","), input, aspect, time_base)?)
        };
        // Filters may change the time base (yadif halves it): frames come out in the sink's.
        let out_tb = match filter.as_mut().and_then(|f| f.graph.get("out")) {
            Some(mut sink) => sink.sink().time_base(),
            None => time_base,
        };
        Ok(VideoDecoder {
            decoder,
            filter,
            time_base: out_tb,
            decoded: frame::Video::empty(),
        })
    }

    /// Forgets every buffered frame and packet, as after a seek.
    pub fn reset(&mut self) -> Result<(), Error> {
        self.decoder.flush();
        if let Some(f) = self.filter.as_mut() {
            // Filters keep frames of their own (yadif looks one ahead): start them afresh.
            *f = Filter::new(f.chain.clone(), f.input, f.aspect, f.in_tb)?;
        }
        Ok(())
    }

    /// The time base of the frames this decoder yields.
    pub fn time_base(&self) -> Rational {
        self.time_base
    }

    /// Sends a packet (or end of stream with `None`), then hands every frame that is ready
    /// to `sink`.
    pub fn decode(
        &mut self,
        packet: Option<&Packet>,
        sink: &mut dyn FnMut(frame::Video) -> Result<(), Error>,
    ) -> Result<(), Failure> {
        match packet {
            Some(p) => self.decoder.send_packet(p)?,
            None => self.decoder.send_eof()?,
        }
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    let ts = self.decoded.timestamp();
                    self.decoded.set_pts(ts);
                    let f = std::mem::replace(&mut self.decoded, frame::Video::empty());
                    self.filtered(Some(f), sink)?;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(ff::Error::Eof) => {
                    self.filtered(None, sink)?;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn filtered(
        &mut self,
        frame: Option<frame::Video>,
        sink: &mut dyn FnMut(frame::Video) -> Result<(), Error>,
    ) -> Result<(), Failure> {
        let Some(filter) = self.filter.as_mut() else {
            if let Some(f) = frame {
                sink(f).map_err(Failure::Other)?;
            }
            return Ok(());
        };
        if let Some(f) = &frame {
            let input = (f.width(), f.height(), f.format());
            if input != filter.input {
                // The source changed size or format mid-stream: a graph built for the old
                // one would crop or misread the new frames. Drain it and build anew.
                filter
                    .graph
                    .get("in")
                    .ok_or(ff::Error::Bug)?
                    .source()
                    .flush()?;
                filter.drain(sink)?;
                let rebuilt =
                    Filter::new(filter.chain.clone(), input, f.aspect_ratio(), filter.in_tb)
                        .map_err(Failure::Other)?;
                *filter = rebuilt;
            }
        }
        match &frame {
            Some(f) => filter
                .graph
                .get("in")
                .ok_or(ff::Error::Bug)?
                .source()
                .add(f)?,
            None => filter
                .graph
                .get("in")
                .ok_or(ff::Error::Bug)?
                .source()
                .flush()?,
        }
        filter.drain(sink)
    }
}

/// FFmpeg filters for MediaConvert's input filters at strength 1 to 5 (3 when AUTO):
/// hqdn3d's spatial luma strength 2.5 a step (7.5 at 3, nearly twice its default 4:
/// MediaConvert's filter is meant for visibly noisy sources), the other three derived
/// from it as hqdn3d does; deblock's thresholds scaled from its defaults
/// (alpha 0.098, the others 0.05, about strength 3). Deblock only for MPEG-2 and
/// uncompressed sources, as MediaConvert's.
fn input_filters(f: &profiles::InputFilter, codec: codec::Id) -> Vec<String> {
    let s = f64::from(f.strength.unwrap_or(3).clamp(1, 5));
    let mut chain = Vec::new();
    if f.deblock && matches!(codec, codec::Id::MPEG2VIDEO | codec::Id::RAWVIDEO) {
        let (a, b) = (0.033 * s, 0.017 * s);
        chain.push(format!(
            "deblock=filter=strong:block=8:alpha={a:.3}:beta={b:.3}:gamma={b:.3}:delta={b:.3}"
        ));
    }
    if f.denoise {
        chain.push(format!("hqdn3d=luma_spatial={:.2}", 2.5 * s));
    }
    chain
}

/// The deinterlace/rotate graph and the frame shape it was built for.
struct Filter {
    graph: filter::Graph,
    chain: String,
    input: (u32, u32, ff::format::Pixel),
    aspect: Rational,
    in_tb: Rational,
}

impl Filter {
    fn new(
        chain: String,
        input: (u32, u32, ff::format::Pixel),
        aspect: Rational,
        in_tb: Rational,
    ) -> Result<Filter, Error> {
        let (sn, sd) = if aspect.numerator() > 0 && aspect.denominator() > 0 {
            (aspect.numerator(), aspect.denominator())
        } else {
            (1, 1)
        };
        let pix: ff::ffi::AVPixelFormat = input.2.into();
        let args = format!(
            "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={sn}/{sd}",
            input.0,
            input.1,
            pix as i32,
            in_tb.numerator(),
            in_tb.denominator()
        );
        let graph = crate::filters::graph(false, &args, &chain)
            .map_err(Error::ffmpeg("setting up deinterlacing/rotation"))?;
        Ok(Filter {
            graph,
            chain,
            input,
            aspect,
            in_tb,
        })
    }

    fn drain(
        &mut self,
        sink: &mut dyn FnMut(frame::Video) -> Result<(), Error>,
    ) -> Result<(), Failure> {
        let mut out = frame::Video::empty();
        loop {
            match self
                .graph
                .get("out")
                .ok_or(ff::Error::Bug)?
                .sink()
                .frame(&mut out)
            {
                Ok(()) => {
                    let f = std::mem::replace(&mut out, frame::Video::empty());
                    sink(f).map_err(Failure::Other)?;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Why decoding stopped: FFmpeg refused the data, or the consumer of frames failed.
pub(crate) enum Failure {
    /// The decoder or filter failed.
    Decode(ff::Error),
    /// Something already described as an engine error: the frame sink failed (a worker
    /// died, the run was cancelled) or a filter could not be rebuilt.
    Other(Error),
}

impl From<ff::Error> for Failure {
    fn from(e: ff::Error) -> Self {
        Failure::Decode(e)
    }
}
