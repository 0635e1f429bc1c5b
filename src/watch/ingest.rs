//! Finding finished sources in the watch folder: inotify events plus a scan at start, and
//! the rules that say a file is complete (nobody has it open, and its size and mtime have
//! held still for the settle time).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The extensions taken by default: the video containers MediaConvert accepts as input.
pub const DEFAULT_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mxf", "ts", "m2ts", "mts", "mpg", "mpeg", "m2v",
    "flv", "3gp", "3g2", "wmv", "asf", "ogv", "y4m", "ivf", "gxf",
];

/// Suffixes of files still being written by browsers and copy tools.
const PARTIAL: &[&str] = &[
    ".part",
    ".partial",
    ".tmp",
    ".crdownload",
    ".download",
    ".filepart",
];

/// Whether a file name is a source to take (not hidden, not partial, accepted extension).
pub fn accepts(name: &str, extensions: &[String]) -> bool {
    if name.starts_with('.') || name.starts_with('~') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if PARTIAL.iter().any(|p| lower.ends_with(p)) {
        return false;
    }
    match lower.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => extensions.iter().any(|e| e == ext),
        _ => false,
    }
}

#[derive(Debug)]
struct Seen {
    size: u64,
    mtime: Option<SystemTime>,
    since: Instant,
}

/// Files seen in the folder and not yet taken, with when they last changed.
#[derive(Debug)]
pub struct Candidates {
    settle: Duration,
    extensions: Vec<String>,
    seen: HashMap<PathBuf, Seen>,
    /// Paths not to take (said once in the log) until an event says they changed.
    refused: HashSet<PathBuf>,
}

impl Candidates {
    /// Files must be unchanged for `settle` (and closed by every writer) to be taken.
    pub fn new(settle: Duration, extensions: Vec<String>) -> Candidates {
        Candidates {
            settle,
            extensions,
            seen: HashMap::new(),
            refused: HashSet::new(),
        }
    }

    /// Notes a path from an event: something changed there, so a file refused before is
    /// looked at again. Names that are not sources are ignored.
    pub fn note(&mut self, path: &Path) {
        self.refused.remove(path);
        self.consider(path);
    }

    fn consider(&mut self, path: &Path) {
        if self.refused.contains(path) {
            return;
        }
        let Some(name) = path.file_name() else { return };
        let Some(name) = name.to_str() else {
            // Said once; the store, the events and S3 keys all need text.
            tracing::warn!(source = %path.display(), "not taken: the file name is not valid UTF-8; rename it");
            self.refused.insert(path.to_path_buf());
            return;
        };
        let accepted = accepts(name, &self.extensions);
        if accepted && !self.seen.contains_key(path) {
            self.seen.insert(
                path.to_path_buf(),
                Seen {
                    size: u64::MAX,
                    mtime: None,
                    since: Instant::now(),
                },
            );
        }
    }

    /// Notes every source in `dir` (non-recursive): at start, and now and then as a
    /// safety net for changes no notification reported. Files refused before stay
    /// refused until an event says they changed.
    pub fn scan(&mut self, dir: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                self.consider(&entry.path());
            }
        }
        Ok(())
    }

    /// Puts back a path [`Candidates::ready`] gave out that is not to be taken yet (it
    /// does not read as complete media while it changed recently): it is looked at again
    /// once it has held still for the settle time once more, and a close no longer lets
    /// it skip that wait.
    pub fn wait(&mut self, path: &Path) {
        let meta = std::fs::symlink_metadata(path).ok();
        self.seen.insert(
            path.to_path_buf(),
            Seen {
                size: meta.as_ref().map_or(u64::MAX, |m| m.len()),
                mtime: meta.and_then(|m| m.modified().ok()),
                since: Instant::now(),
            },
        );
    }

    /// Forgets a path and does not take it again until an event says it changed.
    pub fn refuse(&mut self, path: &Path) {
        self.seen.remove(path);
        self.refused.insert(path.to_path_buf());
    }

    /// The files that are complete now; they are forgotten here (the caller takes them).
    /// `closed` lists paths whose writer just closed them: they need not wait out the
    /// settle time.
    pub fn ready(&mut self, closed: &[PathBuf]) -> Vec<PathBuf> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut gone = Vec::new();
        let mut refused = Vec::new();
        for (path, s) in &mut self.seen {
            let meta = match std::fs::symlink_metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Never seen there (an event of a file moved away, our own takes
                    // included) is not worth a line; a file that was there and went is.
                    if s.size != u64::MAX {
                        tracing::info!(source = %path.display(), "not taken: gone before it was complete (moved or deleted)");
                    }
                    gone.push(path.clone());
                    continue;
                }
                Err(e) => {
                    tracing::warn!(source = %path.display(), error = %e, "not taken: cannot be looked at");
                    refused.push(path.clone());
                    continue;
                }
            };
            if meta.file_type().is_symlink() {
                // A link could publish a file its owner never dropped here.
                tracing::warn!(source = %path.display(), "not taken: a symbolic link; drop (or move) the file itself");
                refused.push(path.clone());
                continue;
            }
            if !meta.is_file() {
                tracing::warn!(source = %path.display(), "not taken: not a regular file (a FIFO, device or socket)");
                refused.push(path.clone());
                continue;
            }
            let mtime = meta.modified().ok();
            if meta.len() != s.size || mtime != s.mtime {
                s.size = meta.len();
                s.mtime = mtime;
                s.since = now;
                if !closed.contains(path) {
                    continue;
                }
            }
            let quiet = now.duration_since(s.since) >= self.settle || closed.contains(path);
            if quiet && !open_for_writing(path) {
                out.push(path.clone());
            }
        }
        for p in gone.iter().chain(&out) {
            self.seen.remove(p);
        }
        for p in &refused {
            self.refuse(p);
        }
        out.sort();
        out
    }
}

/// Whether any process holds `path` open for writing (Linux: `/proc/*/fd` and `fdinfo`).
/// Elsewhere this says no, and the settle time alone decides.
pub fn open_for_writing(path: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(path) else {
        return false;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l == target) {
                let info = p.path().join("fdinfo").join(fd.file_name());
                if writable(&info) {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether an fdinfo file shows a descriptor opened for writing (O_WRONLY or O_RDWR).
fn writable(fdinfo: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(fdinfo) else {
        // Gone already, or not ours to read: assume the worst only if it still exists.
        return fdinfo.exists();
    };
    text.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_hidden_and_foreign_names_are_not_taken() {
        let exts: Vec<String> = DEFAULT_EXTENSIONS.iter().map(|s| s.to_string()).collect();
        for ok in ["a.mp4", "A Film.MOV", "x.y.mkv"] {
            assert!(accepts(ok, &exts), "{ok}");
        }
        for no in [
            ".a.mp4",
            "a.mp4.part",
            "a.mp4.crdownload",
            "a.tmp",
            "a.json",
            "a.txt",
            "mp4",
            "~a.mp4",
        ] {
            assert!(!accepts(no, &exts), "{no}");
        }
    }

    #[test]
    fn a_file_held_open_for_writing_is_seen_as_such() {
        let path = std::env::temp_dir().join(format!("mpe-open-{}.mp4", std::process::id()));
        let f = std::fs::File::create(&path).expect("create");
        assert!(open_for_writing(&path));
        drop(f);
        assert!(!open_for_writing(&path));
        let _r = std::fs::File::open(&path).expect("open for reading");
        assert!(!open_for_writing(&path), "readers do not count");
        let _ = std::fs::remove_file(&path);
    }
}
