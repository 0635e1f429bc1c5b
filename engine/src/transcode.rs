//! `mpe transcode`: demux and decode once, fan frames out to every rung, encode audio once,
//! package every output group, write the manifests, and publish by rename.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ff::{frame, Packet, Rational};
use ffmpeg_next as ff;
use profiles::naming::{streaming_groups, Group, Layout, AUDIO_NAME};
use profiles::{MediaInfo, Plan, Profile};
use serde::Serialize;

use crate::audio::AudioPipeline;
use crate::clock::Clock;
use crate::decode::{Failure, VideoDecoder};
use crate::error::Error;
use crate::hls::{self, PackagedOutput, Segment};
use crate::mux::{Muxer, SegmentKind, SegmentPaths};
use crate::progress::Progress;
use crate::publish::Staging;
use crate::rung::{self, Msg, Target};

/// Frames queued per rung: enough to ride out x264's uneven pace, small enough that memory
/// stays bounded whatever the source length (frames are shared by reference, not copied).
const QUEUE: usize = 8;

/// What to transcode, with which profile, to where.
#[derive(Debug, Clone)]
pub struct TranscodeOptions {
    /// The source file.
    pub source: PathBuf,
    /// Folder that receives the asset folder `<base name>/`.
    pub output: PathBuf,
    /// The profile.
    pub profile: Profile,
    /// Replace an existing asset folder.
    pub force: bool,
    /// Cores to plan encoder threads for (default: all available).
    pub threads: Option<usize>,
    /// Set to true to stop; the run then fails with [`Error::Cancelled`] and publishes nothing.
    pub cancel: Option<Arc<AtomicBool>>,
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
fn share(f: &frame::Video) -> Result<frame::Video, Error> {
    // SAFETY: av_frame_clone makes a new AVFrame referencing f's buffers, or returns NULL.
    unsafe {
        let p = ff::ffi::av_frame_clone(f.as_ptr());
        if p.is_null() {
            return Err(Error::Internal("out of memory sharing a frame".into()));
        }
        Ok(frame::Video::wrap(p))
    }
}

/// Runs the whole job. `progress` is called from this thread for every decoded frame.
pub fn transcode(
    opts: &TranscodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<TranscodeReport, Error> {
    let started = Instant::now();
    let source = &opts.source;
    let mut input = crate::probe::open_input(source)?;
    let media = crate::probe::describe(source, &input);
    let plan = profiles::plan(&opts.profile, &media)?;
    let layout = Layout::for_source(&source.to_string_lossy());
    let staging = Staging::new(&opts.output, layout.base(), opts.force)?;
    let root = staging.path().to_path_buf();
    let profile = &opts.profile;
    let groups = streaming_groups(profile);
    for (_, dest) in &groups {
        std::fs::create_dir_all(root.join(dest)).map_err(Error::output(root.join(dest)))?;
    }
    if let Some(f) = &profile.outputs.file {
        std::fs::create_dir_all(root.join(&f.destination))
            .map_err(Error::output(root.join(&f.destination)))?;
    }

    let ist = input
        .stream(plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream vanished".into()))?;
    let video_tb = ist.time_base();
    let start_ts = match ist.start_time() {
        t if t == ff::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let start_seconds = start_ts as f64 * f64::from(video_tb);
    let video_info = media
        .video
        .iter()
        .find(|v| v.index == plan.video_stream)
        .ok_or_else(|| Error::Internal("planned video stream not probed".into()))?;
    let interlaced = matches!(
        video_info.field_order.as_deref(),
        Some("tt" | "bb" | "tb" | "bt")
    );
    let mut decoder = VideoDecoder::open(source, &ist, plan.rotation, interlaced)?;
    let frame_tb = decoder.time_base();

    let mut audio = match &plan.audio {
        Some(pa) => {
            let ast = input
                .stream(pa.source_stream)
                .ok_or_else(|| Error::Internal("planned audio stream vanished".into()))?;
            Some(AudioPipeline::open(
                &ast,
                pa,
                start_seconds,
                (plan.duration > 0.0).then_some(plan.duration),
            )?)
        }
        None => None,
    };
    let audio_spec = audio.as_ref().map(|a| a.spec());
    let audio_stream = plan.audio.as_ref().map(|a| a.source_stream);

    let segment_paths = |group: Group, dest: &str, name: &str| SegmentPaths {
        playlist: root.join(layout.child_playlist(dest, name)),
        pattern: root.join(layout.segment_pattern(group, dest, name)),
        init_name: group.has_init().then(|| {
            let full = layout.init_segment(group, dest, name);
            full[dest.len()..].to_string()
        }),
    };

    let fps = f64::from(plan.frame_rate[0]) / f64::from(plan.frame_rate[1].max(1));
    // Two frames cover x264's B-frame reorder delay, and 1024 samples AAC's priming.
    let fmp4_offset = {
        let priming = plan
            .audio
            .as_ref()
            .map_or(0.0, |a| 1024.0 / f64::from(a.sample_rate));
        // A whole number of frames, so the shift is exact in the video time base.
        (priming * fps).ceil().max(2.0) / fps
    };

    // Audio-only outputs of the groups that keep audio separate.
    let mut audio_muxers = Vec::new();
    if let Some(spec) = &audio_spec {
        for (group, dest) in &groups {
            if group.separate_audio() {
                let p = segment_paths(*group, dest, AUDIO_NAME);
                let init = p.init_name.clone().unwrap_or_default();
                audio_muxers.push(Muxer::segmented(
                    &p.playlist,
                    &p.pattern,
                    SegmentKind::Fmp4 {
                        init_name: &init,
                        offset: fmp4_offset,
                    },
                    plan.segment_seconds,
                    std::slice::from_ref(spec),
                )?);
            }
        }
    }

    let gop_frames = (plan.gop_seconds * fps).round().max(1.0) as u32;
    let cores = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let threads = thread_budget(&plan, cores);

    let mut setups = Vec::new();
    for (r, threads) in plan.renditions.iter().zip(threads) {
        let mut targets = Vec::new();
        for (group, dest) in &groups {
            targets.push(Target::Segments {
                paths: segment_paths(*group, dest, &r.name),
                ts: *group == Group::Hls,
                with_audio: !group.separate_audio(),
            });
        }
        if let Some(f) = &profile.outputs.file {
            if plan.file_renditions.contains(&r.name) {
                targets.push(Target::File {
                    path: root.join(layout.file_output(&f.destination, &r.name)),
                    with_audio: true,
                });
            }
        }
        setups.push(rung::Setup {
            rendition: r.clone(),
            video: profile.video.clone(),
            time_base: frame_tb,
            frame_rate: Rational::new(plan.frame_rate[0] as i32, plan.frame_rate[1] as i32),
            gop_frames,
            segment_seconds: plan.segment_seconds,
            fmp4_offset,
            threads,
            targets,
            audio: audio_spec.clone(),
        });
    }

    let video_index = plan.video_stream;
    let total = plan.duration;
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
            let name = setup.rendition.name.clone();
            let handle = std::thread::Builder::new()
                .name(format!("rung-{name}"))
                .spawn_scoped(scope, move || rung::run(setup, rx))
                .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
            handles.push(handle);
        }
        let fanout = Fanout { senders };
        // Frames come out in the decoder's output time base, which filters may have changed.
        let start_in_frame_tb = (start_seconds / f64::from(frame_tb)).round() as i64;
        let mut clock = Clock::new(
            start_in_frame_tb,
            frame_tb,
            plan.gop_seconds,
            fps,
            plan.frame_step,
        );
        let mut audio_out = Vec::new();
        let result = (|| -> Result<Decoded, Error> {
            let mut packet = Packet::empty();
            loop {
                if opts
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::Relaxed))
                {
                    return Err(Error::Cancelled);
                }
                match packet.read(&mut input) {
                    Ok(()) => {}
                    Err(ff::Error::Eof) => break,
                    // A read error at the end of a cut-off file: keep what was read, and let
                    // the duration check below say "truncated".
                    Err(_) if clock.frames > 0 => break,
                    Err(e) => {
                        return Err(Error::Corrupt {
                            path: source.clone(),
                            what: "reading",
                            at: clock.position(),
                            source: e,
                        })
                    }
                }
                if packet.stream() == video_index {
                    let mut sink = |f: frame::Video| -> Result<(), Error> {
                        if let Some(f) = clock.stamp(f) {
                            fanout.video(&f)?;
                            progress(Progress {
                                position: clock.position(),
                                duration: total,
                                frames: clock.frames,
                                finishing: false,
                            });
                        }
                        Ok(())
                    };
                    match decoder.decode(Some(&packet), &mut sink) {
                        Ok(()) => {}
                        // Damaged packets are skipped, as players do.
                        Err(Failure::Decode(ff::Error::InvalidData)) => {}
                        Err(Failure::Decode(e)) => {
                            return Err(Error::Corrupt {
                                path: source.clone(),
                                what: "decoding video",
                                at: clock.position(),
                                source: e,
                            })
                        }
                        Err(Failure::Sink(e)) => return Err(e),
                    }
                } else if Some(packet.stream()) == audio_stream {
                    if let Some(a) = audio.as_mut() {
                        a.push(Some(&packet), &mut audio_out)
                            .map_err(|e| Error::Corrupt {
                                path: source.clone(),
                                what: "decoding audio",
                                at: clock.position(),
                                source: e,
                            })?;
                        for p in audio_out.drain(..) {
                            for m in &mut audio_muxers {
                                m.write(0, &p)?;
                            }
                            fanout.audio(&p)?;
                        }
                    }
                }
            }
            let mut sink = |f: frame::Video| -> Result<(), Error> {
                if let Some(f) = clock.stamp(f) {
                    fanout.video(&f)?;
                }
                Ok(())
            };
            match decoder.decode(None, &mut sink) {
                Ok(()) | Err(Failure::Decode(ff::Error::InvalidData)) => {}
                Err(Failure::Decode(ff::Error::Eof)) => {}
                Err(Failure::Decode(e)) => {
                    return Err(Error::Corrupt {
                        path: source.clone(),
                        what: "decoding video",
                        at: clock.position(),
                        source: e,
                    })
                }
                Err(Failure::Sink(e)) => return Err(e),
            }
            if let Some(a) = audio.as_mut() {
                a.push(None, &mut audio_out)
                    .map_err(Error::ffmpeg("flushing the audio"))?;
                for p in audio_out.drain(..) {
                    for m in &mut audio_muxers {
                        m.write(0, &p)?;
                    }
                    fanout.audio(&p)?;
                }
            }
            progress(Progress {
                position: clock.position(),
                duration: total,
                frames: clock.frames,
                finishing: true,
            });
            Ok(Decoded {
                frames: clock.frames,
                end: clock.end(),
            })
        })();
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
    for m in audio_muxers {
        m.finish()?;
    }
    for f in &finished {
        tracing::info!(rung = %f.name, frames = f.frames, codec = %f.codec, "encoded");
    }

    if decoded.frames == 0 {
        return Err(Error::NoFrames {
            path: source.clone(),
        });
    }
    let declared = video_info.duration.unwrap_or(media.duration);
    if declared > 0.0 && decoded.end < declared - (0.1 * declared).max(0.5) {
        return Err(Error::Truncated {
            path: source.clone(),
            decoded: decoded.end,
            declared,
        });
    }

    // Manifests, from what the segmenters actually wrote.
    let mut counts = (0, 0);
    for (group, dest) in &groups {
        let mut videos = Vec::new();
        for r in &plan.renditions {
            let f = finished
                .iter()
                .find(|f| f.name == r.name)
                .ok_or_else(|| Error::Internal(format!("rung {} did not report", r.name)))?;
            let codecs = if *group == Group::Hls && plan.audio.is_some() {
                format!("{},{}", f.codec, crate::codecs::AAC_LC)
            } else {
                f.codec.clone()
            };
            let out = packaged(
                &root,
                &layout,
                *group,
                dest,
                &r.name,
                codecs,
                Some((r.width, r.height, fps)),
                &plan,
            )?;
            counts.0 = out.segments.len() as u32;
            videos.push(out);
        }
        let audio_out = match (&plan.audio, group.separate_audio()) {
            (Some(_), true) => {
                let a = packaged(
                    &root,
                    &layout,
                    *group,
                    dest,
                    AUDIO_NAME,
                    crate::codecs::AAC_LC.into(),
                    None,
                    &plan,
                )?;
                counts.1 = a.segments.len() as u32;
                Some(a)
            }
            _ => None,
        };
        let all = videos.iter().chain(audio_out.as_ref());
        for out in all {
            let path = root.join(dest).join(&out.playlist);
            if group.writes_hls() {
                let text = hls::media_playlist(out, plan.segment_seconds)?;
                std::fs::write(&path, text).map_err(Error::output(&path))?;
            } else {
                // The DASH ISO group has no HLS playlists; the segmenter's list is scaffolding.
                std::fs::remove_file(&path).map_err(Error::output(&path))?;
            }
        }
        if group.writes_hls() {
            let path = root.join(layout.master_playlist(dest));
            let text = hls::master_playlist(&videos, audio_out.as_ref(), plan.segment_seconds)?;
            std::fs::write(&path, text).map_err(Error::output(&path))?;
        }
        if group.writes_dash() {
            let path = root.join(layout.mpd(dest));
            let text = crate::dash::mpd(
                &videos,
                audio_out.as_ref(),
                plan.segment_seconds,
                decoded.end,
                // Half a frame of margin under the shift: the muxer and x264 round the first
                // timestamps by a fraction of a millisecond, and a presentation start after
                // the first keyframe would make players cut away the whole first GOP.
                fmp4_offset - 0.5 / fps,
            );
            std::fs::write(&path, text).map_err(Error::output(&path))?;
        }
    }

    let files = list_files(&root)?;
    let written: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let expected_list = layout.expected_files(profile, &plan, counts.0, counts.1);
    let expected: BTreeSet<&str> = expected_list.iter().map(String::as_str).collect();
    if written != expected {
        let extra: Vec<_> = written.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&written).collect();
        return Err(Error::Internal(format!(
            "output tree differs from the profile's naming: unexpected {extra:?}, missing {missing:?}"
        )));
    }
    let asset_dir = staging.publish()?;
    Ok(TranscodeReport {
        asset_dir,
        media,
        plan,
        files,
        elapsed: started.elapsed(),
    })
}

struct Decoded {
    frames: u64,
    end: f64,
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

#[allow(clippy::too_many_arguments)]
fn packaged(
    root: &Path,
    layout: &Layout,
    group: Group,
    dest: &str,
    name: &str,
    codecs: String,
    video: Option<(u32, u32, f64)>,
    plan: &Plan,
) -> Result<PackagedOutput, Error> {
    let playlist_path = root.join(layout.child_playlist(dest, name));
    let text = std::fs::read(&playlist_path).map_err(Error::output(&playlist_path))?;
    let listed = hls::read_muxer_playlist(&text, &playlist_path.display().to_string())?;
    let mut segments = Vec::with_capacity(listed.len());
    for (file, duration) in listed {
        let path = root.join(dest).join(&file);
        let bytes = std::fs::metadata(&path)
            .map_err(Error::output(&path))?
            .len();
        segments.push(Segment {
            file,
            duration,
            bytes,
        });
    }
    let init = group.has_init().then(|| {
        let full = layout.init_segment(group, dest, name);
        full[dest.len()..].to_string()
    });
    let with_audio = video.is_none() || (group == Group::Hls && plan.audio.is_some());
    Ok(PackagedOutput {
        name: name.to_string(),
        video,
        audio_channels: plan
            .audio
            .as_ref()
            .filter(|_| with_audio)
            .map(|a| a.channels),
        audio_rate: plan
            .audio
            .as_ref()
            .filter(|_| with_audio)
            .map(|a| a.sample_rate),
        codecs,
        playlist: playlist_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        init,
        segments,
    })
}

fn list_files(root: &Path) -> Result<Vec<OutputFile>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(Error::output(&dir))? {
            let entry = entry.map_err(Error::output(&dir))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(Error::output(&path))?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .map_err(|_| Error::Internal("file outside the asset".into()))?;
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(OutputFile {
                    path: rel,
                    bytes: meta.len(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
