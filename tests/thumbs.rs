//! `mpe thumbs`: the exact frame at each time (judged against FFmpeg's accurate seek), the
//! counts and sizes asked for, correct colour, and clear errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util;

/// Runs `mpe thumbs SRC ARGS -o OUT --json` and returns the index it printed.
fn thumbs(src: &Path, out: &Path, args: &[&str]) -> Value {
    let mut all = vec!["thumbs", src.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().expect("utf-8"), "--json"]);
    let o = util::mpe(&all);
    assert!(
        o.status.success(),
        "mpe thumbs {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let index: Value = serde_json::from_slice(&o.stdout).expect("index JSON on stdout");
    // The index on disk is the one printed, and names exactly the images on disk.
    let stem = src.file_stem().expect("stem").to_string_lossy().to_string();
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("{stem}_thumbs.json"))).expect("index file"),
    )
    .expect("index file JSON");
    assert_eq!(on_disk, index);
    let mut files: Vec<String> = index["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| {
            let file = t["file"].as_str().expect("file").to_string();
            let bytes = std::fs::metadata(out.join(&file)).expect("image").len();
            assert_eq!(t["bytes"].as_u64(), Some(bytes), "{file}");
            let (w, h) = util::dimensions(&out.join(&file));
            assert_eq!(
                (t["width"].as_u64(), t["height"].as_u64()),
                (Some(w.into()), Some(h.into()))
            );
            file
        })
        .collect();
    files.push(format!("{stem}_thumbs.json"));
    files.sort();
    assert_eq!(
        util::entries(out),
        files,
        "images and index only, no temp files"
    );
    index
}

fn list(index: &Value, key: &str) -> Vec<f64> {
    index["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| util::num(&t[key]))
        .collect()
}

fn image(out: &Path, index: &Value, i: usize) -> PathBuf {
    out.join(index["thumbnails"][i]["file"].as_str().expect("file"))
}

#[test]
fn each_thumbnail_is_the_frame_ffmpeg_shows_at_that_time() {
    let src = util::fixture("counter");
    let out = util::work_dir("thumbs-exact");
    // 25 fps, keyframes every 2 s, B-frames. 1.24 s is mid-GOP, 7.96 s the last frame;
    // 2.01 s falls inside the frame that starts at 2.00 s, and `end` shows the last frame.
    let index = thumbs(
        &src,
        &out,
        &["--at", "0,1.24,2.01,5.52,7.96,end", "--format", "png"],
    );
    let frame_times = list(&index, "frame_time");
    assert_eq!(list(&index, "time"), [0.0, 1.24, 2.01, 5.52, 7.96, 8.0]);
    let expected = [0.0, 1.24, 2.0, 5.52, 7.96, 7.96];
    for (i, t) in expected.iter().enumerate() {
        assert!((frame_times[i] - t).abs() < 1e-6, "{frame_times:?}");
        let reference = out.join(format!("ref-{i}.png"));
        util::ffmpeg_frame(&src, *t, &reference);
        let db = util::psnr(&image(&out, &index, i), &reference);
        assert!(
            db > 35.0,
            "thumbnail at {t} s: PSNR {db:.1} dB against ffmpeg"
        );
    }
    // The comparison can fail: the frame next to the right one is far off.
    let neighbour = out.join("neighbour.png");
    util::ffmpeg_frame(&src, 1.28, &neighbour);
    let db = util::psnr(&image(&out, &index, 1), &neighbour);
    assert!(
        db < 30.0,
        "adjacent frames too alike for this test: {db:.1} dB"
    );
}

#[test]
fn fast_mode_takes_the_keyframe_before_each_time() {
    let src = util::fixture("counter");
    let out = util::work_dir("thumbs-fast");
    let index = thumbs(
        &src,
        &out,
        &["--at", "1.5,3.9,6.2", "--fast", "--format", "png"],
    );
    assert_eq!(list(&index, "frame_time"), [0.0, 2.0, 6.0]);
    assert_eq!(index["fast"], Value::Bool(true));
    let reference = out.join("ref.png");
    util::ffmpeg_frame(&src, 2.0, &reference);
    assert!(util::psnr(&image(&out, &index, 1), &reference) > 35.0);
}

#[test]
fn every_count_and_at_give_the_times_asked_for() {
    let src = util::fixture("counter");
    let out = util::work_dir("thumbs-every");
    let every = thumbs(
        &src,
        &out.join("every"),
        &["--every", "2s", "--width", "160"],
    );
    assert_eq!(list(&every, "time"), [0.0, 2.0, 4.0, 6.0]);
    let count = thumbs(
        &src,
        &out.join("count"),
        &["--count", "4", "--height", "60"],
    );
    assert_eq!(list(&count, "time"), [1.0, 3.0, 5.0, 7.0]);
    let at = thumbs(
        &src,
        &out.join("at"),
        &["--at", "00:00:03,25%,end-1s,3", "--format", "webp"],
    );
    // Sorted, repeats dropped, numbered in time order as MediaConvert numbers captures.
    assert_eq!(list(&at, "time"), [2.0, 3.0, 7.0]);
    for (index, size, ext) in [
        (&every, (160, 120), "jpg"),
        (&count, (80, 60), "jpg"),
        (&at, (320, 240), "webp"),
    ] {
        for (i, t) in index["thumbnails"]
            .as_array()
            .expect("list")
            .iter()
            .enumerate()
        {
            assert_eq!(t["file"], format!("counter_thumb.{i:07}.{ext}"));
            assert_eq!(
                (t["width"].as_u64(), t["height"].as_u64()),
                (Some(size.0), Some(size.1))
            );
        }
    }
}

#[test]
fn portrait_and_rotated_sources_give_portrait_thumbnails() {
    let out = util::work_dir("thumbs-portrait");
    let portrait = thumbs(
        &util::fixture("portrait"),
        &out.join("p"),
        &["--at", "1", "--width", "180"],
    );
    assert_eq!(
        util::dimensions(&image(&out.join("p"), &portrait, 0)),
        (180, 320)
    );
    // Coded 640x360 with a 90 degree display matrix: shown 360x640.
    let rotated = thumbs(
        &util::fixture("rotated"),
        &out.join("r"),
        &["--at", "1", "--height", "320"],
    );
    assert_eq!(
        util::dimensions(&image(&out.join("r"), &rotated, 0)),
        (180, 320)
    );
}

#[test]
fn colours_come_back_for_bt709_limited_and_bt601_full_range_sources() {
    // Both fixtures hold the flat colour RGB (192, 48, 32); reading either with the other's
    // matrix or range is off by more than 10 in some channel.
    for name in ["color_bt709", "color_bt601_full"] {
        let out = util::work_dir(name);
        let index = thumbs(
            &util::fixture(name),
            &out,
            &["--at", "0.5", "--format", "png"],
        );
        let px = util::pixel(&image(&out, &index, 0), 160, 120);
        for (got, want) in px.iter().zip([192u8, 48, 32]) {
            assert!(
                got.abs_diff(want) <= 4,
                "{name}: {px:?} is not (192, 48, 32)"
            );
        }
    }
}

/// Runs `mpe thumbs` expecting failure: one line naming `needle`, exit 1 or 2, no index.
fn refused(src: &Path, args: &[&str], needle: &str) {
    let out = util::work_dir("thumbs-bad");
    let mut all = vec!["thumbs", src.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().expect("utf-8")]);
    let o = util::mpe(&all);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(1 | 2)), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.contains(needle), "{args:?}: {stderr}");
    assert!(util::entries(&out).is_empty(), "{:?}", util::entries(&out));
}

#[test]
fn bad_times_are_named_in_the_error() {
    let src = util::fixture("counter");
    refused(
        &src,
        &["--at", "9"],
        r#"time "9": past the end (duration 8.000 s)"#,
    );
    refused(&src, &["--at", "3,end-20s"], r#"time "end-20s""#);
    refused(&src, &["--at", "5x"], r#"time "5x""#);
    refused(&src, &["--at", "-1"], r#"time "-1""#);
    refused(&src, &["--at", "101%"], r#"time "101%""#);
    refused(&src, &["--every", "0"], "--every");
    refused(&src, &["--count", "0"], "--count must be at least 1");
    refused(&src, &[], "give --at, --every or --count");
}

#[test]
fn bad_sources_are_named_in_the_error() {
    let missing = util::repo().join("target/no-such-file.mp4");
    refused(&missing, &["--at", "1"], "no such file");
    refused(&util::fixture("empty"), &["--at", "1"], "file is empty");
    refused(
        &util::fixture("not_video"),
        &["--at", "1"],
        "not a media file",
    );
    refused(
        &util::fixture("audio_only"),
        &["--at", "1"],
        "no video stream",
    );
}
