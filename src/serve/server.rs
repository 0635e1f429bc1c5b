//! `mpe serve` put together: the data folder, the credentials, the stack's buckets, the
//! MediaConvert store and workers, the workflow, and one HTTP port that routes each
//! request to the S3 API, the MediaConvert API or the delivery path.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::sync::Semaphore;

use super::auth::{self, Credentials};
use super::delivery;
use super::objects::Objects;
use super::workflow::{self, Stack, Upload, Workflow};
use crate::mediaconvert::api::DEFAULT_QUEUE;
use crate::mediaconvert::runner::{self, Shared};
use crate::mediaconvert::store::{Kind, Store};

/// How `mpe serve` runs.
pub struct ServeOptions {
    /// The data folder: buckets, stores, event log, credentials, outputs.json.
    pub data: PathBuf,
    /// Address and port.
    pub listen: SocketAddr,
    /// The profile of uploads that name none.
    pub profile: String,
    /// Jobs run at once.
    pub jobs: usize,
    /// The stack's suffix: buckets are `mpe-<kind>-<suffix>`.
    pub suffix: String,
    /// The region named in ARNs and answers.
    pub region: String,
    /// How long a client has to send a request's headers.
    pub read_timeout: Duration,
    /// Another S3 endpoint jobs created through the API read and write (this server's
    /// own buckets otherwise).
    pub s3_endpoint: Option<String>,
    /// Where each event is also POSTed.
    pub webhook: Option<crate::watch::events::Webhook>,
    /// The access key and secret from the config file, if it gives them.
    pub credentials: Option<(String, String)>,
    /// The upload API's token from the config file, if it gives one.
    pub api_token: Option<String>,
    /// What the upload API takes.
    pub limits: cloud::api::Limits,
}

/// Connections open at once.
const MAX_CONNECTIONS: usize = 1024;

/// Serves until the process stops.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&opts.data)
        .with_context(|| format!("creating the data folder {}", opts.data.display()))?;
    let data = opts
        .data
        .canonicalize()
        .with_context(|| opts.data.display().to_string())?;
    let creds = auth::load(
        &data,
        opts.credentials.clone(),
        !opts.listen.ip().is_loopback(),
    )?;
    let (api_token, token_origin) = super::api::load_token(&data, opts.api_token.clone())?;
    let stack = Stack {
        raw: format!("mpe-raw-{}", opts.suffix),
        media: format!("mpe-media-{}", opts.suffix),
        thumbnails: format!("mpe-thumbnails-{}", opts.suffix),
        profile: opts.profile.clone(),
        region: opts.region.clone(),
        suffix: opts.suffix.clone(),
    };
    profiles::Profile::shipped(&stack.profile)
        .with_context(|| format!("profile {}", stack.profile))?;
    let objects = Arc::new(
        Objects::open(
            &data,
            &[
                stack.raw.clone(),
                stack.media.clone(),
                stack.thumbnails.clone(),
            ],
        )
        .context("opening the buckets")?,
    );
    let endpoint = format!("http://{}", opts.listen);
    let mut s3 =
        crate::mediaconvert::s3::S3::new(&endpoint, &creds.key, &creds.secret, &opts.region)?;
    if let Some(other) = &opts.s3_endpoint {
        // The stack's buckets stay here; any other bucket a job names is the other
        // endpoint's, with the AWS_* credentials.
        let other = crate::mediaconvert::s3::S3::from_env(other)
            .with_context(|| format!("--s3-endpoint {other}"))?;
        s3 = s3.with_others(
            vec![
                stack.raw.clone(),
                stack.media.clone(),
                stack.thumbnails.clone(),
            ],
            other,
        );
    }
    let store = Store::open(&data.join("mediaconvert.db"))?;
    store.put(
        Kind::Queue,
        DEFAULT_QUEUE,
        &json!({ "Name": DEFAULT_QUEUE }),
        runner::now(),
        false,
    )?;
    let events_path = data.join("events.jsonl");
    let events = crate::watch::events::Events::open(
        &events_path,
        opts.webhook.clone(),
        &data.join("events.outbox.db"),
    )
    .with_context(|| format!("opening the event log {}", events_path.display()))?
    .with_source("aws.mediaconvert");
    let work = data.join(".work");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| work.display().to_string())?;
    }
    std::fs::create_dir_all(&work).with_context(|| work.display().to_string())?;
    let records = Arc::new(super::records::Records::open(&data.join("records.db"))?);
    let status = Arc::new(super::status::Status::open(
        &data,
        workflow::UPLOAD_PREFIX,
        &format!("{endpoint}{}", delivery::PREFIX),
    )?);
    let on_event: runner::OnEvent = {
        let (records, status) = (records.clone(), status.clone());
        let (s3, scratch) = (s3.clone(), work.clone());
        Box::new(move |line| {
            if let Err(e) = records.job_event(line) {
                tracing::error!(error = %e, "updating a job record");
            }
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                return;
            };
            // Before the upload is said COMPLETE, as the stack's status handler does.
            let failed = super::trickplay::draw(&s3, &scratch, &event);
            if let Err(e) = status.job_event(&event, failed) {
                tracing::error!(error = %e, "updating a status record");
            }
        })
    };
    let shared = Arc::new(Shared {
        store,
        s3,
        work,
        cancels: Mutex::new(Default::default()),
        wake: (Mutex::new(0), Default::default()),
        slots: opts.jobs.max(1),
        events: Some(events),
        on_event: Some(on_event),
    });
    let (flow, rx) = Workflow::open(&data)?;
    let created: super::s3::Created = {
        let (flow, stack, shared) = (flow.clone(), stack.clone(), shared.clone());
        let status = status.clone();
        Arc::new(move |bucket, key, stat| {
            if bucket != stack.raw {
                return;
            }
            let etag = stat.facts.etag.trim_matches('"').to_string();
            let event = workflow::object_created(&stack, bucket, key, stat.facts.size, &etag);
            if let Some(ev) = &shared.events {
                if let Err(e) = ev.emit_json(key, &event) {
                    tracing::error!(error = %e, "writing an Object Created event");
                }
            }
            if key.starts_with(workflow::UPLOAD_PREFIX) {
                // Before the workflow has it, so that UPLOADED comes before SUBMITTED.
                if let Err(e) = status.uploaded(key) {
                    tracing::error!(error = %e, "updating a status record");
                }
                flow.submit(Upload {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    size: stat.facts.size,
                    etag,
                    path: stat.path.clone(),
                    profile: stat.facts.metadata.get("mpe-profile").cloned(),
                });
            }
        })
    };
    let cors = Arc::new(
        super::cors::Cors::open(&data).context("reading the buckets' CORS configurations")?,
    );
    let mut builder = s3s::service::S3ServiceBuilder::new(super::s3::Service {
        objects: objects.clone(),
        created,
        cors: cors.clone(),
        region: opts.region.clone(),
    });
    builder.set_auth(OneKey(creds.clone()));
    builder.set_host(Hosts);
    let s3 = builder.build();
    write_outputs(&data, &endpoint, &stack, &opts.region)?;
    runner::start(&shared);
    workflow::run(
        flow,
        rx,
        shared.clone(),
        records,
        status.clone(),
        stack.clone(),
    );
    let api = super::api::Api {
        token: api_token.clone(),
        limits: opts.limits.clone(),
        status,
        objects: objects.clone(),
        raw: stack.raw.clone(),
        prefix: workflow::UPLOAD_PREFIX.into(),
        region: opts.region.clone(),
        key: creds.key.clone(),
        secret: creds.secret.clone(),
        endpoint: opts.listen.to_string(),
        profiles: profiles::Profile::shipped_names()
            .map(str::to_string)
            .collect(),
    };
    eprintln!("mpe: serving the stack's local twin on {endpoint}");
    eprintln!(
        "mpe:   S3 and MediaConvert: --endpoint-url {endpoint} (region {})",
        opts.region
    );
    eprintln!(
        "mpe:   credentials: AWS_ACCESS_KEY_ID={} (secret in {}; AWS_SHARED_CREDENTIALS_FILE={})",
        creds.key,
        creds.origin,
        data.join("credentials").display()
    );
    eprintln!(
        "mpe:   upload to s3://{}/{}; media at {endpoint}{}",
        stack.raw,
        workflow::UPLOAD_PREFIX,
        delivery::PREFIX
    );
    eprintln!(
        "mpe:   events: {endpoint}/events?token={} (server-sent events)",
        super::sse::token(&creds.secret)
    );
    eprintln!(
        "mpe:   upload API: {endpoint}/api/ with Authorization: Bearer {api_token} (from {token_origin})"
    );
    eprintln!(
        "mpe:   stack outputs: {}",
        data.join("outputs.json").display()
    );
    let router = Arc::new(Router {
        events_log: events_path.clone(),
        s3,
        cors,
        objects,
        shared,
        creds,
        stack,
        in_flight: Arc::new(Semaphore::new(crate::mediaconvert::http::MAX_IN_FLIGHT)),
        read_timeout: opts.read_timeout,
        api,
    });
    listen(opts.listen, opts.read_timeout, router)
}

/// `DATA/outputs.json`: `aws cloudformation describe-stacks`' shape, with the stack's
/// output keys, pointing at this server.
fn write_outputs(
    data: &std::path::Path,
    endpoint: &str,
    stack: &Stack,
    region: &str,
) -> anyhow::Result<()> {
    let host = endpoint.trim_start_matches("http://");
    let outputs = [
        (
            "RawBucketName",
            stack.raw.clone(),
            "Uploads bucket (mpe cloud submit --bucket)",
        ),
        (
            "MediaBucketName",
            stack.media.clone(),
            "Processed media bucket",
        ),
        (
            "ThumbnailsBucketName",
            stack.thumbnails.clone(),
            "Thumbnails and previews bucket",
        ),
        (
            "DistributionDomainName",
            format!("{host}{}", delivery::PREFIX.trim_end_matches('/')),
            "The delivery path serving media (plain http)",
        ),
        (
            "JobTableName",
            format!("mpe-jobs-{}", stack.suffix),
            "Job records (records.db)",
        ),
        (
            "MediaConvertQueueArn",
            format!("arn:aws:mediaconvert:{region}:000000000000:queues/{DEFAULT_QUEUE}"),
            "MediaConvert queue",
        ),
        (
            "MediaConvertRoleArn",
            format!(
                "arn:aws:iam::000000000000:role/mpe-mediaconvert-{}",
                stack.suffix
            ),
            "Role MediaConvert jobs run as",
        ),
        (
            "StateMachineArn",
            format!(
                "arn:aws:states:{region}:000000000000:stateMachine:mpe-pipeline-{}",
                stack.suffix
            ),
            "Pipeline state machine (the workflow in mpe serve)",
        ),
        (
            "NotificationTopicArn",
            format!(
                "arn:aws:sns:{region}:000000000000:mpe-notifications-{}",
                stack.suffix
            ),
            "Pipeline notifications (events.jsonl, /events, the webhook)",
        ),
        (
            "DeadLetterQueueUrl",
            format!("file://{}", data.join("failures.jsonl").display()),
            "Dead-letter queue (the failure queue, one JSON line per upload)",
        ),
        (
            "KmsKeyArn",
            format!("arn:aws:kms:{region}:000000000000:key/mpe-local-none"),
            "Customer managed key (none locally: objects are not encrypted at rest)",
        ),
        (
            "ApiUrl",
            format!("{endpoint}/api/"),
            "The upload and status API (Authorization: Bearer, DATA/api-token)",
        ),
        (
            "WebUrl",
            format!("{endpoint}/"),
            "The upload page (add #token=...)",
        ),
        (
            "WebBucketName",
            "mpe-web-local-none".to_string(),
            "Web page bucket (none locally: mpe serve serves the page built into it)",
        ),
        (
            "StatusTableName",
            format!("file://{}", data.join("status.db").display()),
            "Upload status records (SQLite)",
        ),
        (
            "ApiTokenSecretArn",
            format!("file://{}", data.join("api-token").display()),
            "The API token (DATA/api-token, unless MPE_API_TOKEN or the config sets it)",
        ),
        (
            "Endpoint",
            endpoint.to_string(),
            "The URL of S3, MediaConvert and delivery",
        ),
    ];
    let doc = json!({ "Stacks": [{
        "StackName": format!("mpe-{}", stack.suffix),
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": outputs.iter().map(|(k, v, d)| json!({
            "OutputKey": k, "OutputValue": v, "Description": d,
        })).collect::<Vec<_>>(),
    }]});
    let path = data.join("outputs.json");
    let tmp = data.join("outputs.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("writing {}", path.display()))
}

/// The one access key; any other is S3's InvalidAccessKeyId.
struct OneKey(Credentials);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for OneKey {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        if access_key == self.0.key {
            Ok(self.0.secret.clone().into())
        } else {
            Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ))
        }
    }
}

/// The bucket a request addresses: `BUCKET.localhost`, else the path's first segment.
fn bucket_of(req: &hyper::Request<Incoming>) -> String {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if let Some(b) = name.strip_suffix(".localhost") {
        return b.to_string();
    }
    req.uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Path style for an IP address or `localhost`; virtual-host style for
/// `<bucket>.localhost`.
struct Hosts;

impl s3s::host::S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        // The port is not part of the name; an IPv6 literal ([::1]:4566) is path style.
        let name = match host.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => h,
            _ => host,
        };
        if let Some(bucket) = name.strip_suffix(".localhost") {
            return Ok(s3s::host::VirtualHost::new(host).with_bucket(bucket));
        }
        Ok(s3s::host::VirtualHost::new(host))
    }
}

struct Router {
    events_log: PathBuf,
    s3: s3s::service::S3Service,
    cors: Arc<super::cors::Cors>,
    objects: Arc<Objects>,
    shared: Arc<Shared>,
    creds: Credentials,
    stack: Stack,
    in_flight: Arc<Semaphore>,
    read_timeout: Duration,
    api: super::api::Api,
}

type Response = hyper::Response<s3s::Body>;

impl Router {
    async fn route(self: Arc<Self>, req: hyper::Request<Incoming>) -> Response {
        let path = req.uri().path().to_string();
        let service = auth::scope_service(req.headers(), req.uri().query());
        if path.starts_with("/2017-08-29/") || service.as_deref() == Some("mediaconvert") {
            return self.mediaconvert(req).await;
        }
        if path == "/api" || path.starts_with("/api/") {
            return self.api.answer(req).await;
        }
        if path == "/events" {
            return self.events(&req);
        }
        if service.is_none() && super::web::is_page(&path) {
            return super::web::answer(req.method(), &path);
        }
        if let Some(key) = path.strip_prefix(delivery::PREFIX) {
            return self.deliver(&req, key);
        }
        if path == delivery::PREFIX.trim_end_matches('/') {
            return self.deliver(&req, "");
        }
        let origin = req
            .headers()
            .get(hyper::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bucket = bucket_of(&req);
        if let (Some(origin), &hyper::Method::OPTIONS) = (&origin, req.method()) {
            return self.preflight(&req, origin, &bucket);
        }
        let method = req.method().to_string();
        let mut r = match self.s3.call(req.map(s3s::Body::from)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = ?e, "S3 request failed");
                let mut r = hyper::Response::new(s3s::Body::from(Bytes::from_static(b"")));
                *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        };
        if let Some(rule) = origin
            .as_deref()
            .and_then(|o| self.cors.rule(&bucket, o, &method, &[]).map(|r| (o, r)))
        {
            for (k, v) in super::cors::headers(&rule.1, rule.0, None) {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                    r.headers_mut().insert(k, v);
                }
            }
        }
        r
    }

    /// A browser's preflight, answered from the bucket's CORS rules as S3 answers it.
    fn preflight(&self, req: &hyper::Request<Incoming>, origin: &str, bucket: &str) -> Response {
        let h = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let method = h("access-control-request-method");
        let asked: Vec<String> = h("access-control-request-headers")
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        let rule = (!method.is_empty())
            .then(|| self.cors.rule(bucket, origin, &method, &asked))
            .flatten();
        let Some(rule) = rule else {
            let xml =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessForbidden</Code>\
                       <Message>CORSResponse: This CORS request is not allowed. The bucket's CORS \
                       rules allow no such origin, method or headers.</Message></Error>";
            let mut r = hyper::Response::new(s3s::Body::from(xml.to_string()));
            *r.status_mut() = hyper::StatusCode::FORBIDDEN;
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/xml"),
            );
            return r;
        };
        let mut r = hyper::Response::new(s3s::Body::from(Bytes::new()));
        for (k, v) in super::cors::headers(&rule, origin, Some(&asked)) {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }

    async fn mediaconvert(self: Arc<Self>, req: hyper::Request<Incoming>) -> Response {
        let me = self.clone();
        let handler: crate::mediaconvert::http::Handler = Arc::new(move |r| {
            use crate::mediaconvert::http::Reply;
            if let Err(e) = auth::verify(
                &me.creds,
                "mediaconvert",
                r.method.as_str(),
                &r.raw_path,
                r.raw_query.as_deref(),
                &r.headers,
                &r.body,
            ) {
                return Reply::error(403, "ForbiddenException", e.0);
            }
            crate::mediaconvert::api::handle(&me.shared, r)
        });
        let r = crate::mediaconvert::http::answer(
            req,
            handler,
            self.in_flight.clone(),
            self.read_timeout,
        )
        .await;
        let Ok(r) = r;
        let (parts, body) = r.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        hyper::Response::from_parts(parts, s3s::Body::from(bytes))
    }

    /// `GET /events?token=...`: the server-sent event stream.
    fn events(&self, req: &hyper::Request<Incoming>) -> Response {
        let query: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let plain = |status: hyper::StatusCode, text: &str| {
            let mut r = hyper::Response::new(s3s::Body::from(format!("{text}\n")));
            *r.status_mut() = status;
            r
        };
        if req.method() != hyper::Method::GET {
            return plain(hyper::StatusCode::METHOD_NOT_ALLOWED, "GET only");
        }
        let given = query.get("token").map(String::as_bytes).unwrap_or_default();
        let want = super::sse::token(&self.creds.secret);
        if !auth::same_secret(given, want.as_bytes()) {
            return plain(
                hyper::StatusCode::FORBIDDEN,
                "the events token (printed at start) is missing or wrong",
            );
        }
        let from = super::sse::From::of(req.headers(), query.get("from").map(String::as_str));
        super::sse::response(self.events_log.clone(), from)
    }

    fn deliver(&self, req: &hyper::Request<Incoming>, key: &str) -> Response {
        let key = crate::mediaconvert::http::percent_decode(key).unwrap_or_default();
        if key.is_empty() && req.method() == hyper::Method::GET {
            let page = delivery::index(&self.objects, &self.stack.media);
            let mut r = hyper::Response::new(s3s::Body::from(page));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return r;
        }
        let a = delivery::answer(
            &self.objects,
            req.method(),
            &key,
            req.headers(),
            &self.stack.media,
            &self.stack.thumbnails,
        );
        let body = match a.body {
            delivery::Body::Empty => s3s::Body::from(Bytes::new()),
            delivery::Body::Text(t) => s3s::Body::from(t),
            delivery::Body::File(path, span) => match delivery::file_stream(&path, span) {
                Ok(s) => {
                    let s: s3s::stream::DynByteStream = Box::pin(s3s::dto::StreamingBlob::wrap(s));
                    s3s::Body::from(s)
                }
                Err(e) => {
                    tracing::error!(error = %e, "delivery");
                    let mut r = hyper::Response::new(s3s::Body::from(Bytes::new()));
                    *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                    return r;
                }
            },
        };
        let mut r = hyper::Response::new(body);
        *r.status_mut() = a.status;
        for (k, v) in a.headers {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }
}

fn listen(addr: SocketAddr, read_timeout: Duration, router: Arc<Router>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let router = router.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let router = router.clone();
                    async move { Ok::<_, std::convert::Infallible>(router.route(req).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended");
                }
                drop(permit);
            });
        }
    })
}
