//! `mpe transcode`: demux and decode once, fan frames out to every rung, encode audio once,
//! package every output group, write the manifests, and publish by rename.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ff::Rational;
use ffmpeg_next as ff;
use profiles::naming::{Group, Layout, AUDIO_NAME, METADATA};
use profiles::{MediaInfo, Plan, PlannedAudio, PlannedRendition, Profile};
use serde::Serialize;

use crate::audio::AudioPipeline;
use crate::capture::{Thumbnail, WriterSetup};
use crate::clock::Clock;
use crate::decode::VideoDecoder;
use crate::error::Error;
use crate::metadata::{AssetRecord, Facts, PreviewRecord, Timings, TrickPlayRecord};
use crate::mux::{Muxer, SegmentKind, StreamSpec};
use crate::package::Asset;
use crate::pipeline::{Piece, Pipeline, Window, Worker};
use crate::progress::Progress;
use crate::publish::Staging;
use crate::rung::{self, Target};

/// What to transcode, with which profile, to where.
#[derive(Debug, Clone)]
pub struct TranscodeOptions {
    /// The source file.
    pub source: PathBuf,
    /// Folder that receives the asset folder `<base name>/`.
    pub output: PathBuf,
    /// Name of the asset folder, when not the source's base name (a MediaConvert job's
    /// destination folder). File names keep the source's base name either way.
    pub asset_name: Option<String>,
    /// The profile.
    pub profile: Profile,
    /// Replace an existing asset folder.
    pub force: bool,
    /// Cores to plan encoder threads for (default: all available).
    pub threads: Option<usize>,
    /// Whether rungs are encoded in GOP-aligned chunks on parallel encoders.
    pub chunks: Chunks,
    /// Bytes of raw frames all chunk encoders together may hold queued (each lane holds
    /// a chunk); `None` for [`DEFAULT_CHUNK_MEMORY`]. Rungs get fewer lanes, or none,
    /// rather than go over it.
    pub chunk_memory: Option<u64>,
    /// Set to true to stop; the run then fails with [`Error::Cancelled`] and publishes nothing.
    pub cancel: Option<Arc<AtomicBool>>,
    /// A clockwise rotation to apply instead of the one the source's metadata asks
    /// (MediaConvert's `VideoSelector.Rotate`; `Some(0)` ignores the metadata).
    pub rotation: Option<u32>,
    /// Only this part of the source, re-timed to start at zero (MediaConvert's
    /// `InputClippings`); `None` for all of it.
    pub clip: Option<profiles::Clip>,
    /// Inputs joined after the source, in order, into one timeline (MediaConvert's further
    /// `Inputs`, and further clips of one input). Outputs keep the source's size, frame
    /// rate and names.
    pub joined: Vec<Joined>,
}

/// The default bound on the raw frames chunked encoding queues: 1 GiB.
pub const DEFAULT_CHUNK_MEMORY: u64 = 1 << 30;

/// An input joined to the timeline after the source.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The file.
    pub source: PathBuf,
    /// Only this part of it.
    pub clip: Option<profiles::Clip>,
    /// Its rotation override, as [`TranscodeOptions::rotation`].
    pub rotation: Option<u32>,
}

/// How a rung's frames are spread over encoders (see the `chunks` module).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Chunks {
    /// One x264 per rung, with the rung's share of the cores as its threads.
    #[default]
    Off,
    /// Chunked where a rung's share of the cores is more than one x264 of its size uses
    /// well; on a few cores this is the same as `Off`.
    Auto,
    /// This many chunk encoders per rung, sharing the rung's threads.
    Lanes(usize),
}

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFile {
    /// Path relative to the asset folder, with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The result of a successful transcode.
#[derive(Debug, Clone, Serialize)]
pub struct TranscodeReport {
    /// The published asset folder.
    pub asset_dir: PathBuf,
    /// The probed source.
    pub media: MediaInfo,
    /// The plan that was executed.
    pub plan: Plan,
    /// Every published file, sorted by path.
    pub files: Vec<OutputFile>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The asset record, as written to `metadata.json`.
    pub record: AssetRecord,
}

/// Runs the whole job. `progress` is called from this thread for every decoded frame.
pub fn transcode(
    opts: &TranscodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<TranscodeReport, Error> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let source = &opts.source;
    let mut input = crate::probe::open_input(source)?;
    let mut media = crate::probe::describe(source, &input);
    if let Some(r) = opts.rotation {
        for v in &mut media.video {
            v.rotation = r;
        }
    }
    let mut plan = profiles::plan(&opts.profile, &media)?;
    // A clip is planned as the source it amounts to: its length decides segments,
    // thumbnails at percentages and the preview's place.
    let window = match &opts.clip {
        Some(clip) => Some(clip_window(
            source,
            &input,
            &media,
            plan.video_stream,
            clip,
        )?),
        None => None,
    };
    let pieces = opts
        .joined
        .iter()
        .enumerate()
        .map(|(k, j)| {
            open_piece(j, &opts.profile, &plan).map_err(|e| match e {
                Error::Clip { path, source, .. } => Error::Clip {
                    path,
                    piece: k + 1,
                    source,
                },
                e => e,
            })
        })
        .collect::<Result<VecDeque<_>, _>>()?;
    let joined_seconds: f64 = pieces.iter().map(|p| p.planned).sum();
    if window.is_some() || !pieces.is_empty() {
        plan = profiles::plan(&opts.profile, &clipped(&media, window, joined_seconds))?;
    }
    // The first input's own part of the timeline.
    let first_seconds = (plan.duration - joined_seconds).max(0.0);
    let layout = Layout::for_source(&source.to_string_lossy());
    let asset_name = opts.asset_name.as_deref().unwrap_or(layout.base());
    let staging = Staging::new(&opts.output, asset_name, opts.force)?;
    let fps = f64::from(plan.frame_rate[0]) / f64::from(plan.frame_rate[1].max(1));
    let program_start = match opts
        .profile
        .outputs
        .hls
        .as_ref()
        .and_then(|h| h.program_date_time.as_ref())
    {
        Some(p) => Some((
            program_start(p, source, &input, &media, plan.video_stream, window)?,
            p.period_seconds,
        )),
        None => None,
    };
    let asset = Asset {
        root: staging.path(),
        layout: &layout,
        profile: &opts.profile,
        plan: &plan,
        fps,
        fmp4_offset: fmp4_offset(&plan, fps),
        program_start,
    };
    asset.create_folders()?;
    let mut outputs: Vec<&str> = plan.renditions.iter().map(|r| r.name.as_str()).collect();
    outputs.push(AUDIO_NAME);
    outputs.extend(plan.audio_renditions.iter().map(|(n, _)| n.as_str()));
    asset.create_scratch(&outputs)?;

    let ist = input
        .stream(plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream vanished".into()))?;
    // The shared zero of audio and video: the video stream's start.
    let start_seconds = stream_start(&ist);
    let video_info = media
        .video
        .iter()
        .find(|v| v.index == plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream not probed".into()))?;
    let interlaced = is_interlaced(video_info);
    let decoder = VideoDecoder::open(
        source,
        &ist,
        plan.rotation,
        interlaced,
        opts.profile.video.input_filter.as_ref(),
        0,
    )?;
    // SAFETY: reads plain enum fields of the stream's codec parameters.
    let color = unsafe {
        let par = &*ist.parameters().as_ptr();
        rung::Color {
            primaries: par.color_primaries.into(),
            transfer: par.color_trc.into(),
            space: par.color_space.into(),
        }
    };
    // Frames come out in the decoder's output time base, which filters may have changed.
    let frame_tb = decoder.time_base();
    let clip_start = window.map_or(0.0, |w| w.start);
    let mut clock = Clock::new(
        ((start_seconds + clip_start) / f64::from(frame_tb)).round() as i64,
        frame_tb,
        plan.gop_seconds,
        fps,
        plan.frame_step,
    )
    .with_segments(plan.segment_seconds);
    if let Some(w) = &window {
        clock = clock.with_clip(w.end.map(|e| e - w.start));
    }
    // Onto the output rate's grid: a rate not reached by dropping a whole factor, or
    // joined inputs whose rates differ from the first's.
    let source_fps = rate(video_info);
    // What the encoders count pts in: the decoder's ticks, or on the grid one a frame.
    let mut out_tb = frame_tb;
    if plan.retime || pieces.iter().any(|p| (p.fps - source_fps).abs() > 0.01) {
        out_tb = Rational::new(plan.frame_rate[1] as i32, plan.frame_rate[0] as i32);
        clock = clock.with_grid(source_fps, out_tb, plan.interpolate);
    }
    // One encoder per distinct audio setting (MediaConvert encodes each output's own
    // AudioDescriptions); outputs asking the same share its packets.
    let variants = plan.audio_variants();
    let mut audio = Vec::new();
    for pa in &variants {
        let streams = audio_streams(&input, &pa.streams())?;
        let end = (plan.duration > 0.0).then_some(plan.duration);
        audio.push(AudioPipeline::open(
            &streams,
            pa,
            start_seconds + clip_start,
            end,
        )?);
    }
    let specs: Vec<StreamSpec> = audio.iter().map(|a| a.spec()).collect();
    let audio_spec = specs.first();
    let cores = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let mut setups: Vec<_> = rung_setups(
        &asset,
        out_tb,
        (&variants, &specs),
        (cores, opts.chunks),
        opts.chunk_memory.unwrap_or(DEFAULT_CHUNK_MEMORY),
        color,
    )
    .into_iter()
    .map(|s| (Worker::Rung(Box::new(s)), None))
    .collect();
    setups.extend(preview_setup(&asset, out_tb, audio_spec, color));
    let writer = (plan.thumbnails.is_some() || plan.trickplay.is_some()).then(|| {
        let p = &opts.profile;
        WriterSetup {
            root: staging.path(),
            layout: &layout,
            thumbs: p
                .thumbnails
                .as_ref()
                .zip(plan.thumbnails.as_ref())
                .map(|(s, t)| (s.destination.as_str(), t)),
            tiles: p
                .trickplay
                .as_ref()
                .zip(plan.trickplay.as_ref())
                .map(|(s, t)| (s.destination.as_str(), t)),
        }
    });

    // Audio packets past the clip's end are no longer needed.
    let audio_stream_list = plan.audio.as_ref().map(|a| a.streams()).unwrap_or_default();
    let audio_until = match window.and_then(|w| w.end) {
        Some(end) => audio_streams(&input, &audio_stream_list)?
            .iter()
            .map(|s| crate::pipeline::audio_until(start_seconds + end, s.time_base()))
            .collect(),
        None => Vec::new(),
    };
    if clip_start > 0.0 {
        seek(&mut input, source, start_seconds + clip_start)?;
    }
    if !pieces.is_empty() {
        for a in &mut audio {
            // Its audio ends with its video, not running over the next input's.
            a.set_length(Some(first_seconds));
        }
    }
    let pipeline = Pipeline {
        source: source.clone(),
        audio_muxers: audio_muxers(&asset, &variants, &specs)?,
        input,
        video_stream: plan.video_stream,
        decoder,
        clock,
        audio,
        audio_streams: audio_stream_list,
        audio_until,
        duration: plan.duration,
        // The profile's limit, or the probed size where a profile allowed more.
        max_side: profiles::plan::MAX_SOURCE_SIDE
            .max(opts.profile.video.max_source_side.unwrap_or(0))
            .max(video_info.width.max(video_info.height)),
        cancel: opts.cancel.as_deref(),
        picker: None,
        clock_tb: frame_tb,
        next: pieces,
    };
    timings.probe = started.elapsed().as_secs_f64();
    let (finished, decoded, thumbnails) = pipeline.run(setups, writer, progress)?;
    timings.encode = started.elapsed().as_secs_f64() - timings.probe;
    for f in &finished {
        tracing::info!(rung = %f.name, frames = f.frames, codec = %f.codec, "encoded");
    }

    if decoded.frames == 0 {
        return Err(Error::NoFrames {
            path: source.clone(),
        });
    }
    // The video's own declared length; the container's only when nothing else could make
    // it longer (audio outlasting video is no sign of truncation).
    let declared = video_info
        .duration
        .or((media.audio.is_empty() && media.duration > 0.0).then_some(media.duration))
        .map(|d| match &window {
            Some(w) => w.end.unwrap_or(d).min(d) - w.start,
            None => d,
        } + joined_seconds);
    // One frame's worth of slack (two frame times of the slower of the source's and the
    // output's rates: the last frame's own duration, and the grid's rounding): a short
    // clip cut short is refused, and a percentage would let a long film lose minutes.
    let out_fps = plan.frame_rate[0] as f64 / plan.frame_rate[1].max(1) as f64;
    let slowest = [source_fps, out_fps]
        .into_iter()
        .filter(|f| f.is_finite() && *f > 0.0)
        .fold(f64::INFINITY, f64::min);
    let tolerance = if slowest.is_finite() {
        2.0 / slowest
    } else {
        plan.gop_seconds.max(1.0)
    };
    if let Some(declared) = declared.filter(|d| decoded.end < d - tolerance) {
        return Err(Error::Truncated {
            path: source.clone(),
            decoded: decoded.end,
            declared,
        });
    }

    let package_start = Instant::now();
    let mut facts = BTreeMap::new();
    let counts = asset.write_manifests(&finished, &mut facts)?;
    let (preview, trickplay) = extras(&asset, &decoded, &thumbnails, &mut facts)?;
    let files = asset.verify(counts)?;
    timings.package = package_start.elapsed().as_secs_f64();
    let checksum_start = Instant::now();
    let records = crate::metadata::file_records(staging.path(), &files, &facts)?;
    timings.checksum = checksum_start.elapsed().as_secs_f64();
    timings.total = started.elapsed().as_secs_f64();
    let record = AssetRecord {
        schema: crate::metadata::SCHEMA,
        mpe_version: env!("CARGO_PKG_VERSION"),
        created: crate::metadata::now_rfc3339(),
        source: source.display().to_string(),
        profile: opts.profile.name.clone(),
        media: media.clone(),
        plan: plan.clone(),
        files: records,
        thumbnails,
        preview,
        trickplay,
        timings,
    };
    let record_path = staging.path().join(METADATA);
    let text = serde_json::to_string_pretty(&record)
        .map_err(|e| Error::Internal(format!("serialising the asset record: {e}")))?;
    std::fs::write(&record_path, text).map_err(Error::output(&record_path))?;
    // A Ctrl-C that came after the last frame was decoded still means "do not publish".
    if opts
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    {
        return Err(Error::Cancelled);
    }
    let asset_dir = staging.publish()?;
    Ok(TranscodeReport {
        asset_dir,
        media,
        plan,
        files,
        elapsed: started.elapsed(),
        record,
    })
}

/// The clip in seconds of the planned video stream, on the timeline its timecode source
/// gives.
fn clip_window(
    source: &std::path::Path,
    input: &ff::format::context::Input,
    media: &MediaInfo,
    video_stream: usize,
    clip: &profiles::Clip,
) -> Result<profiles::ClipWindow, Error> {
    let video = media.video.iter().find(|v| v.index == video_stream);
    let fps = video.map_or([25, 1], |v| v.frame_rate);
    let duration = video.and_then(|v| v.duration).unwrap_or(media.duration);
    clip.window(fps, embedded_timecode(input), duration)
        .map_err(|e| Error::Clip {
            path: source.to_path_buf(),
            piece: 0,
            source: e,
        })
}

/// The wall-clock time of the first output frame: its date (the profile's, or today in
/// UTC) and its timecode as a time of day. An embedded timecode is the input's first
/// frame's, so a clip adds its start.
fn program_start(
    p: &profiles::ProgramDateTime,
    source: &std::path::Path,
    input: &ff::format::context::Input,
    media: &MediaInfo,
    video_stream: usize,
    window: Option<profiles::ClipWindow>,
) -> Result<chrono::DateTime<chrono::FixedOffset>, Error> {
    let fps = media
        .video
        .iter()
        .find(|v| v.index == video_stream)
        .map_or([25, 1], |v| v.frame_rate);
    let seconds_of = |tc: profiles::Timecode| -> Result<f64, Error> {
        let frames = tc.frame_number(fps).map_err(|e| Error::Time {
            path: source.to_path_buf(),
            value: e.text.clone(),
            reason: format!("program date-time start: {}", e.reason),
        })?;
        Ok(frames as f64 * f64::from(fps[1].max(1)) / f64::from(fps[0].max(1)))
    };
    let time = match p.origin {
        profiles::TimecodeOrigin::Zero => 0.0,
        profiles::TimecodeOrigin::Specified(tc) => seconds_of(tc)?,
        profiles::TimecodeOrigin::Embedded => {
            let first = embedded_timecode(input).map(seconds_of).transpose()?;
            first.unwrap_or(0.0) + window.map_or(0.0, |w| w.start)
        }
    };
    let date = match &p.date {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| Error::Time {
            path: source.to_path_buf(),
            value: d.clone(),
            reason: format!("program date-time date: {e}"),
        })?,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            chrono::DateTime::from_timestamp(now, 0)
                .unwrap_or_default()
                .date_naive()
        }
    };
    let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc();
    Ok((midnight + chrono::Duration::milliseconds((time * 1000.0).round() as i64)).fixed_offset())
}

/// A video stream's frame rate in frames a second.
fn rate(v: &profiles::VideoStream) -> f64 {
    f64::from(v.frame_rate[0]) / f64::from(v.frame_rate[1].max(1))
}

/// A stream's start in seconds (0 when the container does not say).
fn stream_start(stream: &ff::format::stream::Stream<'_>) -> f64 {
    match stream.start_time() {
        t if t == ff::ffi::AV_NOPTS_VALUE => 0.0,
        t => t as f64 * f64::from(stream.time_base()),
    }
}

/// Whether the probe found the stream's fields interlaced.
fn is_interlaced(video: &profiles::VideoStream) -> bool {
    matches!(
        video.field_order.as_deref(),
        Some("tt" | "bb" | "tb" | "bt")
    )
}

/// Seeks `input` to the keyframe at or before `seconds` of its timeline; the clock drops
/// the frames before the clip's start.
pub(crate) fn seek(
    input: &mut ff::format::context::Input,
    path: &std::path::Path,
    seconds: f64,
) -> Result<(), Error> {
    let ts = (seconds * f64::from(ff::ffi::AV_TIME_BASE)) as i64;
    input.seek(ts, ..ts).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        what: "seeking to the clip's start",
        at: seconds,
        source: e,
    })
}

/// Opens, probes and plans an input joined after the source: its streams and its part of
/// the timeline.
fn open_piece(joined: &Joined, profile: &Profile, first_plan: &Plan) -> Result<Piece, Error> {
    let path = &joined.source;
    let input = crate::probe::open_input(path)?;
    let mut media = crate::probe::describe(path, &input);
    if let Some(r) = joined.rotation {
        for v in &mut media.video {
            v.rotation = r;
        }
    }
    let plan = profiles::plan(profile, &media)?;
    let video = media
        .video
        .iter()
        .find(|v| v.index == plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream not probed".into()))?;
    let w = match &joined.clip {
        Some(c) => clip_window(path, &input, &media, plan.video_stream, c)?,
        None => profiles::ClipWindow {
            start: 0.0,
            end: None,
        },
    };
    let duration = video.duration.unwrap_or(media.duration);
    let planned = (w.end.unwrap_or(duration).min(duration) - w.start).max(0.0);
    let stream = input
        .stream(plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream vanished".into()))?;
    let stream_start = stream_start(&stream);
    let interlaced = is_interlaced(video);
    let (video_stream, rotation) = (plan.video_stream, plan.rotation);
    let audio_streams = first_plan
        .audio
        .as_ref()
        .and(plan.audio.as_ref())
        .map(|a| a.streams())
        .unwrap_or_default();
    Ok(Piece {
        source: path.clone(),
        input,
        video_stream,
        audio_streams,
        rotation,
        interlaced,
        start: stream_start + w.start,
        length: w.end.map(|e| e - w.start),
        planned,
        seek: w.start > 0.0,
        fps: rate(video),
        input_filter: profile.video.input_filter,
    })
}

/// The input's streams `indices`, as planned.
pub(crate) fn audio_streams<'a>(
    input: &'a ff::format::context::Input,
    indices: &[usize],
) -> Result<Vec<ff::format::stream::Stream<'a>>, Error> {
    indices
        .iter()
        .map(|&i| {
            input
                .stream(i)
                .ok_or_else(|| Error::Internal("planned audio stream vanished".into()))
        })
        .collect()
}

/// The source's own timecode of its first frame: the `timecode` tag FFmpeg's demuxers
/// set from a QuickTime `tmcd` track, an MXF or a Matroska tag, on a stream or the file.
fn embedded_timecode(input: &ff::format::context::Input) -> Option<profiles::Timecode> {
    let tagged = |m: ff::DictionaryRef<'_>| m.get("timecode").and_then(|t| t.parse().ok());
    input
        .streams()
        .find_map(|s| tagged(s.metadata()))
        .or_else(|| tagged(input.metadata()))
}

/// The source as its clip and the inputs joined after it make it: durations cut to the
/// window, then `joined` seconds longer.
fn clipped(media: &MediaInfo, w: Option<profiles::ClipWindow>, joined: f64) -> MediaInfo {
    let w = w.unwrap_or(profiles::ClipWindow {
        start: 0.0,
        end: None,
    });
    let cut = |d: f64| (w.end.unwrap_or(d).min(d) - w.start).max(0.0) + joined;
    let mut m = media.clone();
    m.duration = cut(m.duration);
    for v in &mut m.video {
        v.duration = v.duration.map(cut);
    }
    for a in &mut m.audio {
        a.duration = a.duration.map(cut);
    }
    m
}

/// Writes the trick-play track, and describes the MP4s, the preview and the pictures.
fn extras(
    asset: &Asset<'_>,
    decoded: &crate::pipeline::Decoded,
    thumbnails: &[Thumbnail],
    facts: &mut BTreeMap<String, Facts>,
) -> Result<(Option<PreviewRecord>, Option<TrickPlayRecord>), Error> {
    let (plan, profile, layout) = (asset.plan, asset.profile, asset.layout);
    if let Some(f) = &profile.outputs.file {
        for r in plan
            .renditions
            .iter()
            .filter(|r| plan.file_renditions.contains(&r.name))
        {
            let facts_of = Facts {
                kind: "video",
                duration: Some(decoded.end),
                size: Some((r.width, r.height)),
            };
            facts.insert(layout.file_output(&f.destination, &r.name), facts_of);
        }
    }
    for t in thumbnails {
        let f = Facts {
            kind: "thumbnail",
            duration: None,
            size: Some((t.width, t.height)),
        };
        facts.insert(t.path.clone(), f);
    }
    let preview = match (&profile.preview, &plan.preview) {
        (Some(s), Some(p)) => {
            let path = layout.preview(&s.destination);
            let seconds = p.seconds.min(decoded.end - p.start).max(0.0);
            let f = Facts {
                kind: "preview",
                duration: Some(seconds),
                size: Some((p.width, p.height)),
            };
            facts.insert(path.clone(), f);
            let webp = p.animated_webp.as_ref().map(|a| {
                let webp = layout.preview_webp(&s.destination);
                let f = Facts {
                    kind: "preview",
                    duration: Some(seconds),
                    size: Some((a.width, a.height)),
                };
                facts.insert(webp.clone(), f);
                webp
            });
            Some(PreviewRecord {
                path,
                start: p.start,
                seconds,
                animated_webp: webp,
            })
        }
        _ => None,
    };
    let trickplay = match (&profile.trickplay, &plan.trickplay) {
        (Some(s), Some(t)) => {
            let vtt = layout.trickplay_vtt(&s.destination);
            let path = asset.root.join(&vtt);
            let text = t.vtt(layout, decoded.end);
            std::fs::write(&path, text).map_err(Error::output(&path))?;
            let sheets: Vec<String> = (1..=t.sheets())
                .map(|n| layout.trickplay_sheet(&s.destination, n))
                .collect();
            for sheet in &sheets {
                let f = Facts {
                    kind: "sprite",
                    duration: None,
                    size: Some((t.columns * t.tile_width, t.rows * t.tile_height)),
                };
                facts.insert(sheet.clone(), f);
            }
            facts.insert(
                vtt.clone(),
                Facts {
                    kind: "vtt",
                    ..Facts::default()
                },
            );
            Some(TrickPlayRecord {
                vtt,
                sheets,
                interval: t.interval,
                tile_width: t.tile_width,
                tile_height: t.tile_height,
                columns: t.columns,
                rows: t.rows,
            })
        }
        _ => None,
    };
    Ok((preview, trickplay))
}

/// The preview clip: a rung of its own that gets only its window of the source, and its
/// animated WebP version when asked for.
fn preview_setup(
    asset: &Asset<'_>,
    frame_tb: Rational,
    audio: Option<&StreamSpec>,
    color: rung::Color,
) -> Vec<(Worker, Option<Window>)> {
    let (plan, profile) = (asset.plan, asset.profile);
    let Some((settings, p)) = profile.preview.as_ref().zip(plan.preview.as_ref()) else {
        return Vec::new();
    };
    let audio = audio.filter(|_| p.audio);
    let rendition = PlannedRendition {
        name: "preview".into(),
        width: p.width,
        height: p.height,
        bitrate: p.bitrate,
        max_bitrate: p.max_bitrate,
        buffer_size: p.buffer_size,
        source_size: false,
        placement: None,
        audio: None,
        file_audio: None,
        sharpness: None,
    };
    let window = || Window {
        start: p.start,
        end: p.start + p.seconds,
        video_tick: f64::from(frame_tb),
        audio_tick: audio.map_or(1.0, |a| f64::from(a.time_base)),
    };
    let setup = rung::Setup {
        rendition,
        video: profile.video.clone(),
        time_base: frame_tb,
        frame_rate: Rational::new(plan.frame_rate[0] as i32, plan.frame_rate[1] as i32),
        gop_frames: (plan.gop_seconds * asset.fps).round().max(1.0) as u32,
        segment_seconds: plan.segment_seconds,
        fmp4_offset: asset.fmp4_offset,
        // A few seconds at a small size: one thread keeps it off the ladder's cores.
        threads: 1,
        lanes: 1,
        targets: vec![Target::File {
            path: asset.root.join(asset.layout.preview(&settings.destination)),
            audio: audio.map(|_| 0),
        }],
        audio: audio.map(|a| (0, a.clone())).into_iter().collect(),
        color,
    };
    let mut workers = vec![(Worker::Rung(Box::new(setup)), Some(window()))];
    if let Some(a) = &p.animated_webp {
        let anim = crate::animation::Setup {
            path: asset
                .root
                .join(asset.layout.preview_webp(&settings.destination)),
            width: a.width,
            height: a.height,
            fps: a.fps,
            quality: a.quality,
            time_base: frame_tb,
        };
        workers.push((Worker::Animation(anim), Some(window())));
    }
    workers
}

/// The shift of every fMP4 timestamp: a whole number of frames covering x264's B-frame
/// reorder delay (two frames) and AAC's priming (1024 samples), exact in the video time base.
fn fmp4_offset(plan: &Plan, fps: f64) -> f64 {
    // The longest priming of any audio output (44.1 kHz primes longer than 48 kHz).
    let priming = plan
        .separate_audio()
        .iter()
        .map(|(_, a)| 1024.0 / f64::from(a.sample_rate))
        .fold(0.0, f64::max);
    (priming * fps).ceil().max(2.0) / fps
}

/// The audio-only segmenters of the groups that keep audio separate, each with the audio
/// encoding (its index in `variants`) it writes.
fn audio_muxers(
    asset: &Asset<'_>,
    variants: &[&PlannedAudio],
    specs: &[StreamSpec],
) -> Result<Vec<(usize, Muxer)>, Error> {
    let mut muxers = Vec::new();
    for (group, _) in asset.groups() {
        if !group.separate_audio() {
            continue;
        }
        for (name, audio) in asset.plan.separate_audio() {
            let Some((variant, spec)) = variants
                .iter()
                .position(|v| *v == audio)
                .and_then(|i| Some((i, specs.get(i)?)))
            else {
                return Err(Error::Internal(format!(
                    "audio output {name} has no encoder"
                )));
            };
            let p = asset.segment_paths(group, name);
            let init = p.init_name.clone().unwrap_or_default();
            let muxer = Muxer::segmented(
                &p.playlist,
                &p.pattern,
                SegmentKind::Fmp4 {
                    init_name: &init,
                    offset: asset.fmp4_offset,
                },
                asset.plan.segment_seconds,
                std::slice::from_ref(spec),
            )?;
            muxers.push((variant, muxer));
        }
    }
    Ok(muxers)
}

/// What each rung's thread needs: its encoder settings and every output it writes.
fn rung_setups(
    asset: &Asset<'_>,
    frame_tb: Rational,
    (variants, specs): (&[&PlannedAudio], &[StreamSpec]),
    (cores, chunks): (usize, Chunks),
    memory: u64,
    color: rung::Color,
) -> Vec<rung::Setup> {
    let plan = asset.plan;
    let profile = asset.profile;
    let gop_frames = (plan.gop_seconds * asset.fps).round().max(1.0) as u32;
    let threads = thread_budget(plan, cores);
    let pixels: f64 = plan
        .renditions
        .iter()
        .map(|r| f64::from(r.width) * f64::from(r.height))
        .sum::<f64>()
        .max(1.0);
    plan.renditions
        .iter()
        .zip(threads)
        .map(|(r, budget)| {
            let (mut lanes, mut threads) = lanes(r.height.min(r.width), budget, chunks);
            // Each lane queues a chunk (a segment) of raw frames; the rungs share the
            // memory bound by their pixels, as they share the cores.
            let share = memory as f64 * f64::from(r.width) * f64::from(r.height) / pixels;
            let fit = (share / chunk_bytes(r, plan, asset.fps)).floor() as usize;
            if lanes > 1 && fit < lanes {
                let fewer = if fit < 2 { 1 } else { fit };
                tracing::info!(rung = %r.name, asked = lanes, lanes = fewer, memory_mib = memory >> 20, "fewer chunk encoders to stay within the chunk memory");
                lanes = fewer;
                threads = budget.div_ceil(lanes).max(1);
            }
            let index =
                |a: Option<&PlannedAudio>| a.and_then(|a| variants.iter().position(|v| *v == a));
            let variant = index(plan.rung_audio(r));
            let file_variant = index(plan.file_audio(r));
            let mut targets: Vec<Target> = asset
                .groups()
                .into_iter()
                .map(|(group, _)| Target::Segments {
                    paths: asset.segment_paths(group, &r.name),
                    ts: (group == Group::Hls).then(|| {
                        profile
                            .outputs
                            .hls
                            .as_ref()
                            .map(|h| h.transport.clone())
                            .unwrap_or_default()
                    }),
                    audio: variant.filter(|_| !group.separate_audio()),
                })
                .collect();
            if let Some(f) = &profile.outputs.file {
                if plan.file_renditions.contains(&r.name) {
                    targets.push(Target::File {
                        path: asset.file_output(&f.destination, &r.name),
                        audio: file_variant,
                    });
                }
            }
            // The encodings its targets mux, each once.
            let mut audio: Vec<(usize, StreamSpec)> = Vec::new();
            for t in &targets {
                let (Target::Segments { audio: a, .. } | Target::File { audio: a, .. }) = t;
                if let Some((v, spec)) = a.and_then(|v| Some((v, specs.get(v)?))) {
                    if !audio.iter().any(|(i, _)| *i == v) {
                        audio.push((v, spec.clone()));
                    }
                }
            }
            rung::Setup {
                rendition: r.clone(),
                video: profile.video.clone(),
                time_base: frame_tb,
                frame_rate: Rational::new(plan.frame_rate[0] as i32, plan.frame_rate[1] as i32),
                gop_frames,
                segment_seconds: plan.segment_seconds,
                fmp4_offset: asset.fmp4_offset,
                threads,
                lanes,
                targets,
                audio,
                color,
            }
        })
        .collect()
}

/// Chunk encoders and threads per encoder for a rung whose short side is `short` pixels
/// and whose share of the cores is `budget` threads.
fn lanes(short: u32, budget: usize, chunks: Chunks) -> (usize, usize) {
    let lanes = match chunks {
        Chunks::Off => 1,
        // x264's frame threads stop paying off well before its own limit: each waits on
        // the rows of the frame before, and small frames have few rows. About one thread
        // per 180 rows keeps them busy (1080p: 6, 720p: 4, 360p: 2).
        Chunks::Auto => budget.div_ceil((short as usize / 180).clamp(1, 6)),
        Chunks::Lanes(n) => n.max(1),
    };
    (lanes, budget.div_ceil(lanes).max(1))
}

/// Bytes of the raw frames one lane of rung `r` queues: a chunk (a segment) and two, of
/// 8-bit 4:2:0 pictures (what the rungs encode).
fn chunk_bytes(r: &profiles::PlannedRendition, plan: &Plan, fps: f64) -> f64 {
    let frames = (plan.segment_seconds * fps.max(1.0)).ceil() + 2.0;
    frames * f64::from(r.width) * f64::from(r.height) * 1.5
}

/// Splits `cores` encoder threads across the rungs by pixel count: one x264 per rung, big
/// rungs get more threads, none gets fewer than one.
fn thread_budget(plan: &Plan, cores: usize) -> Vec<usize> {
    let pixels: Vec<f64> = plan
        .renditions
        .iter()
        .map(|r| f64::from(r.width) * f64::from(r.height))
        .collect();
    let sum: f64 = pixels.iter().sum::<f64>().max(1.0);
    // x264 likes ~1.5 threads per core to hide its own serial parts.
    let budget = cores as f64 * 1.5;
    pixels
        .iter()
        .map(|p| ((budget * p / sum).round() as usize).max(1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{lanes, Chunks};

    #[test]
    fn auto_chunks_only_rungs_with_threads_to_spare() {
        // The default ladder on 2 cores: 1080p gets 2 threads, nothing is chunked.
        assert_eq!(lanes(1080, 2, Chunks::Auto), (1, 2));
        // On 16 cores (24 threads split by pixels: 14/6/3/2): 3, 2, 2 and 1 encoders.
        assert_eq!(lanes(1080, 14, Chunks::Auto), (3, 5));
        assert_eq!(lanes(720, 6, Chunks::Auto), (2, 3));
        assert_eq!(lanes(480, 3, Chunks::Auto), (2, 2));
        assert_eq!(lanes(360, 2, Chunks::Auto), (1, 2));
        // Asked for: that many encoders, sharing the threads, at least one each.
        assert_eq!(lanes(1080, 2, Chunks::Lanes(3)), (3, 1));
        assert_eq!(lanes(1080, 14, Chunks::Off), (1, 14));
    }
}
