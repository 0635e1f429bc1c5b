//! `mpe mediaconvert serve`: the MediaConvert API on localhost, driven by the real boto3
//! clients, reading and writing a real S3 API server (moto's) on 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util;

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
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

const CREDS: [(&str, &str); 3] = [
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
            let port = free_port();
            let bin = python.with_file_name("moto_server");
            let child = Command::new(bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let p = Proc(child);
            wait_port(port, "moto_server");
            (Some(p), format!("http://127.0.0.1:{port}"))
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
