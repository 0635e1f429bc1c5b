use super::*;
use crate::wire::to_pascal;
use profiles::{plan, Profile};
use serde_json::json;

/// The ProbeResponse in `cloud/tests/probe/`, written from MediaConvert's API reference
/// as the service sends it (camelCase): a phone's portrait HEVC recording (coded
/// 1920x1080, rotated 90 degrees, HLG) and a 720p screen recording.
fn response() -> Value {
    let wire: Value =
        serde_json::from_str(include_str!("../../tests/probe/probe-response.json")).expect("JSON");
    to_pascal(&wire)
}

fn result(i: usize) -> ProbeResult {
    ProbeResult::from_json(&response()["ProbeResults"][i]).expect("a ProbeResult")
}

fn sizes(profile: &str, r: &ProbeResult) -> Vec<(u32, u32)> {
    let media = media_info(r, "s3://raw/uploads/a.mov").expect("media facts");
    let p = plan(&Profile::shipped(profile).expect("profile"), &media).expect("plan");
    p.renditions.iter().map(|r| (r.width, r.height)).collect()
}

#[test]
fn a_rotated_phone_recording_plans_portrait_rungs() {
    let r = result(0);
    let media = media_info(&r, "s3://raw/uploads/phone.mov").expect("media facts");
    let v = &media.video[0];
    assert_eq!((v.width, v.height, v.rotation), (1920, 1080, 90));
    assert_eq!(v.display_size(), (1080.0, 1920.0));
    assert_eq!((v.codec.as_str(), v.bit_depth), ("hevc", 10));
    assert_eq!(v.pixel_format, "yuv420p10le");
    assert_eq!(v.color_transfer.as_deref(), Some("arib-std-b67"));
    assert_eq!(v.color_primaries.as_deref(), Some("bt2020"));
    assert_eq!(media.audio[0].channels, 2);
    assert_eq!((media.audio[0].index, media.subtitles[0].index), (1, 2));
    assert_eq!(media.size, 26351644);
    assert_eq!(
        sizes("default", &r),
        [(1080, 1920), (720, 1280), (480, 854), (360, 640)]
    );
    assert_eq!(sizes("mobile", &r)[0], (720, 1280));
}

#[test]
fn a_720p_recording_is_never_upscaled() {
    let r = result(1);
    assert_eq!(sizes("default", &r), [(1280, 720), (854, 480), (640, 360)]);
    let media = media_info(&r, "s3://raw/uploads/screen.mp4").expect("media facts");
    let p = plan(&Profile::shipped("default").expect("profile"), &media).expect("plan");
    assert_eq!(p.frame_rate, [25, 1]);
    assert_eq!(p.duration, 95.04);
    assert_eq!(p.audio.as_ref().map(|a| a.channels), Some(2));
    let thumbs = p.thumbnails.expect("thumbnails");
    assert_eq!(thumbs.times.len(), 10, "every 10 s of 95 s");
}

/// (what is missing, how to remove it, the error's words).
type Case = (&'static str, fn(&mut Value), &'static str);

#[test]
fn missing_facts_are_named() {
    let base = response()["ProbeResults"][0].clone();
    let cases: [Case; 5] = [
        (
            "no frame rate",
            |v| {
                let p = &mut v["Container"]["Tracks"][0]["VideoProperties"];
                p.as_object_mut().map(|m| m.remove("FrameRate"));
                p["CodecMetadata"]
                    .as_object_mut()
                    .map(|m| m.remove("CodedFrameRate"));
            },
            "Container.Tracks[0].VideoProperties.FrameRate: missing",
        ),
        (
            "no width",
            |v| {
                let p = &mut v["Container"]["Tracks"][0]["VideoProperties"];
                p.as_object_mut().map(|m| m.remove("Width"));
                p["CodecMetadata"]
                    .as_object_mut()
                    .map(|m| m.remove("Width"));
            },
            "Container.Tracks[0].VideoProperties.Width: missing",
        ),
        (
            "no channels",
            |v| {
                v["Container"]["Tracks"][1]["AudioProperties"]
                    .as_object_mut()
                    .map(|m| m.remove("Channels"));
            },
            "Container.Tracks[1].AudioProperties.Channels: missing",
        ),
        (
            "no duration",
            |v| {
                v["Container"].as_object_mut().map(|m| m.remove("Duration"));
                for t in v["Container"]["Tracks"].as_array_mut().expect("tracks") {
                    t.as_object_mut().map(|m| m.remove("Duration"));
                }
            },
            "Container.Duration: missing",
        ),
        (
            "no container",
            |v| {
                v.as_object_mut().map(|m| m.remove("Container"));
            },
            "Container: missing",
        ),
    ];
    for (what, edit, needle) in cases {
        let mut doc = base.clone();
        edit(&mut doc);
        let r = ProbeResult::from_json(&doc).expect("still a ProbeResult");
        let e = media_info(&r, "s3://raw/uploads/phone.mov").expect_err(what);
        let text = e.to_string();
        assert!(text.starts_with("s3://raw/uploads/phone.mov: "), "{text}");
        assert!(text.contains(needle), "{what}: {text}");
    }
    // A member of the wrong type is named by its path.
    let mut doc = base;
    doc["Container"]["Tracks"][0]["VideoProperties"]["Width"] = json!("wide");
    let e = ProbeResult::from_json(&doc).expect_err("a string width");
    assert!(
        e.to_string()
            .contains("Container.Tracks[0].VideoProperties.Width"),
        "{e}"
    );
}

#[test]
fn no_video_track_is_the_plans_own_error() {
    let mut doc = response()["ProbeResults"][1].clone();
    let tracks = doc["Container"]["Tracks"].as_array_mut().expect("tracks");
    tracks.remove(0);
    let media = media_info(
        &ProbeResult::from_json(&doc).expect("result"),
        "s3://r/a.m4a",
    )
    .expect("an audio-only file has facts");
    let e = plan(&Profile::shipped("default").expect("profile"), &media).expect_err("no video");
    assert!(e.to_string().contains("no video"), "{e}");
}

#[test]
fn pixel_aspect_comes_from_the_display_aspect_when_only_that_is_given() {
    let mut doc = response()["ProbeResults"][1].clone();
    let p = &mut doc["Container"]["Tracks"][0]["VideoProperties"];
    p["CodecMetadata"]
        .as_object_mut()
        .map(|m| m.remove("SampleAspectRatio"));
    // Anamorphic PAL: 720x576 shown at 16:9.
    p["Width"] = json!(720);
    p["Height"] = json!(576);
    p["CodecMetadata"]["Width"] = json!(720);
    p["CodecMetadata"]["Height"] = json!(576);
    let media = media_info(
        &ProbeResult::from_json(&doc).expect("result"),
        "s3://r/pal.mp4",
    )
    .expect("facts");
    assert_eq!(media.video[0].sample_aspect, [64, 45]);
    assert_eq!(media.video[0].display_aspect, [16, 9]);
}

#[test]
fn engine_facts_survive_the_round_trip_through_a_probe_result() {
    let media = media_info(&result(0), "s3://raw/uploads/phone.mov").expect("facts");
    let back = probe_result(&media, Metadata::default());
    let again = media_info(&back, "s3://raw/uploads/phone.mov").expect("facts");
    let profile = Profile::shipped("default").expect("profile");
    assert_eq!(
        plan(&profile, &media).expect("plan"),
        plan(&profile, &again).expect("plan")
    );
    let json = back.to_json();
    assert!(!json.to_string().contains("null"), "{json}");
    assert_eq!(ProbeResult::from_json(&json).expect("reads back"), back);
}
