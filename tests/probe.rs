//! `mpe probe` against ffprobe's view of the same files.

use crate::util::{self, num};

fn probe_json(name: &str) -> (serde_json::Value, serde_json::Value) {
    let src = util::fixture(name);
    let o = util::mpe(&["probe", "--json", src.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mine: serde_json::Value = serde_json::from_slice(&o.stdout).expect("probe JSON");
    (mine, util::ffprobe(&src))
}

#[test]
fn probe_json_matches_ffprobe() {
    for name in [
        "hd_16x9",
        "ntsc_2997",
        "surround",
        "ten_bit",
        "interlaced",
        "rotated",
        "vfr",
    ] {
        let (mine, theirs) = probe_json(name);
        let fv = util::stream(&theirs, "video").expect("video");
        let v = &mine["video"][0];
        assert_eq!(v["width"], num(&fv["width"]) as u64, "{name}");
        assert_eq!(v["height"], num(&fv["height"]) as u64, "{name}");
        assert_eq!(v["codec"], fv["codec_name"], "{name}");
        assert_eq!(v["profile"], fv["profile"], "{name}");
        assert_eq!(v["pixel_format"], fv["pix_fmt"], "{name}");
        let (n, d) = fv["avg_frame_rate"]
            .as_str()
            .and_then(|r| r.split_once('/'))
            .expect("rate");
        let fps: f64 = n.parse::<f64>().expect("n") / d.parse::<f64>().expect("d");
        let mine_fps =
            v["frame_rate"][0].as_f64().expect("num") / v["frame_rate"][1].as_f64().expect("den");
        assert!(
            (fps - mine_fps).abs() < 1e-6,
            "{name}: fps {mine_fps} vs {fps}"
        );
        assert!(
            (mine["duration"].as_f64().expect("duration") - num(&theirs["format"]["duration"]))
                .abs()
                < 1e-3
        );
        assert_eq!(mine["size"], num(&theirs["format"]["size"]) as u64);
        if let Some(fa) = util::stream(&theirs, "audio") {
            let a = &mine["audio"][0];
            assert_eq!(a["channels"], num(&fa["channels"]) as u64, "{name}");
            assert_eq!(a["sample_rate"], num(&fa["sample_rate"]) as u64, "{name}");
            assert_eq!(a["channel_layout"], fa["channel_layout"], "{name}");
        }
        let expected_field = fv["field_order"].as_str().map(str::to_string);
        assert_eq!(
            v["field_order"].as_str().map(str::to_string),
            expected_field,
            "{name}"
        );
    }
}

#[test]
fn probe_reports_what_matters() {
    let (rot, _) = probe_json("rotated");
    assert_eq!(rot["video"][0]["rotation"], 90);
    let (ten, _) = probe_json("ten_bit");
    assert_eq!(ten["video"][0]["bit_depth"], 10);
    let (vfr, _) = probe_json("vfr");
    assert_eq!(vfr["video"][0]["variable_frame_rate"], true);
    let (hd, _) = probe_json("hd_16x9");
    assert_eq!(hd["video"][0]["variable_frame_rate"], false);
    assert_eq!(hd["video"][0]["display_aspect"], serde_json::json!([16, 9]));
    let (na, _) = probe_json("no_audio");
    assert_eq!(na["audio"], serde_json::json!([]));
    let (ao, _) = probe_json("audio_only");
    assert_eq!(ao["video"], serde_json::json!([]));
    assert_eq!(ao["audio"][0]["codec"], "aac");
}

#[test]
fn probe_text_is_human_readable() {
    let src = util::fixture("surround");
    let o = util::mpe(&["probe", src.to_str().expect("utf-8")]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("640x360"), "{text}");
    assert!(text.contains("6 ch (5.1)"), "{text}");
}

/// The watch folder's "is it complete yet" check: every whole fixture, of every container
/// (MP4, MOV, MKV, MPEG-TS, odd timelines), reads as complete, so none waits for
/// `--wait-incomplete`; a cut MP4 with its index first, and one without its index, do
/// not.
#[test]
fn whole_files_read_as_complete_and_cut_ones_do_not() {
    for name in [
        "hd_16x9",
        "hd_720p",
        "sd_4x3",
        "portrait",
        "square",
        "odd_size",
        "ntsc_2997",
        "no_audio",
        "short",
        "rotated",
        "surround",
        "fps60",
        "ten_bit",
        "interlaced",
        "vfr",
        "ntsc_long",
        "mkv_long_audio",
        "spliced_ts",
        "layout_change_ts",
        "late_audio",
        "bt709",
        "counter",
        "color_bt709",
        "color_bt601_full",
        "web_30",
        "timecoded",
        "two_tracks",
        "mono_pair",
        "unsupported_codec",
    ] {
        let src = util::fixture(name);
        if let Err(e) = engine::probe::complete(&src) {
            panic!("{name}: {e}");
        }
    }
    for name in ["truncated", "truncated_moov_end", "empty", "not_video"] {
        assert!(
            engine::probe::complete(&util::fixture(name)).is_err(),
            "{name}"
        );
    }
}
