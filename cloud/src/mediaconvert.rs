//! Profile -> MediaConvert: the CreateJob request and the JobTemplate of a profile, in the
//! PascalCase JSON the MediaConvert console and CLI use.
//!
//! Output names follow `profiles::naming` (shared/MEDIACONVERT.md): each group's
//! Destination is `<dest><group folder>` ending in `/`, so MediaConvert takes the input's
//! file name as the base name, and every output's NameModifier is `_<rendition>`,
//! `_audio` or `_thumb`, so the files land where the engine writes them locally.

use profiles::naming::{streaming_groups, Group, AUDIO_NAME};
use profiles::{ImageFormat, Plan, Profile, Rendition, Scaling};
use serde_json::{json, Map, Value};

use crate::error::CloudError;

/// The audio selector every output reads from.
const AUDIO_SELECTOR: &str = "Audio Selector 1";

/// What a CreateJob request is rendered from.
#[derive(Debug, Clone)]
pub struct JobRequest<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// The source, `s3://bucket/key`.
    pub input: &'a str,
    /// The asset folder, `s3://bucket/prefix/` (ending in `/`).
    pub destination: &'a str,
    /// The IAM role MediaConvert assumes.
    pub role: &'a str,
    /// The queue ARN; MediaConvert's default queue when absent.
    pub queue: Option<&'a str>,
    /// mpe's job id, carried in UserMetadata.
    pub job_id: &'a str,
    /// The plan for this source (from a probe), when known: renditions then get their
    /// exact sizes and the ones taller than the source are left out, as the engine does.
    /// Without it the whole ladder is rendered, heights only.
    pub plan: Option<&'a Plan>,
}

/// One rung as MediaConvert will make it.
struct Rung {
    name: String,
    width: Option<u32>,
    height: u32,
    bitrate: u32,
    max_bitrate: u32,
    buffer_size: u32,
    /// The rendition's exact size, rendered as the box it asks (Width, Height and
    /// ScalingBehavior) rather than the size planned from it.
    size: Option<profiles::OutputSize>,
    /// The audio (bitrate, channels, rate) muxed with it where its group muxes audio.
    audio: Option<(u32, u32, u32)>,
    /// The audio of its MP4 in the file group.
    file_audio: Option<(u32, u32, u32)>,
    /// The scaler's sharpness, when not the default.
    sharpness: Option<u8>,
}

/// Renders a CreateJob request.
pub fn render_job(req: &JobRequest<'_>) -> Result<Value, CloudError> {
    check_uri("input", req.input, false)?;
    check_uri("destination", req.destination, true)?;
    let mut settings = settings(req.profile, req.plan, Some(req.destination))?;
    settings["Inputs"] = json!([input(req.profile, Some(req.input))]);
    let mut job = json!({
        "Role": req.role,
        "Settings": settings,
        "StatusUpdateInterval": "SECONDS_10",
        "UserMetadata": {
            "mpe_job_id": req.job_id,
            "mpe_profile": req.profile.name,
        },
    });
    if let Some(t) = &req.profile.trickplay {
        let base = profiles::naming::Layout::for_source(req.input);
        let order = crate::trickplay::Order::new(t, req.destination, base.base());
        job["UserMetadata"][crate::trickplay::METADATA] =
            json!(serde_json::to_string(&order).unwrap_or_default());
    }
    if let Some(q) = req.queue {
        job["Queue"] = json!(q);
    }
    Ok(job)
}

/// Renders the JobTemplate of a profile (CreateJobTemplate). With `destination`, group
/// destinations are set (MediaConvert's `$fn$`, the input's name, makes one folder per
/// asset: `s3://bucket/$fn$/`); without, jobs made from it must set them.
pub fn render_template(profile: &Profile, destination: Option<&str>) -> Result<Value, CloudError> {
    if let Some(d) = destination {
        check_uri("destination", d, true)?;
    }
    let mut settings = settings(profile, None, destination)?;
    settings["Inputs"] = json!([input(profile, None)]);
    Ok(json!({
        "Name": format!("mpe-{}", profile.name),
        "Description": truncate(&profile.description, 1024),
        "Category": "mpe",
        "Settings": settings,
        "StatusUpdateInterval": "SECONDS_10",
    }))
}

/// Sends a rendered job's frame captures to `destination` (a folder, ending in `/`)
/// instead of their folder beside the media: the deployed stack keeps thumbnails in a
/// bucket of their own, under the same paths.
pub fn capture_destination(job: &mut Value, destination: &str) -> Result<(), CloudError> {
    check_uri("thumbnails destination", destination, true)?;
    if let Some(groups) = job["Settings"]["OutputGroups"].as_array_mut() {
        for g in groups.iter_mut().filter(|g| is_frame_capture(g)) {
            g["OutputGroupSettings"]["FileGroupSettings"]["Destination"] = json!(destination);
        }
    }
    Ok(())
}

/// A file group whose outputs are all raw frames (MediaConvert's frame capture).
pub(crate) fn is_frame_capture(group: &Value) -> bool {
    let outputs = group["Outputs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    group["OutputGroupSettings"]["Type"] == "FILE_GROUP_SETTINGS"
        && !outputs.is_empty()
        && outputs
            .iter()
            .all(|o| o["ContainerSettings"]["Container"] == "RAW")
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn check_uri(what: &'static str, uri: &str, folder: bool) -> Result<(), CloudError> {
    let bad = |reason: &str| CloudError::BadUri {
        what,
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| bad("must be an s3://bucket/key URI"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("names no bucket"));
    }
    if folder && !uri.ends_with('/') {
        return Err(bad(
            "must end in '/' (a folder: MediaConvert then names files after the input)",
        ));
    }
    if !folder && (key.is_empty() || key.ends_with('/')) {
        return Err(bad("names no object"));
    }
    Ok(())
}

fn input(profile: &Profile, file: Option<&str>) -> Value {
    let mut i = json!({
        "AudioSelectors": { AUDIO_SELECTOR: { "DefaultSelection": "DEFAULT" } },
        // Rotation metadata is applied to the pixels, as the engine does.
        "VideoSelector": { "Rotate": "AUTO" },
        "TimecodeSource": "ZEROBASED",
    });
    if let Some(tracks) = profile.audio.as_ref().and_then(|a| a.selected_tracks()) {
        i["AudioSelectors"][AUDIO_SELECTOR] = json!({
            "DefaultSelection": "DEFAULT",
            "SelectorType": "TRACK",
            "Tracks": tracks,
        });
    }
    if let Some(f) = &profile.video.input_filter {
        let on = |b: bool| if b { "ENABLED" } else { "DISABLED" };
        i["DenoiseFilter"] = json!(on(f.denoise));
        i["DeblockFilter"] = json!(on(f.deblock));
        match f.strength {
            Some(s) => {
                i["FilterEnable"] = json!("FORCE");
                i["FilterStrength"] = json!(s);
            }
            None => i["FilterEnable"] = json!("AUTO"),
        }
    }
    if let Some(f) = file {
        i["FileInput"] = json!(f);
    }
    i
}

fn unsupported(profile: &Profile, field: &str, reason: &str) -> CloudError {
    CloudError::Unsupported {
        profile: profile.name.clone(),
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

/// The job settings without inputs: one output group per profile group.
fn settings(
    profile: &Profile,
    plan: Option<&Plan>,
    destination: Option<&str>,
) -> Result<Value, CloudError> {
    if profile.preview.is_some() {
        return Err(unsupported(
            profile,
            "preview",
            "a preview clip needs a job of its own (MediaConvert's input clipping applies to every output); remove it to render this profile",
        ));
    }
    if let Some(t) = &profile.trickplay {
        trickplay_frames(profile, t)?;
    }
    let v = &profile.video;
    // Tuning MediaConvert cannot say: refused by field, never dropped.
    let t = &v.tuning;
    if t.scene_cut
        .is_some_and(|c| c != crate::model::tuning::SCENE_CUT)
    {
        return Err(unsupported(
            profile,
            "video.tuning.scene_cut",
            "MediaConvert's SceneChangeDetect has no threshold; only x264's 40 renders",
        ));
    }
    if t.min_i_interval.is_some() && t.scene_cut.is_none() {
        return Err(unsupported(
            profile,
            "video.tuning.min_i_interval",
            "MediaConvert's MinIInterval applies to scene-change I-frames; set scene_cut too",
        ));
    }
    if t.level.as_deref().is_some_and(|l| codec_level(l).is_none()) {
        return Err(unsupported(
            profile,
            "video.tuning.level",
            "not an H.264 level MediaConvert has (1 to 5.2)",
        ));
    }
    if t.aq_strength
        .is_some_and(|s| crate::model::tuning::aq_level_of(s).is_none())
    {
        return Err(unsupported(
            profile,
            "video.tuning.aq_strength",
            "MediaConvert's AdaptiveQuantization levels are strengths 0, 0.5, 0.8, 1, 1.3 and 1.6",
        ));
    }
    let segment = v.segment_seconds;
    if (segment - segment.round()).abs() > 1e-9 {
        return Err(unsupported(
            profile,
            "video.segment_seconds",
            "MediaConvert's SegmentLength is whole seconds",
        ));
    }
    if v.min_final_segment_seconds.is_some_and(|m| m < 1.0) {
        return Err(unsupported(
            profile,
            "video.min_final_segment_seconds",
            "MediaConvert's MinFinalSegmentLength is at least 1 second",
        ));
    }
    let audio = match plan {
        Some(p) => p
            .audio
            .as_ref()
            .map(|a| (a.bitrate, a.channels, a.sample_rate)),
        None => profile
            .audio
            .as_ref()
            .map(|a| (a.bitrate, a.channels, a.sample_rate)),
    };
    // The further audio-only outputs of the CMAF and DASH groups.
    let more_audio: Vec<(&str, (u32, u32, u32))> = match plan {
        Some(p) => p
            .audio_renditions
            .iter()
            .map(|(n, a)| (n.as_str(), (a.bitrate, a.channels, a.sample_rate)))
            .collect(),
        None => profile
            .audio_renditions
            .iter()
            .map(|r| {
                let a = &r.audio;
                (r.name.as_str(), (a.bitrate, a.channels, a.sample_rate))
            })
            .collect(),
    };
    let rungs = rungs(profile, plan, audio);
    let dated = profile
        .outputs
        .hls
        .as_ref()
        .and_then(|h| h.program_date_time.as_ref());
    let dest = |folder: &str| destination.map(|d| format!("{d}{folder}"));
    let mut groups = Vec::new();
    for (group, folder) in streaming_groups(profile) {
        let mut outputs: Vec<Value> = rungs
            .iter()
            .map(|r| {
                let mut o = json!({
                    "NameModifier": format!("_{}", r.name),
                    "ContainerSettings": container(profile, group),
                    "VideoDescription": video_description(profile, plan, r),
                });
                if group == Group::Hls {
                    if let Some(a) = r.audio {
                        o["AudioDescriptions"] = json!([audio_description(a)]);
                    }
                }
                o
            })
            .collect();
        if let (Some(a), true) = (audio, group.separate_audio()) {
            for (name, a) in std::iter::once((AUDIO_NAME, a)).chain(more_audio.iter().copied()) {
                outputs.push(json!({
                    "NameModifier": format!("_{name}"),
                    "ContainerSettings": container(profile, group),
                    "AudioDescriptions": [audio_description(a)],
                }));
            }
        }
        let fragment = v.gop_seconds.round().max(1.0) as u32;
        let (name, kind, key, mut gs) = match group {
            Group::Cmaf => (
                "CMAF",
                "CMAF_GROUP_SETTINGS",
                "CmafGroupSettings",
                json!({
                    "SegmentLength": segment as u32,
                    "FragmentLength": fragment,
                    "SegmentControl": "SEGMENTED_FILES",
                    "WriteDashManifest": "ENABLED",
                    "WriteHlsManifest": "ENABLED",
                    "ManifestDurationFormat": "FLOATING_POINT",
                    "MpdProfile": "MAIN_PROFILE",
                }),
            ),
            Group::Hls => (
                "HLS",
                "HLS_GROUP_SETTINGS",
                "HlsGroupSettings",
                json!({
                    "SegmentLength": segment as u32,
                    "MinSegmentLength": 0,
                    "SegmentControl": "SEGMENTED_FILES",
                    "OutputSelection": "MANIFESTS_AND_SEGMENTS",
                    "DirectoryStructure": "SINGLE_DIRECTORY",
                    "ManifestDurationFormat": "FLOATING_POINT",
                }),
            ),
            Group::Dash => (
                "DASH ISO",
                "DASH_ISO_GROUP_SETTINGS",
                "DashIsoGroupSettings",
                json!({
                    "SegmentLength": segment as u32,
                    "FragmentLength": fragment,
                    "SegmentControl": "SEGMENTED_FILES",
                    "MpdProfile": "MAIN_PROFILE",
                }),
            ),
        };
        if let Some(d) = dest(folder) {
            gs["Destination"] = json!(d);
        }
        let asked = &profile.outputs;
        let whole = match group {
            Group::Hls => asked.hls.as_ref().is_some_and(|h| h.integer_durations),
            Group::Cmaf => asked.cmaf.as_ref().is_some_and(|c| c.integer_durations),
            Group::Dash => false,
        };
        if whole {
            gs["ManifestDurationFormat"] = json!("INTEGER");
        }
        if profiles::naming::single_file(profile, group) {
            gs["SegmentControl"] = json!("SINGLE_FILE");
        }
        if v.segments_whole_gops {
            gs["SegmentLengthControl"] = json!("GOP_MULTIPLE");
        }
        if let Some(m) = v.min_final_segment_seconds {
            gs["MinFinalSegmentLength"] = json!(m);
        }
        if let (Group::Hls, Some(p)) = (group, dated) {
            gs["ProgramDateTime"] = json!("INCLUDE");
            gs["ProgramDateTimePeriod"] = json!(p.period_seconds);
        }
        groups.push(json!({
            "Name": name,
            "OutputGroupSettings": { "Type": kind, key: gs },
            "Outputs": outputs,
        }));
    }
    if let Some(f) = &profile.outputs.file {
        let names: Vec<String> = match plan {
            Some(p) => p.file_renditions.clone(),
            None => f.renditions.clone(),
        };
        let outputs: Vec<Value> = rungs
            .iter()
            .filter(|r| names.contains(&r.name))
            .map(|r| {
                let mut o = json!({
                    "NameModifier": format!("_{}", r.name),
                    "ContainerSettings": {
                        "Container": "MP4",
                        "Mp4Settings": { "MoovPlacement": "PROGRESSIVE_DOWNLOAD" },
                    },
                    "VideoDescription": video_description(profile, plan, r),
                });
                if let Some(a) = r.file_audio {
                    o["AudioDescriptions"] = json!([audio_description(a)]);
                }
                o
            })
            .collect();
        let mut gs = json!({});
        if let Some(d) = dest(&f.destination) {
            gs["Destination"] = json!(d);
        }
        groups.push(json!({
            "Name": "File Group",
            "OutputGroupSettings": { "Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": gs },
            "Outputs": outputs,
        }));
    }
    if let Some(t) = &profile.thumbnails {
        groups.push(frame_capture(profile, plan, t, dest(&t.destination))?);
    }
    let mut timecode = json!({ "Source": "ZEROBASED" });
    if let Some(p) = dated {
        // Only the program date-time reads the job's timecodes: its origin and date.
        match p.origin {
            profiles::TimecodeOrigin::Zero => {}
            profiles::TimecodeOrigin::Embedded => timecode["Source"] = json!("EMBEDDED"),
            profiles::TimecodeOrigin::Specified(tc) => {
                timecode["Source"] = json!("SPECIFIEDSTART");
                timecode["Start"] = json!(tc.to_string());
            }
        }
        if let Some(d) = &p.date {
            timecode["TimestampOffset"] = json!(d);
        }
    }
    Ok(json!({
        "TimecodeConfig": timecode,
        "OutputGroups": groups,
    }))
}

/// The ladder as the job renders it; `audio` is the profile's (or plan's) own, which a
/// rung muxes unless it asks for another.
fn rungs(profile: &Profile, plan: Option<&Plan>, audio: Option<(u32, u32, u32)>) -> Vec<Rung> {
    // Without a plan: a rung's own audio, else the profile's.
    let rung_audio = |r: &Rendition| match &r.audio {
        Some(a) => audio.map(|_| (a.bitrate, a.channels, a.sample_rate)),
        None => audio,
    };
    let size_of = |name: &str| {
        profile
            .renditions
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.size)
    };
    match plan {
        Some(p) => p
            .renditions
            .iter()
            .map(|r| Rung {
                name: r.name.clone(),
                width: Some(r.width),
                height: r.height,
                bitrate: r.bitrate,
                max_bitrate: r.max_bitrate,
                buffer_size: r.buffer_size,
                size: size_of(&r.name),
                sharpness: r.sharpness,
                audio: p
                    .rung_audio(r)
                    .map(|a| (a.bitrate, a.channels, a.sample_rate)),
                file_audio: p
                    .file_audio(r)
                    .map(|a| (a.bitrate, a.channels, a.sample_rate)),
            })
            .collect(),
        None => profile
            .renditions
            .iter()
            .map(|r: &Rendition| Rung {
                name: r.name.clone(),
                width: None,
                height: r.height,
                bitrate: r.bitrate,
                max_bitrate: r.max_bitrate,
                buffer_size: r.buffer_size,
                size: r.size,
                sharpness: r.sharpness,
                audio: rung_audio(r),
                file_audio: match &r.file_audio {
                    Some(a) => audio.map(|_| (a.bitrate, a.channels, a.sample_rate)),
                    None => rung_audio(r),
                },
            })
            .collect(),
    }
}

fn container(profile: &Profile, group: Group) -> Value {
    match group {
        Group::Cmaf => json!({ "Container": "CMFC" }),
        Group::Hls => {
            // MediaConvert's defaults are the profile's: only what differs is written.
            let t = profile
                .outputs
                .hls
                .as_ref()
                .map(|h| h.transport.clone())
                .unwrap_or_default();
            let d = profiles::TransportStream::default();
            let mut m = Map::new();
            if t.pmt_pid != d.pmt_pid {
                m.insert("PmtPid".into(), json!(t.pmt_pid));
            }
            if t.video_pid != d.video_pid {
                m.insert("VideoPid".into(), json!(t.video_pid));
            }
            if t.audio_pid != d.audio_pid {
                m.insert("AudioPids".into(), json!([t.audio_pid]));
            }
            if t.program_number != d.program_number {
                m.insert("ProgramNumber".into(), json!(t.program_number));
            }
            if let Some(id) = t.transport_stream_id {
                m.insert("TransportStreamId".into(), json!(id));
            }
            json!({ "Container": "M3U8", "M3u8Settings": m })
        }
        Group::Dash => json!({ "Container": "MPD" }),
    }
}

fn video_description(profile: &Profile, plan: Option<&Plan>, r: &Rung) -> Value {
    let v = &profile.video;
    let mut h264 = Map::new();
    let rate = crate::model::tuning::rate_of(v, r.bitrate, r.max_bitrate);
    rate.set_in(&mut h264);
    let mut set = |k: &str, val: Value| {
        h264.insert(k.to_string(), val);
    };
    if let Some(level) = rate.qvbr_level {
        // QVBR levels run 1..10 where 7 is about x264's CRF 23 (crate::model::tuning).
        set("QvbrSettings", json!({ "QvbrQualityLevel": level }));
    }
    set("HrdBufferSize", json!(r.buffer_size));
    set(
        "CodecProfile",
        json!(crate::model::tuning::h264_profile(v.profile)),
    );
    let t = &v.tuning;
    set(
        "CodecLevel",
        json!(t
            .level
            .as_deref()
            .and_then(codec_level)
            .unwrap_or_else(|| "AUTO".to_string())),
    );
    match v.gop_frames {
        Some(n) => {
            set("GopSize", json!(n));
            set("GopSizeUnits", json!("FRAMES"));
        }
        None => {
            set("GopSize", json!(v.gop_seconds));
            set("GopSizeUnits", json!("SECONDS"));
        }
    }
    set("GopClosedCadence", json!(1));
    set(
        "SceneChangeDetect",
        json!(if t.scene_cut.is_some() {
            "ENABLED"
        } else {
            "DISABLED"
        }),
    );
    if let (Some(_), Some(m)) = (t.scene_cut, t.min_i_interval) {
        set("MinIInterval", json!(m));
    }
    set("InterlaceMode", json!("PROGRESSIVE"));
    set("ParControl", json!("SPECIFIED"));
    set("ParNumerator", json!(1));
    set("ParDenominator", json!(1));
    set(
        "QualityTuningLevel",
        json!(crate::model::tuning::level_of(v.preset)),
    );
    if let Some(b) = t.b_frames {
        set("NumberBFramesBetweenReferenceFrames", json!(b));
    }
    if let Some(p) = t.b_pyramid {
        set(
            "GopBReference",
            json!(if p { "ENABLED" } else { "DISABLED" }),
        );
    }
    if let Some(n) = t.ref_frames {
        set("NumberReferenceFrames", json!(n));
    }
    if t.cavlc {
        set("EntropyEncoding", json!("CAVLC"));
    }
    if let Some(n) = t.slices {
        set("Slices", json!(n));
    }
    if let Some(level) = t.aq_strength.and_then(crate::model::tuning::aq_level_of) {
        set("AdaptiveQuantization", json!(level));
    }
    if let Some(mb_tree) = t.mb_tree {
        set(
            "TemporalAdaptiveQuantization",
            json!(if mb_tree { "ENABLED" } else { "DISABLED" }),
        );
    }
    if let Some(f) = t.vbv_init {
        set(
            "HrdBufferInitialFillPercentage",
            json!((f64::from(f) * 100.0).round() as i64),
        );
    }
    let conversion = match v.interpolate_frames {
        true => "INTERPOLATE",
        false => "DUPLICATE_DROP",
    };
    match (v.frame_rate, plan.filter(|p| p.frame_step > 1)) {
        (Some([n, d]), _) => {
            set("FramerateControl", json!("SPECIFIED"));
            set("FramerateNumerator", json!(n));
            set("FramerateDenominator", json!(d));
            set("FramerateConversionAlgorithm", json!(conversion));
        }
        (None, Some(p)) => {
            set("FramerateControl", json!("SPECIFIED"));
            set("FramerateNumerator", json!(p.frame_rate[0]));
            set("FramerateDenominator", json!(p.frame_rate[1]));
            set("FramerateConversionAlgorithm", json!(conversion));
        }
        (None, None) => set("FramerateControl", json!("INITIALIZE_FROM_SOURCE")),
    }
    let mut d = json!({
        "ScalingBehavior": "DEFAULT",
        "CodecSettings": { "Codec": "H_264", "H264Settings": Value::Object(h264) },
    });
    match &r.size {
        Some(size) => {
            d["ScalingBehavior"] = json!(match size.scaling {
                Scaling::Pad => "DEFAULT",
                Scaling::Stretch => "STRETCH_TO_OUTPUT",
                Scaling::Fit => "FIT",
                Scaling::FitNoUpscale => "FIT_NO_UPSCALE",
                Scaling::Fill => "FILL",
            });
            if let Some(w) = size.width {
                d["Width"] = json!(w);
            }
            if let Some(h) = size.height {
                d["Height"] = json!(h);
            }
        }
        None => {
            d["Height"] = json!(r.height);
            if let Some(w) = r.width {
                d["Width"] = json!(w);
            }
        }
    }
    if let Some(s) = r.sharpness {
        d["Sharpness"] = json!(s);
    }
    d
}

/// MediaConvert's `CodecLevel` for an H.264 level as x264 takes it (`"4"`, `"4.0"` and
/// `"4.1"`); `None` for one MediaConvert does not list.
fn codec_level(level: &str) -> Option<String> {
    const LEVELS: [&str; 16] = [
        "1", "1.1", "1.2", "1.3", "2", "2.1", "2.2", "3", "3.1", "3.2", "4", "4.1", "4.2", "5",
        "5.1", "5.2",
    ];
    let level = level.strip_suffix(".0").unwrap_or(level);
    LEVELS
        .contains(&level)
        .then(|| format!("LEVEL_{}", level.replace('.', "_")))
}

fn audio_description((bitrate, channels, rate): (u32, u32, u32)) -> Value {
    json!({
        "AudioSourceName": AUDIO_SELECTOR,
        "CodecSettings": {
            "Codec": "AAC",
            "AacSettings": {
                "Bitrate": bitrate,
                "CodingMode": if channels == 1 { "CODING_MODE_1_0" } else { "CODING_MODE_2_0" },
                "SampleRate": rate,
                "CodecProfile": "LC",
                "RateControlMode": "CBR",
            },
        },
    })
}

/// Trick play is cut from the frame captures once the job is done (crate::trickplay):
/// MediaConvert has no sprite sheets of its own, so the thumbnails must be the tiles' frames.
fn trickplay_frames(profile: &Profile, t: &profiles::TrickPlaySettings) -> Result<(), CloudError> {
    let Some(th) = &profile.thumbnails else {
        return Err(unsupported(
            profile,
            "trickplay",
            "trick-play tiles are cut from the job's frame captures: add thumbnails at the same interval",
        ));
    };
    if th.interval_seconds != Some(t.interval_seconds) {
        return Err(unsupported(
            profile,
            "trickplay.interval_seconds",
            "trick-play tiles are cut from the job's frame captures: it must equal thumbnails.interval_seconds",
        ));
    }
    if th.max_captures.is_some() {
        return Err(unsupported(
            profile,
            "thumbnails.max_captures",
            "trick-play tiles are cut from the job's frame captures, which must cover the whole video",
        ));
    }
    Ok(())
}

/// Thumbnails as a FRAME_CAPTURE output in a file group of their own.
fn frame_capture(
    profile: &Profile,
    plan: Option<&Plan>,
    t: &profiles::ThumbnailSettings,
    destination: Option<String>,
) -> Result<Value, CloudError> {
    if t.format != ImageFormat::Jpeg {
        return Err(unsupported(
            profile,
            "thumbnails.format",
            "MediaConvert's frame capture writes JPEG only",
        ));
    }
    if !t.times.is_empty() {
        return Err(unsupported(
            profile,
            "thumbnails.times",
            "MediaConvert's frame capture takes a regular interval only; use interval_seconds",
        ));
    }
    let Some(interval) = t.interval_seconds else {
        return Err(unsupported(
            profile,
            "thumbnails.interval_seconds",
            "MediaConvert's frame capture needs an interval",
        ));
    };
    // One capture every den/num seconds, as a fraction with millisecond precision.
    let (num, den) = reduce(1000, (interval * 1000.0).round().max(1.0) as u64);
    let mut fc = json!({
        "FramerateNumerator": num,
        "FramerateDenominator": den,
        "Quality": t.quality,
    });
    if let Some(m) = t.max_captures {
        fc["MaxCaptures"] = json!(m);
    }
    let mut vd = json!({
        "CodecSettings": { "Codec": "FRAME_CAPTURE", "FrameCaptureSettings": fc },
    });
    let size = match plan.and_then(|p| p.thumbnails.as_ref()) {
        Some(pt) => (Some(pt.width), Some(pt.height)),
        None => (t.width, t.height),
    };
    // Frame capture sizes are even numbers of at least 32, as MediaConvert's model allows.
    let even = |v: u32| (v / 2 * 2).max(32);
    if let Some(w) = size.0 {
        vd["Width"] = json!(even(w));
    }
    if let Some(h) = size.1 {
        vd["Height"] = json!(even(h));
    }
    let mut gs = json!({});
    if let Some(d) = destination {
        gs["Destination"] = json!(d);
    }
    Ok(json!({
        "Name": "Thumbnails",
        "OutputGroupSettings": { "Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": gs },
        "Outputs": [{
            "NameModifier": "_thumb",
            "ContainerSettings": { "Container": "RAW" },
            "VideoDescription": vd,
        }],
    }))
}

/// `a / b` in lowest terms.
pub(crate) fn reduce(a: u64, b: u64) -> (u64, u64) {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a.max(1)
        } else {
            gcd(b, a % b)
        }
    }
    let g = gcd(a, b);
    (a / g, b / g)
}
