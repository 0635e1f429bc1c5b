//! Jobs written the way MediaConvert's console, documentation and samples write them
//! (tests/mediaconvert/jobs/), each valid by botocore's model, submitted to
//! `mpe mediaconvert serve` with boto3 (and one with the typed aws-sdk-mediaconvert
//! client), and each output judged against its job's fields by ffprobe and FFmpeg's own
//! bitstream tracer.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::mediaconvert::{boto3, submit};
use crate::util;

fn corpus(name: &str) -> Value {
    let path = util::repo().join(format!("tests/mediaconvert/jobs/{name}.json"));
    let text = std::fs::read_to_string(&path).expect("corpus job");
    serde_json::from_str(&text).expect("corpus JSON")
}

/// Submits a corpus job on the web_30 fixture; returns the finished job (GetJob, as
/// boto3 reads it) and the folder the asset was downloaded into.
fn run(name: &str) -> (Value, PathBuf, crate::mediaconvert::Stack) {
    run_with(name, &[])
}

/// [`run`], the server started with `extra` arguments.
fn run_with(name: &str, extra: &[&str]) -> (Value, PathBuf, crate::mediaconvert::Stack) {
    run_on(name, "web_30", extra)
}

/// [`run_with`] on another fixture.
fn run_on(
    name: &str,
    fixture: &str,
    extra: &[&str],
) -> (Value, PathBuf, crate::mediaconvert::Stack) {
    let src = util::fixture(fixture);
    let dir = util::work_dir(&format!("jobs-{name}"));
    let job = corpus(name);
    crate::cloud::botocore_valid("CreateJob", &job, &dir);
    let st = crate::mediaconvert::stack_with(&dir, None, extra);
    let out = dir.join("out");
    let report = submit(&st, &src, &job, &dir, Some(&out));
    let done = report["job"].clone();
    assert_eq!(done["Status"], "COMPLETE", "{done:#}");
    (done, out.join("asset"), st)
}

/// The first stream of `kind` (`video`, `audio`), as ffprobe describes it.
fn stream(path: &Path, kind: &str) -> Value {
    let p = util::ffprobe(path);
    p["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["codec_type"] == kind))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} in {}", path.display()))
}

fn video(path: &Path) -> Value {
    stream(path, "video")
}

fn audio(path: &Path) -> Value {
    stream(path, "audio")
}

fn size(v: &Value) -> (u64, u64) {
    (
        v["width"].as_u64().expect("width"),
        v["height"].as_u64().expect("height"),
    )
}

/// Picture types in display order, and the times of the keyframes, from the start.
fn frames(path: &Path) -> (Vec<String>, Vec<f64>) {
    let v = util::ffprobe_args(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pict_type,key_frame,pts_time",
        ],
    );
    let frames = v["frames"].as_array().expect("frames");
    let t0 = util::num(&frames[0]["pts_time"]);
    let types = frames
        .iter()
        .map(|f| f["pict_type"].as_str().unwrap_or("?").to_string())
        .collect();
    let keys = frames
        .iter()
        .filter(|f| f["key_frame"] == 1)
        .map(|f| ((util::num(&f["pts_time"]) - t0) * 1000.0).round() / 1000.0)
        .collect();
    (types, keys)
}

/// `max_num_ref_frames` of the stream's SPS, as FFmpeg's trace_headers filter reads it.
fn sps_ref_frames(path: &Path) -> u64 {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "trace", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-bsf:v",
            "trace_headers",
            "-frames:v",
            "1",
        ])
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let log = String::from_utf8_lossy(&o.stderr);
    log.lines()
        .find(|l| l.contains("max_num_ref_frames"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no max_num_ref_frames in the trace of {}", path.display()))
}

/// Video bits per second over the stream's duration, from its packet sizes.
fn video_bitrate(path: &Path, seconds: f64) -> f64 {
    let bytes: u64 = util::packets(path, "v").iter().map(|p| p.2).sum();
    bytes as f64 * 8.0 / seconds
}

/// Joins a rung's segments (with its init segment, if any) into one file for ffprobe.
fn joined(dir: &Path, prefix: &str, ext: &str, init: Option<&str>) -> PathBuf {
    let mut segs: Vec<PathBuf> = util::tree(dir)
        .into_iter()
        .filter(|f| f.starts_with(prefix) && f.ends_with(ext) && Some(f.as_str()) != init)
        .map(|f| dir.join(f))
        .collect();
    segs.sort();
    assert!(!segs.is_empty(), "no {prefix}*{ext} in {}", dir.display());
    let out = dir.join(format!("joined-{prefix}{ext}.mp4"));
    util::join_segments(init.map(|i| dir.join(i)).as_deref(), &segs, &out);
    out
}

fn assert_aac(a: &Value) {
    assert_aac_as(a, 2, 48_000);
}

fn assert_aac_as(a: &Value, channels: u64, rate: u32) {
    assert_eq!(a["codec_name"], "aac", "{a:#}");
    assert_eq!(a["profile"], "LC", "{a:#}");
    assert_eq!(a["channels"], channels, "{a:#}");
    assert_eq!(a["sample_rate"], rate.to_string(), "{a:#}");
}

/// The audio's bits a second over `seconds`, its packets' payload as the demuxer gives
/// them (ADTS headers in MPEG-TS count: 7 bytes a packet, under 3 % at these rates).
fn audio_bitrate(path: &Path, seconds: f64) -> f64 {
    let bytes: u64 = util::packets(path, "a").iter().map(|p| p.2).sum();
    bytes as f64 * 8.0 / seconds
}

#[test]
fn a_console_hls_job_with_cbr_and_gops_in_frames_is_followed_field_by_field() {
    let (done, asset, st) = run("console_hls_ts_cbr");
    // The console's MPEG-TS PIDs are FFmpeg's here: said, not hidden.
    assert_eq!(
        done["Warnings"],
        json!([{ "Code": 990001, "Count": 2 }]),
        "{done:#}"
    );
    let messages = done["Messages"]["Warning"].to_string();
    assert!(messages.contains("M3u8Settings"), "{messages}");
    assert!(messages.contains("audio PES packets"), "{messages}");
    let hls = asset.join("hls");
    // The console's PIDs (MediaConvert's defaults) are the segments' own.
    assert_eq!(
        util::ts_program(&hls.join("web_30_720p_00001.ts")),
        (1, 480, 481, vec![481, 482])
    );
    // Each output's own AudioDescriptions: the 720p rung's 96 kb/s stereo at 48 kHz, the
    // 360p rung's 64 kb/s mono at 44.1 kHz.
    for (name, w, h, bitrate, (channels, rate, audio_rate)) in [
        ("720p", 1280, 720, 1_500_000.0, (2, 48_000, 96_000.0)),
        ("360p", 640, 360, 700_000.0, (1, 44_100, 64_000.0)),
    ] {
        let ts = joined(&hls, &format!("web_30_{name}_"), ".ts", None);
        let v = video(&ts);
        // Width x Height exactly, 1280x720 an upscale of the 640x360 source.
        assert_eq!(size(&v), (w, h), "{name}");
        assert_eq!(v["profile"], "Main", "{name}");
        assert_eq!(v["level"], 31, "{name}");
        assert_eq!(v["r_frame_rate"], "30/1", "{name}");
        let (types, keys) = frames(&ts);
        // GopSize 90 frames = 3 s at 30 fps, and an IDR on the 10 s segment boundary
        // (SegmentLengthControl EXACT), the GOP counted afresh from there.
        assert_eq!(keys, [0.0, 3.0, 6.0, 9.0, 10.0], "{name}");
        assert!(types.iter().any(|t| t == "B"), "{name}: no B-frames");
        assert_eq!(sps_ref_frames(&ts), 3, "{name}");
        // CBR: the video's own bits within 10 % of Bitrate.
        let got = video_bitrate(&ts, 12.0);
        assert!(
            (got / bitrate - 1.0).abs() < 0.10,
            "{name}: {got} b/s for CBR {bitrate}"
        );
        assert_aac_as(&audio(&ts), channels, rate);
        let got = audio_bitrate(&ts, 12.0);
        assert!(
            (got / audio_rate - 1.0).abs() < 0.10,
            "{name}: audio {got} b/s for {audio_rate}"
        );
        assert_eq!(
            util::extinf(&hls.join(format!("web_30_{name}.m3u8"))),
            [10.0, 2.0]
        );
    }

    // And it plays, every rung, in hls.js.
    let v = crate::player::play(&asset, "hls/web_30.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [720, 360]);

    // The same request through the typed Rust SDK: accepted, run, and its Warnings read
    // by the SDK's own deserialiser.
    let mc = aws_sdk_mediaconvert::Client::new(&crate::lambda::shared(&st.mc_url));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let created = rt
        .block_on(cloud::client::create_job(
            &mc,
            &corpus("console_hls_ts_cbr"),
        ))
        .expect("CreateJob through the SDK");
    let job = sdk_wait(&rt, &mc, &created.id);
    assert_eq!(
        job.status().map(|s| s.as_str()),
        Some("COMPLETE"),
        "{job:?}"
    );
    let warnings: Vec<(Option<i32>, Option<i32>)> = job
        .warnings()
        .iter()
        .map(|w| (w.code(), w.count()))
        .collect();
    assert_eq!(warnings, [(Some(990001), Some(2))]);
}

#[test]
fn a_cmaf_qvbr_ladder_from_heights_only() {
    let (_, asset, _st) = run("cmaf_qvbr_ladder");
    let cmaf = asset.join("cmaf");
    // Height only: the width follows the source's 16:9, 540 an upscale.
    for (name, w, h) in [("540p", 960, 540), ("180p", 320, 180)] {
        let init = format!("web_30_{name}init.cmfv");
        let mp4 = joined(&cmaf, &format!("web_30_{name}_"), ".cmfv", Some(&init));
        let v = video(&mp4);
        assert_eq!(size(&v), (w, h), "{name}");
        assert_eq!(v["profile"], "High", "{name}");
        let (types, keys) = frames(&mp4);
        assert_eq!(keys, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0], "{name}");
        assert!(types.iter().any(|t| t == "B"), "{name}: no B-frames");
        assert_eq!(
            util::extinf(&cmaf.join(format!("web_30_{name}.m3u8"))),
            [4.0, 4.0, 4.0],
            "{name}"
        );
    }
    let a = joined(
        &cmaf,
        "web_30_audio_",
        ".cmfa",
        Some("web_30_audioinit.cmfa"),
    );
    assert_aac(&audio(&a));
    for (manifest, kind) in [("cmaf/web_30.m3u8", "hls"), ("cmaf/web_30.mpd", "dash")] {
        let v = crate::player::play(&asset, manifest, kind);
        assert_eq!(crate::player::heights(&v), [540, 180], "{kind}");
    }
}

#[test]
fn a_dash_iso_job_fits_and_fills_its_boxes_and_unsupported_fields_still_fail() {
    let (_, asset, st) = run_with("dash_iso", &["--read-timeout", "2"]);
    let dash = asset.join("dash");
    // FIT: the largest 16:9 picture in 400x400 is the output; FILL: 300x300, cropped.
    for (name, w, h) in [("fit", 400, 226), ("fill", 300, 300)] {
        let init = format!("web_30_{name}init.mp4");
        let mp4 = joined(&dash, &format!("web_30_{name}_"), ".mp4", Some(&init));
        let v = video(&mp4);
        assert_eq!(size(&v), (w, h), "{name}");
        let (types, keys) = frames(&mp4);
        assert!(
            types.iter().all(|t| t != "B"),
            "{name}: B-frames though 0 were asked"
        );
        assert_eq!(keys, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0], "{name}");
    }
    let v = crate::player::play(&asset, "dash/web_30.mpd", "dash");
    assert_eq!(crate::player::heights(&v), [300, 226]);

    // A scan type mpe does not follow ends the job in ERROR, naming the field.
    let mut scanned = corpus("dash_iso");
    scanned["Settings"]["Inputs"][0]["InputScanType"] = json!("PSF");
    let dir = util::work_dir("jobs-scan-type");
    let report = submit(&st, &util::fixture("web_30"), &scanned, &dir, None);
    let failed = &report["job"];
    assert_eq!(failed["Status"], "ERROR", "{failed:#}");
    let msg = failed["ErrorMessage"].as_str().expect("message");
    assert!(msg.contains("Settings.Inputs[0].InputScanType"), "{msg}");

    // A member of the wrong type is MediaConvert's 400, before any job exists; so is a
    // body that is not UTF-8, and one beyond the size limit is 413.
    let answers = boto3(
        &st.python,
        &st.s3_url,
        &format!(
            r#"
import urllib.request, urllib.error
def post(body):
    req = urllib.request.Request("{}/2017-08-29/jobs", data=body, method="POST",
                                 headers={{"Content-Type": "application/json"}})
    try:
        with urllib.request.urlopen(req) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
import socket, time
host, port = "{}".rsplit("/", 1)[1].split(":")
def raw(declared, sent):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /2017-08-29/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + b"Content-Length: %d\r\n\r\n" % declared + sent)
    return s
# A client that declares a body and never sends it holds up no one else...
slow = raw(1000000, b'{{"role":')
start = time.time()
with urllib.request.urlopen("{}/2017-08-29/jobs", timeout=10) as r:
    listed = [r.status, round(time.time() - start, 1)]
# ...and one that declares more than the limit is answered 413 without being read.
huge = raw(1 << 30, b'{{"role"')
huge.settimeout(10)
first = huge.recv(64).decode().split("\r\n")[0]
def wait(sock):
    sock.settimeout(10)
    start = time.time()
    try:
        got = sock.recv(64).decode(errors="replace").split("\r\n")[0]
    except OSError as e:
        got = str(e)
    return [got, round(time.time() - start, 1)]
# A client that stops halfway through its headers is cut off at the read timeout...
stalled = socket.create_connection((host, int(port)))
stalled.sendall(b"GET /2017-08-29/jobs HTTP/1.1\r\nHost: x\r\n")
cut = wait(stalled)
# ...one that stops halfway through its body is answered 408...
late = wait(raw(1000, b'{{"role":'))
# ...and hundreds of them at once hold up no one.
crowd = [socket.create_connection((host, int(port))) for _ in range(300)]
for c in crowd:
    c.sendall(b"GET /2017-08-29/jobs HTTP/1.1\r\n")
with urllib.request.urlopen("{}/2017-08-29/jobs", timeout=10) as r:
    crowded = r.status
print(json.dumps([
    post(b'{{"role": 5, "settings": {{}}}}'),
    post(b'{{"role": "r", "settings": []}}'),
    post(b'\xff\xfe{{"role"'),
    post(b' ' * (5 << 20)),
    listed,
    first,
    cut,
    late,
    crowded,
]))
"#,
            st.mc_url, st.mc_url, st.mc_url, st.mc_url
        ),
    );
    // The server runs with --read-timeout 2.
    assert_eq!(answers[6][0], "", "closed without an answer: {answers:#}");
    assert!(answers[6][1].as_f64().expect("s") < 5.0, "{answers:#}");
    assert!(
        answers[7][0].as_str().expect("line").contains("408"),
        "{answers:#}"
    );
    assert!(answers[7][1].as_f64().expect("s") < 5.0, "{answers:#}");
    assert_eq!(answers[8], 200, "{answers:#}");
    assert_eq!(answers[4][0], 200, "{answers:#}");
    assert!(
        answers[4][1].as_f64().expect("seconds") < 5.0,
        "{answers:#}"
    );
    assert!(
        answers[5].as_str().expect("status line").contains("413"),
        "{answers:#}"
    );
    let codes: Vec<u64> = answers
        .as_array()
        .expect("answers")
        .iter()
        .take(4)
        .map(|a| a[0].as_u64().expect("code"))
        .collect();
    assert_eq!(codes, [400, 400, 400, 413], "{answers:#}");
    assert!(
        answers[0][1].as_str().expect("body").contains("Role"),
        "{answers:#}"
    );
    assert!(
        answers[1][1].as_str().expect("body").contains("Settings"),
        "{answers:#}"
    );
}

#[test]
fn a_file_group_with_two_mp4s_and_frame_captures_and_he_aac_warned() {
    let (done, asset, _st) = run("file_group_mp4s_and_captures");
    // HE-AAC needs libfdk-aac: the job completes with AAC-LC and says so.
    assert_eq!(
        done["Warnings"],
        json!([{ "Code": 990001, "Count": 2 }]),
        "{done:#}"
    );
    let messages = done["Messages"]["Warning"].to_string();
    assert!(messages.contains("AacSettings.CodecProfile"), "{messages}");
    assert!(messages.contains("HEV1"), "{messages}");
    let mp4 = asset.join("mp4");
    for (name, w, h) in [("720p", 1280, 720), ("square", 480, 480)] {
        let file = mp4.join(format!("web_30_{name}.mp4"));
        let v = video(&file);
        assert_eq!(size(&v), (w, h), "{name}");
        assert_eq!(v["profile"], "Constrained Baseline", "{name}");
        let (types, keys) = frames(&file);
        assert!(types.iter().all(|t| t != "B"), "{name}");
        assert_eq!(keys.len(), 12, "{name}: GOP of 1 s: {keys:?}");
        assert_aac(&audio(&file));
    }
    // DEFAULT scaling of 16:9 into a square box: the picture fits, black bars above
    // and below (limited-range black is 16), as FFmpeg's signalstats measures.
    let bars = Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "movie={},crop=480:60:0:0,signalstats",
            mp4.join("web_30_square.mp4").display()
        ))
        .args([
            "-show_entries",
            "frame_tags=lavfi.signalstats.YAVG",
            "-read_intervals",
            "%+#1",
            "-of",
            "csv=p=0",
        ])
        .output()
        .expect("ffprobe signalstats");
    let yavg: f64 = String::from_utf8_lossy(&bars.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&bars.stderr)));
    assert!((yavg - 16.0).abs() < 1.5, "top bar luma {yavg}");
    // Frame captures every 4 s, at most 3, at the size asked.
    let thumbs: Vec<String> = util::tree(&asset.join("thumbnails"));
    assert_eq!(thumbs.len(), 3, "{thumbs:?}");
    for t in &thumbs {
        assert_eq!(size(&video(&asset.join("thumbnails").join(t))), (320, 180));
    }
}

/// GetJob as the typed SDK's own deserialiser reads it, until the job has ended.
fn sdk_wait(
    rt: &tokio::runtime::Runtime,
    mc: &aws_sdk_mediaconvert::Client,
    id: &str,
) -> aws_sdk_mediaconvert::types::Job {
    loop {
        let got = rt
            .block_on(mc.get_job().id(id).send())
            .unwrap_or_else(|e| panic!("GetJob {id}: {e:?}"));
        let job = got.job().cloned().expect("job");
        let status = job.status().map(|s| s.as_str().to_string());
        if !matches!(status.as_deref(), Some("SUBMITTED" | "PROGRESSING")) {
            return job;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// A boto3 snippet with `mc`, a MediaConvert client on the stack's server, and `s3`.
fn mc(st: &crate::mediaconvert::Stack, code: &str) -> Value {
    boto3(
        &st.python,
        &st.s3_url,
        &format!(
            "mc = boto3.client('mediaconvert', endpoint_url={:?}, region_name='us-east-1')\n{code}",
            st.mc_url
        ),
    )
}

/// A wire answer of the local API (camelCase), judged by botocore's model.
fn wire_valid(st: &crate::mediaconvert::Stack, operation: &str, path: &str, dir: &Path) {
    let answer = mc(
        st,
        &format!(
            "import urllib.request\nprint(urllib.request.urlopen({:?}).read().decode())",
            format!("{}{path}", st.mc_url)
        ),
    );
    let file = dir.join(format!("{operation}.json"));
    std::fs::write(&file, answer.to_string()).expect("answer");
    let o = Command::new(&st.python)
        .arg(util::repo().join("cloud/tests/validate_mediaconvert.py"))
        .args(["--wire-output", operation])
        .arg(&file)
        .output()
        .expect("validator");
    assert!(
        o.status.success(),
        "{operation}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn corpus_file(dir: &str, name: &str) -> Value {
    let path = util::repo().join(format!("tests/mediaconvert/{dir}/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("corpus")).expect("JSON")
}

#[test]
fn jobs_from_a_template_and_presets_run_two_at_once_and_everything_survives_a_restart() {
    let dir = util::work_dir("jobs-template");
    let preset = corpus_file("presets", "hls_ts_640x360_qvbr");
    let template = corpus_file("templates", "hls_ladder");
    let job = corpus("from_template");
    crate::cloud::botocore_valid("CreatePreset", &preset, &dir);
    crate::cloud::botocore_valid("CreateJobTemplate", &template, &dir);
    crate::cloud::botocore_valid("CreateJob", &job, &dir);
    let mut st = crate::mediaconvert::stack_with(&dir, None, &["--jobs", "2"]);
    let src = util::fixture("web_30");
    // Three uploads; the template's `$fn$` gives each its own folder. The third job
    // waits in a paused queue.
    let report = mc(
        &st,
        &format!(
            r#"
import time
from botocore.exceptions import ClientError
for b in ("raw", "media"):
    s3.create_bucket(Bucket=b)
for name in ("web_30", "second", "third"):
    s3.upload_file({src:?}, "raw", "uploads/%s.mp4" % name)
endpoints = mc.describe_endpoints()["Endpoints"]
mc.create_preset(**json.loads({preset:?}))
mc.create_job_template(**json.loads({template:?}))
mc.create_queue(Name="Paused", Status="PAUSED")
try:
    mc.create_job_template(**json.loads({template:?}))
    duplicate = None
except ClientError as e:
    duplicate = e.response["Error"]["Code"]
job = json.loads({job:?})
def submit(name, **extra):
    j = json.loads(json.dumps(job))
    j["Settings"]["Inputs"][0]["FileInput"] = "s3://raw/uploads/%s.mp4" % name
    j.update(extra)
    return mc.create_job(**j)["Job"]["Id"]
ids = [submit("web_30"), submit("second")]
waiting = submit("third", Queue="Paused")
try:
    mc.create_job(Role=job["Role"], JobTemplate="no-such-template", Settings={{}})
    missing = None
except ClientError as e:
    missing = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
both = False
deadline = time.time() + 300
while time.time() < deadline:
    states = [mc.get_job(Id=i)["Job"]["Status"] for i in ids]
    both = both or states == ["PROGRESSING", "PROGRESSING"]
    if all(s not in ("SUBMITTED", "PROGRESSING") for s in states):
        break
    time.sleep(0.1)
jobs = [mc.get_job(Id=i)["Job"] for i in ids]
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="media", Prefix="web_30/"):
    keys += [o["Key"] for o in page.get("Contents", [])]
for key in keys:
    path = {out:?} + "/" + key
    import os
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s3.download_file("media", key, path)
print(json.dumps({{
    "endpoints": endpoints, "duplicate": duplicate, "missing": missing, "both": both,
    "jobs": jobs, "waiting": mc.get_job(Id=waiting)["Job"],
    "templates": [t["Name"] for t in mc.list_job_templates()["JobTemplates"]],
    "presets": [p["Name"] for p in mc.list_presets(Category="HLS")["Presets"]],
    "queues": {{q["Name"]: [q["Status"], q["SubmittedJobsCount"]] for q in mc.list_queues()["Queues"]}},
}}, default=str))
"#,
            src = src.display().to_string(),
            preset = preset.to_string(),
            template = template.to_string(),
            job = job.to_string(),
            out = dir.join("out").display().to_string(),
        ),
    );
    assert_eq!(report["endpoints"], json!([{ "Url": st.mc_url }]));
    assert_eq!(report["duplicate"], "ConflictException");
    let missing = report["missing"].to_string();
    assert!(
        missing.contains("BadRequestException") && missing.contains("no-such-template"),
        "{missing}"
    );
    for j in report["jobs"].as_array().expect("jobs") {
        assert_eq!(j["Status"], "COMPLETE", "{j:#}");
        assert_eq!(j["JobTemplate"], "mpe-test-hls-ladder");
        // GetJob shows the settings as resolved: the template's group, the preset's video.
        let group = &j["Settings"]["OutputGroups"][0];
        assert_eq!(
            group["OutputGroupSettings"]["HlsGroupSettings"]["SegmentLength"],
            4
        );
        assert_eq!(group["Outputs"][0]["VideoDescription"]["Width"], 640);
        assert!(group["Outputs"][0].get("Preset").is_none(), "{group:#}");
        assert_eq!(j["StatusUpdateInterval"], "SECONDS_10");
    }
    assert_eq!(
        report["both"], true,
        "--jobs 2 never ran the two jobs at once"
    );
    assert_eq!(report["waiting"]["Status"], "SUBMITTED");
    assert_eq!(report["templates"], json!(["mpe-test-hls-ladder"]));
    assert_eq!(report["presets"], json!(["mpe-test-hls-ts-640x360-qvbr"]));
    assert_eq!(report["queues"]["Paused"], json!(["PAUSED", 1]));
    assert_eq!(report["queues"]["Default"], json!(["ACTIVE", 0]));
    wire_valid(
        &st,
        "GetJobTemplate",
        "/2017-08-29/jobTemplates/mpe-test-hls-ladder",
        &dir,
    );
    wire_valid(
        &st,
        "GetPreset",
        "/2017-08-29/presets/mpe-test-hls-ts-640x360-qvbr",
        &dir,
    );
    wire_valid(&st, "ListQueues", "/2017-08-29/queues", &dir);

    // The outputs, judged against the preset's and the template's fields.
    let hls = dir.join("out/web_30/hls");
    // Both rungs share the preset's encoder settings (the engine's ladders do): no
    // B-frames, GOPs of 60 frames (2 s at 30 fps).
    for (name, w, h) in [("360p", 640, 360), ("180p", 320, 180)] {
        let ts = joined(&hls, &format!("web_30_{name}_"), ".ts", None);
        let v = video(&ts);
        assert_eq!(size(&v), (w, h), "{name}");
        let (types, keys) = frames(&ts);
        assert!(types.iter().all(|t| t != "B"), "{name}: B-frames");
        assert_eq!(keys[..3], [0.0, 2.0, 4.0][..], "{name}: GOPs");
        assert_eq!(
            util::extinf(&hls.join(format!("web_30_{name}.m3u8"))),
            [4.0, 4.0, 4.0]
        );
        assert_aac(&audio(&ts));
    }
    assert_eq!(
        video(&joined(&hls, "web_30_360p_", ".ts", None))["profile"],
        "High"
    );
    let v = crate::player::play(&dir.join("out/web_30"), "hls/web_30.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [360, 180]);

    // Killed and started again on the same store: jobs, templates, presets and the
    // paused queue's waiting job are all there; resuming the queue runs it.
    st.restart();
    let after = mc(
        &st,
        &format!(
            r#"
import time
first = mc.get_job(Id={first:?})["Job"]
template = mc.get_job_template(Name="mpe-test-hls-ladder")["JobTemplate"]["Name"]
preset = mc.get_preset(Name="mpe-test-hls-ts-640x360-qvbr")["Preset"]["Name"]
before = mc.get_job(Id={waiting:?})["Job"]["Status"]
mc.update_queue(Name="Paused", Status="ACTIVE")
deadline = time.time() + 300
while time.time() < deadline:
    third = mc.get_job(Id={waiting:?})["Job"]
    if third["Status"] not in ("SUBMITTED", "PROGRESSING"):
        break
    time.sleep(0.2)
listed = [j["Id"] for j in mc.list_jobs()["Jobs"]]
print(json.dumps({{"first": first["Status"], "template": template, "preset": preset,
    "before": before, "third": third["Status"], "listed": listed}}))
"#,
            first = report["jobs"][0]["Id"].as_str().expect("id"),
            waiting = report["waiting"]["Id"].as_str().expect("id"),
        ),
    );
    assert_eq!(after["first"], "COMPLETE");
    assert_eq!(after["template"], "mpe-test-hls-ladder");
    assert_eq!(after["preset"], "mpe-test-hls-ts-640x360-qvbr");
    assert_eq!(after["before"], "SUBMITTED");
    assert_eq!(after["third"], "COMPLETE", "{after:#}");
    assert_eq!(after["listed"].as_array().map(Vec::len), Some(3));
}

/// Whether the frame of `clip` at `t` is the frame of `src` at `at` (at any size), clearly
/// nearer it than the one `off` seconds away.
fn same_frame(clip: &Path, t: f64, src: &Path, at: f64, off: f64, dir: &Path) {
    let png = |p: &Path, t: f64, name: &str| {
        let out = dir.join(format!("{name}-{t:.3}.png"));
        util::ffmpeg_frame(p, t, &out);
        out
    };
    let got = png(clip, t, "clip");
    // The source's picture brought to the clip's size first (a no-op at the same size).
    let graph = "[1][0]scale2ref=flags=bicubic[s][c];[c][s]psnr";
    let (near, far) = (
        util::psnr_graph(&got, &png(src, at, "src"), graph),
        util::psnr_graph(&got, &png(src, at + off, "src"), graph),
    );
    assert!(
        near > 28.0 && near > far + 3.0,
        "{} at {t} s: {near:.1} dB to the source at {at} s, {far:.1} dB at {} s",
        clip.display(),
        at + off
    );
}

#[test]
fn a_clip_by_embedded_timecode_keeps_its_frames_end_included_and_nothing_else() {
    let name = "clipped_by_embedded_timecode";
    let (done, asset, st) = run_on(name, "timecoded", &[]);
    assert_eq!(done.get("Warnings"), None, "{done:#}");
    let src = util::fixture("timecoded");
    let dir = util::work_dir("jobs-clip-frames");
    // 01:00:02:00 to 01:00:05:29 on a source whose timecode starts at 01:00:00:00: the
    // frames from 2 s to 5 s + 29/30, the end frame included (InputClipping): 120 frames.
    let mp4 = asset.join("mp4/timecoded_360p.mp4");
    let v = video(&mp4);
    assert_eq!(v["nb_frames"], "120", "{v:#}");
    let (_, keys) = frames(&mp4);
    assert_eq!(keys, [0.0, 2.0]);
    let a = audio(&mp4);
    assert_aac(&a);
    assert!(
        (util::num(&a["duration"]) - 4.0).abs() < 0.05,
        "audio cut with the video: {a:#}"
    );
    same_frame(&mp4, 0.0, &src, 2.0, 0.2, &dir);
    same_frame(&mp4, 119.0 / 30.0, &src, 5.0 + 29.0 / 30.0, -0.2, &dir);
    let hls = asset.join("hls");
    assert_eq!(util::extinf(&hls.join("timecoded_360p.m3u8")), [2.0, 2.0]);
    let v = crate::player::play(&asset, "hls/timecoded.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [360]);

    // Counted from zero instead, 01:00:02:00 lies past the input's end: ERROR, naming
    // the clipping.
    let mut zero = corpus(name);
    zero["Settings"]["Inputs"][0]["TimecodeSource"] = json!("ZEROBASED");
    let report = submit(&st, &src, &zero, &dir, None);
    let failed = &report["job"];
    assert_eq!(failed["Status"], "ERROR", "{failed:#}");
    assert_eq!(failed["ErrorCode"], 1010, "{failed:#}");
    let msg = failed["ErrorMessage"].as_str().expect("message");
    assert!(
        msg.contains(
            "Settings.Inputs[0].InputClippings[0]: timecode \"01:00:02:00\": after the input's end"
        ),
        "{msg}"
    );
    // From zero with only a start: to the end of the input, 6 s.
    zero["Settings"]["Inputs"][0]["InputClippings"] = json!([{ "StartTimecode": "00:00:02:00" }]);
    let out = dir.join("open");
    let report = submit(&st, &src, &zero, &dir, Some(&out));
    assert_eq!(report["job"]["Status"], "COMPLETE", "{report:#}");
    let mp4 = out.join("asset/mp4/timecoded_360p.mp4");
    assert_eq!(video(&mp4)["nb_frames"], "180");
    same_frame(&mp4, 0.0, &src, 2.0, 0.2, &dir);
}

/// That a file's audio runs without a gap: FFmpeg's silencedetect finds no silence of
/// even 20 ms (one AAC frame) in it.
fn assert_no_gap(path: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-af", "silencedetect=noise=-40dB:d=0.02"])
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg silencedetect");
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(!log.contains("silence_start"), "{}: {log}", path.display());
}

#[test]
fn two_inputs_and_three_clips_make_one_timeline_with_continuous_audio_at_any_rate() {
    let name = "two_inputs_with_clippings";
    let dir = util::work_dir("jobs-joined");
    let job = corpus(name);
    crate::cloud::botocore_valid("CreateJob", &job, &dir);
    let st = crate::mediaconvert::stack(&dir, None);
    let (first, second) = (util::fixture("web_30"), util::fixture("timecoded"));
    let other_rate = util::fixture("short");
    mc(
        &st,
        &format!(
            r#"
from botocore.exceptions import ClientError
for b in ("raw", "media"):
    try:
        s3.create_bucket(Bucket=b)
    except ClientError:
        pass
s3.upload_file({second:?}, "raw", "uploads/timecoded.mp4")
s3.upload_file({other_rate:?}, "raw", "uploads/short.mp4")
print("{{}}")
"#
        ),
    );
    let out = dir.join("out");
    let report = submit(&st, &first, &job, &dir, Some(&out));
    assert_eq!(report["job"]["Status"], "COMPLETE", "{report:#}");
    let asset = out.join("asset");
    // web_30 1 s to 2 s + 29/30, web_30 8 s to 8 s + 29/30, timecoded from 01:00:04:00
    // (4 s into it) to its end at 8 s: 2 + 1 + 4 s, 210 frames, named after the first.
    let mp4 = asset.join("mp4/web_30_360p.mp4");
    let v = video(&mp4);
    assert_eq!(v["nb_frames"], "210", "{v:#}");
    // Keyframes and segments as in a single-input transcode: the grid runs across joins.
    let (_, keys) = frames(&mp4);
    assert_eq!(keys, [0.0, 2.0, 4.0, 6.0]);
    assert_eq!(
        util::extinf(&asset.join("hls/web_30_360p.m3u8")),
        [2.0, 2.0, 2.0, 1.0]
    );
    for (t, src, at, off) in [
        (0.0, &first, 1.0, 0.2),
        (59.0 / 30.0, &first, 2.0 + 29.0 / 30.0, -0.2),
        (2.0, &first, 8.0, 0.2),
        (3.0, &second, 4.0, 0.2),
        (209.0 / 30.0, &second, 7.0 + 29.0 / 30.0, -0.2),
    ] {
        same_frame(&mp4, t, src, at, off, &dir);
    }
    let a = audio(&mp4);
    assert_aac(&a);
    assert!((util::num(&a["duration"]) - 7.0).abs() < 0.05, "{a:#}");
    // The tone runs on across the joins.
    assert_no_gap(&mp4);
    let v = crate::player::play(&asset, "hls/web_30.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [360]);

    // An input at another frame rate follows on the first's: short.mp4 (38 frames at
    // 25 fps, 1.52 s) after the 3 s of web_30 clips, its frames repeated onto 30 fps
    // (DUPLICATE_DROP): every output time before 1.52 s, 46 frames, 136 in all.
    let mut mixed = job.clone();
    mixed["Settings"]["Inputs"][1]["FileInput"] = json!("s3://raw/uploads/short.mp4");
    mixed["Settings"]["Inputs"][1]["InputClippings"] = json!([]);
    let mixed_out = dir.join("mixed");
    let report = submit(&st, &first, &mixed, &dir, Some(&mixed_out));
    assert_eq!(report["job"]["Status"], "COMPLETE", "{report:#}");
    let mp4 = mixed_out.join("asset/mp4/web_30_360p.mp4");
    let v = video(&mp4);
    assert_eq!(
        (v["nb_frames"].as_str(), v["r_frame_rate"].as_str()),
        (Some("136"), Some("30/1")),
        "{v:#}"
    );
    same_frame(&mp4, 3.0, &other_rate, 0.0, 0.2, &dir);
    same_frame(&mp4, 4.0, &other_rate, 1.0, 0.2, &dir);
    // And the whole timeline made 25 fps as FramerateControl SPECIFIED asks: one frame in
    // six dropped, 7 s of 25 frames.
    let mut pal = job.clone();
    for g in pal["Settings"]["OutputGroups"]
        .as_array_mut()
        .expect("groups")
    {
        for o in g["Outputs"].as_array_mut().expect("outputs") {
            let h = &mut o["VideoDescription"]["CodecSettings"]["H264Settings"];
            h["FramerateControl"] = json!("SPECIFIED");
            h["FramerateNumerator"] = json!(25);
            h["FramerateDenominator"] = json!(1);
            h["FramerateConversionAlgorithm"] = json!("DUPLICATE_DROP");
        }
    }
    crate::cloud::botocore_valid("CreateJob", &pal, &dir);
    let pal_out = dir.join("pal");
    let report = submit(&st, &first, &pal, &dir, Some(&pal_out));
    assert_eq!(report["job"]["Status"], "COMPLETE", "{report:#}");
    let mp4 = pal_out.join("asset/mp4/web_30_360p.mp4");
    let v = video(&mp4);
    assert_eq!(
        (v["nb_frames"].as_str(), v["r_frame_rate"].as_str()),
        (Some("175"), Some("25/1")),
        "{v:#}"
    );
    let (_, keys) = frames(&mp4);
    assert_eq!(keys, [0.0, 2.0, 4.0, 6.0]);
    same_frame(&mp4, 3.0, &second, 4.0, 0.2, &dir);
    assert_eq!(
        util::extinf(&pal_out.join("asset/hls/web_30_360p.m3u8")),
        [2.0, 2.0, 2.0, 1.0]
    );
    // A clip of the second input that lies past its end is named at its own path.
    let mut late = job.clone();
    late["Settings"]["Inputs"][1]["InputClippings"] = json!([{ "StartTimecode": "01:00:09:00" }]);
    let failed = submit(&st, &first, &late, &dir, None)["job"].clone();
    let msg = failed["ErrorMessage"].as_str().expect("message");
    assert!(
        msg.contains("Settings.Inputs[1].InputClippings[0]: timecode"),
        "{msg}"
    );
}

#[test]
fn every_corpus_job_runs_through_the_typed_rust_sdk() {
    let dir = util::work_dir("jobs-sdk");
    let st = crate::mediaconvert::stack_with(&dir, None, &["--jobs", "2"]);
    let (web, timecoded) = (util::fixture("web_30"), util::fixture("timecoded"));
    let (preset, template) = (
        corpus_file("presets", "hls_ts_640x360_qvbr").to_string(),
        corpus_file("templates", "hls_ladder").to_string(),
    );
    // The inputs, the preset and the template, as a deploy step would put them there.
    mc(
        &st,
        &format!(
            r#"
for b in ("raw", "media"):
    s3.create_bucket(Bucket=b)
s3.upload_file({web:?}, "raw", "uploads/web_30.mp4")
s3.upload_file({timecoded:?}, "raw", "uploads/timecoded.mp4")
mc.create_preset(**json.loads({preset:?}))
mc.create_job_template(**json.loads({template:?}))
print("{{}}")
"#
        ),
    );
    let mc = aws_sdk_mediaconvert::Client::new(&crate::lambda::shared(&st.mc_url));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let names = [
        "console_hls_ts_cbr",
        "cmaf_qvbr_ladder",
        "dash_iso",
        "file_group_mp4s_and_captures",
        "from_template",
        "clipped_by_embedded_timecode",
        "two_inputs_with_clippings",
    ];
    let mut ids = Vec::new();
    for name in names {
        let job = rt
            .block_on(cloud::client::create_job(&mc, &corpus(name)))
            .unwrap_or_else(|e| panic!("{name}: CreateJob through the SDK: {e}"));
        ids.push((name, job.id));
    }
    for (name, id) in ids {
        let job = sdk_wait(&rt, &mc, &id);
        assert_eq!(
            job.status().map(|s| s.as_str()),
            Some("COMPLETE"),
            "{name}: {job:?}"
        );
        let settings = job.settings().expect("settings");
        let asked = corpus(name);
        let inputs = asked["Settings"]["Inputs"].as_array().map_or(1, Vec::len);
        assert_eq!(settings.inputs().len(), inputs, "{name}");
        assert!(!settings.output_groups().is_empty(), "{name}");
        assert_eq!(
            job.output_group_details().len(),
            settings.output_groups().len(),
            "{name}"
        );
    }
}

/// `mpe transcode SOURCES... -o out` with the default profile: the sources joined.
fn join(sources: &[&Path], out: &Path) -> std::process::Output {
    let mut args: Vec<String> = vec!["transcode".into()];
    args.extend(
        sources
            .iter()
            .map(|p| p.to_str().expect("utf-8").to_string()),
    );
    for a in ["-p", "default", "--progress", "none", "-o"] {
        args.push(a.into());
    }
    args.push(out.to_str().expect("utf-8").into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    util::mpe(&args)
}

/// The MP4 of an asset's `mp4/` folder whose name ends in `suffix`.
fn mp4_of(asset: &Path, suffix: &str) -> PathBuf {
    let folder = asset.join("mp4");
    util::tree(&folder)
        .into_iter()
        .find(|f| f.ends_with(suffix))
        .map(|f| folder.join(f))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", folder.display()))
}

#[test]
fn transcode_joins_several_sources_into_one_timeline() {
    let (a, b) = (util::fixture("hd_720p"), util::fixture("short"));
    let dir = util::work_dir("join-cli");
    let out = dir.join("out");
    let o = join(&[&a, &b, &a], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 75 + 38 + 75 frames at 25 fps, named after the first source, its size kept.
    let asset = out.join("hd_720p");
    let mp4 = mp4_of(&asset, "_720p.mp4");
    let v = video(&mp4);
    assert_eq!(v["nb_frames"], "188", "{v:#}");
    assert_eq!(size(&v), (1280, 720));
    // Keyframes on the profile's grid across both joins (3 s and 4.52 s).
    let (_, keys) = frames(&mp4);
    assert_eq!(keys, [0.0, 2.0, 4.0, 6.0]);
    same_frame(&mp4, 3.0, &b, 0.0, 0.2, &dir);
    same_frame(&mp4, 4.52, &a, 0.0, 0.4, &dir);
    let a_stream = audio(&mp4);
    assert!(
        (util::num(&a_stream["duration"]) - 7.52).abs() < 0.05,
        "{a_stream:#}"
    );
    assert_no_gap(&mp4);
    // A last source without audio: the audio runs on as silence to the end.
    let o = join(&[&b, &util::fixture("no_audio")], &dir.join("silent"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mp4 = mp4_of(&dir.join("silent/short"), ".mp4");
    let (pictures, sound) = (video(&mp4), audio(&mp4));
    assert!(
        (util::num(&pictures["duration"]) - 4.52).abs() < 0.05,
        "{pictures:#}"
    );
    assert!(
        (util::num(&sound["duration"]) - 4.52).abs() < 0.05,
        "{sound:#}"
    );
    // A source that is not there: one line naming it, nothing published.
    let o = join(
        &[&a, Path::new("/nonexistent/outro.mp4")],
        &dir.join("none"),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/outro.mp4"), "{err}");
    assert!(!dir.join("none/hd_720p").exists());
}

#[test]
fn a_joined_input_of_another_shape_is_fitted_with_bars_not_stretched() {
    let (wide, square) = (util::fixture("hd_720p"), util::fixture("sd_4x3"));
    let dir = util::work_dir("join-shapes");
    let out = dir.join("out");
    let o = join(&[&wide, &square], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mp4 = mp4_of(&out.join("hd_720p"), "_720p.mp4");
    // At 4 s the 4:3 input (1 s into it) fills 960 of the 1280 columns: black bars of
    // 160 on each side (limited-range black is 16), and its picture unstretched between.
    let frame = dir.join("joined-4.png");
    util::ffmpeg_frame(&mp4, 4.0, &frame);
    let bars = Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "movie={},format=yuv420p,crop=150:720:0:0,signalstats",
            frame.display()
        ))
        .args([
            "-show_entries",
            "frame_tags=lavfi.signalstats.YMAX",
            "-of",
            "csv=p=0",
        ])
        .output()
        .expect("ffprobe signalstats");
    let ymax: f64 = String::from_utf8_lossy(&bars.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&bars.stderr)));
    assert!(ymax <= 20.0, "left bar is not black: Y max {ymax}");
    let source = dir.join("square-1.png");
    util::ffmpeg_frame(&square, 1.0, &source);
    let centre = util::psnr_graph(&frame, &source, "[0]crop=960:720:160:0[c];[c][1]psnr");
    assert!(
        centre > 28.0,
        "the 4:3 picture between the bars: {centre:.1} dB"
    );
}
