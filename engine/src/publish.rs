//! Publishing by rename: an asset is written into a hidden temp folder beside its final
//! place and moved there in one rename, so a crash or Ctrl-C never leaves a partial asset
//! where a consumer would take it for a complete one.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// Temp asset folders are `.mpe-tmp-<pid>-<nanos>` in the output folder.
const TMP_PREFIX: &str = ".mpe-tmp-";

/// A temp folder that becomes the asset folder on [`Staging::publish`], and is removed
/// when dropped unpublished.
pub(crate) struct Staging {
    tmp: PathBuf,
    /// An exclusive lock on the temp folder, held while this run lives (the OS drops it
    /// when the process dies): other runs tell a live temp folder from a stale one by it.
    _lock: Option<std::fs::File>,
    target: PathBuf,
    force: bool,
    published: bool,
}

impl Staging {
    /// Prepares `out/<name>`; fails when it exists and `force` is not set.
    pub fn new(out: &Path, name: &str, force: bool) -> Result<Staging, Error> {
        match out.to_str() {
            None => return Err(unusable(out, "the path is not valid UTF-8")),
            // FFmpeg's segmenter reads the path as a printf pattern.
            Some(p) if p.contains('%') => return Err(unusable(out, "the path contains '%'")),
            Some(_) => {}
        }
        std::fs::create_dir_all(out).map_err(Error::output(out))?;
        let target = out.join(name);
        if target.exists() && !(force && target.is_dir()) {
            // --force replaces an earlier asset folder, never a file that happens to have
            // the asset's name (the source itself, when it has no extension).
            return Err(Error::Exists { path: target });
        }
        remove_stale(out);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        // The temp name carries no part of the source name: FFmpeg's segmenter reads paths
        // as printf patterns, so a '%' in it would be mangled.
        let tmp = out.join(format!("{TMP_PREFIX}{}-{stamp}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(Error::output(&tmp))?;
        let lock = std::fs::File::open(&tmp)
            .ok()
            .filter(|f| f.try_lock().is_ok());
        Ok(Staging {
            tmp,
            _lock: lock,
            target,
            force,
            published: false,
        })
    }

    /// The temp folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the temp folder into place (replacing an older asset) and returns the path.
    /// An older asset is replaced only now that the new one is complete, by an atomic
    /// exchange where the filesystem has one; otherwise it is moved aside and, if the new
    /// one cannot take its place, moved back.
    pub fn publish(mut self) -> Result<PathBuf, Error> {
        if self.target.exists() && !(self.force && self.target.is_dir()) {
            // Another run published the same asset meanwhile: keep it, as without --force.
            return Err(Error::Exists {
                path: self.target.clone(),
            });
        }
        if !self.target.exists() {
            std::fs::rename(&self.tmp, &self.target).map_err(Error::output(&self.target))?;
            self.published = true;
            return Ok(self.target.clone());
        }
        match exchange(&self.tmp, &self.target) {
            Ok(()) => {
                self.published = true;
                // The temp name now holds the old asset; failing to delete it loses
                // nothing, and a later run removes it as stale.
                let _ = std::fs::remove_dir_all(&self.tmp);
                return Ok(self.target.clone());
            }
            Err(e) if !unsupported(&e) => return Err(Error::output(&self.target)(e)),
            Err(_) => {}
        }
        let parked = self.tmp.with_extension("old");
        std::fs::rename(&self.target, &parked).map_err(Error::output(&self.target))?;
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            // The old asset goes back where it was; the new one is dropped with the temp
            // folder.
            let _ = std::fs::rename(&parked, &self.target);
            return Err(Error::output(&self.target)(e));
        }
        self.published = true;
        // The new asset is in place; failing to delete the old copy loses nothing.
        let _ = std::fs::remove_dir_all(parked);
        Ok(self.target.clone())
    }
}

/// Swaps two paths in one step (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are NUL-terminated paths that live across the call; AT_FDCWD makes
    // them relative to the working directory, as std's rename does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Whether an exchange failed because the system or filesystem cannot do it (then the
/// two-rename fallback is used), not because of the paths.
fn unsupported(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
    ) {
        return true;
    }
    e.kind() == std::io::ErrorKind::Unsupported
}

fn unusable(path: &Path, why: &str) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
    }
}

/// Removes temp folders left by runs that were killed (kill -9, power loss): nobody holds
/// their lock, and their process is gone (or, the pid having been reused, they are over a
/// minute old), so nothing will ever publish them. An old asset moved aside by `--force`
/// (`.old`) is left alone while its process lives: it may still have to go back.
fn remove_stale(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(TMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let path = entry.path();
        let held = std::fs::File::open(&path).is_ok_and(|f| f.try_lock().is_err());
        if held {
            continue;
        }
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        let old_enough = !rest.ends_with(".old")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|a| a.as_secs() > 60));
        if !alive || old_enough {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mpe-publish-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn a_second_run_never_replaces_an_asset_published_meanwhile() {
        let out = scratch("race");
        let first = Staging::new(&out, "clip", false).expect("first");
        let second = Staging::new(&out, "clip", false).expect("second");
        std::fs::write(first.path().join("a"), "first").expect("write");
        std::fs::write(second.path().join("a"), "second").expect("write");
        let published = first.publish().expect("publish");
        assert!(matches!(second.publish(), Err(Error::Exists { .. })));
        assert_eq!(
            std::fs::read_to_string(published.join("a")).expect("read"),
            "first"
        );
        // The loser's temp folder is gone; only the asset remains.
        let names: Vec<_> = std::fs::read_dir(&out)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["clip"]);
        let _ = std::fs::remove_dir_all(out);
    }

    #[test]
    fn force_replaces_an_asset_folder_but_never_a_file() {
        let out = scratch("force");
        std::fs::write(out.join("clip"), "the source itself").expect("write");
        assert!(matches!(
            Staging::new(&out, "clip", true),
            Err(Error::Exists { .. })
        ));
        std::fs::remove_file(out.join("clip")).expect("rm");
        let s = Staging::new(&out, "clip", false).expect("stage");
        std::fs::write(s.path().join("v"), "1").expect("write");
        s.publish().expect("publish");
        let s = Staging::new(&out, "clip", true).expect("stage again");
        std::fs::write(s.path().join("v"), "2").expect("write");
        let p = s.publish().expect("replace");
        assert_eq!(std::fs::read_to_string(p.join("v")).expect("read"), "2");
        let _ = std::fs::remove_dir_all(out);
    }

    #[test]
    fn a_forced_publish_that_cannot_take_the_place_leaves_the_old_asset() {
        let out = scratch("force-fails");
        let s = Staging::new(&out, "clip", false).expect("stage");
        std::fs::write(s.path().join("v"), "old").expect("write");
        s.publish().expect("publish");
        let s = Staging::new(&out, "clip", true).expect("stage again");
        std::fs::write(s.path().join("v"), "new").expect("write");
        // The new asset vanishes before its swap (as if its disk went away).
        std::fs::remove_dir_all(s.path()).expect("rm");
        assert!(matches!(s.publish(), Err(Error::Output { .. })));
        assert_eq!(
            std::fs::read_to_string(out.join("clip/v")).expect("the old asset"),
            "old"
        );
        let names: Vec<_> = std::fs::read_dir(&out)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["clip"], "nothing else is left or renamed");
        let _ = std::fs::remove_dir_all(out);
    }

    #[test]
    fn a_temp_folder_is_stale_only_when_nobody_holds_its_lock() {
        let out = scratch("stale");
        // A live run's folder, under the pid of a process that is gone: its lock says it
        // is in use.
        let live = out.join(format!("{TMP_PREFIX}4194304-1"));
        std::fs::create_dir(&live).expect("mkdir");
        let lock = std::fs::File::open(&live).expect("open");
        lock.try_lock().expect("lock");
        // A killed run's folder under the same dead pid, unlocked.
        let dead = out.join(format!("{TMP_PREFIX}4194304-2"));
        std::fs::create_dir(&dead).expect("mkdir");
        remove_stale(&out);
        assert!(live.is_dir(), "a locked temp folder is in use");
        assert!(!dead.exists(), "an unlocked one of a dead process is stale");
        drop(lock);
        remove_stale(&out);
        assert!(!live.exists());
        let _ = std::fs::remove_dir_all(out);
    }
}
