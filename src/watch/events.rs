//! Job state changes as MediaConvert's EventBridge "MediaConvert Job State Change" events
//! (shared/MEDIACONVERT.md section 5), of the watch folder and of `mpe mediaconvert serve`:
//! appended to a JSON-lines log and optionally POSTed to a webhook, so the same consumer
//! code reads local and cloud events.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::error::WatchError;

/// One output group of a COMPLETE event.
#[derive(Debug, Clone)]
pub struct GroupDetail {
    /// `CMAF_GROUP`, `HLS_GROUP`, `DASH_ISO_GROUP` or `FILE_GROUP`.
    pub kind: &'static str,
    /// One entry per output.
    pub outputs: Vec<OutputDetail>,
    /// The group's playlists (`.mpd` first, then `.m3u8`, as MediaConvert lists them).
    pub playlists: Vec<String>,
}

/// One output of a group.
#[derive(Debug, Clone)]
pub struct OutputDetail {
    /// File paths (empty where MediaConvert returns none for the group type).
    pub files: Vec<String>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Picture size, for video outputs.
    pub size: Option<(u32, u32)>,
}

/// What an event says.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// The job id.
    pub job_id: &'a str,
    /// MediaConvert's status: `SUBMITTED`, `PROGRESSING`, `STATUS_UPDATE`, `COMPLETE`,
    /// `CANCELED` or `ERROR`.
    pub status: &'static str,
    /// The job's user metadata (profile, source, attempt).
    pub user_metadata: Value,
    /// For COMPLETE.
    pub groups: &'a [GroupDetail],
    /// For ERROR.
    pub error: Option<(&'a str, i64)>,
    /// For STATUS_UPDATE: where the running job is.
    pub progress: Option<JobProgress>,
}

/// Where a running job is, as a STATUS_UPDATE says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobProgress {
    /// Percent of the TRANSCODING phase done.
    pub transcoding: u32,
    /// Percent of the UPLOADING phase done, once the outputs are going up.
    pub uploading: Option<u32>,
    /// Video frames decoded so far (the event's `framesDecoded`).
    pub frames: u64,
}

/// The event log and the webhook sender.
pub struct Events {
    /// The envelope's `source`.
    source: &'static str,
    path: PathBuf,
    log: Mutex<std::fs::File>,
    webhook: Option<Mutex<Sender<String>>>,
}

impl Events {
    /// Appends to `path`; POSTs each event to `webhook` as well, on a thread of its own
    /// with retries, so a slow endpoint never holds a job up.
    pub fn open(path: &Path, webhook: Option<String>) -> Result<Events, WatchError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(WatchError::io(path))?;
        let webhook = webhook.map(|url| {
            let (tx, rx) = channel::<String>();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(10))
                    .build();
                for body in rx {
                    post(&agent, &url, &body);
                }
            });
            Mutex::new(tx)
        });
        Ok(Events {
            source: "mpe.watch",
            path: path.to_path_buf(),
            log: Mutex::new(log),
            webhook,
        })
    }

    /// The same, its events' `source` this (MediaConvert's own is `aws.mediaconvert`).
    pub fn with_source(mut self, source: &'static str) -> Events {
        self.source = source;
        self
    }

    /// Writes one event (one line) and hands it to the webhook.
    pub fn emit(&self, change: &Change<'_>) -> Result<(), WatchError> {
        let mut e = event(change);
        e.source = self.source.into();
        let line = serde_json::to_string(&e)
            .map_err(|e| WatchError::Internal(format!("writing an event: {e}")))?;
        {
            let mut log = self
                .log
                .lock()
                .map_err(|_| WatchError::Internal("event log lock poisoned".into()))?;
            // One write per line: O_APPEND keeps lines whole even with other writers.
            log.write_all(format!("{line}\n").as_bytes())
                .and_then(|_| log.flush())
                .map_err(WatchError::io(&self.path))?;
        }
        if let Some(tx) = &self.webhook {
            if let Ok(tx) = tx.lock() {
                // The sender thread only ends with the process.
                let _ = tx.send(line);
            }
        }
        Ok(())
    }
}

/// POSTs with up to five attempts, backing off 0.5, 1, 2, 4 s; failures are logged.
fn post(agent: &ureq::Agent, url: &str, body: &str) {
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=5 {
        match agent
            .post(url)
            .set("Content-Type", "application/json")
            .send_string(body)
        {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(%url, attempt, error = %e, "webhook POST failed");
                if attempt < 5 {
                    std::thread::sleep(wait);
                    wait *= 2;
                }
            }
        }
    }
    tracing::error!(%url, "webhook gave up on an event after 5 attempts");
}

/// The EventBridge envelope and MediaConvert detail of a change, in the cloud crate's
/// typed model of the event (the one the job-state Lambda reads).
pub fn event(c: &Change<'_>) -> cloud::model::JobStateChange {
    use cloud::model::{
        EventOutputDetail, EventOutputGroup, EventVideoDetails, JobStateChange, JobStateDetail,
    };
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // MediaConvert's UserMetadata is strings; anything else is carried as its JSON text.
    let user_metadata = c
        .user_metadata
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), text)
        })
        .collect();
    let output_group_details = if c.status == "COMPLETE" {
        c.groups
            .iter()
            .map(|g| EventOutputGroup {
                output_details: g
                    .outputs
                    .iter()
                    .map(|d| EventOutputDetail {
                        output_file_paths: d.files.clone(),
                        duration_in_ms: d.duration_ms,
                        video_details: d.size.map(|(w, h)| EventVideoDetails {
                            width_in_px: w,
                            height_in_px: h,
                        }),
                    })
                    .collect(),
                playlist_file_paths: g.playlists.clone(),
                kind: g.kind.to_string(),
            })
            .collect()
    } else {
        Vec::new()
    };
    JobStateChange {
        version: "0".into(),
        id: uuid::Uuid::new_v4().to_string(),
        detail_type: cloud::model::JOB_STATE_CHANGE.into(),
        source: "mpe.watch".into(),
        account: "local".into(),
        time: engine::metadata::now_rfc3339(),
        region: "local".into(),
        resources: vec![format!("mpe:jobs/{}", c.job_id)],
        detail: JobStateDetail {
            timestamp: millis,
            account_id: "local".into(),
            queue: "mpe:queues/local".into(),
            job_id: c.job_id.to_string(),
            status: c.status.to_string(),
            user_metadata,
            output_group_details,
            error_message: c.error.map(|(m, _)| m.to_string()),
            error_code: c.error.map(|(_, code)| code),
            other: c
                .progress
                .map(|p| {
                    [
                        ("framesDecoded".to_string(), serde_json::json!(p.frames)),
                        ("jobProgress".to_string(), job_progress(p)),
                    ]
                })
                .into_iter()
                .flatten()
                .collect(),
        },
    }
}

/// A STATUS_UPDATE's `jobProgress` (User Guide, "Events with STATUS_UPDATE status"): the
/// input is probed before the job runs, then it transcodes, then its outputs go up (the
/// watch folder publishes by a rename, so it never reports UPLOADING). The job's percent
/// is the transcoding's, 99 while uploading (100 is COMPLETE).
fn job_progress(p: JobProgress) -> Value {
    let phase = |status: &str, percent: u32| serde_json::json!({ "status": status, "percentComplete": percent });
    let (transcoding, uploading, current, whole) = match p.uploading {
        None => (
            phase("PROGRESSING", p.transcoding),
            phase("PENDING", 0),
            "TRANSCODING",
            p.transcoding,
        ),
        Some(up) => (
            phase("COMPLETE", 100),
            phase("PROGRESSING", up),
            "UPLOADING",
            99,
        ),
    };
    serde_json::json!({
        "phaseProgress": {
            "PROBING": phase("COMPLETE", 100),
            "TRANSCODING": transcoding,
            "UPLOADING": uploading,
        },
        "jobPercentComplete": whole,
        "currentPhase": current,
        "retryCount": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_while_uploading_has_transcoding_complete_and_its_own_percent() {
        let up = job_progress(JobProgress {
            transcoding: 100,
            uploading: Some(40),
            frames: 250,
        });
        assert_eq!(up["currentPhase"], "UPLOADING");
        assert_eq!(up["phaseProgress"]["TRANSCODING"]["status"], "COMPLETE");
        assert_eq!(up["phaseProgress"]["UPLOADING"]["status"], "PROGRESSING");
        assert_eq!(up["phaseProgress"]["UPLOADING"]["percentComplete"], 40);
        assert_eq!(up["jobPercentComplete"], 99);
        let busy = job_progress(JobProgress {
            transcoding: 30,
            uploading: None,
            frames: 1,
        });
        assert_eq!(busy["currentPhase"], "TRANSCODING");
        assert_eq!(busy["phaseProgress"]["UPLOADING"]["status"], "PENDING");
        assert_eq!(busy["jobPercentComplete"], 30);
    }
}
