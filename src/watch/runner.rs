//! The watcher: takes finished sources from the watch folder into jobs, runs up to N at
//! once through the engine, retries transient failures with backoff and jitter, moves
//! sources to `done/` or `failed/`, and reports every state change.
//!
//! Folder layout (all inside the watch folder `IN`, which is watched non-recursively):
//! `.mpe/jobs.db` (the store), `.mpe/events.jsonl` (the event log), `.mpe/jobs/<id>/`
//! (a taken source while its job lives), `done/`, `failed/` (with `<name>.error.json`).
//! Assets are published to `OUT/<id>/<base name>/`, so two sources with the same name
//! never overwrite each other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::metadata::now_rfc3339;
use notify::{EventKind, RecursiveMode, Watcher};
use profiles::naming::{streaming_groups, Group, Layout};
use profiles::Profile;
use serde_json::{json, Value};

use super::error::WatchError;
use super::events::{Change, Events, GroupDetail, OutputDetail};
use super::ingest::{self, Candidates};
use super::store::{now_unix, Job, Status, Store};

/// How the watcher runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The watch folder.
    pub input: PathBuf,
    /// Where assets are published (`OUT/<job id>/<name>/`).
    pub output: PathBuf,
    /// The profile for sources without a sidecar that names one.
    pub profile: String,
    /// Jobs run at once.
    pub jobs: usize,
    /// How long a file must hold still (and be closed) before it is taken.
    pub settle: Duration,
    /// Accepted extensions, lower case, without the dot.
    pub extensions: Vec<String>,
    /// Attempts before a transiently failing job is given up.
    pub max_attempts: u32,
    /// First retry delay; doubled at each attempt, with up to 50% jitter.
    pub retry_base: Duration,
    /// Events are POSTed here too (through the outbox in the job store).
    pub webhook: Option<super::events::Webhook>,
    /// Cores shared by all jobs' encoders (default: all available).
    pub cores: Option<usize>,
    /// Whether rungs are encoded in chunks on parallel encoders.
    pub chunks: engine::Chunks,
    /// Bytes of raw frames each job's chunk encoders may queue.
    pub chunk_memory: Option<u64>,
    /// Put processed sources back where they were dropped instead of into `done/`; a
    /// source whose path and checksum match a completed job (or one under way) is then
    /// not taken again.
    pub keep_sources: bool,
    /// Poll the folder every second rather than use the OS's file notifications.
    pub poll: bool,
    /// A file that changed less than this long ago and does not read as complete media
    /// is still being written (by a writer that closes and reopens it to append): it is
    /// not taken yet.
    pub wait_incomplete: Duration,
}

/// The watch folder's own paths.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `IN/.mpe`.
    pub state: PathBuf,
    /// `IN/.mpe/jobs.db`.
    pub db: PathBuf,
    /// `IN/.mpe/events.jsonl`.
    pub events: PathBuf,
    /// `IN/.mpe/jobs`.
    pub jobs: PathBuf,
    /// `IN/done`.
    pub done: PathBuf,
    /// `IN/failed`.
    pub failed: PathBuf,
}

impl Paths {
    /// The paths of watch folder `input`.
    pub fn new(input: &Path) -> Paths {
        let state = input.join(".mpe");
        Paths {
            db: state.join("jobs.db"),
            events: state.join("events.jsonl"),
            jobs: state.join("jobs"),
            done: input.join("done"),
            failed: input.join("failed"),
            state,
        }
    }

    /// Creates the folders.
    pub fn create(&self) -> Result<(), WatchError> {
        for d in [&self.state, &self.jobs, &self.done, &self.failed] {
            std::fs::create_dir_all(d).map_err(WatchError::io(d))?;
        }
        Ok(())
    }
}

/// Runs until `stop` is set: then no new job starts and running ones finish. Setting
/// `abort` as well stops running jobs at once; they go back to the queue.
pub fn watch(
    opts: &WatchOptions,
    stop: &AtomicBool,
    abort: &Arc<AtomicBool>,
) -> Result<(), WatchError> {
    // A bad default profile is the user's mistake, said once at start, not per job.
    Profile::load(&opts.profile).map_err(|e| WatchError::WrongState {
        id: "-".into(),
        reason: e.to_string(),
    })?;
    let paths = Paths::new(&opts.input);
    // OUT is created by each job (an unwritable OUT is a transient failure of the jobs,
    // retried, not a reason to stop watching).
    paths.create()?;
    let mut _lock = lock_folder(&opts.input, &paths)?;
    let store = Store::open(&paths.db)?;
    let events = Events::open(&paths.events, opts.webhook.clone(), &paths.db)?;
    let ctx = Context {
        opts,
        paths: &paths,
        store: &store,
        events: &events,
        abort,
    };
    for id in store.recover(&now_rfc3339())? {
        tracing::info!(job = %id, "interrupted job goes back to the queue");
    }
    ctx.adopt_orphans()?;

    let (tx, rx) = std::sync::mpsc::channel();
    let mut _watcher = watch_folder(&opts.input, opts.poll, tx.clone())?;
    let mut folder = folder_identity(&opts.input);
    let mut last_check = Instant::now();
    let mut candidates = Candidates::new(opts.settle, opts.extensions.clone());
    candidates
        .scan(&opts.input)
        .map_err(WatchError::io(&opts.input))?;
    tracing::info!(input = %opts.input.display(), output = %opts.output.display(), jobs = opts.jobs, "watching");

    let mut last_scan = Instant::now();
    std::thread::scope(|scope| -> Result<(), WatchError> {
        let ctx = &ctx;
        let mut workers = Vec::new();
        for n in 0..opts.jobs.max(1) {
            let h = std::thread::Builder::new()
                .name(format!("job-worker-{n}"))
                .spawn_scoped(scope, move || ctx.work(stop))
                .map_err(|e| WatchError::Internal(format!("cannot start a worker: {e}")))?;
            workers.push(h);
        }
        while !stop.load(Ordering::Relaxed) {
            let mut closed = Vec::new();
            if let Ok(first) = rx.recv_timeout(Duration::from_millis(100)) {
                for res in std::iter::once(first).chain(rx.try_iter()) {
                    let Ok(ev) = res else { continue };
                    // A writer closing the file, or a file renamed into the folder (the
                    // way a finished upload is dropped): either may be taken at once,
                    // once it reads as complete media.
                    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
                    let is_close = matches!(
                        ev.kind,
                        EventKind::Access(AccessKind::Close(AccessMode::Write))
                            | EventKind::Modify(ModifyKind::Name(
                                RenameMode::To | RenameMode::Both
                            ))
                    );
                    // Opening and reading (our own checksums of kept sources among
                    // them) changes nothing: noting those would re-read a kept file
                    // for ever, and could time a read against someone's next write.
                    if matches!(ev.kind, EventKind::Access(_)) && !is_close {
                        continue;
                    }
                    for p in &ev.paths {
                        candidates.note(p);
                        if is_close {
                            closed.push(p.clone());
                        }
                    }
                }
            }
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                let now = folder_identity(&opts.input);
                if now != folder {
                    match now {
                        None => {
                            tracing::warn!(input = %opts.input.display(), "the watch folder is gone; watching for it to come back")
                        }
                        Some(_) => {
                            // Made again (or another folder moved into its place): its own
                            // state, lock and notifications, and whatever is in it.
                            tracing::warn!(input = %opts.input.display(), "the watch folder was re-created; watching it again");
                            paths.create()?;
                            drop(_lock);
                            _lock = lock_folder(&opts.input, &paths)?;
                            store.reopen(&paths.db)?;
                            events.reopen()?;
                            _watcher = watch_folder(&opts.input, opts.poll, tx.clone())?;
                            last_scan = Instant::now() - RESCAN;
                        }
                    }
                    folder = now;
                }
            }
            if folder.is_some() && last_scan.elapsed() >= RESCAN {
                // A safety net: notifications can be missed (a full event queue, a folder
                // on a network mount written from elsewhere).
                last_scan = Instant::now();
                if let Err(e) = candidates.scan(&opts.input) {
                    tracing::warn!(input = %opts.input.display(), error = %e, "cannot list the watch folder");
                }
            }
            for path in candidates.ready(&closed) {
                if ctx.still_writing(&path) {
                    candidates.wait(&path);
                    continue;
                }
                match ctx.take(&path) {
                    Ok(Taken::Yes) => {}
                    Ok(Taken::ChangedWhileRead) => candidates.wait(&path),
                    Err(e) => {
                        tracing::error!(source = %path.display(), error = %format!("{:#}", anyhow::Error::new(e)), "not taken");
                        candidates.refuse(&path);
                    }
                }
            }
        }
        tracing::info!("stopping: no new jobs; waiting for running ones");
        for w in workers {
            if let Ok(Err(e)) = w.join() {
                tracing::error!(error = %e, "worker failed");
            }
        }
        Ok(())
    })
}

/// The watch folder's device and inode: what tells that it was removed and made again.
fn folder_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

/// How often the folder is listed besides its notifications.
const RESCAN: Duration = Duration::from_secs(10);

/// Watches `input` with the OS's notifications, or by polling it every second: when
/// asked (`poll`), or where notifications cannot be had (the per-user inotify instance
/// or watch limit reached), said once as a warning. A watch folder that stopped taking
/// files because other programs hold the inotify instances would leave uploads unseen.
fn watch_folder(
    input: &Path,
    poll: bool,
    tx: std::sync::mpsc::Sender<notify::Result<notify::Event>>,
) -> Result<Box<dyn Watcher>, WatchError> {
    if !poll {
        let native = notify::recommended_watcher(tx.clone()).and_then(|mut w| {
            w.watch(input, RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match native {
            Ok(w) => return Ok(Box::new(w)),
            Err(e) => {
                tracing::warn!(input = %input.display(), error = %e, "file notifications unavailable; polling the folder every second")
            }
        }
    }
    let config = notify::Config::default().with_poll_interval(Duration::from_secs(1));
    let mut poll = notify::PollWatcher::new(tx, config).map_err(|e| WatchError::Notify {
        path: input.to_path_buf(),
        source: e,
    })?;
    poll.watch(input, RecursiveMode::NonRecursive)
        .map_err(|e| WatchError::Notify {
            path: input.to_path_buf(),
            source: e,
        })?;
    Ok(Box::new(poll))
}

struct Context<'a> {
    opts: &'a WatchOptions,
    paths: &'a Paths,
    store: &'a Store,
    events: &'a Events,
    abort: &'a Arc<AtomicBool>,
}

/// A sidecar `NAME.json` beside a source: per-asset overrides. A symbolic link of that
/// name counts too (it is refused when read, not silently ignored).
fn sidecar_of(source: &Path) -> Option<PathBuf> {
    let stem = source.file_stem()?;
    let side = source.with_file_name(format!("{}.json", stem.to_string_lossy()));
    std::fs::symlink_metadata(&side).is_ok().then_some(side)
}

/// The largest sidecar read: settings, not media.
const MAX_SIDECAR_BYTES: u64 = 1 << 20;

/// Reads a sidecar: a regular file (not a symbolic link, FIFO or device: a link could
/// hand another user's file to the job store) of at most [`MAX_SIDECAR_BYTES`].
fn read_sidecar(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "sidecar {}: a symbolic link; sidecars must be regular files",
            path.display()
        ));
    }
    if !meta.is_file() {
        return Err(format!("sidecar {}: not a regular file", path.display()));
    }
    if meta.len() > MAX_SIDECAR_BYTES {
        return Err(format!(
            "sidecar {}: {} bytes, more than the {MAX_SIDECAR_BYTES} a sidecar may have",
            path.display(),
            meta.len()
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SIDECAR_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("sidecar {}: {e}", path.display()))?;
    Ok(text)
}

/// JSON merge patch (RFC 7396): objects merge member by member, `null` removes a member,
/// anything else replaces what was there.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(&k);
            } else {
                merge_patch(t.entry(k).or_insert(Value::Null), v);
            }
        }
    }
}

/// Holds `IN/.mpe/watch.lock` for as long as the watcher runs (the OS releases it when
/// the process dies, even by kill -9): a second watcher on the folder would re-queue the
/// first one's running jobs as interrupted.
fn lock_folder(input: &Path, paths: &Paths) -> Result<std::fs::File, WatchError> {
    use std::io::{Read, Seek, Write};
    let path = paths.state.join("watch.lock");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(WatchError::io(&path))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            return Err(WatchError::WrongState {
                id: "-".into(),
                reason: format!(
                    "{}: watched already by mpe (pid {}, holding {})",
                    input.display(),
                    pid.trim(),
                    path.display()
                ),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(WatchError::io(&path)(e)),
    }
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| writeln!(f, "{}", std::process::id()))
        .map_err(WatchError::io(&path))?;
    Ok(f)
}

/// A source's size and mtime: what says it changed.
fn stamp(path: &Path) -> Option<(u64, Option<std::time::SystemTime>)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

impl Context<'_> {
    /// Whether a file that has just held still is, for all we can tell, still being
    /// written: it changed less than `wait_incomplete` ago and does not read as complete
    /// media (an MP4 without its index yet, or with data short of what it declares).
    /// Taking it would split the upload into two broken jobs; it is looked at again when
    /// it has held still once more, and taken anyway (to fail) once it has been still for
    /// `wait_incomplete`.
    fn still_writing(&self, path: &Path) -> bool {
        let recent = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map(|t| {
                t.elapsed()
                    .map_or(true, |age| age < self.opts.wait_incomplete)
            })
            .unwrap_or(false);
        if !recent {
            return false;
        }
        match engine::probe::complete(path) {
            Ok(()) => false,
            Err(e) if e.is_permanent() => {
                tracing::debug!(source = %path.display(), reason = %e, "not complete yet; waiting for more");
                true
            }
            // Unreadable for now: the job says so, and retries.
            Err(_) => false,
        }
    }

    /// Turns a complete source into a job: moves it (and its sidecar) into
    /// `.mpe/jobs/<id>/`, then records it. A crash in between is repaired at start by
    /// [`Context::adopt_orphans`].
    fn take(&self, path: &Path) -> Result<Taken, WatchError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| WatchError::Internal("source without a name".into()))?;
        // With kept sources the checksum decides whether the file is new; it is then
        // recorded as is rather than computed again.
        let mut checksum = None;
        if self.opts.keep_sources {
            // A kept file can be written over at any time: a sum of half old, half new
            // bytes would match neither, and make one change two jobs.
            let before = stamp(path);
            let sum = checksum_of(path)?;
            if stamp(path) != before || ingest::open_for_writing(path) {
                tracing::debug!(source = %path.display(), "changed while it was read; waiting for it to hold still");
                return Ok(Taken::ChangedWhileRead);
            }
            if self.store.taken(&path.to_string_lossy(), &sum)? {
                tracing::debug!(source = %path.display(), "already processed; kept in place");
                return Ok(Taken::Yes);
            }
            checksum = Some(sum);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.paths.jobs.join(&id);
        std::fs::create_dir_all(&dir).map_err(WatchError::io(&dir))?;
        let side = sidecar_of(path);
        let staged = dir.join(&name);
        if let Err(e) = std::fs::rename(path, &staged) {
            // Vanished (or moved) since it was found: no job, and no empty job folder.
            let _ = std::fs::remove_dir(&dir);
            return Err(WatchError::io(path)(e));
        }
        if let Some(side) = &side {
            let to = dir.join("sidecar.json");
            std::fs::rename(side, &to).map_err(WatchError::io(side))?;
        }
        std::fs::write(dir.join("origin"), path.to_string_lossy().as_bytes())
            .map_err(WatchError::io(&dir))?;
        self.record(&id, &path.to_string_lossy(), &staged, checksum)?;
        Ok(Taken::Yes)
    }

    /// Records a job for a source already moved to `staged` (`checksum`: when known).
    fn record(
        &self,
        id: &str,
        source: &str,
        staged: &Path,
        checksum: Option<String>,
    ) -> Result<(), WatchError> {
        let checksum = match checksum {
            Some(c) => c,
            None => checksum_of(staged)?,
        };
        let side = staged
            .parent()
            .map(|d| d.join("sidecar.json"))
            .filter(|p| std::fs::symlink_metadata(p).is_ok());
        let (settings, refused) = match side.as_deref().map(read_sidecar) {
            None => (None, None),
            Some(Ok(text)) => (Some(text), None),
            Some(Err(why)) => (None, Some(why)),
        };
        let profile = settings
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|v| v["profile"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.opts.profile.clone());
        let job = Job {
            settings,
            ..Job::new(
                id,
                source,
                &staged.to_string_lossy(),
                &checksum,
                &profile,
                &now_rfc3339(),
            )
        };
        // The event goes first: once the record is in the store a worker may take the job
        // and log PROGRESSING, which must not come before SUBMITTED.
        self.emit(&job, "SUBMITTED", &[], None)?;
        if let Some(why) = refused {
            // Recorded as given up at once: no worker may run it with the default profile.
            let job = Job {
                status: Status::Error,
                ..job
            };
            self.store.insert(&job)?;
            // Named where the user put it, not where the job keeps it.
            let kept = staged.with_file_name("sidecar.json");
            let dropped = Path::new(source).with_extension("json");
            let why = why.replace(&*kept.to_string_lossy(), &dropped.to_string_lossy());
            return self.give_up(&job, &why, true);
        }
        self.store.insert(&job)?;
        tracing::info!(job = %id, source = %source, "Ingest");
        Ok(())
    }

    /// Sources moved into `.mpe/jobs/<id>/` by a run that died before recording them.
    fn adopt_orphans(&self) -> Result<(), WatchError> {
        let dirs = std::fs::read_dir(&self.paths.jobs).map_err(WatchError::io(&self.paths.jobs))?;
        for d in dirs.flatten() {
            let id = d.file_name().to_string_lossy().to_string();
            if self.store.get(&id)?.is_some_and(|j| j.id == id) {
                continue;
            }
            let origin = std::fs::read_to_string(d.path().join("origin")).ok();
            let source = std::fs::read_dir(d.path())
                .map_err(WatchError::io(d.path()))?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n != "origin" && n != "sidecar.json")
                });
            match source {
                Some(staged) => {
                    let origin = origin.unwrap_or_else(|| staged.to_string_lossy().to_string());
                    tracing::info!(job = %id, "adopting a source taken before a crash");
                    self.record(&id, &origin, &staged, None)?;
                }
                // Killed between making the folder and moving the source in: the source
                // is still in the watch folder and is taken afresh, so the folder goes.
                None => {
                    tracing::debug!(job = %id, "removing a job folder a crash left empty");
                    let _ = std::fs::remove_file(d.path().join("origin"));
                    let _ = std::fs::remove_dir(d.path());
                }
            }
        }
        Ok(())
    }

    /// A worker: runs due jobs until `stop`.
    fn work(&self, stop: &AtomicBool) -> Result<(), WatchError> {
        while !stop.load(Ordering::Relaxed) {
            match self.store.claim(&now_rfc3339())? {
                Some(job) => self.run(job)?,
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        Ok(())
    }

    fn run(&self, job: Job) -> Result<(), WatchError> {
        tracing::info!(job = %job.id, attempt = job.attempts, "Processing");
        self.emit(&job, "PROGRESSING", &[], None)?;
        let staged = PathBuf::from(&job.source_now);
        let out = self.opts.output.join(&job.id);
        let layout = Layout::for_source(&staged.to_string_lossy());
        let asset = out.join(layout.base());
        let profile = match self.profile_of(&job) {
            Ok(p) => p,
            Err(e) => return self.give_up(&job, &e, true),
        };
        if asset.join(profiles::naming::METADATA).is_file() {
            // Published by an attempt that died before recording it: a published asset is
            // complete by construction (written last, moved in by one rename).
            tracing::info!(job = %job.id, "asset already published; recording it");
            return self.finish(&job, &profile, &asset, None);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let cores = self.opts.cores.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let topts = engine::TranscodeOptions {
            source: staged.clone(),
            output: out,
            asset_name: None,
            profile: profile.clone(),
            force: false,
            // All jobs' encoders together stay within the machine's cores.
            threads: Some((cores / self.opts.jobs.max(1)).max(1)),
            chunks: self.opts.chunks,
            chunk_memory: self.opts.chunk_memory,
            cancel: Some(cancel.clone()),
            rotation: None,
            clip: None,
            joined: Vec::new(),
        };
        let before = stamp(&staged);
        let mut last = Instant::now();
        let result = engine::transcode(&topts, &mut |p| {
            if self.abort.load(Ordering::Relaxed) {
                cancel.store(true, Ordering::Relaxed);
            }
            if last.elapsed() >= Duration::from_millis(500) {
                last = Instant::now();
                if let Ok(true) = self.store.progress(&job.id, p.fraction()) {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        });
        if stamp(&staged) != before && !matches!(result, Err(engine::Error::Cancelled)) {
            // Written to while it ran (a writer that kept it open): what was made is of
            // part of it. The asset goes, and the job runs again on the whole file.
            if let Ok(report) = &result {
                let _ = std::fs::remove_dir_all(&report.asset_dir);
            }
            self.store.set_checksum(&job.id, &checksum_of(&staged)?)?;
            let message =
                "the source changed while it was transcoded; running it again once it holds still";
            tracing::warn!(job = %job.id, "{message}");
            let not_before =
                now_unix() + self.opts.settle.max(Duration::from_secs(1)).as_secs_f64();
            self.emit(&job, "SUBMITTED", &[], Some((message, 1999)))?;
            return self
                .store
                .retry_later(&job.id, &now_rfc3339(), message, not_before);
        }
        match result {
            Ok(report) => self.finish(&job, &profile, &report.asset_dir, Some(&report)),
            Err(engine::Error::Cancelled) if self.abort.load(Ordering::Relaxed) => {
                tracing::info!(job = %job.id, "abandoned at shutdown; back to the queue");
                self.store
                    .retry_later(&job.id, &now_rfc3339(), "interrupted by shutdown", 0.0)?;
                Ok(())
            }
            Err(engine::Error::Cancelled) => {
                self.give_up(&job, "cancelled by `mpe jobs cancel`", true)
            }
            Err(e) => {
                let permanent = e.is_permanent();
                // Name the source where the user put it, not where the job keeps it.
                let message =
                    format!("{:#}", anyhow::Error::new(e)).replace(&job.source_now, &job.source);
                if permanent || job.attempts >= self.opts.max_attempts {
                    self.give_up(&job, &message, permanent)
                } else {
                    let delay = backoff(self.opts.retry_base, job.attempts);
                    tracing::warn!(job = %job.id, attempt = job.attempts, error = %message, retry_in = ?delay, "transient failure");
                    let not_before = now_unix() + delay.as_secs_f64();
                    // Logged before the job becomes runnable again (see `record`).
                    self.emit(&job, "SUBMITTED", &[], Some((&message, 1999)))?;
                    self.store
                        .retry_later(&job.id, &now_rfc3339(), &message, not_before)
                }
            }
        }
    }

    /// The job's profile: its own (sidecar `profile`) or the default, with the sidecar's
    /// other top-level sections (thumbnails, preview, outputs...) laid over it.
    fn profile_of(&self, job: &Job) -> Result<Profile, String> {
        let base = Profile::load(&job.profile).map_err(|e| e.to_string())?;
        let Some(text) = &job.settings else {
            return Ok(base);
        };
        let origin = format!("{} (with sidecar)", job.profile);
        let side: Value =
            serde_json::from_str(text).map_err(|e| format!("sidecar of {}: {e}", job.source))?;
        let Value::Object(side) = side else {
            return Err(format!("sidecar of {}: not a JSON object", job.source));
        };
        let mut merged = serde_json::to_value(&base).map_err(|e| e.to_string())?;
        let mut patch = side;
        patch.remove("profile");
        patch.remove("user_metadata");
        merge_patch(&mut merged, Value::Object(patch));
        Profile::from_json(&merged.to_string(), &origin).map_err(|e| e.to_string())
    }

    fn finish(
        &self,
        job: &Job,
        profile: &Profile,
        asset: &Path,
        report: Option<&engine::TranscodeReport>,
    ) -> Result<(), WatchError> {
        let files = list_relative(asset)?;
        let source_now = match self.opts.keep_sources {
            true => self.put_back(job)?,
            false => self.park(job, &self.paths.done)?,
        };
        let groups = report
            .map(|r| {
                group_details(profile, r, &|rel| {
                    asset.join(rel).to_string_lossy().to_string()
                })
            })
            .unwrap_or_default();
        // The event before the record: killed in between, the job is run again (its asset
        // found published) and COMPLETE said twice, rather than recorded and never said.
        self.emit(job, "COMPLETE", &groups, None)?;
        self.store.complete(
            &job.id,
            &now_rfc3339(),
            &asset.to_string_lossy(),
            &files,
            &source_now.to_string_lossy(),
        )?;
        tracing::info!(job = %job.id, asset = %asset.display(), "Complete");
        Ok(())
    }

    /// Ends a job in `Error`: the source goes to `failed/` with an error JSON beside it.
    fn give_up(&self, job: &Job, message: &str, permanent: bool) -> Result<(), WatchError> {
        let parked = self.park(job, &self.paths.failed)?;
        error_note(&parked, job, message, permanent)?;
        // Said before it is recorded, as COMPLETE is (see `finish`).
        self.emit(
            job,
            "ERROR",
            &[],
            Some((message, if permanent { 1010 } else { 1999 })),
        )?;
        self.store.fail(
            &job.id,
            &now_rfc3339(),
            message,
            permanent,
            &parked.to_string_lossy(),
        )?;
        tracing::warn!(job = %job.id, error = %message, permanent, "Error");
        Ok(())
    }

    fn park(&self, job: &Job, dir: &Path) -> Result<PathBuf, WatchError> {
        park(&self.paths.jobs, job, dir)
    }

    /// With `keep_sources`: the source (and sidecar) return to where they were dropped,
    /// unless something new took that name meanwhile (then they go to `done/`).
    fn put_back(&self, job: &Job) -> Result<PathBuf, WatchError> {
        let origin = PathBuf::from(&job.source);
        if origin.exists() {
            return self.park(job, &self.paths.done);
        }
        let dir = origin.parent().unwrap_or(&self.opts.input).to_path_buf();
        self.park(job, &dir)
    }

    fn emit(
        &self,
        job: &Job,
        status: &'static str,
        groups: &[GroupDetail],
        error: Option<(&str, i64)>,
    ) -> Result<(), WatchError> {
        emit(self.events, job, status, groups, error)
    }
}

/// Moves a job's source from `jobs/<id>/` into `dir` (never over another file), with its
/// sidecar, and removes the emptied job folder; returns where the source went.
fn park(jobs: &Path, job: &Job, dir: &Path) -> Result<PathBuf, WatchError> {
    let staged = PathBuf::from(&job.source_now);
    let name = staged
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| job.id.clone());
    let mut to = dir.join(&name);
    if to.exists() {
        to = dir.join(format!("{}-{name}", &job.id[..8.min(job.id.len())]));
    }
    if staged.exists() {
        std::fs::rename(&staged, &to).map_err(WatchError::io(&staged))?;
    }
    let side = staged.with_file_name("sidecar.json");
    // A refused sidecar may be a dangling link: it moves all the same.
    if std::fs::symlink_metadata(&side).is_ok() {
        let stem = to
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let side_to = to.with_file_name(format!("{stem}.json"));
        std::fs::rename(&side, &side_to).map_err(WatchError::io(&side))?;
    }
    // The job's folder held only the source, its sidecar and a note of where it came
    // from (kept in the record): once they have moved on, it goes.
    if let Some(dir) = staged.parent().filter(|d| d.starts_with(jobs)) {
        let _ = std::fs::remove_file(dir.join("origin"));
        let _ = std::fs::remove_dir(dir);
    }
    Ok(to)
}

/// What [`Context::take`] did with a ready file.
enum Taken {
    /// Made a job of it, or found it already processed.
    Yes,
    /// It changed while its checksum was read: it waits out the settle time again.
    ChangedWhileRead,
}

fn checksum_of(path: &Path) -> Result<String, WatchError> {
    engine::metadata::sha256_file(path)
        .map_err(|e| WatchError::Internal(format!("checksum of {}: {e}", path.display())))
}

/// Reports a job's state change, with its user metadata (source, profile, attempt,
/// checksum and the sidecar's `user_metadata`).
fn emit(
    events: &Events,
    job: &Job,
    status: &'static str,
    groups: &[GroupDetail],
    error: Option<(&str, i64)>,
) -> Result<(), WatchError> {
    let mut meta = json!({
        "source": job.source,
        "profile": job.profile,
        "attempt": job.attempts.to_string(),
        "checksum": job.checksum,
    });
    if let Some(extra) = job
        .settings
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v.get("user_metadata").cloned())
        .and_then(|v| v.as_object().cloned())
    {
        for (k, v) in extra {
            meta[k] = v;
        }
    }
    events.emit(&Change {
        job_id: &job.id,
        status,
        user_metadata: meta,
        groups,
        error,
        progress: None,
    })
}

/// Writes `<parked>.error.json` beside a source that has gone to `failed/`.
fn error_note(parked: &Path, job: &Job, message: &str, permanent: bool) -> Result<(), WatchError> {
    let note = parked.with_file_name(format!(
        "{}.error.json",
        parked.file_name().unwrap_or_default().to_string_lossy()
    ));
    let body = json!({
        "jobId": job.id,
        "source": job.source,
        "checksum": job.checksum,
        "profile": job.profile,
        "attempts": job.attempts,
        "permanent": permanent,
        "errorMessage": message,
        "time": now_rfc3339(),
    });
    std::fs::write(&note, format!("{body:#}\n")).map_err(WatchError::io(&note))
}

/// `base x 2^(attempt-1)`, plus up to half of it again at random, so that jobs failing
/// together do not retry together.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let d = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let r = uuid::Uuid::new_v4().as_u128() as u64 as f64 / u64::MAX as f64;
    d.mul_f64(1.0 + 0.5 * r)
}

/// Files under `root`, relative, sorted.
fn list_relative(root: &Path) -> Result<Vec<String>, WatchError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .map_err(WatchError::io(&dir))?
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The COMPLETE event's outputGroupDetails, as MediaConvert fills them per group type;
/// `locate` turns a path in the asset into the one the event gives (a local path, an S3
/// URI).
pub(crate) fn group_details(
    profile: &Profile,
    report: &engine::TranscodeReport,
    locate: &dyn Fn(String) -> String,
) -> Vec<GroupDetail> {
    let plan = &report.plan;
    let layout = Layout::for_source(&report.media.path);
    let abs = locate;
    let ms = (plan.duration * 1000.0).round() as u64;
    let mut groups = Vec::new();
    for (group, dest) in streaming_groups(profile) {
        let mut outputs: Vec<OutputDetail> = plan
            .renditions
            .iter()
            .map(|r| OutputDetail {
                // Only the HLS group reports its outputs' files (their variant playlists).
                files: if group == Group::Hls {
                    vec![abs(layout.child_playlist(dest, &r.name))]
                } else {
                    Vec::new()
                },
                duration_ms: ms,
                size: Some((r.width, r.height)),
            })
            .collect();
        if group.separate_audio() {
            // One entry per audio-only output, in the job's order.
            outputs.extend(plan.separate_audio().iter().map(|_| OutputDetail {
                files: Vec::new(),
                duration_ms: ms,
                size: None,
            }));
        }
        let (kind, playlists) = match group {
            Group::Cmaf => (
                "CMAF_GROUP",
                vec![abs(layout.mpd(dest)), abs(layout.master_playlist(dest))],
            ),
            Group::Hls => ("HLS_GROUP", vec![abs(layout.master_playlist(dest))]),
            Group::Dash => ("DASH_ISO_GROUP", vec![abs(layout.mpd(dest))]),
        };
        groups.push(GroupDetail {
            kind,
            outputs,
            playlists,
        });
    }
    if let Some(f) = &profile.outputs.file {
        let outputs = plan
            .renditions
            .iter()
            .filter(|r| plan.file_renditions.contains(&r.name))
            .map(|r| OutputDetail {
                files: vec![abs(layout.file_output(&f.destination, &r.name))],
                duration_ms: ms,
                size: Some((r.width, r.height)),
            })
            .collect();
        groups.push(GroupDetail {
            kind: "FILE_GROUP",
            outputs,
            playlists: Vec::new(),
        });
    }
    if let (Some(t), Some(pt)) = (&profile.thumbnails, &plan.thumbnails) {
        // Frame capture: MediaConvert reports the last image only.
        if let Some(last) = pt.times.len().checked_sub(1) {
            groups.push(GroupDetail {
                kind: "FILE_GROUP",
                outputs: vec![OutputDetail {
                    files: vec![abs(layout.thumbnail(&t.destination, last, pt.format))],
                    duration_ms: ms,
                    size: Some((pt.width, pt.height)),
                }],
                playlists: Vec::new(),
            });
        }
    }
    groups
}

/// Lists, retries and cancels jobs of a watch folder (what `mpe jobs` does).
pub struct Jobs {
    paths: Paths,
    store: Store,
    events: Events,
}

impl Jobs {
    /// Opens the job store of watch folder `input`.
    pub fn open(input: &Path) -> Result<Jobs, WatchError> {
        let paths = Paths::new(input);
        if !paths.db.is_file() {
            return Err(WatchError::Io {
                path: paths.db.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no job store here (is this the folder `mpe watch` watches?)",
                ),
            });
        }
        let store = Store::open(&paths.db)?;
        // State changes made here are logged like the watcher's (the webhook is the
        // watcher's to call).
        let events = Events::open(&paths.events, None, &paths.db)?;
        Ok(Jobs {
            paths,
            store,
            events,
        })
    }

    /// Every job, or those in `status`.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Job>, WatchError> {
        self.store.list(status)
    }

    /// One job.
    pub fn show(&self, id: &str) -> Result<Job, WatchError> {
        self.store
            .get(id)?
            .ok_or_else(|| WatchError::NoSuchJob { id: id.to_string() })
    }

    /// Brings a job in `Error` back: its source returns from `failed/` to the job's folder
    /// and the job is queued with a fresh attempt count.
    pub fn retry(&self, id: &str) -> Result<Job, WatchError> {
        let job = self.show(id)?;
        if job.status != Status::Error {
            return Err(WatchError::WrongState {
                id: job.id,
                reason: format!(
                    "is {}, only jobs in Error can be retried",
                    job.status.as_str()
                ),
            });
        }
        let dir = self.paths.jobs.join(&job.id);
        std::fs::create_dir_all(&dir).map_err(WatchError::io(&dir))?;
        let parked = PathBuf::from(&job.source_now);
        let name = Path::new(&job.source)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "source".into());
        let staged = dir.join(name);
        if parked.exists() && parked != staged {
            std::fs::rename(&parked, &staged).map_err(WatchError::io(&parked))?;
            // The error note goes with it, as history (nothing is deleted).
            let note = PathBuf::from(format!("{}.error.json", parked.display()));
            if note.exists() {
                let _ = std::fs::rename(&note, dir.join("previous.error.json"));
            }
        }
        // Logged before the job is runnable, so a watcher's PROGRESSING comes after it;
        // the record it describes is the requeued one (attempts start again).
        let requeued = Job {
            attempts: 0,
            ..job.clone()
        };
        emit(&self.events, &requeued, "SUBMITTED", &[], None)?;
        self.store
            .requeue(&job.id, &now_rfc3339(), &staged.to_string_lossy())?;
        self.show(&job.id)
    }

    /// Retries every job in `Error`; returns their ids.
    pub fn retry_failed(&self) -> Result<Vec<String>, WatchError> {
        let mut ids = Vec::new();
        for j in self.store.list(Some(Status::Error))? {
            self.retry(&j.id)?;
            ids.push(j.id);
        }
        Ok(ids)
    }

    /// Cancels a job: a waiting one ends in `Error` at once (its source to `failed/`), a
    /// running one is stopped by its worker.
    pub fn cancel(&self, id: &str) -> Result<Job, WatchError> {
        let job = self.show(id)?;
        match job.status {
            Status::Processing => {
                self.store.request_cancel(&job.id)?;
            }
            Status::Ingest => {
                std::fs::create_dir_all(&self.paths.failed)
                    .map_err(WatchError::io(&self.paths.failed))?;
                let to = park(&self.paths.jobs, &job, &self.paths.failed)?;
                let message = "cancelled by `mpe jobs cancel`";
                error_note(&to, &job, message, true)?;
                self.store.fail(
                    &job.id,
                    &now_rfc3339(),
                    message,
                    true,
                    &to.to_string_lossy(),
                )?;
                emit(&self.events, &job, "ERROR", &[], Some((message, 1999)))?;
            }
            Status::Complete | Status::Error => {
                return Err(WatchError::WrongState {
                    id: job.id,
                    reason: format!("is {}, nothing to cancel", job.status.as_str()),
                })
            }
        }
        self.show(&job.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The RFC's own appendix A cases, a few of them.
        for (target, patch, result) in [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ] {
            let mut t = target.clone();
            merge_patch(&mut t, patch.clone());
            assert_eq!(t, result, "{target} + {patch}");
        }
    }
}
