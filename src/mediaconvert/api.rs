//! MediaConvert's REST operations on the store: jobs (create, get, list, cancel), job
//! templates, presets and queues (create, get, list, update, delete), DescribeEndpoints
//! and Probe, with the API's camelCase JSON in and out and its error types.

use std::sync::Arc;

use cloud::model::{self, JobStatus, ModelError};
use cloud::wire::{to_camel, to_pascal};
use hyper::Method;
use serde_json::{json, Value};

use super::http::{json_body, Reply, Request};
use super::runner::{now, Shared};
use super::store::{JobFilter, JobRow, Kind, NewJob, Resource};

/// The account and region the local ARNs name.
const ARN_PREFIX: &str = "arn:aws:mediaconvert:local:000000000000";

/// The queue every account has.
pub const DEFAULT_QUEUE: &str = "Default";

fn bad(message: impl Into<String>) -> Reply {
    Reply::error(400, "BadRequestException", message)
}

fn not_found(message: impl Into<String>) -> Reply {
    Reply::error(404, "NotFoundException", message)
}

fn conflict(message: impl Into<String>) -> Reply {
    Reply::error(409, "ConflictException", message)
}

fn internal(e: impl std::fmt::Display) -> Reply {
    Reply::error(500, "InternalServerErrorException", e.to_string())
}

/// Answers one request.
pub fn handle(shared: &Arc<Shared>, req: Request) -> Reply {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match (&req.method, segs.as_slice()) {
        (&Method::POST, ["2017-08-29", "endpoints"]) => Ok(describe_endpoints(&req)),
        (&Method::POST, ["2017-08-29", "probe"]) => probe(shared, &req),
        (&Method::POST, ["2017-08-29", "jobs"]) => create_job(shared, &req),
        (&Method::GET, ["2017-08-29", "jobs"]) => list_jobs(shared, &req),
        (&Method::GET, ["2017-08-29", "jobs", id]) => get_job(shared, id),
        (&Method::DELETE, ["2017-08-29", "jobs", id]) => cancel_job(shared, id),
        (m, ["2017-08-29", collection, rest @ ..]) if rest.len() <= 1 => {
            match Collection::of(collection) {
                Some(c) => resource(shared, &req, c, m, rest.first().copied()),
                None => Err(no_operation(&req)),
            }
        }
        _ => Err(no_operation(&req)),
    };
    result.unwrap_or_else(|reply| reply)
}

fn no_operation(req: &Request) -> Reply {
    not_found(format!(
        "no such operation: {} /{}",
        req.method,
        req.segments.join("/")
    ))
}

/// DescribeEndpoints: the server's own URL (older clients ask for it first).
fn describe_endpoints(req: &Request) -> Reply {
    let host = req.host.as_deref().unwrap_or("127.0.0.1");
    Reply::ok(
        200,
        json!({ "endpoints": [{ "url": format!("http://{host}") }] }),
    )
}

/// A request body in PascalCase.
fn body(req: &Request) -> Result<Value, Reply> {
    let v = json_body(req)?;
    if !v.is_object() {
        return Err(bad("the request body is not a JSON object"));
    }
    Ok(to_pascal(&v))
}

/// The name at the end of an ARN (`...:queues/NAME`), or the name itself.
fn name_of<'a>(name_or_arn: &'a str, collection: &str) -> &'a str {
    match name_or_arn.strip_prefix("arn:") {
        Some(_) => name_or_arn
            .rsplit_once(&format!("{collection}/"))
            .map_or(name_or_arn, |(_, n)| n),
        None => name_or_arn,
    }
}

fn queue_arn(name: &str) -> String {
    format!("{ARN_PREFIX}:queues/{name}")
}

fn job_json(j: &JobRow) -> Value {
    let mut v = json!({
        "Id": j.id,
        "Arn": format!("{ARN_PREFIX}:jobs/{}", j.id),
        "CreatedAt": j.created,
        "Status": j.status.as_str(),
        "Queue": queue_arn(&j.queue),
        "Role": j.request["Role"],
        "Settings": j.resolved["Settings"],
        "Priority": j.resolved.get("Priority").cloned().unwrap_or(json!(0)),
        "Timing": { "SubmitTime": j.created },
    });
    for member in [
        "UserMetadata",
        "JobTemplate",
        "StatusUpdateInterval",
        "AccelerationSettings",
    ] {
        let from = if member == "JobTemplate" {
            &j.request
        } else {
            &j.resolved
        };
        if let Some(m) = from.get(member) {
            v[member] = m.clone();
        }
    }
    if j.status == JobStatus::Progressing {
        v["JobPercentComplete"] = json!(j.percent);
    }
    if let Some(t) = j.started {
        v["Timing"]["StartTime"] = json!(t);
    }
    if let Some(t) = j.finished {
        v["Timing"]["FinishTime"] = json!(t);
    }
    if let Some((code, message)) = &j.error {
        v["ErrorCode"] = json!(code);
        v["ErrorMessage"] = json!(message);
    }
    if !j.outputs.is_empty() {
        v["OutputGroupDetails"] = json!(j.outputs);
    }
    // The API model's Warnings are codes and counts; the text goes in Messages.Warning,
    // as MediaConvert's own job messages do.
    if !j.warnings.is_empty() {
        let mut codes: Vec<(i64, u32)> = Vec::new();
        for w in &j.warnings {
            match codes.iter_mut().find(|(c, _)| *c == w.code) {
                Some((_, n)) => *n += 1,
                None => codes.push((w.code, 1)),
            }
        }
        v["Warnings"] = codes
            .iter()
            .map(|(code, count)| json!({ "Code": code, "Count": count }))
            .collect();
        v["Messages"] = json!({
            "Info": [],
            "Warning": j.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>(),
        });
    }
    v
}

fn create_job(shared: &Arc<Shared>, req: &Request) -> Result<Reply, Reply> {
    let request = body(req)?;
    // A member of the wrong type is MediaConvert's 400, before any job exists; one the
    // executor cannot follow makes a job that ends in ERROR naming it.
    cloud::check_request(&request).map_err(|e| bad(e.to_string()))?;
    let store = &shared.store;
    // A retried CreateJob (its answer lost) carries the same token: it gets the job it
    // already made, as MediaConvert's idempotency promises, not a second.
    let token = request
        .get("ClientRequestToken")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(t) = &token {
        if let Some(j) = store.job_by_token(t).map_err(internal)? {
            return Ok(Reply::ok(201, json!({ "job": to_camel(&job_json(&j)) })));
        }
    }
    let template = match request.get("JobTemplate").and_then(Value::as_str) {
        None => None,
        Some(t) => {
            let name = name_of(t, "jobTemplates");
            let found = store.get(Kind::Template, name).map_err(internal)?;
            Some(
                found
                    .ok_or_else(|| bad(format!("JobTemplate: no job template named {name:?}")))?
                    .body,
            )
        }
    };
    let preset = |name: &str| {
        store
            .get(Kind::Preset, name_of(name, "presets"))
            .ok()
            .flatten()
            .map(|p| p.body["Settings"].clone())
    };
    let resolved = cloud::template::resolve(&request, template.as_ref(), &preset)
        .map_err(|e| bad(e.to_string()))?;
    cloud::check_request(&resolved).map_err(|e| bad(e.to_string()))?;
    let queue = resolved
        .get("Queue")
        .and_then(Value::as_str)
        .map_or(DEFAULT_QUEUE, |q| name_of(q, "queues"))
        .to_string();
    if store.get(Kind::Queue, &queue).map_err(internal)?.is_none() {
        return Err(bad(format!("Queue: no queue named {queue:?}")));
    }
    let priority = resolved
        .get("Priority")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !(-50..=50).contains(&priority) {
        return Err(bad("Priority: must be between -50 and 50"));
    }
    let created = now();
    let id = format!(
        "{}-{}",
        created,
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    store
        .insert_job(&NewJob {
            id: &id,
            token: token.as_deref(),
            queue: &queue,
            priority,
            created,
            request: &request,
            resolved: &resolved,
        })
        .map_err(internal)?;
    let job = store
        .job(&id)
        .map_err(internal)?
        .ok_or_else(|| internal("the job just stored is gone"))?;
    // Said before a worker is woken, so that SUBMITTED comes before PROGRESSING.
    shared.emit(&job, "SUBMITTED", &[], None, None);
    shared.notify();
    Ok(Reply::ok(201, json!({ "job": to_camel(&job_json(&job)) })))
}

fn get_job(shared: &Arc<Shared>, id: &str) -> Result<Reply, Reply> {
    match shared.store.job(id).map_err(internal)? {
        Some(j) => Ok(Reply::ok(200, json!({ "job": to_camel(&job_json(&j)) }))),
        None => Err(not_found(format!("job {id} not found"))),
    }
}

/// `maxResults` (1 to 20, default 20) and `nextToken` (the offset of the next page:
/// opaque to clients, as MediaConvert's is).
fn page(req: &Request) -> Result<(usize, usize), Reply> {
    let max = match req.query.get("maxResults") {
        None => 20,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=20).contains(m))
            .ok_or_else(|| bad("maxResults: between 1 and 20"))?,
    };
    let skip = match req.query.get("nextToken") {
        None => 0,
        Some(t) => t.parse().map_err(|_| bad("invalid nextToken"))?,
    };
    Ok((max, skip))
}

fn ascending(req: &Request, default: bool) -> Result<bool, Reply> {
    match req.query.get("order").map(String::as_str) {
        None => Ok(default),
        Some("ASCENDING") => Ok(true),
        Some("DESCENDING") => Ok(false),
        Some(o) => Err(bad(format!("order: {o:?} is not ASCENDING or DESCENDING"))),
    }
}

fn list_jobs(shared: &Arc<Shared>, req: &Request) -> Result<Reply, Reply> {
    let (max, skip) = page(req)?;
    let status = match req.query.get("status") {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| bad(format!("status: {s:?}")))?),
    };
    let queue = req.query.get("queue").map(|q| name_of(q, "queues"));
    let filter = JobFilter {
        status,
        queue,
        ascending: ascending(req, false)?,
    };
    let (jobs, more) = shared
        .store
        .list_jobs(&filter, skip, max)
        .map_err(internal)?;
    let list: Vec<Value> = jobs.iter().map(|j| to_camel(&job_json(j))).collect();
    let mut body = json!({ "jobs": list });
    if more {
        body["nextToken"] = json!((skip + max).to_string());
    }
    Ok(Reply::ok(200, body))
}

fn cancel_job(shared: &Arc<Shared>, id: &str) -> Result<Reply, Reply> {
    let store = &shared.store;
    // A job claimed a moment ago has its cancel flag a moment later: look again briefly.
    for _ in 0..50 {
        let Some(job) = store.job(id).map_err(internal)? else {
            return Err(not_found(format!("job {id} not found")));
        };
        match job.status {
            JobStatus::Submitted => {
                if store.cancel_waiting(id, now()).map_err(internal)? {
                    return Ok(Reply::ok(202, json!({})));
                }
            }
            JobStatus::Progressing => {
                if shared.cancel_running(id) {
                    return Ok(Reply::ok(202, json!({})));
                }
            }
            _ => return Err(conflict(format!("job {id} has already ended"))),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(internal(format!("job {id} could not be cancelled; retry")))
}

/// Templates, presets and queues: one shape of API each.
#[derive(Clone, Copy)]
enum Collection {
    Templates,
    Presets,
    Queues,
}

impl Collection {
    fn of(segment: &str) -> Option<Collection> {
        match segment {
            "jobTemplates" => Some(Collection::Templates),
            "presets" => Some(Collection::Presets),
            "queues" => Some(Collection::Queues),
            _ => None,
        }
    }

    fn kind(self) -> Kind {
        match self {
            Collection::Templates => Kind::Template,
            Collection::Presets => Kind::Preset,
            Collection::Queues => Kind::Queue,
        }
    }

    /// The path segment and ARN part.
    fn segment(self) -> &'static str {
        match self {
            Collection::Templates => "jobTemplates",
            Collection::Presets => "presets",
            Collection::Queues => "queues",
        }
    }

    /// The member one resource is answered in (`jobTemplate`, wire case).
    fn one(self) -> &'static str {
        match self {
            Collection::Templates => "jobTemplate",
            Collection::Presets => "preset",
            Collection::Queues => "queue",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Collection::Templates => "job template",
            Collection::Presets => "preset",
            Collection::Queues => "queue",
        }
    }

    /// Reads a create or update body against the model: a member of the wrong type is a
    /// 400; one the model does not know is kept (MediaConvert would take it), and a job
    /// made from it ends in ERROR naming it.
    fn check(self, body: &Value) -> Result<(), Reply> {
        let parsed = match self {
            Collection::Templates => model::parse::<model::CreateJobTemplate>(body).map(drop),
            Collection::Presets => model::parse::<model::CreatePreset>(body).map(drop),
            Collection::Queues => model::parse::<model::CreateQueue>(body).map(drop),
        };
        match parsed {
            Ok(()) | Err(ModelError::Unknown { .. }) => Ok(()),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    /// The members an update may change (the API's Update* request members).
    fn updatable(self) -> &'static [&'static str] {
        match self {
            Collection::Templates => &[
                "AccelerationSettings",
                "Category",
                "Description",
                "HopDestinations",
                "Priority",
                "Queue",
                "Settings",
                "StatusUpdateInterval",
                "ElementalInferenceSettings",
            ],
            Collection::Presets => &["Category", "Description", "Settings"],
            Collection::Queues => &[
                "ConcurrentJobs",
                "Description",
                "MaximumConcurrentFeeds",
                "ReservationPlanSettings",
                "Status",
            ],
        }
    }
}

/// A stored resource as the API shows it.
fn resource_json(shared: &Shared, c: Collection, r: &Resource) -> Result<Value, Reply> {
    let mut v = r.body.clone();
    v.as_object_mut().map(|o| o.remove("Tags"));
    v["Name"] = json!(r.name);
    v["Arn"] = json!(format!("{ARN_PREFIX}:{}/{}", c.segment(), r.name));
    v["CreatedAt"] = json!(r.created);
    v["LastUpdated"] = json!(r.updated);
    match c {
        Collection::Templates => {
            v["Type"] = json!("CUSTOM");
            if v.get("Priority").is_none() {
                v["Priority"] = json!(0);
            }
        }
        Collection::Presets => v["Type"] = json!("CUSTOM"),
        Collection::Queues => {
            v["Type"] = json!(if r.name == DEFAULT_QUEUE {
                "SYSTEM"
            } else {
                "CUSTOM"
            });
            if v.get("Status").is_none() {
                v["Status"] = json!("ACTIVE");
            }
            if v.get("PricingPlan").is_none() {
                v["PricingPlan"] = json!("ON_DEMAND");
            }
            let count = |s| shared.store.count(&r.name, s).map_err(internal);
            v["SubmittedJobsCount"] = json!(count(JobStatus::Submitted)?);
            v["ProgressingJobsCount"] = json!(count(JobStatus::Progressing)?);
        }
    }
    Ok(v)
}

fn resource(
    shared: &Arc<Shared>,
    req: &Request,
    c: Collection,
    method: &Method,
    name: Option<&str>,
) -> Result<Reply, Reply> {
    let store = &shared.store;
    let kind = c.kind();
    let one = |r: &Resource, status: u16| -> Result<Reply, Reply> {
        let v = resource_json(shared, c, r)?;
        Ok(Reply::ok(status, json!({ c.one(): to_camel(&v) })))
    };
    let missing = |name: &str| not_found(format!("{} {name:?} not found", c.noun()));
    match (method, name) {
        (&Method::POST, None) => {
            let mut b = body(req)?;
            c.check(&b)?;
            let name = b
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad("name: required"))?
                .to_string();
            if !matches!(c, Collection::Queues) && b.get("Settings").is_none() {
                return Err(bad("settings: required"));
            }
            normalize(c, &mut b)?;
            if !store.put(kind, &name, &b, now(), false).map_err(internal)? {
                return Err(conflict(format!("{} {name:?} already exists", c.noun())));
            }
            let r = store
                .get(kind, &name)
                .map_err(internal)?
                .ok_or_else(|| internal("stored and gone"))?;
            one(&r, 201)
        }
        (&Method::GET, None) => {
            let (max, skip) = page(req)?;
            let by_creation = match req.query.get("listBy").map(String::as_str) {
                None | Some("NAME") => false,
                Some("CREATION_DATE") => true,
                // mpe has no system templates or presets.
                Some("SYSTEM") => {
                    return Ok(Reply::ok(200, json!({ list_member(c): [] })));
                }
                Some(o) => return Err(bad(format!("listBy: {o:?}"))),
            };
            let category = req.query.get("category");
            let all: Vec<Resource> = store
                .list(kind, by_creation, ascending(req, true)?)
                .map_err(internal)?
                .into_iter()
                .filter(|r| category.is_none_or(|cat| r.body["Category"] == json!(cat)))
                .collect();
            let list = all
                .iter()
                .skip(skip)
                .take(max)
                .map(|r| resource_json(shared, c, r).map(|v| to_camel(&v)))
                .collect::<Result<Vec<Value>, Reply>>()?;
            let mut body = json!({ list_member(c): list });
            if skip.saturating_add(max) < all.len() {
                body["nextToken"] = json!((skip + max).to_string());
            }
            if matches!(c, Collection::Queues) {
                body["totalConcurrentJobs"] = json!(shared.slots);
                body["unallocatedConcurrentJobs"] = json!(0);
            }
            Ok(Reply::ok(200, body))
        }
        (&Method::GET, Some(name)) => match store.get(kind, name).map_err(internal)? {
            Some(r) => one(&r, 200),
            None => Err(missing(name)),
        },
        (&Method::PUT, Some(name)) => {
            let Some(old) = store.get(kind, name).map_err(internal)? else {
                return Err(missing(name));
            };
            let mut changes = body(req)?;
            if let Some(m) = changes.as_object_mut() {
                m.remove("Name");
                if let Some(other) = m.keys().find(|k| !c.updatable().contains(&k.as_str())) {
                    return Err(bad(format!("{other}: not a member an update may change")));
                }
            }
            let mut b = old.body.clone();
            if let (Some(to), Some(from)) = (b.as_object_mut(), changes.as_object()) {
                for (k, v) in from {
                    to.insert(k.clone(), v.clone());
                }
            }
            c.check(&b)?;
            normalize(c, &mut b)?;
            store.put(kind, name, &b, now(), true).map_err(internal)?;
            if matches!(c, Collection::Queues) {
                // A queue set ACTIVE again releases its waiting jobs.
                shared.notify();
            }
            let r = store
                .get(kind, name)
                .map_err(internal)?
                .ok_or_else(|| internal("stored and gone"))?;
            one(&r, 200)
        }
        (&Method::DELETE, Some(name)) => {
            if matches!(c, Collection::Queues) && name == DEFAULT_QUEUE {
                return Err(conflict("the Default queue cannot be deleted"));
            }
            if store.delete(kind, name).map_err(internal)? {
                Ok(Reply::ok(202, json!({})))
            } else {
                Err(missing(name))
            }
        }
        _ => Err(no_operation(req)),
    }
}

fn list_member(c: Collection) -> &'static str {
    match c {
        Collection::Templates => "jobTemplates",
        Collection::Presets => "presets",
        Collection::Queues => "queues",
    }
}

/// Stored bodies name their queue by ARN, as GetJobTemplate shows it; a template's queue
/// must exist, and a queue's status is ACTIVE or PAUSED.
fn normalize(c: Collection, b: &mut Value) -> Result<(), Reply> {
    let Some(m) = b.as_object_mut() else {
        return Err(bad("the request body is not a JSON object"));
    };
    match c {
        Collection::Templates => {
            if let Some(q) = m.get("Queue").and_then(Value::as_str) {
                let arn = queue_arn(name_of(q, "queues"));
                m.insert("Queue".into(), json!(arn));
            }
        }
        Collection::Queues => {
            if let Some(s) = m.get("Status").and_then(Value::as_str) {
                if !matches!(s, "ACTIVE" | "PAUSED") {
                    return Err(bad(format!("status: {s:?} is not ACTIVE or PAUSED")));
                }
            }
        }
        Collection::Presets => {}
    }
    Ok(())
}

/// Probe: each file fetched from S3, then the engine's probe, shaped as MediaConvert's
/// ProbeResult.
fn probe(shared: &Arc<Shared>, req: &Request) -> Result<Reply, Reply> {
    let v = body(req)?;
    let files: Vec<String> = v["InputFiles"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f["FileUrl"]
                .as_str()
                .filter(|u| u.starts_with("s3://"))
                .map(str::to_string)
                .ok_or_else(|| {
                    bad(format!(
                        "inputFiles[{i}].fileUrl: an s3://bucket/key URL is required"
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    if files.is_empty() {
        return Err(bad("inputFiles: give at least one file to probe"));
    }
    let dir = shared
        .work
        .join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
    let result = probe_files(shared, &dir, &files);
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|results| Reply::ok(200, json!({ "probeResults": results })))
}

fn probe_files(
    shared: &Shared,
    dir: &std::path::Path,
    files: &[String],
) -> Result<Vec<Value>, Reply> {
    std::fs::create_dir_all(dir).map_err(|e| internal(format!("{}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for (i, uri) in files.iter().enumerate() {
        let name = uri
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("input");
        let file = dir.join(format!("{i}-{name}"));
        let object = shared.s3.get(uri, &file).map_err(|e| {
            if e.downcast_ref::<super::s3::Missing>().is_some() {
                not_found(format!("{e:#}"))
            } else {
                internal(format!("{e:#}"))
            }
        })?;
        // The file is there but is no media MediaConvert could read.
        let media = engine::probe(&file).map_err(|e| {
            Reply::error(422, "UnprocessableEntityException", format!("{uri}: {e}"))
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
}
