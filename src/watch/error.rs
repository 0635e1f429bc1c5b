//! Typed errors of the watch folder and the job store.

use std::path::PathBuf;

/// Why the watcher or a job command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The job database cannot be opened or written.
    #[error("job store {}", path.display())]
    Store {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The database was written by a newer mpe.
    #[error("job store {}: schema version {found} is newer than this mpe knows ({known})", path.display())]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: usize,
        /// The newest this build knows.
        known: usize,
    },
    /// A folder or file of the watch folder cannot be used.
    #[error("{}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// The folder cannot be watched.
    #[error("watching {}", path.display())]
    Notify {
        /// The folder.
        path: PathBuf,
        /// The watcher's reason.
        source: notify::Error,
    },
    /// A job id matched no job.
    #[error("job {id}: no such job")]
    NoSuchJob {
        /// What was asked for.
        id: String,
    },
    /// A job id prefix matched more than one job.
    #[error("job {id}: ambiguous, give more of the id")]
    Ambiguous {
        /// What was asked for.
        id: String,
    },
    /// The job is not in a state the command applies to.
    #[error("job {id}: {reason}")]
    WrongState {
        /// The job.
        id: String,
        /// Why not.
        reason: String,
    },
    /// The webhook cannot be used as given (its URL, secret or CA file).
    #[error("webhook: {0}")]
    Webhook(String),
    /// A bug in mpe.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WatchError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WatchError {
        let path = path.into();
        move |source| WatchError::Io { path, source }
    }
}
