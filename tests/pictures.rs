//! What `mpe transcode` makes besides the ladder: thumbnails from its own decode, the
//! preview clip, trick-play sheets with their WebVTT track, and the `metadata.json` record.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::util;

/// A default-ladder profile with every picture section.
fn pictures_profile(dir: &Path) -> std::path::PathBuf {
    util::write_profile(dir, "default", |p| {
        p["thumbnails"] = json!({
            "destination": "thumbnails/", "interval_seconds": 2, "times": ["1.24", "end"],
            "format": "png"
        });
        p["preview"] = json!({
            "destination": "preview/", "start": "25%", "seconds": 3,
            "animated_webp": { "width": 160, "fps": 8 }
        });
        p["trickplay"] = json!({
            "destination": "trickplay/", "interval_seconds": 1, "columns": 3, "rows": 2,
            "width": 80
        });
    })
}

fn record(asset: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(asset.join("metadata.json")).expect("metadata.json"))
        .expect("metadata JSON")
}

#[test]
fn thumbnails_come_from_the_transcode_exact_and_named_as_mediaconvert_names_them() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-thumbs");
    let asset = util::transcode(
        &src,
        pictures_profile(&out).to_str().expect("utf-8"),
        &out.join("o"),
    );
    // Interval captures at 0, 2, 4, 6 (k x 2 < 8 s) plus 1.24 and the end, in time order,
    // numbered from 0.
    let times = [0.0, 1.24, 2.0, 4.0, 6.0, 7.96];
    let names: Vec<String> = util::entries(&asset.join("thumbnails"));
    let expected: Vec<String> = (0..times.len())
        .map(|i| format!("counter_thumb.{i:07}.png"))
        .collect();
    assert_eq!(names, expected);
    for (name, t) in names.iter().zip(times) {
        let thumb = asset.join("thumbnails").join(name);
        assert_eq!(util::dimensions(&thumb), (320, 240));
        let reference = out.join(format!("ref-{t}.png"));
        util::ffmpeg_frame(&src, t, &reference);
        let db = util::psnr(&thumb, &reference);
        assert!(db > 35.0, "{name} (t = {t}): {db:.1} dB against ffmpeg");
    }
    let r = record(&asset);
    let listed: Vec<f64> = r["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| util::num(&t["frame_time"]))
        .collect();
    assert_eq!(listed, times);
}

#[test]
fn preview_clip_has_its_length_size_and_start() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-preview");
    let asset = util::transcode(
        &src,
        pictures_profile(&out).to_str().expect("utf-8"),
        &out.join("o"),
    );
    let clip = asset.join("preview/counter_preview.mp4");
    let probe = util::ffprobe(&clip);
    let video = util::stream(&probe, "video").expect("video");
    assert_eq!(
        (util::num(&video["width"]), util::num(&video["height"])),
        (320.0, 240.0)
    );
    assert!(
        (util::num(&video["duration"]) - 3.0).abs() < 0.05,
        "{video}"
    );
    let audio = util::stream(&probe, "audio").expect("audio in the preview");
    assert!((util::num(&audio["duration"]) - 3.0).abs() < 0.1, "{audio}");
    // It starts at 25% of 8 s: its first frame is the source's frame at 2.0 s, clearly
    // closer to it than to the frame 0.2 s later.
    let first = out.join("first.png");
    util::ffmpeg_frame(&clip, 0.0, &first);
    let (at, after) = (out.join("at.png"), out.join("after.png"));
    util::ffmpeg_frame(&src, 2.0, &at);
    util::ffmpeg_frame(&src, 2.2, &after);
    let (near, far) = (util::psnr(&first, &at), util::psnr(&first, &after));
    assert!(
        near > 28.0 && near > far + 3.0,
        "start: {near:.1} dB at 2.0 s, {far:.1} dB at 2.2 s"
    );
}

#[test]
fn animated_webp_preview_loops_over_the_clip() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-webp");
    let asset = util::transcode(
        &src,
        pictures_profile(&out).to_str().expect("utf-8"),
        &out.join("o"),
    );
    let file = std::fs::File::open(asset.join("preview/counter_preview.webp")).expect("webp");
    let d = image_webp::WebPDecoder::new(std::io::BufReader::new(file)).expect("a WebP file");
    assert!(d.is_animated());
    assert_eq!(d.dimensions(), (160, 120));
    // 3 s at 8 frames a second.
    assert!(
        (23..=25).contains(&d.num_frames()),
        "{} frames",
        d.num_frames()
    );
    assert!(
        d.loop_duration().abs_diff(3000) <= 150,
        "{} ms",
        d.loop_duration()
    );
    assert!(matches!(d.loop_count(), image_webp::LoopCount::Forever));
}

#[test]
fn trickplay_sheets_match_their_webvtt_cues() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-trickplay");
    let asset = util::transcode(
        &src,
        pictures_profile(&out).to_str().expect("utf-8"),
        &out.join("o"),
    );
    let dir = asset.join("trickplay");
    let vtt = std::fs::read_to_string(dir.join("counter_trickplay.vtt")).expect("vtt");
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let mut cues = Vec::new();
    let mut lines = vtt.lines().skip(1).filter(|l| !l.is_empty());
    while let (Some(timing), Some(target)) = (lines.next(), lines.next()) {
        let (a, b) = timing.split_once(" --> ").expect("cue timing");
        let (file, frag) = target.split_once("#xywh=").expect("xywh fragment");
        let xywh: Vec<u32> = frag
            .split(',')
            .map(|v| v.parse().expect("number"))
            .collect();
        cues.push((seconds(a), seconds(b), file.to_string(), xywh));
    }
    // One tile a second over 8 s, 3 x 2 tiles a sheet: 8 cues on 2 sheets.
    assert_eq!(cues.len(), 8);
    let mut sheets: Vec<String> = cues.iter().map(|c| c.2.clone()).collect();
    sheets.dedup();
    assert_eq!(
        sheets,
        ["counter_trickplay_00001.jpg", "counter_trickplay_00002.jpg"]
    );
    let mut files = sheets.clone();
    files.push("counter_trickplay.vtt".into());
    files.sort();
    assert_eq!(util::entries(&dir), files);
    let mut expected_start = 0.0;
    for (i, (start, end, file, xywh)) in cues.iter().enumerate() {
        assert!(
            (start - expected_start).abs() < 1e-3,
            "cue {i} starts at {start}"
        );
        assert!(end > start);
        expected_start = *end;
        let (w, h) = util::dimensions(&dir.join(file));
        assert_eq!((w, h), (3 * 80, 2 * 60), "{file}");
        assert_eq!((xywh[2], xywh[3]), (80, 60));
        assert!(
            xywh[0] + xywh[2] <= w && xywh[1] + xywh[3] <= h,
            "cue {i}: {xywh:?}"
        );
        let slot = (i % 6) as u32;
        assert_eq!(
            (xywh[0], xywh[1]),
            ((slot % 3) * 80, (slot / 3) * 60),
            "cue {i}"
        );
    }
    assert!(
        (expected_start - 8.0).abs() < 0.05,
        "cues end at {expected_start}"
    );
}

fn seconds(ts: &str) -> f64 {
    let parts: Vec<f64> = ts.split(':').map(|p| p.parse().expect("time")).collect();
    parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
}

#[test]
fn metadata_lists_exactly_the_files_on_disk_with_sizes_and_checksums() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-metadata");
    let asset = util::transcode(
        &src,
        pictures_profile(&out).to_str().expect("utf-8"),
        &out.join("o"),
    );
    let r = record(&asset);
    assert_eq!(r["schema"], "mpe.asset/1");
    assert_eq!(r["mpe_version"], env!("CARGO_PKG_VERSION"));
    let files = r["files"].as_array().expect("files");
    let listed: Vec<&str> = files
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    let on_disk: Vec<String> = util::tree(&asset)
        .into_iter()
        .filter(|p| p != "metadata.json")
        .collect();
    assert_eq!(listed, on_disk);
    // Checksums by coreutils' sha256sum, sizes by the file system.
    let sums = Command::new("sha256sum")
        .args(&on_disk)
        .current_dir(&asset)
        .output()
        .expect("run sha256sum");
    let sums = String::from_utf8_lossy(&sums.stdout);
    for (f, line) in files.iter().zip(sums.lines()) {
        let (sum, name) = line.split_once("  ").expect("sha256sum line");
        assert_eq!(f["path"].as_str(), Some(name));
        assert_eq!(f["sha256"].as_str(), Some(sum), "{name}");
        let bytes = std::fs::metadata(asset.join(name)).expect("file").len();
        assert_eq!(f["bytes"].as_u64(), Some(bytes), "{name}");
    }
    // Media facts agree with ffprobe.
    let mp4 = files
        .iter()
        .find(|f| f["path"] == "mp4/counter_240p.mp4")
        .expect("the MP4 is listed");
    let probe = util::ffprobe(&asset.join("mp4/counter_240p.mp4"));
    let d = util::num(&probe["format"]["duration"]);
    assert!(
        (util::num(&mp4["duration"]) - d).abs() < 0.05,
        "{mp4} vs {d}"
    );
    let rate = util::num(&mp4["bitrate"]);
    let measured = util::num(&mp4["bytes"]) * 8.0 / util::num(&mp4["duration"]);
    assert!((rate - measured).abs() <= 1.0, "{rate} vs {measured}");
    assert_eq!(
        (mp4["width"].as_u64(), mp4["height"].as_u64()),
        (Some(320), Some(240))
    );
    let segs: Vec<&Value> = files.iter().filter(|f| f["kind"] == "segment").collect();
    assert!(!segs.is_empty());
    let total: f64 = segs
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.contains("_240p_")))
        .map(|f| util::num(&f["duration"]))
        .sum();
    assert!((total - 8.0).abs() < 0.05, "240p segments last {total} s");
    for key in ["probe", "encode", "package", "checksum", "total"] {
        assert!(util::num(&r["timings"][key]) >= 0.0, "timings.{key}");
    }
    assert_eq!(r["preview"]["path"], "preview/counter_preview.mp4");
    assert_eq!(
        r["preview"]["animated_webp"],
        "preview/counter_preview.webp"
    );
    assert_eq!(r["trickplay"]["vtt"], "trickplay/counter_trickplay.vtt");
    assert_eq!(r["media"]["path"], src.to_str().expect("utf-8"));
}

#[test]
fn rotated_sources_give_portrait_thumbnails_in_the_transcode() {
    let src = util::fixture("rotated");
    let out = util::work_dir("pictures-rotated");
    let profile = util::write_profile(&out, "mobile", |p| {
        p["thumbnails"] = json!({ "destination": "t/", "times": ["50%"], "width": 180 });
    });
    let asset = util::transcode(&src, profile.to_str().expect("utf-8"), &out.join("o"));
    let thumbs = util::entries(&asset.join("t"));
    assert_eq!(thumbs, ["rotated_thumb.0000000.jpg"]);
    assert_eq!(
        util::dimensions(&asset.join("t").join(&thumbs[0])),
        (180, 320)
    );
}

#[test]
fn bad_picture_settings_name_their_field() {
    let src = util::fixture("counter");
    let out = util::work_dir("pictures-bad");
    for (section, value, field) in [
        (
            "thumbnails",
            json!({ "destination": "t/" }),
            "thumbnails.interval_seconds",
        ),
        (
            "thumbnails",
            json!({ "destination": "t/", "times": [1], "quality": 0 }),
            "thumbnails.quality",
        ),
        (
            "thumbnails",
            json!({ "destination": "t/", "times": ["soon"] }),
            "thumbnails.times[0]",
        ),
        (
            "preview",
            json!({ "destination": "cmaf/" }),
            "preview.destination",
        ),
        (
            "trickplay",
            json!({ "destination": "s/", "columns": 0 }),
            "trickplay.columns",
        ),
    ] {
        let profile = util::write_profile(&out, "default", |p| p[section] = value);
        let dest = out.join("o");
        let o = util::mpe(&[
            "transcode",
            src.to_str().expect("utf-8"),
            "-p",
            profile.to_str().expect("utf-8"),
            "-o",
            dest.to_str().expect("utf-8"),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("field `{field}`")),
            "{field}: {stderr}"
        );
        assert!(!dest.exists() || util::entries(&dest).is_empty());
    }
}
