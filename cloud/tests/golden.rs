//! The rendered MediaConvert requests of every shipped profile: equal to the golden files
//! in `cloud/golden/` (refresh them with `scripts/bless-golden.sh`), and valid by
//! MediaConvert's API model as botocore ships it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{python, root};
use mpe_cloud::{render_job, render_template, CloudError, JobRequest};
use profiles::{MediaInfo, Profile};
use serde_json::{json, Value};

const INPUT: &str = "s3://mpe-raw/uploads/example.mp4";
const DEST: &str = "s3://mpe-media/example/";
const ROLE: &str = "arn:aws:iam::123456789012:role/mpe-mediaconvert";
const JOB_ID: &str = "00000000-0000-4000-8000-000000000000";

/// A probed 1280x720 25 fps source with stereo audio (what `mpe probe --json` prints).
fn hd720() -> MediaInfo {
    serde_json::from_value(json!({
        "path": "example.mp4", "container": "mov,mp4,m4a,3gp,3g2,mj2", "duration": 30.0,
        "size": 1, "bit_rate": null, "subtitles": [],
        "video": [{ "index": 0, "codec": "h264", "profile": "High", "level": "31",
            "width": 1280, "height": 720, "sample_aspect": [1, 1], "display_aspect": [16, 9],
            "rotation": 0, "frame_rate": [25, 1], "variable_frame_rate": false,
            "pixel_format": "yuv420p", "bit_depth": 8, "color_primaries": null,
            "color_transfer": null, "color_space": null, "color_range": null,
            "field_order": null, "duration": 30.0, "bit_rate": null }],
        "audio": [{ "index": 1, "codec": "aac", "profile": "LC", "channels": 2,
            "channel_layout": "stereo", "sample_rate": 48000, "duration": 30.0,
            "bit_rate": null, "language": null }]
    }))
    .expect("media info")
}

/// The request every test renders, for `profile`.
fn request(profile: &Profile) -> JobRequest<'_> {
    JobRequest {
        profile,
        input: INPUT,
        destination: DEST,
        role: ROLE,
        queue: None,
        job_id: JOB_ID,
        plan: None,
    }
}

/// Every request the goldens hold: (file name, operation, request).
fn rendered() -> Vec<(String, &'static str, Value)> {
    let mut out = Vec::new();
    for name in Profile::shipped_names() {
        let profile = Profile::load(name).expect("shipped profile");
        let req = request(&profile);
        out.push((
            format!("{name}.job.json"),
            "CreateJob",
            render_job(&req).expect("job"),
        ));
        let plan = profiles::plan(&profile, &hd720()).expect("plan");
        let planned = JobRequest {
            plan: Some(&plan),
            ..req
        };
        out.push((
            format!("{name}.job-720p-source.json"),
            "CreateJob",
            render_job(&planned).expect("planned job"),
        ));
        out.push((
            format!("{name}.template.json"),
            "CreateJobTemplate",
            render_template(&profile, Some("s3://mpe-media/$fn$/")).expect("template"),
        ));
    }
    out
}

#[test]
fn rendered_requests_equal_the_golden_files() {
    let dir = root().join("golden");
    let bless = std::env::var_os("MPE_BLESS").is_some();
    let rendered = rendered();
    // No golden outlives its profile: every file is one the renderer makes.
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("golden folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if name.ends_with(".json") && !rendered.iter().any(|(file, _, _)| *file == name) {
            stale.push(name);
        }
    }
    if bless {
        for name in &stale {
            std::fs::remove_file(dir.join(name)).expect("remove a stale golden");
        }
    } else {
        assert!(stale.is_empty(), "goldens of no shipped profile: {stale:?}");
    }
    for (file, _, value) in rendered {
        let text = format!("{}\n", serde_json::to_string_pretty(&value).expect("json"));
        let path = dir.join(&file);
        if bless {
            std::fs::write(&path, &text).expect("write golden");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run scripts/bless-golden.sh", path.display()));
        assert!(
            golden == text,
            "{file} differs from the renderer's output; if the change is intended, run scripts/bless-golden.sh"
        );
    }
}

fn validate(operation: &str, files: &[&Path]) -> (bool, String) {
    let out = Command::new(python())
        .arg(root().join("tests/validate_mediaconvert.py"))
        .arg(operation)
        .args(files)
        .output()
        .expect("run the botocore validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn golden_requests_are_valid_by_the_botocore_model() {
    let dir = std::env::temp_dir().join(format!("mpe-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (file, op, value) in rendered() {
        let path = dir.join(&file);
        std::fs::write(&path, value.to_string()).expect("write");
        let (ok, text) = validate(op, &[&path]);
        assert!(ok, "{file} is not a valid {op} request:\n{text}");
    }
    // The validator can fail: a misspelled member, a value outside an enumeration, a
    // missing required member.
    let (_, op, mut job) = rendered().remove(0);
    job["Settings"]["OutputGroups"][0]["Outputs"][0]["NameModifer"] = json!("_x");
    job["Settings"]["TimecodeConfig"]["Source"] = json!("ZERO_BASED");
    job.as_object_mut().expect("object").remove("Role");
    let path = dir.join("broken.json");
    std::fs::write(&path, job.to_string()).expect("write");
    let (ok, text) = validate(op, &[&path]);
    assert!(!ok);
    for needle in ["NameModifer", "ZERO_BASED", "Role"] {
        assert!(text.contains(needle), "{needle} not reported:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn names_follow_the_profiles_crate() {
    let profile = Profile::load("default").expect("default");
    let plan = profiles::plan(&profile, &hd720()).expect("plan");
    let req = JobRequest {
        plan: Some(&plan),
        ..request(&profile)
    };
    let job = render_job(&req).expect("job");
    let groups = job["Settings"]["OutputGroups"].as_array().expect("groups");
    let cmaf = &groups[0];
    assert_eq!(
        cmaf["OutputGroupSettings"]["CmafGroupSettings"]["Destination"],
        "s3://mpe-media/example/cmaf/"
    );
    let modifiers: Vec<&str> = cmaf["Outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| o["NameModifier"].as_str().expect("modifier"))
        .collect();
    // A 720p source: no 1080p rung, as the engine plans it.
    assert_eq!(modifiers, ["_720p", "_480p", "_360p", "_audio"]);
    let file = &groups[1]["Outputs"][0];
    assert_eq!(
        (
            file["VideoDescription"]["Width"].as_u64(),
            file["NameModifier"].as_str()
        ),
        (Some(1280), Some("_720p"))
    );
    let thumbs = &groups[2];
    assert_eq!(thumbs["Outputs"][0]["NameModifier"], "_thumb");
    let fc = &thumbs["Outputs"][0]["VideoDescription"]["CodecSettings"]["FrameCaptureSettings"];
    assert_eq!(
        (
            fc["FramerateNumerator"].as_u64(),
            fc["FramerateDenominator"].as_u64()
        ),
        (Some(1), Some(10))
    );
    assert_eq!(job["UserMetadata"]["mpe_job_id"], JOB_ID);
}

#[test]
fn unsupported_features_are_named_at_render_time() {
    let base = Profile::load("default").expect("default");
    let render = |edit: &dyn Fn(&mut Value)| -> CloudError {
        let mut v = serde_json::to_value(&base).expect("json");
        edit(&mut v);
        let p = Profile::from_json(&v.to_string(), "test").expect("valid profile");
        render_job(&request(&p)).expect_err("unsupported")
    };
    let field = |e: CloudError| match e {
        CloudError::Unsupported { field, .. } => field,
        other => panic!("{other}"),
    };
    assert_eq!(
        field(render(&|v| v["thumbnails"]["format"] = json!("png"))),
        "thumbnails.format"
    );
    assert_eq!(
        field(render(&|v| v["thumbnails"]["times"] = json!(["25%"]))),
        "thumbnails.times"
    );
    assert_eq!(
        field(render(&|v| v["preview"] = json!({ "destination": "p/" }))),
        "preview"
    );
    assert_eq!(
        field(render(
            &|v| v["trickplay"] = json!({ "destination": "s/", "interval_seconds": 3 })
        )),
        "trickplay.interval_seconds"
    );
    assert_eq!(
        field(render(&|v| {
            v["trickplay"] = json!({ "destination": "s/" });
            v.as_object_mut().expect("object").remove("thumbnails");
        })),
        "trickplay"
    );
    assert_eq!(
        field(render(&|v| {
            v["video"]["gop_seconds"] = json!(0.5);
            v["video"]["segment_seconds"] = json!(2.5);
        })),
        "video.segment_seconds"
    );
    let profile = base.clone();
    let bad = JobRequest {
        input: "/local/file.mp4",
        ..request(&profile)
    };
    assert!(matches!(
        render_job(&bad),
        Err(CloudError::BadUri { what: "input", .. })
    ));
}

/// The job without its trick-play order: the pipeline draws trick play after the job, from
/// that user metadata, and no member of the job's settings says it, so it does not read
/// back (the local MediaConvert runs what MediaConvert would: frame captures only).
fn without_trickplay(job: &Value) -> Value {
    let mut j = job.clone();
    if let Some(m) = j["UserMetadata"].as_object_mut() {
        m.remove("mpe_trickplay");
    }
    j
}

#[test]
fn golden_jobs_read_back_into_the_same_profile() {
    for name in Profile::shipped_names() {
        let text = std::fs::read_to_string(root().join(format!("golden/{name}.job.json")))
            .expect("golden");
        let golden: Value = serde_json::from_str(&text).expect("json");
        let job = mpe_cloud::parse_job(&golden).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (job.input.as_str(), job.destination.as_str()),
            (INPUT, DEST)
        );
        assert_eq!(job.job_id.as_deref(), Some(JOB_ID));
        // Rendering the profile read back gives the very same request.
        let again = render_job(&JobRequest {
            profile: &job.profile,
            ..request(&job.profile)
        })
        .expect("render");
        assert_eq!(
            again,
            without_trickplay(&golden),
            "{name}: the job does not survive a round trip"
        );
        // A job rendered for a 720p source carries only the rungs that fit.
        let text =
            std::fs::read_to_string(root().join(format!("golden/{name}.job-720p-source.json")))
                .expect("golden");
        let planned =
            mpe_cloud::parse_job(&serde_json::from_str(&text).expect("json")).expect("parse");
        assert!(
            planned.profile.renditions.iter().all(|r| r.height <= 720),
            "{name}"
        );
    }
}

#[test]
fn settings_the_local_executor_lacks_are_named() {
    let text = std::fs::read_to_string(root().join("golden/default.job.json")).expect("golden");
    let golden: Value = serde_json::from_str(&text).expect("json");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|j| j["Settings"]["Inputs"][0]["InputScanType"] = json!("PSF")),
            "Settings.Inputs[0].InputScanType",
        ),
        (
            Box::new(|j| {
                j["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]
                    ["VideoPreprocessors"] = json!({})
            }),
            "Settings.OutputGroups[0].Outputs[0].VideoDescription.VideoPreprocessors",
        ),
        (
            Box::new(|j| {
                j["Settings"]["OutputGroups"][0]["Outputs"][0]["NameModifier"] = json!("-1080")
            }),
            "Settings.OutputGroups[0].Outputs[0].NameModifier",
        ),
        (
            Box::new(|j| {
                j["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]
                    ["CodecSettings"]["Codec"] = json!("H_265")
            }),
            "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.Codec",
        ),
        (
            Box::new(|j| {
                j["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["Type"] =
                    json!("MS_SMOOTH_GROUP_SETTINGS")
            }),
            "Settings.OutputGroups[0].OutputGroupSettings.Type",
        ),
    ];
    for (edit, field) in cases {
        let mut j = golden.clone();
        edit(&mut j);
        let e = mpe_cloud::parse_job(&j).expect_err(field);
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
}

/// The profile fields jobs bring (exact sizes, GOPs in frames, a SPECIFIED frame rate,
/// x264 tuning) render into the job members they were read from: valid by botocore, and
/// read back into the same settings.
#[test]
fn tuned_profiles_render_and_read_back() {
    let mut profile = Profile::load("default").expect("shipped profile");
    profile.name = "tuned".into();
    let v = &mut profile.video;
    v.gop_frames = Some(48);
    v.frame_rate = Some([25, 1]);
    v.tuning = serde_json::from_value(json!({
        "b_frames": 2, "b_pyramid": false, "ref_frames": 3, "level": "4.0", "cavlc": true,
        "slices": 2, "scene_cut": 40, "min_i_interval": 12, "aq_strength": 0.8,
        "mb_tree": false, "vbv_init": 0.9
    }))
    .expect("tuning");
    profile.renditions[0].size = Some(profiles::OutputSize {
        width: Some(1280),
        height: Some(720),
        scaling: profiles::Scaling::Fit,
    });
    profile.outputs.hls = Some(profiles::HlsGroupSettings {
        destination: "hls/".into(),
        transport: profiles::TransportStream {
            pmt_pid: 100,
            video_pid: 256,
            audio_pid: 257,
            program_number: 3,
            transport_stream_id: Some(9),
        },
        integer_durations: true,
        program_date_time: None,
        single_file: false,
    });
    profile.video.input_filter = Some(profiles::InputFilter {
        denoise: true,
        deblock: false,
        strength: Some(4),
    });
    if let Some(a) = profile.audio.as_mut() {
        a.track = Some(2);
    }
    let job = render_job(&request(&profile)).expect("render");
    let h264 = &job["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"];
    assert_eq!(
        (&h264["Width"], &h264["Height"], &h264["ScalingBehavior"]),
        (&json!(1280), &json!(720), &json!("FIT"))
    );
    let dir = std::env::temp_dir().join(format!("mpe-tuned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("tuned.json");
    std::fs::write(&file, job.to_string()).expect("write");
    let (ok, text) = validate("CreateJob", &[&file]);
    assert!(ok, "{text}");
    let back = mpe_cloud::parse_job(&job).expect("reads back");
    let got = &back.profile.video;
    assert_eq!(got.gop_frames, Some(48));
    assert_eq!(got.frame_rate, Some([25, 1]));
    let mut want = profile.video.tuning.clone();
    // Level 4.0 is MediaConvert's LEVEL_4, which reads back as "4".
    want.level = Some("4".into());
    assert_eq!(got.tuning, want);
    assert_eq!(back.profile.renditions[0].size, profile.renditions[0].size);
    assert_eq!(back.profile.outputs.hls, profile.outputs.hls);
    assert_eq!(back.profile.video.input_filter, profile.video.input_filter);
    assert_eq!(back.profile.audio, profile.audio);
    // And the job survives a second round.
    let again = render_job(&JobRequest {
        profile: &back.profile,
        ..request(&back.profile)
    })
    .expect("render again");
    assert!(
        job["UserMetadata"]["mpe_trickplay"].is_string(),
        "the default's trick play is ordered"
    );
    assert_eq!(again, without_trickplay(&job));

    // What MediaConvert cannot say is refused by field.
    let mut odd = profile.clone();
    odd.video.tuning.aq_strength = Some(0.7);
    let e = render_job(&request(&odd)).expect_err("no such AQ level");
    assert!(e.to_string().contains("video.tuning.aq_strength"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
