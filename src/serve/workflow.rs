//! The stack's workflow, in process: an object created in the raw bucket under
//! `uploads/` is validated, probed and planned by the very handlers the state machine
//! runs (cloud::lambda), and becomes a job of the local MediaConvert API, which runs it
//! into the media and thumbnails buckets. Each upload is written down before its PUT is
//! answered and crossed off once its job exists (or its rejection is recorded), so a
//! crash loses none; the job's ClientRequestToken (the object's key and ETag) makes a
//! replay find the job it already made.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::mediaconvert::http::Request;
use crate::mediaconvert::runner::Shared;

/// The stack's upload prefix.
pub const UPLOAD_PREFIX: &str = "uploads/";

/// What the workflow needs of the stack.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Raw uploads bucket.
    pub raw: String,
    /// Processed media bucket.
    pub media: String,
    /// Thumbnails bucket.
    pub thumbnails: String,
    /// Default profile.
    pub profile: String,
    /// The region in ARNs and events.
    pub region: String,
    /// The stack's suffix (`local`).
    pub suffix: String,
}

/// One object created under the upload prefix.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag (unquoted).
    pub etag: String,
    /// The object's file.
    pub path: PathBuf,
    /// The `mpe-profile` user metadata, if any.
    pub profile: Option<String>,
}

impl Upload {
    fn token(&self) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(format!("{}\n{}\n{}", self.bucket, self.key, self.etag));
        super::hex(&h[..16])
    }
}

/// The queue of uploads not yet turned into jobs, on disk.
pub struct Workflow {
    pending: PathBuf,
    tx: Mutex<Sender<Upload>>,
    failures: PathBuf,
}

impl Workflow {
    /// Opens the queue in `data`; what a crash left in it is handed to `tx` again.
    pub fn open(data: &Path) -> anyhow::Result<(Arc<Workflow>, Receiver<Upload>)> {
        let pending = data.join(".workflow");
        std::fs::create_dir_all(&pending)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let mut left: Vec<_> = std::fs::read_dir(&pending)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        left.sort();
        for p in left {
            match std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(u) => {
                    let _ = tx.send(u);
                }
                None => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Ok((
            Arc::new(Workflow {
                pending,
                tx: Mutex::new(tx),
                failures: data.join("failures.jsonl"),
            }),
            rx,
        ))
    }

    /// Writes the upload down (before its PUT is answered), then queues it.
    pub fn submit(&self, u: Upload) {
        let path = self.pending.join(format!("{}.json", u.token()));
        let tmp = path.with_extension("tmp");
        let written = serde_json::to_vec(&u)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::error!(error = %e, key = %u.key, "recording an upload for the workflow");
        }
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(u);
        }
    }

    fn done(&self, u: &Upload) {
        let _ = std::fs::remove_file(self.pending.join(format!("{}.json", u.token())));
    }

    /// The failure queue (the dead-letter queue's twin): one JSON line per rejected
    /// upload.
    fn fail(&self, u: &Upload, reason: &str) {
        use std::io::Write;
        let line = json!({
            "bucket": u.bucket, "key": u.key, "etag": u.etag,
            "reason": reason, "time": crate::mediaconvert::runner::now(),
        });
        let r = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.failures)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = r {
            tracing::error!(error = %e, "writing the failure queue");
        }
    }
}

/// Runs uploads from `rx` through validate -> probe -> plan -> job, one at a time (the
/// jobs themselves run on the MediaConvert workers).
pub fn run(
    flow: Arc<Workflow>,
    rx: Receiver<Upload>,
    shared: Arc<Shared>,
    records: Arc<super::records::Records>,
    status: Arc<super::status::Status>,
    stack: Stack,
) {
    std::thread::Builder::new()
        .name("workflow".into())
        .spawn(move || {
            for u in rx {
                let mut delay = std::time::Duration::from_secs(1);
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let outcome = match step(&shared, &records, &stack, &u) {
                        // Given up on, as the state machine's retriers give up: the
                        // failure path, with the last error.
                        Err(e) if attempt >= MAX_ATTEMPTS => Ok(Outcome::Rejected(format!(
                            "gave up after {attempt} attempts: {e}"
                        ))),
                        other => other,
                    };
                    match outcome {
                        Ok(Outcome::Job(id)) => {
                            tracing::info!(key = %u.key, job = %id, "upload became a job");
                            if let Err(e) = status.submitted(&u.key, &id) {
                                tracing::error!(error = %e, "updating a status record");
                            }
                            flow.done(&u);
                            break;
                        }
                        Ok(Outcome::Rejected(reason)) => {
                            tracing::warn!(key = %u.key, %reason, "upload rejected");
                            let input = format!("s3://{}/{}", u.bucket, u.key);
                            if let Err(e) = records.rejected(&u.token(), &input, &reason) {
                                tracing::error!(error = %e, "recording a rejected upload");
                            }
                            if let Err(e) = status.rejected(&u.key, &reason) {
                                tracing::error!(error = %e, "updating a status record");
                            }
                            flow.fail(&u, &reason);
                            flow.done(&u);
                            break;
                        }
                        Err(e) => {
                            // Transient (the store, the disk): retried with backoff, as the
                            // state machine retries its tasks.
                            tracing::warn!(key = %u.key, error = %e, "workflow step failed; retrying");
                            std::thread::sleep(delay);
                            delay = (delay * 2).min(std::time::Duration::from_secs(60));
                        }
                    }
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!(error = %e, "starting the workflow thread"));
}

/// Tries of a step that fails transiently before the upload goes to the failure queue.
const MAX_ATTEMPTS: u32 = 6;

enum Outcome {
    Job(String),
    Rejected(String),
}

fn call(shared: &Arc<Shared>, method: hyper::Method, path: &[&str], body: &Value) -> (u16, Value) {
    let reply = crate::mediaconvert::api::handle(
        shared,
        Request {
            method,
            segments: path.iter().map(|s| s.to_string()).collect(),
            query: Default::default(),
            host: None,
            body: body.to_string().into(),
            headers: Default::default(),
            raw_path: String::new(),
            raw_query: None,
        },
    );
    (reply.status, reply.body)
}

fn step(
    shared: &Arc<Shared>,
    records: &super::records::Records,
    stack: &Stack,
    u: &Upload,
) -> Result<Outcome, String> {
    use cloud::lambda::{plan, validate};
    let settings = validate::Settings {
        raw_bucket: stack.raw.clone(),
        prefix: UPLOAD_PREFIX.into(),
        default_profile: stack.profile.clone(),
        profiles: profiles::Profile::shipped_names()
            .map(str::to_string)
            .collect(),
    };
    let mut head = vec![0; 4096];
    let n = match std::fs::File::open(&u.path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
    {
        Ok(n) => n,
        // Deleted (or replaced by a folder) before its turn: nothing left to process.
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::NotFound) || e.raw_os_error() == Some(20) =>
        {
            return Ok(Outcome::Rejected(format!(
                "s3://{}/{} was deleted before it was processed",
                u.bucket, u.key
            )))
        }
        Err(e) => return Err(format!("{}: {e}", u.path.display())),
    };
    head.truncate(n);
    let upload = validate::Upload {
        bucket: u.bucket.clone(),
        key: u.key.clone(),
        size: u.size,
    };
    let verdict = validate::verdict(&upload, u.profile.as_deref(), &head, &settings);
    if verdict["accepted"] != true {
        return Ok(Outcome::Rejected(
            verdict["reason"].as_str().unwrap_or("rejected").to_string(),
        ));
    }
    let input = format!("s3://{}/{}", u.bucket, u.key);
    let (status, probed) = call(
        shared,
        hyper::Method::POST,
        &["2017-08-29", "probe"],
        &json!({ "inputFiles": [{ "fileUrl": input }] }),
    );
    match status {
        200 => {}
        404 | 422 => {
            return Ok(Outcome::Rejected(
                probed["message"]
                    .as_str()
                    .unwrap_or("unreadable")
                    .to_string(),
            ))
        }
        _ => return Err(format!("probe: {probed}")),
    }
    let probe = cloud::wire::to_pascal(&probed)["ProbeResults"][0].clone();
    let planned = plan::plan(
        &plan::Settings {
            media_bucket: stack.media.clone(),
            thumbnails_bucket: stack.thumbnails.clone(),
            role: format!(
                "arn:aws:iam::000000000000:role/mpe-mediaconvert-{}",
                stack.suffix
            ),
            queue: None,
            suffix: stack.suffix.clone(),
        },
        &json!({ "executionId": u.token(), "input": input,
                 "profile": verdict["profile"], "probe": probe }),
    );
    if planned["accepted"] != true {
        return Ok(Outcome::Rejected(
            planned["reason"]
                .as_str()
                .unwrap_or("not planned")
                .to_string(),
        ));
    }
    let mut job = planned["job"].clone();
    // The record first, as the state machine writes it before it creates the job.
    let execution = format!(
        "arn:aws:states:{}:000000000000:execution:mpe-pipeline-{}:{}",
        stack.region,
        stack.suffix,
        u.token()
    );
    records
        .submitted(
            &u.token(),
            &input,
            verdict["profile"].as_str().unwrap_or_default(),
            job["UserMetadata"]["mpe_job_template"]
                .as_str()
                .unwrap_or_default(),
            &execution,
        )
        .map_err(|e| e.to_string())?;
    job["ClientRequestToken"] = json!(u.token());
    let (status, made) = call(
        shared,
        hyper::Method::POST,
        &["2017-08-29", "jobs"],
        &cloud::wire::to_camel(&job),
    );
    match status {
        201 => Ok(Outcome::Job(
            made["job"]["id"].as_str().unwrap_or_default().to_string(),
        )),
        400 => Ok(Outcome::Rejected(
            made["message"]
                .as_str()
                .unwrap_or("CreateJob refused")
                .to_string(),
        )),
        _ => Err(format!("CreateJob: {made}")),
    }
}

/// The EventBridge event S3 sends for a new object.
pub fn object_created(stack: &Stack, bucket: &str, key: &str, size: u64, etag: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": super::rfc3339_now(),
        "region": stack.region,
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": { "name": bucket },
            "object": { "key": key, "size": size, "etag": etag },
            "reason": "PutObject",
        },
    })
}
