//! The server put together: its private work folder, the store under `--data`, the
//! queue's workers and the HTTP API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::json;

use super::api::{self, DEFAULT_QUEUE};
use super::runner::{self, Shared};
use super::s3::S3;
use super::store::{Kind, Store};

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
    /// Where jobs, templates, presets and queues are kept (`mediaconvert.db`).
    pub data: PathBuf,
    /// Jobs run at once.
    pub jobs: usize,
    /// How long a client has to send a request's headers, and then its body.
    pub read_timeout: std::time::Duration,
    /// Where job state changes are appended as EventBridge events (JSON lines).
    pub events: Option<PathBuf>,
    /// Where each event is also POSTed.
    pub webhook: Option<crate::watch::events::Webhook>,
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

/// Serves until the process is stopped.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    let s3 = S3::from_env(&opts.s3_endpoint)?;
    let work = private_work_dir(opts.work.as_deref())?;
    std::fs::create_dir_all(&opts.data)
        .with_context(|| format!("creating the data folder {}", opts.data.display()))?;
    let db = opts.data.join("mediaconvert.db");
    let store = Store::open(&db)?;
    // Every account has its Default queue.
    let created = runner::now();
    store.put(
        Kind::Queue,
        DEFAULT_QUEUE,
        &json!({ "Name": DEFAULT_QUEUE }),
        created,
        false,
    )?;
    let events = match &opts.events {
        Some(path) => Some(
            crate::watch::events::Events::open(
                path,
                opts.webhook.clone(),
                &path.with_extension("outbox.db"),
            )
            .with_context(|| format!("opening the event log {}", path.display()))?
            .with_source("aws.mediaconvert"),
        ),
        None if opts.webhook.is_some() => anyhow::bail!("--webhook needs --events FILE"),
        None => None,
    };
    let shared = Arc::new(Shared {
        store,
        s3,
        work,
        cancels: Mutex::new(Default::default()),
        wake: (Mutex::new(0), Default::default()),
        slots: opts.jobs.max(1),
        events,
        on_event: None,
    });
    runner::start(&shared);
    let addr = std::net::SocketAddr::new(opts.listen, opts.port);
    tracing::info!(%addr, s3 = %opts.s3_endpoint, db = %db.display(), "MediaConvert API");
    eprintln!(
        "mpe: MediaConvert API on http://{addr} (store {})",
        db.display()
    );
    let handler: super::http::Handler = Arc::new(move |req| api::handle(&shared, req));
    super::http::serve(addr, opts.read_timeout, handler)
}
