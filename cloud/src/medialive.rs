//! A MediaLive channel's `EncoderSettings` rendered from a profile's ladder: one video
//! description per rung, the audio encoded once, one MediaPackage v2 output group.
//!
//! MediaLive learns its input only once the channel runs, so the ladder is planned for a
//! nominal source ([`nominal_source`]) with the same rung rules as an upload: no
//! upscaling, the source-height rung where the profile asks for it.

use profiles::{MediaInfo, Plan, Profile};
use serde_json::{json, Map, Value};

use crate::error::CloudError;

/// The name of the one audio description, and of the audio group its output forms.
pub const AUDIO: &str = "audio";

/// The input selector every description reads: MediaLive's default selector when an
/// input attachment names none.
const AUDIO_SELECTOR: &str = "default";

/// The regions that offer both MediaLive and MediaPackage v2, from botocore's endpoint
/// data (`cloud/tests/medialive.rs` holds this list to botocore's).
pub const REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
];

/// Whether a live channel can be made in `region`: a clear refusal where MediaLive or
/// MediaPackage v2 is not offered.
pub fn check_region(region: &str) -> Result<(), CloudError> {
    if REGIONS.contains(&region) {
        return Ok(());
    }
    Err(CloudError::NotInRegion {
        service: "MediaLive with MediaPackage v2".into(),
        region: region.to_string(),
        regions: REGIONS.join(", "),
    })
}

/// The source a live channel is planned for: `width` x `height` at `frame_rate`, square
/// pixels, stereo audio at 48 kHz ([`MediaInfo::nominal`]).
pub fn nominal_source(width: u32, height: u32, frame_rate: [u32; 2]) -> MediaInfo {
    let mut m = MediaInfo::nominal(width, height, frame_rate);
    m.path = "live".into();
    m.container = "live".into();
    // A live event has no end; a day stands in for it (the ladder does not depend on it).
    m.duration = 86_400.0;
    m
}

/// The channel's `EncoderSettings` for `plan` (planned from `profile`), its one output
/// group sending to the MediaPackage v2 destination `destination` (a `Destinations[].Id`).
pub fn encoder_settings(
    profile: &Profile,
    plan: &Plan,
    destination: &str,
) -> Result<Value, CloudError> {
    refuse_what_live_cannot(profile, plan)?;
    let videos: Vec<Value> = plan
        .renditions
        .iter()
        .map(|r| video_description(profile, plan, r))
        .collect();
    let mut outputs: Vec<Value> = plan
        .renditions
        .iter()
        .map(|r| {
            json!({
                "OutputName": r.name,
                "VideoDescriptionName": r.name,
                "OutputSettings": { "MediaPackageOutputSettings": {
                    "MediaPackageV2DestinationSettings": { "AudioRenditionSets": AUDIO },
                } },
            })
        })
        .collect();
    let mut audios = Vec::new();
    if let Some(a) = &plan.audio {
        audios.push(json!({
            "Name": AUDIO,
            "AudioSelectorName": AUDIO_SELECTOR,
            "CodecSettings": { "AacSettings": {
                "Bitrate": a.bitrate,
                "CodingMode": if a.channels == 1 { "CODING_MODE_1_0" } else { "CODING_MODE_2_0" },
                "SampleRate": a.sample_rate,
                "Profile": "LC",
                "RateControlMode": "CBR",
                "RawFormat": "NONE",
                "Spec": "MPEG4",
                "InputType": "NORMAL",
            } },
        }));
        // Audio encoded once, in an output of its own that every rung's variant names.
        outputs.push(json!({
            "OutputName": AUDIO,
            "AudioDescriptionNames": [AUDIO],
            "OutputSettings": { "MediaPackageOutputSettings": {
                "MediaPackageV2DestinationSettings": {
                    "AudioGroupId": AUDIO,
                    "HlsAutoSelect": "YES",
                    "HlsDefault": "YES",
                },
            } },
        }));
    }
    Ok(json!({
        // The system clock: segments and keyframes fall on the wall-clock grid.
        "TimecodeConfig": { "Source": "SYSTEMCLOCK" },
        "VideoDescriptions": videos,
        "AudioDescriptions": audios,
        "OutputGroups": [{
            "Name": "mediapackage",
            "OutputGroupSettings": { "MediaPackageGroupSettings": {
                "Destination": { "DestinationRefId": destination },
                "MediapackageV2GroupSettings": {
                    "SegmentLength": (plan.segment_seconds * 1000.0).round() as i64,
                    "SegmentLengthUnits": "MILLISECONDS",
                },
            } },
            "Outputs": outputs,
        }],
    }))
}

/// What a live channel cannot carry from the profile, named by field.
fn refuse_what_live_cannot(profile: &Profile, plan: &Plan) -> Result<(), CloudError> {
    let refuse = |field: &str, reason: &str| CloudError::Unsupported {
        profile: profile.name.clone(),
        field: field.to_string(),
        reason: reason.to_string(),
    };
    if !plan.audio_renditions.is_empty() {
        return Err(refuse(
            "audio_renditions",
            "the live channel encodes one audio rendition",
        ));
    }
    if let Some(r) = plan.renditions.iter().find(|r| r.audio.is_some()) {
        return Err(refuse(
            &format!("renditions.{}.audio", r.name),
            "the live channel shares one audio encode between every rung",
        ));
    }
    if plan.renditions.iter().any(|r| r.placement.is_some()) {
        return Err(refuse(
            "renditions.size",
            "MediaLive scales to the rung's size; it places no picture in a box",
        ));
    }
    if profile.video.gop_frames.is_some() {
        return Err(refuse(
            "video.gop_frames",
            "live keyframes follow the wall clock: give gop_seconds",
        ));
    }
    Ok(())
}

fn video_description(profile: &Profile, plan: &Plan, r: &profiles::PlannedRendition) -> Value {
    let v = &profile.video;
    let mut h = Map::new();
    let rate = crate::model::tuning::rate_of(v, r.bitrate, r.max_bitrate);
    rate.set_in(&mut h);
    let mut set = |k: &str, val: Value| {
        h.insert(k.to_string(), val);
    };
    if let Some(level) = rate.qvbr_level {
        set("QvbrQualityLevel", json!(level));
    }
    set("BufSize", json!(r.buffer_size));
    set(
        "Profile",
        json!(crate::model::tuning::h264_profile(v.profile)),
    );
    set("Level", json!("H264_LEVEL_AUTO"));
    set("GopSize", json!(plan.gop_seconds));
    set("GopSizeUnits", json!("SECONDS"));
    set("GopClosedCadence", json!(1));
    // A keyframe only where the grid puts one, so every rung's segments line up.
    set("SceneChangeDetect", json!("DISABLED"));
    set("ScanType", json!("PROGRESSIVE"));
    set("ParControl", json!("SPECIFIED"));
    set("ParNumerator", json!(1));
    set("ParDenominator", json!(1));
    set("FramerateControl", json!("SPECIFIED"));
    set("FramerateNumerator", json!(plan.frame_rate[0]));
    set("FramerateDenominator", json!(plan.frame_rate[1]));
    let t = &v.tuning;
    if let Some(b) = t.b_frames {
        set("GopNumBFrames", json!(b));
    }
    if let Some(n) = t.ref_frames {
        set("NumRefFrames", json!(n));
    }
    if t.cavlc {
        set("EntropyEncoding", json!("CAVLC"));
    }
    json!({
        "Name": r.name,
        "Width": r.width,
        "Height": r.height,
        "ScalingBehavior": "DEFAULT",
        "RespondToAfd": "NONE",
        "CodecSettings": { "H264Settings": Value::Object(h) },
    })
}
