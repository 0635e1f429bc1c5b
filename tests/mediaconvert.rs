//! `mpe mediaconvert serve`: the MediaConvert API on localhost, driven by the real boto3
//! clients, reading and writing a real S3 API server (moto's) on 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util;

/// A child process killed when dropped.
pub(crate) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

/// moto's S3 server and `mpe mediaconvert serve` in front of it (or of `s3_url`).
struct Stack {
    _s3: Option<Proc>,
    _serve: Proc,
    s3_url: String,
    mc_url: String,
    python: PathBuf,
}

fn stack(dir: &Path, s3_url: Option<String>) -> Stack {
    let python = util::python();
    let (s3, s3_url) = match s3_url {
        Some(u) => (None, u),
        None => {
            let (p, url) = moto(&python, false);
            (Some(p), url)
        }
    };
    let port = free_port();
    let serve = Command::new(env!("CARGO_BIN_EXE_mpe"))
        .args([
            "mediaconvert",
            "serve",
            "--port",
            &port.to_string(),
            "--s3-endpoint",
            &s3_url,
        ])
        .arg("--work")
        .arg(dir.join("work"))
        .envs(CREDS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mpe mediaconvert serve");
    let serve = Proc(serve);
    wait_port(port, "mpe mediaconvert serve");
    Stack {
        _s3: s3,
        _serve: serve,
        s3_url,
        mc_url: format!("http://127.0.0.1:{port}"),
        python,
    }
}

/// Uploads `src`, submits `job` with boto3, waits; returns the client's report.
fn submit(stack: &Stack, src: &Path, job: &Value, dir: &Path) -> Value {
    let file = dir.join("job.json");
    std::fs::write(&file, job.to_string()).expect("job");
    let o = Command::new(&stack.python)
        .arg(util::repo().join("tests/mediaconvert/client.py"))
        .args([&stack.s3_url, &stack.mc_url])
        .arg(src)
        .arg(&file)
        .envs(CREDS)
        .output()
        .expect("run the boto3 client");
    assert!(
        o.status.success(),
        "client: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("client JSON")
}

#[test]
fn boto3_runs_a_job_through_the_local_api_into_the_predicted_tree() {
    let src = util::fixture("short");
    let dir = util::work_dir("mediaconvert");
    let stack = stack(&dir, None);
    let job = crate::cloud::render(&src, "default");
    let report = submit(&stack, &src, &job, &dir);
    let done = &report["job"];
    assert_eq!(done["Status"], "COMPLETE", "{done:#}");
    let id = done["Id"].as_str().expect("id");
    assert!(report["listed"]
        .as_array()
        .expect("list")
        .iter()
        .any(|j| j == id));
    let details = &done["OutputGroupDetails"][0]["OutputDetails"];
    assert_eq!(details[0]["VideoDetails"]["HeightInPx"], 360, "{done:#}");
    // Parity: the objects MediaConvert's API wrote are the files `mpe transcode` writes
    // (less mpe's own metadata.json, which MediaConvert does not make).
    let local = util::transcode(&src, "default", &dir.join("local"));
    let expected: Vec<String> = util::tree(&local)
        .into_iter()
        .filter(|f| f != "metadata.json")
        .map(|f| format!("asset/{f}"))
        .collect();
    let keys: Vec<String> = serde_json::from_value(report["keys"].clone()).expect("keys");
    assert_eq!(keys, expected);

    // A setting the engine does not support ends the job in ERROR, naming it.
    let mut clipped = job.clone();
    clipped["Settings"]["Inputs"][0]["InputClippings"] =
        json!([{ "StartTimecode": "00:00:00:10" }]);
    let report = submit(&stack, &src, &clipped, &dir);
    let failed = &report["job"];
    assert_eq!(failed["Status"], "ERROR", "{failed:#}");
    let msg = failed["ErrorMessage"].as_str().expect("message");
    assert!(msg.contains("Settings.Inputs[0].InputClippings"), "{msg}");
}

#[test]
fn an_unreachable_s3_endpoint_fails_the_job_with_a_clear_message() {
    let src = util::fixture("short");
    let dir = util::work_dir("mediaconvert-down");
    // Nothing listens there: the job cannot fetch its input.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let stack = stack(&dir, Some(dead));
    let file = dir.join("job.json");
    std::fs::write(&file, crate::cloud::render(&src, "default").to_string()).expect("job");
    // boto3 for the API only (no S3 to upload to).
    let script = "import boto3, json, sys, time\n\
        mc = boto3.client('mediaconvert', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
        job = mc.create_job(**json.load(open(sys.argv[2])))['Job']\n\
        while job['Status'] in ('SUBMITTED', 'PROGRESSING'):\n    time.sleep(0.2); job = mc.get_job(Id=job['Id'])['Job']\n\
        print(json.dumps(job, default=str))";
    let o = Command::new(&stack.python)
        .args(["-c", script, &stack.mc_url])
        .arg(&file)
        .envs(CREDS)
        .output()
        .expect("client");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job: Value = serde_json::from_slice(&o.stdout).expect("job");
    assert_eq!(job["Status"], "ERROR");
    let msg = job["ErrorMessage"].as_str().expect("message");
    assert!(msg.contains("S3 endpoint unreachable"), "{msg}");
    assert_eq!(msg.lines().count(), 1);
}

/// A moto S3 server on a free port; `auth` turns on moto's IAM checks, so that unknown
/// access keys are refused as AWS refuses them.
pub(crate) fn moto(python: &Path, auth: bool) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(python.with_file_name("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if auth {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
    }
    let p = Proc(cmd.spawn().expect("start moto_server"));
    wait_port(port, "moto_server");
    (p, format!("http://127.0.0.1:{port}"))
}

/// Runs a boto3 snippet (`s3` is a client on `s3_url`); returns its stdout as JSON.
pub(crate) fn boto3(python: &Path, s3_url: &str, code: &str) -> Value {
    let script = format!(
        "import boto3, json, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n{code}"
    );
    let o = Command::new(python)
        .args(["-c", &script, s3_url])
        .envs(CREDS)
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// An empty AWS config file, so the user's own `~/.aws` plays no part.
fn empty_aws_file() -> PathBuf {
    let p = util::repo().join("target/test-work/empty-aws-config");
    if !p.exists() {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
        std::fs::write(&p, "").expect("empty config");
    }
    p
}

/// `mpe cloud ...` with test credentials, the given endpoints, and nothing from the
/// user's own AWS configuration.
fn cloud(args: &[&str], s3: &str, mc: &str, extra_env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpe"));
    cmd.arg("cloud")
        .args(args)
        .envs(CREDS)
        .env("AWS_ENDPOINT_URL_S3", s3)
        .env("AWS_ENDPOINT_URL_MEDIACONVERT", mc)
        .env("AWS_CONFIG_FILE", empty_aws_file())
        .env("AWS_SHARED_CREDENTIALS_FILE", empty_aws_file())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("MPE_MEDIACONVERT_ROLE");
    for (k, v) in extra_env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.output().expect("run mpe cloud")
}

fn stderr_line(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    err
}

#[test]
fn cloud_submit_uploads_in_parts_and_the_job_writes_the_predicted_tree() {
    let src = util::fixture("bulky");
    let dir = util::work_dir("cloud-submit");
    let st = stack(&dir, None);
    boto3(
        &st.python,
        &st.s3_url,
        "for b in ('raw', 'media'): s3.create_bucket(Bucket=b)",
    );
    // Bucket, destination and role come from the deployed stack's outputs, as
    // `aws cloudformation describe-stacks` prints them.
    let outputs = dir.join("outputs.json");
    let doc = json!({ "Stacks": [{ "StackName": "mpe-test", "Outputs": [
        { "OutputKey": "RawBucketName", "OutputValue": "raw" },
        { "OutputKey": "MediaBucketName", "OutputValue": "media" },
        { "OutputKey": "MediaConvertRoleArn", "OutputValue": "arn:aws:iam::000000000000:role/mc" },
    ] }] });
    std::fs::write(&outputs, doc.to_string()).expect("outputs");
    let o = cloud(
        &[
            "submit",
            src.to_str().expect("utf-8"),
            "--stack-outputs",
            outputs.to_str().expect("utf-8"),
            "--kms-key",
            "alias/mpe-test",
            "--part-size",
            "5",
            "--concurrency",
            "2",
            "--wait",
            "--interval",
            "0.3",
            "--json",
        ],
        &st.s3_url,
        &st.mc_url,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job: Value = serde_json::from_slice(&o.stdout).expect("job JSON");
    assert_eq!(job["status"], "COMPLETE", "{job:#}");
    let id = job["id"].as_str().expect("id").to_string();
    let outputs: Vec<String> = serde_json::from_value(job["outputs"].clone()).expect("outputs");
    assert!(
        outputs.contains(&"s3://media/bulky/cmaf/bulky.m3u8".to_string()),
        "{outputs:?}"
    );

    // The source went up in three parts (13 MB at 5 MiB), encrypted with the key given.
    let head = boto3(
        &st.python,
        &st.s3_url,
        "h = s3.head_object(Bucket='raw', Key='uploads/bulky.mp4')\n\
         print(json.dumps({k: h.get(k) for k in ('ContentLength', 'ETag', 'ServerSideEncryption', 'SSEKMSKeyId')}))",
    );
    let size = std::fs::metadata(&src).expect("size").len();
    assert_eq!(head["ContentLength"], size, "{head}");
    assert!(
        head["ETag"].as_str().expect("etag").ends_with("-3\""),
        "{head}"
    );
    assert_eq!(head["ServerSideEncryption"], "aws:kms", "{head}");
    assert!(
        head["SSEKMSKeyId"]
            .as_str()
            .is_some_and(|k| k.contains("mpe-test")),
        "{head}"
    );

    // The bucket holds exactly what the profiles crate predicts for this source
    // (MediaConvert writes no metadata.json, mpe's own record).
    let profile = profiles::Profile::load("default").expect("profile");
    let media = engine::probe(&src).expect("probe");
    let plan = profiles::plan(&profile, &media).expect("plan");
    let video = media.video[0].duration.unwrap_or(media.duration);
    let audio = media.audio[0].duration.unwrap_or(media.duration).min(video);
    let predicted: Vec<String> = profiles::naming::Layout::for_source(&src.to_string_lossy())
        .expected_files(
            &profile,
            &plan,
            plan.segment_count(video),
            plan.segment_count(audio),
        )
        .into_iter()
        .filter(|f| f != "metadata.json")
        .map(|f| format!("bulky/{f}"))
        .collect();
    let keys: Vec<String> = serde_json::from_value(boto3(
        &st.python,
        &st.s3_url,
        "keys = []\n\
         for page in s3.get_paginator('list_objects_v2').paginate(Bucket='media'):\n    keys += [o['Key'] for o in page.get('Contents', [])]\n\
         print(json.dumps(sorted(keys)))",
    ))
    .expect("keys");
    assert_eq!(keys, predicted);

    // status and list through aws-sdk-mediaconvert against the local API.
    let o = cloud(&["status", &id, "--json"], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let state: Value = serde_json::from_slice(&o.stdout).expect("status JSON");
    assert_eq!(state["status"], "COMPLETE");
    assert_eq!(state["outputs"], job["outputs"]);
    assert!(
        state["user_metadata"]["mpe_job_id"].is_string(),
        "{state:#}"
    );
    let o = cloud(&["list", "--json"], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: Value = serde_json::from_slice(&o.stdout).expect("list JSON");
    assert!(listed
        .as_array()
        .expect("list")
        .iter()
        .any(|j| j["id"] == id.as_str()));
    let o = cloud(&["wait", &id, "--json"], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A job with a setting the engine lacks, submitted as JSON: it ends in ERROR, and
    // `--wait` fails with one line that names the setting.
    let mut clipped = crate::cloud::render(&src, "default");
    clipped["Settings"]["Inputs"][0]["InputClippings"] =
        json!([{ "StartTimecode": "00:00:00:10" }]);
    let job_file = dir.join("clipped.json");
    std::fs::write(&job_file, clipped.to_string()).expect("job");
    let o = cloud(
        &[
            "submit",
            "--job",
            job_file.to_str().expect("utf-8"),
            "--wait",
            "--interval",
            "0.2",
        ],
        &st.s3_url,
        &st.mc_url,
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().expect("an error line");
    assert!(last.starts_with("mpe: error: job "), "{err}");
    assert!(last.contains("ended ERROR: 1010"), "{err}");
    assert!(last.contains("Settings.Inputs[0].InputClippings"), "{err}");
}

#[test]
fn cloud_submit_errors_are_one_line() {
    let src = util::fixture("short");
    let python = util::python();
    let (_moto, s3_url) = moto(&python, false);
    boto3(&python, &s3_url, "s3.create_bucket(Bucket='raw')");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let submit = |bucket: &str, s3: &str, env: &[(&str, &str)]| {
        cloud(
            &[
                "submit",
                src.to_str().expect("utf-8"),
                "--bucket",
                bucket,
                "--dest",
                "s3://media/",
                "--role",
                "arn:aws:iam::000000000000:role/mc",
                "--max-attempts",
                "2",
            ],
            s3,
            &dead,
            env,
        )
    };

    // A bucket that does not exist.
    let o = submit("nosuch", &s3_url, &[]);
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("s3://nosuch/uploads/short.mp4"), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");

    // An endpoint nobody listens on.
    let o = submit("raw", &dead, &[]);
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("endpoint unreachable"), "{err}");

    // No credentials anywhere in the chain.
    let o = submit(
        "raw",
        &s3_url,
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("no credentials"), "{err}");

    // No region anywhere in the chain.
    let o = submit(
        "raw",
        &s3_url,
        &[("AWS_DEFAULT_REGION", ""), ("AWS_REGION", "")],
    );
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("no region"), "{err}");

    // Credentials the server does not know (moto with IAM checks on).
    let (_strict, strict_url) = moto(&python, true);
    let o = submit("raw", &strict_url, &[]);
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("InvalidAccessKeyId"), "{err}");

    // No role from flags, environment or stack outputs: said before anything is sent.
    let o = cloud(
        &[
            "submit",
            src.to_str().expect("utf-8"),
            "--bucket",
            "raw",
            "--dest",
            "s3://media/",
        ],
        &s3_url,
        &dead,
        &[],
    );
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("no MediaConvert role"), "{err}");
    // Nothing was uploaded by the failed runs.
    let keys = boto3(
        &python,
        &s3_url,
        "print(json.dumps([o['Key'] for o in s3.list_objects_v2(Bucket='raw').get('Contents', [])]))",
    );
    assert_eq!(keys, json!([]));
}
