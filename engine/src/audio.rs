//! Audio, encoded once per distinct setting: decode, resample or down-mix, encode AAC.
//! Each encoding's packets are shared by every output that asks for it.

use std::os::raw::c_char;

use ff::{codec, decoder, encoder, filter, frame, Packet, Rational};
use ffmpeg_next as ff;
use profiles::PlannedAudio;

use crate::error::Error;
use crate::mux::StreamSpec;

/// The audio chain of one transcode.
pub(crate) struct AudioPipeline {
    /// One per selected source track; several are merged into one stream's channels.
    tracks: Vec<Track>,
    graph: filter::Graph,
    /// The filter chain for a rebuilt graph.
    chain: String,
    encoder: encoder::audio::Encoder,
    /// The part of the timeline the current input makes.
    piece: Piece,
    /// The time base of the resampling graph's inputs (the first input's first track's).
    in_tb: Rational,
    out_tb: Rational,
    decoded: frame::Audio,
    filtered: frame::Audio,
    /// The pts the next encoder input frame must not precede.
    next_pts: i64,
}

/// One source track of the audio: its decoder and the shape its graph input was built for.
struct Track {
    decoder: decoder::Audio,
    /// The decoder's packet time base.
    tb: Rational,
    shape: Shape,
}

impl Track {
    fn open(stream: &ff::format::stream::Stream) -> Result<Track, Error> {
        let decoder = open_decoder(stream)?;
        Ok(Track {
            shape: Shape::of_decoder(&decoder),
            decoder,
            tb: stream.time_base(),
        })
    }
}

/// Where the current input's audio goes on the timeline.
struct Piece {
    /// Source seconds that become `base`: the shared zero of audio and video.
    start: f64,
    /// Timeline seconds where this input begins.
    base: f64,
    /// Seconds of it kept; `None` to its end.
    length: Option<f64>,
}

/// An audio decoder for `stream`, its packets in the stream's time base.
fn open_decoder(stream: &ff::format::stream::Stream) -> Result<decoder::Audio, Error> {
    let ctx = codec::Context::from_parameters(stream.parameters())
        .map_err(Error::ffmpeg("reading the audio stream parameters"))?;
    let mut decoder = ctx
        .decoder()
        .audio()
        .map_err(Error::ffmpeg("opening the audio decoder"))?;
    decoder.set_packet_time_base(stream.time_base());
    Ok(decoder)
}

/// Why an audio pipeline call failed: the source's audio could not be decoded (bad
/// input), or mpe's own resampling or encoding failed (not the source's fault).
#[derive(Debug)]
pub enum AudioFailure {
    /// A decoder refused the source's audio.
    Decode(ff::Error),
    /// The filter graph or the AAC encoder failed.
    Process(ff::Error),
}

impl From<ff::Error> for AudioFailure {
    fn from(e: ff::Error) -> AudioFailure {
        AudioFailure::Process(e)
    }
}

impl AudioPipeline {
    /// Opens decoders (one per selected track of `streams`), filter and AAC encoder.
    /// `start` is the shared zero in seconds, and `end` the video duration audio is
    /// trimmed to (so both end in the same segment).
    pub fn open(
        streams: &[ff::format::stream::Stream],
        plan: &PlannedAudio,
        start: f64,
        end: Option<f64>,
    ) -> Result<Self, Error> {
        let first = streams
            .first()
            .ok_or_else(|| Error::Internal("audio planned without a stream".into()))?;
        let in_tb = first.time_base();
        let tracks = streams
            .iter()
            .map(Track::open)
            .collect::<Result<Vec<_>, _>>()?;

        let aac = encoder::find_by_name("aac")
            .ok_or(ff::Error::EncoderNotFound)
            .map_err(Error::ffmpeg("finding the AAC encoder"))?;
        let mut enc = codec::Context::new_with_codec(aac)
            .encoder()
            .audio()
            .map_err(Error::ffmpeg("creating the AAC encoder"))?;
        let rate = plan.sample_rate as i32;
        enc.set_rate(rate);
        enc.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
        enc.set_bit_rate(plan.bitrate as usize);
        enc.set_time_base(Rational::new(1, rate));
        // MP4 and fMP4 muxers need the AudioSpecificConfig as extradata.
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
        // SAFETY: sets the 5.1 channel-layout API field on a context not yet opened.
        unsafe {
            ff::ffi::av_channel_layout_default(
                &mut (*enc.as_mut_ptr()).ch_layout,
                plan.channels as i32,
            );
        }
        let opened = crate::rung::open_checked(enc.0 .0, aac, ff::Dictionary::new(), "aac")?;
        let encoder = encoder::audio::Encoder(
            opened
                .encoder()
                .audio()
                .map_err(Error::ffmpeg("opening the AAC encoder"))?,
        );

        let shapes: Vec<&Shape> = tracks.iter().map(|t| &t.shape).collect();
        let graph = build_graph(
            &shapes,
            in_tb,
            &chain(plan, end, true),
            encoder.frame_size(),
        )?;
        Ok(AudioPipeline {
            tracks,
            graph,
            chain: self::chain(plan, end, false),
            encoder,
            piece: Piece {
                start,
                base: 0.0,
                length: None,
            },
            in_tb,
            out_tb: Rational::new(1, rate),
            decoded: frame::Audio::empty(),
            filtered: frame::Audio::empty(),
            next_pts: 0,
        })
    }

    /// The encoded stream, for muxers.
    pub fn spec(&self) -> StreamSpec {
        StreamSpec {
            parameters: codec::Parameters::from(&self.encoder),
            time_base: self.out_tb,
        }
    }

    /// Ends the current input: what its decoders still hold goes on, and the stream
    /// carries on with [`AudioPipeline::next_input`] (or ends with `finish`).
    pub fn end_input(&mut self, out: &mut Vec<Packet>) -> Result<(), AudioFailure> {
        for i in 0..self.tracks.len() {
            // Ended already: an input without audio came between (or was last).
            match self.tracks[i].decoder.send_eof() {
                Err(ff::Error::Eof) => {}
                r => r.map_err(AudioFailure::Decode)?,
            }
            self.receive(i, out)?;
        }
        Ok(())
    }

    /// Goes on with `streams` (the same tracks) of the next input, `start` (its source
    /// seconds) at `base` seconds of the timeline, `length` seconds of it kept. Its
    /// frames are re-timed into the first input's time base, and a different format gets
    /// a graph of its own.
    pub fn next_input(
        &mut self,
        streams: &[ff::format::stream::Stream],
        start: f64,
        base: f64,
        length: Option<f64>,
    ) -> Result<(), Error> {
        if streams.len() != self.tracks.len() {
            return Err(Error::Internal(
                "a joined input selects other tracks".into(),
            ));
        }
        for (track, stream) in self.tracks.iter_mut().zip(streams) {
            track.decoder = open_decoder(stream)?;
            track.tb = stream.time_base();
        }
        self.piece = Piece {
            start,
            base,
            length,
        };
        Ok(())
    }

    /// Keeps only the first `length` seconds of the current input (a clip with an end).
    pub fn set_length(&mut self, length: Option<f64>) {
        self.piece.length = length;
    }

    /// Feeds a packet of selected track `track` and appends finished AAC packets to `out`.
    pub fn push(
        &mut self,
        track: usize,
        packet: &Packet,
        out: &mut Vec<Packet>,
    ) -> Result<(), AudioFailure> {
        let t = self.tracks.get_mut(track).ok_or(ff::Error::Bug)?;
        match t.decoder.send_packet(packet) {
            // A damaged audio packet is skipped, as players do, not fatal.
            Err(ff::Error::InvalidData) => return Ok(()),
            r => r.map_err(AudioFailure::Decode)?,
        }
        self.receive(track, out)
    }

    /// Ends the stream: drains every decoder, the graph and the encoder into `out`.
    pub fn finish(&mut self, out: &mut Vec<Packet>) -> Result<(), AudioFailure> {
        self.end_input(out)?;
        for i in 0..self.tracks.len() {
            self.feed(i, false)?;
        }
        self.drain_filter(out)?;
        self.encoder.send_eof()?;
        Ok(self.drain_encoder(out)?)
    }

    /// Hands the frame just decoded to track `i`'s graph input, or (`false`) ends it.
    fn feed(&mut self, i: usize, frame: bool) -> Result<(), ff::Error> {
        let name = crate::filters::source_name(i, self.tracks.len());
        let mut input = self.graph.get(&name).ok_or(ff::Error::Bug)?;
        let mut source = input.source();
        if frame {
            source.add(&self.decoded)
        } else {
            source.flush()
        }
    }

    /// Takes every frame track `i`'s decoder has ready into the graph and the encoder.
    fn receive(&mut self, i: usize, out: &mut Vec<Packet>) -> Result<(), AudioFailure> {
        loop {
            match self.tracks[i].decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    let Some(ts) = self.decoded.timestamp() else {
                        continue;
                    };
                    // Seconds into this input's part of the timeline.
                    let t = ts as f64 * f64::from(self.tracks[i].tb) - self.piece.start;
                    // Audio before the first video frame has no place in the ladder, nor
                    // audio past a clip's end. (Half a tick of slack: exact starts stay.)
                    let tick = f64::from(self.in_tb);
                    if t < -tick / 2.0 || self.piece.length.is_some_and(|l| t >= l) {
                        continue;
                    }
                    let shifted = ((t + self.piece.base) / tick).round() as i64;
                    self.decoded.set_pts(Some(shifted.max(0)));
                    let shape = Shape::of_frame(&self.decoded);
                    if shape != self.tracks[i].shape {
                        // Take what the old graph holds (no flush: that would pad the end),
                        // then resample the new format with a graph of its own.
                        self.drain_filter(out)?;
                        self.tracks[i].shape = shape;
                        let shapes: Vec<&Shape> = self.tracks.iter().map(|t| &t.shape).collect();
                        self.graph = build_graph(
                            &shapes,
                            self.in_tb,
                            &self.chain,
                            self.encoder.frame_size(),
                        )
                        .map_err(|_| ff::Error::InvalidData)?;
                    }
                    self.feed(i, true)?;
                    self.drain_filter(out)?;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(ff::Error::Eof) => break,
                Err(ff::Error::InvalidData) => continue,
                Err(e) => return Err(AudioFailure::Decode(e)),
            }
        }
        Ok(())
    }

    fn drain_filter(&mut self, out: &mut Vec<Packet>) -> Result<(), ff::Error> {
        loop {
            let got = self
                .graph
                .get("out")
                .ok_or(ff::Error::Bug)?
                .sink()
                .frame(&mut self.filtered);
            match got {
                Ok(()) => {
                    // A graph rebuilt mid-stream restarts its own clock: keep the encoder's
                    // input contiguous (timestamps in samples of the output rate).
                    let pts = self
                        .filtered
                        .pts()
                        .unwrap_or(self.next_pts)
                        .max(self.next_pts);
                    self.filtered.set_pts(Some(pts));
                    self.next_pts = pts + self.filtered.samples() as i64;
                    self.encoder.send_frame(&self.filtered)?;
                    self.drain_encoder(out)?;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    fn drain_encoder(&mut self, out: &mut Vec<Packet>) -> Result<(), ff::Error> {
        loop {
            let mut p = Packet::empty();
            match self.encoder.receive_packet(&mut p) {
                Ok(()) => out.push(p),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The resampling chain. async=1 fills gaps with silence and drops overlaps (spliced TS,
/// broken muxers), so the encoder always sees monotonic, contiguous audio; the first graph
/// also starts it at zero (`first_pts`), which a graph rebuilt mid-stream must not, or it
/// would pad everything before it again. The end is padded with silence and trimmed to the
/// video's, as the video is the timeline.
fn chain(plan: &PlannedAudio, end: Option<f64>, first: bool) -> String {
    let layout = if plan.channels == 1 { "mono" } else { "stereo" };
    let start = if first { ":first_pts=0" } else { "" };
    let mut chain = format!(
        "aresample={}:async=1{start},aformat=sample_fmts=fltp:channel_layouts={layout}",
        plan.sample_rate
    );
    if let Some(end) = end {
        chain.push_str(&format!(",apad=whole_dur={end:.6},atrim=end={end:.6}"));
    }
    chain
}

/// What the resampling graph's source is set up for; a decoded frame that differs (a
/// broadcast stream switching from stereo to 5.1, say) needs a new graph.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    rate: u32,
    format: i32,
    layout: String,
}

impl Shape {
    fn of_decoder(d: &decoder::Audio) -> Shape {
        let format: ff::ffi::AVSampleFormat = d.format().into();
        // SAFETY: the decoder context's channel layout is valid while it is open.
        let layout = unsafe { layout_arg(&(*d.as_ptr()).ch_layout) };
        Shape {
            rate: d.rate(),
            format: format as i32,
            layout,
        }
    }

    fn of_frame(f: &frame::Audio) -> Shape {
        let format: ff::ffi::AVSampleFormat = f.format().into();
        // SAFETY: the frame's channel layout is valid while the frame is.
        let layout = unsafe { layout_arg(&(*f.as_ptr()).ch_layout) };
        Shape {
            rate: f.rate(),
            format: format as i32,
            layout,
        }
    }
}

/// The abuffer argument for a channel layout: its name, or a bare channel count.
///
/// # Safety
/// `l` must point to a valid AVChannelLayout.
unsafe fn layout_arg(l: &ff::ffi::AVChannelLayout) -> String {
    let mut buf = [0 as c_char; 64];
    // SAFETY: buf is large enough and NUL-terminated by av_channel_layout_describe.
    unsafe {
        if l.order != ff::ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC
            && ff::ffi::av_channel_layout_describe(l, buf.as_mut_ptr(), buf.len()) > 0
        {
            format!(
                "channel_layout={}",
                std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy()
            )
        } else {
            format!("channels={}", l.nb_channels.max(1))
        }
    }
}

/// The resampling graph: one input per track (`shapes`; several merged into one stream's
/// channels, [`crate::filters::merge_graph`]), then `chain`.
fn build_graph(
    shapes: &[&Shape],
    tb: Rational,
    chain: &str,
    frame_size: u32,
) -> Result<filter::Graph, Error> {
    let stage = "setting up audio resampling";
    let args: Vec<String> = shapes
        .iter()
        .map(|shape| {
            format!(
                "time_base={}/{}:sample_rate={}:sample_fmt={}:{}",
                tb.numerator(),
                tb.denominator(),
                shape.rate,
                shape.format,
                shape.layout,
            )
        })
        .collect();
    let mut graph = if let [one] = &args[..] {
        crate::filters::graph(true, one, chain)
    } else {
        crate::filters::merge_graph(&args, chain)
    }
    .map_err(Error::ffmpeg(stage))?;
    if frame_size > 0 {
        // AAC takes exactly frame_size samples per frame (no VARIABLE_FRAME_SIZE).
        graph
            .get("out")
            .ok_or(ff::Error::Bug)
            .map_err(Error::ffmpeg(stage))?
            .sink()
            .set_frame_size(frame_size);
    }
    Ok(graph)
}
