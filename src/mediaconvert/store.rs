//! The local MediaConvert's store: jobs, job templates, presets and queues in one SQLite
//! database (opened as the watch folder's is), so that they survive a restart and old
//! jobs are paged from disk rather than held in memory.

use std::path::Path;
use std::sync::Mutex;

use cloud::model::JobStatus;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::watch::error::WatchError;
use crate::watch::store::open_database;

/// Schema migrations; entry `i` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: jobs (request as sent, and as resolved from its template and presets), and the
    // named resources (templates, presets, queues) as the bodies the API shows.
    "CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        token TEXT UNIQUE,
        queue TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        percent INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        started INTEGER,
        finished INTEGER,
        request TEXT NOT NULL,
        resolved TEXT NOT NULL,
        error_code INTEGER,
        error_message TEXT,
        outputs TEXT NOT NULL DEFAULT '[]',
        warnings TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX jobs_waiting ON jobs (status, priority, seq);
    CREATE TABLE resources (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (kind, name)
    );",
];

/// The kinds of named resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Job templates.
    Template,
    /// Output presets.
    Preset,
    /// Queues.
    Queue,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::Preset => "preset",
            Kind::Queue => "queue",
        }
    }
}

/// One job as stored.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The job's id.
    pub id: String,
    /// The queue's name.
    pub queue: String,
    /// State.
    pub status: JobStatus,
    /// Percent done while PROGRESSING.
    pub percent: u32,
    /// Epoch seconds.
    pub created: u64,
    /// Epoch seconds.
    pub started: Option<u64>,
    /// Epoch seconds.
    pub finished: Option<u64>,
    /// The CreateJob request as sent (PascalCase).
    pub request: Value,
    /// The request with its template and presets resolved: what runs.
    pub resolved: Value,
    /// ErrorCode and ErrorMessage.
    pub error: Option<(i64, String)>,
    /// OutputGroupDetails.
    pub outputs: Vec<Value>,
    /// `[{code, message}]`.
    pub warnings: Vec<cloud::JobWarning>,
}

/// A named resource as stored.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its name.
    pub name: String,
    /// Its body as the API shows it (PascalCase), without the times.
    pub body: Value,
    /// Epoch seconds.
    pub created: u64,
    /// Epoch seconds.
    pub updated: u64,
}

/// The open store.
pub struct Store {
    conn: Mutex<Connection>,
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn parse_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    let status: String = r.get("status")?;
    let code: Option<i64> = r.get("error_code")?;
    let message: Option<String> = r.get("error_message")?;
    let outputs = parse_json(r.get("outputs")?);
    let warnings = parse_json(r.get("warnings")?);
    Ok(JobRow {
        id: r.get("id")?,
        queue: r.get("queue")?,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Error),
        percent: r.get("percent")?,
        created: r.get::<_, i64>("created")? as u64,
        started: r.get::<_, Option<i64>>("started")?.map(|t| t as u64),
        finished: r.get::<_, Option<i64>>("finished")?.map(|t| t as u64),
        request: parse_json(r.get("request")?),
        resolved: parse_json(r.get("resolved")?),
        error: code.map(|c| (c, message.unwrap_or_default())),
        outputs: outputs.as_array().cloned().unwrap_or_default(),
        warnings: warnings
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|w| cloud::JobWarning {
                code: w["code"].as_i64().unwrap_or_default(),
                message: w["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect(),
    })
}

/// What a new job is made of.
pub struct NewJob<'a> {
    /// The job's id.
    pub id: &'a str,
    /// ClientRequestToken.
    pub token: Option<&'a str>,
    /// The queue's name.
    pub queue: &'a str,
    /// Priority, -50 to 50.
    pub priority: i64,
    /// Epoch seconds.
    pub created: u64,
    /// As sent.
    pub request: &'a Value,
    /// As resolved.
    pub resolved: &'a Value,
}

/// Which jobs a listing shows.
pub struct JobFilter<'a> {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this queue (its name).
    pub queue: Option<&'a str>,
    /// Oldest first (ASCENDING) instead of newest first.
    pub ascending: bool,
}

impl Store {
    /// Opens (creating and migrating) the database at `path`. Jobs left PROGRESSING by a
    /// server that stopped are SUBMITTED again: they run anew, nothing is lost.
    pub fn open(path: &Path) -> Result<Store, WatchError> {
        let conn = open_database(path, MIGRATIONS)?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        store.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'SUBMITTED', percent = 0, started = NULL
                 WHERE status = 'PROGRESSING'",
                [],
            )
        })?;
        Ok(store)
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, WatchError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| WatchError::Internal("MediaConvert store lock poisoned".into()))?;
        f(&conn).map_err(|e| WatchError::Store {
            path: conn.path().unwrap_or_default().into(),
            source: e,
        })
    }

    /// Adds a SUBMITTED job.
    pub fn insert_job(&self, j: &NewJob<'_>) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO jobs (id, token, queue, priority, status, created, request, resolved)
                 VALUES (?1, ?2, ?3, ?4, 'SUBMITTED', ?5, ?6, ?7)",
                params![
                    j.id,
                    j.token,
                    j.queue,
                    j.priority,
                    j.created as i64,
                    json_text(j.request),
                    json_text(j.resolved)
                ],
            )
            .map(drop)
        })
    }

    /// The job of that id.
    pub fn job(&self, id: &str) -> Result<Option<JobRow>, WatchError> {
        self.with(|c| {
            c.query_row("SELECT * FROM jobs WHERE id = ?1", [id], job_from_row)
                .optional()
        })
    }

    /// The job a ClientRequestToken made.
    pub fn job_by_token(&self, token: &str) -> Result<Option<JobRow>, WatchError> {
        self.with(|c| {
            c.query_row("SELECT * FROM jobs WHERE token = ?1", [token], job_from_row)
                .optional()
        })
    }

    /// One page of jobs: `limit` of them after the first `offset`, and whether more follow.
    pub fn list_jobs(
        &self,
        filter: &JobFilter<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<JobRow>, bool), WatchError> {
        let order = if filter.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT * FROM jobs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR queue = ?2)
             ORDER BY seq {order} LIMIT ?3 OFFSET ?4"
        );
        let mut rows = self.with(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(
                params![
                    filter.status.map(JobStatus::as_str),
                    filter.queue,
                    (limit + 1) as i64,
                    offset as i64
                ],
                job_from_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, more))
    }

    /// Jobs of a queue in a status (for GetQueue's counts).
    pub fn count(&self, queue: &str, status: JobStatus) -> Result<u64, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND status = ?2",
                params![queue, status.as_str()],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    /// Takes the next job to run: the highest priority first, then the oldest, from a
    /// queue that is not PAUSED (`paused` lists those). It is PROGRESSING when returned.
    pub fn claim(&self, now: u64, paused: &[String]) -> Result<Option<JobRow>, WatchError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let candidates: Vec<JobRow> = {
                let mut st = tx.prepare(
                    "SELECT * FROM jobs WHERE status = 'SUBMITTED'
                     ORDER BY priority DESC, seq ASC LIMIT 64",
                )?;
                let rows = st.query_map([], job_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let Some(mut job) = candidates.into_iter().find(|j| !paused.contains(&j.queue)) else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE jobs SET status = 'PROGRESSING', started = ?2 WHERE id = ?1",
                params![job.id, now as i64],
            )?;
            tx.commit()?;
            job.status = JobStatus::Progressing;
            job.started = Some(now);
            Ok(Some(job))
        })
    }

    /// Records progress.
    pub fn set_percent(&self, id: &str, percent: u32) -> Result<(), WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET percent = ?2 WHERE id = ?1 AND status = 'PROGRESSING'",
                params![id, percent],
            )
            .map(drop)
        })
    }

    /// Records the job's warnings.
    pub fn set_warnings(&self, id: &str, warnings: &[cloud::JobWarning]) -> Result<(), WatchError> {
        let list: Vec<Value> = warnings
            .iter()
            .map(|w| serde_json::json!({ "code": w.code, "message": w.message }))
            .collect();
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET warnings = ?2 WHERE id = ?1",
                params![id, Value::Array(list).to_string()],
            )
            .map(drop)
        })
    }

    /// Ends a job.
    pub fn finish(
        &self,
        id: &str,
        status: JobStatus,
        now: u64,
        error: Option<(i64, String)>,
        outputs: &[Value],
    ) -> Result<(), WatchError> {
        let percent = if status == JobStatus::Complete {
            100
        } else {
            0
        };
        let (code, message) = error.unzip();
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = ?2, finished = ?3, error_code = ?4, error_message = ?5,
                     outputs = ?6, percent = CASE WHEN ?7 = 100 THEN 100 ELSE percent END
                 WHERE id = ?1",
                params![
                    id,
                    status.as_str(),
                    now as i64,
                    code,
                    message,
                    Value::Array(outputs.to_vec()).to_string(),
                    percent
                ],
            )
            .map(drop)
        })
    }

    /// Cancels a job that has not started; false if it is no longer SUBMITTED.
    pub fn cancel_waiting(&self, id: &str, now: u64) -> Result<bool, WatchError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'CANCELED', finished = ?2
                 WHERE id = ?1 AND status = 'SUBMITTED'",
                params![id, now as i64],
            )
        })
        .map(|n| n == 1)
    }

    /// Creates (`replace` false: refused if it exists) or replaces a named resource;
    /// returns false where creating found one of that name.
    pub fn put(
        &self,
        kind: Kind,
        name: &str,
        body: &Value,
        now: u64,
        replace: bool,
    ) -> Result<bool, WatchError> {
        self.with(|c| {
            let sql = if replace {
                "INSERT INTO resources (kind, name, body, created, updated) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated = excluded.updated"
            } else {
                "INSERT OR IGNORE INTO resources (kind, name, body, created, updated)
                 VALUES (?1, ?2, ?3, ?4, ?4)"
            };
            c.execute(sql, params![kind.as_str(), name, body.to_string(), now as i64])
        })
        .map(|n| n == 1)
    }

    /// The resource of that name.
    pub fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, WatchError> {
        self.with(|c| {
            c.query_row(
                "SELECT name, body, created, updated FROM resources WHERE kind = ?1 AND name = ?2",
                params![kind.as_str(), name],
                resource_from_row,
            )
            .optional()
        })
    }

    /// Every resource of a kind, by name or by creation time.
    pub fn list(
        &self,
        kind: Kind,
        by_creation: bool,
        ascending: bool,
    ) -> Result<Vec<Resource>, WatchError> {
        let order = match (by_creation, ascending) {
            (false, true) => "name ASC",
            (false, false) => "name DESC",
            (true, true) => "created ASC, name ASC",
            (true, false) => "created DESC, name DESC",
        };
        let sql = format!(
            "SELECT name, body, created, updated FROM resources WHERE kind = ?1 ORDER BY {order}"
        );
        self.with(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([kind.as_str()], resource_from_row)?;
            rows.collect()
        })
    }

    /// Deletes a resource; false if there was none.
    pub fn delete(&self, kind: Kind, name: &str) -> Result<bool, WatchError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM resources WHERE kind = ?1 AND name = ?2",
                params![kind.as_str(), name],
            )
        })
        .map(|n| n == 1)
    }
}

fn resource_from_row(r: &Row<'_>) -> rusqlite::Result<Resource> {
    Ok(Resource {
        name: r.get(0)?,
        body: parse_json(r.get(1)?),
        created: r.get::<_, i64>(2)? as u64,
        updated: r.get::<_, i64>(3)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jobs_and_templates_survive_a_reopen_and_run_by_priority() {
        let dir = std::env::temp_dir().join(format!("mpe-mc-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mediaconvert.db");
        let req = json!({ "Role": "r", "Settings": {} });
        {
            let s = Store::open(&path).expect("open");
            for (id, priority) in [("a", 0), ("b", 5), ("c", 0)] {
                s.insert_job(&NewJob {
                    id,
                    token: None,
                    queue: "Default",
                    priority,
                    created: 1,
                    request: &req,
                    resolved: &req,
                })
                .expect("insert");
            }
            assert!(s
                .put(Kind::Template, "t", &json!({ "Name": "t" }), 1, false)
                .expect("put"));
            assert!(!s
                .put(Kind::Template, "t", &json!({}), 2, false)
                .expect("put again"));
            let first = s.claim(2, &[]).expect("claim").expect("a job");
            assert_eq!(first.id, "b");
        }
        // Reopened: the job that was running waits again, the others kept their order.
        let s = Store::open(&path).expect("reopen");
        let order: Vec<String> = std::iter::from_fn(|| s.claim(3, &[]).expect("claim"))
            .map(|j| j.id)
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
        assert_eq!(
            s.get(Kind::Template, "t").expect("get").expect("t").body["Name"],
            "t"
        );
        let (page, more) = s
            .list_jobs(
                &JobFilter {
                    status: None,
                    queue: None,
                    ascending: false,
                },
                1,
                1,
            )
            .expect("list");
        assert_eq!((page[0].id.as_str(), more), ("b", true));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
