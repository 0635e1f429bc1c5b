//! `mpe thumbs`: thumbnails at chosen times of a source, found by seeking in parallel (one
//! demuxer and decoder per worker), decoding only from the keyframe before each time.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ff::{frame, Packet};
use ffmpeg_next as ff;
use profiles::naming::Layout;
use profiles::plan::{interval_times, picture_size};
use profiles::{ImageFormat, PlanError, TimeSpec};
use rayon::prelude::*;
use serde::Serialize;

use crate::decode::{Failure, VideoDecoder};
use crate::error::Error;
use crate::picture::{self, Converter};

/// What to extract, from what, to where.
#[derive(Debug, Clone)]
pub struct ThumbsOptions {
    /// The source file.
    pub source: PathBuf,
    /// Folder that receives the images and the index.
    pub output: PathBuf,
    /// Times as written by the user (`5`, `00:01:30`, `25%`, `end-2s`).
    pub at: Vec<TimeSpec>,
    /// One thumbnail every this many seconds, from the start.
    pub every: Option<f64>,
    /// This many thumbnails spread evenly (at the middle of equal parts of the video).
    pub count: Option<u32>,
    /// Image width (aspect kept; never larger than the source).
    pub width: Option<u32>,
    /// Image height.
    pub height: Option<u32>,
    /// Image format.
    pub format: ImageFormat,
    /// Quality 1 to 100 (JPEG).
    pub quality: u8,
    /// Take the keyframe at or before each time instead of the exact frame.
    pub fast: bool,
    /// Worker count (default: available cores).
    pub threads: Option<usize>,
}

/// The JSON index written beside the images (`<base>_thumbs.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ThumbsIndex {
    /// The source as given.
    pub source: String,
    /// Its duration, seconds.
    pub duration: f64,
    /// Whether keyframes were taken instead of exact frames.
    pub fast: bool,
    /// One entry per image, in time order.
    pub thumbnails: Vec<ThumbEntry>,
}

/// One image.
#[derive(Debug, Clone, Serialize)]
pub struct ThumbEntry {
    /// The time asked for, seconds.
    pub time: f64,
    /// How it was asked for (`25%`, `every 10`, `count 12`).
    pub requested: String,
    /// Start of the frame shown at that time (the keyframe's with `fast`), seconds.
    pub frame_time: f64,
    /// File name, in the output folder.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct ThumbsReport {
    /// Where the index was written.
    pub index_path: PathBuf,
    /// The index.
    pub index: ThumbsIndex,
    /// Wall time.
    pub elapsed: Duration,
}

/// Frame times are exact in their time base; this absorbs float rounding only.
const EPS: f64 = 1e-6;

/// Extracts the thumbnails and writes them with their index.
pub fn thumbs(opts: &ThumbsOptions) -> Result<ThumbsReport, Error> {
    let started = Instant::now();
    let path = &opts.source;
    let input = crate::probe::open_input(path)?;
    let media = crate::probe::describe(path, &input);
    drop(input);
    let video = media.video.first().ok_or_else(|| PlanError::NoVideo {
        path: path.display().to_string(),
    })?;
    let duration = video.duration.unwrap_or(media.duration);
    let times = resolve_times(opts, path, duration)?;
    let (width, height) = picture_size(video.display_size(), opts.width, opts.height);
    let interlaced = matches!(
        video.field_order.as_deref(),
        Some("tt" | "bb" | "tb" | "bt")
    );

    let cores = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let workers = cores.clamp(1, times.len().max(1));
    // Each worker decodes with the cores left over; one thread apiece once they are shared.
    let decoder_threads = (cores / workers).max(1);
    let n = times.len();
    let targets: Vec<f64> = times.iter().map(|t| t.0).collect();
    std::fs::create_dir_all(&opts.output).map_err(Error::output(&opts.output))?;
    let layout = Layout::for_source(&path.to_string_lossy());
    let job = Job {
        path,
        stream: video.index,
        rotation: video.rotation,
        interlaced,
        threads: decoder_threads,
        size: (width, height),
        format: opts.format,
        quality: opts.quality,
        fast: opts.fast,
        out: &opts.output,
        layout: &layout,
        targets: &targets,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start workers: {e}")))?;
    let results: Result<Vec<Vec<Made>>, Error> =
        pool.install(|| (0..workers).into_par_iter().map(|_| job.run()).collect());
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            // Images of a failed run are not left behind without their index.
            for i in 0..n {
                let _ =
                    std::fs::remove_file(opts.output.join(layout.thumbnail("", i, opts.format)));
            }
            return Err(e);
        }
    };
    let mut entries = Vec::with_capacity(n);
    for (i, frame_time, bytes) in results.into_iter().flatten() {
        entries.push(ThumbEntry {
            time: times[i].0,
            requested: times[i].1.clone(),
            frame_time,
            file: layout.thumbnail("", i, opts.format),
            bytes,
            width,
            height,
        });
    }
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    let index = ThumbsIndex {
        source: path.display().to_string(),
        duration,
        fast: opts.fast,
        thumbnails: entries,
    };
    let index_path = opts.output.join(format!("{}_thumbs.json", layout.base()));
    let text = serde_json::to_vec_pretty(&index)
        .map_err(|e| Error::Internal(format!("serialising the index: {e}")))?;
    // The index goes last: once it is there, every image it names is complete.
    write_by_rename(&index_path, &text)?;
    Ok(ThumbsReport {
        index_path,
        index,
        elapsed: started.elapsed(),
    })
}

/// Every wanted time, ascending and without repeats, with how it was asked for.
fn resolve_times(
    opts: &ThumbsOptions,
    path: &Path,
    duration: f64,
) -> Result<Vec<(f64, String)>, Error> {
    let bad = |value: &str, reason: String| Error::Time {
        path: path.to_path_buf(),
        value: value.to_string(),
        reason,
    };
    let known = duration > 0.0;
    let mut times = Vec::new();
    for spec in &opts.at {
        if spec.needs_duration() && !known {
            return Err(bad(spec.text(), "the source's duration is unknown".into()));
        }
        let t = spec.resolve(duration);
        if t < 0.0 {
            return Err(bad(
                spec.text(),
                format!("{t:.3} s is before the start (duration {duration:.3} s)"),
            ));
        }
        if known && t > duration + 1e-3 {
            return Err(bad(
                spec.text(),
                format!("past the end (duration {duration:.3} s)"),
            ));
        }
        times.push((t, spec.text().to_string()));
    }
    if let Some(every) = opts.every {
        if !(every > 0.0 && every.is_finite()) {
            return Err(bad(&every.to_string(), "--every must be above zero".into()));
        }
        if !known {
            return Err(bad(
                &format!("every {every}"),
                "the source's duration is unknown".into(),
            ));
        }
        times.extend(
            interval_times(every, duration, None)
                .into_iter()
                .map(|t| (t, format!("every {every}"))),
        );
    }
    if let Some(count) = opts.count {
        if count == 0 {
            return Err(bad("0", "--count must be at least 1".into()));
        }
        if !known {
            return Err(bad(
                &format!("count {count}"),
                "the source's duration is unknown".into(),
            ));
        }
        let step = duration / f64::from(count);
        times.extend((0..count).map(|i| ((f64::from(i) + 0.5) * step, format!("count {count}"))));
    }
    if times.is_empty() {
        return Err(bad(
            "",
            "no times asked for: give --at, --every or --count".into(),
        ));
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    times.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-3);
    Ok(times)
}

fn write_by_rename(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(Error::output(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::output(path))
}

/// An image a worker made: its number, the time of its frame, its size in bytes.
type Made = (usize, f64, u64);

/// What every worker shares.
struct Job<'a> {
    path: &'a Path,
    stream: usize,
    rotation: u32,
    interlaced: bool,
    threads: usize,
    size: (u32, u32),
    format: ImageFormat,
    quality: u8,
    fast: bool,
    out: &'a Path,
    layout: &'a Layout,
    /// Every time wanted, ascending.
    targets: &'a [f64],
    /// The next target to take: workers take them in order as they become free, so none
    /// idles while another has a queue, and close times still go to a worker whose
    /// decoder is already near.
    next: AtomicUsize,
    /// Set by a worker that failed, so that the others stop.
    failed: AtomicBool,
}

impl Job<'_> {
    /// Takes targets until none is left, with a demuxer and decoder of its own, and writes
    /// each image as soon as it is made; returns their numbers, frame times and sizes.
    fn run(&self) -> Result<Vec<Made>, Error> {
        let mut seeker: Option<Seeker<'_>> = None;
        let mut conv = Converter::new(self.size.0, self.size.1);
        let mut out = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&t) = self.targets.get(i) else { break };
            if self.failed.load(Ordering::Relaxed) {
                break;
            }
            let s = match seeker.as_mut() {
                Some(s) => s,
                None => seeker.insert(Seeker::open(self).inspect_err(|_| self.fail())?),
            };
            let (ft, frame) = s.frame_at(t, self.fast).inspect_err(|_| self.fail())?;
            let img = conv.rgb(&frame)?;
            let bytes = picture::encode(&img, self.format, self.quality)?;
            let file = self.out.join(self.layout.thumbnail("", i, self.format));
            write_by_rename(&file, &bytes)?;
            out.push((i, ft, bytes.len() as u64));
        }
        Ok(out)
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
}

/// One worker's demuxer and decoder, positioned by seeking or by decoding forward,
/// whichever decodes fewer frames.
struct Seeker<'a> {
    path: &'a Path,
    input: ff::format::context::Input,
    stream: usize,
    decoder: VideoDecoder,
    /// Seconds per tick of frame pts, and of the stream's own timestamps.
    frame_tick: f64,
    stream_tick: f64,
    /// The stream's start, seconds: time zero.
    start: f64,
    queue: VecDeque<(f64, frame::Video)>,
    eof: bool,
    /// The last frame taken that started at or before the last time asked for.
    prev: Option<(f64, frame::Video)>,
}

impl<'a> Seeker<'a> {
    fn open(job: &Job<'a>) -> Result<Seeker<'a>, Error> {
        let input = crate::probe::open_input(job.path)?;
        let st = input
            .stream(job.stream)
            .ok_or_else(|| Error::Internal("video stream vanished".into()))?;
        let stream_tick = f64::from(st.time_base());
        let start = match st.start_time() {
            t if t == ff::ffi::AV_NOPTS_VALUE => 0.0,
            t => t as f64 * stream_tick,
        };
        let decoder = VideoDecoder::open(
            job.path,
            &st,
            job.rotation,
            job.interlaced,
            None,
            job.threads,
        )?;
        let frame_tick = f64::from(decoder.time_base());
        Ok(Seeker {
            path: job.path,
            input,
            stream: job.stream,
            decoder,
            frame_tick,
            stream_tick,
            start,
            queue: VecDeque::new(),
            eof: false,
            prev: None,
        })
    }

    /// The frame shown at `t` (with `fast`: the keyframe at or before it) and its time.
    fn frame_at(&mut self, t: f64, fast: bool) -> Result<(f64, frame::Video), Error> {
        let key = self.keyframe_before(t);
        let forward = !fast
            && match (self.prev.as_ref().map(|p| p.0), key) {
                // Decoding on from here beats seeking when no keyframe lies in between.
                (Some(cur), Some(key)) => cur <= t + EPS && key <= cur + EPS,
                (Some(cur), None) => cur <= t + EPS && t - cur < 2.0,
                (None, _) => false,
            };
        if !forward {
            self.seek(t)?;
        }
        let mut margin = 0.0;
        loop {
            match self.next()? {
                Some((ft, f)) if ft <= t + EPS => {
                    self.prev = Some((ft, f));
                    if fast {
                        break;
                    }
                }
                Some((ft, f)) => {
                    if self.prev.is_none() && !forward && t > 0.0 && margin < 64.0 && ft > t + EPS {
                        // The seek landed after `t` (a keyframe index that lies, or an
                        // edit list): go back further.
                        margin = if margin == 0.0 { 1.0 } else { margin * 4.0 };
                        self.seek(t - margin)?;
                        continue;
                    }
                    if self.prev.is_none() {
                        // Nothing starts before `t` (t = 0 ahead of the first frame).
                        self.prev = Some((ft, f));
                    } else {
                        self.queue.push_front((ft, f));
                    }
                    break;
                }
                None => break,
            }
        }
        match &self.prev {
            Some((ft, f)) => Ok((*ft, crate::pipeline::share(f)?)),
            None => Err(Error::NoFrames {
                path: self.path.to_path_buf(),
            }),
        }
    }

    /// Time of the keyframe at or before `t`, from the demuxer's index (when it has one).
    fn keyframe_before(&self, t: f64) -> Option<f64> {
        let ts = ((self.start + t) / self.stream_tick).floor() as i64;
        // SAFETY: `stream` is a valid index of this open input; the entry returned points
        // into the stream's own index and is read at once.
        unsafe {
            let st = *(*self.input.as_ptr()).streams.add(self.stream);
            let e = ff::ffi::avformat_index_get_entry_from_timestamp(
                st,
                ts,
                ff::ffi::AVSEEK_FLAG_BACKWARD,
            );
            (!e.is_null()).then(|| (*e).timestamp as f64 * self.stream_tick - self.start)
        }
    }

    fn seek(&mut self, t: f64) -> Result<(), Error> {
        let ts = ((self.start + t.max(0.0)) * 1e6).floor() as i64;
        self.input.seek(ts, ..ts).map_err(|e| Error::Corrupt {
            path: self.path.to_path_buf(),
            what: "seeking",
            at: t,
            source: e,
        })?;
        self.decoder.reset()?;
        self.queue.clear();
        self.eof = false;
        self.prev = None;
        Ok(())
    }

    /// The next frame in presentation order, with its time; `None` at the end.
    fn next(&mut self) -> Result<Option<(f64, frame::Video)>, Error> {
        let mut packet = Packet::empty();
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Ok(Some(f));
            }
            if self.eof {
                return Ok(None);
            }
            let read = packet.read(&mut self.input);
            let to_decode = match read {
                Ok(()) if packet.stream() == self.stream => Some(&packet),
                Ok(()) => continue,
                Err(ff::Error::Eof) => None,
                // A cut-off file: what was read is all there is.
                Err(_) => None,
            };
            self.eof = to_decode.is_none();
            let (queue, tick, start) = (&mut self.queue, self.frame_tick, self.start);
            let mut sink = |f: frame::Video| -> Result<(), Error> {
                let t = f.pts().unwrap_or(0) as f64 * tick - start;
                queue.push_back((t, f));
                Ok(())
            };
            match self.decoder.decode(to_decode, &mut sink) {
                Ok(()) | Err(Failure::Decode(ff::Error::InvalidData | ff::Error::Eof)) => {}
                Err(Failure::Decode(e)) => {
                    return Err(Error::Corrupt {
                        path: self.path.to_path_buf(),
                        what: "decoding video",
                        at: self.prev.as_ref().map_or(0.0, |p| p.0),
                        source: e,
                    })
                }
                Err(Failure::Other(e)) => return Err(e),
            }
        }
    }
}
