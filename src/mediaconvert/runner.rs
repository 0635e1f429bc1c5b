//! The queue's workers: each takes the next waiting job from the store (priority, then
//! age), reads its input from S3, runs it with the engine and writes its outputs back,
//! as many at once as `--jobs` allows, each with its share of the cores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use cloud::model::JobStatus;
use serde_json::{json, Value};

use super::s3::{split, S3};
use super::store::{JobRow, Kind, Store};
use crate::watch::events::{Change, Events, GroupDetail, JobProgress};

/// What is told each event line written.
pub type OnEvent = Box<dyn Fn(&str) + Send + Sync>;

/// What the workers and the API share.
pub struct Shared {
    /// Jobs, templates, presets, queues.
    pub store: Store,
    /// Where inputs are read and outputs written.
    pub s3: S3,
    /// Scratch space (private).
    pub work: PathBuf,
    /// The cancel flag of each running job.
    pub cancels: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Rung when a job is submitted or a queue resumes, so that an idle worker looks.
    pub wake: (Mutex<u64>, Condvar),
    /// Jobs run at once.
    pub slots: usize,
    /// Where job state changes go as EventBridge events, if anywhere.
    pub events: Option<Events>,
    /// Told every event written (its JSON line): `mpe serve` keeps its job records so.
    pub on_event: Option<OnEvent>,
}

impl Shared {
    /// Tells idle workers there may be work.
    pub fn notify(&self) {
        let (lock, cv) = &self.wake;
        if let Ok(mut n) = lock.lock() {
            *n = n.wrapping_add(1);
        }
        cv.notify_all();
    }

    /// Reports a job's state change as MediaConvert's EventBridge event, where the server
    /// keeps an event log; a failure to write one is logged, never the job's.
    pub fn emit(
        &self,
        job: &JobRow,
        status: &'static str,
        groups: &[GroupDetail],
        error: Option<(&str, i64)>,
        progress: Option<JobProgress>,
    ) {
        let Some(events) = &self.events else {
            return;
        };
        let change = Change {
            job_id: &job.id,
            status,
            user_metadata: job
                .resolved
                .get("UserMetadata")
                .cloned()
                .unwrap_or_default(),
            groups,
            error,
            progress,
        };
        match events.emit_event(&change) {
            Ok(line) => {
                if let Some(f) = &self.on_event {
                    f(&line);
                }
            }
            Err(e) => tracing::error!(job = %job.id, error = %e, "writing a job event failed"),
        }
    }

    /// Asks a running job to stop; false if it is not running here.
    pub fn cancel_running(&self, id: &str) -> bool {
        self.cancels
            .lock()
            .ok()
            .and_then(|c| c.get(id).map(|f| f.store(true, Ordering::Relaxed)))
            .is_some()
    }
}

/// Whole seconds: MediaConvert's wire timestamps are epoch seconds.
pub fn now() -> u64 {
    crate::watch::store::now_unix() as u64
}

/// Starts `shared.slots` workers.
pub fn start(shared: &Arc<Shared>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // One job alone uses every core, as the engine would; several share them.
    let threads = (shared.slots > 1).then(|| (cores / shared.slots).max(1));
    for _ in 0..shared.slots {
        let shared = shared.clone();
        std::thread::spawn(move || worker(&shared, threads));
    }
}

fn paused_queues(store: &Store) -> Vec<String> {
    store
        .list(Kind::Queue, false, true)
        .unwrap_or_default()
        .into_iter()
        .filter(|q| q.body["Status"] == "PAUSED")
        .map(|q| q.name)
        .collect()
}

fn worker(shared: &Shared, threads: Option<usize>) {
    loop {
        let seen = shared.wake.0.lock().map(|n| *n).unwrap_or_default();
        match shared.store.claim(now(), &paused_queues(&shared.store)) {
            Ok(Some(job)) => run(shared, job, threads),
            Ok(None) => {
                // Nothing waiting: sleep until a submission rings, or a second passes.
                let (lock, cv) = &shared.wake;
                if let Ok(guard) = lock.lock() {
                    let _ = cv.wait_timeout_while(guard, Duration::from_secs(1), |n| *n == seen);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the job store cannot be read");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Runs one claimed job to its end, and records the end.
fn run(shared: &Shared, job: JobRow, threads: Option<usize>) {
    let cancel = Arc::new(AtomicBool::new(false));
    if let Ok(mut c) = shared.cancels.lock() {
        c.insert(job.id.clone(), cancel.clone());
    }
    let dir = shared.work.join(&job.id);
    shared.emit(&job, "PROGRESSING", &[], None, None);
    let started = std::time::Instant::now();
    let result = execute(shared, &dir, &job, &cancel, threads, started);
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(mut c) = shared.cancels.lock() {
        c.remove(&job.id);
    }
    let (status, error, outputs, groups) = match result {
        Ok((outputs, groups)) => (JobStatus::Complete, None, outputs, groups),
        Err(_) if cancel.load(Ordering::Relaxed) => {
            (JobStatus::Canceled, None, Vec::new(), Vec::new())
        }
        Err(e) => {
            // 1010: a job the engine cannot run as written (its settings or its input, as
            // the engine classes its errors); 1999: anything else.
            let permanent = e.downcast_ref::<cloud::CloudError>().is_some()
                || e.downcast_ref::<engine::Error>()
                    .is_some_and(engine::Error::is_permanent);
            let code = if permanent { 1010 } else { 1999 };
            (
                JobStatus::Error,
                Some((code, format!("{e:#}"))),
                Vec::new(),
                Vec::new(),
            )
        }
    };
    let said = error.as_ref().map(|(code, m)| (m.as_str(), *code));
    let name = match status {
        JobStatus::Complete => "COMPLETE",
        JobStatus::Canceled => "CANCELED",
        _ => "ERROR",
    };
    // Said before it is recorded: a crash in between runs the job again and says it
    // twice, never not at all.
    shared.emit(&job, name, &groups, said, None);
    if let Err(e) = shared
        .store
        .finish(&job.id, status, now(), error.clone(), &outputs)
    {
        tracing::error!(job = %job.id, error = %e, "recording the job's end failed");
    }
}

fn execute(
    shared: &Shared,
    dir: &Path,
    row: &JobRow,
    cancel: &Arc<AtomicBool>,
    threads: Option<usize>,
    started: std::time::Instant,
) -> anyhow::Result<(Vec<Value>, Vec<GroupDetail>)> {
    let job = cloud::parse_job(&row.resolved)?;
    let every = status_update_interval(&row.resolved);
    shared.store.set_warnings(&row.id, &job.warnings)?;
    // Each input once, in a folder of its own: two inputs may share a file name.
    let mut fetched: Vec<(String, PathBuf)> = Vec::new();
    let mut fetch = |uri: &str| -> anyhow::Result<PathBuf> {
        if let Some((_, path)) = fetched.iter().find(|(u, _)| u == uri) {
            return Ok(path.clone());
        }
        let (_, key) = split(uri)?;
        let name = key.rsplit('/').next().unwrap_or("input").to_string();
        let folder = dir.join("input").join(fetched.len().to_string());
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(name);
        shared.s3.get(uri, &path)?;
        fetched.push((uri.to_string(), path.clone()));
        Ok(path)
    };
    let source = fetch(&job.input)?;
    let joined = job
        .joined
        .iter()
        .map(|j| {
            Ok(engine::Joined {
                source: fetch(&j.input)?,
                clip: j.clip,
                rotation: j.rotation,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let asset = job
        .destination
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("asset")
        .to_string();
    let opts = engine::TranscodeOptions {
        source,
        output: dir.join("output"),
        asset_name: Some(asset),
        profile: job.profile.clone(),
        force: true,
        threads,
        chunks: engine::Chunks::Off,
        chunk_memory: None,
        cancel: Some(cancel.clone()),
        rotation: job.rotation,
        clip: job.clip,
        joined,
    };
    let mut last = 0;
    // Updates fall due every interval from PROGRESSING (not from each other, so a late
    // one does not push the rest back), each sent at the first progress after it.
    let mut next_update = started + every;
    let mut update = |progress: JobProgress| {
        if std::time::Instant::now() >= next_update {
            next_update += every;
            shared.emit(row, "STATUS_UPDATE", &[], None, Some(progress));
        }
    };
    let mut frames = 0;
    let report = engine::transcode(&opts, &mut |p| {
        let pct = (p.fraction() * 99.0) as u32;
        if pct != last {
            last = pct;
            let _ = shared.store.set_percent(&row.id, pct);
        }
        frames = p.frames;
        update(JobProgress {
            transcoding: pct,
            uploading: None,
            frames,
        });
    })
    .map_err(|e| match e {
        // A clip that does not fit its input is the job's fault (1010), at its path.
        engine::Error::Clip { source, piece, .. } => anyhow::Error::new(cloud::CloudError::Job {
            field: job.piece_at(piece),
            reason: format!("timecode {source}"),
        }),
        e => e.into(),
    })?;
    // What MediaConvert writes: the asset without mpe's own record.
    let uploads: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.path != profiles::naming::METADATA)
        .collect();
    let total: u64 = uploads.iter().map(|f| f.bytes).sum::<u64>().max(1);
    let mut sent = 0;
    for f in uploads {
        // A job cancelled while its outputs go up stops there (CANCELED, not COMPLETE).
        if cancel.load(Ordering::Relaxed) {
            anyhow::bail!("cancelled while uploading its outputs");
        }
        update(JobProgress {
            transcoding: 100,
            uploading: Some((sent * 100 / total) as u32),
            frames,
        });
        shared
            .s3
            .put(&report.asset_dir.join(&f.path), &job.uri_of(&f.path))?;
        sent += f.bytes;
    }
    let groups =
        crate::watch::runner::group_details(&job.profile, &report, &|rel| job.uri_of(&rel));
    Ok((output_group_details(&row.resolved, &report.plan), groups))
}

/// The job's `StatusUpdateInterval` (`SECONDS_10` ... `SECONDS_600`; 60 s by default):
/// how often a running job sends STATUS_UPDATE, the first one interval after it starts
/// (User Guide, "Events with STATUS_UPDATE status").
fn status_update_interval(job: &Value) -> Duration {
    let seconds = job
        .get("StatusUpdateInterval")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("SECONDS_"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// GetJob's OutputGroupDetails as MediaConvert gives them: one entry per output group of
/// the request, one OutputDetail per output, with the picture size of outputs that have
/// video (no paths: those come only with the COMPLETE event).
fn output_group_details(request: &Value, plan: &profiles::Plan) -> Vec<Value> {
    let ms = (plan.duration * 1000.0).round() as u64;
    let size = |output: &Value| -> Option<(u32, u32)> {
        output.get("VideoDescription")?;
        let modifier = output["NameModifier"].as_str().unwrap_or_default();
        let name = modifier.strip_prefix('_').unwrap_or(modifier);
        if let Some(r) = plan.renditions.iter().find(|r| r.name == name) {
            return Some((r.width, r.height));
        }
        let capture = output["VideoDescription"]["CodecSettings"]["Codec"] == "FRAME_CAPTURE";
        plan.thumbnails
            .as_ref()
            .filter(|_| capture)
            .map(|t| (t.width, t.height))
    };
    let groups = request["Settings"]["OutputGroups"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    groups
        .iter()
        .map(|g| {
            let outputs: Vec<Value> = g["Outputs"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|o| {
                    let mut d = json!({ "DurationInMs": ms });
                    if let Some((w, h)) = size(o) {
                        d["VideoDetails"] = json!({ "WidthInPx": w, "HeightInPx": h });
                    }
                    d
                })
                .collect();
            json!({ "OutputDetails": outputs })
        })
        .collect()
}
