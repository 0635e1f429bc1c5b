//! The status table's twin: one record per file name (the DynamoDB item keyed by
//! `FileName`) in `DATA/status.db`, moved along as the upload, the workflow and the job
//! go, each change also appended to `DATA/status.jsonl` for `GET /api/events`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cloud::api::{Stage, StatusRecord};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::watch::error::WatchError;

const MIGRATIONS: &[&str] = &["CREATE TABLE status (
    fileName TEXT PRIMARY KEY,
    objectKey TEXT NOT NULL UNIQUE,
    uploadId TEXT,
    status TEXT NOT NULL,
    percent INTEGER NOT NULL DEFAULT 0,
    jobId TEXT,
    error TEXT,
    updatedAt TEXT NOT NULL,
    outputs TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX status_upload ON status (uploadId);
CREATE INDEX status_seq ON status (seq)"];

/// The records and the change log.
pub struct Status {
    conn: Mutex<Connection>,
    path: PathBuf,
    log: PathBuf,
    prefix: String,
    cdn: String,
}

/// A record with the object key it follows.
struct Row {
    key: String,
    record: StatusRecord,
}

impl Status {
    /// Opens (creating) the table in `data`; `prefix` is the raw bucket's upload prefix
    /// and `cdn` the delivery URL outputs are given under (ending with `/`).
    pub fn open(data: &Path, prefix: &str, cdn: &str) -> Result<Status, WatchError> {
        let path = data.join("status.db");
        Ok(Status {
            conn: Mutex::new(crate::watch::store::open_database(&path, MIGRATIONS)?),
            path,
            log: data.join("status.jsonl"),
            prefix: prefix.to_string(),
            cdn: cdn.to_string(),
        })
    }

    /// The change log `GET /api/events` follows.
    pub fn log(&self) -> &Path {
        &self.log
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, WatchError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| WatchError::Internal("status lock poisoned".into()))?;
        f(&conn).map_err(|e| WatchError::Store {
            path: self.path.clone(),
            source: e,
        })
    }

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let status: String = r.get("status")?;
        let outputs: Option<String> = r.get("outputs")?;
        Ok(Row {
            key: r.get("objectKey")?,
            record: StatusRecord {
                file_name: r.get("fileName")?,
                upload_id: r.get("uploadId")?,
                status: Stage::parse(&status).unwrap_or(Stage::Error),
                percent: r.get::<_, i64>("percent")?.clamp(0, 100) as u8,
                job_id: r.get("jobId")?,
                error: r.get("error")?,
                updated_at: r.get("updatedAt")?,
                outputs: outputs
                    .and_then(|o| serde_json::from_str(&o).ok())
                    .unwrap_or_default(),
            },
        })
    }

    /// Writes `row` (replacing the file name's record) and logs the change.
    fn write(&self, row: &Row) -> Result<(), WatchError> {
        let r = &row.record;
        self.with(|c| {
            // A name is one key; an older record under another key (another profile
            // folder) gives way, as a PutItem on the same FileName replaces the item.
            c.execute(
                "DELETE FROM status WHERE objectKey = ?1 AND fileName <> ?2",
                params![row.key, r.file_name],
            )?;
            c.execute(
                "INSERT INTO status (fileName, objectKey, uploadId, status, percent, jobId, error,
                                     updatedAt, outputs, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM status))
                 ON CONFLICT(fileName) DO UPDATE SET objectKey = excluded.objectKey,
                    uploadId = excluded.uploadId, status = excluded.status,
                    percent = excluded.percent, jobId = excluded.jobId, error = excluded.error,
                    updatedAt = excluded.updatedAt, outputs = excluded.outputs,
                    seq = excluded.seq",
                params![
                    r.file_name,
                    row.key,
                    r.upload_id,
                    r.status.as_str(),
                    r.percent,
                    r.job_id,
                    r.error,
                    r.updated_at,
                    serde_json::to_string(&r.outputs).unwrap_or_default(),
                ],
            )
            .map(|_| ())
        })?;
        let line = cloud::api::change_event(&uuid::Uuid::new_v4().to_string(), r);
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
            .map_err(WatchError::io(&self.log))
    }

    fn by_key(&self, key: &str) -> Result<Option<Row>, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT * FROM status WHERE objectKey = ?1",
                params![key],
                Self::read,
            )
            .optional()
        })
    }

    /// `POST /api/uploads`: URLs handed out for `file_name` at `key`.
    pub fn uploading(&self, file_name: &str, key: &str, upload_id: &str) -> Result<(), WatchError> {
        self.write(&Row {
            key: key.to_string(),
            record: StatusRecord::uploading(file_name, upload_id, &super::rfc3339_now()),
        })
    }

    /// An object complete under the upload prefix (through the API or not): a new
    /// upload of its name, whatever was before.
    pub fn uploaded(&self, key: &str) -> Result<(), WatchError> {
        let Some(file_name) = cloud::api::file_name_of(&self.prefix, key) else {
            return Ok(());
        };
        let before = self.by_key(key)?;
        let record = StatusRecord::uploaded(
            &file_name,
            before.as_ref().map(|r| &r.record),
            &super::rfc3339_now(),
        );
        self.write(&Row {
            key: key.to_string(),
            record,
        })
    }

    /// Moves the record of `key` forward to `stage` (never back), with `edit` applied.
    fn advance(
        &self,
        key: &str,
        stage: Stage,
        job: Option<&str>,
        edit: impl FnOnce(&mut StatusRecord),
    ) -> Result<(), WatchError> {
        self.change(key, |r| r.advance(stage, job, &super::rfc3339_now(), edit))
    }

    /// Applies `f` to the record of `key` and writes it if `f` says it changed.
    fn change(
        &self,
        key: &str,
        f: impl FnOnce(&mut StatusRecord) -> bool,
    ) -> Result<(), WatchError> {
        let Some(mut row) = self.by_key(key)? else {
            return Ok(());
        };
        if f(&mut row.record) {
            self.write(&row)?;
        }
        Ok(())
    }

    /// The workflow made job `job` for `key`.
    pub fn submitted(&self, key: &str, job: &str) -> Result<(), WatchError> {
        self.advance(key, Stage::Submitted, Some(job), |_| {})
    }

    /// The workflow refused `key` (the failure path).
    pub fn rejected(&self, key: &str, reason: &str) -> Result<(), WatchError> {
        self.advance(key, Stage::Error, None, |r| {
            r.error = Some(reason.to_string())
        })
    }

    /// A "MediaConvert Job State Change" event; events of jobs no upload started change
    /// nothing. `failed`: why what the job owes after it ended could not be made (its
    /// trick play), which makes a COMPLETE an ERROR.
    pub fn job_event(&self, event: &Value, failed: Option<String>) -> Result<(), WatchError> {
        let Some(mut news) = cloud::api::JobNews::of(event, &self.cdn) else {
            return Ok(());
        };
        if let Some(reason) = failed {
            news.news = cloud::api::News::Error(reason);
        }
        let key = news.key.clone();
        self.change(&key, |r| news.apply(r, &super::rfc3339_now()))
    }

    /// The record of `file_name`.
    pub fn get(&self, file_name: &str) -> Result<Option<StatusRecord>, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT * FROM status WHERE fileName = ?1",
                params![file_name],
                Self::read,
            )
            .optional()
        })
        .map(|r| r.map(|r| r.record))
    }

    /// The object key and file name of the upload `upload_id` handed out.
    pub fn upload(&self, upload_id: &str) -> Result<Option<(String, String)>, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT objectKey, fileName FROM status WHERE uploadId = ?1",
                params![upload_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Up to `limit` records after the first `skip`, most recently changed first, and
    /// whether more follow.
    pub fn list(&self, skip: usize, limit: usize) -> Result<(Vec<StatusRecord>, bool), WatchError> {
        let mut rows = self.with(|c| {
            let mut s = c.prepare("SELECT * FROM status ORDER BY seq DESC LIMIT ?1 OFFSET ?2")?;
            let rows = s
                .query_map(params![limit as i64 + 1, skip as i64], Self::read)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows
        })?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows.into_iter().map(|r| r.record).collect(), more))
    }
}
