//! Chunked encoding of one rung: GOP-aligned chunks of its frames go to parallel x264
//! instances (lanes), and a joiner writes their packets in chunk order on one DTS timeline,
//! without re-encoding, so that a rung can use more cores than one x264 uses well.
//!
//! Every chunk starts on a frame the [`crate::clock::Clock`] forced to be an IDR frame, and
//! a fresh encoder starts with an IDR frame and ends its last GOP closed, so the joined
//! stream has the same keyframes, segments and frame count as an unchunked one. What
//! differs is rate control, which restarts at each chunk (as in av1an).

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use ff::{codec, frame, picture, Packet};
use ffmpeg_next as ff;

use crate::error::Error;
use crate::mux::StreamSpec;
use crate::rung::{self, Finished, Msg, Outputs, Scaler, Setup};

/// What the dispatcher sends a lane.
enum LaneMsg {
    /// A new chunk begins: open a fresh encoder.
    Start(usize),
    /// A frame of the current chunk, at the rung's size.
    Frame(frame::Video),
    /// The chunk is complete: flush the encoder and hand its packets to the joiner.
    End,
}

/// What the joiner receives.
enum Joined {
    /// All packets of chunk `.0`, in x264's coded order.
    Chunk(usize, Vec<Packet>),
    /// An AAC packet of audio encoding `.0`, for the outputs that carry it.
    Audio(usize, Packet),
}

/// Marks an error caused by another thread of the rung stopping: that thread's own error
/// says more and is reported instead.
const STOPPED: &str = "a chunk encoder stopped early";

fn stopped<T>(_: T) -> Error {
    Error::Internal(STOPPED.into())
}

/// Runs a rung in chunks on `setup.lanes` encoders of `setup.threads` threads each.
pub(crate) fn run(setup: Setup, rx: Receiver<Msg>) -> Result<Finished, Error> {
    let name = setup.rendition.name.clone();
    // One encoder opened up front gives the stream's parameters and headers; every lane's
    // encoder must produce the very same headers, or one init segment could not serve all.
    let reference = rung::open_encoder(&setup, setup.threads)?;
    let headers = rung::extradata(&reference).to_vec();
    let codec = rung::codec_string(&reference);
    // SAFETY: reads a plain field of the open encoder's context.
    let delay = unsafe { (*reference.as_ptr()).has_b_frames }.max(0) as usize;
    let spec = StreamSpec {
        parameters: codec::Parameters::from(&reference),
        time_base: setup.time_base,
    };
    drop(reference);
    let outputs = Outputs::open(&setup, &spec)?;
    let fps = f64::from(setup.frame_rate);
    // Chunks are segments: each segment then comes from one encoder, and chunks are long
    // enough for x264's rate control to settle (it restarts with every encoder, and starts
    // out stingy: 2 s chunks lost 0.6 dB against the unchunked encode, 6 s ones 0.25 dB).
    let chunk_seconds = setup.segment_seconds;
    // A lane's queue holds a whole chunk, so the dispatcher can hand it over and move on
    // to the next lane: that is what lets the lanes run at once, and what bounds memory
    // to about `lanes` chunks of frames per rung.
    let capacity = (chunk_seconds * fps.max(1.0)).ceil() as usize + 2;
    let joiner_state = Joiner {
        outputs,
        delay,
        frame_ticks: rung::frame_ticks(&setup),
        video_tb: f64::from(setup.time_base),
        audio_tb: setup
            .audio
            .iter()
            .map(|(v, a)| (*v, f64::from(a.time_base)))
            .collect(),
        audio: VecDeque::new(),
        tail: VecDeque::new(),
    };
    let headers = &headers;
    std::thread::scope(|scope| -> Result<Finished, Error> {
        let (jtx, jrx) = channel::<Joined>();
        let joiner = spawn(scope, format!("join-{name}"), move || joiner_state.run(jrx))?;
        let mut lanes = Vec::new();
        let mut senders = Vec::new();
        for i in 0..setup.lanes {
            let (ltx, lrx) = sync_channel::<LaneMsg>(capacity);
            let jtx = jtx.clone();
            let own = encoding(&setup);
            lanes.push(spawn(scope, format!("{name}-lane{i}"), move || {
                lane(&own, headers, lrx, jtx)
            })?);
            senders.push(ltx);
        }
        let dispatched = dispatch(&setup, rx, &senders, &jtx, chunk_seconds);
        // Hanging up lets each lane finish its last chunk and the joiner write it.
        drop(senders);
        drop(jtx);
        // The dispatcher's own error first: when it stops mid-chunk, the joiner's
        // complaint about a missing chunk is only a consequence.
        let (frames, mut errors) = match dispatched {
            Ok(n) => (n, Vec::new()),
            Err(e) => (0, vec![e]),
        };
        for l in lanes {
            errors.extend(joined(l).err());
        }
        errors.extend(joined(joiner).err());
        // The first error that is not merely another thread having stopped.
        let first = errors
            .iter()
            .position(|e| !matches!(e, Error::Internal(m) if m == STOPPED))
            .unwrap_or(0);
        if errors.is_empty() {
            Ok(Finished {
                name: name.clone(),
                codec: codec.clone(),
                frames,
            })
        } else {
            Err(errors.swap_remove(first))
        }
    })
}

/// What a lane needs to open encoders: the setup without its outputs, which belong to the
/// joiner (and hold FFmpeg pointers that must not be shared between threads).
fn encoding(s: &Setup) -> Setup {
    Setup {
        rendition: s.rendition.clone(),
        video: s.video.clone(),
        time_base: s.time_base,
        frame_rate: s.frame_rate,
        gop_frames: s.gop_frames,
        segment_seconds: s.segment_seconds,
        fmp4_offset: s.fmp4_offset,
        threads: s.threads,
        lanes: 1,
        targets: Vec::new(),
        audio: Vec::new(),
        color: s.color,
    }
}

fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: impl FnOnce() -> Result<T, Error> + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, Result<T, Error>>, Error> {
    std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, f)
        .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))
}

fn joined<T>(h: std::thread::ScopedJoinHandle<'_, Result<T, Error>>) -> Result<T, Error> {
    h.join()
        .unwrap_or_else(|_| Err(Error::Internal("a chunk encoder thread panicked".into())))
}

/// Scales the rung's frames and deals them out, a chunk to each lane in turn; audio goes
/// straight to the joiner. Returns the number of frames.
fn dispatch(
    setup: &Setup,
    rx: Receiver<Msg>,
    lanes: &[SyncSender<LaneMsg>],
    joiner: &Sender<Joined>,
    chunk_seconds: f64,
) -> Result<u64, Error> {
    let mut scaler = Scaler::for_rendition(&setup.rendition);
    let tb = f64::from(setup.time_base);
    let mut frames = 0u64;
    // Index of the chunk being dealt, and the time at which the next one may start: the
    // first keyframe at or after each multiple of the chunk length, as the segmenter cuts.
    let mut chunk: Option<usize> = None;
    let mut next_start = 0.0;
    for msg in rx {
        match msg {
            Msg::Video(src) => {
                let t = src.pts().unwrap_or(0) as f64 * tb;
                if src.kind() == picture::Type::I && t >= next_start - 1e-6 {
                    while next_start <= t + 1e-6 {
                        next_start += chunk_seconds;
                    }
                    let next = match chunk {
                        Some(k) => {
                            lanes[k % lanes.len()].send(LaneMsg::End).map_err(stopped)?;
                            k + 1
                        }
                        None => 0,
                    };
                    lanes[next % lanes.len()]
                        .send(LaneMsg::Start(next))
                        .map_err(stopped)?;
                    chunk = Some(next);
                }
                let Some(k) = chunk else {
                    return Err(Error::Internal(
                        "the first frame of a rung is not a keyframe".into(),
                    ));
                };
                let f = rung::fit(&mut scaler, &src)?;
                lanes[k % lanes.len()]
                    .send(LaneMsg::Frame(f))
                    .map_err(stopped)?;
                frames += 1;
            }
            Msg::Audio(v, p) => joiner.send(Joined::Audio(v, p)).map_err(stopped)?,
        }
    }
    if let Some(k) = chunk {
        lanes[k % lanes.len()].send(LaneMsg::End).map_err(stopped)?;
    }
    Ok(frames)
}

/// One lane: a fresh encoder per chunk, its packets handed to the joiner whole.
fn lane(
    setup: &Setup,
    headers: &[u8],
    rx: Receiver<LaneMsg>,
    joiner: Sender<Joined>,
) -> Result<(), Error> {
    let ticks = rung::frame_ticks(setup);
    let name = &setup.rendition.name;
    let mut current = None;
    for msg in rx {
        match msg {
            LaneMsg::Start(k) => {
                let enc = rung::open_encoder(setup, setup.threads)?;
                if rung::extradata(&enc) != headers {
                    return Err(Error::Internal(format!(
                        "the {} chunk encoders disagree on their stream headers",
                        setup.rendition.name
                    )));
                }
                current = Some((k, enc, Vec::new()));
            }
            LaneMsg::Frame(f) => {
                let Some((_, enc, packets)) = current.as_mut() else {
                    return Err(Error::Internal("a frame outside any chunk".into()));
                };
                rung::encode(enc, Some(&f), name, ticks, &mut |p| {
                    packets.push(p);
                    Ok(())
                })?;
            }
            LaneMsg::End => {
                let Some((k, mut enc, mut packets)) = current.take() else {
                    return Err(Error::Internal("a chunk ended twice".into()));
                };
                rung::encode(&mut enc, None, name, ticks, &mut |p| {
                    packets.push(p);
                    Ok(())
                })?;
                joiner.send(Joined::Chunk(k, packets)).map_err(stopped)?;
            }
        }
    }
    Ok(())
}

/// Writes chunks in order, with decode timestamps recomputed on one timeline, and the
/// audio interleaved by time.
struct Joiner {
    outputs: Outputs,
    /// x264's reorder delay in frames (B-frame pyramid: 2).
    delay: usize,
    frame_ticks: i64,
    video_tb: f64,
    /// Each audio encoding's time base, seconds a tick.
    audio_tb: Vec<(usize, f64)>,
    /// Audio not yet written, with its encoding: it runs ahead of the video by up to
    /// `lanes` chunks.
    audio: VecDeque<(usize, Packet)>,
    /// The last `delay` presentation times written, in order.
    tail: VecDeque<i64>,
}

impl Joiner {
    fn run(mut self, rx: Receiver<Joined>) -> Result<(), Error> {
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for msg in rx {
            match msg {
                Joined::Audio(v, p) => self.audio.push_back((v, p)),
                Joined::Chunk(k, packets) => {
                    pending.insert(k, packets);
                }
            }
            while let Some(packets) = pending.remove(&next) {
                self.chunk(packets)?;
                next += 1;
            }
        }
        if let Some(k) = pending.keys().next() {
            return Err(Error::Internal(format!(
                "chunk {next} never arrived (chunk {k} did)"
            )));
        }
        while let Some((v, p)) = self.audio.pop_front() {
            self.outputs.audio(v, &p)?;
        }
        self.outputs.finish()
    }

    /// Writes one chunk. A chunk is a closed run of GOPs, so the i-th decode time of the
    /// whole stream is the (i - delay)-th presentation time: x264's own rule, applied across
    /// chunks so that decode times never repeat or run backwards at a join.
    fn chunk(&mut self, mut packets: Vec<Packet>) -> Result<(), Error> {
        let mut sorted: Vec<i64> = packets.iter().filter_map(|p| p.pts()).collect();
        sorted.sort_unstable();
        if sorted.len() != packets.len() {
            return Err(Error::Internal("x264 returned a packet without pts".into()));
        }
        let first = sorted.first().copied().unwrap_or(0);
        for (j, p) in packets.iter_mut().enumerate() {
            let dts = if j >= self.delay {
                sorted[j - self.delay]
            } else {
                let back = self.delay - j;
                match self.tail.len().checked_sub(back) {
                    Some(i) => self.tail[i],
                    // The very first frames: x264 extrapolates one frame per step back.
                    None => first - back as i64 * self.frame_ticks,
                }
            };
            let pts = p.pts().unwrap_or(dts);
            if dts > pts {
                return Err(Error::Internal(format!(
                    "joined decode time {dts} after presentation time {pts}"
                )));
            }
            p.set_dts(Some(dts));
            let t = dts as f64 * self.video_tb;
            while let Some((v, a)) = self.audio.front() {
                let tb = self
                    .audio_tb
                    .iter()
                    .find(|(i, _)| i == v)
                    .map_or(1.0, |x| x.1);
                if a.pts().unwrap_or(0) as f64 * tb > t {
                    break;
                }
                if let Some((v, a)) = self.audio.pop_front() {
                    self.outputs.audio(v, &a)?;
                }
            }
            self.outputs.video(p)?;
        }
        self.tail.extend(sorted);
        while self.tail.len() > self.delay {
            self.tail.pop_front();
        }
        Ok(())
    }
}
