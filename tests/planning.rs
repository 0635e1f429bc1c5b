//! The cloud plans each upload as the engine does: MediaConvert's Probe (answered by `mpe
//! mediaconvert serve` over moto's S3), then `profiles::plan`, then the rendered job. The
//! probe results are judged by botocore's model, the plans against `engine::probe`'s, and
//! the jobs by the tree they write.

use std::path::Path;

use aws_sdk_s3::config::Builder as S3Config;
use cloud::lambda::{plan, validate};
use serde_json::{json, Value};

use crate::mediaconvert::{boto3, cloud, stack, stderr_line, Stack};
use crate::util;

/// The fixtures the parity test covers: 16:9, 720p, 4:3, portrait, square, odd size,
/// rotation metadata, no audio, 5.1.
const FIXTURES: &[&str] = &[
    "hd_16x9", "hd_720p", "sd_4x3", "portrait", "square", "odd_size", "rotated", "no_audio",
    "surround",
];

const RAW: &str = "mpe-raw-dev-123456789012";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

fn clients(st: &Stack) -> (aws_sdk_s3::Client, aws_sdk_mediaconvert::Client) {
    let s3 = aws_sdk_s3::Client::from_conf(
        S3Config::from(&crate::lambda::shared(&st.s3_url))
            .force_path_style(true)
            .build(),
    );
    let mc = aws_sdk_mediaconvert::Client::new(&crate::lambda::shared(&st.mc_url));
    (s3, mc)
}

/// Creates `buckets` and uploads `files` (local path, key) into the raw bucket.
fn upload(st: &Stack, buckets: &[&str], files: &[(&Path, String)]) {
    let mut code = String::new();
    for b in buckets {
        code.push_str(&format!("s3.create_bucket(Bucket='{b}')\n"));
    }
    for (path, key) in files {
        code.push_str(&format!(
            "s3.upload_file({:?}, '{RAW}', '{key}')\n",
            path.to_string_lossy()
        ));
    }
    boto3(&st.python, &st.s3_url, &code);
}

/// Probe over the wire, as any client sends it: the raw camelCase answer.
fn wire_probe(st: &Stack, uri: &str) -> (u16, Value) {
    let r = ureq::post(&format!("{}/2017-08-29/probe", st.mc_url))
        .set("Content-Type", "application/json")
        .send_string(&json!({ "inputFiles": [{ "fileUrl": uri }] }).to_string());
    let (code, resp) = match r {
        Ok(resp) => (resp.status(), resp),
        Err(ureq::Error::Status(code, resp)) => (code, resp),
        Err(e) => panic!("probe {uri}: {e}"),
    };
    let body = serde_json::from_reader(resp.into_reader()).expect("a JSON answer");
    (code, body)
}

#[test]
fn probe_results_are_valid_and_plan_as_the_engine_plans() {
    let dir = util::work_dir("planning-parity");
    let st = stack(&dir, None);
    let files: Vec<(std::path::PathBuf, String)> = FIXTURES
        .iter()
        .map(|f| {
            let p = util::fixture(f);
            let name = p.file_name().expect("name").to_string_lossy().to_string();
            (p, format!("uploads/{name}"))
        })
        .collect();
    let refs: Vec<(&Path, String)> = files
        .iter()
        .map(|(p, k)| (p.as_path(), k.clone()))
        .collect();
    upload(&st, &[RAW], &refs);
    let (_, mc) = clients(&st);
    let rt = runtime();
    let profiles: Vec<profiles::Profile> = ["default", "mobile"]
        .iter()
        .map(|p| profiles::Profile::shipped(p).expect("profile"))
        .collect();
    let mut answers = vec![util::repo().join("cloud/tests/probe/probe-response.json")];
    for (path, key) in &files {
        let uri = format!("s3://{RAW}/{key}");
        // The raw answer, for botocore's judgement of its shape.
        let (code, raw) = wire_probe(&st, &uri);
        assert_eq!(code, 200, "{raw}");
        let file = dir.join(format!("{}.probe.json", key.replace('/', "_")));
        std::fs::write(&file, raw.to_string()).expect("write");
        answers.push(file);
        // The typed SDK client, as the validate handler and `mpe cloud render` call it.
        let result = rt
            .block_on(cloud::client::probe(&mc, &uri))
            .expect("Probe through the SDK");
        let from_probe = cloud::probe::media_info(&result, &uri).expect("media facts");
        let from_engine = engine::probe(path).expect("engine probe");
        for profile in &profiles {
            let a = profiles::plan(profile, &from_probe).expect("plan from Probe");
            let b = profiles::plan(profile, &from_engine).expect("plan from the engine");
            assert_eq!(a, b, "{key} with {}", profile.name);
        }
    }
    crate::cloud::botocore_judge(&["--wire-output", "Probe"], &answers);

    // What MediaConvert cannot read is said so, by the error types the model lists.
    std::fs::write(
        dir.join("junk.mp4"),
        b"\0\0\0\x20ftypisom not a movie at all",
    )
    .expect("junk");
    upload(
        &st,
        &[],
        &[(&dir.join("junk.mp4"), "uploads/junk.mp4".into())],
    );
    for (uri, code, kind) in [
        (
            format!("s3://{RAW}/uploads/junk.mp4"),
            422,
            "UnprocessableEntityException",
        ),
        (
            format!("s3://{RAW}/uploads/none.mp4"),
            404,
            "NotFoundException",
        ),
    ] {
        let (got, body) = wire_probe(&st, &uri);
        assert_eq!(got, code, "{uri}: {body}");
        let e = rt
            .block_on(cloud::client::probe(&mc, &uri))
            .expect_err("unreadable");
        assert!(
            matches!(e, cloud::CloudError::Unreadable { .. }),
            "{kind}: {e}"
        );
    }
}

/// The state machine of the committed stack.json.
fn states() -> Value {
    let text = std::fs::read_to_string(util::repo().join("stack.json")).expect("stack.json");
    let stack: Value = serde_json::from_str(&text).expect("JSON");
    stack["Resources"]["StateMachine"]["Properties"]["Definition"]["States"].clone()
}

/// Step Functions' Parameters/ResultSelector templating: `key.$` members take the value
/// at their path (`$.a.b` in `input`, `$$.Execution.Name` in the context), the rest are
/// copied.
fn fill(template: &Value, input: &Value, execution: &str) -> Value {
    match template {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.strip_suffix(".$"), v.as_str()) {
                    (Some(key), Some(path)) => (key.to_string(), resolve(path, input, execution)),
                    _ => (k.clone(), fill(v, input, execution)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn resolve(path: &str, input: &Value, execution: &str) -> Value {
    // The context object, as far as the states read it.
    if let Some(rest) = path.strip_prefix("$$.") {
        let context = json!({
            "Execution": {
                "Name": execution,
                "Id": format!("arn:aws:states:us-east-1:000000000000:execution:mpe-pipeline-dev:{execution}"),
                "StartTime": "2026-12-01T12:00:00Z",
            },
            "State": { "EnteredTime": "2026-12-01T12:00:01Z" },
        });
        return context
            .pointer(&format!("/{}", rest.replace('.', "/")))
            .cloned()
            .unwrap_or_else(|| panic!("{path}: not in the context object"));
    }
    let rest = path.strip_prefix('$').expect("a JSONPath");
    let pointer = rest.replace('.', "/");
    input
        .pointer(&pointer)
        .cloned()
        .unwrap_or_else(|| panic!("{path} is not in the state's input: States.Runtime"))
}

/// A Task's output as its ResultSelector and ResultPath place it into `state`.
fn place(task: &Value, output: Value, state: &mut Value, execution: &str) {
    let selected = fill(
        &task["ResultSelector"],
        &json!({ "Payload": output }),
        execution,
    );
    let at = task["ResultPath"].as_str().expect("a ResultPath");
    state[at.strip_prefix("$.").expect("a member")] = selected;
}

/// One upload through the stack's states as Step Functions runs them: Validate (the
/// handler, against moto's S3 and serve's Probe), Plan (the handler), Transcode (its
/// CreateJob request, sent by the SDK to serve). Returns the final state and, when the
/// upload was accepted, the finished job.
fn run_pipeline(
    st: &Stack,
    key: &str,
    size: u64,
    execution: &str,
) -> (Value, Option<cloud::JobState>) {
    let states = states();
    let (s3, mc) = clients(st);
    let rt = runtime();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(util::repo().join("cloud/tests/events/s3-object-created.json"))
            .expect("event"),
    )
    .expect("JSON");
    event["detail"]["bucket"]["name"] = json!(RAW);
    event["detail"]["object"]["key"] = json!(key);
    event["detail"]["object"]["size"] = json!(size);
    let mut state = event;

    let vs = validate::Settings {
        raw_bucket: RAW.into(),
        prefix: "uploads/".into(),
        default_profile: "default".into(),
        profiles: vec!["default".into(), "mobile".into()],
    };
    let task = &states["Validate"];
    let payload = fill(&task["Parameters"]["Payload"], &state, execution);
    let out = rt
        .block_on(validate::handle(&s3, &mc, &vs, &payload))
        .expect("validate");
    place(task, out, &mut state, execution);
    if state["validation"]["accepted"] != true {
        state["error"] = fill(&states["RejectUpload"]["Parameters"], &state, execution);
        return (state, None);
    }

    let ps = plan::Settings {
        media_bucket: "media".into(),
        thumbnails_bucket: "thumbs".into(),
        role: "arn:aws:iam::000000000000:role/mc".into(),
        queue: Some("arn:aws:mediaconvert:us-east-1:000000000000:queues/mpe-queue-dev".into()),
        suffix: "dev".into(),
    };
    let task = &states["Plan"];
    let payload = fill(&task["Parameters"]["Payload"], &state, execution);
    place(task, plan::plan(&ps, &payload), &mut state, execution);
    if state["plan"]["accepted"] != true {
        state["error"] = fill(&states["RejectPlan"]["Parameters"], &state, execution);
        return (state, None);
    }
    // The record names the job's template.
    let record = fill(&states["RecordSubmitted"]["Parameters"], &state, execution);
    assert_eq!(
        record["Item"]["jobTemplate"]["S"], "mpe-default-dev",
        "{record}"
    );

    let request = fill(&states["Transcode"]["Parameters"], &state, execution);
    // The stack deploys the queue its jobs go to; here it is made as CloudFormation would.
    if let Err(e) = rt.block_on(mc.create_queue().name("mpe-queue-dev").send()) {
        let e = format!("{e:?}");
        assert!(e.contains("ConflictException"), "CreateQueue: {e}");
    }
    let job = rt
        .block_on(async {
            let created = cloud::client::create_job(&mc, &request).await?;
            cloud::client::wait(
                &mc,
                &created.id,
                std::time::Duration::from_millis(200),
                Some(std::time::Duration::from_secs(240)),
                &mut |_| {},
            )
            .await
        })
        .expect("the job ran");
    (state, Some(job))
}

/// Every key under `prefix` in `bucket`, relative to it.
fn keys(st: &Stack, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = boto3(
        &st.python,
        &st.s3_url,
        &format!(
            "keys = []\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}', Prefix='{prefix}'):\n    keys += [o['Key'][len('{prefix}'):] for o in page.get('Contents', [])]\n\
             print(json.dumps(sorted(keys)))"
        ),
    );
    serde_json::from_value(listed).expect("keys")
}

fn download(st: &Stack, bucket: &str, key: &str, to: &Path) {
    boto3(
        &st.python,
        &st.s3_url,
        &format!(
            "s3.download_file('{bucket}', '{key}', {:?})",
            to.to_string_lossy()
        ),
    );
}

#[test]
fn an_upload_event_is_validated_probed_planned_and_written_as_the_engine_writes_it() {
    let dir = util::work_dir("planning-pipeline");
    let st = stack(&dir, None);
    let junk = dir.join("junk.mp4");
    std::fs::write(&junk, b"\0\0\0\x20ftypisom but nothing a demuxer can read").expect("junk");
    let sources: Vec<(&str, std::path::PathBuf)> = vec![
        ("hd_720p", util::fixture("hd_720p")),
        ("portrait", util::fixture("portrait")),
    ];
    let mut files: Vec<(&Path, String)> = sources
        .iter()
        .map(|(n, p)| (p.as_path(), format!("uploads/{n}.mp4")))
        .collect();
    files.push((junk.as_path(), "uploads/junk.mp4".into()));
    upload(&st, &[RAW, "media", "thumbs"], &files);

    for (i, (name, src)) in sources.iter().enumerate() {
        let size = std::fs::metadata(src).expect("size").len();
        let (state, job) = run_pipeline(
            &st,
            &format!("uploads/{name}.mp4"),
            size,
            &format!("exec-{i}"),
        );
        let job = job.unwrap_or_else(|| panic!("{name} rejected: {state:#}"));
        assert_eq!(job.status, "COMPLETE", "{job:?}");
        assert_eq!(job.user_metadata["mpe_job_template"], "mpe-default-dev");
        assert_eq!(job.user_metadata["mpe_job_id"], format!("exec-{i}"));

        // The media bucket holds the engine's tree, and the thumbnails bucket its
        // thumbnails, under the same asset path.
        let local = util::transcode(src, "default", &dir.join(format!("local-{name}")));
        // Less mpe's record and the trick-play sheets: the stack's status step draws
        // those from the thumbnails (tests/lambda.rs).
        let expected: Vec<String> = util::tree(&local)
            .into_iter()
            .filter(|f| f != "metadata.json" && !f.starts_with("trickplay/"))
            .collect();
        let mut got = keys(&st, "media", &format!("{name}/"));
        let thumbs = keys(&st, "thumbs", &format!("{name}/"));
        assert!(
            !thumbs.is_empty() && thumbs.iter().all(|t| t.starts_with("thumbnails/")),
            "{thumbs:?}"
        );
        got.extend(thumbs);
        got.sort();
        assert_eq!(got, expected, "{name}");

        // The same rungs by ffprobe: each MP4, thumbnail and CMAF track's first segment.
        let cloud_dir = dir.join(format!("cloud-{name}"));
        let mut compared = 0;
        for f in &expected {
            let (bucket, is_init) = if f.starts_with("thumbnails/") {
                ("thumbs", false)
            } else {
                ("media", f.ends_with("init.cmfv"))
            };
            if !(is_init || f.ends_with(".mp4") || f.ends_with(".jpg")) {
                continue;
            }
            let to = cloud_dir.join(f);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
            download(&st, bucket, &format!("{name}/{f}"), &to);
            let (a, b) = if is_init {
                let first = f.replace("init.cmfv", "_000000001.cmfv");
                let seg = cloud_dir.join(&first);
                download(&st, bucket, &format!("{name}/{first}"), &seg);
                let (ja, jb) = (dir.join("joined-cloud.mp4"), dir.join("joined-local.mp4"));
                util::join_segments(Some(&to), &[seg], &ja);
                util::join_segments(Some(&local.join(f)), &[local.join(&first)], &jb);
                (ja, jb)
            } else {
                (to, local.join(f))
            };
            assert_eq!(util::dimensions(&a), util::dimensions(&b), "{name}: {f}");
            compared += 1;
        }
        assert!(compared >= 5, "{name}: only {compared} files compared");
        if *name == "hd_720p" {
            assert!(
                !expected.iter().any(|f| f.contains("1080p")),
                "no 1080p rung for a 720p source: {expected:?}"
            );
        }
    }

    // A file that opens like an MP4 but is not one: MediaConvert's probe refuses it, and
    // the upload takes the reject path with that reason for the record.
    let size = std::fs::metadata(&junk).expect("size").len();
    let (state, job) = run_pipeline(&st, "uploads/junk.mp4", size, "exec-junk");
    assert!(job.is_none());
    assert_eq!(state["error"]["Error"], "UploadRejected", "{state:#}");
    let cause = state["error"]["Cause"].as_str().expect("a cause");
    assert!(cause.contains("MediaConvert cannot read"), "{cause}");
    assert!(cause.contains("uploads/junk.mp4"), "{cause}");
}

/// Output heights of a rendered job's first group's video outputs.
fn rung_heights(job: &Value) -> Vec<u64> {
    job["Settings"]["OutputGroups"][0]["Outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter(|o| o["VideoDescription"].is_object())
        .filter_map(|o| o["VideoDescription"]["Height"].as_u64())
        .collect()
}

#[test]
fn cloud_render_plans_from_mediaconverts_probe_or_says_what_to_give() {
    let dir = util::work_dir("planning-render");
    let st = stack(&dir, None);
    let src = util::fixture("hd_720p");
    upload(
        &st,
        &[RAW],
        &[(src.as_path(), "uploads/hd_720p.mp4".into())],
    );
    let render = |mc: &str, extra: &[&str]| {
        let mut args = vec![
            "render",
            "--input",
            "s3://mpe-raw-dev-123456789012/uploads/hd_720p.mp4",
            "--dest",
            "s3://media/hd_720p/",
            "--role",
            "arn:aws:iam::000000000000:role/mc",
            "--max-attempts",
            "1",
        ];
        args.extend(extra);
        cloud(&args, &st.s3_url, mc, &[])
    };
    // Planned from MediaConvert's probe: the 720p source gets no 1080p rung.
    let o = render(&st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job: Value = serde_json::from_slice(&o.stdout).expect("job JSON");
    assert_eq!(rung_heights(&job), [720, 480, 360], "{job:#}");
    crate::cloud::botocore_valid("CreateJob", &job, &dir);
    // The same outputs as with a local copy of the source.
    let local = crate::cloud::render(&src, "default");
    let outputs = |job: &Value| -> Vec<Value> {
        job["Settings"]["OutputGroups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| g["Outputs"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    assert_eq!(
        outputs(&job),
        outputs(&local),
        "Probe and the engine plan alike"
    );

    // Nothing to ask: one line that says what to give instead, and a non-zero exit.
    let dead = format!("http://127.0.0.1:{}", crate::mediaconvert::free_port());
    let o = render(&dead, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_line(&o);
    assert!(err.contains("endpoint unreachable"), "{err}");
    assert!(err.contains("--source"), "{err}");
    assert!(o.stdout.is_empty(), "no job printed");
    let o = cloud(
        &[
            "render",
            "--input",
            "s3://r/a.mp4",
            "--dest",
            "s3://m/a/",
            "--role",
            "arn:aws:iam::1:role/r",
        ],
        &st.s3_url,
        "",
        &[
            ("AWS_ENDPOINT_URL_MEDIACONVERT", ""),
            ("AWS_DEFAULT_REGION", ""),
            ("AWS_REGION", ""),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_line(&o);
    assert!(
        err.contains("no region") && err.contains("--source"),
        "{err}"
    );

    // --no-probe: the template-like ladder, with a warning that it may upscale.
    let o = render(&dead, &["--no-probe"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job: Value = serde_json::from_slice(&o.stdout).expect("job JSON");
    assert_eq!(rung_heights(&job), [1080, 720, 480, 360]);
    let warning = String::from_utf8_lossy(&o.stderr);
    assert!(warning.contains("upscale"), "{warning}");
}
