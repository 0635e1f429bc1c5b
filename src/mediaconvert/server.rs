//! The HTTP side: MediaConvert's REST paths, camelCase JSON in and out, a queue that runs
//! jobs one at a time (as an on-demand queue of one slot would), and Probe, answered by
//! the engine's probe of the object shaped as MediaConvert's ProbeResults.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response};

use super::s3::{split, S3};
use cloud::wire::{to_camel, to_pascal};

/// How the server runs.
pub struct ServeOptions {
    /// Address to listen on (127.0.0.1 by default).
    pub listen: std::net::IpAddr,
    /// Port.
    pub port: u16,
    /// The S3 endpoint inputs are read from and outputs written to.
    pub s3_endpoint: String,
    /// Scratch space for running jobs; `None` makes a fresh private one under the
    /// system's temp folder.
    pub work: Option<PathBuf>,
}

/// The scratch folder, private to this user (0700). A folder given is created if
/// missing and must be a real folder, not a symlink; without one, a folder of a random
/// name is created fresh, so that no one can plant it beforehand.
fn private_work_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    let Some(dir) = given else {
        let dir = std::env::temp_dir().join(format!(
            "mpe-mediaconvert-{}",
            uuid::Uuid::new_v4().simple()
        ));
        // `create`, not `create_all`: it fails if anything, a symlink included, is there.
        builder
            .create(&dir)
            .with_context(|| format!("creating the work folder {}", dir.display()))?;
        return Ok(dir);
    };
    if !dir.exists() {
        builder
            .recursive(true)
            .create(dir)
            .with_context(|| format!("creating the work folder {}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir).with_context(|| dir.display().to_string())?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        anyhow::bail!(
            "work folder {}: not a folder (a symlink is refused)",
            dir.display()
        );
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// One job as the API shows it (PascalCase; converted on the way out).
struct Job {
    id: String,
    token: Option<String>,
    created: u64,
    request: Value,
    status: &'static str,
    percent: u32,
    started: Option<u64>,
    finished: Option<u64>,
    error: Option<(i64, String)>,
    outputs: Vec<Value>,
    warnings: Vec<cloud::JobWarning>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    fn json(&self) -> Value {
        let mut j = json!({
            "Id": self.id,
            "Arn": format!("arn:aws:mediaconvert:local:000000000000:jobs/{}", self.id),
            "CreatedAt": self.created,
            "Status": self.status,
            "Queue": "arn:aws:mediaconvert:local:000000000000:queues/Default",
            "Role": self.request["Role"],
            "Settings": self.request["Settings"],
            "Timing": { "SubmitTime": self.created },
        });
        if let Some(m) = self.request.get("UserMetadata") {
            j["UserMetadata"] = m.clone();
        }
        if self.status == "PROGRESSING" {
            j["JobPercentComplete"] = json!(self.percent);
        }
        if let Some(t) = self.started {
            j["Timing"]["StartTime"] = json!(t);
        }
        if let Some(t) = self.finished {
            j["Timing"]["FinishTime"] = json!(t);
        }
        if let Some((code, message)) = &self.error {
            j["ErrorCode"] = json!(code);
            j["ErrorMessage"] = json!(message);
        }
        if !self.outputs.is_empty() {
            j["OutputGroupDetails"] = json!(self.outputs);
        }
        // The API model's Warnings are codes and counts; the text goes in
        // Messages.Warning, as MediaConvert's own job messages do.
        if !self.warnings.is_empty() {
            let mut codes: Vec<(i64, u32)> = Vec::new();
            for w in &self.warnings {
                match codes.iter_mut().find(|(c, _)| *c == w.code) {
                    Some((_, n)) => *n += 1,
                    None => codes.push((w.code, 1)),
                }
            }
            j["Warnings"] = codes
                .iter()
                .map(|(code, count)| json!({ "Code": code, "Count": count }))
                .collect();
            j["Messages"] = json!({
                "Info": [],
                "Warning": self.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>(),
            });
        }
        j
    }
}

type Jobs = Arc<Mutex<Vec<Job>>>;

/// Whole seconds: MediaConvert's wire timestamps are epoch seconds.
fn now() -> u64 {
    crate::watch::store::now_unix() as u64
}

/// Serves until the process is stopped.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    let s3 = S3::from_env(&opts.s3_endpoint)?;
    let runner_s3 = s3.clone();
    let addr = std::net::SocketAddr::new(opts.listen, opts.port);
    let server =
        tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("listening on {addr}: {e}"))?;
    let work = private_work_dir(opts.work.as_deref())?;
    let jobs: Jobs = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = channel::<String>();
    {
        let (jobs, work) = (jobs.clone(), work.clone());
        std::thread::spawn(move || {
            for id in rx {
                run(&jobs, &runner_s3, &work, &id);
            }
        });
    }
    tracing::info!(%addr, s3 = %opts.s3_endpoint, "MediaConvert API");
    eprintln!("mpe: MediaConvert API on http://{addr}");
    let probes = Probes {
        s3,
        work: work.clone(),
    };
    // Each request on a thread of its own, so that a client slow to send its body holds
    // up no one else; beyond MAX_IN_FLIGHT at once, the rest are told to come back.
    let in_flight = Arc::new(AtomicUsize::new(0));
    for request in server.incoming_requests() {
        if in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            let msg = json!({ "message": "too many requests at once; retry" });
            if let Err(e) = respond(request, 429, &msg, Some("TooManyRequestsException")) {
                tracing::warn!(error = %e, "answer failed");
            }
            continue;
        }
        in_flight.fetch_add(1, Ordering::SeqCst);
        let (jobs, tx, probes, in_flight) =
            (jobs.clone(), tx.clone(), probes.clone(), in_flight.clone());
        std::thread::spawn(move || {
            if let Err(e) = handle(request, &jobs, &tx, &probes) {
                tracing::warn!(error = %e, "request failed");
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn respond(
    request: Request,
    code: u16,
    body: &Value,
    error_type: Option<&str>,
) -> anyhow::Result<()> {
    let mut r = Response::from_string(body.to_string()).with_status_code(code);
    if let Ok(h) = Header::from_bytes("Content-Type", "application/json") {
        r = r.with_header(h);
    }
    if let Some(t) = error_type {
        if let Ok(h) = Header::from_bytes("x-amzn-ErrorType", t) {
            r = r.with_header(h);
        }
    }
    request.respond(r).context("answering")
}

/// What Probe requests need: the S3 endpoint, and room for the files they read.
#[derive(Clone)]
struct Probes {
    s3: S3,
    work: PathBuf,
}

fn handle(
    mut request: Request,
    jobs: &Jobs,
    tx: &Sender<String>,
    probes: &Probes,
) -> anyhow::Result<()> {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let query: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let method = request.method().clone();
    let id = path.strip_prefix("/2017-08-29/jobs/").map(str::to_string);
    let lock = || {
        jobs.lock()
            .map_err(|_| anyhow::anyhow!("job table poisoned"))
    };
    match (method, path, id) {
        (Method::Post, "/2017-08-29/probe", _) => {
            let body = match read_body(&mut request) {
                Ok(v) => v,
                Err((code, kind, message)) => {
                    return respond(request, code, &json!({ "message": message }), Some(kind))
                }
            };
            let files = match probe_inputs(&body) {
                Ok(f) => f,
                Err(message) => {
                    let msg = json!({ "message": message });
                    return respond(request, 400, &msg, Some("BadRequestException"));
                }
            };
            // Reading a whole object takes a while; this request has a thread of its own,
            // so other clients are answered meanwhile.
            let (code, body, kind) = match probe_all(probes, &files) {
                Ok(results) => (200, json!({ "probeResults": results }), None),
                Err((code, kind, message)) => (code, json!({ "message": message }), Some(kind)),
            };
            respond(request, code, &body, kind)
        }
        (Method::Post, "/2017-08-29/jobs", _) => {
            let request_json = match read_body(&mut request) {
                Ok(v) => to_pascal(&v),
                Err((code, kind, message)) => {
                    return respond(request, code, &json!({ "message": message }), Some(kind))
                }
            };
            // A member of the wrong type is MediaConvert's 400, before any job exists; one
            // the executor cannot follow makes a job that ends in ERROR naming it.
            if let Err(e) = cloud::check_request(&request_json) {
                let msg = json!({ "message": e.to_string() });
                return respond(request, 400, &msg, Some("BadRequestException"));
            }
            // A retried CreateJob (its answer lost) carries the same token: it gets the
            // job it already made, as MediaConvert's idempotency promises, not a second.
            let token = request_json
                .get("ClientRequestToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(t) = &token {
                let jobs = lock()?;
                if let Some(j) = jobs.iter().find(|j| j.token.as_deref() == Some(t)) {
                    let body = json!({ "job": to_camel(&j.json()) });
                    drop(jobs);
                    return respond(request, 201, &body, None);
                }
            }
            let id = format!(
                "{}-{}",
                now(),
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let job = Job {
                id: id.clone(),
                token,
                created: now(),
                request: request_json,
                status: "SUBMITTED",
                percent: 0,
                started: None,
                finished: None,
                error: None,
                outputs: Vec::new(),
                warnings: Vec::new(),
                cancel: Arc::new(AtomicBool::new(false)),
            };
            let body = json!({ "job": to_camel(&job.json()) });
            lock()?.push(job);
            tx.send(id).ok();
            respond(request, 201, &body, None)
        }
        (Method::Get, "/2017-08-29/jobs", _) => {
            let max: usize = query
                .get("maxResults")
                .and_then(|m| m.parse().ok())
                .unwrap_or(20)
                .clamp(1, 20);
            let status = query.get("status").copied();
            // The token is the offset of the next page: opaque to clients, as
            // MediaConvert's is.
            let skip: usize = match query.get("nextToken").map(|t| t.parse()) {
                None => 0,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    let msg = json!({ "message": "invalid nextToken" });
                    return respond(request, 400, &msg, Some("BadRequestException"));
                }
            };
            let jobs = lock()?;
            let mut matched: Vec<&Job> = jobs
                .iter()
                .filter(|j| status.is_none_or(|s| s == j.status))
                .collect();
            if query.get("order") != Some(&"ASCENDING") {
                matched.reverse();
            }
            let list: Vec<Value> = matched
                .iter()
                .skip(skip)
                .take(max)
                .map(|j| to_camel(&j.json()))
                .collect();
            let mut body = json!({ "jobs": list });
            let next = skip.saturating_add(max);
            if next < matched.len() {
                body["nextToken"] = json!(next.to_string());
            }
            drop(jobs);
            respond(request, 200, &body, None)
        }
        (Method::Get, _, Some(id)) => {
            let found = lock()?
                .iter()
                .find(|j| j.id == id)
                .map(|j| to_camel(&j.json()));
            match found {
                Some(j) => respond(request, 200, &json!({ "job": j }), None),
                None => not_found(request, &id),
            }
        }
        (Method::Delete, _, Some(id)) => {
            let mut jobs = lock()?;
            let Some(j) = jobs.iter_mut().find(|j| j.id == id) else {
                drop(jobs);
                return not_found(request, &id);
            };
            match j.status {
                "SUBMITTED" => {
                    j.status = "CANCELED";
                    j.finished = Some(now());
                }
                "PROGRESSING" => j.cancel.store(true, Ordering::Relaxed),
                _ => {
                    drop(jobs);
                    let msg = json!({ "message": format!("job {id} has already ended") });
                    return respond(request, 409, &msg, Some("ConflictException"));
                }
            }
            drop(jobs);
            respond(request, 202, &json!({}), None)
        }
        _ => {
            let msg = json!({ "message": format!("no such operation: {url}") });
            respond(request, 404, &msg, Some("NotFoundException"))
        }
    }
}

/// Requests handled at once; more get 429 TooManyRequestsException.
const MAX_IN_FLIGHT: usize = 64;

/// The largest request body read. A CreateJob body is a few dozen kilobytes even for a
/// large ladder; anything near this is no job, and reading it would only cost memory.
const BODY_LIMIT: u64 = 4 << 20;

/// A request's JSON body, at most [`BODY_LIMIT`] bytes: 413 beyond it, 400 for a body
/// that is not UTF-8 JSON. An error is (HTTP status, error type, message).
fn read_body(request: &mut Request) -> Result<Value, (u16, &'static str, String)> {
    let too_large = || {
        (
            413,
            "PayloadTooLargeException",
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
    };
    if request.body_length().is_some_and(|n| n as u64 > BODY_LIMIT) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(BODY_LIMIT + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            (
                400,
                "BadRequestException",
                format!("reading the request body: {e}"),
            )
        })?;
    if body.len() as u64 > BODY_LIMIT {
        return Err(too_large());
    }
    serde_json::from_slice(&body).map_err(|e| {
        (
            400,
            "BadRequestException",
            format!("the request body is not UTF-8 JSON: {e}"),
        )
    })
}

/// The FileUrls of a Probe request body (camelCase wire JSON).
fn probe_inputs(v: &Value) -> Result<Vec<String>, String> {
    let files = to_pascal(v)["InputFiles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if files.is_empty() {
        return Err("inputFiles: give at least one file to probe".into());
    }
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f["FileUrl"]
                .as_str()
                .filter(|u| u.starts_with("s3://"))
                .map(str::to_string)
                .ok_or_else(|| {
                    format!("inputFiles[{i}].fileUrl: an s3://bucket/key URL is required")
                })
        })
        .collect()
}

/// Probes each file: its object fetched from S3, then the engine's probe, shaped as
/// MediaConvert's ProbeResult (camelCase). An error is (HTTP status, error type, message).
fn probe_all(p: &Probes, files: &[String]) -> Result<Vec<Value>, (u16, &'static str, String)> {
    let dir = p
        .work
        .join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        std::fs::create_dir_all(&dir).map_err(|e| {
            (
                500,
                "InternalServerErrorException",
                format!("{}: {e}", dir.display()),
            )
        })?;
        let mut out = Vec::new();
        for (i, uri) in files.iter().enumerate() {
            let name = uri
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or("input");
            let file = dir.join(format!("{i}-{name}"));
            let object = p.s3.get(uri, &file).map_err(|e| {
                if e.downcast_ref::<super::s3::Missing>().is_some() {
                    (404, "NotFoundException", format!("{e:#}"))
                } else {
                    (500, "InternalServerErrorException", format!("{e:#}"))
                }
            })?;
            let media = engine::probe(&file).map_err(|e| {
                // The file is there but is no media MediaConvert could read.
                (422, "UnprocessableEntityException", format!("{uri}: {e}"))
            })?;
            let size = std::fs::metadata(&file).map(|m| m.len()).ok();
            let metadata = cloud::probe::Metadata {
                e_tag: object.etag,
                file_size: size.and_then(|s| i64::try_from(s).ok()),
                last_modified: None,
                mime_type: object.content_type,
            };
            out.push(to_camel(
                &cloud::probe::probe_result(&media, metadata).to_json(),
            ));
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn not_found(request: Request, id: &str) -> anyhow::Result<()> {
    let msg = json!({ "message": format!("job {id} not found") });
    respond(request, 404, &msg, Some("NotFoundException"))
}

fn update(jobs: &Jobs, id: &str, f: impl FnOnce(&mut Job)) {
    if let Ok(mut jobs) = jobs.lock() {
        if let Some(j) = jobs.iter_mut().find(|j| j.id == id) {
            f(j);
        }
    }
}

/// Runs one job: input from S3, the engine, outputs back to S3.
fn run(jobs: &Jobs, s3: &S3, work: &Path, id: &str) {
    let (request, cancel) = match jobs.lock() {
        Ok(j) => match j.iter().find(|j| j.id == id && j.status == "SUBMITTED") {
            Some(j) => (j.request.clone(), j.cancel.clone()),
            None => return,
        },
        Err(_) => return,
    };
    update(jobs, id, |j| {
        j.status = "PROGRESSING";
        j.started = Some(now());
    });
    let dir = work.join(id);
    let result = execute(jobs, s3, &dir, id, &request, &cancel);
    let _ = std::fs::remove_dir_all(&dir);
    update(jobs, id, |j| {
        j.finished = Some(now());
        match result {
            Ok(outputs) => {
                j.status = "COMPLETE";
                j.percent = 100;
                j.outputs = outputs;
            }
            Err(_) if cancel.load(Ordering::Relaxed) => j.status = "CANCELED",
            Err(e) => {
                j.status = "ERROR";
                // 1010: a job the engine cannot run as written; 1999: anything else.
                let code = if e.downcast_ref::<cloud::CloudError>().is_some() {
                    1010
                } else {
                    1999
                };
                j.error = Some((code, format!("{e:#}")));
            }
        }
    });
}

fn execute(
    jobs: &Jobs,
    s3: &S3,
    dir: &Path,
    id: &str,
    request: &Value,
    cancel: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<Value>> {
    let job = cloud::parse_job(request)?;
    let warnings = job.warnings.clone();
    update(jobs, id, |j| j.warnings = warnings);
    let (_, key) = split(&job.input)?;
    let name = key.rsplit('/').next().unwrap_or("input").to_string();
    let src_dir = dir.join("input");
    std::fs::create_dir_all(&src_dir)?;
    let source = src_dir.join(&name);
    s3.get(&job.input, &source)?;
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
        threads: None,
        chunks: engine::Chunks::Off,
        cancel: Some(cancel.clone()),
        rotation: job.rotation,
    };
    let report = engine::transcode(&opts, &mut |p| {
        let pct = (p.fraction() * 99.0) as u32;
        update(jobs, id, |j| j.percent = pct);
    })?;
    // What MediaConvert writes: the asset without mpe's own record.
    for f in report
        .files
        .iter()
        .filter(|f| f.path != profiles::naming::METADATA)
    {
        // A job cancelled while its outputs go up stops there (CANCELED, not COMPLETE).
        if cancel.load(Ordering::Relaxed) {
            anyhow::bail!("cancelled while uploading its outputs");
        }
        s3.put(&report.asset_dir.join(&f.path), &job.uri_of(&f.path))?;
    }
    Ok(output_group_details(request, &report.plan))
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
