//! The live channel's encoder settings: the profile's ladder rung by rung, and a
//! CreateChannel request around them that botocore's MediaLive model accepts.

mod common;

use std::path::Path;
use std::process::Command;

use common::{python, python_json, root};
use mpe_cloud::medialive::{check_region, encoder_settings, nominal_source, AUDIO, REGIONS};
use mpe_cloud::CloudError;
use profiles::Profile;
use serde_json::{json, Value};

fn shipped(name: &str) -> Profile {
    Profile::load(name).expect("shipped profile")
}

/// botocore's verdict on a CreateChannel request: (accepted, report).
fn judge(request: &Value, dir: &Path) -> (bool, String) {
    let file = dir.join("CreateChannel.json");
    std::fs::write(&file, request.to_string()).expect("write");
    let out = Command::new(python())
        .arg(root().join("tests/validate_mediaconvert.py"))
        .args(["--service", "medialive", "CreateChannel"])
        .arg(&file)
        .output()
        .expect("run the botocore validator");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn channel(settings: &Value) -> Value {
    json!({
        "Name": "mpe-live-test",
        "ChannelClass": "SINGLE_PIPELINE",
        "RoleArn": "arn:aws:iam::123456789012:role/mpe-live-test",
        "InputSpecification": { "Codec": "AVC", "MaximumBitrate": "MAX_20_MBPS", "Resolution": "HD" },
        "Destinations": [{
            "Id": "mediapackage",
            "MediaPackageSettings": [{ "ChannelGroup": "mpe-live", "ChannelName": "mpe-live-test" }],
        }],
        "EncoderSettings": settings,
    })
}

#[test]
fn the_channel_encodes_the_profiles_ladder_rung_by_rung() {
    let dir = std::env::temp_dir().join(format!("mpe-medialive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, source) in [
        ("default", nominal_source(1920, 1080, [30, 1])),
        ("mobile", nominal_source(1920, 1080, [60, 1])),
        // A 720p input: no rung above it (never upscaled).
        ("default", nominal_source(1280, 720, [25, 1])),
    ] {
        let profile = shipped(name);
        let plan = profiles::plan::plan(&profile, &source).expect("plan");
        let es = encoder_settings(&profile, &plan, "mediapackage").expect("settings");
        let (ok, report) = judge(&channel(&es), &dir);
        assert!(ok, "{name}: {report}");

        let videos = es["VideoDescriptions"].as_array().expect("videos");
        assert_eq!(videos.len(), plan.renditions.len(), "{name}");
        assert!(
            plan.renditions
                .iter()
                .all(|r| r.height <= source.video[0].height),
            "{name}: never upscaled"
        );
        for (v, r) in videos.iter().zip(&plan.renditions) {
            let h = &v["CodecSettings"]["H264Settings"];
            assert_eq!(v["Name"], r.name.as_str());
            assert_eq!(
                (v["Width"].as_u64(), v["Height"].as_u64()),
                (Some(r.width.into()), Some(r.height.into())),
                "{name} {}",
                r.name
            );
            assert_eq!(h["Bitrate"], r.bitrate, "{name} {}", r.name);
            assert_eq!(h["MaxBitrate"], r.max_bitrate, "{name} {}", r.name);
            assert_eq!(h["BufSize"], r.buffer_size, "{name} {}", r.name);
            assert_eq!(h["GopSize"], plan.gop_seconds, "{name}");
            assert_eq!(h["GopSizeUnits"], "SECONDS");
            assert_eq!(
                [&h["FramerateNumerator"], &h["FramerateDenominator"]],
                [&json!(plan.frame_rate[0]), &json!(plan.frame_rate[1])],
                "{name}: the profile's frame-rate cap"
            );
        }
        // The audio encoded once, in an output of its own every rung's variant names.
        let a = plan.audio.as_ref().expect("audio");
        let aac = &es["AudioDescriptions"][0]["CodecSettings"]["AacSettings"];
        assert_eq!(aac["Bitrate"], a.bitrate);
        assert_eq!(aac["SampleRate"], a.sample_rate);
        assert_eq!(es["AudioDescriptions"].as_array().map(Vec::len), Some(1));
        let group = &es["OutputGroups"][0];
        let outputs = group["Outputs"].as_array().expect("outputs");
        assert_eq!(outputs.len(), plan.renditions.len() + 1);
        let audio_only: Vec<&Value> = outputs
            .iter()
            .filter(|o| o.get("AudioDescriptionNames").is_some())
            .collect();
        assert_eq!(audio_only.len(), 1, "{group:#}");
        assert_eq!(audio_only[0]["AudioDescriptionNames"], json!([AUDIO]));
        assert_eq!(
            group["OutputGroupSettings"]["MediaPackageGroupSettings"]
                ["MediapackageV2GroupSettings"]["SegmentLength"],
            (plan.segment_seconds * 1000.0).round() as i64
        );
    }
}

#[test]
fn the_judge_refuses_a_channel_medialive_would_refuse() {
    let dir = std::env::temp_dir().join(format!("mpe-medialive-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let profile = shipped("default");
    let plan = profiles::plan::plan(&profile, &nominal_source(1920, 1080, [30, 1])).expect("plan");
    let mut es = encoder_settings(&profile, &plan, "mediapackage").expect("settings");
    es["VideoDescriptions"][0]["CodecSettings"]["H264Settings"]["Profile"] = json!("HIGHEST");
    let (ok, report) = judge(&channel(&es), &dir);
    assert!(!ok && report.contains("HIGHEST"), "{report}");
    es.as_object_mut().map(|m| m.remove("TimecodeConfig"));
    let (ok, report) = judge(&channel(&es), &dir);
    assert!(!ok && report.contains("TimecodeConfig"), "{report}");
}

#[test]
fn what_a_live_channel_cannot_carry_is_refused_by_field() {
    let mut profile = shipped("default");
    profile.video.gop_frames = Some(48);
    let plan = profiles::plan::plan(&profile, &nominal_source(1920, 1080, [24, 1])).expect("plan");
    match encoder_settings(&profile, &plan, "mediapackage") {
        Err(CloudError::Unsupported { field, .. }) => assert_eq!(field, "video.gop_frames"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn live_regions_are_botocores() {
    let botocore: Vec<String> = python_json(
        &python(),
        "import botocore.session, json\n\
         s = botocore.session.get_session()\n\
         both = set(s.get_available_regions('medialive')) & set(s.get_available_regions('mediapackagev2'))\n\
         print(json.dumps(sorted(both)))",
        &[],
    );
    assert_eq!(
        REGIONS,
        botocore.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(check_region("eu-west-3").is_ok());
    let e = check_region("af-south-1").expect_err("no MediaLive in Cape Town");
    assert!(
        e.to_string()
            .starts_with("MediaLive with MediaPackage v2 is not offered in af-south-1"),
        "{e}"
    );
}
