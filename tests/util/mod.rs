//! Test helpers: fixtures, running mpe, asking ffprobe.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a generated fixture (made on first use by fixtures/generate.sh, then cached).
pub fn fixture(name: &str) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().expect("fixture cache").get(name) {
        return p.clone();
    }
    let out = Command::new("bash")
        .arg(repo().join("fixtures/generate.sh"))
        .arg(name)
        .output()
        .expect("run fixtures/generate.sh");
    assert!(
        out.status.success(),
        "fixture {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(path.exists(), "fixture {name} not at {}", path.display());
    cache
        .lock()
        .expect("fixture cache")
        .insert(name.to_string(), path.clone());
    path
}

/// A fresh, empty folder under target/test-work, unique per test.
pub fn work_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = repo()
        .join("target/test-work")
        .join(format!("{label}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create work dir");
    dir
}

/// Runs the mpe binary with `args`.
pub fn mpe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpe"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mpe")
}

/// Runs `mpe transcode` and panics with its stderr on failure; returns the asset folder.
pub fn transcode(src: &Path, profile: &str, out: &Path) -> PathBuf {
    transcode_with(src, profile, out, &[])
}

/// [`transcode`] with extra arguments.
pub fn transcode_with(src: &Path, profile: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "transcode",
        src.to_str().expect("utf-8 path"),
        "-p",
        profile,
        "-o",
        out.to_str().expect("utf-8 path"),
        "--progress",
        "none",
    ];
    args.extend_from_slice(extra);
    let o = mpe(&args);
    assert!(
        o.status.success(),
        "mpe transcode {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let stem = src.file_stem().expect("stem").to_string_lossy().to_string();
    out.join(stem)
}

/// `ffprobe -show_format -show_streams` as JSON.
pub fn ffprobe(path: &Path) -> Value {
    ffprobe_args(path, &["-show_format", "-show_streams"])
}

/// ffprobe with extra arguments, as JSON.
pub fn ffprobe_args(path: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// The MPEG-TS program of a segment as ffprobe reads it: program number, PMT PID, PCR
/// PID, and each stream's PID in stream order.
pub fn ts_program(path: &Path) -> (u64, u64, u64, Vec<u64>) {
    let v = ffprobe_args(
        path,
        &[
            "-show_entries",
            "program=program_id,pmt_pid,pcr_pid:stream=id",
        ],
    );
    let p = &v["programs"][0];
    let pid = |s: &Value| {
        let text = s["id"].as_str().unwrap_or_default();
        u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap_or(0)
    };
    let streams = v["streams"]
        .as_array()
        .map(|s| s.iter().map(pid).collect())
        .unwrap_or_default();
    (
        p["program_id"].as_u64().unwrap_or(0),
        p["pmt_pid"].as_u64().unwrap_or(0),
        p["pcr_pid"].as_u64().unwrap_or(0),
        streams,
    )
}

/// Packets of the first stream of `kind` (`v` or `a`): (pts seconds, is keyframe, size).
pub fn packets(path: &Path, kind: &str) -> Vec<(f64, bool, u64)> {
    let v = ffprobe_args(
        path,
        &[
            "-select_streams",
            &format!("{kind}:0"),
            "-show_entries",
            "packet=pts_time,flags,size",
        ],
    );
    v["packets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        num(&p["pts_time"]),
                        p["flags"].as_str().unwrap_or("").starts_with('K'),
                        num(&p["size"]) as u64,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON number or numeric string as f64 (ffprobe prints many numbers as strings).
pub fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The first stream of a codec type in an ffprobe result.
pub fn stream<'a>(probe: &'a Value, codec_type: &str) -> Option<&'a Value> {
    probe["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == codec_type)
}

/// Concatenates an init segment and media segments into one file ffprobe can read.
pub fn join_segments(init: Option<&Path>, segments: &[PathBuf], out: &Path) {
    let mut bytes = Vec::new();
    if let Some(i) = init {
        bytes.extend(std::fs::read(i).expect("read init"));
    }
    for s in segments {
        bytes.extend(std::fs::read(s).expect("read segment"));
    }
    std::fs::write(out, bytes).expect("write joined file");
}

/// Every file under `root`, relative, `/`-separated, sorted.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .expect("under root")
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

/// Names in a folder (files and folders, hidden ones too).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Writes a variant of a shipped profile into `dir` and returns its path.
pub fn write_profile(dir: &Path, base: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(format!("profiles/{base}.json")))
        .expect("shipped profile");
    let mut p: serde_json::Value = serde_json::from_str(&text).expect("json");
    p["name"] = format!("{base}-variant").into();
    edit(&mut p);
    let file = dir.join(format!("{base}-variant.json"));
    std::fs::write(&file, p.to_string()).expect("write profile");
    file
}

/// PSNR (average over planes) of two pictures by FFmpeg's psnr filter; infinite when equal.
pub fn psnr(a: &Path, b: &Path) -> f64 {
    psnr_graph(a, b, "psnr")
}

/// The average PSNR that a filter graph over inputs `a` (0) and `b` (1) ending in FFmpeg's
/// psnr filter reports.
pub fn psnr_graph(a: &Path, b: &Path, graph: &str) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args(["-lavfi", graph, "-f", "null", "-"])
        .output()
        .expect("run ffmpeg psnr");
    let text = String::from_utf8_lossy(&out.stderr);
    let avg = text
        .split("average:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no PSNR for {} vs {}: {text}", a.display(), b.display()));
    if avg == "inf" {
        f64::INFINITY
    } else {
        avg.parse().expect("PSNR number")
    }
}

/// The frame FFmpeg shows at `t` (accurate seek), as a PNG at its own size, converted to RGB
/// with the scaler flags mpe uses for pictures (bicubic, accurate rounding, full chroma
/// interpolation), so that only a different frame can make the two differ.
pub fn ffmpeg_frame(src: &Path, t: f64, out: &Path) {
    let o = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-ss",
        ])
        .arg(format!("{t}"))
        .arg("-i")
        .arg(src)
        .args([
            "-frames:v",
            "1",
            "-sws_flags",
            "bicubic+accurate_rnd+full_chroma_int",
        ])
        .arg(out)
        .output()
        .expect("run ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Width and height of a picture or video, by ffprobe.
pub fn dimensions(path: &Path) -> (u32, u32) {
    let v = ffprobe_args(path, &["-show_entries", "stream=width,height"]);
    let s = &v["streams"][0];
    (num(&s["width"]) as u32, num(&s["height"]) as u32)
}

/// The RGB value of the pixel at (x, y), decoded by FFmpeg.
pub fn pixel(path: &Path, x: u32, y: u32) -> [u8; 3] {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &format!("crop=1:1:{x}:{y}"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    [o.stdout[0], o.stdout[1], o.stdout[2]]
}

/// The Python with the pinned judges (botocore, boto3, moto), set up on first use by
/// scripts/setup-python.sh.
pub fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let o = Command::new("bash")
            .arg(repo().join("scripts/setup-python.sh"))
            .output()
            .expect("run scripts/setup-python.sh");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
    })
    .clone()
}

/// How many x264 streams a file holds: x264 writes its version SEI at the start of every
/// stream it encodes, so a chunked rung has one per chunk.
pub fn x264_streams(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("read media file");
    bytes.windows(11).filter(|w| w == b"x264 - core").count()
}

/// Segment durations of a media playlist.
pub fn extinf(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).expect("playlist");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p
            .segments
            .iter()
            .map(|s| (f64::from(s.duration) * 1000.0).round() / 1000.0)
            .collect(),
        other => panic!("{}: not a media playlist: {other:?}", path.display()),
    }
}

/// Calls `edit` on every output's `H264Settings` of a MediaConvert job.
pub fn each_h264(job: &mut serde_json::Value, mut edit: impl FnMut(&mut serde_json::Value)) {
    for g in job["Settings"]["OutputGroups"]
        .as_array_mut()
        .expect("groups")
    {
        for o in g["Outputs"].as_array_mut().expect("outputs") {
            if let Some(h) = o.pointer_mut("/VideoDescription/CodecSettings/H264Settings") {
                edit(h);
            }
        }
    }
}
