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

/// Where events are POSTed, and how.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Mpe-Signature-256` header, if bodies are signed.
    pub secret: Option<Vec<u8>>,
    /// A PEM file of CA certificates trusted besides the system's (a private receiver).
    pub ca: Option<PathBuf>,
}

impl Webhook {
    /// Checks `url` (http or https, with a host) and reads the secret: from `secret_file`
    /// (its first line), else from `MPE_WEBHOOK_SECRET`; and checks the CA file loads.
    pub fn new(
        url: &str,
        secret_file: Option<&Path>,
        ca: Option<&Path>,
    ) -> Result<Webhook, WatchError> {
        let parsed =
            url::Url::parse(url).map_err(|e| WatchError::Webhook(format!("{url}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(WatchError::Webhook(format!(
                "{url}: not an http:// or https:// URL with a host"
            )));
        }
        let secret = match secret_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(WatchError::io(f))?;
                let line = text.lines().next().unwrap_or("").trim().to_string();
                if line.is_empty() {
                    return Err(WatchError::Webhook(format!(
                        "{}: the secret file is empty",
                        f.display()
                    )));
                }
                Some(line.into_bytes())
            }
            None => std::env::var("MPE_WEBHOOK_SECRET")
                .ok()
                .filter(|s| !s.is_empty())
                .map(String::into_bytes),
        };
        let hook = Webhook {
            url: url.to_string(),
            secret,
            ca: ca.map(Path::to_path_buf),
        };
        hook.agent()?;
        Ok(hook)
    }

    /// An HTTP client that trusts the system's roots and the CA file.
    fn agent(&self) -> Result<ureq::Agent, WatchError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot use is one root fewer, not an error.
            let _ = roots.add(cert);
        }
        if let Some(ca) = &self.ca {
            use rustls_pki_types::pem::PemObject;
            let bad = |e: String| WatchError::Webhook(format!("CA file {}: {e}", ca.display()));
            let mut added = 0;
            for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca)
                .map_err(|e| bad(e.to_string()))?
            {
                roots
                    .add(cert.map_err(|e| bad(e.to_string()))?)
                    .map_err(|e| bad(e.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad("no certificate in it".into()));
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| WatchError::Webhook(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .tls_config(std::sync::Arc::new(config))
            .build())
    }

    /// `sha256=<hex>` of HMAC-SHA256 over `body`, the `X-Mpe-Signature-256` header.
    pub fn signature(secret: &[u8], body: &[u8]) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes keys of any length");
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    }
}

/// The outbox: events not yet delivered to the webhook, oldest first, in a SQLite table
/// (the job store's file for the watch folder), so that neither an endpoint that is down
/// nor a restart loses one.
const OUTBOX: &str = "CREATE TABLE IF NOT EXISTS mpe_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    body TEXT NOT NULL
)";

/// The outbox table in the database at `path`: a table of its own, created if absent,
/// outside the job store's versioned schema (the file may be the job store's).
fn open_outbox(path: &Path) -> Result<rusqlite::Connection, WatchError> {
    let conn = super::store::connect(path)?;
    conn.execute_batch(OUTBOX).map_err(|e| WatchError::Store {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(conn)
}

/// The event log and the webhook's outbox.
pub struct Events {
    /// The envelope's `source`.
    source: &'static str,
    path: PathBuf,
    log: Mutex<std::fs::File>,
    outbox: Option<Outbox>,
}

struct Outbox {
    path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
    wake: Mutex<Sender<()>>,
}

impl Events {
    /// Appends to `path`; with a webhook, each event also goes into the outbox in
    /// `outbox` (a SQLite file) and a thread of its own POSTs them, oldest first, until
    /// each is taken: a slow or absent endpoint never holds a job up, and what it has not
    /// taken is sent after a restart.
    pub fn open(
        path: &Path,
        webhook: Option<Webhook>,
        outbox: &Path,
    ) -> Result<Events, WatchError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(WatchError::io(path))?;
        let outbox = match webhook {
            None => None,
            Some(hook) => {
                let agent = hook.agent()?;
                let sender = open_outbox(outbox)?;
                let (tx, rx) = channel::<()>();
                let at = outbox.to_path_buf();
                std::thread::Builder::new()
                    .name("webhook".into())
                    .spawn(move || deliver(&agent, &hook, sender, &rx, &at))
                    .map_err(|e| {
                        WatchError::Internal(format!("cannot start the webhook sender: {e}"))
                    })?;
                Some(Outbox {
                    path: outbox.to_path_buf(),
                    conn: Mutex::new(open_outbox(outbox)?),
                    wake: Mutex::new(tx),
                })
            }
        };
        Ok(Events {
            source: "mpe.watch",
            path: path.to_path_buf(),
            log: Mutex::new(log),
            outbox,
        })
    }

    /// The same, its events' `source` this (MediaConvert's own is `aws.mediaconvert`).
    pub fn with_source(mut self, source: &'static str) -> Events {
        self.source = source;
        self
    }

    /// Opens the log and the outbox anew at their paths (their folder was removed and
    /// re-created); the sender follows on its own.
    pub fn reopen(&self) -> Result<(), WatchError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(WatchError::io(&self.path))?;
        *self
            .log
            .lock()
            .map_err(|_| WatchError::Internal("event log lock poisoned".into()))? = log;
        if let Some(o) = &self.outbox {
            let fresh = open_outbox(&o.path)?;
            *o.conn
                .lock()
                .map_err(|_| WatchError::Internal("outbox lock poisoned".into()))? = fresh;
        }
        Ok(())
    }

    /// Writes one event (one line) and puts it in the webhook's outbox.
    pub fn emit(&self, change: &Change<'_>) -> Result<(), WatchError> {
        self.emit_event(change).map(|_| ())
    }

    /// [`Events::emit`], giving back the line written (the event's JSON).
    pub fn emit_event(&self, change: &Change<'_>) -> Result<String, WatchError> {
        let mut e = event(change);
        e.source = self.source.into();
        let line = serde_json::to_string(&e)
            .map_err(|e| WatchError::Internal(format!("writing an event: {e}")))?;
        self.emit_line(change.job_id, &line)?;
        Ok(line)
    }

    /// Writes an event of another kind (an S3 "Object Created", say), already in
    /// EventBridge's shape, and puts it in the webhook's outbox under `key`.
    pub fn emit_json(&self, key: &str, event: &serde_json::Value) -> Result<(), WatchError> {
        self.emit_line(key, &event.to_string())
    }

    fn emit_line(&self, job_id: &str, line: &str) -> Result<(), WatchError> {
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
        if let Some(o) = &self.outbox {
            let conn = o
                .conn
                .lock()
                .map_err(|_| WatchError::Internal("outbox lock poisoned".into()))?;
            conn.execute(
                "INSERT INTO mpe_outbox (job_id, body) VALUES (?1, ?2)",
                rusqlite::params![job_id, line],
            )
            .map_err(|e| WatchError::Store {
                path: o.path.clone(),
                source: e,
            })?;
            if let Ok(tx) = o.wake.lock() {
                // The sender thread only ends with the process.
                let _ = tx.send(());
            }
        }
        Ok(())
    }
}

/// The webhook sender: POSTs the oldest undelivered event until it is taken (any 2xx),
/// then deletes it and goes on; failures back off from 0.5 s, doubling, to 30 s between
/// tries, for as long as it takes. Delivery is at least once: a receiver that must not
/// act twice dedupes on the event's `id`.
fn deliver(
    agent: &ureq::Agent,
    hook: &Webhook,
    conn: rusqlite::Connection,
    wake: &std::sync::mpsc::Receiver<()>,
    at: &Path,
) {
    use std::os::unix::fs::MetadataExt;
    let identity = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let mut conn = conn;
    let mut opened = identity(at);
    let mut failures = 0u32;
    loop {
        // The file was replaced (its folder removed and made again): follow it.
        let now = identity(at);
        if now.is_some() && now != opened {
            if let Ok(fresh) = open_outbox(at) {
                conn = fresh;
                opened = now;
            }
        }
        let next: rusqlite::Result<Option<(i64, String)>> = {
            use rusqlite::OptionalExtension;
            conn.query_row(
                "SELECT seq, body FROM mpe_outbox ORDER BY seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        };
        match next {
            Ok(Some((seq, body))) => match post(agent, hook, &body) {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(url = %hook.url, "webhook reached again");
                    }
                    failures = 0;
                    if let Err(e) = conn.execute("DELETE FROM mpe_outbox WHERE seq = ?1", [seq]) {
                        tracing::error!(outbox = %at.display(), error = %e, "cannot mark an event delivered");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                Err(e) => {
                    failures += 1;
                    let wait = Duration::from_millis(500)
                        .saturating_mul(1 << (failures - 1).min(6))
                        .min(Duration::from_secs(30));
                    tracing::warn!(url = %hook.url, attempt = failures, error = %e, retry_in = ?wait, "webhook POST failed; the event stays in the outbox");
                    std::thread::sleep(wait);
                }
            },
            Ok(None) => {
                if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                    wake.recv_timeout(Duration::from_secs(1))
                {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(outbox = %at.display(), error = %e, "cannot read the outbox");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// One POST of an event, signed when there is a secret.
fn post(agent: &ureq::Agent, hook: &Webhook, body: &str) -> Result<(), Box<ureq::Error>> {
    let mut req = agent
        .post(&hook.url)
        .set("Content-Type", "application/json")
        .set("User-Agent", concat!("mpe/", env!("CARGO_PKG_VERSION")));
    if let Some(secret) = &hook.secret {
        req = req.set(
            "X-Mpe-Signature-256",
            &Webhook::signature(secret, body.as_bytes()),
        );
    }
    req.send_string(body).map(|_| ()).map_err(Box::new)
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
