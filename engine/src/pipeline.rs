//! The running pipeline: one demuxing/decoding thread that stamps frames and fans them out
//! by reference to one thread per rung over bounded queues, and encodes audio once.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};

use ff::{format, frame, Packet};
use ffmpeg_next as ff;

use crate::audio::AudioPipeline;
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
    pub source: &'a Path,
    pub input: format::context::Input,
    pub video_stream: usize,
    pub decoder: VideoDecoder,
    pub clock: Clock,
    pub audio: Option<AudioPipeline>,
    pub audio_stream: Option<usize>,
    /// Audio-only outputs (the groups that keep audio separate).
    pub audio_muxers: Vec<Muxer>,
    /// Source duration, for progress.
    pub duration: f64,
    pub cancel: Option<&'a AtomicBool>,
}

struct Fanout {
    senders: Vec<(SyncSender<Msg>, bool)>,
}

impl Fanout {
    fn video(&self, f: &frame::Video) -> Result<(), Error> {
        for (tx, _) in &self.senders {
            tx.send(Msg::Video(share(f)?))
                .map_err(|_| Error::Internal("an encoder stopped early".into()))?;
        }
        Ok(())
    }

    fn audio(&self, p: &Packet) -> Result<(), Error> {
        for (tx, wants) in &self.senders {
            if *wants {
                tx.send(Msg::Audio(p.clone()))
                    .map_err(|_| Error::Internal("an encoder stopped early".into()))?;
            }
        }
        Ok(())
    }
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
    pub fn run(
        mut self,
        setups: Vec<rung::Setup>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Vec<rung::Finished>, Decoded), Error> {
        let (finished, decoded) = std::thread::scope(|scope| -> Result<_, Error> {
            let mut handles = Vec::new();
            let mut senders = Vec::new();
            for setup in setups {
                let wants_audio = setup.targets.iter().any(|t| match t {
                    Target::Segments { with_audio, .. } | Target::File { with_audio, .. } => {
                        *with_audio
                    }
                });
                let (tx, rx) = sync_channel(QUEUE);
                senders.push((tx, wants_audio));
                let handle = std::thread::Builder::new()
                    .name(format!("rung-{}", setup.rendition.name))
                    .spawn_scoped(scope, move || rung::run(setup, rx))
                    .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
                handles.push(handle);
            }
            let fanout = Fanout { senders };
            let result = self.pump(&fanout, progress);
            // Hanging up lets every rung flush; their own errors explain a failed send best.
            drop(fanout);
            let mut finished = Vec::new();
            let mut worker_error = None;
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
                (Ok(d), None) => Ok((finished, d)),
            }
        })?;
        for m in self.audio_muxers {
            m.finish()?;
        }
        Ok((finished, decoded))
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
        fanout: &Fanout,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Decoded, Error> {
        let mut packet = Packet::empty();
        loop {
            if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Error::Cancelled);
            }
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ff::Error::Eof) => break,
                // A read error at the end of a cut-off file: keep what was read, and let the
                // duration check say "truncated".
                Err(_) if self.clock.frames > 0 => break,
                Err(e) => return Err(self.corrupt("reading", e)),
            }
            if packet.stream() == self.video_stream {
                self.video(Some(&packet), fanout, progress)?;
            } else if Some(packet.stream()) == self.audio_stream {
                self.audio(Some(&packet), fanout)?;
            }
        }
        self.video(None, fanout, progress)?;
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

    /// Decodes a video packet (`None`: drain at the end) and fans the frames out.
    fn video(
        &mut self,
        packet: Option<&Packet>,
        fanout: &Fanout,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), Error> {
        let (clock, duration) = (&mut self.clock, self.duration);
        let mut sink = |f: frame::Video| -> Result<(), Error> {
            if let Some(f) = clock.stamp(f) {
                fanout.video(&f)?;
                progress(Progress {
                    position: clock.position(),
                    duration,
                    frames: clock.frames,
                    finishing: false,
                });
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
    fn audio(&mut self, packet: Option<&Packet>, fanout: &Fanout) -> Result<(), Error> {
        let Some(audio) = self.audio.as_mut() else {
            return Ok(());
        };
        let mut out = Vec::new();
        if let Err(e) = audio.push(packet, &mut out) {
            return Err(self.corrupt("decoding audio", e));
        }
        for p in &out {
            for m in &mut self.audio_muxers {
                m.write(0, p)?;
            }
            fanout.audio(p)?;
        }
        Ok(())
    }
}
