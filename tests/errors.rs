//! Bad input gets one clear line, a non-zero exit, no panic, and leaves no output behind.

use std::path::Path;
use std::process::Command;

use crate::util;

/// Runs a transcode expected to fail; returns its one-line error.
fn fails(src: &Path, profile: &str, out: &Path) -> String {
    fails_with(src, profile, out, &[])
}

/// [`fails`] with extra arguments.
fn fails_with(src: &Path, profile: &str, out: &Path, extra: &[&str]) -> String {
    fails_with_code(src, profile, out, extra, 1)
}

/// [`fails_with`], exiting with `code` (75: transient, worth a retry).
fn fails_with_code(src: &Path, profile: &str, out: &Path, extra: &[&str], code: i32) -> String {
    let mut args = vec![
        "transcode",
        src.to_str().expect("utf-8"),
        "-p",
        profile,
        "-o",
        out.to_str().expect("utf-8"),
        "--progress",
        "none",
    ];
    args.extend_from_slice(extra);
    let o = util::mpe(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("mpe: error: "), "{stderr}");
    // Nothing published, no temp folder left.
    assert!(
        util::entries(out).is_empty(),
        "left behind: {:?}",
        util::entries(out)
    );
    lines[0].to_string()
}

#[test]
fn missing_file() {
    let out = util::work_dir("err-missing");
    let e = fails(Path::new("/nonexistent/clip.mp4"), "default", &out);
    assert_eq!(e, "mpe: error: /nonexistent/clip.mp4: no such file");
}

#[test]
fn zero_byte_file() {
    let src = util::fixture("empty");
    let e = fails(&src, "default", &util::work_dir("err-empty"));
    assert!(e.ends_with("empty.mp4: file is empty (0 bytes)"), "{e}");
}

#[test]
fn text_file_named_mp4() {
    let src = util::fixture("not_video");
    let e = fails(&src, "default", &util::work_dir("err-text"));
    assert!(
        e.contains("not_video.mp4: not a media file FFmpeg can read"),
        "{e}"
    );
}

#[test]
fn truncated_file_with_index_at_front() {
    let src = util::fixture("truncated");
    let e = fails(&src, "default", &util::work_dir("err-trunc"));
    assert!(e.contains("truncated.mp4: truncated: media ends at"), "{e}");
}

/// An H.264 stream whose SPS claims 16384x8192 over 320x240 of data is refused before
/// decoding (it decoded concealment for 19 s at 1.5 GB), and so are sources smaller than
/// x264 takes, each with the size in the error.
#[test]
fn hostile_and_tiny_frame_sizes_are_refused_by_size() {
    let dir = util::work_dir("err-sizes");
    let small = dir.join("small.h264");
    let make = |size: &str, out: &Path, format: &[&str]| {
        let o = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc=size={size}:rate=25:duration=1"))
            .args([
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(format)
            .arg(out)
            .output()
            .expect("ffmpeg");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    make("320x240", &small, &["-f", "h264"]);
    let patched = dir.join("hostile.h264");
    let o = Command::new("python3")
        .arg(util::repo().join("tests/util/hostile_sps.py"))
        .args([&small, &patched])
        .args(["16384", "8192"])
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hostile = dir.join("hostile.mp4");
    let o = Command::new("ffmpeg")
        .args(["-v", "quiet", "-y", "-i"])
        .arg(&patched)
        .args(["-c", "copy"])
        .arg(&hostile)
        .output()
        .expect("ffmpeg");
    assert!(o.status.success());
    // ffprobe, not mpe, says what the stream claims.
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "quiet",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&hostile)
        .output()
        .expect("ffprobe");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "16384,8192");
    let e = fails(&hostile, "mobile", &dir.join("out1"));
    assert!(
        e.contains("hostile.mp4: video stream #0: size 16384x8192 is larger than the 8192x8192"),
        "{e}"
    );
    for (size, ok) in [("8x8", false), ("14x14", false), ("16x16", true)] {
        let src = dir.join(format!("tiny_{size}.mp4"));
        make(size, &src, &[]);
        let out = dir.join(format!("out_{size}"));
        if ok {
            util::transcode(&src, "mobile", &out);
        } else {
            let e = fails(&src, "mobile", &out);
            assert!(
                e.contains(&format!(
                    "size {size} is smaller than the 16x16 the H.264 encoder"
                )),
                "{e}"
            );
        }
    }
}

/// A short clip cut short loses more than a frame: refused, where a fixed second of
/// tolerance let a 1.5 s clip cut at 62 % publish 0.8 s with exit 0.
#[test]
fn a_short_clip_cut_at_62_percent_is_refused() {
    let dir = util::work_dir("err-trunc-short");
    let whole = std::fs::read(util::fixture("short")).expect("fixture");
    let cut = dir.join("cut.mp4");
    std::fs::write(&cut, &whole[..whole.len() * 62 / 100]).expect("cut");
    let e = fails(&cut, "mobile", &dir.join("out"));
    assert!(e.contains("cut.mp4: truncated: media ends at"), "{e}");
    // The whole clip passes the same check.
    util::transcode(&util::fixture("short"), "mobile", &dir.join("whole"));
}

#[test]
fn truncated_file_fails_the_same_when_chunked() {
    let src = util::fixture("truncated");
    let out = util::work_dir("err-trunc-chunked");
    let e = fails_with(&src, "default", &out, &["--chunks", "2"]);
    assert!(e.contains("truncated.mp4: truncated: media ends at"), "{e}");
}

#[test]
fn truncated_file_without_index() {
    let src = util::fixture("truncated_moov_end");
    let e = fails(&src, "default", &util::work_dir("err-trunc2"));
    assert!(
        e.contains("truncated_moov_end.mp4: not a media file FFmpeg can read"),
        "{e}"
    );
}

#[test]
fn audio_only_has_no_video_stream() {
    let src = util::fixture("audio_only");
    let e = fails(&src, "default", &util::work_dir("err-audio"));
    assert!(
        e.ends_with(
            "audio_only.m4a: no video stream (audio-only sources cannot make a video ladder)"
        ),
        "{e}"
    );
}

#[test]
fn unknown_profile() {
    let src = util::fixture("short");
    let e = fails(&src, "hd-ultra", &util::work_dir("err-profile"));
    assert_eq!(
        e,
        "mpe: error: profile hd-ultra: no such shipped profile and no such file (shipped: default, mobile)"
    );
}

#[test]
fn invalid_profile_file_names_field() {
    let dir = util::work_dir("err-badprofile");
    let mut p: serde_json::Value =
        serde_json::from_str(include_str!("../profiles/default.json")).expect("json");
    p["renditions"][1]["buffer_size"] = 10.into();
    let file = dir.join("bad.json");
    std::fs::write(&file, p.to_string()).expect("write profile");
    let out = dir.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let e = fails(&util::fixture("short"), file.to_str().expect("utf-8"), &out);
    assert!(
        e.contains(
            "bad.json: field `renditions[1].buffer_size`: 10 bits is under a quarter second"
        ),
        "{e}"
    );
}

#[test]
fn unwritable_output() {
    let dir = util::work_dir("err-out");
    // A regular file where the output folder should be: cannot be created, even as root.
    let blocker = dir.join("file");
    std::fs::write(&blocker, "x").expect("write");
    let out = blocker.join("out");
    // An output that cannot be written may be writable later: exit 75 (EX_TEMPFAIL).
    let e = fails_with_code(&util::fixture("short"), "default", &out, &[], 75);
    assert!(
        e.starts_with(&format!("mpe: error: output {}: ", out.display())),
        "{e}"
    );
}

#[test]
fn existing_asset_is_kept_unless_forced() {
    let out = util::work_dir("exists");
    let src = util::fixture("short");
    let asset = util::transcode(&src, "default", &out);
    let before = util::tree(&asset);
    let o = util::mpe(&[
        "transcode",
        src.to_str().expect("utf-8"),
        "-o",
        out.to_str().expect("utf-8"),
        "--progress",
        "none",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("already exists (pass --force to replace an asset folder)"),
        "{stderr}"
    );
    assert_eq!(util::tree(&asset), before);
    let o = util::mpe(&[
        "transcode",
        src.to_str().expect("utf-8"),
        "-o",
        out.to_str().expect("utf-8"),
        "--force",
        "--progress",
        "none",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(util::tree(&asset), before);
    assert_eq!(util::entries(&out), ["short"]);
}

#[test]
fn interrupted_run_publishes_nothing() {
    let out = util::work_dir("sigint");
    let src = util::fixture("hd_16x9");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mpe"))
        .args([
            "transcode",
            src.to_str().expect("utf-8"),
            "-o",
            out.to_str().expect("utf-8"),
            "--progress",
            "none",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mpe");
    // Wait until the temp folder exists, i.e. the run is under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while util::entries(&out).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let out_status = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out_status.stderr);
    assert_eq!(out_status.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("cancelled; nothing was published"),
        "{stderr}"
    );
    assert!(
        util::entries(&out).is_empty(),
        "left: {:?}",
        util::entries(&out)
    );
}

#[test]
fn progress_json_lines_advance_to_the_end() {
    let out = util::work_dir("progress");
    let src = util::fixture("ntsc_2997");
    let o = util::mpe(&[
        "transcode",
        src.to_str().expect("utf-8"),
        "-o",
        out.to_str().expect("utf-8"),
        "--progress",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    let positions: Vec<f64> = lines
        .iter()
        .map(|l| l["position"].as_f64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
    let last = lines.last().expect("last");
    assert_eq!(last["finishing"], true);
    assert!(
        (last["fraction"].as_f64().expect("fraction") - 1.0).abs() < 0.02,
        "{last}"
    );
    // The summary goes to stdout, where the asset is.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with(&format!("{}: ", out.join("ntsc_2997").display())),
        "{stdout}"
    );
}

#[test]
fn unsupported_codec() {
    let src = util::fixture("unsupported_codec");
    let e = fails(&src, "default", &util::work_dir("err-codec"));
    assert!(
        e.ends_with("unsupported_codec.mkv: stream #0: codec unknown is not supported (no decoder in this FFmpeg build)"),
        "{e}"
    );
}

#[test]
fn temp_folders_of_killed_runs_are_cleaned_up() {
    let out = util::work_dir("stale");
    // What a run killed with SIGKILL leaves: a hidden temp folder of a process that is gone.
    let stale = out.join(".mpe-tmp-999999999-1");
    std::fs::create_dir_all(stale.join("cmaf")).expect("mkdir");
    std::fs::write(stale.join("cmaf/short.m3u8"), "#EXTM3U\n").expect("write");
    util::transcode(&util::fixture("short"), "default", &out);
    assert_eq!(util::entries(&out), ["short"]);
}

#[test]
fn awkward_source_names_are_published_under_mediaconvert_names() {
    // '%' is a printf pattern to FFmpeg's segmenter, a leading '#' a comment to a playlist
    // reader, a leading space trimmed by one: none may leak into the output.
    let dir = util::work_dir("names");
    let src = dir.join(" #1 take 100%.mp4");
    std::fs::copy(util::fixture("short"), &src).expect("copy");
    let out = dir.join("out");
    let asset = util::transcode(&src, "mobile", &out);
    assert_eq!(
        asset.file_name().and_then(|n| n.to_str()),
        Some(" #1 take 100%")
    );
    let files = util::tree(&asset);
    assert!(
        files.contains(&"hls/ #1 take 100%_360p_00001.ts".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"dash/ #1 take 100%_audioinit.mp4".to_string()),
        "{files:?}"
    );
    let playlist =
        std::fs::read_to_string(asset.join("hls/ #1 take 100%_360p.m3u8")).expect("playlist");
    assert!(
        playlist.contains("\n%20%231%20take%20100%25_360p_00001.ts\n"),
        "{playlist}"
    );
}

#[test]
fn output_path_with_percent_is_refused() {
    let out = util::work_dir("pct").join("a%d");
    let e = fails(&util::fixture("short"), "default", &out);
    assert!(e.ends_with("a%d: the path contains '%'"), "{e}");
    assert!(!out.exists());
}

/// `--threads 100000` is not taken at its word (it planned 825 MB of encoder threads):
/// brought down to four a core, with a warning naming both.
#[test]
fn threads_beyond_reason_are_brought_down_with_a_warning() {
    let out = util::work_dir("err-threads");
    let src = util::fixture("short");
    let o = util::mpe(&[
        "transcode",
        src.to_str().expect("utf-8"),
        "-p",
        "mobile",
        "-o",
        out.to_str().expect("utf-8"),
        "--progress",
        "none",
        "--threads",
        "100000",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        err.contains(&format!(
            "--threads 100000 is more than 4 x the {cores} cores here; using {}",
            4 * cores
        )),
        "{err}"
    );
}
