//! `mpe watch` and `mpe jobs`: sources taken once and only when complete, records, events,
//! retries, the failure queue, bursts, and a `kill -9` in the middle of a job.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util;

/// A running `mpe watch`, killed when dropped.
struct Watcher {
    child: Child,
    input: PathBuf,
    /// Where the watcher's stderr goes, shown when a wait times out.
    log: PathBuf,
}

impl Watcher {
    fn start(input: &Path, output: &Path, profile: &Path, extra: &[&str]) -> Watcher {
        std::fs::create_dir_all(input).expect("watch folder");
        let log = input.with_extension("stderr");
        let stderr = std::fs::File::create(&log).expect("the watcher's log");
        let child = Command::new(env!("CARGO_BIN_EXE_mpe"))
            .arg("watch")
            .arg(input)
            .arg("-o")
            .arg(output)
            .arg("-p")
            .arg(profile)
            .args(["--settle", "0.3"])
            .args(if extra.contains(&"--retry-base") {
                &[][..]
            } else {
                &["--retry-base", "1"][..]
            })
            // Files that are not media fail after 2 s still, not the default 30.
            .args(if extra.contains(&"--wait-incomplete") {
                &[][..]
            } else {
                &["--wait-incomplete", "2"][..]
            })
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start mpe watch");
        Watcher {
            child,
            input: input.to_path_buf(),
            log,
        }
    }

    /// SIGKILL: no chance to clean anything up.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGINT, then waits for a clean exit.
    fn stop(mut self) {
        // Not before it is up: until then SIGINT has its default effect.
        let up = Instant::now() + Duration::from_secs(30);
        while Instant::now() < up
            && !std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains(" watching"))
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        // bash's own `kill`: no procps needed.
        let _ = Command::new("bash")
            .args(["-c", &format!("kill -INT {}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "mpe watch exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("mpe watch did not stop on SIGINT");
    }

    fn jobs(&self) -> Vec<Value> {
        jobs(&self.input)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mpe jobs list --json`.
fn jobs(input: &Path) -> Vec<Value> {
    let o = util::mpe(&[
        "jobs",
        "-w",
        input.to_str().expect("utf-8"),
        "list",
        "--json",
    ]);
    if !o.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap_or_default()
}

/// Waits (up to `secs`) until `done` holds for the job list; returns it.
fn wait_for(w: &Watcher, secs: u64, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let list = w.jobs();
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {list:#?}\nthe watcher said: {}",
            std::fs::read_to_string(&w.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn all_in(list: &[Value], n: usize, status: &str) -> bool {
    list.len() == n && list.iter().all(|j| j["status"] == status)
}

/// A one-rung profile so that jobs take well under a second.
fn small_profile(dir: &Path) -> PathBuf {
    util::write_profile(dir, "mobile", |p| {
        p["renditions"] = json!([{ "name": "240p", "height": 240, "bitrate": 300000,
            "max_bitrate": 450000, "buffer_size": 600000 }]);
        p["video"]["preset"] = json!("ultrafast");
        p["outputs"] = json!({ "file": { "destination": "mp4/", "renditions": ["240p"] } });
    })
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn events(input: &Path) -> Vec<Value> {
    std::fs::read_to_string(input.join(".mpe/events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect()
}

fn statuses_of(events: &[Value], id: &Value) -> Vec<String> {
    events
        .iter()
        .filter(|e| &e["detail"]["jobId"] == id)
        .map(|e| {
            e["detail"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// A tiny HTTP server that records the bodies POSTed to it.
fn webhook_server() -> (String, std::sync::mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then the body by Content-Length.
            let body = loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            if let Some(b) = body.and_then(|b| serde_json::from_slice(&b).ok()) {
                let _ = tx.send(b);
            }
        }
    });
    (url, rx)
}

#[test]
fn a_dropped_file_completes_with_its_record_events_and_webhook() {
    let dir = util::work_dir("watch-one");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let (url, posted) = webhook_server();
    let w = Watcher::start(&input, &output, &small_profile(&dir), &["--webhook", &url]);
    let src = util::fixture("short");
    std::fs::copy(&src, input.join("clip.mp4")).expect("drop");
    let list = wait_for(&w, 60, "one Complete job", |l| all_in(l, 1, "Complete"));
    let job = &list[0];
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["checksum"], sha256(&src));
    assert_eq!(
        job["source"],
        input.join("clip.mp4").to_str().expect("utf-8")
    );
    // The source moved to done/, the asset is published under the job id.
    assert_eq!(util::entries(&input.join("done")), ["clip.mp4"]);
    assert!(!input.join("clip.mp4").exists());
    let asset = PathBuf::from(job["asset_dir"].as_str().expect("asset_dir"));
    assert_eq!(
        asset,
        output.join(job["id"].as_str().expect("id")).join("clip")
    );
    let on_disk = util::tree(&asset);
    let recorded: Vec<String> = serde_json::from_value(job["outputs"].clone()).expect("outputs");
    assert_eq!(recorded, on_disk);
    let probe = util::ffprobe(&asset.join("mp4/clip_240p.mp4"));
    assert_eq!(
        util::num(&util::stream(&probe, "video").expect("video")["height"]),
        240.0
    );
    // SUBMITTED, PROGRESSING, COMPLETE, in MediaConvert's event shape.
    let ev = events(&input);
    assert_eq!(
        statuses_of(&ev, &job["id"]),
        ["SUBMITTED", "PROGRESSING", "COMPLETE"]
    );
    let complete = ev.last().expect("event");
    assert_eq!(complete["detail-type"], "MediaConvert Job State Change");
    let group = &complete["detail"]["outputGroupDetails"][0];
    assert_eq!(group["type"], "FILE_GROUP");
    let mp4 = group["outputDetails"][0]["outputFilePaths"][0]
        .as_str()
        .expect("path");
    assert!(Path::new(mp4).is_file(), "{mp4}");
    assert_eq!(group["outputDetails"][0]["videoDetails"]["heightInPx"], 240);
    // The webhook got the same three events.
    let mut got = Vec::new();
    while got.len() < 3 {
        let e = posted
            .recv_timeout(Duration::from_secs(20))
            .expect("webhook POST");
        got.push(
            e["detail"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(got, ["SUBMITTED", "PROGRESSING", "COMPLETE"]);
    w.stop();
}

#[test]
fn slow_writers_and_partial_names_are_taken_once_when_complete() {
    slow_writers("watch-slow", &[]);
}

/// `--poll` (and the fallback where inotify cannot be had) sees the folder by listing it:
/// the same files are taken, each once, when complete.
#[test]
fn a_polled_folder_takes_slow_writers_and_renames_once_when_complete() {
    slow_writers("watch-poll", &["--poll"]);
}

fn slow_writers(name: &str, extra: &[&str]) {
    let dir = util::work_dir(name);
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), extra);
    let bytes = std::fs::read(util::fixture("short")).expect("fixture");
    // Eight chunks, 0.4 s apart (longer than the 0.3 s settle time), the file held open.
    let mut f = std::fs::File::create(input.join("slow.mp4")).expect("create");
    for chunk in bytes.chunks(bytes.len().div_ceil(8)) {
        f.write_all(chunk).expect("write");
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(400));
        assert!(w.jobs().is_empty(), "taken while still being written");
    }
    drop(f);
    // A download under a partial name, renamed when done.
    std::fs::write(input.join("dl.mp4.part"), &bytes).expect("write part");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.jobs()
            .iter()
            .all(|j| !j["source"].as_str().unwrap_or("").contains("dl.mp4")),
        "a .part file was taken"
    );
    std::fs::rename(input.join("dl.mp4.part"), input.join("dl.mp4")).expect("rename");
    let list = wait_for(&w, 60, "two Complete jobs", |l| all_in(l, 2, "Complete"));
    let whole = sha256(&input.join("done/slow.mp4"));
    for j in &list {
        assert_eq!(j["checksum"], whole, "{j}");
    }
    w.stop();
}

#[test]
fn bad_files_fail_once_and_transient_failures_are_retried() {
    let dir = util::work_dir("watch-fail");
    let (input, output) = (dir.join("in"), dir.join("out"));
    // OUT is a plain file: every job fails to create its folder until it is removed.
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(&output, b"in the way").expect("blocker");
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    std::fs::create_dir_all(&input).expect("in");
    std::fs::write(input.join("bad.mp4"), b"this is not a video").expect("bad");
    let list = wait_for(&w, 30, "the bad file to fail", |l| {
        l.iter().any(|j| j["status"] == "Error")
    });
    let bad = list
        .iter()
        .find(|j| j["status"] == "Error")
        .expect("bad job");
    assert_eq!(bad["attempts"], 1);
    assert_eq!(bad["permanent"], true);
    assert!(bad["error"]
        .as_str()
        .expect("error")
        .contains("bad.mp4: not a media file"));
    let note: Value = serde_json::from_slice(
        &std::fs::read(input.join("failed/bad.mp4.error.json")).expect("error JSON"),
    )
    .expect("JSON");
    assert_eq!(note["jobId"], bad["id"]);
    assert!(input.join("failed/bad.mp4").is_file());

    std::fs::copy(util::fixture("short"), input.join("good.mp4")).expect("drop");
    let list = wait_for(&w, 30, "a failed first attempt", |l| {
        l.iter().any(|j| {
            j["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("good.mp4"))
                && j["error"].is_string()
        })
    });
    let good = list
        .iter()
        .find(|j| {
            j["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("good.mp4"))
        })
        .expect("good job");
    assert_ne!(
        good["status"], "Error",
        "a transient failure must be retried: {good}"
    );
    std::fs::remove_file(&output).expect("remove blocker");
    let list = wait_for(&w, 60, "the retry to succeed", |l| {
        l.iter()
            .any(|j| j["id"] == good["id"] && j["status"] == "Complete")
    });
    let good = list.iter().find(|j| j["id"] == good["id"]).expect("good");
    assert!(good["attempts"].as_u64().expect("attempts") >= 2, "{good}");
    // The bad one was not retried meanwhile.
    let bad_now = list.iter().find(|j| j["id"] == bad["id"]).expect("bad");
    assert_eq!(bad_now["attempts"], 1);
    // `mpe jobs retry` brings it back; it fails the same way again.
    let o = util::mpe(&[
        "jobs",
        "-w",
        input.to_str().expect("utf-8"),
        "retry",
        bad["id"].as_str().expect("id"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for(&w, 30, "the retried bad job to fail again", |l| {
        l.iter()
            .any(|j| j["id"] == bad["id"] && j["status"] == "Error" && j["attempts"] == 1)
            && input.join("failed/bad.mp4").is_file()
    });
    w.stop();
    // The retry is on the record as events: the first ERROR, the SUBMITTED that
    // `jobs retry` logs, then the second ERROR.
    let statuses = statuses_of(&events(&input), &bad["id"]);
    let first_error = statuses
        .iter()
        .position(|s| s == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR event: {statuses:?}"));
    let resubmitted = statuses[first_error..]
        .iter()
        .position(|s| s == "SUBMITTED")
        .map(|i| i + first_error)
        .unwrap_or_else(|| panic!("no SUBMITTED event after the retry: {statuses:?}"));
    assert!(
        statuses[resubmitted..].iter().any(|s| s == "ERROR"),
        "{statuses:?}"
    );
}

#[test]
fn a_burst_of_thirty_files_completes_exactly_once() {
    let dir = util::work_dir("watch-burst");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&input).expect("in");
    let src = util::fixture("short");
    // Half are there before the watcher starts (the start-up scan), half arrive after.
    for i in 0..15 {
        std::fs::copy(&src, input.join(format!("b{i:02}.mp4"))).expect("drop");
    }
    let w = Watcher::start(&input, &output, &small_profile(&dir), &["--jobs", "2"]);
    for i in 15..30 {
        std::fs::copy(&src, input.join(format!("b{i:02}.mp4"))).expect("drop");
    }
    let list = wait_for(&w, 240, "30 Complete jobs", |l| all_in(l, 30, "Complete"));
    let mut ids: Vec<&str> = list.iter().map(|j| j["id"].as_str().expect("id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    assert!(list.iter().all(|j| j["attempts"] == 1));
    assert_eq!(util::entries(&output).len(), 30, "one asset folder per job");
    for id in &ids {
        assert!(output.join(id).read_dir().expect("job folder").count() == 1);
    }
    assert_eq!(util::entries(&input.join("done")).len(), 30);
    let ev = events(&input);
    for j in &list {
        assert_eq!(
            statuses_of(&ev, &j["id"]),
            ["SUBMITTED", "PROGRESSING", "COMPLETE"]
        );
    }
    w.stop();
}

#[test]
fn kill_9_during_a_job_then_restart_completes_it_exactly_once() {
    let dir = util::work_dir("watch-kill");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let profile = util::write_profile(&dir, "default", |p| {
        p["outputs"] = json!({ "file": { "destination": "mp4/", "renditions": ["720p"] } });
    });
    let w = Watcher::start(&input, &output, &profile, &[]);
    std::fs::copy(util::fixture("hd_16x9"), input.join("long.mp4")).expect("drop");
    wait_for(&w, 60, "the job to be under way", |l| {
        l.len() == 1 && l[0]["status"] == "Processing" && l[0]["progress"].as_f64() > Some(0.1)
    });
    w.kill9();
    let stuck = jobs(&input);
    assert_eq!(stuck[0]["status"], "Processing");
    let id = stuck[0]["id"].as_str().expect("id").to_string();
    let w = Watcher::start(&input, &output, &profile, &[]);
    let list = wait_for(&w, 120, "the job to complete after the restart", |l| {
        all_in(l, 1, "Complete")
    });
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["attempts"], 2);
    // Exactly one asset, complete, and no temp folder of the killed attempt.
    assert_eq!(util::entries(&output.join(&id)), ["long"]);
    assert!(output.join(&id).join("long/metadata.json").is_file());
    let ev = events(&input);
    let statuses = statuses_of(&ev, &json!(id));
    assert_eq!(
        statuses.iter().filter(|s| *s == "COMPLETE").count(),
        1,
        "{statuses:?}"
    );
    w.stop();
}

#[test]
fn same_names_at_different_times_and_sidecars() {
    let dir = util::work_dir("watch-names");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    std::fs::copy(util::fixture("short"), input.join("same.mp4")).expect("drop");
    wait_for(&w, 60, "the first", |l| all_in(l, 1, "Complete"));
    // The second comes with a sidecar: its own thumbnails and user metadata.
    std::fs::write(
        input.join("same.json"),
        json!({ "thumbnails": { "destination": "t/", "times": [0.5] },
                "user_metadata": { "title": "second" } })
        .to_string(),
    )
    .expect("sidecar");
    std::fs::copy(util::fixture("counter"), input.join("same.mp4")).expect("drop again");
    let list = wait_for(&w, 60, "the second", |l| all_in(l, 2, "Complete"));
    let assets: Vec<PathBuf> = list
        .iter()
        .map(|j| PathBuf::from(j["asset_dir"].as_str().expect("asset")))
        .collect();
    assert_ne!(assets[0], assets[1]);
    assert!(assets.iter().all(|a| a.join("metadata.json").is_file()));
    assert!(assets[1].join("t/same_thumb.0000000.jpg").is_file());
    assert!(!assets[0].join("t").exists());
    let done = util::entries(&input.join("done"));
    assert_eq!(
        done.len(),
        3,
        "both sources and the sidecar are kept: {done:?}"
    );
    let ev = events(&input);
    let last = ev.last().expect("event");
    assert_eq!(last["detail"]["userMetadata"]["title"], "second");
    w.stop();
}

#[test]
fn kept_sources_stay_in_place_and_are_not_taken_twice() {
    let dir = util::work_dir("watch-keep");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&input).expect("in");
    std::fs::copy(util::fixture("short"), input.join("keep.mp4")).expect("drop");
    let w = Watcher::start(&input, &output, &small_profile(&dir), &["--keep-sources"]);
    wait_for(&w, 60, "the job", |l| all_in(l, 1, "Complete"));
    assert!(
        input.join("keep.mp4").is_file(),
        "the source is back in place"
    );
    assert!(util::entries(&input.join("done")).is_empty());
    // A restart scans the folder again: the same file is not a new job...
    w.stop();
    let w = Watcher::start(&input, &output, &small_profile(&dir), &["--keep-sources"]);
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(w.jobs().len(), 1, "{:#?}", w.jobs());
    // ...but a changed one is.
    std::fs::copy(util::fixture("counter"), input.join("keep.mp4")).expect("replace");
    wait_for(&w, 60, "the changed file's job", |l| {
        all_in(l, 2, "Complete")
    });
    w.stop();
}

#[test]
fn a_waiting_job_can_be_cancelled_and_its_source_goes_to_failed() {
    let dir = util::work_dir("watch-cancel");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&dir).expect("dir");
    // OUT blocked and a long retry delay: the job waits in Ingest after its first attempt.
    std::fs::write(&output, b"in the way").expect("blocker");
    let w = Watcher::start(
        &input,
        &output,
        &small_profile(&dir),
        &["--retry-base", "60"],
    );
    std::fs::copy(util::fixture("short"), input.join("wait.mp4")).expect("drop");
    let list = wait_for(&w, 30, "a job waiting for its retry", |l| {
        l.len() == 1 && l[0]["status"] == "Ingest" && l[0]["attempts"] == 1
    });
    let id = list[0]["id"].as_str().expect("id").to_string();
    let o = util::mpe(&[
        "jobs",
        "-w",
        input.to_str().expect("utf-8"),
        "cancel",
        &id[..8],
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job = &jobs(&input)[0];
    assert_eq!(job["status"], "Error");
    assert!(input.join("failed/wait.mp4").is_file());
    assert!(input.join("failed/wait.mp4.error.json").is_file());
    let ev = events(&input);
    assert_eq!(
        statuses_of(&ev, &job["id"]).last().map(String::as_str),
        Some("ERROR")
    );
    // Cancelling it again is refused with a clear line.
    let o = util::mpe(&["jobs", "-w", input.to_str().expect("utf-8"), "cancel", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to cancel"));
    w.stop();
}

#[test]
fn chunks_reach_the_jobs() {
    let dir = util::work_dir("watch-chunks");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), &["--chunks", "2"]);
    std::fs::copy(util::fixture("ntsc_long"), input.join("long.mp4")).expect("drop");
    let list = wait_for(&w, 120, "one Complete job", |l| all_in(l, 1, "Complete"));
    let asset = PathBuf::from(list[0]["asset_dir"].as_str().expect("asset_dir"));
    let files = util::entries(&asset.join("mp4"));
    assert_eq!(files.len(), 1, "{files:?}");
    // 20 s in 6 s segments is four chunks, so four x264 streams.
    assert_eq!(util::x264_streams(&asset.join("mp4").join(&files[0])), 4);
    w.stop();
}

/// One watcher per folder (a second names the pid holding the lock); symbolic links are
/// never taken, as sources or sidecars (a linked sidecar's content never reaches the
/// store); a sidecar merges into the profile member by member, and a bad member is
/// refused by its path.
#[test]
fn one_watcher_a_folder_no_links_and_sidecars_merge_field_by_field() {
    let dir = util::work_dir("watch-lock");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    wait_for(&w, 30, "the watcher to start", |_| {
        input.join(".mpe/watch.lock").is_file()
    });
    std::thread::sleep(Duration::from_millis(500));
    let second = Command::new(env!("CARGO_BIN_EXE_mpe"))
        .arg("watch")
        .arg(&input)
        .arg("-o")
        .arg(dir.join("out2"))
        .output()
        .expect("a second watcher");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("watched already by mpe (pid {}", w.child.id())),
        "{err}"
    );

    // A linked source, and a real source whose sidecar is a link to a private file.
    let outside = dir.join("outside.mp4");
    std::fs::copy(util::fixture("short"), &outside).expect("outside");
    let secret = dir.join("secret.json");
    std::fs::write(&secret, r#"{"user_metadata": {"secret": "s3cr3t-value"}}"#).expect("secret");
    std::os::unix::fs::symlink(&secret, input.join("side.json")).expect("link");
    std::fs::copy(util::fixture("short"), input.join("side.mp4")).expect("drop");
    std::os::unix::fs::symlink(&outside, input.join("link.mp4")).expect("link");
    // A sidecar that adds a group and keeps the profile's other outputs, and one whose
    // member has the wrong type.
    std::fs::write(
        input.join("merged.json"),
        json!({ "outputs": { "cmaf": { "destination": "c/" } } }).to_string(),
    )
    .expect("sidecar");
    std::fs::copy(util::fixture("short"), input.join("merged.mp4")).expect("drop");
    std::fs::write(
        input.join("typo.json"),
        json!({ "video": { "preset": 5 } }).to_string(),
    )
    .expect("sidecar");
    std::fs::copy(util::fixture("short"), input.join("typo.mp4")).expect("drop");
    let list = wait_for(&w, 90, "three jobs to end", |l| {
        l.len() == 3
            && l.iter()
                .all(|j| j["status"] == "Complete" || j["status"] == "Error")
    });
    let by = |name: &str| {
        list.iter()
            .find(|j| j["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .unwrap_or_else(|| panic!("no job of {name}: {list:#?}"))
    };
    let side = by("side.mp4");
    assert_eq!(side["status"], "Error", "{side}");
    assert_eq!(side["permanent"], true);
    assert!(
        side["error"]
            .as_str()
            .is_some_and(|e| e.contains("side.json: a symbolic link")),
        "{side}"
    );
    let typo = by("typo.mp4");
    assert_eq!(typo["status"], "Error", "{typo}");
    assert!(
        typo["error"]
            .as_str()
            .is_some_and(|e| e.contains("video.preset")),
        "{typo}"
    );
    let merged = by("merged.mp4");
    assert_eq!(merged["status"], "Complete", "{merged}");
    let asset = PathBuf::from(merged["asset_dir"].as_str().expect("asset"));
    assert!(
        asset.join("mp4").is_dir() && asset.join("c").is_dir(),
        "{merged}"
    );
    // The link was never taken: it is where it was, and the log says why.
    assert!(std::fs::symlink_metadata(input.join("link.mp4"))
        .expect("link")
        .file_type()
        .is_symlink());
    let log = std::fs::read_to_string(&w.log).expect("log");
    assert!(log.contains("not taken: a symbolic link"), "{log}");
    // The database with its write-ahead log, and the event log.
    for f in util::entries(&input.join(".mpe")) {
        let path = input.join(".mpe").join(&f);
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("state file");
            assert!(
                !String::from_utf8_lossy(&bytes).contains("s3cr3t-value"),
                "a linked sidecar's content reached {f}"
            );
        }
    }
    assert!(
        util::entries(&input.join(".mpe/jobs")).is_empty(),
        "no job folder is left behind"
    );
    w.stop();
}

/// Appends `bytes` to `path` in `pieces` pieces, closing the file and pausing `pause`
/// between them, as a resumable-upload server or a shell loop with `>>` does.
fn append_in_pieces(path: &Path, bytes: &[u8], pieces: usize, pause: Duration) {
    for (i, chunk) in bytes.chunks(bytes.len().div_ceil(pieces)).enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open to append");
        f.write_all(chunk).expect("append");
    }
}

/// Uploads are never split: writers that close and reopen the file between pieces, with
/// pauses longer than the settle time (2 s and 5 s against 0.3 s), an MP4 with its index
/// first (a cut-off piece reads as truncated) and one with it last (a piece is no media
/// at all); a file written under a temp name and renamed (taken at once); a file written
/// to while its job runs (the run is abandoned and made again). Each source is one
/// complete job of the whole file, and nothing lands in `failed/`.
#[test]
fn writers_that_close_and_reopen_between_pieces_make_one_job_each() {
    let dir = util::work_dir("watch-pieces");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(
        &input,
        &output,
        &small_profile(&dir),
        &["--wait-incomplete", "20"],
    );
    let front = std::fs::read(util::fixture("short")).expect("fixture");
    // The same media with its index at the end, as FFmpeg writes MP4 by default.
    let moov_last = dir.join("moov_last.mp4");
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(util::fixture("short"))
        .args(["-c", "copy"])
        .arg(&moov_last)
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let last = std::fs::read(&moov_last).expect("moov last");
    std::thread::scope(|s| {
        s.spawn(|| append_in_pieces(&input.join("front.mp4"), &front, 3, Duration::from_secs(2)));
        s.spawn(|| append_in_pieces(&input.join("last.mp4"), &last, 3, Duration::from_secs(5)));
        // Meanwhile: a temp name, renamed when whole, is taken within a second or so.
        std::thread::sleep(Duration::from_secs(1));
        std::fs::write(input.join(".renamed.mp4.tmp"), &front).expect("write temp");
        std::fs::rename(input.join(".renamed.mp4.tmp"), input.join("renamed.mp4")).expect("rename");
        let renamed_at = Instant::now();
        wait_for(&w, 10, "the renamed file's job", |l| {
            l.iter().any(|j| {
                j["source"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("renamed.mp4"))
            })
        });
        let waited = renamed_at.elapsed();
        assert!(
            waited < Duration::from_millis(1500),
            "renamed file taken after {waited:?}"
        );
        assert!(
            w.jobs()
                .iter()
                .all(|j| !j["source"].as_str().unwrap_or("").ends_with("last.mp4")),
            "taken before its last piece: {:#?}",
            w.jobs()
        );
    });
    wait_for(&w, 60, "three Complete jobs", |l| all_in(l, 3, "Complete"));

    // A longer source that is appended to while its job runs.
    std::fs::copy(util::fixture("ntsc_long"), input.join("grows.mp4")).expect("drop");
    let list = wait_for(&w, 30, "the long job to run", |l| {
        l.iter().any(|j| {
            j["status"] == "Processing"
                && j["source"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("grows.mp4"))
        })
    });
    let grows = list
        .iter()
        .find(|j| {
            j["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("grows.mp4"))
        })
        .expect("job")
        .clone();
    let staged = PathBuf::from(grows["source_now"].as_str().expect("staged"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&staged)
        .expect("open the staged source");
    f.write_all(&[0u8; 4096]).expect("append");
    drop(f);
    let list = wait_for(&w, 120, "four Complete jobs", |l| all_in(l, 4, "Complete"));
    let grows = list.iter().find(|j| j["id"] == grows["id"]).expect("job");
    assert!(
        grows["attempts"].as_u64().expect("attempts") >= 2,
        "{grows}"
    );
    for j in &list {
        let name = Path::new(j["source"].as_str().expect("source"))
            .file_name()
            .expect("name")
            .to_owned();
        let done = input.join("done").join(&name);
        assert_eq!(j["checksum"], sha256(&done), "{j}");
    }
    assert_eq!(
        sha256(&input.join("done/front.mp4")),
        sha256(&util::fixture("short"))
    );
    assert_eq!(sha256(&input.join("done/last.mp4")), sha256(&moov_last));
    assert!(util::entries(&input.join("failed")).is_empty());
    w.stop();
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount");
        assert!(
            o.status.success(),
            "mounting a tmpfs (the tests run as root): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .expect("remount");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A full output filesystem fails the job as transient, publishes nothing and leaves no
/// temp folder; once space is freed the retry completes.
#[test]
fn a_full_disk_fails_the_job_cleanly_and_the_retry_succeeds_after_space_is_freed() {
    let dir = util::work_dir("watch-full");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let disk = Tmpfs::mount(&output, "48k");
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    std::fs::copy(util::fixture("short"), input.join("full.mp4")).expect("drop");
    let list = wait_for(&w, 30, "a failed first attempt", |l| {
        l.len() == 1 && l[0]["error"].is_string()
    });
    let job = &list[0];
    assert_ne!(
        job["status"], "Error",
        "a full disk is worth a retry: {job}"
    );
    assert_eq!(job["permanent"], false, "{job}");
    let err = job["error"].as_str().expect("error");
    assert!(err.contains("No space left on device"), "{err}");
    // Nothing published, no temp folder kept.
    let asset_root = output.join(job["id"].as_str().expect("id"));
    let left = util::entries(&asset_root);
    assert!(left.is_empty(), "left on the full disk: {left:?}");
    disk.resize("16m");
    let list = wait_for(&w, 60, "the retry to complete", |l| {
        all_in(l, 1, "Complete")
    });
    assert!(
        list[0]["attempts"].as_u64().expect("attempts") >= 2,
        "{}",
        list[0]
    );
    let asset = PathBuf::from(list[0]["asset_dir"].as_str().expect("asset"));
    assert!(asset.join("metadata.json").is_file());
    assert!(util::entries(&input.join("failed")).is_empty());
    w.stop();
    drop(disk);
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with openssl.
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mpe test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// The webhook over HTTPS (a receiver with a private CA, trusted by `--webhook-ca`),
/// each POST signed with HMAC-SHA256; the receiver down while two jobs run and the
/// watcher is restarted in between: once it is up, every event arrives once, in order,
/// and every signature verifies.
#[test]
fn webhook_events_over_https_are_signed_and_survive_an_outage_and_a_restart() {
    let dir = util::work_dir("watch-https");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let (ca, cert, key) = test_certificates(&dir);
    let secret = "a shared secret";
    std::fs::write(dir.join("secret"), format!("{secret}\n")).expect("secret");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("https://127.0.0.1:{port}/hook");
    let secret_file = dir.join("secret").to_str().expect("utf-8").to_owned();
    let args = [
        "--webhook",
        url.as_str(),
        "--webhook-ca",
        ca.to_str().expect("utf-8"),
        "--webhook-secret-file",
        secret_file.as_str(),
    ];
    let profile = small_profile(&dir);
    // The receiver is down: the first job's events wait in the outbox.
    let w = Watcher::start(&input, &output, &profile, &args);
    std::fs::copy(util::fixture("short"), input.join("one.mp4")).expect("drop");
    wait_for(&w, 60, "the first job", |l| all_in(l, 1, "Complete"));
    w.stop();
    let w = Watcher::start(&input, &output, &profile, &args);
    std::fs::copy(util::fixture("short"), input.join("two.mp4")).expect("drop");
    wait_for(&w, 60, "the second job", |l| all_in(l, 2, "Complete"));
    let received = dir.join("received.jsonl");
    let mut receiver = Command::new("python3")
        .arg(util::repo().join("tests/util/https_receiver.py"))
        .arg(port.to_string())
        .args([&cert, &key, &received])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the receiver");
    let logged = events(&input);
    assert!(logged.len() >= 6, "{logged:#?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let lines = loop {
        let lines: Vec<Value> = std::fs::read_to_string(&received)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a received line"))
            .collect();
        if lines.len() >= logged.len() || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = receiver.kill();
    let _ = receiver.wait();
    w.stop();
    let got: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l["body"].as_str().expect("body")).expect("event JSON"))
        .collect();
    let ids = |v: &[Value]| v.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&got),
        ids(&logged),
        "each event once, in the log's order"
    );
    for l in &lines {
        let body = l["body"].as_str().expect("body");
        use hmac::{KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body.as_bytes());
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(l["signature"], format!("sha256={want}"), "{body}");
    }
}

/// A kill -9 soak: the watcher killed at ten moments drawn from a fixed seed while a
/// burst of sources is taken and transcoded, then left to finish. Every source ends
/// complete exactly once (one job, one ladder), no temp or job folder is left, and every
/// job's last event is its COMPLETE.
#[test]
fn a_watcher_killed_ten_times_during_a_burst_completes_every_source_once() {
    let dir = util::work_dir("watch-soak");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&input).expect("in");
    let profile = small_profile(&dir);
    // 8 s sources: jobs of about a second, so that the kills fall inside them.
    let src = util::fixture("counter");
    let sources = 12;
    for i in 0..sources / 2 {
        std::fs::copy(&src, input.join(format!("s{i:02}.mp4"))).expect("drop");
    }
    // A fixed-seed LCG: the same kill moments on every run.
    let mut seed: u64 = 0x5eed_2026;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % 1000
    };
    for round in 0..10 {
        let w = Watcher::start(&input, &output, &profile, &["--jobs", "2"]);
        if round == 2 {
            for i in sources / 2..sources {
                std::fs::copy(&src, input.join(format!("s{i:02}.mp4"))).expect("drop");
            }
        }
        std::thread::sleep(Duration::from_millis(200 + next() * 3 / 2));
        w.kill9();
    }
    let w = Watcher::start(&input, &output, &profile, &["--jobs", "2"]);
    let list = wait_for(&w, 120, "every source complete", |l| {
        all_in(l, sources, "Complete")
    });
    w.stop();
    let mut names: Vec<String> = list
        .iter()
        .map(|j| {
            Path::new(j["source"].as_str().expect("source"))
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), sources, "one job per source: {list:#?}");
    assert_eq!(util::entries(&input.join("done")).len(), sources);
    assert!(util::entries(&input.join("failed")).is_empty());
    let left: Vec<_> = util::entries(&input.join(".mpe/jobs"))
        .iter()
        .map(|d| (d.clone(), util::entries(&input.join(".mpe/jobs").join(d))))
        .collect();
    assert!(left.is_empty(), "job folders left: {left:?}");
    // One asset folder per job, each complete, and no temp folder anywhere.
    let job_dirs = util::entries(&output);
    assert_eq!(job_dirs.len(), sources, "{job_dirs:?}");
    for d in &job_dirs {
        let inside = util::entries(&output.join(d));
        assert_eq!(inside.len(), 1, "{d}: {inside:?}");
        assert!(output
            .join(d)
            .join(&inside[0])
            .join("metadata.json")
            .is_file());
    }
    let ev = events(&input);
    for j in &list {
        let statuses = statuses_of(&ev, &j["id"]);
        assert_eq!(
            statuses.last().map(String::as_str),
            Some("COMPLETE"),
            "{j}: {statuses:?}"
        );
    }
}

/// The watch folder removed and made again is watched again: its state, lock and
/// notifications come back, and a file dropped into the new folder becomes a job.
#[test]
fn a_watch_folder_removed_and_made_again_keeps_being_watched() {
    let dir = util::work_dir("watch-rewatch");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    std::fs::copy(util::fixture("short"), input.join("first.mp4")).expect("drop");
    wait_for(&w, 60, "the first job", |l| all_in(l, 1, "Complete"));
    std::fs::remove_dir_all(&input).expect("remove the folder");
    std::thread::sleep(Duration::from_millis(2500));
    std::fs::create_dir(&input).expect("make it again");
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::copy(util::fixture("short"), input.join("second.mp4")).expect("drop again");
    let list = wait_for(&w, 60, "a job in the new folder", |l| {
        l.iter().any(|j| {
            j["status"] == "Complete"
                && j["source"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("second.mp4"))
        })
    });
    assert_eq!(list.len(), 1, "the new folder's store: {list:#?}");
    assert!(input.join("done/second.mp4").is_file());
    assert!(input.join(".mpe/watch.lock").is_file());
    let log = std::fs::read_to_string(&w.log).expect("log");
    assert!(log.contains("the watch folder is gone"), "{log}");
    assert!(log.contains("the watch folder was re-created"), "{log}");
    w.stop();
}

/// A source cut short while its job reads it (truncated part-way) fails that attempt,
/// publishes nothing, and the job is retried on the file as it now is, which fails as
/// truncated, permanently, into `failed/`.
#[test]
fn a_source_truncated_while_read_fails_the_attempt_publishes_nothing_and_is_retried() {
    let dir = util::work_dir("watch-cut");
    let (input, output) = (dir.join("in"), dir.join("out"));
    let w = Watcher::start(&input, &output, &small_profile(&dir), &[]);
    std::fs::copy(util::fixture("ntsc_long"), input.join("cut.mp4")).expect("drop");
    let list = wait_for(&w, 30, "the job to run", |l| {
        l.len() == 1 && l[0]["status"] == "Processing"
    });
    let staged = PathBuf::from(list[0]["source_now"].as_str().expect("staged"));
    let len = std::fs::metadata(&staged).expect("staged").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&staged)
        .and_then(|f| f.set_len(len * 6 / 10))
        .expect("truncate");
    let list = wait_for(&w, 60, "the job to end", |l| {
        l.len() == 1 && l[0]["status"] == "Error"
    });
    let job = &list[0];
    assert!(
        job["attempts"].as_u64().expect("attempts") >= 2,
        "retried: {job}"
    );
    assert!(
        job["error"]
            .as_str()
            .is_some_and(|e| e.contains("truncated")),
        "{job}"
    );
    let published = util::entries(&output.join(job["id"].as_str().expect("id")));
    assert!(published.is_empty(), "published: {published:?}");
    assert!(input.join("failed/cut.mp4").is_file());
    w.stop();
}
