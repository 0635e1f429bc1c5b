//! Playback in real players: hls.js and dash.js in headless Chromium play mpe's output,
//! served from 127.0.0.1, for at least 3 s, with every rung selectable and no error.
//! The harness is tests/player/play.mjs (see tests/player/README.md).

use std::path::Path;
use std::process::Command;

use crate::util;

pub(crate) fn play(root: &Path, manifest: &str, kind: &str) -> serde_json::Value {
    play_for(root, manifest, kind, 3.0)
}

/// [`play`] for `seconds` (or to the end of a shorter presentation).
pub(crate) fn play_for(root: &Path, manifest: &str, kind: &str, seconds: f64) -> serde_json::Value {
    let out = Command::new("node")
        .arg(util::repo().join("tests/player/play.mjs"))
        .args([
            "--root",
            root.to_str().expect("utf-8"),
            "--manifest",
            manifest,
            "--kind",
            kind,
            "--seconds",
            &seconds.to_string(),
        ])
        .output()
        .expect("run node tests/player/play.mjs (run tests/player/setup.sh first)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "player printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && v["ok"] == true,
        "{kind} playback of {manifest} failed: {v}"
    );
    // At least `seconds` of playback, or playback up to (nearly) the end of a shorter
    // presentation: the player starts at the first frame's time, not always at zero.
    let duration = v["duration_s"].as_f64().unwrap_or(0.0);
    let start = v["start_s"].as_f64().unwrap_or(0.0);
    let advanced = v["advanced_s"].as_f64().unwrap_or(0.0);
    assert!(
        advanced >= seconds - 0.05 || start + advanced >= duration - 0.2,
        "played too little: {v}"
    );
    v
}

pub(crate) fn heights(v: &serde_json::Value) -> Vec<u64> {
    let mut h: Vec<u64> = v["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .inspect(|l| assert_eq!(l["played"], true, "level not played: {l}"))
        .map(|l| l["height"].as_u64().expect("height"))
        .collect();
    h.sort_unstable_by(|a, b| b.cmp(a));
    h
}

#[test]
fn cmaf_output_plays_in_hls_js_and_dash_js() {
    let out = util::work_dir("play-cmaf");
    let asset = util::transcode(&util::fixture("sd_4x3"), "default", &out);
    let v = play(&asset, "cmaf/sd_4x3.m3u8", "hls");
    assert_eq!(heights(&v), [720, 480, 360]);
    let v = play(&asset, "cmaf/sd_4x3.mpd", "dash");
    assert_eq!(heights(&v), [720, 480, 360]);
}

#[test]
fn ts_hls_and_dash_iso_outputs_play() {
    let out = util::work_dir("play-mobile");
    let asset = util::transcode(&util::fixture("sd_4x3"), "mobile", &out);
    let v = play(&asset, "hls/sd_4x3.m3u8", "hls");
    assert_eq!(heights(&v), [720, 480, 360, 240]);
    let v = play(&asset, "dash/sd_4x3.mpd", "dash");
    assert_eq!(heights(&v), [720, 480, 360, 240]);
}

#[test]
fn awkward_sources_play_in_both_players() {
    // Frame rates and shapes that move timestamps around: 29.97, 60 -> capped, variable,
    // portrait, rotated, and no audio at all.
    for (fixture, rung) in [
        ("ntsc_2997", 360),
        ("fps60", 360),
        ("vfr", 360),
        ("portrait", 1080),
        ("rotated", 360),
        ("no_audio", 360),
    ] {
        let out = util::work_dir(&format!("play-{fixture}"));
        let asset = util::transcode(&util::fixture(fixture), "default", &out);
        for (manifest, kind) in [("m3u8", "hls"), ("mpd", "dash")] {
            let v = play(&asset, &format!("cmaf/{fixture}.{manifest}"), kind);
            let heights = heights(&v);
            assert!(!heights.is_empty(), "{fixture} {kind}: {v}");
            let short = v["levels"]
                .as_array()
                .and_then(|l| l.first())
                .map(|l| {
                    l["width"]
                        .as_u64()
                        .unwrap_or(0)
                        .min(l["height"].as_u64().unwrap_or(0))
                })
                .unwrap_or(0);
            assert!(short <= rung, "{fixture} {kind}: {v}");
        }
    }
}
