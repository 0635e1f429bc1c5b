//! The running pipeline: one demuxing/decoding thread that stamps frames and fans them out
//! by reference to one thread per rung over bounded queues, and encodes audio once.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};

use ff::{format, frame, Packet, Rescale};
use ffmpeg_next as ff;

use crate::audio::AudioPipeline;
use crate::capture::{self, Picker, Thumbnail, WriterSetup};
use crate::clock::Clock;
use crate::decode::{Failure, VideoDecoder};
use crate::error::Error;
use crate::mux::Muxer;
use crate::progress::Progress;
use crate::rung::{self, Msg, Target};

/// Frames queued per rung: enough to ride out x264's uneven pace, small enough that memory
/// stays bounded whatever the source length (frames are shared by reference, not copied).
const QUEUE: usize = 8;

/// What decoding found.
pub(crate) struct Decoded {
    /// Frames sent to the rungs.
    pub frames: u64,
    /// End of the last frame, seconds from the first.
    pub end: f64,
}

/// Everything the demuxing thread drives.
pub(crate) struct Pipeline<'a> {
    /// The input being read.
    pub source: PathBuf,
    pub input: format::context::Input,
    pub video_stream: usize,
    pub decoder: VideoDecoder,
    pub clock: Clock,
    /// One encoder per distinct audio setting, all from the same source track; the first
    /// is the profile's, which the audio-only outputs carry.
    pub audio: Vec<AudioPipeline>,
    /// The source streams the audio is made from (several tracks made one), in order.
    pub audio_streams: Vec<usize>,
    /// For a clip with an end: per audio stream, the packet pts (its ticks) from which no
    /// more audio is wanted, so reading stops once video and audio are all past the end;
    /// empty without an end.
    pub audio_until: Vec<i64>,
    /// Audio-only outputs (the groups that keep audio separate), each with the index of
    /// the audio encoding it writes.
    pub audio_muxers: Vec<(usize, Muxer)>,
    /// Source duration, for progress.
    pub duration: f64,
    /// The largest frame side decoded: a stream that grows past it mid-way (a new SPS)
    /// is refused.
    pub max_side: u32,
    pub cancel: Option<&'a AtomicBool>,
    /// Picks thumbnail and trick-play frames while decoding (set up by [`Pipeline::run`]).
    pub picker: Option<Picker>,
    /// The time base of the shared clock (the first input's decoded frames').
    pub clock_tb: ff::Rational,
    /// The inputs (or clips) joined after the current one, in order.
    pub next: VecDeque<Piece>,
}

/// An input joined to the timeline after the first, opened and planned.
pub(crate) struct Piece {
    pub source: PathBuf,
    pub input: format::context::Input,
    pub video_stream: usize,
    /// Its audio streams, when the timeline has audio and it has the tracks.
    pub audio_streams: Vec<usize>,
    pub rotation: u32,
    pub interlaced: bool,
    /// Source seconds of its first frame kept (the stream's start plus the clip's).
    pub start: f64,
    /// Seconds kept; `None` to its end.
    pub length: Option<f64>,
    /// Its planned length (the clip's, or its video's): audio is cut to it, so that a
    /// longer audio track does not run over the next input.
    pub planned: f64,
    /// Whether to seek to `start` first (a clip that starts after the input does).
    pub seek: bool,
    /// Its frame rate.
    pub fps: f64,
    /// The profile's input filter.
    pub input_filter: Option<profiles::InputFilter>,
}

/// A consumer of the decoded frames, on a thread of its own.
pub(crate) enum Worker {
    /// A rung of the ladder (or the preview clip): scale, x264, mux.
    Rung(Box<rung::Setup>),
    /// The animated WebP preview.
    Animation(crate::animation::Setup),
}

/// A time window of the source that one consumer gets, re-timed to start at zero (the
/// preview clip).
pub(crate) struct Window {
    /// Start and end in seconds of the shared clock.
    pub start: f64,
    pub end: f64,
    /// Seconds per tick of video frames and of audio packets.
    pub video_tick: f64,
    pub audio_tick: f64,
}

struct WindowState {
    w: Window,
    /// Video pts of the first frame in the window: it becomes zero.
    shift: Option<i64>,
    /// Audio that came before the first frame of the window (its shift is not known yet).
    held: Vec<(usize, Packet)>,
}

impl WindowState {
    /// The video shift in audio ticks, once the first frame of the window is known.
    fn audio_shift(&self) -> Option<i64> {
        self.shift
            .map(|s| (s as f64 * self.w.video_tick / self.w.audio_tick).round() as i64)
    }
}

struct Sink {
    tx: SyncSender<Msg>,
    /// Which of the audio encodings the worker muxes.
    wants_audio: Vec<usize>,
    window: Option<WindowState>,
}

struct Fanout {
    sinks: Vec<Sink>,
}

fn stopped<T>(_: T) -> Error {
    Error::Internal("an encoder stopped early".into())
}

impl Fanout {
    fn video(&mut self, f: &frame::Video) -> Result<(), Error> {
        for sink in &mut self.sinks {
            let Some(ws) = sink.window.as_mut() else {
                sink.tx.send(Msg::Video(share(f)?)).map_err(stopped)?;
                continue;
            };
            let pts = f.pts().unwrap_or(0);
            let t = pts as f64 * ws.w.video_tick;
            if t < ws.w.start - 1e-6 || t >= ws.w.end - 1e-6 {
                continue;
            }
            let shift = *ws.shift.get_or_insert(pts);
            let audio_shift = ws.audio_shift().unwrap_or(0);
            for (v, mut p) in ws.held.drain(..) {
                retime(&mut p, audio_shift);
                sink.tx.send(Msg::Audio(v, p)).map_err(stopped)?;
            }
            let mut out = share(f)?;
            out.set_pts(Some(pts - shift));
            sink.tx.send(Msg::Video(out)).map_err(stopped)?;
        }
        Ok(())
    }

    fn audio(&mut self, variant: usize, p: &Packet) -> Result<(), Error> {
        for sink in &mut self.sinks {
            if !sink.wants_audio.contains(&variant) {
                continue;
            }
            let Some(ws) = sink.window.as_mut() else {
                sink.tx
                    .send(Msg::Audio(variant, p.clone()))
                    .map_err(stopped)?;
                continue;
            };
            let t = p.pts().unwrap_or(0) as f64 * ws.w.audio_tick;
            if t < ws.w.start - 1e-6 || t >= ws.w.end - 1e-6 {
                continue;
            }
            match ws.audio_shift() {
                None => ws.held.push((variant, p.clone())),
                Some(shift) => {
                    let mut q = p.clone();
                    retime(&mut q, shift);
                    sink.tx.send(Msg::Audio(variant, q)).map_err(stopped)?;
                }
            }
        }
        Ok(())
    }
}

fn retime(p: &mut Packet, shift: i64) {
    p.set_pts(p.pts().map(|v| v - shift));
    p.set_dts(p.dts().map(|v| v - shift));
}

/// The audio packet pts (in `tb`) from which no more audio is wanted for a part that
/// ends at `end` source seconds: half a second on covers the decoder's delay and a
/// muxer's interleaving.
pub(crate) fn audio_until(end: f64, tb: ff::Rational) -> i64 {
    ((end + 0.5) / f64::from(tb)).round() as i64
}

/// Hands a stamped frame to the picture picker and every consumer, and reports progress.
fn emit(
    clock: &Clock,
    duration: f64,
    picker: &mut Option<Picker>,
    fanout: &mut Fanout,
    progress: &mut dyn FnMut(Progress),
    f: frame::Video,
) -> Result<(), Error> {
    if let Some(p) = picker.as_mut() {
        p.frame(clock.position(), &f)?;
    }
    fanout.video(&f)?;
    progress(Progress {
        position: clock.position(),
        duration,
        frames: clock.frames,
        finishing: false,
    });
    Ok(())
}

/// A new reference to the same picture buffers: the fan-out copies no pixels.
pub(crate) fn share(f: &frame::Video) -> Result<frame::Video, Error> {
    // SAFETY: av_frame_clone makes a new AVFrame referencing f's buffers, or returns NULL.
    unsafe {
        let p = ff::ffi::av_frame_clone(f.as_ptr());
        if p.is_null() {
            return Err(Error::Internal("out of memory sharing a frame".into()));
        }
        Ok(frame::Video::wrap(p))
    }
}

impl Pipeline<'_> {
    /// Starts one thread per rung, pumps the source through them, and waits for all.
    /// `setups` with a window get only that part of the source (the preview); `writer`
    /// receives the thumbnail and trick-play frames.
    pub fn run(
        mut self,
        setups: Vec<(Worker, Option<Window>)>,
        writer: Option<WriterSetup<'_>>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Vec<rung::Finished>, Decoded, Vec<Thumbnail>), Error> {
        let (finished, decoded, thumbs) = std::thread::scope(|scope| -> Result<_, Error> {
            let mut handles = Vec::new();
            let mut sinks = Vec::new();
            let mut pictures = None;
            if let Some(w) = writer {
                let (tx, rx) = sync_channel(QUEUE);
                self.picker = Some(Picker::new(
                    w.thumbs.map(|(_, t)| t),
                    w.tiles.map(|(_, t)| t),
                    tx,
                ));
                let handle = std::thread::Builder::new()
                    .name("pictures".into())
                    .spawn_scoped(scope, move || capture::write(w, rx))
                    .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
                pictures = Some(handle);
            }
            for (worker, window) in setups {
                let mut wants_audio = Vec::new();
                if let Worker::Rung(setup) = &worker {
                    for t in &setup.targets {
                        let (Target::Segments { audio, .. } | Target::File { audio, .. }) = t;
                        if let Some(v) = audio.filter(|v| !wants_audio.contains(v)) {
                            wants_audio.push(v);
                        }
                    }
                }
                let name = match &worker {
                    Worker::Rung(setup) => format!("rung-{}", setup.rendition.name),
                    Worker::Animation(_) => "animation".to_string(),
                };
                let (tx, rx) = sync_channel(QUEUE);
                sinks.push(Sink {
                    tx,
                    wants_audio,
                    window: window.map(|w| WindowState {
                        w,
                        shift: None,
                        held: Vec::new(),
                    }),
                });
                let handle = std::thread::Builder::new()
                    .name(name)
                    .spawn_scoped(scope, move || match worker {
                        Worker::Rung(setup) => rung::run(*setup, rx),
                        Worker::Animation(setup) => crate::animation::run(setup, rx),
                    })
                    .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
                handles.push(handle);
            }
            let mut fanout = Fanout { sinks };
            let mut result = self.pump(&mut fanout, progress);
            if let Some(picker) = self.picker.take() {
                if let (Err(e), Ok(_)) = (picker.finish(), &result) {
                    result = Err(e);
                }
            }
            // Hanging up lets every rung flush; their own errors explain a failed send best.
            drop(fanout);
            let mut finished = Vec::new();
            let mut worker_error = None;
            let mut thumbs = Vec::new();
            if let Some(h) = pictures {
                match h.join() {
                    Ok(Ok(t)) => thumbs = t,
                    Ok(Err(e)) => {
                        worker_error.get_or_insert(e);
                    }
                    Err(_) => {
                        worker_error
                            .get_or_insert(Error::Internal("the picture thread panicked".into()));
                    }
                }
            }
            for h in handles {
                match h.join() {
                    Ok(Ok(f)) => finished.push(f),
                    Ok(Err(e)) => {
                        worker_error.get_or_insert(e);
                    }
                    Err(_) => {
                        worker_error
                            .get_or_insert(Error::Internal("an encoder thread panicked".into()));
                    }
                }
            }
            match (result, worker_error) {
                (Err(Error::Cancelled), _) => Err(Error::Cancelled),
                (_, Some(e)) => Err(e),
                (Err(e), None) => Err(e),
                (Ok(d), None) => Ok((finished, d, thumbs)),
            }
        })?;
        for (_, m) in self.audio_muxers {
            m.finish()?;
        }
        Ok((finished, decoded, thumbs))
    }

    /// A source whose audio cannot be decoded is corrupt; a failing resampler or AAC
    /// encoder is mpe's failure, and may well pass on a retry (memory).
    fn audio_failed(&self, e: crate::audio::AudioFailure) -> Error {
        match e {
            crate::audio::AudioFailure::Decode(e) => self.corrupt("decoding audio", e),
            crate::audio::AudioFailure::Process(e) => Error::ffmpeg(format!(
                "resampling or encoding audio at {:.2} s",
                self.clock.position()
            ))(e),
        }
    }

    fn corrupt(&self, what: &'static str, source: ff::Error) -> Error {
        Error::Corrupt {
            path: self.source.to_path_buf(),
            what,
            at: self.clock.position(),
            source,
        }
    }

    fn pump(
        &mut self,
        fanout: &mut Fanout,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Decoded, Error> {
        loop {
            self.read_input(fanout, progress)?;
            self.video(None, fanout, progress)?;
            // On the output grid, the last frame still covers output times of its own.
            for f in self.clock.end_input() {
                emit(
                    &self.clock,
                    self.duration,
                    &mut self.picker,
                    fanout,
                    progress,
                    f,
                )?;
            }
            let Some(piece) = self.next.pop_front() else {
                break;
            };
            self.switch(piece, fanout)?;
        }
        self.audio(None, fanout)?;
        progress(Progress {
            position: self.clock.position(),
            duration: self.duration,
            frames: self.clock.frames,
            finishing: true,
        });
        Ok(Decoded {
            frames: self.clock.frames,
            end: self.clock.end(),
        })
    }

    /// Ends the input just read and goes on with `piece`: a decoder of its own, its
    /// audio decoded into the same audio stream, its frames after the last so far.
    fn switch(&mut self, piece: Piece, fanout: &mut Fanout) -> Result<(), Error> {
        for variant in 0..self.audio.len() {
            let mut out = Vec::new();
            let ended = self.audio[variant].end_input(&mut out);
            self.send_audio(variant, &out, fanout)?;
            ended.map_err(|e| self.audio_failed(e))?;
        }
        let base = self.clock.end();
        let mut input = piece.input;
        let decoder = {
            let stream = input
                .stream(piece.video_stream)
                .ok_or_else(|| Error::Internal("planned video stream vanished".into()))?;
            VideoDecoder::open(
                &piece.source,
                &stream,
                piece.rotation,
                piece.interlaced,
                piece.input_filter.as_ref(),
                0,
            )?
        };
        self.clock.next_input(
            (piece.start / f64::from(self.clock_tb)).round() as i64,
            piece.length,
            piece.fps,
        );
        self.audio_streams = Vec::new();
        self.audio_until = Vec::new();
        if !self.audio.is_empty() && !piece.audio_streams.is_empty() {
            let streams = crate::transcode::audio_streams(&input, &piece.audio_streams)?;
            for audio in &mut self.audio {
                audio.next_input(&streams, piece.start, base, Some(piece.planned))?;
            }
            if let Some(l) = piece.length {
                self.audio_until = streams
                    .iter()
                    .map(|s| audio_until(piece.start + l, s.time_base()))
                    .collect();
            }
            self.audio_streams = piece.audio_streams;
        }
        if piece.seek {
            crate::transcode::seek(&mut input, &piece.source, piece.start)?;
        }
        self.input = input;
        self.video_stream = piece.video_stream;
        self.decoder = decoder;
        self.source = piece.source;
        Ok(())
    }

    /// Reads the current input to its end (or its clip's).
    fn read_input(
        &mut self,
        fanout: &mut Fanout,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), Error> {
        let mut packet = Packet::empty();
        // Per audio stream: past the clip's end.
        let mut past = vec![false; self.audio_streams.len()];
        let mut audio_done = self.audio_streams.is_empty();
        loop {
            if self.clock.past_end() && audio_done {
                break;
            }
            if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Error::Cancelled);
            }
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ff::Error::Eof) => break,
                Err(e) if cut_off(&e) && self.clock.frames > 0 => {
                    // A cut-off file ends in a packet the demuxer cannot complete: keep
                    // what was read, and let the duration check say "truncated".
                    tracing::debug!(error = %e, at = self.clock.position(), "the source ends in an incomplete packet");
                    break;
                }
                Err(e) if cut_off(&e) => return Err(self.corrupt("reading", e)),
                Err(e) => {
                    return Err(Error::ReadFailed {
                        path: self.source.to_path_buf(),
                        at: self.clock.position(),
                        source: e,
                    })
                }
            }
            if packet.stream() == self.video_stream {
                self.video(Some(&packet), fanout, progress)?;
            } else if let Some(t) = self
                .audio_streams
                .iter()
                .position(|s| *s == packet.stream())
            {
                if let (Some(until), Some(pts)) = (self.audio_until.get(t), packet.pts()) {
                    past[t] |= pts >= *until;
                    audio_done = past.iter().all(|p| *p);
                }
                self.audio(Some((t, &packet)), fanout)?;
            }
        }
        Ok(())
    }

    /// Decodes a video packet (`None`: drain at the end) and fans the frames out.
    fn video(
        &mut self,
        packet: Option<&Packet>,
        fanout: &mut Fanout,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), Error> {
        let (clock, duration, picker) = (&mut self.clock, self.duration, &mut self.picker);
        // A joined input's frames may come in another time base than the clock's.
        let retime = Some((self.decoder.time_base(), self.clock_tb)).filter(|(a, b)| a != b);
        let (source, max) = (&self.source, self.max_side);
        let mut sink = |mut f: frame::Video| -> Result<(), Error> {
            if f.width() > max || f.height() > max {
                // A stream that changes its size mid-way (a new SPS) past what is decoded.
                return Err(Error::Plan(profiles::PlanError::BadVideo {
                    path: source.display().to_string(),
                    index: 0,
                    reason: format!(
                        "a frame of {}x{} is larger than the {max}x{max} mpe decodes",
                        f.width(),
                        f.height()
                    ),
                }));
            }
            if let (Some((from, to)), Some(pts)) = (retime, f.pts()) {
                f.set_pts(Some(pts.rescale(from, to)));
            }
            for f in clock.push(f) {
                emit(clock, duration, picker, fanout, progress, f)?;
            }
            Ok(())
        };
        match self.decoder.decode(packet, &mut sink) {
            // Damaged packets are skipped, as players do.
            Ok(()) | Err(Failure::Decode(ff::Error::InvalidData | ff::Error::Eof)) => Ok(()),
            Err(Failure::Decode(e)) => Err(self.corrupt("decoding video", e)),
            Err(Failure::Other(e)) => Err(e),
        }
    }

    /// Decodes and encodes an audio packet (`None`: flush) and hands the AAC packets to
    /// the audio-only outputs and to the rungs that mux audio.
    fn audio(
        &mut self,
        packet: Option<(usize, &Packet)>,
        fanout: &mut Fanout,
    ) -> Result<(), Error> {
        for variant in 0..self.audio.len() {
            let mut out = Vec::new();
            let pushed = match packet {
                Some((track, p)) => self.audio[variant].push(track, p, &mut out),
                None => self.audio[variant].finish(&mut out),
            };
            if let Err(e) = pushed {
                return Err(self.audio_failed(e));
            }
            self.send_audio(variant, &out, fanout)?;
        }
        Ok(())
    }

    /// Hands the AAC packets of audio encoding `variant` to the rungs and the audio-only
    /// outputs that carry it.
    fn send_audio(
        &mut self,
        variant: usize,
        out: &[Packet],
        fanout: &mut Fanout,
    ) -> Result<(), Error> {
        for p in out {
            for (_, m) in self.audio_muxers.iter_mut().filter(|(v, _)| *v == variant) {
                m.write(0, p)?;
            }
            fanout.audio(variant, p)?;
        }
        Ok(())
    }
}

/// Whether a demuxer error is the source's content (damaged or cut-off data), rather than
/// the system failing to read it (an I/O error, memory), which is transient.
fn cut_off(e: &ff::Error) -> bool {
    matches!(e, ff::Error::InvalidData | ff::Error::PatchWelcome)
        || matches!(e, ff::Error::Other { errno } if *errno == libc::EINVAL)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn only_damaged_data_counts_as_a_cut_off_source() {
        assert!(cut_off(&ff::Error::InvalidData));
        for io in [
            libc::EIO,
            libc::ENXIO,
            libc::ESTALE,
            libc::ENOMEM,
            libc::EACCES,
        ] {
            let e = ff::Error::Other { errno: io };
            assert!(!cut_off(&e), "{e}");
            // ...and is a transient failure of the job.
            let err = Error::ReadFailed {
                path: "s.mp4".into(),
                at: 1.0,
                source: e,
            };
            assert!(err.is_transient(), "{err}");
        }
    }
}
