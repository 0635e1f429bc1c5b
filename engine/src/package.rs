//! Packaging after encoding: HLS and DASH manifests from what the segmenters actually
//! wrote, and the check that the asset holds exactly the files the profile names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use profiles::naming::{is_audio_output, streaming_groups, Group, Layout, METADATA};
use profiles::{Plan, PlannedAudio, Profile};

use crate::error::Error;
use crate::hls::{self, PackagedOutput, Segment, SingleFile};
use crate::metadata::Facts;
use crate::mux::SegmentPaths;
use crate::rung::Finished;
use crate::transcode::OutputFile;

/// The segmenters' private folder inside the temp asset folder (removed before publishing).
const SCRATCH: &str = ".segmenter";

/// One asset being written into its temp folder.
pub(crate) struct Asset<'a> {
    pub root: &'a Path,
    pub layout: &'a Layout,
    pub profile: &'a Profile,
    pub plan: &'a Plan,
    /// Output frame rate.
    pub fps: f64,
    /// Seconds every fMP4 timestamp is shifted by (see `mux::SegmentKind::Fmp4`).
    pub fmp4_offset: f64,
    /// The first frame's wall-clock time, when the HLS group's playlists carry
    /// `EXT-X-PROGRAM-DATE-TIME`, and the seconds between those tags.
    pub program_start: Option<(chrono::DateTime<chrono::FixedOffset>, u32)>,
}

impl Asset<'_> {
    /// The streaming groups with their destination folders.
    pub fn groups(&self) -> Vec<(Group, &str)> {
        streaming_groups(self.profile)
    }

    /// Creates the group folders.
    pub fn create_folders(&self) -> Result<(), Error> {
        let mut dests: Vec<&str> = self.groups().into_iter().map(|(_, d)| d).collect();
        if let Some(f) = &self.profile.outputs.file {
            dests.push(&f.destination);
        }
        let p = self.profile;
        dests.extend(p.thumbnails.as_ref().map(|t| t.destination.as_str()));
        dests.extend(p.preview.as_ref().map(|t| t.destination.as_str()));
        dests.extend(p.trickplay.as_ref().map(|t| t.destination.as_str()));
        for d in dests {
            let path = self.root.join(d);
            std::fs::create_dir_all(&path).map_err(Error::output(path))?;
        }
        Ok(())
    }

    /// Where the segmenter of output `name` in a group writes: a private folder with fixed,
    /// plain names. FFmpeg's segmenter takes its file names as printf patterns and its
    /// playlist as text, so a base name with `%`, a leading `#` or a leading space would be
    /// mangled there; the files get their published names by rename once they are done.
    pub fn segment_paths(&self, group: Group, name: &str) -> SegmentPaths {
        let dir = self.scratch(group, name);
        let ext = group.segment_extension(is_audio_output(name));
        SegmentPaths {
            playlist: dir.join("list.m3u8"),
            pattern: dir.join(format!("%09d.{ext}")),
            init_name: group.has_init().then(|| format!("init.{ext}")),
        }
    }

    fn scratch(&self, group: Group, name: &str) -> PathBuf {
        self.root.join(SCRATCH).join(format!("{group:?}-{name}"))
    }

    /// Creates the segmenters' private folders.
    pub fn create_scratch(&self, names: &[&str]) -> Result<(), Error> {
        for (group, _) in self.groups() {
            for name in names {
                let dir = self.scratch(group, name);
                std::fs::create_dir_all(&dir).map_err(Error::output(dir))?;
            }
        }
        Ok(())
    }

    /// Path of a progressive MP4 of the file group.
    pub fn file_output(&self, dest: &str, name: &str) -> PathBuf {
        self.root.join(self.layout.file_output(dest, name))
    }

    fn init_name(&self, group: Group, dest: &str, name: &str) -> String {
        self.layout.init_segment(group, dest, name)[dest.len()..].to_string()
    }

    /// Writes every group's playlists and MPD; returns the (video, audio) segment counts.
    /// What is known of each file it names goes into `facts`.
    pub fn write_manifests(
        &self,
        finished: &[Finished],
        facts: &mut BTreeMap<String, Facts>,
    ) -> Result<(u32, u32), Error> {
        let plan = self.plan;
        let mut counts = (0, 0);
        // Every video output is cut at the same IDR frames, in every group, and every
        // audio-only output at the same boundaries: one that differs is named here.
        let (mut video_count, mut audio_count) = (None, None);
        for (group, dest) in self.groups() {
            let mut videos = Vec::new();
            for r in &plan.renditions {
                let f = finished
                    .iter()
                    .find(|f| f.name == r.name)
                    .ok_or_else(|| Error::Internal(format!("rung {} did not report", r.name)))?;
                let codecs = if group == Group::Hls && plan.audio.is_some() {
                    format!("{},{}", f.codec, crate::codecs::AAC_LC)
                } else {
                    f.codec.clone()
                };
                let audio = plan.rung_audio(r).filter(|_| group == Group::Hls);
                let out = self.packaged(
                    group,
                    dest,
                    &r.name,
                    codecs,
                    Some((r.width, r.height)),
                    audio,
                )?;
                agree(&mut video_count, out.segments.len(), dest, &r.name)?;
                counts.0 = out.segments.len() as u32;
                videos.push(out);
            }
            let mut audio = Vec::new();
            if group.separate_audio() {
                for (name, a) in plan.separate_audio() {
                    let codecs = crate::codecs::AAC_LC.to_string();
                    let out = self.packaged(group, dest, name, codecs, None, Some(a))?;
                    agree(&mut audio_count, out.segments.len(), dest, name)?;
                    counts.1 = out.segments.len() as u32;
                    audio.push(out);
                }
            }
            for out in videos.iter().chain(&audio) {
                let size = out.video.map(|(w, h, _)| (w, h));
                for seg in &out.segments {
                    // A SINGLE_FILE output's one file holds all its segments' seconds.
                    facts
                        .entry(format!("{dest}{}", seg.file))
                        .and_modify(|f| f.duration = f.duration.map(|d| d + seg.duration))
                        .or_insert(Facts {
                            kind: "segment",
                            duration: Some(seg.duration),
                            size,
                        });
                }
                // A single file's init is its own first bytes, counted with its segments.
                if let (Some(init), None) = (&out.init, out.single) {
                    let f = Facts {
                        kind: "init",
                        duration: None,
                        size,
                    };
                    facts.insert(format!("{dest}{init}"), f);
                }
            }
            if group.writes_hls() {
                for out in videos.iter().chain(&audio) {
                    let path = self.root.join(dest).join(&out.playlist);
                    let outputs = &self.profile.outputs;
                    let whole = match group {
                        Group::Hls => outputs.hls.as_ref().is_some_and(|h| h.integer_durations),
                        Group::Cmaf => outputs.cmaf.as_ref().is_some_and(|c| c.integer_durations),
                        _ => false,
                    };
                    let dated = self.program_start.filter(|_| group == Group::Hls);
                    let text = hls::media_playlist(out, plan.segment_seconds, whole, dated)?;
                    std::fs::write(&path, text).map_err(Error::output(&path))?;
                }
            }
            if group.writes_hls() {
                let path = self.root.join(self.layout.master_playlist(dest));
                let text = hls::master_playlist(&videos, &audio, plan.segment_seconds)?;
                std::fs::write(&path, text).map_err(Error::output(&path))?;
            }
            if group.writes_dash() {
                let path = self.root.join(self.layout.mpd(dest));
                let text = crate::dash::mpd(
                    &videos,
                    &audio,
                    plan.segment_seconds,
                    // Half a frame of margin under the shift: the muxer and x264 round the
                    // first timestamps by a fraction of a millisecond, and a timeline that
                    // starts after the first keyframe would make players skip a whole GOP.
                    self.fmp4_offset - 0.5 / self.fps,
                );
                std::fs::write(&path, text).map_err(Error::output(&path))?;
            }
        }
        Ok(counts)
    }

    /// Lists the asset and checks it is exactly what the profiles crate names for it.
    pub fn verify(&self, counts: (u32, u32)) -> Result<Vec<OutputFile>, Error> {
        let scratch = self.root.join(SCRATCH);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(Error::output(&scratch))?;
        }
        let files = list_files(self.root)?;
        // The record is written after this check, from what it finds.
        let written: BTreeSet<&str> = files
            .iter()
            .map(|f| f.path.as_str())
            .chain([METADATA])
            .collect();
        let expected_list = self
            .layout
            .expected_files(self.profile, self.plan, counts.0, counts.1);
        let expected: BTreeSet<&str> = expected_list.iter().map(String::as_str).collect();
        if written != expected {
            let extra: Vec<_> = written.difference(&expected).collect();
            let missing: Vec<_> = expected.difference(&written).collect();
            return Err(Error::Internal(format!(
                "output tree differs from the profile's naming: unexpected {extra:?}, missing {missing:?}"
            )));
        }
        Ok(files)
    }

    /// An output as the manifests see it, from the segment list its segmenter wrote;
    /// `audio` is what it carries.
    fn packaged(
        &self,
        group: Group,
        dest: &str,
        name: &str,
        codecs: String,
        video: Option<(u32, u32)>,
        audio: Option<&PlannedAudio>,
    ) -> Result<PackagedOutput, Error> {
        let scratch = self.scratch(group, name);
        let list = scratch.join("list.m3u8");
        let text = std::fs::read(&list).map_err(Error::output(&list))?;
        let mut listed = hls::read_muxer_playlist(&text, &list.display().to_string())?;
        if let Some(min) = self.plan.min_final_segment_seconds {
            join_short_tail(&scratch, &mut listed, min)?;
        }
        // An audio-only output's last AAC frames can start at or just past the last
        // segment boundary (the encoder's flush runs over the video's end) and would open
        // a segment of a frame or two that MediaConvert, which cuts audio with the
        // video's segments, does not write: they join the segment before.
        if let (None, Some(a)) = (video, audio) {
            let frames = 2.0 * 1024.0 / f64::from(a.sample_rate.max(1));
            join_short_tail(&scratch, &mut listed, frames + 0.001)?;
        }
        let single_file = profiles::naming::single_file(self.profile, group);
        let (segments, init, single) = if single_file && group.has_init() {
            let published = self.layout.single_file(group, dest, name);
            let ext = group.segment_extension(is_audio_output(name));
            let file = published[dest.len()..].to_string();
            let (segments, single) = single_fmp4(
                &scratch,
                &format!("init.{ext}"),
                &listed,
                &self.root.join(&published),
                &file,
            )?;
            (segments, Some(file), Some(single))
        } else {
            let segments = self.segment_files(group, dest, name, single_file, listed)?;
            let init = group.has_init().then(|| self.init_name(group, dest, name));
            (segments, init, None)
        };
        Ok(PackagedOutput {
            name: name.to_string(),
            video: video.map(|(w, h)| (w, h, self.fps)),
            audio_channels: audio.map(|a| a.channels),
            audio_rate: audio.map(|a| a.sample_rate),
            codecs,
            playlist: self.layout.child_playlist(dest, name)[dest.len()..].to_string(),
            init,
            single,
            segments,
        })
    }

    /// Publishes the segmenter's segments of an output (and its init segment): one file
    /// each, or with `single_file` (MPEG-TS), appended in order into the output's one file.
    fn segment_files(
        &self,
        group: Group,
        dest: &str,
        name: &str,
        single_file: bool,
        listed: Vec<(String, f64)>,
    ) -> Result<Vec<Segment>, Error> {
        let scratch = self.scratch(group, name);
        let mut segments = Vec::with_capacity(listed.len());
        // A SINGLE_FILE output: the segments appended, in order, into its one file.
        let mut single = match single_file {
            true => {
                let published = self.layout.single_file(group, dest, name);
                let path = self.root.join(&published);
                let f = std::fs::File::create(&path).map_err(Error::output(&path))?;
                Some((published, path, f, 0u64))
            }
            false => None,
        };
        for (n, (file, duration)) in (1..).zip(listed) {
            let from = scratch.join(&file);
            if let Some((published, path, out, at)) = single.as_mut() {
                let mut seg = std::fs::File::open(&from).map_err(Error::output(&from))?;
                let bytes = std::io::copy(&mut seg, out).map_err(Error::output(&*path))?;
                std::fs::remove_file(&from).map_err(Error::output(&from))?;
                segments.push(Segment {
                    file: published[dest.len()..].to_string(),
                    duration,
                    bytes,
                    offset: Some(*at),
                });
                *at += bytes;
                continue;
            }
            let published = self.layout.segment(group, dest, name, n);
            let to = self.root.join(&published);
            std::fs::rename(&from, &to).map_err(Error::output(&to))?;
            let bytes = std::fs::metadata(&to).map_err(Error::output(&to))?.len();
            segments.push(Segment {
                file: published[dest.len()..].to_string(),
                duration,
                bytes,
                offset: None,
            });
        }
        if let Some((_, path, out, _)) = single {
            out.sync_all().map_err(Error::output(&path))?;
        }
        if group.has_init() {
            let ext = group.segment_extension(is_audio_output(name));
            let to = self.root.join(self.layout.init_segment(group, dest, name));
            std::fs::rename(scratch.join(format!("init.{ext}")), &to)
                .map_err(Error::output(&to))?;
        }
        Ok(segments)
    }
}

/// Writes a SINGLE_FILE fMP4 output to `path` (named `file` in its manifests) from the
/// segmenter's init and segments in `dir`: the init, one `sidx` over every segment, then
/// each segment's fragments (their own `styp` and `sidx` left out). Returns the segments as
/// byte ranges of the file, and where its init and index lie.
fn single_fmp4(
    dir: &Path,
    init: &str,
    listed: &[(String, f64)],
    path: &Path,
    file: &str,
) -> Result<(Vec<Segment>, SingleFile), Error> {
    use std::io::Write as _;
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(Error::output(p))
    };
    let init_bytes = read(init)?;
    // Read twice, once for the index and once to copy, so that one segment at a time is
    // in memory.
    let mut indexes = Vec::with_capacity(listed.len());
    for (name, _) in listed {
        indexes.push(crate::sidx::read_segment(&read(name)?, name)?);
    }
    let first = indexes
        .first()
        .ok_or_else(|| Error::Internal(format!("{file}: no segments")))?;
    let sizes: Vec<(u64, u64)> = indexes
        .iter()
        .map(|i| (i.media_bytes(), i.duration))
        .collect();
    let sidx =
        crate::sidx::write_sidx(first.reference_id, first.timescale, first.earliest, &sizes)?;
    let init_len = init_bytes.len() as u64;
    let index = (init_len, init_len + sidx.len() as u64 - 1);
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(Error::output(path))?);
    out.write_all(&init_bytes).map_err(Error::output(path))?;
    out.write_all(&sidx).map_err(Error::output(path))?;
    let mut at = index.1 + 1;
    let mut segments = Vec::with_capacity(listed.len());
    for ((name, duration), ix) in listed.iter().zip(&indexes) {
        let bytes = read(name)?;
        for &(s, e) in &ix.media {
            out.write_all(&bytes[s..e]).map_err(Error::output(path))?;
        }
        segments.push(Segment {
            file: file.to_string(),
            duration: *duration,
            bytes: ix.media_bytes(),
            offset: Some(at),
        });
        at += ix.media_bytes();
        let from = dir.join(name);
        std::fs::remove_file(&from).map_err(Error::output(from))?;
    }
    let f = out
        .into_inner()
        .map_err(|e| Error::output(path)(e.into_error()))?;
    f.sync_all().map_err(Error::output(path))?;
    let from = dir.join(init);
    std::fs::remove_file(&from).map_err(Error::output(from))?;
    Ok((
        segments,
        SingleFile {
            init: init_len,
            index,
        },
    ))
}

/// Appends a last segment shorter than `min` seconds to the one before it, as
/// MediaConvert's `MinFinalSegmentLength` does ("the encoder will combine any final
/// segment that is shorter than the length that you specify with the previous segment").
/// Both MPEG-TS packets and fMP4 fragments follow on from each other within one file.
fn join_short_tail(dir: &Path, listed: &mut Vec<(String, f64)>, min: f64) -> Result<(), Error> {
    let n = listed.len();
    if n < 2 || listed[n - 1].1 >= min {
        return Ok(());
    }
    let Some((last, duration)) = listed.pop() else {
        return Ok(());
    };
    let from = dir.join(&last);
    let Some(prev) = listed.last_mut() else {
        return Ok(());
    };
    let to = dir.join(&prev.0);
    let mut tail = std::fs::File::open(&from).map_err(Error::output(&from))?;
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(&to)
        .map_err(Error::output(&to))?;
    std::io::copy(&mut tail, &mut out).map_err(Error::output(&to))?;
    std::fs::remove_file(&from).map_err(Error::output(&from))?;
    prev.1 += duration;
    Ok(())
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

/// Checks an output's segment count against the first output's of its kind.
fn agree(
    first: &mut Option<(usize, String)>,
    n: usize,
    dest: &str,
    name: &str,
) -> Result<(), Error> {
    match first {
        None => {
            *first = Some((n, format!("{dest}{name}")));
            Ok(())
        }
        Some((m, other)) if *m != n => Err(Error::Internal(format!(
            "segment counts differ: {dest}{name} has {n}, {other} has {m}"
        ))),
        Some(_) => Ok(()),
    }
}
