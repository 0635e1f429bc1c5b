//! MediaConvert -> engine: a CreateJob request, read through the typed model
//! ([`crate::model`]), as the profile, source, destination and source overrides it
//! stands for. The executor follows each member as MediaConvert's documentation says;
//! a member at a value that changes nothing is accepted, one mpe cannot honour is an
//! error naming its path, and one it honours only in part is a [`JobWarning`].

use profiles::naming::{is_audio_output, AUDIO_NAME};
use profiles::{Profile, ProfileError};
use serde_json::{json, Map, Value};

use crate::error::CloudError;
use crate::model::{self, tuning, CreateJob, H264Settings, ModelError};

/// A warning of a job that completes: GetJob's `Warnings` (code and count) and
/// `Messages.Warning` (the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWarning {
    /// mpe's warning code (see [`WARN_MADE_OTHERWISE`]).
    pub code: i64,
    /// What was asked and what was made instead, naming the member.
    pub message: String,
}

/// The code of a warning that a member was made otherwise than asked (a feature this
/// machine's FFmpeg lacks). MediaConvert's own codes (User Guide, "Warning codes") stop
/// at 270000; mpe's are outside that list so that they are never mistaken for its.
pub const WARN_MADE_OTHERWISE: i64 = 990_001;

/// A CreateJob request as the engine can run it.
#[derive(Debug, Clone)]
pub struct LocalJob {
    /// The profile the job's settings amount to.
    pub profile: Profile,
    /// `Settings.Inputs[0].FileInput` as written (an `s3://` URI or a path).
    pub input: String,
    /// The asset folder the output groups write under (ends in `/`).
    pub destination: String,
    /// Folders of the asset written somewhere else: `(folder, destination)`, such as
    /// `("thumbnails/", "s3://thumbs/movie/thumbnails/")` when frame captures go to a
    /// bucket of their own.
    pub elsewhere: Vec<(String, String)>,
    /// `UserMetadata.mpe_job_id`, when present.
    pub job_id: Option<String>,
    /// The clockwise rotation to apply instead of the source's own (`VideoSelector.Rotate`
    /// other than AUTO; MediaConvert's default is DEGREE_0, no rotation).
    pub rotation: Option<u32>,
    /// The first `InputClippings` of the first input: the part of it to transcode, with how its frames are
    /// counted (`TimecodeSource`); seconds once the engine knows the input's frame rate.
    pub clip: Option<profiles::Clip>,
    /// The inputs joined after the first, and further clips of one input, in order.
    pub joined: Vec<JoinedInput>,
    /// The request path of the first part of the timeline, as [`JoinedInput::at`].
    pub first_at: String,
    /// What the job asked that is made otherwise.
    pub warnings: Vec<JobWarning>,
}

/// A part of the job's timeline after the first: an input, or a clip of one.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedInput {
    /// `FileInput` as written.
    pub input: String,
    /// The clip of it, if any.
    pub clip: Option<profiles::Clip>,
    /// Its rotation override, as [`LocalJob::rotation`].
    pub rotation: Option<u32>,
    /// Where it is in the request: `Settings.Inputs[1]`, or its clip's path
    /// `Settings.Inputs[1].InputClippings[0]`, for errors found when it is read.
    pub at: String,
}

impl LocalJob {
    /// The request path of timeline part `piece`: 0 the first input (or its first clip),
    /// `k` that of `joined[k - 1]`.
    pub fn piece_at(&self, piece: usize) -> String {
        match piece {
            0 => self.first_at.clone(),
            k => self
                .joined
                .get(k - 1)
                .map(|j| j.at.clone())
                .unwrap_or_else(|| "Settings.Inputs".into()),
        }
    }
}

impl LocalJob {
    /// Where the file at `path` (relative to the asset folder) goes.
    pub fn uri_of(&self, path: &str) -> String {
        self.elsewhere
            .iter()
            .find_map(|(folder, to)| {
                path.strip_prefix(folder.as_str())
                    .map(|rest| format!("{to}{rest}"))
            })
            .unwrap_or_else(|| format!("{}{path}", self.destination))
    }
}

/// Checks a CreateJob request's shape against the model: `Err` for a member of the
/// wrong type (MediaConvert's 400), `Ok` for one that reads, even if the executor will
/// refuse some member of it when the job runs.
pub fn check_request(request: &Value) -> Result<(), ModelError> {
    match model::parse::<CreateJob>(request) {
        Ok(_) | Err(ModelError::Unknown { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Where in the request, for errors: `Settings.OutputGroups[0].Outputs[1]`.
#[derive(Clone)]
struct At(String);

impl At {
    fn key(&self, k: &str) -> At {
        At(if self.0.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.0)
        })
    }
    fn index(&self, i: usize) -> At {
        At(format!("{}[{i}]", self.0))
    }
}

fn err(at: &At, reason: impl Into<String>) -> CloudError {
    CloudError::Job {
        field: at.0.clone(),
        reason: reason.into(),
    }
}

/// An enum member that must be absent or one of `allowed` (the values that change
/// nothing here, or that mpe follows).
fn allow(at: &At, key: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), CloudError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(err(
            &at.key(key),
            format!(
                "{v:?} is not supported by mpe's local executor (supported: {})",
                allowed.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// A number member that must be absent or one of `allowed`.
fn allow_num(at: &At, key: &str, value: Option<i64>, allowed: &[i64]) -> Result<(), CloudError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(err(
            &at.key(key),
            format!("{v} is not supported by mpe's local executor (supported: {allowed:?})"),
        )),
        _ => Ok(()),
    }
}

/// An input's deblock and denoise filters (API reference, Input): each ENABLED one runs
/// unless `FilterEnable` is DISABLE; FORCE takes `FilterStrength` (required), AUTO
/// leaves the amount to the service (mpe's moderate 3) unless a strength is given.
fn read_filter(at: &At, input: &model::Input) -> Result<Option<profiles::InputFilter>, CloudError> {
    allow(
        at,
        "FilterEnable",
        &input.filter_enable,
        &["AUTO", "DISABLE", "FORCE"],
    )?;
    allow(
        at,
        "DeblockFilter",
        &input.deblock_filter,
        &["ENABLED", "DISABLED"],
    )?;
    allow(
        at,
        "DenoiseFilter",
        &input.denoise_filter,
        &["ENABLED", "DISABLED"],
    )?;
    let on = |v: &Option<String>| v.as_deref() == Some("ENABLED");
    let (deblock, denoise) = (on(&input.deblock_filter), on(&input.denoise_filter));
    let mode = input.filter_enable.as_deref().unwrap_or("AUTO");
    if mode == "DISABLE" || !(deblock || denoise) {
        return Ok(None);
    }
    let strength = match (mode, input.filter_strength) {
        (_, Some(s)) if !(0..=5).contains(&s) => {
            return Err(err(
                &at.key("FilterStrength"),
                format!("{s} is outside [0, 5]"),
            ))
        }
        ("FORCE", None | Some(0)) => {
            return Err(err(
                &at.key("FilterStrength"),
                "FORCE needs a strength from 1 to 5",
            ))
        }
        (_, Some(s)) if s > 0 => Some(s as u8),
        _ => None,
    };
    Ok(Some(profiles::InputFilter {
        denoise,
        deblock,
        strength,
    }))
}

/// An input's `InputClippings` with the timeline its `TimecodeSource` gives, in order.
fn read_clippings(at: &At, input: &model::Input) -> Result<Vec<profiles::Clip>, CloudError> {
    // EMBEDDED is MediaConvert's default (API reference, InputTimecodeSource); an input
    // without embedded timecode then counts from zero.
    let origin = match input.timecode_source.as_deref() {
        None | Some("EMBEDDED") => profiles::TimecodeOrigin::Embedded,
        Some("ZEROBASED") => profiles::TimecodeOrigin::Zero,
        Some("SPECIFIEDSTART") => {
            let tat = at.key("TimecodeStart");
            let start = required(at, "TimecodeStart", &input.timecode_start)?;
            profiles::TimecodeOrigin::Specified(
                start.parse().map_err(|e| err(&tat, format!("{e}")))?,
            )
        }
        Some(other) => {
            return Err(err(
                &at.key("TimecodeSource"),
                format!("{other:?} is not a timecode source MediaConvert knows"),
            ))
        }
    };
    let clippings = input.input_clippings.as_deref().unwrap_or_default();
    let mut clips = Vec::new();
    for (i, c) in clippings.iter().enumerate() {
        let cat = at.key("InputClippings").index(i);
        let timecode =
            |key: &str, v: &Option<String>| -> Result<Option<profiles::Timecode>, CloudError> {
                v.as_deref()
                    .map(|t| t.parse().map_err(|e| err(&cat.key(key), format!("{e}"))))
                    .transpose()
            };
        let start = timecode("StartTimecode", &c.start_timecode)?;
        let end = timecode("EndTimecode", &c.end_timecode)?;
        if start.is_none() && end.is_none() {
            // "Start timecode or End timecode may be left blank, but not both" (InputClipping).
            return Err(err(&cat, "give StartTimecode, EndTimecode or both"));
        }
        clips.push(profiles::Clip { start, end, origin });
    }
    Ok(clips)
}

/// A member that must be absent.
fn absent<T>(at: &At, key: &str, value: &Option<T>) -> Result<(), CloudError> {
    match value {
        Some(_) => Err(err(&at.key(key), "not supported by mpe's local executor")),
        None => Ok(()),
    }
}

fn required<'a, T>(at: &At, key: &str, value: &'a Option<T>) -> Result<&'a T, CloudError> {
    value.as_ref().ok_or_else(|| err(&at.key(key), "required"))
}

fn unsigned(at: &At, key: &str, v: i64) -> Result<u32, CloudError> {
    u32::try_from(v).map_err(|_| err(&at.key(key), format!("{v} is out of range")))
}

/// One video output as read: its rung name, size, rates and encoder settings.
#[derive(Debug, Clone, PartialEq)]
struct VideoOut {
    name: String,
    size: profiles::OutputSize,
    rates: (u32, u32, u32),
    /// The scaler's `Sharpness`, when not 50.
    sharpness: Option<u8>,
    /// The encoder settings with the rates taken out: what every rung must share.
    settings: H264Settings,
}

/// What reading collects on the way.
struct Reader {
    warnings: Vec<JobWarning>,
}

impl Reader {
    fn warn(&mut self, at: &At, message: impl Into<String>) {
        let message = format!("{}: {}", at.0, message.into());
        if !self.warnings.iter().any(|w| w.message == message) {
            self.warnings.push(JobWarning {
                code: WARN_MADE_OTHERWISE,
                message,
            });
        }
    }
}

/// Reads a CreateJob request (PascalCase).
pub fn parse_job(request: &Value) -> Result<LocalJob, CloudError> {
    let job: CreateJob = model::parse(request).map_err(|e| CloudError::Job {
        field: e.path().to_string(),
        reason: match e {
            ModelError::Invalid { reason, .. } => reason,
            ModelError::Unknown { .. } => "not supported by mpe's local executor".into(),
        },
    })?;
    let mut reader = Reader {
        warnings: Vec::new(),
    };
    let mut local = read(&job, &mut reader)?;
    local.warnings = reader.warnings;
    Ok(local)
}

fn read(job: &CreateJob, r: &mut Reader) -> Result<LocalJob, CloudError> {
    let root = At(String::new());
    if job.job_template.is_some() {
        return Err(err(
            &root.key("JobTemplate"),
            "templates are resolved by `mpe mediaconvert serve`, which keeps them; give the full job here (mpe cloud render)",
        ));
    }
    // Acceleration, priority, queue, tags, billing and the status cadence change how and
    // where a job runs, never what it makes.
    if let Some(a) = &job.acceleration_settings {
        allow(
            &root.key("AccelerationSettings"),
            "Mode",
            &Some(a.mode.clone()),
            &["DISABLED", "ENABLED", "PREFERRED"],
        )?;
    }
    let meta = job.user_metadata.clone().unwrap_or_default();
    let job_id = meta.get("mpe_job_id").cloned();
    let profile_name = meta
        .get("mpe_profile")
        .cloned()
        .unwrap_or_else(|| "job".to_string());
    let at = root.key("Settings");
    let settings = &job.settings;
    // The job's timecode configuration is about the outputs' timecodes (inserted ones
    // are refused below); clipping counts on each input's own TimecodeSource.
    if let Some(tc) = &settings.timecode_config {
        allow(
            &at.key("TimecodeConfig"),
            "Source",
            &tc.source,
            &["ZEROBASED", "EMBEDDED", "SPECIFIEDSTART"],
        )?;
    }
    allow_num(&at, "FollowSource", settings.follow_source, &[1])?;
    let inputs_at = at.key("Inputs");
    // Inputs, and the clips of each, are joined in order into one timeline (User Guide,
    // "Assembling multiple inputs and input clips"); outputs are named after the first.
    let reads = settings
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| read_input(&inputs_at.index(i), input))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = reads.first() else {
        return Err(err(&inputs_at, "required"));
    };
    // One profile filters, selects and names the audio of every input alike.
    for (i, read) in reads.iter().enumerate().skip(1) {
        let iat = inputs_at.index(i);
        if read.filter != first.filter {
            return Err(err(
                &iat.key("DenoiseFilter"),
                "every input must ask the same deblock, denoise and strength as the first",
            ));
        }
        if read.tracks != first.tracks {
            return Err(err(
                &iat.key("AudioSelectors"),
                "every input must select the same audio tracks as the first",
            ));
        }
        if !read.selectors.is_empty() && read.selectors != first.selectors {
            return Err(err(
                &iat.key("AudioSelectors"),
                "every input must name its audio selector as the first input does",
            ));
        }
    }
    let (filter, tracks, selectors) = (first.filter, first.tracks.clone(), first.selectors.clone());
    let mut pieces = Vec::new();
    for (i, read) in reads.into_iter().enumerate() {
        let iat = inputs_at.index(i);
        let clips: Vec<Option<profiles::Clip>> = if read.clips.is_empty() {
            vec![None]
        } else {
            read.clips.into_iter().map(Some).collect()
        };
        for (c, clip) in clips.into_iter().enumerate() {
            let at = match clip {
                Some(_) => iat.key("InputClippings").index(c).0,
                None => iat.0.clone(),
            };
            pieces.push(JoinedInput {
                input: read.file_input.clone(),
                clip,
                rotation: read.rotation,
                at,
            });
        }
    }
    let mut pieces = pieces.into_iter();
    let Some(head) = pieces.next() else {
        return Err(err(&inputs_at, "required"));
    };
    let joined: Vec<JoinedInput> = pieces.collect();

    let groups_at = at.key("OutputGroups");
    let mut destination: Option<String> = None;
    // The streaming groups' ladder (all must carry the same), and the file group's rungs.
    let mut ladder: Option<(Vec<VideoOut>, At)> = None;
    let mut file_rungs: Vec<(VideoOut, At)> = Vec::new();
    // The audio-only outputs (CMAF, DASH) by name, as the first group that has them
    // lists them, and the audio of each rendition where a group muxes it with the video
    // (HLS, File), in the order first met.
    let mut separate_audio: Option<Vec<(String, Value)>> = None;
    let mut rung_audio: Vec<(String, Value)> = Vec::new();
    let mut file_audio: Vec<(String, Value)> = Vec::new();
    let mut outputs = Map::new();
    let mut segment: Option<(Segmenting, At)> = None;
    let mut thumbnails = None;
    let mut elsewhere = Vec::new();
    if settings.output_groups.is_empty() {
        return Err(err(&groups_at, "required"));
    }
    for (gi, g) in settings.output_groups.iter().enumerate() {
        // HLS media playlists in whole seconds (the HLS group's ManifestDurationFormat).
        let mut integer_durations = false;
        // Their EXT-X-PROGRAM-DATE-TIME tags (the HLS group's ProgramDateTime).
        let mut program_date_time = None;
        // One media file per output (the HLS group's SegmentControl).
        let mut single_file = false;
        let gat = groups_at.index(gi);
        let sat = gat.key("OutputGroupSettings");
        let gs = &g.output_group_settings;
        let kind = gs.kind.as_str();
        let (key, dest, seg) = match kind {
            "HLS_GROUP_SETTINGS" => {
                let kat = sat.key("HlsGroupSettings");
                let h = required(&sat, "HlsGroupSettings", &gs.hls_group_settings)?;
                let cut = segmenting(
                    &kat,
                    h.segment_length.unwrap_or(10),
                    &h.segment_control,
                    &h.segment_length_control,
                    h.min_final_segment_length,
                )?;
                manifests(
                    &kat,
                    [
                        &h.manifest_duration_format,
                        &h.stream_inf_resolution,
                        &h.manifest_compression,
                        &h.codec_specification,
                        &h.client_cache,
                    ],
                )?;
                integer_durations = h.manifest_duration_format.as_deref() == Some("INTEGER");
                single_file = h.segment_control.as_deref() == Some("SINGLE_FILE");
                allow(
                    &kat,
                    "OutputSelection",
                    &h.output_selection,
                    &["MANIFESTS_AND_SEGMENTS"],
                )?;
                allow(
                    &kat,
                    "DirectoryStructure",
                    &h.directory_structure,
                    &["SINGLE_DIRECTORY"],
                )?;
                allow(
                    &kat,
                    "ProgramDateTime",
                    &h.program_date_time,
                    &["EXCLUDE", "INCLUDE"],
                )?;
                if h.program_date_time.as_deref() == Some("INCLUDE") {
                    program_date_time = Some(dated(
                        settings.timecode_config.as_ref(),
                        &at.key("TimecodeConfig"),
                        h.program_date_time_period,
                        &kat.key("ProgramDateTimePeriod"),
                    )?);
                }
                allow(
                    &kat,
                    "CaptionLanguageSetting",
                    &h.caption_language_setting,
                    &["OMIT"],
                )?;
                allow_num(&kat, "MinSegmentLength", h.min_segment_length, &[0])?;
                allow_num(
                    &kat,
                    "TimestampDeltaMilliseconds",
                    h.timestamp_delta_milliseconds,
                    &[0],
                )?;
                // ID3 frames and their period only apply with TimedMetadata PASSTHROUGH
                // (refused on the outputs); the date-time period only with ProgramDateTime.
                ("HlsGroupSettings", &h.destination, Some(cut))
            }
            "DASH_ISO_GROUP_SETTINGS" => {
                let kat = sat.key("DashIsoGroupSettings");
                let d = required(&sat, "DashIsoGroupSettings", &gs.dash_iso_group_settings)?;
                let cut = segmenting(
                    &kat,
                    d.segment_length.unwrap_or(30),
                    &d.segment_control,
                    &d.segment_length_control,
                    d.min_final_segment_length,
                )?;
                single_file = d.segment_control.as_deref() == Some("SINGLE_FILE");
                mpd(
                    &kat,
                    single_file,
                    &d.mpd_profile,
                    &d.write_segment_timeline_in_representation,
                    d.min_buffer_time,
                    r,
                )?;
                allow(&kat, "HbbtvCompliance", &d.hbbtv_compliance, &["NONE"])?;
                ("DashIsoGroupSettings", &d.destination, Some(cut))
            }
            "CMAF_GROUP_SETTINGS" => {
                let kat = sat.key("CmafGroupSettings");
                let c = required(&sat, "CmafGroupSettings", &gs.cmaf_group_settings)?;
                let cut = segmenting(
                    &kat,
                    c.segment_length.unwrap_or(10),
                    &c.segment_control,
                    &c.segment_length_control,
                    c.min_final_segment_length,
                )?;
                single_file = c.segment_control.as_deref() == Some("SINGLE_FILE");
                manifests(
                    &kat,
                    [
                        &c.manifest_duration_format,
                        &c.stream_inf_resolution,
                        &c.manifest_compression,
                        &c.codec_specification,
                        &c.client_cache,
                    ],
                )?;
                integer_durations = c.manifest_duration_format.as_deref() == Some("INTEGER");
                mpd(
                    &kat,
                    single_file,
                    &c.mpd_profile,
                    &c.write_segment_timeline_in_representation,
                    c.min_buffer_time,
                    r,
                )?;
                allow(
                    &kat,
                    "WriteDashManifest",
                    &c.write_dash_manifest,
                    &["ENABLED"],
                )?;
                allow(
                    &kat,
                    "WriteHlsManifest",
                    &c.write_hls_manifest,
                    &["ENABLED"],
                )?;
                ("CmafGroupSettings", &c.destination, Some(cut))
            }
            "FILE_GROUP_SETTINGS" => {
                let f = required(&sat, "FileGroupSettings", &gs.file_group_settings)?;
                ("FileGroupSettings", &f.destination, None)
            }
            other => {
                return Err(err(
                    &sat.key("Type"),
                    format!("{other} is not supported by mpe's local executor"),
                ))
            }
        };
        let kat = sat.key(key);
        let dat = kat.key("Destination");
        let dest = required(&kat, "Destination", dest)?.as_str();
        // `$fn$` is the input file's name without its extension (User Guide, "Settings
        // variables"); the other identifiers (dates, times) would scatter one asset over
        // folders named at run time, so they are refused.
        let base = profiles::naming::Layout::for_source(&head.input);
        let dest = &dest.replace("$fn$", base.base());
        if dest.contains('$') {
            return Err(err(
                &dat,
                "format identifiers other than $fn$ are not supported by mpe's local executor",
            ));
        }
        if !dest.ends_with('/') {
            return Err(err(
                &dat,
                "must be a folder ending in '/' (mpe names files after the input)",
            ));
        }
        let oat = gat.key("Outputs");
        let container_of = |o: &model::Output| {
            o.container_settings
                .as_ref()
                .and_then(|c| c.container.clone())
        };
        let capture = kind == "FILE_GROUP_SETTINGS"
            && g.outputs
                .iter()
                .any(|o| container_of(o).as_deref() == Some("RAW"));
        // The asset folder is the parent of the first group's folder; every group must
        // write into a folder of its own under it, except frame captures, which may go
        // to a folder of the same name elsewhere (the stack's thumbnails bucket).
        let trimmed = &dest[..dest.len() - 1];
        let parent = match trimmed.rfind('/') {
            Some(i) => &dest[..=i],
            None => return Err(err(&dat, "must be a folder inside the asset folder")),
        };
        let asset = destination
            .get_or_insert_with(|| parent.to_string())
            .clone();
        let folder = match dest.strip_prefix(&asset).filter(|f| !f.is_empty()) {
            Some(f) => f.to_string(),
            None if capture => {
                let folder = format!("{}/", &trimmed[parent.len()..]);
                elsewhere.push((folder.clone(), dest.to_string()));
                folder
            }
            None => {
                return Err(err(
                    &dat,
                    format!("must be a folder under {asset}, as the other groups'"),
                ))
            }
        };
        if capture {
            if g.outputs.len() != 1 {
                return Err(err(&oat, "a frame-capture group holds one output"));
            }
            if thumbnails.is_some() {
                return Err(err(
                    &gat.key("Outputs"),
                    "a second frame-capture group: mpe captures frames into one group",
                ));
            }
            thumbnails = Some(frame_capture(&g.outputs[0], &oat.index(0), &folder, r)?);
            continue;
        }
        let mut videos = Vec::new();
        let mut program: Option<Value> = None;
        let mut group_audio: Vec<(String, Value)> = Vec::new();
        for (oi, o) in g.outputs.iter().enumerate() {
            let at = oat.index(oi);
            let (v, a) = output(o, &at, kind, &selectors, r)?;
            if let Some(m) = o
                .container_settings
                .as_ref()
                .and_then(|c| c.m3u8_settings.as_ref())
            {
                let mat = at.key("ContainerSettings").key("M3u8Settings");
                let p = transport(m, &mat, r)?;
                if program.as_ref().is_some_and(|x| x != &p) {
                    // The HLS group's rungs are one program, as mpe's segments carry it.
                    return Err(err(
                        &mat,
                        "every output of the group must carry the same PIDs and program",
                    ));
                }
                program = Some(p);
            }
            if let Some(a) = a {
                let aat = at.key("AudioDescriptions");
                let muxed = matches!(kind, "HLS_GROUP_SETTINGS" | "FILE_GROUP_SETTINGS");
                match &v {
                    // Each output's own audio: every distinct setting is encoded once.
                    // The HLS group's and the File group's are kept apart: a rendition's
                    // MP4 may carry other audio than its TS segments.
                    Some(v) if muxed => {
                        let list = match kind {
                            "FILE_GROUP_SETTINGS" => &mut file_audio,
                            _ => &mut rung_audio,
                        };
                        match list.iter().find(|(n, _)| n == &v.name) {
                            Some((_, x)) if x != &a => {
                                return Err(err(
                                    &aat,
                                    format!(
                                        "rendition {} is muxed with other audio settings in another output of this kind",
                                        v.name
                                    ),
                                ))
                            }
                            Some(_) => {}
                            None => list.push((v.name.clone(), a)),
                        }
                    }
                    // A video output of a group that keeps audio apart: its audio is
                    // the group's audio output.
                    Some(_) => match group_audio.iter().find(|(n, _)| n == AUDIO_NAME) {
                        Some((_, x)) if x != &a => {
                            return Err(err(
                                &aat,
                                "every output of the group must carry the same audio settings",
                            ))
                        }
                        Some(_) => {}
                        None => group_audio.push((AUDIO_NAME.into(), a)),
                    },
                    None => {
                        // output() checked the modifier: `_audio` or `_audio_<suffix>`.
                        let name = o
                            .name_modifier
                            .as_deref()
                            .and_then(|m| m.strip_prefix('_'))
                            .unwrap_or(AUDIO_NAME);
                        if group_audio.iter().any(|(n, _)| n == name) {
                            return Err(err(
                                &at.key("NameModifier"),
                                format!("a second audio-only output named `_{name}`"),
                            ));
                        }
                        group_audio.push((name.to_string(), a));
                    }
                }
            }
            if let Some(v) = v {
                videos.push(v);
            }
        }
        if !group_audio.is_empty() {
            if !group_audio.iter().any(|(n, _)| n == AUDIO_NAME) {
                return Err(err(
                    &oat,
                    format!(
                        "one audio-only output must be named `_{AUDIO_NAME}` (the profile's audio); further ones `_{AUDIO_NAME}_<suffix>`"
                    ),
                ));
            }
            let sorted = |l: &[(String, Value)]| {
                let mut l = l.to_vec();
                l.sort_by(|a, b| a.0.cmp(&b.0));
                l
            };
            match &separate_audio {
                Some(first) if sorted(first) != sorted(&group_audio) => {
                    return Err(err(
                        &oat,
                        "every group that keeps audio apart must carry the same audio-only outputs, with the same settings",
                    ))
                }
                Some(_) => {}
                None => separate_audio = Some(group_audio),
            }
        }
        match seg {
            None => {
                if outputs.contains_key("file") {
                    return Err(err(
                        &gat.key("OutputGroupSettings.Type"),
                        "a second FILE_GROUP_SETTINGS group of MP4s: mpe writes them into one group",
                    ));
                }
                let names: Vec<Value> = videos.iter().map(|v| json!(v.name)).collect();
                outputs.insert(
                    "file".into(),
                    json!({ "destination": folder, "renditions": names }),
                );
                file_rungs.extend(videos.into_iter().map(|v| (v, oat.clone())));
            }
            Some(cut) => {
                match &segment {
                    Some((prev, _)) if prev.length != cut.length => {
                        return Err(err(
                            &kat.key("SegmentLength"),
                            "every group must use the same segment length",
                        ))
                    }
                    Some((prev, _)) if prev.whole_gops != cut.whole_gops => {
                        return Err(err(
                            &kat.key("SegmentLengthControl"),
                            "every group must cut its segments alike",
                        ))
                    }
                    Some((prev, _)) if prev.min_final != cut.min_final => {
                        return Err(err(
                            &kat.key("MinFinalSegmentLength"),
                            "every group must use the same minimum final segment",
                        ))
                    }
                    _ => segment = Some((cut, kat.key("SegmentLength"))),
                }
                let name = match kind {
                    "CMAF_GROUP_SETTINGS" => "cmaf",
                    "HLS_GROUP_SETTINGS" => "hls",
                    _ => "dash",
                };
                let mut group = json!({ "destination": folder });
                if name == "cmaf" && integer_durations {
                    group["integer_durations"] = json!(true);
                }
                if single_file {
                    group["single_file"] = json!(true);
                }
                if name == "hls" {
                    if let Some(p) = program {
                        group["transport"] = p;
                    }
                    if integer_durations {
                        group["integer_durations"] = json!(true);
                    }
                    if let Some(p) = program_date_time.take() {
                        group["program_date_time"] = p;
                    }
                }
                // MediaConvert takes several groups of a kind; a profile has one of each.
                if outputs.contains_key(name) {
                    return Err(err(
                        &gat.key("OutputGroupSettings.Type"),
                        format!("a second {kind} group: mpe writes one group of each kind"),
                    ));
                }
                outputs.insert(name.into(), group);
                match &ladder {
                    Some((existing, _)) if existing != &videos => {
                        return Err(err(
                            &oat,
                            "every streaming group must carry the same renditions",
                        ));
                    }
                    Some(_) => {}
                    None => ladder = Some((videos, oat.clone())),
                }
            }
        }
    }
    // File-group rungs are rungs of the ladder (or, without streaming groups, the ladder).
    let (mut rungs, ladder_at) = ladder.unwrap_or_else(|| (Vec::new(), groups_at.clone()));
    let streaming = !rungs.is_empty();
    for (v, at) in file_rungs {
        match rungs.iter().find(|x| x.name == v.name) {
            Some(x) if x != &v => {
                return Err(err(
                    &at,
                    format!(
                        "rendition {} differs from the streaming groups' one",
                        v.name
                    ),
                ))
            }
            Some(_) => {}
            None if streaming => {
                return Err(err(
                    &at,
                    format!(
                        "rendition {} is not in the streaming groups' ladder",
                        v.name
                    ),
                ))
            }
            None => rungs.push(v),
        }
    }
    let first = rungs
        .first()
        .ok_or_else(|| err(&ladder_at, "no video output"))?;
    if let Some(v) = rungs.iter().find(|v| v.settings != first.settings) {
        return Err(err(
            &ladder_at,
            format!(
                "rendition {} differs from {} in more than its size and rates; every rendition must share the encoder settings",
                v.name, first.name
            ),
        ));
    }
    let cut = segment.map(|s| s.0);
    let mut video = video_settings(&first.settings, &ladder_at, cut.map(|c| c.length as f64), r)?;
    if let Some(c) = cut {
        if c.whole_gops {
            video["segments_whole_gops"] = json!(true);
        }
        if let Some(m) = c.min_final {
            video["min_final_segment_seconds"] = json!(m);
        }
    }
    if let Some(f) = filter {
        video["input_filter"] =
            serde_json::to_value(f).map_err(|e| err(&inputs_at, e.to_string()))?;
    }
    // The profile's audio: the audio-only outputs', else the first output's; renditions
    // muxing another carry their own.
    let (mut audio, mut more_audio) = (None, Vec::new());
    for (name, a) in separate_audio.unwrap_or_default() {
        match name == AUDIO_NAME {
            true => audio = Some(a),
            false => more_audio.push(json!({ "name": name, "audio": a })),
        }
    }
    let audio = audio.or_else(|| {
        let first = rung_audio.first().or(file_audio.first());
        first.map(|(_, a)| a.clone())
    });
    let renditions: Vec<Value> = rungs
        .iter()
        .map(|v| {
            let (b, m, buf) = v.rates;
            let short = match (v.size.width, v.size.height) {
                (Some(w), Some(h)) => w.min(h),
                (w, h) => w.or(h).unwrap_or(0),
            };
            let mut rendition = json!({
                "name": v.name,
                "height": short,
                "bitrate": b,
                "max_bitrate": m,
                "buffer_size": buf,
                "size": v.size,
            });
            if let Some(s) = v.sharpness {
                rendition["sharpness"] = json!(s);
            }
            let find = |list: &[(String, Value)]| {
                list.iter()
                    .find(|(n, _)| n == &v.name)
                    .map(|(_, a)| a.clone())
            };
            let (ts, mp4) = (find(&rung_audio), find(&file_audio));
            // What the rung muxes: its TS segments' audio, else its MP4's; the MP4's
            // own only where it differs from that.
            let muxed = ts.or_else(|| mp4.clone());
            if let Some(a) = muxed.as_ref().filter(|a| Some(*a) != audio.as_ref()) {
                rendition["audio"] = a.clone();
            }
            if let Some(f) = mp4.filter(|f| Some(f) != muxed.as_ref().or(audio.as_ref())) {
                rendition["file_audio"] = f;
            }
            rendition
        })
        .collect();
    let mut p = json!({
        "name": profile_name,
        "description": "read from a MediaConvert CreateJob request",
        "video": video,
        "renditions": renditions,
        "outputs": outputs,
    });
    if let Some(mut a) = audio {
        match &tracks[..] {
            [] => {}
            [t] => a["track"] = json!(t),
            several => a["tracks"] = json!(several),
        }
        p["audio"] = a;
    }
    if !more_audio.is_empty() {
        p["audio_renditions"] = json!(more_audio);
    }
    if let Some(t) = thumbnails {
        p["thumbnails"] = t;
    }
    let profile = Profile::from_json(&p.to_string(), "the job").map_err(|e| match e {
        ProfileError::Invalid { field, reason, .. } | ProfileError::Parse { field, reason, .. } => {
            CloudError::Job {
                field: format!("(as a profile) {field}"),
                reason,
            }
        }
        other => CloudError::Job {
            field: String::new(),
            reason: other.to_string(),
        },
    })?;
    Ok(LocalJob {
        profile,
        input: head.input,
        destination: destination.unwrap_or_default(),
        elsewhere,
        job_id,
        rotation: head.rotation,
        clip: head.clip,
        joined,
        first_at: head.at,
        warnings: Vec::new(),
    })
}

/// The HLS group's program date-time: the date from `TimecodeConfig.TimestampOffset`,
/// the time of day from its `Source` (EMBEDDED, the default, ZEROBASED, or SPECIFIEDSTART
/// with `Start`), a tag every `ProgramDateTimePeriod` seconds (600 by default).
fn dated(
    tc: Option<&model::TimecodeConfig>,
    tat: &At,
    period: Option<i64>,
    pat: &At,
) -> Result<Value, CloudError> {
    let origin = match tc.and_then(|t| t.source.as_deref()) {
        None | Some("EMBEDDED") => json!("embedded"),
        Some("ZEROBASED") => json!("zero"),
        _ => {
            let given = tc.and_then(|t| t.start.clone());
            let start = required(tat, "Start", &given)?;
            let tc: profiles::Timecode = start
                .parse()
                .map_err(|e: profiles::TimecodeError| err(&tat.key("Start"), e.to_string()))?;
            json!({ "specified": tc })
        }
    };
    let mut p = json!({ "origin": origin });
    if let Some(d) = tc.and_then(|t| t.timestamp_offset.as_deref()) {
        p["date"] = json!(d);
    }
    match period {
        None => {}
        Some(s) if (1..=3600).contains(&s) => p["period_seconds"] = json!(s),
        Some(s) => return Err(err(pat, format!("{s} is outside [1, 3600]"))),
    }
    Ok(p)
}

/// What one input of the job says: its file, clips, rotation and audio selectors.
struct ReadInput {
    file_input: String,
    clips: Vec<profiles::Clip>,
    rotation: Option<u32>,
    selectors: Vec<String>,
    filter: Option<profiles::InputFilter>,
    /// The audio selector's tracks, 1 the first; several are made one, channel after
    /// channel; empty: the first track.
    tracks: Vec<u32>,
}

fn read_input(iat: &At, input: &model::Input) -> Result<ReadInput, CloudError> {
    let iat = iat.clone();
    let file_input = required(&iat, "FileInput", &input.file_input)?.clone();
    let clips = read_clippings(&iat, input)?;
    let filter = read_filter(&iat, input)?;
    // PSI control is about transport-stream inputs' tables.
    allow(
        &iat,
        "PsiControl",
        &input.psi_control,
        &["USE_PSI", "IGNORE_PSI"],
    )?;
    allow(&iat, "InputScanType", &input.input_scan_type, &["AUTO"])?;
    let mut tracks = Vec::new();
    let selectors: Vec<String> = match &input.audio_selectors {
        None => Vec::new(),
        Some(map) => {
            let sat = iat.key("AudioSelectors");
            if map.len() > 1 {
                return Err(err(&sat, "one audio selector is supported"));
            }
            for (name, sel) in map {
                let at = sat.key(name);
                allow(
                    &at,
                    "DefaultSelection",
                    &sel.default_selection,
                    &["DEFAULT", "NOT_DEFAULT"],
                )?;
                allow(&at, "SelectorType", &sel.selector_type, &["TRACK"])?;
                allow_num(&at, "Offset", sel.offset, &[0])?;
                absent(&at, "LanguageCode", &sel.language_code)?;
                // Several tracks make one selector with all their channels (User Guide,
                // "Setting up audio tracks and audio selectors").
                for (i, n) in sel.tracks.iter().flatten().enumerate() {
                    tracks.push(unsigned(&at, &format!("Tracks[{i}]"), *n)?);
                }
                // ProgramSelection picks a Dolby E program; AAC and PCM sources have one.
            }
            map.keys().cloned().collect()
        }
    };
    // MediaConvert's default is no rotation, whatever the metadata says (API reference,
    // InputRotate); AUTO follows the metadata, as the engine does by itself.
    let rotation = match &input.video_selector {
        None => Some(0),
        Some(vs) => {
            let vat = iat.key("VideoSelector");
            allow(&vat, "ColorSpace", &vs.color_space, &["FOLLOW"])?;
            allow(
                &vat,
                "ColorSpaceUsage",
                &vs.color_space_usage,
                &["FORCE", "FALLBACK"],
            )?;
            allow(&vat, "AlphaBehavior", &vs.alpha_behavior, &["DISCARD"])?;
            allow(&vat, "PadVideo", &vs.pad_video, &["DISABLED", "BLACK"])?;
            match vs.rotate.as_deref() {
                None | Some("DEGREE_0") => Some(0),
                Some("AUTO") => None,
                Some("DEGREE_90") => Some(90),
                Some("DEGREE_180") => Some(180),
                Some("DEGREE_270") => Some(270),
                Some(other) => {
                    return Err(err(
                        &vat.key("Rotate"),
                        format!("{other:?} is not a rotation MediaConvert knows"),
                    ))
                }
            }
        }
    };
    Ok(ReadInput {
        file_input,
        clips,
        rotation,
        selectors,
        filter,
        tracks,
    })
}

/// An HLS output's `M3u8Settings`: the program its segments carry (a profile's
/// `outputs.hls.transport`), MediaConvert's defaults where a member is absent.
fn transport(m: &model::M3u8Settings, mat: &At, r: &mut Reader) -> Result<Value, CloudError> {
    allow(mat, "Scte35Source", &m.scte35_source, &["NONE"])?;
    allow(mat, "NielsenId3", &m.nielsen_id3, &["NONE"])?;
    allow(mat, "TimedMetadata", &m.timed_metadata, &["NONE"])?;
    allow(
        mat,
        "AudioDuration",
        &m.audio_duration,
        &["DEFAULT_CODEC_DURATION"],
    )?;
    let pid = |key: &str, v: Option<i64>, default: u16| -> Result<u16, CloudError> {
        match v {
            None => Ok(default),
            Some(p) if (32..=8182).contains(&p) => Ok(p as u16),
            Some(p) => Err(err(
                &mat.key(key),
                format!("{p} is not a PID from 32 to 8182"),
            )),
        }
    };
    let d = profiles::TransportStream::default();
    let video_pid = pid("VideoPid", m.video_pid, d.video_pid)?;
    let audio_pid = match m.audio_pids.as_deref() {
        None | Some([]) => d.audio_pid,
        // One audio stream is muxed: the first PID is its.
        Some([first, ..]) => pid("AudioPids[0]", Some(*first), d.audio_pid)?,
    };
    let program = profiles::TransportStream {
        pmt_pid: pid("PmtPid", m.pmt_pid, d.pmt_pid)?,
        video_pid,
        audio_pid,
        program_number: match m.program_number {
            None => d.program_number,
            Some(n) => u16::try_from(n)
                .map_err(|_| err(&mat.key("ProgramNumber"), format!("{n} is out of range")))?,
        },
        transport_stream_id: m
            .transport_stream_id
            .map(|n| {
                u16::try_from(n).map_err(|_| {
                    err(
                        &mat.key("TransportStreamId"),
                        format!("{n} is out of range"),
                    )
                })
            })
            .transpose()?,
    };
    // FFmpeg's MPEG-TS muxer carries the PCR on the video PID, packs PES by size and
    // repeats PAT and PMT on its own period: asked otherwise, said so.
    let mut otherwise = Vec::new();
    if m.pcr_pid.is_some_and(|p| p != i64::from(video_pid)) {
        otherwise.push("the PCR is on the video PID");
    }
    if m.pcr_control.is_some() {
        otherwise.push("the PCR period is FFmpeg's (20 ms)");
    }
    if m.audio_frames_per_pes.is_some() {
        otherwise.push("audio PES packets are filled by size, not frame count");
    }
    if m.pat_interval.is_some_and(|i| i != 0) || m.pmt_interval.is_some_and(|i| i != 0) {
        otherwise.push("PAT and PMT are repeated on FFmpeg's period");
    }
    if !otherwise.is_empty() {
        r.warn(mat, otherwise.join("; "));
    }
    serde_json::to_value(&program).map_err(|e| err(mat, e.to_string()))
}

/// How a streaming group cuts its segments.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segmenting {
    /// `SegmentLength`, seconds.
    length: i64,
    /// `SegmentLengthControl: GOP_MULTIPLE`.
    whole_gops: bool,
    /// `MinFinalSegmentLength`, where not 0.
    min_final: Option<f64>,
}

/// Segmenting members every streaming group has.
fn segmenting(
    at: &At,
    length: i64,
    control: &Option<String>,
    length_control: &Option<String>,
    min_final: Option<f64>,
) -> Result<Segmenting, CloudError> {
    allow(
        at,
        "SegmentControl",
        control,
        &["SEGMENTED_FILES", "SINGLE_FILE"],
    )?;
    allow(
        at,
        "SegmentLengthControl",
        length_control,
        &["EXACT", "GOP_MULTIPLE"],
    )?;
    if !(1..=60).contains(&length) {
        return Err(err(
            &at.key("SegmentLength"),
            format!("{length} is outside [1, 60]"),
        ));
    }
    // "Choose a value that is greater than or equal to 1 and less than your segment
    // length" (API reference, HlsGroupSettings.MinFinalSegmentLength); 0 is the default.
    let min_final = min_final.filter(|m| *m != 0.0);
    if let Some(m) = min_final {
        if !(m >= 1.0 && m < length as f64) {
            return Err(err(
                &at.key("MinFinalSegmentLength"),
                format!("{m} is not at least 1 and under SegmentLength ({length})"),
            ));
        }
    }
    Ok(Segmenting {
        length,
        whole_gops: length_control.as_deref() == Some("GOP_MULTIPLE"),
        min_final,
    })
}

/// HLS manifest members of the HLS and CMAF groups: `ManifestDurationFormat`,
/// `StreamInfResolution`, `ManifestCompression`, `CodecSpecification`, `ClientCache`.
fn manifests(at: &At, values: [&Option<String>; 5]) -> Result<(), CloudError> {
    let [duration, resolution, compression, codecs, cache] = values;
    allow(
        at,
        "ManifestDurationFormat",
        duration,
        &["FLOATING_POINT", "INTEGER"],
    )?;
    allow(at, "StreamInfResolution", resolution, &["INCLUDE"])?;
    allow(at, "ManifestCompression", compression, &["NONE"])?;
    // mpe's CODECS strings read the same under both RFCs.
    allow(at, "CodecSpecification", codecs, &["RFC_4281", "RFC_6381"])?;
    allow(at, "ClientCache", cache, &["ENABLED"])
}

/// MPD members of the DASH ISO and CMAF groups.
fn mpd(
    at: &At,
    single_file: bool,
    profile: &Option<String>,
    timeline: &Option<String>,
    min_buffer: Option<i64>,
    r: &mut Reader,
) -> Result<(), CloudError> {
    allow(
        at,
        "MpdProfile",
        profile,
        &["MAIN_PROFILE", "ON_DEMAND_PROFILE"],
    )?;
    // "When you choose On-demand, you must also set the output group setting Segment
    // control to Single file" (API reference, DashIsoMpdProfile).
    if profile.as_deref() == Some("ON_DEMAND_PROFILE") && !single_file {
        return Err(err(
            &at.key("MpdProfile"),
            "ON_DEMAND_PROFILE needs SegmentControl SINGLE_FILE",
        ));
    }
    allow(
        at,
        "WriteSegmentTimelineInRepresentation",
        timeline,
        &["DISABLED"],
    )?;
    if min_buffer.is_some() {
        r.warn(
            &at.key("MinBufferTime"),
            "the MPD's minBufferTime is mpe's own",
        );
    }
    Ok(())
}

/// One output: its video (rung) and audio settings.
fn output(
    o: &model::Output,
    at: &At,
    kind: &str,
    selectors: &[String],
    r: &mut Reader,
) -> Result<(Option<VideoOut>, Option<Value>), CloudError> {
    absent(at, "Preset", &o.preset)?;
    let modifier = required(at, "NameModifier", &o.name_modifier)?;
    let name = modifier
        .strip_prefix('_')
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| {
            err(
                &at.key("NameModifier"),
                format!(
                    "{modifier:?}: mpe names outputs `_<rendition>` (letters, digits, '-', '_')"
                ),
            )
        })?;
    let cat = at.key("ContainerSettings");
    let c = required(at, "ContainerSettings", &o.container_settings)?;
    let (want, extension) = match kind {
        "CMAF_GROUP_SETTINGS" => ("CMFC", None),
        "HLS_GROUP_SETTINGS" => ("M3U8", Some("ts")),
        "DASH_ISO_GROUP_SETTINGS" => ("MPD", None),
        _ => ("MP4", Some("mp4")),
    };
    allow(&cat, "Container", &c.container, &[want])?;
    if let Some(e) = &o.extension {
        if Some(e.as_str()) != extension {
            return Err(err(
                &at.key("Extension"),
                format!("{e:?}: mpe writes {} files", extension.unwrap_or("its own")),
            ));
        }
    }
    if let Some(h) = o
        .output_settings
        .as_ref()
        .and_then(|s| s.hls_settings.as_ref())
    {
        // Audio groups and track types describe separate audio renditions; mpe's HLS
        // group muxes audio into each rung, so they describe nothing there.
        let hat = at.key("OutputSettings").key("HlsSettings");
        allow(
            &hat,
            "IFrameOnlyManifest",
            &h.i_frame_only_manifest,
            &["EXCLUDE"],
        )?;
        allow(
            &hat,
            "AudioOnlyContainer",
            &h.audio_only_container,
            &["AUTOMATIC"],
        )?;
        absent(&hat, "SegmentModifier", &h.segment_modifier)?;
    }
    if let Some(m) = &c.mp4_settings {
        let mat = cat.key("Mp4Settings");
        allow(
            &mat,
            "MoovPlacement",
            &m.moov_placement,
            &["PROGRESSIVE_DOWNLOAD"],
        )?;
        allow(&mat, "CslgAtom", &m.cslg_atom, &["INCLUDE", "EXCLUDE"])?;
        allow(&mat, "FreeSpaceBox", &m.free_space_box, &["EXCLUDE"])?;
        allow_num(&mat, "CttsVersion", m.ctts_version, &[0, 1])?;
        absent(&mat, "Mp4MajorBrand", &m.mp4_major_brand)?;
        allow(
            &mat,
            "AudioDuration",
            &m.audio_duration,
            &["DEFAULT_CODEC_DURATION"],
        )?;
    }
    if let Some(m) = &c.cmfc_settings {
        let mat = cat.key("CmfcSettings");
        allow(
            &mat,
            "AudioDuration",
            &m.audio_duration,
            &["DEFAULT_CODEC_DURATION"],
        )?;
        allow(
            &mat,
            "IFrameOnlyManifest",
            &m.i_frame_only_manifest,
            &["EXCLUDE"],
        )?;
        allow(&mat, "Scte35Esam", &m.scte35_esam, &["NONE"])?;
        allow(&mat, "Scte35Source", &m.scte35_source, &["NONE"])?;
        allow(&mat, "TimedMetadata", &m.timed_metadata, &["NONE"])?;
        // The CMAF group's HLS master names its one audio group `audio`, DEFAULT=YES
        // and AUTOSELECT=YES (engine::hls::master_playlist).
        allow(&mat, "AudioGroupId", &m.audio_group_id, &["audio"])?;
        allow(
            &mat,
            "AudioTrackType",
            &m.audio_track_type,
            &["ALTERNATE_AUDIO_AUTO_SELECT_DEFAULT"],
        )?;
    }
    if let Some(m) = &c.mpd_settings {
        let mat = cat.key("MpdSettings");
        allow(
            &mat,
            "AudioDuration",
            &m.audio_duration,
            &["DEFAULT_CODEC_DURATION"],
        )?;
        allow(&mat, "Scte35Esam", &m.scte35_esam, &["NONE"])?;
        allow(&mat, "Scte35Source", &m.scte35_source, &["NONE"])?;
        allow(&mat, "TimedMetadata", &m.timed_metadata, &["NONE"])?;
    }
    let audio = match &o.audio_descriptions {
        None => None,
        Some(a) => Some(audio(a, &at.key("AudioDescriptions"), selectors, r)?),
    };
    let video = match &o.video_description {
        None => {
            if !is_audio_output(name) {
                return Err(err(
                    &at.key("NameModifier"),
                    format!(
                        "an audio-only output must be named `_{AUDIO_NAME}` or `_{AUDIO_NAME}_<suffix>`"
                    ),
                ));
            }
            None
        }
        Some(vd) => Some(video(vd, &at.key("VideoDescription"), name)?),
    };
    Ok((video, audio))
}

fn video(vd: &model::VideoDescription, at: &At, name: &str) -> Result<VideoOut, CloudError> {
    let scaling = match vd.scaling_behavior.as_deref() {
        None | Some("DEFAULT") => profiles::Scaling::Pad,
        Some("STRETCH_TO_OUTPUT") => profiles::Scaling::Stretch,
        Some("FIT") => profiles::Scaling::Fit,
        Some("FIT_NO_UPSCALE") => profiles::Scaling::FitNoUpscale,
        Some("FILL") => profiles::Scaling::Fill,
        Some(other) => {
            return Err(err(
                &at.key("ScalingBehavior"),
                format!("{other:?} is not a scaling behavior MediaConvert knows"),
            ))
        }
    };
    let side = |key: &str, v: Option<i64>| v.map(|v| unsigned(at, key, v)).transpose();
    let size = profiles::OutputSize {
        width: side("Width", vd.width)?,
        height: side("Height", vd.height)?,
        scaling,
    };
    picture(vd, at)?;
    // Sharpness picks the bicubic kernel's parameters (engine `scale::bicubic_params`);
    // 50, the recommended value, is libswscale's own kernel.
    let sharpness = match vd.sharpness {
        None | Some(50) => None,
        Some(s) => Some(
            u8::try_from(s)
                .ok()
                .filter(|s| *s <= 100)
                .ok_or_else(|| err(&at.key("Sharpness"), format!("{s} is outside [0, 100]")))?,
        ),
    };
    let cat = at.key("CodecSettings");
    let cs = required(at, "CodecSettings", &vd.codec_settings)?;
    allow(&cat, "Codec", &cs.codec, &["H_264"])?;
    absent(&cat, "FrameCaptureSettings", &cs.frame_capture_settings)?;
    let hat = cat.key("H264Settings");
    let h = required(&cat, "H264Settings", &cs.h264_settings)?;
    let rate = rate_control(h);
    let num = |key: &str, v: Option<i64>| v.map(|v| unsigned(&hat, key, v)).transpose();
    let bitrate = num("Bitrate", h.bitrate)?;
    let max = num("MaxBitrate", h.max_bitrate)?;
    let buffer = num("HrdBufferSize", h.hrd_buffer_size)?;
    let (b, m) = match rate {
        "CBR" => {
            let b = bitrate.ok_or_else(|| err(&hat.key("Bitrate"), "required with CBR"))?;
            (b, b)
        }
        "QVBR" => {
            let m = max.ok_or_else(|| err(&hat.key("MaxBitrate"), "required with QVBR"))?;
            (m, m)
        }
        _ => {
            let b = bitrate.ok_or_else(|| err(&hat.key("Bitrate"), "required with VBR"))?;
            (b, max.unwrap_or(b))
        }
    };
    let mut settings = h.clone();
    settings.bitrate = None;
    settings.max_bitrate = None;
    settings.hrd_buffer_size = None;
    Ok(VideoOut {
        name: name.to_string(),
        size,
        rates: (b, m, buffer.unwrap_or(m.saturating_mul(2))),
        sharpness,
        settings,
    })
}

/// `RateControlMode`; absent reads as VBR, as mpe has always read it (the default AWS
/// applies is not documented).
fn rate_control(h: &H264Settings) -> &str {
    h.rate_control_mode.as_deref().unwrap_or("VBR")
}

/// The VideoDescription members of every picture output, video and frame capture alike:
/// scaler, timecode, AFD and colour metadata.
fn picture(vd: &model::VideoDescription, at: &At) -> Result<(), CloudError> {
    // The scaler is bicubic, MediaConvert's anti-aliased one's nearest kin (Sharpness is
    // read with each video output). AntiAlias is always on: "The service no longer
    // accepts the value DISABLED for AntiAlias. If you specify that in your job, the
    // service will ignore the setting" (API reference, VideoDescription).
    allow(
        at,
        "TimecodeInsertion",
        &vd.timecode_insertion,
        &["DISABLED"],
    )?;
    allow(at, "AfdSignaling", &vd.afd_signaling, &["NONE"])?;
    allow(at, "RespondToAfd", &vd.respond_to_afd, &["NONE"])?;
    // The source's colour description is carried into the stream, which is INSERT.
    allow(at, "ColorMetadata", &vd.color_metadata, &["INSERT"])
}

/// The profile's `video` section from the rungs' shared H264Settings.
fn video_settings(
    h: &H264Settings,
    at: &At,
    segment: Option<f64>,
    r: &mut Reader,
) -> Result<Value, CloudError> {
    let hat = at.key("VideoDescription.CodecSettings.H264Settings");
    allow(
        &hat,
        "RateControlMode",
        &h.rate_control_mode,
        &["VBR", "CBR", "QVBR"],
    )?;
    allow(
        &hat,
        "CodecProfile",
        &h.codec_profile,
        &["BASELINE", "MAIN", "HIGH"],
    )?;
    allow(&hat, "InterlaceMode", &h.interlace_mode, &["PROGRESSIVE"])?;
    // Field encoding only shapes interlaced outputs.
    allow(
        &hat,
        "FieldEncoding",
        &h.field_encoding,
        &["PAFF", "FORCE_FIELD", "MBAFF"],
    )?;
    allow(&hat, "Syntax", &h.syntax, &["DEFAULT"])?;
    allow_num(&hat, "Softness", h.softness, &[0])?;
    allow(&hat, "SlowPal", &h.slow_pal, &["DISABLED"])?;
    allow(&hat, "Telecine", &h.telecine, &["NONE"])?;
    allow(
        &hat,
        "UnregisteredSeiTimecode",
        &h.unregistered_sei_timecode,
        &["DISABLED"],
    )?;
    allow(&hat, "RepeatPps", &h.repeat_pps, &["DISABLED"])?;
    allow(
        &hat,
        "DynamicSubGop",
        &h.dynamic_sub_gop,
        &["STATIC", "ADAPTIVE"],
    )?;
    absent(&hat, "WriteMp4PackagingType", &h.write_mp4_packaging_type)?;
    allow(
        &hat,
        "EntropyEncoding",
        &h.entropy_encoding,
        &["CABAC", "CAVLC"],
    )?;
    allow(
        &hat,
        "GopBReference",
        &h.gop_b_reference,
        &["ENABLED", "DISABLED"],
    )?;
    allow(
        &hat,
        "GopSizeUnits",
        &h.gop_size_units,
        &["FRAMES", "SECONDS", "AUTO"],
    )?;
    allow(
        &hat,
        "ParControl",
        &h.par_control,
        &["INITIALIZE_FROM_SOURCE", "SPECIFIED"],
    )?;
    allow(
        &hat,
        "SceneChangeDetect",
        &h.scene_change_detect,
        &["DISABLED", "ENABLED", "TRANSITION_DETECTION"],
    )?;
    allow(
        &hat,
        "FramerateControl",
        &h.framerate_control,
        &["INITIALIZE_FROM_SOURCE", "SPECIFIED"],
    )?;
    allow(
        &hat,
        "FramerateConversionAlgorithm",
        &h.framerate_conversion_algorithm,
        &["DUPLICATE_DROP", "INTERPOLATE", "FRAMEFORMER"],
    )?;
    allow(
        &hat,
        "FlickerAdaptiveQuantization",
        &h.flicker_adaptive_quantization,
        &["DISABLED", "ENABLED"],
    )?;
    allow(
        &hat,
        "SpatialAdaptiveQuantization",
        &h.spatial_adaptive_quantization,
        &["DISABLED", "ENABLED"],
    )?;
    allow(
        &hat,
        "TemporalAdaptiveQuantization",
        &h.temporal_adaptive_quantization,
        &["DISABLED", "ENABLED"],
    )?;
    if h.gop_closed_cadence.is_some_and(|c| c < 0) {
        return Err(err(&hat.key("GopClosedCadence"), "must not be negative"));
    }
    // mpe closes every GOP, which any cadence allows (a cadence only permits open GOPs).
    if h.par_control.as_deref() == Some("SPECIFIED")
        && (h.par_numerator.unwrap_or(1) != h.par_denominator.unwrap_or(1))
    {
        return Err(err(
            &hat.key("ParNumerator"),
            "mpe writes square pixels only (ParNumerator = ParDenominator)",
        ));
    }
    let mut video = Map::new();
    let rate = rate_control(h);
    video.insert(
        "rate_control".into(),
        json!(match rate {
            "CBR" => "cbr",
            "QVBR" => "capped_crf",
            _ => "vbr",
        }),
    );
    if rate == "QVBR" {
        let q = h.qvbr_settings.as_ref();
        let level = q.and_then(|q| q.qvbr_quality_level).unwrap_or(7) as f64
            + q.and_then(|q| q.qvbr_quality_level_fine_tune)
                .unwrap_or(0.0);
        video.insert("crf".into(), json!(tuning::crf_of(level).clamp(0.0, 51.0)));
        if q.and_then(|q| q.max_average_bitrate).is_some() {
            r.warn(
                &hat.key("QvbrSettings.MaxAverageBitrate"),
                "the average is not capped; MaxBitrate caps the peaks",
            );
        }
    }
    video.insert("codec".into(), json!("h264"));
    video.insert(
        "profile".into(),
        json!(h
            .codec_profile
            .as_deref()
            .unwrap_or("HIGH")
            .to_ascii_lowercase()),
    );
    let level = h.quality_tuning_level.as_deref().unwrap_or("SINGLE_PASS");
    let preset = tuning::preset_of(level).ok_or_else(|| {
        err(
            &hat.key("QualityTuningLevel"),
            format!("{level:?} is not a level MediaConvert knows"),
        )
    })?;
    video.insert("preset".into(), json!(preset));
    let gop = h.gop_size.unwrap_or(2.0);
    match h.gop_size_units.as_deref() {
        Some("FRAMES") => {
            if gop.fract() != 0.0 || gop < 1.0 {
                return Err(err(
                    &hat.key("GopSize"),
                    format!("{gop} is not a whole number of frames"),
                ));
            }
            video.insert("gop_frames".into(), json!(gop as u32));
            video.insert("gop_seconds".into(), json!(2.0));
        }
        // AUTO lets the encoder choose; mpe's choice is two seconds.
        Some("AUTO") => {
            video.insert("gop_seconds".into(), json!(2.0));
        }
        _ => {
            video.insert("gop_seconds".into(), json!(gop));
        }
    }
    video.insert(
        "segment_seconds".into(),
        json!(segment.unwrap_or_else(|| (gop.max(1.0)).round())),
    );
    video.insert("keep_source_height".into(), json!(false));
    if h.framerate_control.as_deref() == Some("SPECIFIED") {
        let n = h
            .framerate_numerator
            .ok_or_else(|| err(&hat.key("FramerateNumerator"), "required with SPECIFIED"))?;
        let d = h
            .framerate_denominator
            .ok_or_else(|| err(&hat.key("FramerateDenominator"), "required with SPECIFIED"))?;
        video.insert(
            "frame_rate".into(),
            json!([
                unsigned(&hat, "FramerateNumerator", n)?,
                unsigned(&hat, "FramerateDenominator", d)?
            ]),
        );
        match h.framerate_conversion_algorithm.as_deref() {
            None | Some("DUPLICATE_DROP") => {}
            Some("INTERPOLATE") => {
                video.insert("interpolate_frames".into(), json!(true));
            }
            Some(_) => {
                video.insert("interpolate_frames".into(), json!(true));
                r.warn(
                    &hat.key("FramerateConversionAlgorithm"),
                    "frames are blended (INTERPOLATE), not motion-compensated",
                );
            }
        }
    }
    let mut t = Map::new();
    let mut set = |k: &str, v: Value| {
        t.insert(k.to_string(), v);
    };
    if let Some(b) = h.number_b_frames_between_reference_frames {
        set(
            "b_frames",
            json!(unsigned(&hat, "NumberBFramesBetweenReferenceFrames", b)?),
        );
    }
    if let Some(g) = &h.gop_b_reference {
        set("b_pyramid", json!(g == "ENABLED"));
    }
    if let Some(n) = h.number_reference_frames {
        set(
            "ref_frames",
            json!(unsigned(&hat, "NumberReferenceFrames", n)?),
        );
    }
    match h.codec_level.as_deref() {
        None | Some("AUTO") => {}
        Some(l) => {
            let level = l
                .strip_prefix("LEVEL_")
                .map(|n| n.replace('_', "."))
                .ok_or_else(|| {
                    err(
                        &hat.key("CodecLevel"),
                        format!("{l:?} is not an H.264 level"),
                    )
                })?;
            set("level", json!(level));
        }
    }
    if h.entropy_encoding.as_deref() == Some("CAVLC") {
        set("cavlc", json!(true));
    }
    if let Some(n) = h.slices {
        set("slices", json!(unsigned(&hat, "Slices", n)?));
    }
    if h.scene_change_detect
        .as_deref()
        .is_some_and(|s| s != "DISABLED")
    {
        set("scene_cut", json!(tuning::SCENE_CUT));
        if let Some(m) = h.min_i_interval {
            set("min_i_interval", json!(unsigned(&hat, "MinIInterval", m)?));
        }
    }
    // Adaptive quantization: OFF or spatial off turns x264's AQ off; the named strengths
    // scale around x264's default 1.0 (HIGH); AUTO leaves the preset's.
    let strength = match h.adaptive_quantization.as_deref() {
        None | Some("AUTO") => None,
        Some(level) => Some(tuning::aq_strength_of(level).ok_or_else(|| {
            err(
                &hat.key("AdaptiveQuantization"),
                format!("{level:?} is not a level MediaConvert knows"),
            )
        })?),
    };
    let strength = if h.spatial_adaptive_quantization.as_deref() == Some("DISABLED") {
        Some(0.0)
    } else {
        strength
    };
    if let Some(s) = strength {
        set("aq_strength", json!(s));
    }
    if h.temporal_adaptive_quantization.as_deref() == Some("DISABLED") {
        set("mb_tree", json!(false));
    }
    if h.flicker_adaptive_quantization.as_deref() == Some("ENABLED") {
        r.warn(
            &hat.key("FlickerAdaptiveQuantization"),
            "x264 has no flicker AQ; not applied",
        );
    }
    if let Some(p) = h.hrd_buffer_initial_fill_percentage {
        if !(0..=100).contains(&p) {
            return Err(err(
                &hat.key("HrdBufferInitialFillPercentage"),
                format!("{p} is outside [0, 100]"),
            ));
        }
        set("vbv_init", json!(p as f64 / 100.0));
    }
    video.insert("tuning".into(), Value::Object(t));
    Ok(Value::Object(video))
}

fn audio(
    list: &[model::AudioDescription],
    at: &At,
    selectors: &[String],
    r: &mut Reader,
) -> Result<Value, CloudError> {
    let [d] = list else {
        return Err(err(at, "exactly one audio description is supported"));
    };
    let at = at.index(0);
    if let Some(s) = &d.audio_source_name {
        if !selectors.is_empty() && !selectors.contains(s) {
            return Err(err(
                &at.key("AudioSourceName"),
                format!("{s:?} names no audio selector of the input"),
            ));
        }
    }
    // Type and language controls only label the track.
    allow(
        &at,
        "AudioTypeControl",
        &d.audio_type_control,
        &["FOLLOW_INPUT", "USE_CONFIGURED"],
    )?;
    allow(
        &at,
        "LanguageCodeControl",
        &d.language_code_control,
        &["FOLLOW_INPUT", "USE_CONFIGURED"],
    )?;
    let cat = at.key("CodecSettings");
    let cs = required(&at, "CodecSettings", &d.codec_settings)?;
    allow(&cat, "Codec", &cs.codec, &["AAC"])?;
    let aat = cat.key("AacSettings");
    let aac = required(&cat, "AacSettings", &cs.aac_settings)?;
    match aac.codec_profile.as_deref() {
        None | Some("LC") => {}
        Some(p @ ("HEV1" | "HEV2")) => r.warn(
            &aat.key("CodecProfile"),
            format!(
                "{p} needs libfdk-aac, which this FFmpeg lacks; made AAC-LC at the same bitrate"
            ),
        ),
        Some(other) => {
            return Err(err(
                &aat.key("CodecProfile"),
                format!("{other:?} is not an AAC profile MediaConvert knows"),
            ))
        }
    }
    allow(&aat, "RateControlMode", &aac.rate_control_mode, &["CBR"])?;
    allow(
        &aat,
        "CodingMode",
        &aac.coding_mode,
        &["CODING_MODE_1_0", "CODING_MODE_2_0"],
    )?;
    allow(&aat, "RawFormat", &aac.raw_format, &["NONE"])?;
    allow(&aat, "Specification", &aac.specification, &["MPEG4"])?;
    allow(
        &aat,
        "AudioDescriptionBroadcasterMix",
        &aac.audio_description_broadcaster_mix,
        &["NORMAL"],
    )?;
    let bitrate = unsigned(&aat, "Bitrate", *required(&aat, "Bitrate", &aac.bitrate)?)?;
    let rate = unsigned(
        &aat,
        "SampleRate",
        *required(&aat, "SampleRate", &aac.sample_rate)?,
    )?;
    Ok(json!({
        "codec": "aac",
        "bitrate": bitrate,
        "channels": if aac.coding_mode.as_deref() == Some("CODING_MODE_1_0") { 1 } else { 2 },
        "sample_rate": rate,
    }))
}

fn frame_capture(
    o: &model::Output,
    at: &At,
    folder: &str,
    r: &mut Reader,
) -> Result<Value, CloudError> {
    absent(at, "Preset", &o.preset)?;
    absent(at, "AudioDescriptions", &o.audio_descriptions)?;
    absent(at, "OutputSettings", &o.output_settings)?;
    if let Some(c) = &o.container_settings {
        let cat = at.key("ContainerSettings");
        absent(&cat, "M3u8Settings", &c.m3u8_settings)?;
        absent(&cat, "Mp4Settings", &c.mp4_settings)?;
        absent(&cat, "CmfcSettings", &c.cmfc_settings)?;
        absent(&cat, "MpdSettings", &c.mpd_settings)?;
    }
    if o.name_modifier.as_deref() != Some("_thumb") {
        return Err(err(
            &at.key("NameModifier"),
            "mpe names frame captures `_thumb`",
        ));
    }
    if let Some(e) = o.extension.as_deref().filter(|e| *e != "jpg") {
        return Err(err(
            &at.key("Extension"),
            format!("{e:?}: mpe writes jpg frame captures"),
        ));
    }
    let vat = at.key("VideoDescription");
    let vd = required(at, "VideoDescription", &o.video_description)?;
    // Captures keep the source's aspect inside Width x Height, never upscaled: no
    // scaling behavior but that one is followed.
    absent(&vat, "ScalingBehavior", &vd.scaling_behavior)?;
    picture(vd, &vat)?;
    if vd.sharpness.is_some_and(|s| s != 50) {
        r.warn(
            &vat.key("Sharpness"),
            "frame captures are scaled with the bicubic scaler's own sharpness (50)",
        );
    }
    let cat = vat.key("CodecSettings");
    let cs = required(&vat, "CodecSettings", &vd.codec_settings)?;
    allow(&cat, "Codec", &cs.codec, &["FRAME_CAPTURE"])?;
    absent(&cat, "H264Settings", &cs.h264_settings)?;
    let fat = cat.key("FrameCaptureSettings");
    let fc = required(&cat, "FrameCaptureSettings", &cs.frame_capture_settings)?;
    let num = *required(&fat, "FramerateNumerator", &fc.framerate_numerator)?;
    let den = *required(&fat, "FramerateDenominator", &fc.framerate_denominator)?;
    if num <= 0 || den <= 0 {
        return Err(err(&fat, "the capture rate must be positive"));
    }
    let mut t = json!({
        "destination": folder,
        "interval_seconds": den as f64 / num as f64,
        "format": "jpeg",
        "quality": fc.quality.unwrap_or(80),
    });
    if let Some(m) = fc.max_captures {
        t["max_captures"] = json!(m);
    }
    if let Some(w) = vd.width {
        t["width"] = json!(w);
    }
    if let Some(h) = vd.height {
        t["height"] = json!(h);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> Value {
        serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/console_hls_ts_cbr.json"
        ))
        .expect("corpus job")
    }

    #[test]
    fn a_console_job_reads_with_its_settings_and_warnings() {
        let job = parse_job(&console()).expect("reads");
        let v = &job.profile.video;
        assert_eq!(v.gop_frames, Some(90));
        assert_eq!(v.frame_rate, Some([30, 1]));
        assert_eq!(v.segment_seconds, 10.0);
        assert_eq!(v.tuning.b_frames, Some(2));
        assert_eq!(v.tuning.ref_frames, Some(3));
        assert_eq!(v.tuning.level.as_deref(), Some("3.1"));
        assert_eq!(v.tuning.vbv_init, Some(0.9));
        let sizes: Vec<_> = job
            .profile
            .renditions
            .iter()
            .map(|r| r.size.map(|s| (s.width, s.height)))
            .collect();
        assert_eq!(
            sizes,
            [Some((Some(1280), Some(720))), Some((Some(640), Some(360)))]
        );
        assert_eq!(job.rotation, Some(0));
        assert_eq!(job.warnings.len(), 2, "{:?}", job.warnings);
        assert!(job.warnings[0].message.contains("M3u8Settings"));
    }

    #[test]
    fn each_output_keeps_its_own_audio() {
        let job = parse_job(&console()).expect("reads");
        let p = &job.profile;
        let main = p.audio.as_ref().expect("audio");
        assert_eq!(
            (main.bitrate, main.channels, main.sample_rate),
            (96000, 2, 48000)
        );
        assert!(p.renditions[0].audio.is_none());
        let own = p.renditions[1].audio.as_ref().expect("the 360p rung's own");
        assert_eq!(
            (own.bitrate, own.channels, own.sample_rate),
            (64000, 1, 44100)
        );
        // The same rendition's MP4 in a File group with other audio: its own.
        let mut j = console();
        let mut o = j["Settings"]["OutputGroups"][0]["Outputs"][1].clone();
        o["ContainerSettings"] = json!({ "Container": "MP4" });
        if let Some(o) = o.as_object_mut() {
            o.remove("OutputSettings");
        }
        o["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]["Bitrate"] = json!(96000);
        let file_group = json!({
            "Name": "File Group",
            "OutputGroupSettings": {
                "Type": "FILE_GROUP_SETTINGS",
                "FileGroupSettings": { "Destination": "s3://media/asset/mp4/" },
            },
            "Outputs": [o.clone()],
        });
        if let Some(groups) = j["Settings"]["OutputGroups"].as_array_mut() {
            groups.push(file_group);
        }
        let p = parse_job(&j).expect("the MP4's own audio").profile;
        assert_eq!(
            p.renditions[1].audio.as_ref().map(|a| a.bitrate),
            Some(64000)
        );
        assert_eq!(
            p.renditions[1].file_audio.as_ref().map(|a| a.bitrate),
            Some(96000)
        );
        // Twice in one kind of group with different audio: refused by path.
        let mut twice = j.clone();
        let mut again = o.clone();
        again["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]["Bitrate"] = json!(128000);
        if let Some(outs) = twice["Settings"]["OutputGroups"][1]["Outputs"].as_array_mut() {
            outs.push(again);
        }
        let e = parse_job(&twice).expect_err("two audios for one MP4");
        assert!(
            e.to_string()
                .contains("OutputGroups[1].Outputs[1].AudioDescriptions"),
            "{e}"
        );
        // Asking the HLS rung's own audio, the MP4 shares it.
        o["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]["Bitrate"] = json!(64000);
        j["Settings"]["OutputGroups"][1]["Outputs"][0] = o;
        let p = parse_job(&j).expect("the same audio").profile;
        assert_eq!(
            p.renditions[1].audio.as_ref().map(|a| a.bitrate),
            Some(64000)
        );
        assert!(p.renditions[1].file_audio.is_none());
    }

    #[test]
    fn unknown_members_are_named_and_wrong_types_are_bad_requests() {
        let mut j = console();
        j["Settings"]["Inputs"][0]["Brightness"] = json!(3);
        let e = parse_job(&j).expect_err("unknown");
        assert!(
            e.to_string().contains("Settings.Inputs[0].Brightness"),
            "{e}"
        );
        // Unknown is still a valid request: it is the job that fails, not CreateJob.
        assert!(check_request(&j).is_ok());
        let mut j = console();
        j["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]["Width"] = json!("wide");
        let e = check_request(&j).expect_err("wrong type");
        assert!(
            e.path()
                .starts_with("Settings.OutputGroups[0].Outputs[0].VideoDescription.Width"),
            "{e}"
        );
        let mut j = console();
        j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]
            ["ManifestDurationFormat"] = json!("INTEGER");
        let hls = parse_job(&j)
            .expect("INTEGER is followed")
            .profile
            .outputs
            .hls;
        assert!(hls.is_some_and(|h| h.integer_durations));
        j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]
            ["MinFinalSegmentLength"] = json!(10.5);
        let e = parse_job(&j).expect_err("refused value");
        assert!(
            e.to_string()
                .contains("HlsGroupSettings.MinFinalSegmentLength"),
            "{e}"
        );
    }

    #[test]
    fn segment_controls_and_the_mpd_profile_are_read_alike_from_every_group() {
        let mut j: Value =
            serde_json::from_str(include_str!("../../tests/mediaconvert/jobs/dash_iso.json"))
                .expect("corpus job");
        // A CMAF group beside the DASH ISO one, cut alike.
        let mut twin = j["Settings"]["OutputGroups"][0].clone();
        let mut cmaf = twin["OutputGroupSettings"]["DashIsoGroupSettings"].clone();
        cmaf["Destination"] = json!("s3://media/asset/cmaf/");
        cmaf.as_object_mut()
            .expect("settings")
            .remove("HbbtvCompliance");
        twin["OutputGroupSettings"] =
            json!({ "Type": "CMAF_GROUP_SETTINGS", "CmafGroupSettings": cmaf });
        for o in twin["Outputs"].as_array_mut().expect("outputs") {
            o["ContainerSettings"] = json!({ "Container": "CMFC" });
        }
        j["Settings"]["OutputGroups"]
            .as_array_mut()
            .expect("groups")
            .push(twin);
        let dash = |j: &mut Value, g: usize, k: &str, v: Value| {
            let key = ["DashIsoGroupSettings", "CmafGroupSettings"][g];
            j["Settings"]["OutputGroups"][g]["OutputGroupSettings"][key][k] = v;
        };
        for g in 0..2 {
            dash(&mut j, g, "SegmentLengthControl", json!("GOP_MULTIPLE"));
            dash(&mut j, g, "MinFinalSegmentLength", json!(1.5));
        }
        let v = parse_job(&j).expect("reads").profile.video;
        assert!(v.segments_whole_gops);
        assert_eq!(v.min_final_segment_seconds, Some(1.5));
        // Groups that cut differently, by path.
        dash(&mut j, 1, "SegmentLengthControl", json!("EXACT"));
        let e = parse_job(&j).expect_err("groups differ");
        assert!(
            e.to_string().contains(
                "OutputGroups[1].OutputGroupSettings.CmafGroupSettings.SegmentLengthControl"
            ),
            "{e}"
        );
        dash(&mut j, 1, "SegmentLengthControl", json!("GOP_MULTIPLE"));
        dash(&mut j, 1, "MinFinalSegmentLength", json!(2));
        let e = parse_job(&j).expect_err("groups differ");
        assert!(e.to_string().contains("MinFinalSegmentLength"), "{e}");
        // A second group of one kind: refused, never silently dropped (MP4s and frame
        // captures alike, below).
        let mut two = j.clone();
        let first = two["Settings"]["OutputGroups"][0].clone();
        two["Settings"]["OutputGroups"][1] = first;
        let e = parse_job(&two).expect_err("two DASH ISO groups");
        assert!(
            e.to_string()
                .contains("OutputGroups[1].OutputGroupSettings.Type"),
            "{e}"
        );
        // 0, the default, asks nothing.
        for g in 0..2 {
            dash(&mut j, g, "SegmentLengthControl", json!("EXACT"));
            dash(&mut j, g, "MinFinalSegmentLength", json!(0));
        }
        let v = parse_job(&j).expect("reads").profile.video;
        assert!(!v.segments_whole_gops);
        assert_eq!(v.min_final_segment_seconds, None);
        // The on-demand profile, with single files only.
        dash(&mut j, 0, "MpdProfile", json!("ON_DEMAND_PROFILE"));
        let e = parse_job(&j).expect_err("segmented files");
        assert!(
            e.to_string().contains("DashIsoGroupSettings.MpdProfile"),
            "{e}"
        );
        for g in 0..2 {
            dash(&mut j, g, "SegmentControl", json!("SINGLE_FILE"));
        }
        let out = parse_job(&j)
            .expect("on demand, single files")
            .profile
            .outputs;
        assert!(out.dash.is_some_and(|d| d.single_file));
        // Under 1 s: out of MediaConvert's range, by path.
        dash(&mut j, 0, "MinFinalSegmentLength", json!(0.5));
        let e = parse_job(&j).expect_err("under 1 s");
        assert!(
            e.to_string()
                .contains("DashIsoGroupSettings.MinFinalSegmentLength"),
            "{e}"
        );
    }

    #[test]
    fn interpolate_blends_and_frameformer_blends_with_a_warning() {
        let mut j = console();
        let set = |j: &mut Value, algorithm: &str| {
            for o in j["Settings"]["OutputGroups"][0]["Outputs"]
                .as_array_mut()
                .expect("outputs")
            {
                o["VideoDescription"]["CodecSettings"]["H264Settings"]
                    ["FramerateConversionAlgorithm"] = json!(algorithm);
            }
        };
        let before = parse_job(&j).expect("reads");
        assert!(!before.profile.video.interpolate_frames);
        set(&mut j, "INTERPOLATE");
        let job = parse_job(&j).expect("reads");
        assert!(job.profile.video.interpolate_frames);
        assert_eq!(job.warnings.len(), before.warnings.len());
        set(&mut j, "FRAMEFORMER");
        let job = parse_job(&j).expect("reads");
        assert!(job.profile.video.interpolate_frames);
        let said: Vec<&str> = job.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            said.iter()
                .any(|m| m.contains("FramerateConversionAlgorithm")
                    && m.contains("not motion-compensated")),
            "{said:?}"
        );
    }

    #[test]
    fn a_second_file_group_of_mp4s_or_of_captures_is_refused_by_path() {
        let job: Value = serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/file_group_mp4s_and_captures.json"
        ))
        .expect("corpus job");
        parse_job(&job).expect("one group of MP4s, one of captures");
        let groups = job["Settings"]["OutputGroups"].as_array().expect("groups");
        for g in groups {
            let mut j = job.clone();
            j["Settings"]["OutputGroups"]
                .as_array_mut()
                .expect("groups")
                .push(g.clone());
            let e = parse_job(&j).expect_err("a second group of a kind");
            assert!(e.to_string().contains("OutputGroups[2]"), "{e}");
        }
    }

    #[test]
    fn frame_captures_refuse_what_they_do_not_follow() {
        let job: Value = serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/file_group_mp4s_and_captures.json"
        ))
        .expect("corpus job");
        assert!(parse_job(&job).is_ok());
        let capture = "/Settings/OutputGroups/1/Outputs/0";
        for (member, value, path) in [
            (
                "/VideoDescription/ScalingBehavior",
                json!("FILL"),
                "Outputs[0].VideoDescription.ScalingBehavior",
            ),
            (
                "/VideoDescription/TimecodeInsertion",
                json!("PIC_TIMING_SEI"),
                "Outputs[0].VideoDescription.TimecodeInsertion",
            ),
            (
                "/ContainerSettings/Mp4Settings",
                json!({}),
                "Outputs[0].ContainerSettings.Mp4Settings",
            ),
        ] {
            let mut j = job.clone();
            let (parent, key) = member.rsplit_once('/').expect("member");
            j.pointer_mut(&format!("{capture}{parent}"))
                .and_then(Value::as_object_mut)
                .expect("parent object")
                .insert(key.to_string(), value);
            let e = parse_job(&j).expect_err(member);
            assert!(e.to_string().contains(path), "{member}: {e}");
        }
    }

    #[test]
    fn hls_subdirectories_are_refused_by_path() {
        let mut j = console();
        let gs = &mut j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"];
        gs["DirectoryStructure"] = json!("SINGLE_DIRECTORY");
        assert!(parse_job(&j).is_ok());
        j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]
            ["DirectoryStructure"] = json!("SUBDIRECTORY_PER_STREAM");
        let e = parse_job(&j).expect_err("subdirectories");
        assert!(
            e.to_string().contains(
                "OutputGroups[0].OutputGroupSettings.HlsGroupSettings.DirectoryStructure"
            ),
            "{e}"
        );
    }

    #[test]
    fn cmaf_audio_groups_other_than_mpes_are_refused() {
        let mut j: Value = serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/cmaf_qvbr_ladder.json"
        ))
        .expect("corpus job");
        j["Settings"]["OutputGroups"][0]["Outputs"][2]["ContainerSettings"]["CmfcSettings"] =
            json!({ "AudioGroupId": "audio" });
        assert!(parse_job(&j).is_ok());
        j["Settings"]["OutputGroups"][0]["Outputs"][2]["ContainerSettings"]["CmfcSettings"] =
            json!({ "AudioGroupId": "program_audio" });
        let e = parse_job(&j).expect_err("another group id");
        assert!(e.to_string().contains("CmfcSettings.AudioGroupId"), "{e}");
    }

    #[test]
    fn several_audio_only_outputs_become_audio_renditions() {
        let mut j: Value = serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/cmaf_qvbr_ladder.json"
        ))
        .expect("corpus job");
        let mut mono = j["Settings"]["OutputGroups"][0]["Outputs"][2].clone();
        mono["NameModifier"] = json!("_audio_mono");
        let aac = &mut mono["AudioDescriptions"][0]["CodecSettings"]["AacSettings"];
        aac["CodingMode"] = json!("CODING_MODE_1_0");
        aac["Bitrate"] = json!(48000);
        // Listed before the profile's own: the order of the others is kept, `_audio` is
        // the profile's audio wherever it stands.
        if let Some(o) = j["Settings"]["OutputGroups"][0]["Outputs"].as_array_mut() {
            o.insert(2, mono.clone());
        }
        let p = parse_job(&j).expect("reads").profile;
        assert_eq!(p.audio.as_ref().map(|a| a.bitrate), Some(96000));
        let names: Vec<_> = p.audio_renditions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["audio_mono"]);
        let a = &p.audio_renditions[0].audio;
        assert_eq!((a.bitrate, a.channels, a.track), (48000, 1, None));
        // Two of one name, and none that is the profile's own: refused by path.
        let mut twice = j.clone();
        twice["Settings"]["OutputGroups"][0]["Outputs"][3]["NameModifier"] = json!("_audio_mono");
        let e = parse_job(&twice).expect_err("a name twice");
        assert!(
            e.to_string()
                .contains("OutputGroups[0].Outputs[3].NameModifier"),
            "{e}"
        );
        let mut no_main = j.clone();
        no_main["Settings"]["OutputGroups"][0]["Outputs"][3]["NameModifier"] = json!("_audio_hi");
        let e = parse_job(&no_main).expect_err("no `_audio`");
        assert!(e.to_string().contains("must be named `_audio`"), "{e}");
        let mut other = j.clone();
        other["Settings"]["OutputGroups"][0]["Outputs"][2]["NameModifier"] = json!("_aac");
        let e = parse_job(&other).expect_err("not audio_");
        assert!(
            e.to_string()
                .contains("OutputGroups[0].Outputs[2].NameModifier"),
            "{e}"
        );
        // A DASH group beside it must carry the same audio-only outputs.
        let mut dash = j["Settings"]["OutputGroups"][0].clone();
        dash["OutputGroupSettings"] = json!({
            "Type": "DASH_ISO_GROUP_SETTINGS",
            "DashIsoGroupSettings": {
                "Destination": "s3://media/asset/dash/",
                "SegmentLength": j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]
                    ["CmafGroupSettings"]["SegmentLength"],
                "FragmentLength": 2,
            },
        });
        for o in dash["Outputs"].as_array_mut().expect("outputs") {
            o["ContainerSettings"] = json!({ "Container": "MPD" });
        }
        let mut both = j.clone();
        if let Some(g) = both["Settings"]["OutputGroups"].as_array_mut() {
            g.push(dash.clone());
        }
        let p = parse_job(&both).expect("the same audio in both").profile;
        assert!(p.outputs.dash.is_some());
        assert_eq!(p.audio_renditions.len(), 1);
        if let Some(o) = both["Settings"]["OutputGroups"][1]["Outputs"].as_array_mut() {
            o.remove(2);
        }
        let e = parse_job(&both).expect_err("the DASH group lacks the mono");
        assert!(e.to_string().contains("OutputGroups[1].Outputs"), "{e}");
    }

    #[test]
    fn clippings_read_with_their_timecode_source() {
        let mut j: Value = serde_json::from_str(include_str!(
            "../../tests/mediaconvert/jobs/clipped_by_embedded_timecode.json"
        ))
        .expect("corpus job");
        let clip = parse_job(&j).expect("reads").clip.expect("a clip");
        assert_eq!(clip.origin, profiles::TimecodeOrigin::Embedded);
        assert_eq!(
            clip.start.map(|t| t.to_string()).as_deref(),
            Some("01:00:02:00")
        );
        assert_eq!(
            clip.end.map(|t| t.to_string()).as_deref(),
            Some("01:00:05:29")
        );
        let input = &mut j["Settings"]["Inputs"][0];
        input["TimecodeSource"] = json!("SPECIFIEDSTART");
        let e = parse_job(&j).expect_err("no TimecodeStart");
        assert!(
            e.to_string().contains("Inputs[0].TimecodeStart: required"),
            "{e}"
        );
        j["Settings"]["Inputs"][0]["TimecodeStart"] = json!("00:59:00:00");
        let clip = parse_job(&j).expect("reads").clip.expect("a clip");
        assert!(matches!(clip.origin, profiles::TimecodeOrigin::Specified(t) if t.minutes == 59));
        for (clippings, path) in [
            (json!([{}]), "InputClippings[0]: give StartTimecode"),
            (
                json!([{ "EndTimecode": "5s" }]),
                "InputClippings[0].EndTimecode: \"5s\": not a timecode",
            ),
        ] {
            j["Settings"]["Inputs"][0]["InputClippings"] = clippings;
            let e = parse_job(&j).expect_err("refused");
            assert!(e.to_string().contains(path), "{e}");
        }
        // Several clips, and several inputs, are one timeline in order.
        j["Settings"]["Inputs"][0]["InputClippings"] =
            json!([{ "EndTimecode": "00:00:01:00" }, { "StartTimecode": "00:00:03:00" }]);
        let mut second = j["Settings"]["Inputs"][0].clone();
        second["FileInput"] = json!("s3://raw/outro.mov");
        second.as_object_mut().map(|o| o.remove("InputClippings"));
        second["VideoSelector"] = json!({ "Rotate": "DEGREE_90" });
        j["Settings"]["Inputs"]
            .as_array_mut()
            .expect("inputs")
            .push(second);
        let job = parse_job(&j).expect("reads");
        assert_eq!(job.input, "s3://raw/uploads/timecoded.mp4");
        assert!(job.clip.is_some_and(|c| c.start.is_none()));
        let joined: Vec<_> = job
            .joined
            .iter()
            .map(|p| (p.input.as_str(), p.clip.is_some(), p.rotation))
            .collect();
        assert_eq!(
            joined,
            [
                ("s3://raw/uploads/timecoded.mp4", true, None),
                ("s3://raw/outro.mov", false, Some(90))
            ]
        );
        j["Settings"]["Inputs"][1]["AudioSelectors"] = json!({ "Other": {} });
        let e = parse_job(&j).expect_err("another selector name");
        assert!(e.to_string().contains("Inputs[1].AudioSelectors"), "{e}");
    }
}
