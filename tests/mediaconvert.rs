//! `mpe mediaconvert serve`: the MediaConvert API on localhost, driven by the real boto3
//! clients, reading and writing a real S3 API server (moto's) on 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util;

/// A child process killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

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

/// Waits until something listens on `port` (at most a minute).
pub fn wait_port(port: u16, what: &str) {
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
pub(crate) struct Stack {
    _s3: Option<Proc>,
    serve: Option<Proc>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    pub(crate) s3_url: String,
    pub(crate) mc_url: String,
    pub(crate) python: PathBuf,
}

impl Stack {
    fn start_serve(&mut self) {
        let (serve, mc_url) = start_server(
            Command::new(env!("CARGO_BIN_EXE_mpe"))
                .args(["mediaconvert", "serve", "--port", &self.port.to_string()])
                .args(["--s3-endpoint", &self.s3_url])
                .arg("--work")
                .arg(self.dir.join("work"))
                .arg("--data")
                .arg(self.dir.join("data"))
                .args(&self.extra)
                .envs(CREDS),
            self.port,
            "mpe mediaconvert serve",
        );
        self.serve = Some(serve);
        self.mc_url = mc_url;
    }

    /// Kills the server (as a crash would) and starts it again on the same store.
    pub(crate) fn restart(&mut self) {
        self.serve = None;
        self.start_serve();
    }
}

pub(crate) fn stack(dir: &Path, s3_url: Option<String>) -> Stack {
    stack_with(dir, s3_url, &[])
}

/// [`stack`], the server started with `extra` arguments.
pub(crate) fn stack_with(dir: &Path, s3_url: Option<String>, extra: &[&str]) -> Stack {
    let python = util::python();
    let (s3, s3_url) = match s3_url {
        Some(u) => (None, u),
        None => {
            let (p, url) = moto(&python, false);
            (Some(p), url)
        }
    };
    let mut st = Stack {
        _s3: s3,
        serve: None,
        port: free_port(),
        dir: dir.to_path_buf(),
        extra: extra.iter().map(|a| a.to_string()).collect(),
        s3_url,
        mc_url: String::new(),
        python,
    };
    st.start_serve();
    st
}

/// Starts a server process, quiet, and waits until it listens on `port`; returns it and
/// its URL.
fn start_server(cmd: &mut Command, port: u16, what: &str) -> (Proc, String) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let p = Proc(child);
    wait_port(port, what);
    (p, format!("http://127.0.0.1:{port}"))
}

/// Uploads `src`, submits `job` with boto3, waits; returns the client's report. With
/// `download`, the asset's objects are fetched into that folder.
pub(crate) fn submit(
    stack: &Stack,
    src: &Path,
    job: &Value,
    dir: &Path,
    download: Option<&Path>,
) -> Value {
    let file = dir.join("job.json");
    std::fs::write(&file, job.to_string()).expect("job");
    let o = Command::new(&stack.python)
        .arg(util::repo().join("tests/mediaconvert/client.py"))
        .args([&stack.s3_url, &stack.mc_url])
        .arg(src)
        .arg(&file)
        .args(download)
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
    let cloud_dir = dir.join("cloud");
    let report = submit(&stack, &src, &job, &dir, Some(&cloud_dir));
    let done = &report["job"];
    assert_eq!(done["Status"], "COMPLETE", "{done:#}");
    let id = done["Id"].as_str().expect("id");
    assert!(report["listed"]
        .as_array()
        .expect("list")
        .iter()
        .any(|j| j == id));
    // OutputGroupDetails as MediaConvert gives them: one per output group, one detail
    // per output, picture sizes only where there is video.
    let groups = job["Settings"]["OutputGroups"].as_array().expect("groups");
    let details = done["OutputGroupDetails"].as_array().expect("details");
    assert_eq!(details.len(), groups.len(), "{done:#}");
    for (g, d) in groups.iter().zip(details) {
        let outputs = g["Outputs"].as_array().expect("outputs");
        let got = d["OutputDetails"].as_array().expect("output details");
        assert_eq!(got.len(), outputs.len(), "{d:#}");
        for (o, od) in outputs.iter().zip(got) {
            assert_eq!(
                od.get("VideoDetails").is_some(),
                o.get("VideoDescription").is_some(),
                "{od:#}"
            );
        }
    }
    assert_eq!(
        details[0]["OutputDetails"][0]["VideoDetails"]["HeightInPx"], 360,
        "{done:#}"
    );
    // Parity: the objects MediaConvert's API wrote are the files `mpe transcode` writes
    // (less mpe's own metadata.json, which MediaConvert does not make, and the trick-play
    // sheets, which the status step draws from the thumbnails: tests/lambda.rs)...
    let local = util::transcode(&src, "default", &dir.join("local"));
    let expected: Vec<String> = util::tree(&local)
        .into_iter()
        .filter(|f| f != "metadata.json" && !f.starts_with("trickplay/"))
        .map(|f| format!("asset/{f}"))
        .collect();
    let keys: Vec<String> = serde_json::from_value(report["keys"].clone()).expect("keys");
    assert_eq!(keys, expected);
    // ...and, by ffprobe, the same renditions: the MP4s, the thumbnails, and each CMAF
    // track joined from its init and media segments.
    let cloud_asset = cloud_dir.join("asset");
    let files: Vec<String> = util::tree(&local)
        .into_iter()
        .filter(|f| !f.starts_with("trickplay/"))
        .collect();
    let mut compared = 0;
    for f in &files {
        let (a, b) = if f.ends_with(".mp4") || f.ends_with(".jpg") || f.ends_with(".ts") {
            (cloud_asset.join(f), local.join(f))
        } else if let Some(prefix) = f
            .strip_suffix("init.cmfv")
            .or_else(|| f.strip_suffix("init.cmfa"))
        {
            let ext = &f[f.len() - 5..];
            let segments: Vec<&String> = files
                .iter()
                .filter(|s| s.starts_with(&format!("{prefix}_")) && s.ends_with(ext))
                .collect();
            let join = |root: &Path, side: &str| {
                let out = dir.join(format!("joined-{side}-{}.mp4", compared));
                let segs: Vec<PathBuf> = segments.iter().map(|s| root.join(s)).collect();
                util::join_segments(Some(&root.join(f)), &segs, &out);
                out
            };
            (join(&cloud_asset, "cloud"), join(&local, "local"))
        } else {
            continue;
        };
        assert_eq!(rendition(&a), rendition(&b), "{f}");
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} files compared: {files:?}");

    // A setting the engine does not support ends the job in ERROR, naming it.
    let mut scanned = job.clone();
    scanned["Settings"]["Inputs"][0]["InputScanType"] = json!("PSF");
    let report = submit(&stack, &src, &scanned, &dir, None);
    let failed = &report["job"];
    assert_eq!(failed["Status"], "ERROR", "{failed:#}");
    let msg = failed["ErrorMessage"].as_str().expect("message");
    assert!(msg.contains("Settings.Inputs[0].InputScanType"), "{msg}");
    // ListJobs pages (one job a page, by NextToken) give every job, newest first.
    let failed_id = failed["Id"].as_str().expect("id");
    assert_eq!(report["paged"], json!([failed_id, id]), "{report:#}");
}

/// What ffprobe says a media file holds: each stream's codec, profile, size, pixel
/// format, frame rate and audio layout, and the duration to 0.1 s.
fn rendition(path: &Path) -> Value {
    let probe = util::ffprobe(path);
    let keys = [
        "codec_type",
        "codec_name",
        "profile",
        "width",
        "height",
        "pix_fmt",
        "r_frame_rate",
        "sample_rate",
        "channels",
    ];
    let streams: Vec<Value> = probe["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| keys.iter().map(|k| (k.to_string(), s[k].clone())).collect())
        .collect();
    let duration = (util::num(&probe["format"]["duration"]) * 10.0).round() / 10.0;
    json!({ "streams": streams, "duration": duration })
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
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if auth {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
    }
    start_server(&mut cmd, port, "moto_server")
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
pub(crate) fn cloud(
    args: &[&str],
    s3: &str,
    mc: &str,
    extra_env: &[(&str, &str)],
) -> std::process::Output {
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

/// `mpe cloud submit SRC` to `bucket`, with destination and role flags, parts of 5 MiB
/// and 2 attempts per request, so that failures come quickly.
fn submit_to(
    src: &Path,
    bucket: &str,
    s3: &str,
    mc: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
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
            "--part-size",
            "5",
            "--max-attempts",
            "2",
        ],
        s3,
        mc,
        env,
    )
}

pub(crate) fn stderr_line(o: &std::process::Output) -> String {
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
    // `--wait` followed it: PROGRESSING with a percent, then COMPLETE.
    let err = String::from_utf8_lossy(&o.stderr);
    let progressing = format!("mpe: job {id}: PROGRESSING ");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&progressing) && l.ends_with('%')),
        "{err}"
    );
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
        // MediaConvert makes neither mpe's record nor the trick-play sheets (drawn by the
        // status step from the thumbnails).
        .filter(|f| f != "metadata.json" && !f.starts_with("trickplay/"))
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
    // The output group details: one list per group of the job, sizes where video is.
    let groups = state["output_groups"].as_array().expect("output groups");
    let rungs: Vec<u64> = plan
        .renditions
        .iter()
        .map(|r| u64::from(r.height))
        .collect();
    assert!(groups.len() >= 3, "{state:#}");
    let first: Vec<u64> = groups[0]
        .as_array()
        .expect("outputs")
        .iter()
        .filter_map(|o| o["height"].as_u64())
        .collect();
    assert_eq!(first, rungs, "{state:#}");
    // ...and as text.
    let o = cloud(&["status", &id], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("status   COMPLETE"), "{text}");
    assert!(text.contains("group 0  "), "{text}");
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
    let mut scanned = crate::cloud::render(&src, "default");
    scanned["Settings"]["Inputs"][0]["InputScanType"] = json!("PSF");
    let job_file = dir.join("scanned.json");
    std::fs::write(&job_file, scanned.to_string()).expect("job");
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
    assert!(last.contains("Settings.Inputs[0].InputScanType"), "{err}");
    // `list` shows it, with its error, among the jobs that ended in ERROR.
    let o = cloud(&["list", "--status", "error"], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(" ERROR "), "{text}");
    assert!(text.contains("1010: "), "{text}");
}

#[test]
fn cloud_submit_errors_are_one_line() {
    let src = util::fixture("short");
    let python = util::python();
    let (_moto, s3_url) = moto(&python, false);
    boto3(&python, &s3_url, "s3.create_bucket(Bucket='raw')");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let submit =
        |bucket: &str, s3: &str, env: &[(&str, &str)]| submit_to(&src, bucket, s3, &dead, env);

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

/// The fault proxy (tests/mediaconvert/faults.py) in front of a real server.
struct Faults {
    _proc: Proc,
    url: String,
    log: PathBuf,
}

impl Faults {
    fn start(python: &Path, upstream: &str, log: PathBuf, rules: Value) -> Faults {
        let port = free_port();
        let (p, url) = start_server(
            Command::new(python)
                .arg(util::repo().join("tests/mediaconvert/faults.py"))
                .arg(port.to_string())
                .arg(upstream)
                .arg(&log)
                .arg(rules.to_string()),
            port,
            "the fault proxy",
        );
        Faults { _proc: p, url, log }
    }

    /// The requests it saw, in order.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }
}

/// UploadPart requests of a proxy's log: (part number, status, in flight, CRC32 sent).
fn parts(f: &Faults) -> Vec<(u32, u64, u64, Option<String>)> {
    f.requests()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .filter_map(|r| {
            let q = r["query"].as_str()?;
            let n = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))?
                .parse()
                .ok()?;
            let checksum = r["checksum"].as_str().map(str::to_string);
            Some((n, r["status"].as_u64()?, r["inflight"].as_u64()?, checksum))
        })
        .collect()
}

#[test]
fn cloud_submit_retries_throttling_and_lost_answers() {
    let src = util::fixture("bulky");
    let dir = util::work_dir("cloud-faults");
    let python = util::python();
    let (_moto, moto_url) = moto(&python, false);
    boto3(
        &python,
        &moto_url,
        "for b in ('raw', 'media'): s3.create_bucket(Bucket=b)",
    );
    // S3 throttles part 2 once (503 SlowDown); every part is held 0.3 s, so parts sent
    // in parallel overlap. The job's own read of its input is held 3 s, so that it is
    // surely still running when it is cancelled.
    let s3 = Faults::start(
        &python,
        &moto_url,
        dir.join("s3.log"),
        json!([
            { "method": "PUT", "query": "partNumber=2", "status": 503, "code": "SlowDown", "times": 1 },
            { "method": "PUT", "query": "partNumber=", "delay": 0.3 },
            { "method": "GET", "path": "/raw/uploads/", "delay": 3.0 },
        ]),
    );
    let st = stack(&dir, Some(s3.url.clone()));
    // MediaConvert makes the job but its answer is lost once (500), and GetJob is
    // throttled once (429).
    let mc = Faults::start(
        &st.python,
        &st.mc_url,
        dir.join("mc.log"),
        json!([
            { "method": "POST", "path": "/2017-08-29/jobs", "status": 500, "code": "InternalServerErrorException", "after": true, "times": 1, "format": "json" },
            { "method": "GET", "path": "/2017-08-29/jobs/", "status": 429, "code": "TooManyRequestsException", "times": 1, "format": "json" },
        ]),
    );
    // Bucket, destination and role from the environment this time.
    let o = cloud(
        &[
            "submit",
            src.to_str().expect("utf-8"),
            "--part-size",
            "5",
            "--concurrency",
            "3",
            "--progress",
            "json",
        ],
        &s3.url,
        &mc.url,
        &[
            ("MPE_RAW_BUCKET", "raw"),
            ("MPE_DEST", "s3://media/"),
            ("MPE_MEDIACONVERT_ROLE", "arn:aws:iam::000000000000:role/mc"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o_cancel = cloud(&["cancel", &id], &st.s3_url, &st.mc_url, &[]);
    assert!(
        o_cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&o_cancel.stderr)
    );
    // Progress as JSON: one object per finished part, rising to the whole file.
    let size = std::fs::metadata(&src).expect("size").len();
    let progress: Vec<u64> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["bytes"].as_u64())
        .collect();
    assert_eq!(progress.len(), 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&size));

    // Part 2 was sent again after the throttle; every part carried its CRC32; parts
    // were in flight together.
    let sent = parts(&s3);
    let tries = |n: u32| -> Vec<u64> { sent.iter().filter(|p| p.0 == n).map(|p| p.1).collect() };
    assert_eq!(tries(1), [200], "{sent:?}");
    assert_eq!(tries(2), [503, 200], "{sent:?}");
    assert_eq!(tries(3), [200], "{sent:?}");
    // Each part's CRC32 (base64 of the big-endian value, as S3 takes it) by zlib.
    let script = format!(
        "import base64, zlib\nd = open({:?}, 'rb').read()\n\
         print(json.dumps([base64.b64encode(zlib.crc32(d[i:i + 5242880]).to_bytes(4, 'big')).decode() \
         for i in range(0, len(d), 5242880)]))",
        src.to_str().expect("utf-8")
    );
    let crc: Vec<String> = serde_json::from_value(boto3(&python, &moto_url, &script)).expect("crc");
    for (n, _, _, sum) in &sent {
        assert_eq!(
            sum.as_deref(),
            Some(crc[*n as usize - 1].as_str()),
            "part {n}"
        );
    }
    assert!(
        sent.iter().any(|p| p.2 >= 2),
        "parts never overlapped: {sent:?}"
    );
    let head = boto3(
        &python,
        &moto_url,
        "h = s3.head_object(Bucket='raw', Key='uploads/bulky.mp4')\nprint(json.dumps(h['ETag']))",
    );
    assert!(head.as_str().expect("etag").ends_with("-3\""), "{head}");

    // CreateJob was retried with the same token and made one job, not two.
    let posts = mc
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 2);
    let o = cloud(&["list", "--json"], &st.s3_url, &st.mc_url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: Value = serde_json::from_slice(&o.stdout).expect("list JSON");
    let ids: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);

    // Cancelled while it ran: `wait` (through the throttling proxy, which refuses its
    // first GetJob) says so in one line.
    let o = cloud(
        &["wait", &id, "--interval", "0.2"],
        &st.s3_url,
        &mc.url,
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().expect("an error line");
    assert_eq!(
        last,
        format!("mpe: error: job {id} ended CANCELED"),
        "{err}"
    );
    let gets: Vec<u64> = mc
        .requests()
        .iter()
        .filter(|r| r["method"] == "GET")
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert_eq!(gets.first(), Some(&429), "{gets:?}");
    assert_eq!(gets.get(1), Some(&200), "{gets:?}");
}

#[test]
fn cloud_submit_aborts_a_refused_upload_and_names_the_region() {
    let src = util::fixture("bulky");
    let short = util::fixture("short");
    let python = util::python();
    let dir = util::work_dir("cloud-refused");
    let (_moto, s3_url) = moto(&python, false);
    boto3(&python, &s3_url, "s3.create_bucket(Bucket='raw')");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let s3 = Faults::start(
        &python,
        &s3_url,
        dir.join("s3.log"),
        json!([{ "method": "PUT", "query": "partNumber=2", "status": 403, "code": "AccessDenied" }]),
    );
    let submit = |src: &Path, s3: &str| submit_to(src, "raw", s3, &dead, &[]);

    // Access denied to a part: one line naming it, and the upload is aborted, so no
    // parts are left behind and no object appears.
    let o = submit(&src, &s3.url);
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(
        err.contains("part 2 of s3://raw/uploads/bulky.mp4"),
        "{err}"
    );
    assert!(err.contains("AccessDenied"), "{err}");
    let refused = parts(&s3).iter().filter(|p| p.0 == 2).count();
    assert_eq!(refused, 1, "access denied is not retried");
    let left = boto3(
        &python,
        &s3_url,
        "u = s3.list_multipart_uploads(Bucket='raw').get('Uploads', [])\n\
         o = s3.list_objects_v2(Bucket='raw').get('Contents', [])\n\
         print(json.dumps({'uploads': len(u), 'objects': len(o)}))",
    );
    assert_eq!(left, json!({ "uploads": 0, "objects": 0 }));

    // Uploaded, but MediaConvert cannot be reached: said in one line, after the upload.
    let o = submit(&short, &s3_url);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().last().expect("an error line");
    assert!(
        err.contains("mpe: uploaded s3://raw/uploads/short.mp4"),
        "{err}"
    );
    assert!(
        last.contains("MediaConvert CreateJob: endpoint unreachable"),
        "{err}"
    );

    // A region where nothing answers (no endpoint override): the error names the region.
    let o = cloud(
        &[
            "status",
            "1700000000-abcdef",
            "--region",
            "xx-nowhere-1",
            "--max-attempts",
            "1",
        ],
        &s3_url,
        "",
        &[("AWS_ENDPOINT_URL_MEDIACONVERT", "")],
    );
    assert!(!o.status.success());
    let err = stderr_line(&o);
    assert!(err.contains("region xx-nowhere-1"), "{err}");
    assert!(err.contains("endpoint unreachable"), "{err}");
}

#[test]
fn the_typed_sdk_client_creates_gets_lists_and_cancels_jobs() {
    use aws_sdk_mediaconvert::types::{
        ContainerSettings, ContainerType, FileGroupSettings, Input, JobSettings, JobStatus, Output,
        OutputGroup, OutputGroupSettings, OutputGroupType,
    };
    let dir = util::work_dir("mediaconvert-typed");
    let st = stack(&dir, None);
    let mc = aws_sdk_mediaconvert::Client::new(&crate::lambda::shared(&st.mc_url));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // A job built with the SDK's own types and serialised by it: an MP4 output with no
    // video description, which the local executor cannot run.
    let settings = JobSettings::builder()
        .inputs(
            Input::builder()
                .file_input("s3://raw/uploads/a.mp4")
                .build(),
        )
        .output_groups(
            OutputGroup::builder()
                .name("File Group")
                .output_group_settings(
                    OutputGroupSettings::builder()
                        .r#type(OutputGroupType::FileGroupSettings)
                        .file_group_settings(
                            FileGroupSettings::builder()
                                .destination("s3://media/a/")
                                .build(),
                        )
                        .build(),
                )
                .outputs(
                    Output::builder()
                        .name_modifier("_360p")
                        .container_settings(
                            ContainerSettings::builder()
                                .container(ContainerType::Mp4)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let create = |token: &str| {
        rt.block_on(
            mc.create_job()
                .role("arn:aws:iam::000000000000:role/mc")
                .settings(settings.clone())
                .user_metadata("mpe_profile", "default")
                .client_request_token(token)
                .send(),
        )
        .expect("CreateJob")
        .job()
        .cloned()
        .expect("a job")
    };
    let job = create("token-1");
    let id = job.id().expect("id").to_string();
    assert!(
        matches!(
            job.status(),
            Some(JobStatus::Submitted | JobStatus::Progressing)
        ),
        "{job:?}"
    );
    // The same token is the same job.
    assert_eq!(create("token-1").id(), Some(id.as_str()));

    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let j = rt
            .block_on(mc.get_job().id(&id).send())
            .expect("GetJob")
            .job()
            .cloned()
            .expect("a job");
        if j.status() == Some(&JobStatus::Error) {
            break j;
        }
        assert!(Instant::now() < deadline, "still {:?}", j.status());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ended.error_code(), Some(1010));
    let message = ended.error_message().expect("a message");
    assert!(
        message.contains("Settings.OutputGroups[0].Outputs[0]"),
        "{message}"
    );
    assert_eq!(
        ended.user_metadata().and_then(|m| m.get("mpe_profile")),
        Some(&"default".to_string())
    );

    let listed = rt
        .block_on(mc.list_jobs().status(JobStatus::Error).send())
        .expect("ListJobs");
    let ids: Vec<&str> = listed.jobs().iter().filter_map(|j| j.id()).collect();
    assert_eq!(ids, [id.as_str()]);

    // Cancelling an ended job is refused with MediaConvert's error type.
    let refused = rt
        .block_on(mc.cancel_job().id(&id).send())
        .expect_err("an ended job cannot be cancelled");
    let service = refused.into_service_error();
    assert!(service.is_conflict_exception(), "{service:?}");
}

#[test]
fn serve_sends_job_state_changes_and_status_updates_at_the_jobs_interval() {
    let src = util::fixture("hd_16x9");
    let dir = util::work_dir("mediaconvert-events");
    let log = dir.join("events.jsonl");
    let stack = stack_with(&dir, None, &["--events", log.to_str().expect("utf-8")]);
    let mut job = crate::cloud::render(&src, "default");
    job["StatusUpdateInterval"] = json!("SECONDS_10");
    job["UserMetadata"] = json!({ "asset": "events-test" });
    // x264's medium preset on the whole 1080p ladder: long enough on two cores for an
    // update or more.
    util::each_h264(&mut job, |h| {
        h["QualityTuningLevel"] = json!("SINGLE_PASS_HQ")
    });
    let report = submit(&stack, &src, &job, &dir, None);
    assert_eq!(report["job"]["Status"], "COMPLETE", "{report:#}");
    let id = report["job"]["Id"].as_str().expect("id");
    let text = std::fs::read_to_string(&log).expect("the event log");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event a line"))
        .filter(|e: &Value| e["detail"]["jobId"] == id)
        .collect();
    // Each is what the job-state Lambda reads, in EventBridge's envelope.
    for e in &events {
        let typed: cloud::model::JobStateChange =
            serde_json::from_value(e.clone()).expect("the typed event");
        assert_eq!(typed.detail_type, "MediaConvert Job State Change");
        assert_eq!(typed.source, "aws.mediaconvert");
        assert_eq!(typed.detail.user_metadata["asset"], "events-test");
    }
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["status"].as_str().expect("status"))
        .collect();
    let updates = statuses.iter().filter(|s| **s == "STATUS_UPDATE").count();
    let mut expected = vec!["SUBMITTED", "PROGRESSING"];
    expected.extend(std::iter::repeat_n("STATUS_UPDATE", updates));
    expected.push("COMPLETE");
    assert_eq!(statuses, expected);
    // One update every 10 s of transcoding, the first 10 s in (none while the outputs go
    // up after it).
    let at = |i: usize| events[i]["detail"]["timestamp"].as_u64().expect("ms");
    let ran = at(events.len() - 1) - at(1);
    assert!(
        ran >= 10_000,
        "the job ran {ran} ms: too short to show an update"
    );
    assert!(
        updates >= 1 && updates as u64 <= ran / 10_000,
        "{ran} ms: {statuses:?}"
    );
    let mut due = 0;
    let mut last_percent = 0;
    let mut last_frames = 0;
    let mut uploading = false;
    for (i, e) in events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["detail"]["status"] == "STATUS_UPDATE")
    {
        // The k-th falls due k x 10 s after PROGRESSING, and is sent no earlier, and
        // before the next falls due: none is skipped while the job transcodes.
        due += 10_000;
        let after = at(i) + 50 - at(1);
        assert!(after >= due && after < due + 10_000, "{after} ms for {due}");
        let p = &e["detail"]["jobProgress"];
        let pct = p["jobPercentComplete"].as_u64().expect("percent");
        assert!(pct >= last_percent && pct < 100, "{e:#}");
        last_percent = pct;
        let frames = e["detail"]["framesDecoded"]
            .as_u64()
            .expect("framesDecoded");
        // While it transcodes, more frames decoded at each update; once its outputs go up
        // to S3, transcoding is done (an update that fell due while the encoders finished
        // goes out as the uploads start).
        match p["currentPhase"].as_str() {
            Some("TRANSCODING") if !uploading => {
                assert_eq!(p["phaseProgress"]["TRANSCODING"]["percentComplete"], pct);
                assert!(frames > last_frames, "{e:#}");
            }
            Some("UPLOADING") => {
                uploading = true;
                assert_eq!(
                    p["phaseProgress"]["TRANSCODING"]["status"], "COMPLETE",
                    "{e:#}"
                );
                let up = &p["phaseProgress"]["UPLOADING"];
                assert_eq!(up["status"], "PROGRESSING", "{e:#}");
                assert!(
                    up["percentComplete"].as_u64().is_some_and(|u| u < 100),
                    "{e:#}"
                );
                assert!(frames >= last_frames && frames > 0, "{e:#}");
            }
            _ => panic!("an update in no phase, or back from uploading: {e:#}"),
        }
        last_frames = frames;
    }
    // COMPLETE says where each group went, under the job's destination.
    let complete = &events[events.len() - 1]["detail"];
    let groups = complete["outputGroupDetails"].as_array().expect("groups");
    assert!(!groups.is_empty(), "{complete:#}");
    let cmaf = groups
        .iter()
        .find(|g| g["type"] == "CMAF_GROUP")
        .expect("the CMAF group");
    assert_eq!(
        cmaf["playlistFilePaths"],
        json!([
            "s3://media/asset/cmaf/hd_16x9.mpd",
            "s3://media/asset/cmaf/hd_16x9.m3u8"
        ])
    );
}
