//! `mpe cloud render` and `template`: the job MediaConvert gets names the same files the
//! engine writes locally, and is valid by MediaConvert's API model (botocore).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::util;

/// `mpe cloud render` of `src` (probed) to s3://media/asset/, input s3://raw/uploads/<name>.
pub(crate) fn render(src: &Path, profile: &str) -> Value {
    let o = util::mpe(&[
        "cloud",
        "render",
        "-p",
        profile,
        "--input",
        &format!(
            "s3://raw/uploads/{}",
            src.file_name().expect("name").to_string_lossy()
        ),
        "--dest",
        "s3://media/asset/",
        "--role",
        "arn:aws:iam::123456789012:role/mpe",
        "--source",
        src.to_str().expect("utf-8"),
        "--job-id",
        "test-job",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("job JSON")
}

/// Validates a request with botocore's model (cloud/tests/validate_mediaconvert.py).
pub(crate) fn botocore_valid(op: &str, request: &Value, dir: &Path) {
    let file = dir.join(format!("{op}.json"));
    std::fs::write(&file, request.to_string()).expect("write");
    botocore_judge(&[op], &[file]);
}

/// Runs cloud/tests/validate_mediaconvert.py with `args` (the operation, after
/// `--wire-output` for answers) over `files`; panics with its report unless they pass.
pub(crate) fn botocore_judge(args: &[&str], files: &[std::path::PathBuf]) {
    let o = Command::new(util::python())
        .arg(util::repo().join("cloud/tests/validate_mediaconvert.py"))
        .args(args)
        .args(files)
        .output()
        .expect("validator");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The files MediaConvert's naming rules give for the job's outputs that are named the
/// same whatever the source's length (playlists, init segments, first segments, MP4s,
/// the first capture), relative to the asset folder.
fn predicted(job: &Value, base: &str) -> Vec<String> {
    let mut files = Vec::new();
    for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
        let gs = &g["OutputGroupSettings"];
        let kind = gs["Type"].as_str().expect("type");
        let key = match kind {
            "CMAF_GROUP_SETTINGS" => "CmafGroupSettings",
            "HLS_GROUP_SETTINGS" => "HlsGroupSettings",
            "DASH_ISO_GROUP_SETTINGS" => "DashIsoGroupSettings",
            _ => "FileGroupSettings",
        };
        let dest = gs[key]["Destination"].as_str().expect("destination");
        let rel = dest
            .strip_prefix("s3://media/asset/")
            .expect("under the asset");
        let p = format!("{rel}{base}");
        match kind {
            "CMAF_GROUP_SETTINGS" => files.extend([format!("{p}.m3u8"), format!("{p}.mpd")]),
            "HLS_GROUP_SETTINGS" => files.push(format!("{p}.m3u8")),
            "DASH_ISO_GROUP_SETTINGS" => files.push(format!("{p}.mpd")),
            _ => {}
        }
        for o in g["Outputs"].as_array().expect("outputs") {
            let m = o["NameModifier"].as_str().expect("modifier");
            let audio_only = o["VideoDescription"].is_null();
            let container = o["ContainerSettings"]["Container"]
                .as_str()
                .expect("container");
            match container {
                "CMFC" => {
                    let ext = if audio_only { "cmfa" } else { "cmfv" };
                    files.push(format!("{p}{m}.m3u8"));
                    files.push(format!("{p}{m}init.{ext}"));
                    files.push(format!("{p}{m}_000000001.{ext}"));
                }
                "M3U8" => {
                    files.push(format!("{p}{m}.m3u8"));
                    files.push(format!("{p}{m}_00001.ts"));
                }
                "MPD" => {
                    files.push(format!("{p}{m}init.mp4"));
                    files.push(format!("{p}{m}_000000001.mp4"));
                }
                "MP4" => files.push(format!("{p}{m}.mp4")),
                "RAW" => files.push(format!("{p}{m}.0000000.jpg")),
                other => panic!("unexpected container {other}"),
            }
        }
    }
    files
}

/// The files of `mpe transcode`'s tree at `direct` that a MediaConvert job writes: all
/// but the trick-play sheets and track, which the status step draws from the job's frame
/// captures (`cloud::trickplay`, tested in tests/lambda.rs and tests/api.rs).
fn job_tree(direct: &Path) -> Vec<String> {
    util::tree(direct)
        .into_iter()
        .filter(|f| !f.starts_with("trickplay/"))
        .collect()
}

#[test]
fn rendered_jobs_name_the_files_the_engine_writes() {
    for (fixture, profile) in [("short", "default"), ("portrait", "mobile")] {
        let src = util::fixture(fixture);
        let out = util::work_dir(&format!("cloud-{fixture}"));
        let job = render(&src, profile);
        botocore_valid("CreateJob", &job, &out);
        let asset = util::transcode(&src, profile, &out);
        let tree = util::tree(&asset);
        let predicted = predicted(&job, fixture);
        assert!(predicted.len() > 5, "{predicted:?}");
        for f in &predicted {
            assert!(
                tree.contains(f),
                "{profile}: MediaConvert would write {f}; local tree: {tree:#?}"
            );
        }
        // Same renditions: every video output's size is one the engine encoded.
        let plan: Value =
            serde_json::from_slice(&std::fs::read(asset.join("metadata.json")).expect("record"))
                .expect("json");
        let sizes: Vec<(u64, u64)> = plan["plan"]["renditions"]
            .as_array()
            .expect("renditions")
            .iter()
            .map(|r| {
                (
                    r["width"].as_u64().unwrap_or(0),
                    r["height"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
            for o in g["Outputs"].as_array().expect("outputs") {
                let vd = &o["VideoDescription"];
                if vd["CodecSettings"]["Codec"] == "H_264" {
                    let s = (
                        vd["Width"].as_u64().unwrap_or(0),
                        vd["Height"].as_u64().unwrap_or(0),
                    );
                    assert!(sizes.contains(&s), "{s:?} not in {sizes:?}");
                }
            }
        }
        let mut meta = job["UserMetadata"].clone();
        // Trick play is ordered, not written by MediaConvert: the order names the tree's
        // sprite sheets and track, drawn from the thumbnails' captures.
        let order = meta.as_object_mut().and_then(|m| m.remove("mpe_trickplay"));
        let order: Value =
            serde_json::from_str(order.as_ref().and_then(Value::as_str).expect("order"))
                .expect("order json");
        assert_eq!(order["destination"], "s3://media/asset/trickplay/");
        assert_eq!(order["base"], fixture);
        assert!(tree.contains(&format!("trickplay/{fixture}_trickplay.vtt")));
        assert!(tree.contains(&format!("trickplay/{fixture}_trickplay_00001.jpg")));
        assert_eq!(
            meta,
            json!({ "mpe_job_id": "test-job", "mpe_profile": profile })
        );
    }
}

#[test]
fn templates_of_shipped_profiles_are_valid() {
    let out = util::work_dir("cloud-template");
    for profile in ["default", "mobile"] {
        let o = util::mpe(&[
            "cloud",
            "template",
            "-p",
            profile,
            "--dest",
            "s3://media/$fn$/",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let t: Value = serde_json::from_slice(&o.stdout).expect("template JSON");
        assert_eq!(t["Name"], format!("mpe-{profile}"));
        botocore_valid("CreateJobTemplate", &t, &out);
    }
}

#[test]
fn render_errors_are_one_line() {
    let out = util::work_dir("cloud-errors");
    let with_preview = util::write_profile(&out, "default", |p| {
        p["preview"] = json!({ "destination": "preview/" });
    });
    // A tuning MediaConvert cannot say.
    let tuned_dir = out.join("tuned");
    std::fs::create_dir_all(&tuned_dir).expect("dir");
    let tuned = util::write_profile(&tuned_dir, "default", |p| {
        p["video"]["tuning"] = json!({ "scene_cut": 30 });
    });
    for (args, needle) in [
        (
            vec!["--input", "/local/a.mp4", "--dest", "s3://m/a/"],
            "must be an s3://bucket/key URI",
        ),
        (
            vec!["--input", "s3://r/a.mp4", "--dest", "s3://m/a"],
            "must end in '/'",
        ),
        (
            vec![
                "--input",
                "s3://r/a.mp4",
                "--dest",
                "s3://m/a/",
                "-p",
                with_preview.to_str().expect("utf-8"),
            ],
            "field `preview`",
        ),
        (
            vec![
                "--input",
                "s3://r/a.mp4",
                "--dest",
                "s3://m/a/",
                "-p",
                tuned.to_str().expect("utf-8"),
            ],
            "field `video.tuning.scene_cut`",
        ),
    ] {
        let mut all = vec!["cloud", "render", "--role", "arn:aws:iam::1:role/r"];
        all.extend(args);
        let o = util::mpe(&all);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}

/// Writes `job` to `file` and runs it with `mpe transcode --job` on the S3 root `s3`.
fn transcode_job(job: &Value, file: &Path, s3: &Path) -> std::process::Output {
    std::fs::write(file, job.to_string()).expect("job");
    util::mpe(&[
        "transcode",
        "--job",
        file.to_str().expect("utf-8"),
        "--s3-root",
        s3.to_str().expect("utf-8"),
        "--progress",
        "none",
        "--force",
    ])
}

/// That a run failed with one line on stderr, containing `needle`.
fn fails_in_one_line(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle}: {err}");
}

/// A fresh work folder with an S3 root holding `src` as `s3://raw/uploads/<name>`.
fn s3_root(src: &Path, label: &str) -> (PathBuf, PathBuf) {
    let dir = util::work_dir(label);
    let s3 = dir.join("s3");
    std::fs::create_dir_all(s3.join("raw/uploads")).expect("bucket");
    let name = src.file_name().expect("a file name");
    std::fs::copy(src, s3.join("raw/uploads").join(name)).expect("upload");
    (dir, s3)
}

/// Copies the MP4 of the asset a job wrote under `s3` to `dir/<name>.mp4`, kept from
/// the next run.
fn kept_mp4(s3: &Path, dir: &Path, name: &str) -> PathBuf {
    let asset = s3.join("media/asset");
    let f = util::tree(&asset)
        .into_iter()
        .find(|f| f.starts_with("mp4/") && f.ends_with(".mp4"))
        .expect("an MP4");
    let kept = dir.join(format!("{name}.mp4"));
    std::fs::copy(asset.join(f), &kept).expect("keep");
    kept
}

/// `--s3-root` is a jail: URIs that would leave it (dot segments, an empty bucket,
/// absolute paths, other schemes) are refused from the URI alone, the same way whether
/// the file exists or not, and nothing is written outside the root; a Destination at a
/// bucket's top is refused, so `--force` can never replace a bucket.
#[test]
fn a_job_run_with_an_s3_root_never_reads_or_writes_outside_it() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-jail");
    let job = render(&src, "mobile");
    let job_file = dir.join("job.json");
    let text = job.to_string();
    // Another asset in the bucket, which a bucket-top Destination with --force would
    // have replaced.
    std::fs::create_dir_all(s3.join("media/other")).expect("other asset");
    std::fs::write(s3.join("media/other/keep.txt"), "keep").expect("other asset");
    let abs = dir.join("abs");
    std::fs::write(&job_file, "{}").expect("job file");
    let before = util::tree(&dir);
    let hostile = [
        ("s3://media/../../x/".to_string(), "'..' path segment"),
        ("s3://media/a/./b/".into(), "'.' or '..'"),
        ("s3://media//x/".into(), "empty"),
        ("s3:///x/".into(), "names no bucket"),
        ("s3://../x/".into(), "not a valid bucket name"),
        (format!("{}/", abs.display()), "not an s3:// URI"),
        (format!("file://{}/", abs.display()), "not an s3:// URI"),
        ("s3://media/".into(), "the bucket itself"),
    ];
    for (dest, needle) in &hostile {
        let j: Value = serde_json::from_str(&text.replace("s3://media/asset/", dest)).expect("job");
        let o = transcode_job(&j, &job_file, &s3);
        fails_in_one_line(&o, needle);
        assert_eq!(util::tree(&dir), before, "{dest} wrote something");
    }
    assert!(!abs.exists() && !dir.parent().expect("parent").join("x").exists());
    assert_eq!(
        std::fs::read_to_string(s3.join("media/other/keep.txt")).expect("kept"),
        "keep"
    );
    // A FileInput outside the root gets one answer whether the file exists or not.
    let answers: Vec<String> = [
        "s3://raw/../../../../etc/passwd",
        "s3://raw/../../../../etc/nothing-here",
    ]
    .iter()
    .map(|input| {
        let mut j = job.clone();
        j["Settings"]["Inputs"][0]["FileInput"] = json!(input);
        let o = transcode_job(&j, &job_file, &s3);
        fails_in_one_line(&o, "'..' path segment");
        String::from_utf8_lossy(&o.stderr).replace(input, "URI")
    })
    .collect();
    assert_eq!(answers[0], answers[1]);
    assert_eq!(util::tree(&dir), before);
}

#[test]
fn a_rendered_job_runs_locally_into_the_same_tree() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-job");
    let job = render(&src, "mobile");
    let job_file = dir.join("job.json");
    let run = |job: &Value| transcode_job(job, &job_file, &s3);
    let o = run(&job);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_job = s3.join("media/asset");
    let direct = util::transcode(&src, "mobile", &dir.join("direct"));
    assert_eq!(util::tree(&from_job), job_tree(&direct));
    for f in [
        "mp4/short_360p.mp4",
        "dash/short_240pinit.mp4",
        "hls/short_360p_00001.ts",
    ] {
        assert_eq!(
            util::dimensions(&from_job.join(f)),
            util::dimensions(&direct.join(f)),
            "{f}"
        );
    }
    // Frame captures sent to a bucket of their own, as the stack's plan step sends them:
    // they land there, under the same asset path, and the rest stays where it was.
    let mut split = job.clone();
    cloud::mediaconvert::capture_destination(&mut split, "s3://thumbs/asset/thumbnails/")
        .expect("a folder");
    let o = run(&split);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let thumbs = util::tree(&s3.join("thumbs/asset"));
    let (captures, media): (Vec<String>, Vec<String>) = job_tree(&direct)
        .into_iter()
        .partition(|f| f.starts_with("thumbnails/"));
    assert!(!captures.is_empty(), "mobile makes thumbnails");
    assert_eq!(thumbs, captures);
    assert_eq!(util::tree(&from_job), media);
    // The HLS segments carry the program M3u8Settings gives (the first of AudioPids
    // for the one audio stream), as ffprobe reads it.
    let mut program = job.clone();
    for g in program["Settings"]["OutputGroups"]
        .as_array_mut()
        .expect("groups")
    {
        for o in g["Outputs"].as_array_mut().expect("outputs") {
            if o["ContainerSettings"]["Container"] == "M3U8" {
                o["ContainerSettings"]["M3u8Settings"] = json!({
                    "PmtPid": 100, "VideoPid": 256, "AudioPids": [257, 258], "ProgramNumber": 3
                });
            }
        }
    }
    let o = run(&program);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        util::ts_program(&from_job.join("hls/short_360p_00001.ts")),
        (3, 100, 256, vec![256, 257])
    );
    // ManifestDurationFormat INTEGER: the 1.52 s of the source listed as 2.
    let mut whole = job.clone();
    for g in whole["Settings"]["OutputGroups"]
        .as_array_mut()
        .expect("groups")
    {
        if let Some(h) = g.pointer_mut("/OutputGroupSettings/HlsGroupSettings") {
            h["ManifestDurationFormat"] = json!("INTEGER");
        }
    }
    let o = run(&whole);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let playlist = std::fs::read(from_job.join("hls/short_360p.m3u8")).expect("playlist");
    let durations: Vec<f32> = match m3u8_rs::parse_playlist_res(&playlist) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p.segments.iter().map(|s| s.duration).collect(),
        other => panic!("not a media playlist: {other:?}"),
    };
    assert_eq!(durations, [2.0]);
    assert!(
        String::from_utf8_lossy(&playlist).contains("#EXTINF:2,"),
        "{}",
        String::from_utf8_lossy(&playlist)
    );
    // A setting the local executor lacks is named.
    let mut scanned = job.clone();
    scanned["Settings"]["Inputs"][0]["InputScanType"] = json!("PSF");
    let o = run(&scanned);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Settings.Inputs[0].InputScanType: \"PSF\" is not supported"),
        "{stderr}"
    );
}

#[test]
fn render_needs_no_role_and_asks_qvbr_for_capped_crf() {
    let out = util::work_dir("cloud-render-role");
    // A local copy of a 1080p source to plan from: the whole ladder applies.
    let source = util::fixture("hd_16x9");
    let render = |profile: &str, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_mpe"))
            .args(["cloud", "render", "-p", profile])
            .args(["--input", "s3://raw/key.mp4", "--dest", "s3://out/asset/"])
            .arg("--source")
            .arg(&source)
            .args(extra)
            .env_remove("MPE_MEDIACONVERT_ROLE")
            .env_remove("MPE_MEDIACONVERT_QUEUE")
            .env_remove("MPE_STACK_OUTPUTS")
            .output()
            .expect("mpe cloud render");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let job: Value = serde_json::from_slice(&o.stdout).expect("job JSON");
        (job, String::from_utf8_lossy(&o.stderr).to_string())
    };
    // The issue's own command line: no role anywhere, so a placeholder, said on stderr.
    let (job, warning) = render("default", &[]);
    let role = job["Role"].as_str().expect("role");
    assert!(role.contains("REPLACE-WITH"), "{role}");
    assert!(warning.contains("no role"), "{warning}");
    botocore_valid("CreateJob", &job, &out);

    // Role and queue from the deployed stack's outputs.
    let outputs = out.join("outputs.json");
    let doc = json!({ "Stacks": [{ "Outputs": [
        { "OutputKey": "MediaConvertRoleArn", "OutputValue": "arn:aws:iam::123456789012:role/mc-prod" },
        { "OutputKey": "MediaConvertQueueArn", "OutputValue": "arn:aws:mediaconvert:eu-west-3:123456789012:queues/mpe-prod" },
    ] }] });
    std::fs::write(&outputs, doc.to_string()).expect("outputs");
    let (job, warning) = render(
        "default",
        &["--stack-outputs", outputs.to_str().expect("utf-8")],
    );
    assert_eq!(job["Role"], "arn:aws:iam::123456789012:role/mc-prod");
    assert_eq!(
        job["Queue"],
        "arn:aws:mediaconvert:eu-west-3:123456789012:queues/mpe-prod"
    );
    assert!(warning.is_empty(), "{warning}");

    // A capped-CRF profile asks MediaConvert for QVBR, capped by each rung's peak, and
    // the model accepts it.
    let qvbr = util::write_profile(&out, "default", |p| {
        p["video"]["rate_control"] = json!("capped_crf");
        p["video"]["crf"] = json!(20.0);
    });
    let (job, _) = render(qvbr.to_str().expect("utf-8"), &[]);
    botocore_valid("CreateJob", &job, &out);
    let mut rungs = 0;
    for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
        for o in g["Outputs"].as_array().expect("outputs") {
            let h264 = &o["VideoDescription"]["CodecSettings"]["H264Settings"];
            if h264.is_null() {
                continue;
            }
            rungs += 1;
            assert_eq!(h264["RateControlMode"], "QVBR", "{h264:#}");
            assert_eq!(h264["QvbrSettings"]["QvbrQualityLevel"], 8, "{h264:#}");
            assert!(
                h264["MaxBitrate"].as_u64().is_some_and(|b| b > 0),
                "{h264:#}"
            );
            assert!(h264.get("Bitrate").is_none(), "{h264:#}");
        }
    }
    assert!(rungs >= 4, "{rungs} H.264 outputs");
}

#[test]
fn a_job_with_the_denoise_filter_comes_nearer_the_clean_picture() {
    let (noisy, clean) = (util::fixture("noisy"), util::fixture("noisy_clean"));
    let (dir, s3) = s3_root(&noisy, "cloud-denoise");
    // Near-transparent encodes (QVBR 10), so that what differs is the filter's doing.
    let mut job = render(&noisy, "default");
    util::each_h264(&mut job, |h| {
        h["RateControlMode"] = json!("QVBR");
        h["QvbrSettings"] = json!({ "QvbrQualityLevel": 10 });
        h["MaxBitrate"] = json!(8_000_000);
        h["HrdBufferSize"] = json!(16_000_000);
        if let Some(m) = h.as_object_mut() {
            m.remove("Bitrate");
        }
    });
    let run = |job: &Value, name: &str| -> PathBuf {
        let o = transcode_job(job, &dir.join(format!("{name}.json")), &s3);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        kept_mp4(&s3, &dir, name)
    };
    let plain = run(&job, "plain");
    let mut filtered = job.clone();
    let input = &mut filtered["Settings"]["Inputs"][0];
    input["FilterEnable"] = json!("FORCE");
    input["FilterStrength"] = json!(5);
    input["DenoiseFilter"] = json!("ENABLED");
    // Deblock applies to MPEG-2 and uncompressed sources only; asked of H.264, nothing.
    input["DeblockFilter"] = json!("ENABLED");
    crate::cloud::botocore_valid("CreateJob", &filtered, &dir);
    let denoised = run(&filtered, "denoised");
    // Mid-clip frames, each against the clean picture at that time, by FFmpeg's PSNR.
    let mut gains = Vec::new();
    for t in [0.4, 1.0, 1.6] {
        let frame = |p: &Path, name: &str| {
            let out = dir.join(format!("{name}-{t}.png"));
            util::ffmpeg_frame(p, t, &out);
            out
        };
        let reference = frame(&clean, "clean");
        let (p, d) = (
            util::psnr(&frame(&plain, "plain"), &reference),
            util::psnr(&frame(&denoised, "denoised"), &reference),
        );
        gains.push(d - p);
    }
    assert!(gains.iter().all(|g| *g > 2.0), "PSNR gains {gains:?} dB");
}

/// What FFmpeg's astats says of a file's audio.
fn astats(path: &Path) -> String {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-af", "astats", "-f", "null", "-"])
        .output()
        .expect("ffmpeg astats");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The overall RMS level of a file's audio, in dBFS, by FFmpeg's astats.
fn rms_db(path: &Path) -> f64 {
    let log = astats(path);
    log.lines()
        .rev()
        .find(|l| l.contains("RMS level dB:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RMS level for {}: {log}", path.display()))
}

#[test]
fn the_audio_selectors_track_picks_the_sources_audio_track() {
    let src = util::fixture("two_tracks");
    let (dir, s3) = s3_root(&src, "cloud-tracks");
    let job = render(&src, "default");
    let mp4 = |name: &str| kept_mp4(&s3, &dir, name);
    let o = transcode_job(&job, &dir.join("first.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = rms_db(&mp4("first"));
    let mut second = job.clone();
    second["Settings"]["Inputs"][0]["AudioSelectors"]["Audio Selector 1"] =
        json!({ "DefaultSelection": "DEFAULT", "SelectorType": "TRACK", "Tracks": [2] });
    crate::cloud::botocore_valid("CreateJob", &second, &dir);
    let o = transcode_job(&second, &dir.join("second.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let quiet = rms_db(&mp4("second"));
    // The loud track is about -9 dBFS, the quiet one about -37.
    assert!(
        first > -12.0 && quiet < -30.0,
        "track 1 {first} dB, track 2 {quiet} dB"
    );
    // A track the source lacks: one line that says so.
    second["Settings"]["Inputs"][0]["AudioSelectors"]["Audio Selector 1"]["Tracks"] = json!([3]);
    let o = transcode_job(&second, &dir.join("third.json"), &s3);
    fails_in_one_line(&o, "no audio track 3 (it has 2)");
}

/// Each channel's RMS level of a file's audio, in dBFS, by FFmpeg's astats, in order.
fn channel_rms_db(path: &Path) -> Vec<f64> {
    let log = astats(path);
    // Per channel: "Channel: n" then its figures; "Overall" ends them.
    let mut levels = Vec::new();
    let mut in_channel = false;
    for l in log.lines() {
        if l.contains("] Channel:") {
            in_channel = true;
        } else if l.contains("] Overall") {
            in_channel = false;
        } else if in_channel && l.contains("RMS level dB:") {
            let v = l.rsplit(':').next().and_then(|v| v.trim().parse().ok());
            levels.push(v.unwrap_or_else(|| panic!("RMS level in {l:?}")));
            in_channel = false;
        }
    }
    assert!(
        !levels.is_empty(),
        "no channel levels for {}: {log}",
        path.display()
    );
    levels
}

#[test]
fn an_audio_selector_of_several_tracks_makes_one_audio_of_their_channels() {
    // Two mono tracks, loud and quiet: `Tracks: [1, 2]` makes them left and right.
    let src = util::fixture("mono_pair");
    let (dir, s3) = s3_root(&src, "cloud-mixed-tracks");
    let profile = util::write_profile(&dir, "default", |p| {
        p["audio"]["tracks"] = json!([1, 2]);
    });
    let job = render(&src, profile.to_str().expect("utf-8"));
    let selector =
        |job: &Value| job["Settings"]["Inputs"][0]["AudioSelectors"]["Audio Selector 1"].clone();
    assert_eq!(selector(&job)["Tracks"], json!([1, 2]), "{job:#}");
    botocore_valid("CreateJob", &job, &dir);
    let o = transcode_job(&job, &dir.join("first.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mp4 = |name: &str| kept_mp4(&s3, &dir, name);
    let levels = channel_rms_db(&mp4("loud_left"));
    assert!(
        levels.len() == 2 && levels[0] > -12.0 && levels[1] < -30.0,
        "left is track 1 (-9 dB), right track 2 (-37 dB): {levels:?}"
    );
    // The other order swaps them.
    let mut swapped = job.clone();
    swapped["Settings"]["Inputs"][0]["AudioSelectors"]["Audio Selector 1"]["Tracks"] =
        json!([2, 1]);
    let o = transcode_job(&swapped, &dir.join("second.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let levels = channel_rms_db(&mp4("loud_right"));
    assert!(
        levels.len() == 2 && levels[0] < -30.0 && levels[1] > -12.0,
        "left is track 2, right track 1: {levels:?}"
    );
    // One of them missing: one line that names it.
    swapped["Settings"]["Inputs"][0]["AudioSelectors"]["Audio Selector 1"]["Tracks"] =
        json!([1, 3]);
    let o = transcode_job(&swapped, &dir.join("third.json"), &s3);
    fails_in_one_line(&o, "no audio track 3 (it has 2)");
}

/// The AAC settings every output of a job asks: `"<group type> <NameModifier>"`, whether
/// the output is audio-only, and its Bitrate, CodingMode and SampleRate.
fn audio_asked(job: &Value) -> Vec<(String, bool, [Value; 3])> {
    let mut asked = Vec::new();
    for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
        for o in g["Outputs"].as_array().expect("outputs") {
            let aac = &o["AudioDescriptions"][0]["CodecSettings"]["AacSettings"];
            if aac.is_null() {
                continue;
            }
            let at = format!(
                "{} {}",
                g["OutputGroupSettings"]["Type"].as_str().unwrap_or(""),
                o["NameModifier"].as_str().unwrap_or("")
            );
            let settings = ["Bitrate", "CodingMode", "SampleRate"].map(|k| aac[k].clone());
            asked.push((at, o["VideoDescription"].is_null(), settings));
        }
    }
    asked
}

#[test]
fn each_rung_muxes_the_audio_its_output_asks_encoded_once_per_setting() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-rung-audio");
    // The 240p rung asks mono 48 kb/s at 44.1 kHz; the rest keep the profile's 96 kb/s.
    let profile = util::write_profile(&dir, "mobile", |p| {
        p["renditions"][3]["audio"] =
            json!({ "bitrate": 48000, "channels": 1, "sample_rate": 44100 });
    });
    let profile = profile.to_str().expect("utf-8");
    let job = render(&src, profile);
    botocore_valid("CreateJob", &job, &dir);
    let mut asked: Vec<_> = audio_asked(&job)
        .into_iter()
        .map(|(at, _, [b, c, r])| (at, b, c, r))
        .collect();
    let stereo = (json!(96000), json!("CODING_MODE_2_0"), json!(48000));
    let want = |g: &str, (b, c, r): &(Value, Value, Value)| {
        (g.to_string(), b.clone(), c.clone(), r.clone())
    };
    let mono = (json!(48000), json!("CODING_MODE_1_0"), json!(44100));
    asked.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        asked,
        [
            want("DASH_ISO_GROUP_SETTINGS _audio", &stereo),
            want("FILE_GROUP_SETTINGS _360p", &stereo),
            want("HLS_GROUP_SETTINGS _240p", &mono),
            want("HLS_GROUP_SETTINGS _360p", &stereo),
        ]
    );

    // Run locally from the job: the profile's tree, each output with the audio it asked.
    let o = transcode_job(&job, &dir.join("job.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asset = s3.join("media/asset");
    let direct = util::transcode(&src, profile, &dir.join("direct"));
    assert_eq!(util::tree(&asset), job_tree(&direct));
    for (f, channels, rate) in [
        ("hls/short_240p_00001.ts", 1, "44100"),
        ("hls/short_360p_00001.ts", 2, "48000"),
        ("mp4/short_360p.mp4", 2, "48000"),
        ("dash/short_audioinit.mp4", 2, "48000"),
    ] {
        let p = util::ffprobe(&asset.join(f));
        let a = util::stream(&p, "audio").unwrap_or_else(|| panic!("{f}: no audio"));
        assert_eq!(a["channels"], channels, "{f}: {a:#}");
        assert_eq!(a["sample_rate"], rate, "{f}: {a:#}");
    }
    // One encoding shared: the 360p segments and MP4 carry the very same AAC packets
    // (the demuxer hands MPEG-TS's with their 7-byte ADTS headers).
    let sizes = |f: &str, header: u64| -> Vec<u64> {
        util::packets(&asset.join(f), "a")
            .iter()
            .map(|p| p.2 - header)
            .collect()
    };
    let ts = sizes("hls/short_360p.m3u8", 7);
    let mp4 = sizes("mp4/short_360p.mp4", 0);
    assert!(ts.len() > 20, "{} packets", ts.len());
    assert_eq!(ts, mp4);
    assert_ne!(sizes("hls/short_240p.m3u8", 7), ts);
}

#[test]
fn a_renditions_mp4_may_carry_other_audio_than_its_ts_segments() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-file-audio");
    // The 360p MP4 asks 160 kb/s at 44.1 kHz; its TS segments keep the profile's.
    let profile = util::write_profile(&dir, "mobile", |p| {
        p["renditions"][2]["file_audio"] =
            json!({ "bitrate": 160000, "channels": 2, "sample_rate": 44100 });
    });
    let profile = profile.to_str().expect("utf-8");
    let job = render(&src, profile);
    botocore_valid("CreateJob", &job, &dir);
    let asked: Vec<String> = audio_asked(&job)
        .into_iter()
        .filter(|(at, _, _)| at.ends_with("_360p"))
        .map(|(at, _, [b, _, r])| format!("{at} {b} {r}"))
        .collect();
    assert_eq!(
        asked,
        [
            "HLS_GROUP_SETTINGS _360p 96000 48000",
            "FILE_GROUP_SETTINGS _360p 160000 44100"
        ]
    );
    let o = transcode_job(&job, &dir.join("job.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asset = s3.join("media/asset");
    assert_eq!(
        util::tree(&asset),
        job_tree(&util::transcode(&src, profile, &dir.join("direct")))
    );
    for (f, rate, bitrate) in [
        ("hls/short_360p.m3u8", 48000.0, 96_000.0),
        ("mp4/short_360p.mp4", 44100.0, 160_000.0),
    ] {
        let probed = util::ffprobe(&asset.join(f));
        let a = util::stream(&probed, "audio").unwrap_or_else(|| panic!("{f}: no audio"));
        assert_eq!(a["sample_rate"], rate.to_string(), "{f}: {a:#}");
        // The TS demuxer hands AAC with its 7-byte ADTS headers.
        let header = if f.ends_with(".m3u8") { 7 } else { 0 };
        let packets = util::packets(&asset.join(f), "a");
        let bytes: u64 = packets.iter().map(|p| p.2 - header).sum();
        let got = bytes as f64 * 8.0 / (packets.len() as f64 * 1024.0 / rate);
        assert!(
            (got / bitrate - 1.0).abs() < 0.15,
            "{f}: {got:.0} b/s for {bitrate}"
        );
    }
}

#[test]
fn several_audio_only_outputs_are_renditions_of_one_audio_group() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-audio-renditions");
    // Beside the profile's 128 kb/s stereo: 64 kb/s stereo (one adaptation set with it)
    // and 48 kb/s mono at 44.1 kHz (a set of its own), in the CMAF and the DASH group.
    let profile = util::write_profile(&dir, "default", |p| {
        p["outputs"]["dash"] = json!({ "destination": "dash/" });
        p["audio_renditions"] = json!([
            { "name": "audio_64k", "audio": { "bitrate": 64000, "channels": 2, "sample_rate": 48000 } },
            { "name": "audio_mono", "audio": { "bitrate": 48000, "channels": 1, "sample_rate": 44100 } },
        ]);
    });
    let profile = profile.to_str().expect("utf-8");
    let job = render(&src, profile);
    botocore_valid("CreateJob", &job, &dir);
    let asked: Vec<String> = audio_asked(&job)
        .into_iter()
        .filter(|(_, audio_only, _)| *audio_only)
        .map(|(at, _, [b, c, r])| format!("{at} {b} {} {r}", c.as_str().unwrap_or("")))
        .collect();
    let want: Vec<String> = ["CMAF_GROUP_SETTINGS", "DASH_ISO_GROUP_SETTINGS"]
        .iter()
        .flat_map(|g| {
            [
                format!("{g} _audio 128000 CODING_MODE_2_0 48000"),
                format!("{g} _audio_64k 64000 CODING_MODE_2_0 48000"),
                format!("{g} _audio_mono 48000 CODING_MODE_1_0 44100"),
            ]
        })
        .collect();
    assert_eq!(asked, want);
    // The files MediaConvert's rules name for them are the files the job writes.
    let o = transcode_job(&job, &dir.join("job.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asset = s3.join("media/asset");
    let tree = util::tree(&asset);
    for f in predicted(&job, "short") {
        assert!(tree.contains(&f), "{f} missing from {tree:?}");
    }
    let direct = util::transcode(&src, profile, &dir.join("direct"));
    assert_eq!(tree, job_tree(&direct));
    // Each output is what it asked, by ffprobe: channels, rate, bitrate within 15 %.
    for (f, channels, rate, bitrate) in [
        ("cmaf/short_audio.m3u8", 2, "48000", 128_000.0),
        ("cmaf/short_audio_64k.m3u8", 2, "48000", 64_000.0),
        ("cmaf/short_audio_mono.m3u8", 1, "44100", 48_000.0),
    ] {
        let p = util::ffprobe(&asset.join(f));
        let a = util::stream(&p, "audio").unwrap_or_else(|| panic!("{f}: no audio"));
        assert_eq!(a["channels"], channels, "{f}: {a:#}");
        assert_eq!(a["sample_rate"], rate, "{f}: {a:#}");
        let packets = util::packets(&asset.join(f), "a");
        let bytes: u64 = packets.iter().map(|p| p.2).sum();
        let seconds = packets.len() as f64 * 1024.0 / rate.parse::<f64>().expect("rate");
        let got = bytes as f64 * 8.0 / seconds;
        assert!(
            (got / bitrate - 1.0).abs() < 0.15,
            "{f}: {got:.0} b/s for {bitrate}"
        );
    }
    // The players offer all three: hls.js as tracks of the one audio group (the
    // profile's the default), dash.js as representations.
    let v = crate::player::play(&asset, "cmaf/short.m3u8", "hls");
    let tracks = v["audio"].as_array().expect("audio tracks");
    assert_eq!(tracks.len(), 3, "{v:#}");
    let defaults: Vec<_> = tracks.iter().filter(|t| t["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "{v:#}");
    assert!(
        defaults[0]["url"]
            .as_str()
            .unwrap_or("")
            .ends_with("short_audio.m3u8"),
        "{v:#}"
    );
    assert!(tracks.iter().any(|t| t["channels"] == 1), "{v:#}");
    for manifest in ["cmaf/short.mpd", "dash/short.mpd"] {
        let v = crate::player::play(&asset, manifest, "dash");
        let mut ids: Vec<&str> = v["audio"]
            .as_array()
            .expect("audio")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            ["audio", "audio_64k", "audio_mono"],
            "{manifest}: {v:#}"
        );
    }
}

#[test]
fn no_audio_segment_of_a_frame_or_two_trails_the_last_video_segment() {
    // The bundled sample lasts exactly 6 s, one segment: AAC's last frames (at 48 kHz
    // and at 44.1 kHz) start at the boundary and would open a second segment of 21 ms.
    let src = util::repo().join("fixtures/sample.mp4");
    let dir = util::work_dir("audio-tail");
    let profile = util::write_profile(&dir, "default", |p| {
        p["audio_renditions"] = json!([
            { "name": "audio_mono", "audio": { "bitrate": 48000, "channels": 1, "sample_rate": 44100 } },
        ]);
    });
    let asset = util::transcode(&src, profile.to_str().expect("utf-8"), &dir.join("out"));
    let tree = util::tree(&asset);
    for name in ["360p", "audio", "audio_mono"] {
        let segments: Vec<_> = tree
            .iter()
            .filter(|f| f.starts_with(&format!("cmaf/sample_{name}_0")))
            .collect();
        assert_eq!(segments.len(), 1, "{name}: {segments:?}");
    }
    // Nothing lost: the audio still runs to the end of the video.
    for (playlist, rate) in [
        ("cmaf/sample_audio.m3u8", 48000.0),
        ("cmaf/sample_audio_mono.m3u8", 44100.0),
    ] {
        let packets = util::packets(&asset.join(playlist), "a");
        let seconds = packets.len() as f64 * 1024.0 / rate;
        assert!(seconds >= 6.0 - 0.03, "{playlist}: {seconds} s of audio");
    }
    let v = crate::player::play_for(&asset, "cmaf/sample.mpd", "dash", 6.0);
    assert!(!crate::player::heights(&v).is_empty(), "{v:#}");
}

/// The fine detail of a video's luma: the mean squared difference between each picture
/// and itself under a Gaussian blur, as FFmpeg's gblur and psnr filters measure it. A
/// softer scaler leaves less for the blur to take away.
fn detail(path: &Path) -> f64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "movie={},format=gray,split[a][b];[b]gblur=sigma=1[c];[a][c]psnr",
            path.display()
        ))
        .args([
            "-show_entries",
            "frame_tags=lavfi.psnr.mse_avg",
            "-of",
            "csv=p=0",
        ])
        .output()
        .expect("ffprobe");
    let values: Vec<f64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    assert!(!values.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn sharpness_picks_the_scalers_kernel_softer_to_sharper() {
    let src = util::fixture("hd_720p");
    let (dir, s3) = s3_root(&src, "cloud-sharpness");
    // A profile asking Sharpness 0 renders it on every video output, valid by the model.
    let soft = util::write_profile(&dir, "mobile", |p| {
        for r in p["renditions"].as_array_mut().expect("renditions") {
            r["sharpness"] = json!(0);
        }
    });
    let mut job = render(&src, soft.to_str().expect("utf-8"));
    botocore_valid("CreateJob", &job, &dir);
    let mut outputs = 0;
    for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
        for o in g["Outputs"].as_array().expect("outputs") {
            if o["VideoDescription"]["CodecSettings"]["Codec"] == "H_264" {
                assert_eq!(o["VideoDescription"]["Sharpness"], 0, "{o:#}");
                outputs += 1;
            }
        }
    }
    assert!(outputs >= 4, "{outputs} video outputs");
    // The 360p MP4 (a downscale by two) at Sharpness 0, 50 and 100.
    let mut details = Vec::new();
    for s in [0, 50, 100] {
        for g in job["Settings"]["OutputGroups"]
            .as_array_mut()
            .expect("groups")
        {
            for o in g["Outputs"].as_array_mut().expect("outputs") {
                if o["VideoDescription"]["CodecSettings"]["Codec"] == "H_264" {
                    o["VideoDescription"]["Sharpness"] = json!(s);
                }
            }
        }
        let o = transcode_job(&job, &dir.join(format!("job{s}.json")), &s3);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !stderr.contains("Sharpness"),
            "followed, not warned: {stderr}"
        );
        details.push(detail(&kept_mp4(&s3, &dir, &format!("s{s}"))));
    }
    assert!(
        details[0] < details[1] && details[1] < details[2],
        "detail at Sharpness 0, 50, 100: {details:?}"
    );
}

/// The EXT-X-PROGRAM-DATE-TIME of each segment of a media playlist, as written; m3u8-rs
/// must read the same number of dated segments.
fn program_date_times(path: &Path) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(path).expect("playlist");
    let mut tags = Vec::new();
    let mut pending = None;
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pending = Some(t.to_string());
        } else if line.starts_with("#EXTINF:") {
            tags.push(pending.take());
        }
    }
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => assert_eq!(
            p.segments
                .iter()
                .filter(|s| s.program_date_time.is_some())
                .count(),
            tags.iter().flatten().count(),
            "{text}"
        ),
        other => panic!("{}: not a media playlist: {other:?}", path.display()),
    }
    tags
}

/// A test's setup around `timecoded` (8 s, 30 fps, 640x360): a work folder with its S3
/// root, the mobile profile edited by `edit`, and that profile's job, valid by botocore.
struct Rendered {
    src: PathBuf,
    dir: PathBuf,
    s3: PathBuf,
    profile: String,
    job: Value,
}

impl Rendered {
    /// Runs the job; it must write the tree a direct transcode with the profile writes.
    /// Returns the asset folder.
    fn run_as_direct(&self) -> PathBuf {
        let o = transcode_job(&self.job, &self.dir.join("job.json"), &self.s3);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let asset = self.s3.join("media/asset");
        let direct = util::transcode(&self.src, &self.profile, &self.dir.join("direct"));
        assert_eq!(util::tree(&asset), job_tree(&direct));
        asset
    }
}

fn rendered_timecoded(label: &str, edit: impl FnOnce(&mut Value)) -> Rendered {
    let src = util::fixture("timecoded");
    let (dir, s3) = s3_root(&src, label);
    let profile = util::write_profile(&dir, "mobile", edit)
        .to_str()
        .expect("utf-8")
        .to_string();
    let job = render(&src, &profile);
    botocore_valid("CreateJob", &job, &dir);
    Rendered {
        src,
        dir,
        s3,
        profile,
        job,
    }
}

#[test]
fn program_date_time_tags_the_hls_segments_from_the_timecode_and_date() {
    let Rendered {
        dir, s3, mut job, ..
    } = rendered_timecoded("cloud-pdt", |p| {
        p["video"]["segment_seconds"] = json!(2);
        p["outputs"]["hls"]["program_date_time"] =
            json!({ "date": "2026-01-25", "period_seconds": 3 });
    });
    let hls = job["Settings"]["OutputGroups"]
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|g| g["OutputGroupSettings"]["Type"] == "HLS_GROUP_SETTINGS")
        })
        .map(|g| g["OutputGroupSettings"]["HlsGroupSettings"].clone())
        .expect("an HLS group");
    assert_eq!(hls["ProgramDateTime"], "INCLUDE");
    assert_eq!(hls["ProgramDateTimePeriod"], 3);
    assert_eq!(
        job["Settings"]["TimecodeConfig"],
        json!({ "Source": "EMBEDDED", "TimestampOffset": "2026-01-25" })
    );
    let playlist = s3.join("media/asset/hls/timecoded_360p.m3u8");
    let run = |job: &Value, name: &str| {
        let o = transcode_job(job, &dir.join(name), &s3);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        program_date_times(&playlist)
    };
    // EMBEDDED: the source's own 01:00:00:00 on the offset's date; segments of 2 s, a tag
    // on the first and then on the first at or after each 3 s.
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        run(&job, "embedded.json"),
        [
            some("2026-01-25T01:00:00.000Z"),
            None,
            some("2026-01-25T01:00:04.000Z"),
            some("2026-01-25T01:00:06.000Z"),
        ]
    );
    let v = crate::player::play(&s3.join("media/asset"), "hls/timecoded.m3u8", "hls");
    assert!(!crate::player::heights(&v).is_empty(), "{v:#}");
    // SPECIFIEDSTART: that time of day.
    job["Settings"]["TimecodeConfig"] = json!({
        "Source": "SPECIFIEDSTART", "Start": "10:30:00:15", "TimestampOffset": "2026-01-25"
    });
    let tags = run(&job, "specified.json");
    assert_eq!(tags[0], some("2026-01-25T10:30:00.500Z"), "{tags:?}");
    // ZEROBASED without an offset: midnight of the day it runs.
    job["Settings"]["TimecodeConfig"] = json!({ "Source": "ZEROBASED" });
    let tags = run(&job, "zero.json");
    let first = tags[0].clone().expect("a first tag");
    assert!(first.ends_with("T00:00:00.000Z"), "{first}");
    assert_ne!(&first[..10], "2026-01-25");
    // A start the input's frame rate cannot have: one line naming it.
    job["Settings"]["TimecodeConfig"] =
        json!({ "Source": "SPECIFIEDSTART", "Start": "10:30:00:45" });
    let o = transcode_job(&job, &dir.join("bad.json"), &s3);
    fails_in_one_line(&o, "10:30:00:45");
}

#[test]
fn cmaf_integer_durations_round_its_hls_playlists_not_its_mpd() {
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-cmaf-integer");
    let mut job = render(&src, "default");
    let mut groups = 0;
    for g in job["Settings"]["OutputGroups"]
        .as_array_mut()
        .expect("groups")
    {
        if let Some(c) = g.pointer_mut("/OutputGroupSettings/CmafGroupSettings") {
            c["ManifestDurationFormat"] = json!("INTEGER");
            groups += 1;
        }
    }
    assert_eq!(groups, 1, "the default profile has one CMAF group");
    botocore_valid("CreateJob", &job, &dir);
    let o = transcode_job(&job, &dir.join("job.json"), &s3);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cmaf = s3.join("media/asset/cmaf");
    let playlists: Vec<String> = util::tree(&cmaf)
        .into_iter()
        .filter(|f| f.ends_with(".m3u8") && f.contains('_'))
        .collect();
    assert!(!playlists.is_empty());
    for p in &playlists {
        let text = std::fs::read_to_string(cmaf.join(p)).expect("playlist");
        // The source's 1.5 s or so listed as 2.
        assert!(text.contains("#EXTINF:2,"), "{p}: {text}");
    }
    let mpd = util::tree(&cmaf)
        .into_iter()
        .find(|f| f.ends_with(".mpd"))
        .expect("an MPD");
    let mpd = std::fs::read_to_string(cmaf.join(mpd)).expect("MPD");
    assert!(
        mpd.contains("mediaPresentationDuration=\"PT0H0M1."),
        "exact in the MPD: {mpd}"
    );
}

#[test]
fn hls_single_file_writes_one_ts_per_output_addressed_by_byte_ranges() {
    let r = rendered_timecoded("cloud-single-file", |p| {
        p["video"]["segment_seconds"] = json!(2);
        p["outputs"]["hls"]["single_file"] = json!(true);
    });
    let (dir, job) = (&r.dir, &r.job);
    let segment_controls: Vec<Value> = job["Settings"]["OutputGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| {
            g["OutputGroupSettings"]
                .as_object()
                .and_then(|s| s.values().find_map(|v| v.get("SegmentControl")).cloned())
        })
        .collect();
    assert_eq!(
        segment_controls,
        [json!("SINGLE_FILE"), json!("SEGMENTED_FILES")]
    );
    let asset = r.run_as_direct();
    let hls: Vec<String> = util::tree(&asset.join("hls"));
    assert_eq!(
        hls,
        [
            "timecoded.m3u8",
            "timecoded_240p.m3u8",
            "timecoded_240p.ts",
            "timecoded_360p.m3u8",
            "timecoded_360p.ts"
        ]
    );
    let ts = asset.join("hls/timecoded_360p.ts");
    let whole = std::fs::read(&ts).expect("the one file");
    let bytes = std::fs::read(asset.join("hls/timecoded_360p.m3u8")).expect("playlist");
    let Ok(m3u8_rs::Playlist::MediaPlaylist(p)) = m3u8_rs::parse_playlist_res(&bytes) else {
        panic!("not a media playlist");
    };
    assert_eq!(p.segments.len(), 4, "8 s in 2 s segments");
    let mut next = 0;
    for (i, s) in p.segments.iter().enumerate() {
        assert_eq!(s.uri, "timecoded_360p.ts");
        let r = s.byte_range.as_ref().expect("a byte range");
        let offset = r.offset.expect("an explicit offset");
        // Contiguous ranges covering the file, each a whole TS packet run that decodes
        // on its own from a keyframe.
        assert_eq!(offset, next, "segment {i}");
        next = offset + r.length;
        let part = &whole[offset as usize..next as usize];
        assert!(part.len() % 188 == 0 && part[0] == 0x47, "segment {i}");
        let piece = dir.join(format!("piece{i}.ts"));
        std::fs::write(&piece, part).expect("piece");
        let first = util::packets(&piece, "v").first().copied().expect("video");
        assert!(first.1, "segment {i} starts with a keyframe");
    }
    assert_eq!(next, whole.len() as u64);
    let v = crate::player::play(&asset, "hls/timecoded.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
}

#[test]
fn gop_multiple_rounds_segments_up_and_a_short_final_segment_joins_the_one_before() {
    // 8 s at 30 fps; GOPs of 50 frames (5/3 s); SegmentLength 2 rounded up to two GOPs
    // (10/3 s): 100 + 100 + 40 frames, and the 40-frame tail, under MinFinalSegmentLength
    // 1.5 s, joins the second segment: 100 + 140 frames.
    let r = rendered_timecoded("cloud-segment-control", |p| {
        p["video"]["gop_frames"] = json!(50);
        p["video"]["segment_seconds"] = json!(2);
        p["video"]["segments_whole_gops"] = json!(true);
        p["video"]["min_final_segment_seconds"] = json!(1.5);
        p["outputs"]["cmaf"] = json!({ "destination": "cmaf/" });
    });
    let (dir, job) = (&r.dir, &r.job);
    let mut streaming = 0;
    for g in job["Settings"]["OutputGroups"].as_array().expect("groups") {
        let Some(s) = g["OutputGroupSettings"]
            .as_object()
            .and_then(|s| s.values().find(|v| v.get("SegmentLength").is_some()))
        else {
            continue;
        };
        streaming += 1;
        assert_eq!(s["SegmentLength"], 2, "{s}");
        assert_eq!(s["SegmentLengthControl"], "GOP_MULTIPLE", "{s}");
        assert_eq!(s["MinFinalSegmentLength"], 1.5, "{s}");
    }
    assert_eq!(streaming, 3, "HLS, DASH ISO and CMAF");
    let asset = r.run_as_direct();

    let hls = asset.join("hls");
    for rung in ["360p", "240p"] {
        assert_eq!(
            util::extinf(&hls.join(format!("timecoded_{rung}.m3u8"))),
            [3.333, 4.667],
            "{rung}"
        );
    }
    // The keyframes are the GOP's own: none forced at 2, 4 or 6 s, as EXACT would.
    let joined = dir.join("joined-360p.ts");
    let segs: Vec<PathBuf> = (1..=2)
        .map(|n| hls.join(format!("timecoded_360p_{n:05}.ts")))
        .collect();
    util::join_segments(None, &segs, &joined);
    let keys: Vec<f64> = util::packets(&joined, "v")
        .iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .collect();
    let t0 = keys[0];
    let keys: Vec<f64> = keys
        .iter()
        .map(|t| ((t - t0) * 1000.0).round() / 1000.0)
        .collect();
    assert_eq!(keys, [0.0, 1.667, 3.333, 5.0, 6.667]);

    // The joined fMP4 segments: two per output, each a run of fragments that ffprobe
    // reads after the init segment, the second 140 frames.
    let cmaf = asset.join("cmaf");
    assert_eq!(
        util::extinf(&cmaf.join("timecoded_360p.m3u8")),
        [3.333, 4.667]
    );
    let cmaf_files: Vec<String> = util::tree(&cmaf)
        .into_iter()
        .filter(|f| f.starts_with("timecoded_360p_") && f.ends_with(".cmfv"))
        .collect();
    assert_eq!(cmaf_files.len(), 2, "{cmaf_files:?}");
    let last = dir.join("last-360p.mp4");
    util::join_segments(
        Some(&cmaf.join("timecoded_360pinit.cmfv")),
        &[cmaf.join(&cmaf_files[1])],
        &last,
    );
    let frames = util::packets(&last, "v");
    assert_eq!(frames.len(), 140);
    let mpd = util::tree(&asset.join("dash"))
        .into_iter()
        .find(|f| f.ends_with(".mpd"))
        .expect("an MPD");
    let mpd = std::fs::read_to_string(asset.join("dash").join(mpd)).expect("MPD");
    assert!(mpd.contains("d=\"4667\""), "{mpd}");

    // And players take them, to the end.
    let v = crate::player::play_for(&asset, "hls/timecoded.m3u8", "hls", 8.0);
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
    let v = crate::player::play_for(&asset, "dash/timecoded.mpd", "dash", 8.0);
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
}

#[test]
fn dash_and_cmaf_single_file_write_one_indexed_fmp4_per_output() {
    let r = rendered_timecoded("cloud-single-fmp4", |p| {
        p["video"]["segment_seconds"] = json!(2);
        p["outputs"]["dash"]["single_file"] = json!(true);
        p["outputs"]["cmaf"] = json!({ "destination": "cmaf/", "single_file": true });
    });
    let (dir, job) = (&r.dir, &r.job);
    let controls: Vec<(Value, Value)> = job["Settings"]["OutputGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| {
            let s = g["OutputGroupSettings"].as_object()?;
            let c = s.values().find_map(|v| v.get("SegmentControl"))?;
            Some((s["Type"].clone(), c.clone()))
        })
        .collect();
    assert_eq!(
        controls,
        [
            (json!("CMAF_GROUP_SETTINGS"), json!("SINGLE_FILE")),
            (json!("HLS_GROUP_SETTINGS"), json!("SEGMENTED_FILES")),
            (json!("DASH_ISO_GROUP_SETTINGS"), json!("SINGLE_FILE")),
        ]
    );
    let asset = r.run_as_direct();
    let dash = asset.join("dash");
    assert_eq!(
        util::tree(&dash),
        [
            "timecoded.mpd",
            "timecoded_240p.mp4",
            "timecoded_360p.mp4",
            "timecoded_audio.mp4"
        ]
    );
    let cmaf = asset.join("cmaf");
    assert_eq!(
        util::tree(&cmaf)
            .into_iter()
            .filter(|f| !f.ends_with(".m3u8") && !f.ends_with(".mpd"))
            .collect::<Vec<_>>(),
        [
            "timecoded_240p.cmfv",
            "timecoded_360p.cmfv",
            "timecoded_audio.cmfa"
        ]
    );
    // Each file is a whole MP4 to FFmpeg: 8 s of video with a keyframe every 2 s.
    let keys: Vec<f64> = util::packets(&dash.join("timecoded_360p.mp4"), "v")
        .iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    // The CMAF playlists address it by ranges: the init from 0, then segments that tile
    // the rest of the file after the index, each decoding on its own from a keyframe.
    let file = cmaf.join("timecoded_360p.cmfv");
    let whole = std::fs::read(&file).expect("the one file");
    let bytes = std::fs::read(cmaf.join("timecoded_360p.m3u8")).expect("playlist");
    let Ok(m3u8_rs::Playlist::MediaPlaylist(p)) = m3u8_rs::parse_playlist_res(&bytes) else {
        panic!("not a media playlist");
    };
    let map = p.segments[0].map.as_ref().expect("EXT-X-MAP");
    let init = map.byte_range.as_ref().expect("the init's range");
    assert_eq!(
        (map.uri.as_str(), init.offset),
        ("timecoded_360p.cmfv", Some(0))
    );
    let init = &whole[..init.length as usize];
    // The index sits between the init and the first segment: a `sidx` box.
    let first = p.segments[0].byte_range.as_ref().expect("a range");
    let index = &whole[init.len()..first.offset.expect("offset") as usize];
    assert_eq!(&index[4..8], b"sidx");
    assert_eq!(
        u32::from_be_bytes(index[..4].try_into().expect("4")) as usize,
        index.len()
    );
    assert_eq!(p.segments.len(), 4);
    let mut next = (init.len() + index.len()) as u64;
    for (i, s) in p.segments.iter().enumerate() {
        let r = s.byte_range.as_ref().expect("a byte range");
        assert_eq!(
            (s.uri.as_str(), r.offset),
            ("timecoded_360p.cmfv", Some(next))
        );
        let mut piece = init.to_vec();
        piece.extend(&whole[next as usize..(next + r.length) as usize]);
        next += r.length;
        let path = dir.join(format!("piece{i}.mp4"));
        std::fs::write(&path, piece).expect("piece");
        let frames = util::packets(&path, "v");
        assert_eq!(frames.len(), 60, "segment {i}: 2 s at 30 fps");
        assert!(frames[0].1, "segment {i} starts with a keyframe");
    }
    assert_eq!(next, whole.len() as u64);
    let mpd = std::fs::read_to_string(dash.join("timecoded.mpd")).expect("MPD");
    assert!(mpd.contains("<SegmentBase indexRange="), "{mpd}");

    // dash.js finds the segments through the index, hls.js through the ranges.
    let v = crate::player::play(&asset, "dash/timecoded.mpd", "dash");
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
    let v = crate::player::play(&asset, "cmaf/timecoded.mpd", "dash");
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
    let v = crate::player::play(&asset, "cmaf/timecoded.m3u8", "hls");
    assert_eq!(crate::player::heights(&v), [360, 240], "{v:#}");
}

/// Mean absolute difference of each frame from the one before, on a 64x36 grey picture.
fn frame_changes(path: &Path) -> Vec<f64> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", "scale=64:36,format=gray", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let frames: Vec<&[u8]> = o.stdout.chunks(64 * 36).collect();
    frames
        .windows(2)
        .map(|w| {
            let sum: u64 = w[0]
                .iter()
                .zip(w[1])
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            sum as f64 / (64.0 * 36.0)
        })
        .collect()
}

#[test]
fn interpolate_blends_the_frames_duplicate_drop_repeats() {
    // 25 fps to 30: DUPLICATE_DROP shows one source frame twice in every six output
    // frames; INTERPOLATE makes the frames between two source frames from both.
    let src = util::fixture("short");
    let (dir, s3) = s3_root(&src, "cloud-interpolate");
    let mut changes = Vec::new();
    for interpolate in [false, true] {
        let profile = util::write_profile(&dir, "mobile", |p| {
            p["video"]["frame_rate"] = json!([30, 1]);
            p["video"]["interpolate_frames"] = json!(interpolate);
        });
        let job = render(&src, profile.to_str().expect("utf-8"));
        botocore_valid("CreateJob", &job, &dir);
        let algorithms: Vec<&Value> = job["Settings"]["OutputGroups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| g["Outputs"].as_array().into_iter().flatten())
            .filter_map(|o| {
                o.pointer(
                    "/VideoDescription/CodecSettings/H264Settings/FramerateConversionAlgorithm",
                )
            })
            .collect();
        let asked = if interpolate {
            "INTERPOLATE"
        } else {
            "DUPLICATE_DROP"
        };
        assert!(!algorithms.is_empty() && algorithms.iter().all(|a| *a == asked));
        let o = transcode_job(&job, &dir.join("job.json"), &s3);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mp4 = kept_mp4(&s3, &dir, asked);
        // 38 frames at 25 fps last 1.52 s: 46 output times at 30 fps.
        assert_eq!(util::packets(&mp4, "v").len(), 46);
        changes.push(frame_changes(&mp4));
    }
    let still = |c: &[f64]| c.iter().filter(|d| **d < 0.1).count();
    assert!(still(&changes[0]) >= 6, "{:?}", changes[0]);
    assert_eq!(still(&changes[1]), 0, "{:?}", changes[1]);
}
