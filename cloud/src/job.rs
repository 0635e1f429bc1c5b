//! MediaConvert -> profile: a CreateJob request read back into the profile, source and
//! destination it stands for, so that the engine can run it locally. Every field the
//! local executor does not support is named, with its path, in the error.

use profiles::naming::AUDIO_NAME;
use profiles::{Profile, ProfileError};
use serde_json::{json, Map, Value};

use crate::error::CloudError;

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

/// An object whose keys must all be among `known`.
fn object<'a>(v: &'a Value, at: &At, known: &[&str]) -> Result<&'a Map<String, Value>, CloudError> {
    let map = v.as_object().ok_or_else(|| err(at, "expected an object"))?;
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(err(&at.key(k), "not supported by mpe's local executor"));
    }
    Ok(map)
}

fn get<'a>(map: &'a Map<String, Value>, at: &At, key: &str) -> Result<&'a Value, CloudError> {
    map.get(key).ok_or_else(|| err(&at.key(key), "required"))
}

fn string<'a>(map: &'a Map<String, Value>, at: &At, key: &str) -> Result<&'a str, CloudError> {
    get(map, at, key)?
        .as_str()
        .ok_or_else(|| err(&at.key(key), "expected a string"))
}

fn number(map: &Map<String, Value>, at: &At, key: &str) -> Result<f64, CloudError> {
    get(map, at, key)?
        .as_f64()
        .ok_or_else(|| err(&at.key(key), "expected a number"))
}

fn expect(
    map: &Map<String, Value>,
    at: &At,
    key: &str,
    allowed: &[&str],
) -> Result<(), CloudError> {
    match map.get(key) {
        None => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(v) => Err(err(
            &at.key(key),
            format!(
                "{v} is not supported by mpe's local executor (supported: {})",
                allowed.join(", ")
            ),
        )),
    }
}

/// One video output as read: its rung name and encoder settings.
#[derive(Debug, Clone, PartialEq)]
struct VideoOut {
    name: String,
    height: u32,
    settings: Value,
}

/// Reads a CreateJob request.
pub fn parse_job(request: &Value) -> Result<LocalJob, CloudError> {
    let root = At(String::new());
    let top = object(
        request,
        &root,
        &[
            "Role",
            "Queue",
            "Settings",
            "UserMetadata",
            "StatusUpdateInterval",
            "Priority",
            "Tags",
            "JobTemplate",
            "ClientRequestToken",
            "BillingTagsSource",
            "AccelerationSettings",
        ],
    )?;
    if top.contains_key("JobTemplate") {
        return Err(err(
            &root.key("JobTemplate"),
            "jobs made from a template are not supported; render the full job (mpe cloud render)",
        ));
    }
    let job_id = top
        .get("UserMetadata")
        .and_then(|m| m.get("mpe_job_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let profile_name = top
        .get("UserMetadata")
        .and_then(|m| m.get("mpe_profile"))
        .and_then(Value::as_str)
        .unwrap_or("job")
        .to_string();
    let at = root.key("Settings");
    let settings = object(
        get(top, &root, "Settings")?,
        &at,
        &["Inputs", "OutputGroups", "TimecodeConfig"],
    )?;
    if let Some(tc) = settings.get("TimecodeConfig") {
        let tat = at.key("TimecodeConfig");
        let tc = object(tc, &tat, &["Source"])?;
        expect(tc, &tat, "Source", &["ZEROBASED"])?;
    }
    let inputs = get(settings, &at, "Inputs")?
        .as_array()
        .ok_or_else(|| err(&at.key("Inputs"), "expected a list"))?;
    if inputs.len() != 1 {
        return Err(err(&at.key("Inputs"), "exactly one input is supported"));
    }
    let iat = at.key("Inputs").index(0);
    let input = object(
        &inputs[0],
        &iat,
        &[
            "FileInput",
            "AudioSelectors",
            "VideoSelector",
            "TimecodeSource",
        ],
    )?;
    let file_input = string(input, &iat, "FileInput")?.to_string();
    expect(input, &iat, "TimecodeSource", &["ZEROBASED"])?;
    if let Some(vs) = input.get("VideoSelector") {
        let vat = iat.key("VideoSelector");
        let vs = object(vs, &vat, &["Rotate"])?;
        expect(vs, &vat, "Rotate", &["AUTO"])?;
    }

    let groups_at = at.key("OutputGroups");
    let groups = get(settings, &at, "OutputGroups")?
        .as_array()
        .ok_or_else(|| err(&groups_at, "expected a list"))?;
    let mut destination: Option<String> = None;
    // The streaming groups' ladder (all must carry the same), and the file group's rungs.
    let mut ladder: Option<(Vec<VideoOut>, At)> = None;
    let mut file_rungs: Vec<(VideoOut, At)> = Vec::new();
    let mut audio: Option<Value> = None;
    let mut outputs = Map::new();
    let mut video = Map::new();
    let mut thumbnails = None;
    let mut elsewhere = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let gat = groups_at.index(gi);
        let g = object(
            g,
            &gat,
            &["Name", "CustomName", "OutputGroupSettings", "Outputs"],
        )?;
        let sat = gat.key("OutputGroupSettings");
        let gs = object(
            get(g, &gat, "OutputGroupSettings")?,
            &sat,
            &[
                "Type",
                "CmafGroupSettings",
                "HlsGroupSettings",
                "DashIsoGroupSettings",
                "FileGroupSettings",
            ],
        )?;
        let kind = string(gs, &sat, "Type")?;
        let (key, known): (&str, &[&str]) = match kind {
            "CMAF_GROUP_SETTINGS" => (
                "CmafGroupSettings",
                &[
                    "Destination",
                    "SegmentLength",
                    "FragmentLength",
                    "SegmentControl",
                    "WriteDashManifest",
                    "WriteHlsManifest",
                    "ManifestDurationFormat",
                    "MpdProfile",
                ],
            ),
            "HLS_GROUP_SETTINGS" => (
                "HlsGroupSettings",
                &[
                    "Destination",
                    "SegmentLength",
                    "MinSegmentLength",
                    "SegmentControl",
                    "OutputSelection",
                    "DirectoryStructure",
                    "ManifestDurationFormat",
                ],
            ),
            "DASH_ISO_GROUP_SETTINGS" => (
                "DashIsoGroupSettings",
                &[
                    "Destination",
                    "SegmentLength",
                    "FragmentLength",
                    "SegmentControl",
                    "MpdProfile",
                ],
            ),
            "FILE_GROUP_SETTINGS" => ("FileGroupSettings", &["Destination"]),
            other => {
                return Err(err(
                    &sat.key("Type"),
                    format!("{other} is not supported by mpe's local executor"),
                ))
            }
        };
        let kat = sat.key(key);
        let s = object(get(gs, &sat, key)?, &kat, known)?;
        expect(s, &kat, "SegmentControl", &["SEGMENTED_FILES"])?;
        expect(s, &kat, "WriteDashManifest", &["ENABLED"])?;
        expect(s, &kat, "WriteHlsManifest", &["ENABLED"])?;
        expect(s, &kat, "OutputSelection", &["MANIFESTS_AND_SEGMENTS"])?;
        expect(s, &kat, "DirectoryStructure", &["SINGLE_DIRECTORY"])?;
        let dest = string(s, &kat, "Destination")?;
        let dat = kat.key("Destination");
        if !dest.ends_with('/') {
            return Err(err(
                &dat,
                "must be a folder ending in '/' (mpe names files after the input)",
            ));
        }
        let oat = gat.key("Outputs");
        let outs = get(g, &gat, "Outputs")?
            .as_array()
            .ok_or_else(|| err(&oat, "expected a list"))?;
        let container_of = |o: &Value| {
            o["ContainerSettings"]["Container"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let capture =
            kind == "FILE_GROUP_SETTINGS" && outs.iter().any(|o| container_of(o) == "RAW");
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
            if outs.len() != 1 {
                return Err(err(&oat, "a frame-capture group holds one output"));
            }
            thumbnails = Some(frame_capture(&outs[0], &oat.index(0), &folder)?);
            continue;
        }
        let mut videos = Vec::new();
        for (oi, o) in outs.iter().enumerate() {
            let at = oat.index(oi);
            let (v, a) = output(o, &at, kind)?;
            if let Some(a) = a {
                if audio.as_ref().is_some_and(|x| x != &a) {
                    return Err(err(
                        &at.key("AudioDescriptions"),
                        "every output must have the same audio settings",
                    ));
                }
                audio = Some(a);
            }
            if let Some(v) = v {
                videos.push(v);
            }
        }
        let seg = |s: &Map<String, Value>| -> Result<Option<f64>, CloudError> {
            s.get("SegmentLength")
                .map(|_| number(s, &kat, "SegmentLength"))
                .transpose()
        };
        match kind {
            "FILE_GROUP_SETTINGS" => {
                let names: Vec<Value> = videos.iter().map(|v| json!(v.name)).collect();
                outputs.insert(
                    "file".into(),
                    json!({ "destination": folder, "renditions": names }),
                );
                file_rungs.extend(videos.into_iter().map(|v| (v, oat.clone())));
            }
            _ => {
                let segment = seg(s)?.ok_or_else(|| err(&kat.key("SegmentLength"), "required"))?;
                if let Some(prev) = video.get("segment_seconds").and_then(Value::as_f64) {
                    if prev != segment {
                        return Err(err(
                            &kat.key("SegmentLength"),
                            "every group must use the same segment length",
                        ));
                    }
                }
                video.insert("segment_seconds".into(), json!(segment));
                let name = match kind {
                    "CMAF_GROUP_SETTINGS" => "cmaf",
                    "HLS_GROUP_SETTINGS" => "hls",
                    _ => "dash",
                };
                outputs.insert(name.into(), json!({ "destination": folder }));
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
    rungs.sort_by_key(|r| std::cmp::Reverse(r.height));
    let first = rungs
        .first()
        .ok_or_else(|| err(&ladder_at, "no video output"))?;
    let h = &first.settings;
    // Video settings common to every rung (checked equal below).
    let rate = h["RateControlMode"].as_str().unwrap_or("VBR");
    video.insert(
        "rate_control".into(),
        json!(match rate {
            "VBR" => "vbr",
            "CBR" => "cbr",
            _ => "capped_crf",
        }),
    );
    if rate == "QVBR" {
        let level = h["QvbrSettings"]["QvbrQualityLevel"]
            .as_f64()
            .unwrap_or(7.0);
        video.insert("crf".into(), json!(23.0 - (level - 7.0) * 3.0));
    }
    video.insert("codec".into(), json!("h264"));
    video.insert(
        "profile".into(),
        json!(h["CodecProfile"]
            .as_str()
            .unwrap_or("HIGH")
            .to_ascii_lowercase()),
    );
    video.insert(
        "preset".into(),
        json!(
            match h["QualityTuningLevel"].as_str().unwrap_or("SINGLE_PASS") {
                "SINGLE_PASS" => "veryfast",
                "SINGLE_PASS_HQ" => "medium",
                _ => "slow",
            }
        ),
    );
    video.insert(
        "gop_seconds".into(),
        json!(h["GopSize"].as_f64().unwrap_or(2.0)),
    );
    if h["FramerateControl"] == "SPECIFIED" {
        let n = h["FramerateNumerator"].as_f64().unwrap_or(30.0);
        let d = h["FramerateDenominator"].as_f64().unwrap_or(1.0).max(1.0);
        video.insert("max_frame_rate".into(), json!(n / d));
    }
    video
        .entry("segment_seconds")
        .or_insert_with(|| json!(h["GopSize"].as_f64().unwrap_or(2.0)));
    for v in &rungs[1..] {
        let mut a = v.settings.clone();
        let mut b = h.clone();
        for k in ["Bitrate", "MaxBitrate", "HrdBufferSize"] {
            a.as_object_mut().map(|m| m.remove(k));
            b.as_object_mut().map(|m| m.remove(k));
        }
        if a != b {
            return Err(err(&ladder_at, format!("rendition {} differs from {} in more than its rates; every rendition must share the encoder settings", v.name, first.name)));
        }
    }
    let renditions: Vec<Value> = rungs
        .iter()
        .map(|v| {
            let b = v.settings["Bitrate"].as_u64();
            let m = v.settings["MaxBitrate"].as_u64().or(b).unwrap_or(0);
            json!({
                "name": v.name,
                "height": v.height,
                "bitrate": b.unwrap_or(m),
                "max_bitrate": m,
                "buffer_size": v.settings["HrdBufferSize"].as_u64().unwrap_or(m * 2),
            })
        })
        .collect();
    let mut p = json!({
        "name": profile_name,
        "description": "read from a MediaConvert CreateJob request",
        "video": video,
        "renditions": renditions,
        "outputs": outputs,
    });
    if let Some(a) = audio {
        p["audio"] = a;
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
        input: file_input,
        destination: destination.unwrap_or_default(),
        elsewhere,
        job_id,
    })
}

/// One output: its video (rung) and audio settings.
fn output(o: &Value, at: &At, kind: &str) -> Result<(Option<VideoOut>, Option<Value>), CloudError> {
    let o = object(
        o,
        at,
        &[
            "NameModifier",
            "ContainerSettings",
            "VideoDescription",
            "AudioDescriptions",
        ],
    )?;
    let modifier = string(o, at, "NameModifier")?;
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
    let c = object(
        get(o, at, "ContainerSettings")?,
        &cat,
        &["Container", "M3u8Settings", "Mp4Settings"],
    )?;
    let want = match kind {
        "CMAF_GROUP_SETTINGS" => "CMFC",
        "HLS_GROUP_SETTINGS" => "M3U8",
        "DASH_ISO_GROUP_SETTINGS" => "MPD",
        _ => "MP4",
    };
    expect(c, &cat, "Container", &[want])?;
    if let Some(m) = c.get("M3u8Settings") {
        object(m, &cat.key("M3u8Settings"), &[])?;
    }
    if let Some(m) = c.get("Mp4Settings") {
        let mat = cat.key("Mp4Settings");
        let m = object(m, &mat, &["MoovPlacement"])?;
        expect(m, &mat, "MoovPlacement", &["PROGRESSIVE_DOWNLOAD"])?;
    }
    let audio = match o.get("AudioDescriptions") {
        None => None,
        Some(a) => Some(audio(a, &at.key("AudioDescriptions"))?),
    };
    let video = match o.get("VideoDescription") {
        None => {
            if name != AUDIO_NAME {
                return Err(err(
                    &at.key("NameModifier"),
                    format!("an audio-only output must be named `_{AUDIO_NAME}`"),
                ));
            }
            None
        }
        Some(vd) => Some(video(vd, &at.key("VideoDescription"), name)?),
    };
    Ok((video, audio))
}

fn video(vd: &Value, at: &At, name: &str) -> Result<VideoOut, CloudError> {
    let vd = object(
        vd,
        at,
        &["Width", "Height", "ScalingBehavior", "CodecSettings"],
    )?;
    expect(vd, at, "ScalingBehavior", &["DEFAULT"])?;
    let height = number(vd, at, "Height")? as u32;
    // The engine plans each rung's size from the source (aspect kept, never upscaled);
    // Width is that plan's, so it is read as given and not used.
    let width = vd.get("Width").and_then(Value::as_u64).map(|w| w as u32);
    let short = width.map_or(height, |w| w.min(height));
    let cat = at.key("CodecSettings");
    let cs = object(
        get(vd, at, "CodecSettings")?,
        &cat,
        &["Codec", "H264Settings"],
    )?;
    expect(cs, &cat, "Codec", &["H_264"])?;
    let hat = cat.key("H264Settings");
    let h = object(
        get(cs, &cat, "H264Settings")?,
        &hat,
        &[
            "RateControlMode",
            "Bitrate",
            "MaxBitrate",
            "QvbrSettings",
            "HrdBufferSize",
            "CodecProfile",
            "CodecLevel",
            "GopSize",
            "GopSizeUnits",
            "GopClosedCadence",
            "SceneChangeDetect",
            "InterlaceMode",
            "ParControl",
            "ParNumerator",
            "ParDenominator",
            "QualityTuningLevel",
            "FramerateControl",
            "FramerateNumerator",
            "FramerateDenominator",
            "FramerateConversionAlgorithm",
        ],
    )?;
    expect(h, &hat, "RateControlMode", &["VBR", "CBR", "QVBR"])?;
    expect(h, &hat, "CodecLevel", &["AUTO"])?;
    expect(h, &hat, "GopSizeUnits", &["SECONDS"])?;
    expect(h, &hat, "SceneChangeDetect", &["DISABLED"])?;
    expect(h, &hat, "InterlaceMode", &["PROGRESSIVE"])?;
    expect(h, &hat, "ParControl", &["SPECIFIED"])?;
    expect(
        h,
        &hat,
        "FramerateControl",
        &["INITIALIZE_FROM_SOURCE", "SPECIFIED"],
    )?;
    expect(h, &hat, "CodecProfile", &["BASELINE", "MAIN", "HIGH"])?;
    if h.get("GopClosedCadence")
        .and_then(Value::as_u64)
        .is_some_and(|c| c != 1)
    {
        return Err(err(
            &hat.key("GopClosedCadence"),
            "mpe's GOPs are always closed (1)",
        ));
    }
    Ok(VideoOut {
        name: name.to_string(),
        height: short,
        settings: Value::Object(h.clone()),
    })
}

fn audio(a: &Value, at: &At) -> Result<Value, CloudError> {
    let list = a
        .as_array()
        .filter(|l| l.len() == 1)
        .ok_or_else(|| err(at, "exactly one audio description is supported"))?;
    let at = at.index(0);
    let d = object(&list[0], &at, &["AudioSourceName", "CodecSettings"])?;
    let cat = at.key("CodecSettings");
    let cs = object(
        get(d, &at, "CodecSettings")?,
        &cat,
        &["Codec", "AacSettings"],
    )?;
    expect(cs, &cat, "Codec", &["AAC"])?;
    let aat = cat.key("AacSettings");
    let aac = object(
        get(cs, &cat, "AacSettings")?,
        &aat,
        &[
            "Bitrate",
            "CodingMode",
            "SampleRate",
            "CodecProfile",
            "RateControlMode",
        ],
    )?;
    expect(aac, &aat, "CodecProfile", &["LC"])?;
    expect(aac, &aat, "RateControlMode", &["CBR"])?;
    expect(
        aac,
        &aat,
        "CodingMode",
        &["CODING_MODE_1_0", "CODING_MODE_2_0"],
    )?;
    Ok(json!({
        "codec": "aac",
        "bitrate": number(aac, &aat, "Bitrate")? as u32,
        "channels": if aac.get("CodingMode") == Some(&json!("CODING_MODE_1_0")) { 1 } else { 2 },
        "sample_rate": number(aac, &aat, "SampleRate")? as u32,
    }))
}

fn frame_capture(o: &Value, at: &At, folder: &str) -> Result<Value, CloudError> {
    let o = object(
        o,
        at,
        &[
            "NameModifier",
            "ContainerSettings",
            "VideoDescription",
            "Extension",
        ],
    )?;
    if string(o, at, "NameModifier")? != "_thumb" {
        return Err(err(
            &at.key("NameModifier"),
            "mpe names frame captures `_thumb`",
        ));
    }
    let vat = at.key("VideoDescription");
    let vd = object(
        get(o, at, "VideoDescription")?,
        &vat,
        &["Width", "Height", "CodecSettings"],
    )?;
    let cat = vat.key("CodecSettings");
    let cs = object(
        get(vd, &vat, "CodecSettings")?,
        &cat,
        &["Codec", "FrameCaptureSettings"],
    )?;
    expect(cs, &cat, "Codec", &["FRAME_CAPTURE"])?;
    let fat = cat.key("FrameCaptureSettings");
    let fc = object(
        get(cs, &cat, "FrameCaptureSettings")?,
        &fat,
        &[
            "FramerateNumerator",
            "FramerateDenominator",
            "MaxCaptures",
            "Quality",
        ],
    )?;
    let num = number(fc, &fat, "FramerateNumerator")?;
    let den = number(fc, &fat, "FramerateDenominator")?;
    let mut t = json!({
        "destination": folder,
        "interval_seconds": den / num.max(1.0),
        "format": "jpeg",
        "quality": fc.get("Quality").and_then(Value::as_u64).unwrap_or(80),
    });
    if let Some(m) = fc.get("MaxCaptures") {
        t["max_captures"] = m.clone();
    }
    for k in ["Width", "Height"] {
        if let Some(v) = vd.get(k) {
            t[k.to_ascii_lowercase()] = v.clone();
        }
    }
    Ok(t)
}
