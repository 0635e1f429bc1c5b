//! The job table's twin: one row per upload with the DynamoDB item's fields (`id`,
//! `status`, `startedAt`, `input`, `profile`, `jobTemplate`, `executionArn`,
//! `completedAt`, `mediaConvertJobId`, `error`, `outputs`), written at the same steps as
//! the state machine and the job-state handler write the item, in `DATA/records.db`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde_json::Value;

use crate::watch::error::WatchError;

const MIGRATIONS: &[&str] = &["CREATE TABLE records (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    startedAt TEXT,
    input TEXT,
    profile TEXT,
    jobTemplate TEXT,
    executionArn TEXT,
    completedAt TEXT,
    mediaConvertJobId TEXT,
    error TEXT,
    outputs TEXT
)"];

/// The records.
pub struct Records {
    conn: Mutex<Connection>,
    path: std::path::PathBuf,
}

impl Records {
    /// Opens (creating) `path`.
    pub fn open(path: &Path) -> Result<Records, WatchError> {
        Ok(Records {
            conn: Mutex::new(crate::watch::store::open_database(path, MIGRATIONS)?),
            path: path.to_path_buf(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, WatchError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| WatchError::Internal("records lock poisoned".into()))?;
        f(&conn).map_err(|e| WatchError::Store {
            path: self.path.clone(),
            source: e,
        })
    }

    /// The state machine's PutItem before the job: SUBMITTED, with what was planned. A
    /// replayed upload keeps the record it has.
    pub fn submitted(
        &self,
        id: &str,
        input: &str,
        profile: &str,
        template: &str,
        execution: &str,
    ) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO records (id, status, startedAt, input, profile, jobTemplate, executionArn)
                 VALUES (?1, 'SUBMITTED', ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
                params![id, super::rfc3339_now(), input, profile, template, execution],
            )
            .map(|_| ())
        })
    }

    /// The failure path's update: ERROR with the reason, the record made if need be.
    pub fn rejected(&self, id: &str, input: &str, reason: &str) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO records (id, status, startedAt, input, error)
                 VALUES (?1, 'ERROR', ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET status = 'ERROR', error = excluded.error",
                params![id, super::rfc3339_now(), input, reason],
            )
            .map(|_| ())
        })
    }

    /// The job-state handler's update, from a "MediaConvert Job State Change" event line;
    /// events of jobs that are no upload's change nothing.
    pub fn job_event(&self, line: &str) -> Result<(), WatchError> {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            return Ok(());
        };
        let Ok(Some(u)) = cloud::lambda::job_state::update(&event) else {
            return Ok(());
        };
        let ended = matches!(u.status.as_str(), "COMPLETE" | "ERROR" | "CANCELED");
        self.with(|c| {
            c.execute(
                "UPDATE records SET status = ?2, mediaConvertJobId = ?3,
                    completedAt = CASE WHEN ?4 THEN ?5 ELSE completedAt END,
                    outputs = CASE WHEN ?4 THEN ?6 ELSE outputs END,
                    error = COALESCE(?7, error)
                 WHERE id = ?1",
                params![
                    u.id,
                    u.status,
                    u.mediaconvert_job_id,
                    ended,
                    u.at,
                    serde_json::to_string(&u.outputs).unwrap_or_default(),
                    u.error
                ],
            )
            .map(|_| ())
        })
    }
}
