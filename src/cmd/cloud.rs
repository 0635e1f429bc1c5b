//! `mpe cloud`: the MediaConvert side of a profile: render, upload and submit, follow.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use cloud::deployment::{self, StackOutputs};
use cloud::JobState;
use indicatif::{ProgressBar, ProgressStyle};
use profiles::Profile;

/// Arguments of `mpe cloud`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CloudCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum CloudCommand {
    /// Print the CreateJob request (MediaConvert JSON) of a profile for one source.
    Render {
        /// A shipped profile name or a profile JSON file.
        #[arg(short, long, default_value = "default")]
        profile: String,
        /// The source in S3: s3://bucket/key.
        #[arg(long)]
        input: String,
        /// The asset folder in S3: s3://bucket/prefix/ (ending in '/').
        #[arg(long)]
        dest: String,
        /// IAM role MediaConvert assumes (else MPE_MEDIACONVERT_ROLE, else the stack's
        /// output; without any, a placeholder to replace before submitting).
        #[arg(long, env = "MPE_MEDIACONVERT_ROLE")]
        role: Option<String>,
        /// Queue ARN (default: the stack's queue, else the account's Default queue).
        #[arg(long, env = "MPE_MEDIACONVERT_QUEUE")]
        queue: Option<String>,
        /// The deployed stack's outputs (`aws cloudformation describe-stacks`), for the
        /// role and queue.
        #[arg(long, env = "MPE_STACK_OUTPUTS")]
        stack_outputs: Option<PathBuf>,
        /// A local copy of the source, probed here. Without it, MediaConvert (the endpoint
        /// of the usual AWS chain) probes --input; either way the job gets the renditions
        /// the engine would make: never upscaled, aspect kept, exact sizes.
        #[arg(long, conflicts_with = "no_probe")]
        source: Option<PathBuf>,
        /// Probe nothing: the whole ladder by height, as the job templates have it. Such
        /// a job may upscale a small source and squash a portrait one.
        #[arg(long)]
        no_probe: bool,
        /// The job id carried in UserMetadata (default: a new GUID).
        #[arg(long)]
        job_id: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print the JobTemplate (CreateJobTemplate JSON) of a profile.
    Template {
        /// A shipped profile name or a profile JSON file.
        #[arg(short, long, default_value = "default")]
        profile: String,
        /// Destination of every group, e.g. 's3://media/$fn$/' ($fn$: the input's name).
        #[arg(long)]
        dest: Option<String>,
    },
    /// Print the production pipeline as CloudFormation JSON (what stack.json holds),
    /// generated from the shipped profiles.
    Stack {
        /// Write it to this file (by rename, so a reader never sees half of it) instead
        /// of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Upload a source to S3 (multipart) and submit its MediaConvert job.
    Submit(Box<SubmitArgs>),
    /// Show a job: status, percent, error, outputs.
    Status {
        /// MediaConvert's job id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Wait for a job to end; fails unless it ends COMPLETE.
    Wait {
        /// MediaConvert's job id.
        id: String,
        #[command(flatten)]
        follow: Follow,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// List recent jobs, newest first.
    List {
        /// Only jobs in this status (SUBMITTED, PROGRESSING, COMPLETE, CANCELED, ERROR).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        max: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Cancel a job.
    Cancel {
        /// MediaConvert's job id.
        id: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// Where AWS is; the rest (credentials, region) comes from the usual AWS chain.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long)]
    region: Option<String>,
    /// S3 endpoint, e.g. a local S3 API server (path-style requests).
    #[arg(long, env = "AWS_ENDPOINT_URL_S3")]
    s3_endpoint: Option<String>,
    /// MediaConvert endpoint, e.g. `mpe mediaconvert serve`.
    #[arg(long, env = "AWS_ENDPOINT_URL_MEDIACONVERT")]
    mediaconvert_endpoint: Option<String>,
    /// Attempts per AWS request (throttling and network errors are retried with
    /// exponential backoff).
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
}

/// How to follow a job.
#[derive(Debug, clap::Args)]
pub struct Follow {
    /// Seconds between polls.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// Give up after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Print the final job as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `mpe cloud submit`. Settings left out come from the environment, then
/// from the deployed stack's outputs (`--stack-outputs`).
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The source file to upload and transcode.
    #[arg(required_unless_present = "job")]
    source: Option<PathBuf>,
    /// A shipped profile name or a profile JSON file.
    #[arg(short, long, default_value = "default")]
    profile: String,
    /// Submit this CreateJob JSON (as `mpe cloud render` prints it) as it is, uploading
    /// nothing.
    #[arg(long, conflicts_with = "source")]
    job: Option<PathBuf>,
    /// The raw uploads bucket.
    #[arg(long, env = "MPE_RAW_BUCKET")]
    bucket: Option<String>,
    /// The key of the upload (default: uploads/<file name>).
    #[arg(long)]
    key: Option<String>,
    /// Where assets go, s3://bucket/prefix/; the asset is the folder <asset>/ in it.
    #[arg(long, env = "MPE_DEST")]
    dest: Option<String>,
    /// The asset's folder name (default: the source's file stem).
    #[arg(long)]
    asset: Option<String>,
    /// IAM role MediaConvert assumes.
    #[arg(long, env = "MPE_MEDIACONVERT_ROLE")]
    role: Option<String>,
    /// Queue ARN (default: the stack's queue, else the account's Default queue).
    #[arg(long, env = "MPE_MEDIACONVERT_QUEUE")]
    queue: Option<String>,
    /// Encrypt the upload with SSE-KMS under this key (id, ARN or alias).
    #[arg(long, env = "MPE_KMS_KEY")]
    kms_key: Option<String>,
    /// The deployed stack's outputs: `aws cloudformation describe-stacks --stack-name
    /// NAME > outputs.json`.
    #[arg(long, env = "MPE_STACK_OUTPUTS")]
    stack_outputs: Option<PathBuf>,
    /// Part size in MiB (S3 allows 5 to 5120).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(5..=5120))]
    part_size: u64,
    /// How upload progress is shown: a bar on a terminal, else a line every few seconds
    /// (auto). Here `json` prints one object per finished part,
    /// {"upload","bytes","total","fraction"}, not the transcode's per-second object.
    #[arg(long, value_enum, default_value = "auto")]
    progress: crate::progress::Mode,
    /// Parts uploaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Wait for the job to end (fails unless it ends COMPLETE).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    follow: Follow,
    #[command(flatten)]
    aws: AwsArgs,
}

impl CloudCommand {
    /// Where AWS is, for the commands that talk to it.
    fn aws(&self) -> Option<&AwsArgs> {
        match self {
            CloudCommand::Submit(a) => Some(&a.aws),
            CloudCommand::Status { aws, .. }
            | CloudCommand::Wait { aws, .. }
            | CloudCommand::List { aws, .. }
            | CloudCommand::Cancel { aws, .. } => Some(aws),
            CloudCommand::Render { .. }
            | CloudCommand::Template { .. }
            | CloudCommand::Stack { .. } => None,
        }
    }
}

/// Runs the cloud subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let aws = args.command.aws().cloned();
    dispatch(args.command).map_err(|e| match &aws {
        Some(a) => region_hint(e, a),
        None => e,
    })
}

fn dispatch(command: CloudCommand) -> anyhow::Result<()> {
    match command {
        CloudCommand::Render {
            profile,
            input,
            dest,
            role,
            queue,
            stack_outputs,
            source,
            no_probe,
            job_id,
            aws,
        } => {
            let profile = Profile::load(&profile)?;
            let outputs = load_outputs(stack_outputs.as_deref())?;
            let role = role
                .or_else(|| outputs.get(deployment::ROLE_ARN).map(str::to_string))
                .unwrap_or_else(|| {
                    eprintln!(
                        "mpe: warning: no role (--role, MPE_MEDIACONVERT_ROLE or --stack-outputs): \
                         the job's Role is {PLACEHOLDER_ROLE}, to replace before submitting"
                    );
                    PLACEHOLDER_ROLE.to_string()
                });
            let queue = queue.or_else(|| outputs.get(deployment::QUEUE_ARN).map(str::to_string));
            let id = job_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let mut req = cloud::JobRequest {
                profile: &profile,
                input: &input,
                destination: &dest,
                role: &role,
                queue: queue.as_deref(),
                job_id: &id,
                plan: None,
            };
            // Locations and profile are checked before anything is asked of AWS.
            let unplanned = cloud::render_job(&req)?;
            let plan = match (&source, no_probe) {
                (Some(src), _) => {
                    let media = engine::probe(src)?;
                    Some(profiles::plan(&profile, &media)?)
                }
                (None, true) => {
                    eprintln!(
                        "mpe: warning: --no-probe: every rung of profile {} by height only; \
                         MediaConvert will upscale a smaller source and squash a portrait one",
                        profile.name
                    );
                    None
                }
                (None, false) => {
                    let media = block_on(probe_input(&input, &aws))?;
                    Some(profiles::plan(&profile, &media)?)
                }
            };
            let job = match &plan {
                Some(p) => {
                    req.plan = Some(p);
                    cloud::render_job(&req)?
                }
                None => unplanned,
            };
            print_stdout(&serde_json::to_string_pretty(&job).context("printing the job")?)?;
        }
        CloudCommand::Template { profile, dest } => {
            let profile = Profile::load(&profile)?;
            let t = cloud::render_template(&profile, dest.as_deref())?;
            print_stdout(&serde_json::to_string_pretty(&t).context("printing the template")?)?;
        }
        CloudCommand::Stack { output } => {
            let text = cloud::stack::render()?;
            match output {
                Some(path) => {
                    let tmp = path.with_extension("json.tmp");
                    std::fs::write(&tmp, &text)
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => print_stdout(text.trim_end())?,
            }
        }
        CloudCommand::Submit(a) => block_on(submit(*a))?,
        CloudCommand::Status { id, json, aws } => block_on(async {
            let c = connect(&aws).await?;
            let state = cloud::client::get_job(&c.mediaconvert, &id).await?;
            print_state(&state, json)
        })?,
        CloudCommand::Wait { id, follow, aws } => block_on(async {
            let c = connect(&aws).await?;
            follow_job(&c, &id, &follow).await
        })?,
        CloudCommand::List {
            status,
            max,
            json,
            aws,
        } => block_on(async {
            let c = connect(&aws).await?;
            let jobs = cloud::client::list_jobs(&c.mediaconvert, status.as_deref(), max).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                for j in &jobs {
                    let pct = j.percent.map(|p| format!(" {p}%")).unwrap_or_default();
                    let created = j.created.as_deref().unwrap_or("-");
                    let error = j.error_line().map(|e| format!("  {e}")).unwrap_or_default();
                    println!("{}  {:<11}{pct}  {created}{error}", j.id, j.status);
                }
            }
            Ok(())
        })?,
        CloudCommand::Cancel { id, aws } => block_on(async {
            let c = connect(&aws).await?;
            cloud::client::cancel_job(&c.mediaconvert, &id).await?;
            eprintln!("mpe: cancelled job {id}");
            Ok(())
        })?,
    }
    Ok(())
}

/// MediaConvert's probe of `input` (the endpoint of the usual AWS chain), as media facts.
/// Without an endpoint to ask, one line says what to give instead.
async fn probe_input(input: &str, aws: &AwsArgs) -> anyhow::Result<profiles::MediaInfo> {
    let hint = "to plan without MediaConvert, pass --source with a local copy (or --no-probe); \
                to probe, set a region or AWS_ENDPOINT_URL_MEDIACONVERT";
    let c = connect(aws)
        .await
        .map_err(|e| anyhow::anyhow!("cannot ask MediaConvert to probe {input}: {e:#}; {hint}"))?;
    let result = match cloud::client::probe(&c.mediaconvert, input).await {
        Ok(r) => r,
        Err(e @ cloud::CloudError::Unreadable { .. }) => return Err(e.into()),
        Err(e) => bail!("{e} (region {}); {hint}", c.region),
    };
    Ok(cloud::probe::media_info(&result, input)?)
}

fn block_on<T, F: std::future::Future<Output = anyhow::Result<T>>>(f: F) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// An AWS endpoint that cannot be reached at its default address usually means a region
/// where the service is not offered (or a mistyped one): say which region was used.
fn region_hint(e: anyhow::Error, aws: &AwsArgs) -> anyhow::Error {
    let text = format!("{e:#}");
    // Every MediaConvert action's error starts with its name; the S3 ones with "upload".
    let overridden = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || if text.starts_with("MediaConvert ") {
            aws.mediaconvert_endpoint.is_some()
        } else {
            aws.s3_endpoint.is_some()
        };
    if overridden || !text.contains("endpoint unreachable") {
        return e;
    }
    match REGION.get() {
        Some(r) => e.context(format!(
            "region {r}: is the region right, and is the service offered there?"
        )),
        None => e,
    }
}

/// The region the AWS clients of this run resolved (one command per process).
static REGION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Prints a document and a newline; a reader that stops early (`| head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
        _ => Ok(()),
    }
}

async fn connect(a: &AwsArgs) -> anyhow::Result<cloud::Clients> {
    let c = cloud::clients(&cloud::Endpoints {
        region: a.region.clone(),
        s3: a.s3_endpoint.clone(),
        mediaconvert: a.mediaconvert_endpoint.clone(),
        max_attempts: a.max_attempts,
    })
    .await?;
    let _ = REGION.set(c.region.clone());
    Ok(c)
}

/// A setting from its flag or environment variable, else the stack's output.
fn setting(
    given: Option<String>,
    outputs: &StackOutputs,
    key: &str,
    what: &str,
) -> anyhow::Result<String> {
    given
        .or_else(|| outputs.get(key).map(str::to_string))
        .with_context(|| format!("no {what}: pass it, or give --stack-outputs with {key}"))
}

/// The Role of a job rendered without one: an ARN that MediaConvert refuses, shaped so
/// that the JSON still validates and the place to edit is obvious.
const PLACEHOLDER_ROLE: &str = "arn:aws:iam::111122223333:role/REPLACE-WITH-MEDIACONVERT-ROLE";

/// The stack's outputs from `aws cloudformation describe-stacks` JSON, or none.
fn load_outputs(path: Option<&Path>) -> anyhow::Result<StackOutputs> {
    let Some(p) = path else {
        return Ok(StackOutputs::default());
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("reading stack outputs {}", p.display()))?;
    let doc = serde_json::from_str(&text)
        .with_context(|| format!("stack outputs {}: not JSON", p.display()))?;
    Ok(StackOutputs::parse(&doc, &p.display().to_string())?)
}

async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    let outputs = load_outputs(a.stack_outputs.as_deref())?;
    if let Some(file) = &a.job {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading job {}", file.display()))?;
        let request: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("job {}: not JSON", file.display()))?;
        let c = connect(&a.aws).await?;
        let state = cloud::client::create_job(&c.mediaconvert, &request).await?;
        return submitted(&c, state, &a).await;
    }
    let Some(source) = &a.source else {
        bail!("give a source file or --job");
    };
    // Everything local is checked before a byte goes up: the profile, the source (probed
    // and planned, so the job asks for exactly the renditions the engine would make),
    // the settings.
    let profile = Profile::load(&a.profile)?;
    let media = engine::probe(source)?;
    let plan = profiles::plan(&profile, &media)?;
    let bucket = setting(
        a.bucket.clone(),
        &outputs,
        deployment::RAW_BUCKET,
        "raw bucket (--bucket)",
    )?;
    let dest = match a.dest.clone() {
        Some(d) => d,
        None => format!(
            "s3://{}/",
            setting(
                None,
                &outputs,
                deployment::MEDIA_BUCKET,
                "destination (--dest)"
            )?
        ),
    };
    let role = setting(
        a.role.clone(),
        &outputs,
        deployment::ROLE_ARN,
        "MediaConvert role (--role)",
    )?;
    let queue = a
        .queue
        .clone()
        .or_else(|| outputs.get(deployment::QUEUE_ARN).map(str::to_string));
    let name = file_name(source)?;
    let key = a.key.clone().unwrap_or_else(|| format!("uploads/{name}"));
    let asset = a.asset.clone().unwrap_or_else(|| {
        name.rsplit_once('.')
            .map_or(name.as_str(), |(s, _)| s)
            .to_string()
    });
    let dest = format!("{}/{asset}/", dest.trim_end_matches('/'));
    let input = format!("s3://{bucket}/{key}");
    let id = uuid::Uuid::new_v4().to_string();
    let request = cloud::render_job(&cloud::JobRequest {
        profile: &profile,
        input: &input,
        destination: &dest,
        role: &role,
        queue: queue.as_deref(),
        job_id: &id,
        plan: Some(&plan),
    })?;

    let c = connect(&a.aws).await?;
    let size = std::fs::metadata(source)
        .with_context(|| format!("reading {}", source.display()))?
        .len();
    use crate::progress::Mode;
    // Without a terminal (logs, CI) a line every few seconds instead of a bar.
    let mode = a.progress.resolved();
    let bar = if mode == Mode::Bar {
        upload_bar(size, &input)
    } else {
        ProgressBar::hidden()
    };
    let shown = bar.clone();
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let last = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let label = input.clone();
    let progress: cloud::upload::Progress = Arc::new(move |n| {
        shown.inc(n);
        // Counted and printed under one lock, so that lines from parts finishing together
        // on different threads still rise.
        let Ok(mut at) = last.lock() else { return };
        let done = sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        match mode {
            Mode::Json => eprintln!(
                "{}",
                serde_json::json!({
                    "upload": label,
                    "bytes": done,
                    "total": size,
                    "fraction": done as f64 / size.max(1) as f64,
                })
            ),
            Mode::Plain if at.elapsed() >= Duration::from_secs(5) && done < size => {
                *at = std::time::Instant::now();
                eprintln!(
                    "mpe: upload {label}: {}% ({done} of {size} bytes)",
                    done * 100 / size.max(1)
                );
            }
            _ => {}
        }
    });
    let opts = cloud::UploadOptions {
        part_size: a.part_size * 1024 * 1024,
        concurrency: usize::from(a.concurrency),
        kms_key: a.kms_key.clone(),
    };
    let up = cloud::upload(&c.s3, source, &bucket, &key, &opts, progress).await;
    bar.finish_and_clear();
    let up = up?;
    eprintln!(
        "mpe: uploaded {} ({} bytes in {} part{})",
        up.uri,
        up.bytes,
        up.parts,
        if up.parts == 1 { "" } else { "s" }
    );
    let state = cloud::client::create_job(&c.mediaconvert, &request).await?;
    submitted(&c, state, &a).await
}

async fn submitted(c: &cloud::Clients, state: JobState, a: &SubmitArgs) -> anyhow::Result<()> {
    eprintln!("mpe: submitted job {} ({})", state.id, state.status);
    if a.wait {
        follow_job(c, &state.id, &a.follow).await
    } else if a.follow.json {
        print_state(&state, true)
    } else {
        println!("{}", state.id);
        Ok(())
    }
}

fn upload_bar(size: u64, uri: &str) -> ProgressBar {
    let b = ProgressBar::new(size);
    b.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b.set_message(format!("upload {uri}"));
    b
}

fn file_name(p: &Path) -> anyhow::Result<String> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .with_context(|| format!("{}: no usable file name", p.display()))
}

async fn follow_job(c: &cloud::Clients, id: &str, f: &Follow) -> anyhow::Result<()> {
    let interval = Duration::from_secs_f64(f.interval.max(0.05));
    let timeout = f.timeout.map(Duration::from_secs_f64);
    let state = cloud::client::wait(&c.mediaconvert, id, interval, timeout, &mut |s| {
        let pct = s.percent.map(|p| format!(" {p}%")).unwrap_or_default();
        let phase = s
            .phase
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        eprintln!("mpe: job {}: {}{pct}{phase}", s.id, s.status);
    })
    .await?;
    print_state(&state, f.json)?;
    if state.status != "COMPLETE" {
        let why = state
            .error_line()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        bail!("job {} ended {}{why}", state.id, state.status);
    }
    Ok(())
}

fn print_state(s: &JobState, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("id       {}", s.id);
    let pct = s.percent.map(|p| format!(" {p}%")).unwrap_or_default();
    println!("status   {}{pct}", s.status);
    if let Some(c) = &s.created {
        println!("created  {c}");
    }
    if let Some(e) = s.error_line() {
        println!("error    {e}");
    }
    for (k, v) in &s.user_metadata {
        println!("meta     {k}={v}");
    }
    for o in &s.outputs {
        println!("output   {o}");
    }
    for (i, group) in s.output_groups.iter().enumerate() {
        let outputs: Vec<String> = group
            .iter()
            .map(|o| {
                let secs = o
                    .duration_ms
                    .map(|ms| format!("{:.1} s", f64::from(ms) / 1000.0))
                    .unwrap_or_else(|| "-".into());
                match (o.width, o.height) {
                    (Some(w), Some(h)) => format!("{w}x{h} {secs}"),
                    _ => secs,
                }
            })
            .collect();
        println!("group {i}  {}", outputs.join(", "));
    }
    Ok(())
}
