//! The job store: one SQLite database (WAL) whose rows mirror the DynamoDB job items the
//! cloud pipeline keeps (id, source, checksum, profile, status, attempts, times, outputs,
//! error). The schema is versioned by `PRAGMA user_version` and migrated on open.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::error::WatchError;

/// A job's state, as the cloud record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Taken in, waiting for a worker (also while waiting to be retried).
    Ingest,
    /// A worker is transcoding it.
    Processing,
    /// Published.
    Complete,
    /// Given up: a permanent failure, too many attempts, or cancelled.
    Error,
}

impl Status {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ingest => "Ingest",
            Status::Processing => "Processing",
            Status::Complete => "Complete",
            Status::Error => "Error",
        }
    }

    /// Parses a stored or typed name (case-insensitive).
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Ingest,
            Status::Processing,
            Status::Complete,
            Status::Error,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// One job record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    /// GUID.
    pub id: String,
    /// Where the source was found (its path in the watch folder).
    pub source: String,
    /// Where the source is kept while the job lives (`.mpe/jobs/<id>/<name>`), or where it
    /// was moved when the job ended (`done/`, `failed/`).
    pub source_now: String,
    /// SHA-256 of the source.
    pub checksum: String,
    /// Profile name or file.
    pub profile: String,
    /// The sidecar settings (`NAME.json`), if any, as JSON text.
    pub settings: Option<String>,
    /// State.
    pub status: Status,
    /// Attempts started.
    pub attempts: u32,
    /// Fraction done of the running attempt, 0 to 1.
    pub progress: f64,
    /// RFC 3339 times.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Start of the last attempt.
    pub started_at: Option<String>,
    /// End of the job.
    pub finished_at: Option<String>,
    /// Unix seconds before which a waiting retry is not started.
    pub not_before: f64,
    /// The published asset folder.
    pub asset_dir: Option<String>,
    /// Published files, relative to the asset folder.
    pub outputs: Vec<String>,
    /// Last error, one line.
    pub error: Option<String>,
    /// Whether the last error is permanent (bad input or profile): not retried.
    pub permanent: bool,
    /// Set by `mpe jobs cancel` on a running job; the worker stops it.
    pub cancel_requested: bool,
}

impl Job {
    /// A new job in `Ingest`, created at `now` (RFC 3339), with no sidecar settings.
    pub fn new(
        id: &str,
        source: &str,
        source_now: &str,
        checksum: &str,
        profile: &str,
        now: &str,
    ) -> Job {
        Job {
            id: id.to_string(),
            source: source.to_string(),
            source_now: source_now.to_string(),
            checksum: checksum.to_string(),
            profile: profile.to_string(),
            settings: None,
            status: Status::Ingest,
            attempts: 0,
            progress: 0.0,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            started_at: None,
            finished_at: None,
            not_before: 0.0,
            asset_dir: None,
            outputs: Vec::new(),
            error: None,
            permanent: false,
            cancel_requested: false,
        }
    }
}

/// Schema migrations; entry `i` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the job table, and the index the runner claims work by.
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        source_now TEXT NOT NULL,
        checksum TEXT NOT NULL,
        profile TEXT NOT NULL,
        settings TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        progress REAL NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        asset_dir TEXT,
        outputs TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        permanent INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL
    );
    CREATE INDEX jobs_by_status ON jobs (status, not_before, seq);",
];

/// The open store. Every call takes the one connection in turn; SQLite's WAL keeps
/// readers (`mpe jobs list` from another process) from blocking the watcher.
pub struct Store {
    conn: Mutex<Connection>,
}

/// Seconds since the Unix epoch (the scale of `Job::not_before`).
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Opens (creating) the SQLite database at `path` with the settings every mpe store
/// uses (WAL, a commit durable when it returns, a 10 s wait on a busy database), without
/// touching its schema.
pub fn connect(path: &Path) -> Result<Connection, WatchError> {
    let db = |e: rusqlite::Error| WatchError::Store {
        path: path.to_path_buf(),
        source: e,
    };
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db)?;
    // Durable at each commit: a record that says Complete must survive a power cut.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    Ok(conn)
}

/// Opens (creating) the SQLite database at `path` as every mpe store keeps it (WAL, a
/// commit durable when it returns) and migrates it: entry `i` of `migrations` takes it
/// from schema version `i` to `i + 1`, as `PRAGMA user_version` counts.
pub fn open_database(path: &Path, migrations: &[&str]) -> Result<Connection, WatchError> {
    let db = |e: rusqlite::Error| WatchError::Store {
        path: path.to_path_buf(),
        source: e,
    };
    let conn = connect(path)?;
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db)?;
    if version > migrations.len() {
        return Err(WatchError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            known: migrations.len(),
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(None, "user_version", i + 1).map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(conn)
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, WatchError> {
        Ok(Store {
            conn: Mutex::new(open_database(path, MIGRATIONS)?),
        })
    }

    /// Opens the database at `path` anew in place of the one open (the watch folder was
    /// removed and re-created, and the old file with it).
    pub fn reopen(&self, path: &Path) -> Result<(), WatchError> {
        let fresh = open_database(path, MIGRATIONS)?;
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| WatchError::Internal("job store lock poisoned".into()))?;
        *conn = fresh;
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, WatchError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| WatchError::Internal("job store lock poisoned".into()))?;
        f(&conn).map_err(|e| WatchError::Store {
            path: conn.path().unwrap_or_default().into(),
            source: e,
        })
    }

    /// Adds a new job in `Ingest`.
    pub fn insert(&self, job: &Job) -> Result<(), WatchError> {
        let outputs = serde_json::to_string(&job.outputs).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO jobs (id, source, source_now, checksum, profile, settings, status,
                    attempts, progress, created_at, updated_at, not_before, outputs, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, 0, ?10,
                    (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs))",
                params![
                    job.id,
                    job.source,
                    job.source_now,
                    job.checksum,
                    job.profile,
                    job.settings,
                    job.status.as_str(),
                    job.attempts,
                    job.created_at,
                    outputs
                ],
            )
            .map(|_| ())
        })
    }

    /// One job by id (a unique prefix of at least 4 characters is enough).
    pub fn get(&self, id: &str) -> Result<Option<Job>, WatchError> {
        let mut found = self.with(|c| {
            let mut st = c.prepare("SELECT * FROM jobs WHERE id LIKE ?1 || '%' LIMIT 2")?;
            let rows = st.query_map([id], job_from_row)?;
            rows.collect::<rusqlite::Result<Vec<Job>>>()
        })?;
        match (found.len(), id.len() >= 4) {
            (1, true) => Ok(found.pop()),
            (0, _) | (_, false) => Ok(found.into_iter().find(|j| j.id == id)),
            _ => Err(WatchError::Ambiguous { id: id.to_string() }),
        }
    }

    /// Every job (or those in `status`), oldest first.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Job>, WatchError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT * FROM jobs WHERE ?1 IS NULL OR status = ?1 ORDER BY seq")?;
            let rows = st.query_map([status.map(Status::as_str)], job_from_row)?;
            rows.collect()
        })
    }

    /// Whether a job for this source path with this checksum has completed or is still
    /// under way. Under way counts: a kept source is put back before its job is recorded
    /// Complete, and seen in between it must not become a second job.
    pub fn taken(&self, source: &str, checksum: &str) -> Result<bool, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE source = ?1 AND checksum = ?2
                    AND status != 'Error')",
                params![source, checksum],
                |r| r.get(0),
            )
        })
    }

    /// Takes the oldest job that is due, moving it to `Processing` and counting an
    /// attempt; `None` when nothing is due.
    pub fn claim(&self, now: &str) -> Result<Option<Job>, WatchError> {
        let t = now_unix();
        self.with(|c| {
            c.query_row(
                "UPDATE jobs SET status = 'Processing', attempts = attempts + 1, progress = 0,
                    started_at = ?1, updated_at = ?1
                 WHERE id = (SELECT id FROM jobs WHERE status = 'Ingest' AND not_before <= ?2
                             ORDER BY seq LIMIT 1)
                 RETURNING *",
                params![now, t],
                job_from_row,
            )
            .optional()
        })
    }

    /// Records progress of a running job; returns whether a cancel was asked for.
    pub fn progress(&self, id: &str, fraction: f64) -> Result<bool, WatchError> {
        self.with(|c| {
            c.query_row(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 RETURNING cancel_requested",
                params![id, fraction],
                |r| r.get::<_, bool>(0),
            )
        })
    }

    /// Marks a job complete.
    pub fn complete(
        &self,
        id: &str,
        now: &str,
        asset_dir: &str,
        outputs: &[String],
        source_now: &str,
    ) -> Result<(), WatchError> {
        let outputs = serde_json::to_string(outputs).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'Complete', progress = 1, finished_at = ?2,
                    updated_at = ?2, asset_dir = ?3, outputs = ?4, source_now = ?5, error = NULL
                 WHERE id = ?1",
                params![id, now, asset_dir, outputs, source_now],
            )
            .map(|_| ())
        })
    }

    /// Records a new checksum of a job's source (it changed while the job ran).
    pub fn set_checksum(&self, id: &str, checksum: &str) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET checksum = ?2 WHERE id = ?1",
                params![id, checksum],
            )
            .map(|_| ())
        })
    }

    /// Puts a failed attempt back in the queue, to start no earlier than `not_before`.
    pub fn retry_later(
        &self,
        id: &str,
        now: &str,
        error: &str,
        not_before: f64,
    ) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'Ingest', updated_at = ?2, error = ?3, not_before = ?4,
                    permanent = 0
                 WHERE id = ?1",
                params![id, now, error, not_before],
            )
            .map(|_| ())
        })
    }

    /// Gives a job up.
    pub fn fail(
        &self,
        id: &str,
        now: &str,
        error: &str,
        permanent: bool,
        source_now: &str,
    ) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'Error', updated_at = ?2, finished_at = ?2, error = ?3,
                    permanent = ?4, source_now = ?5, cancel_requested = 0
                 WHERE id = ?1",
                params![id, now, error, permanent, source_now],
            )
            .map(|_| ())
        })
    }

    /// Brings a job in `Error` back to `Ingest` with a fresh attempt count.
    pub fn requeue(&self, id: &str, now: &str, source_now: &str) -> Result<bool, WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'Ingest', attempts = 0, progress = 0, updated_at = ?2,
                    finished_at = NULL, not_before = 0, error = NULL, permanent = 0,
                    source_now = ?3
                 WHERE id = ?1 AND status = 'Error'",
                params![id, now, source_now],
            )
            .map(|n| n == 1)
        })
    }

    /// Asks a running job to stop.
    pub fn request_cancel(&self, id: &str) -> Result<bool, WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'Processing'",
                [id],
            )
            .map(|n| n == 1)
        })
    }

    /// After a crash: jobs left in `Processing` go back to `Ingest`, to be run again.
    pub fn recover(&self, now: &str) -> Result<Vec<String>, WatchError> {
        self.with(|c| {
            let mut st = c.prepare(
                "UPDATE jobs SET status = 'Ingest', updated_at = ?1, progress = 0, not_before = 0
                 WHERE status = 'Processing' RETURNING id",
            )?;
            let ids = st.query_map([now], |r| r.get(0))?;
            ids.collect()
        })
    }
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let status: String = r.get("status")?;
    let outputs: String = r.get("outputs")?;
    Ok(Job {
        id: r.get("id")?,
        source: r.get("source")?,
        source_now: r.get("source_now")?,
        checksum: r.get("checksum")?,
        profile: r.get("profile")?,
        settings: r.get("settings")?,
        status: Status::parse(&status).unwrap_or(Status::Error),
        attempts: r.get("attempts")?,
        progress: r.get("progress")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        not_before: r.get("not_before")?,
        asset_dir: r.get("asset_dir")?,
        outputs: serde_json::from_str(&outputs).unwrap_or_default(),
        error: r.get("error")?,
        permanent: r.get("permanent")?,
        cancel_requested: r.get("cancel_requested")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> Job {
        Job::new(
            id,
            &format!("/in/{id}.mp4"),
            &format!("/in/.mpe/jobs/{id}/{id}.mp4"),
            "00",
            "default",
            "2026-01-01T00:00:00Z",
        )
    }

    #[test]
    fn jobs_are_claimed_once_in_order_and_recovered_after_a_crash() {
        let dir = std::env::temp_dir().join(format!("mpe-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = Store::open(&dir.join("jobs.db")).expect("open");
        for id in ["aaaa-1", "bbbb-2", "cccc-3"] {
            store.insert(&job(id)).expect("insert");
        }
        let t = "2026-01-01T00:00:01Z";
        let first = store.claim(t).expect("claim").expect("a job");
        assert_eq!((first.id.as_str(), first.attempts), ("aaaa-1", 1));
        store
            .retry_later("aaaa-1", t, "disk full", now_unix() + 3600.0)
            .expect("retry");
        // Not due yet: the next one comes first.
        assert_eq!(store.claim(t).expect("claim").expect("job").id, "bbbb-2");
        assert_eq!(store.claim(t).expect("claim").expect("job").id, "cccc-3");
        assert!(store.claim(t).expect("claim").is_none());
        // A crash leaves two Processing; reopening the database and recovering requeues them.
        drop(store);
        let store = Store::open(&dir.join("jobs.db")).expect("reopen");
        assert_eq!(store.recover(t).expect("recover"), ["bbbb-2", "cccc-3"]);
        assert_eq!(
            store.get("bbbb").expect("get").expect("job").status,
            Status::Ingest
        );
        assert_eq!(store.list(Some(Status::Ingest)).expect("list").len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
