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
        Ok(Staging {
            tmp,
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
    pub fn publish(mut self) -> Result<PathBuf, Error> {
        let mut old = None;
        if self.target.exists() && !(self.force && self.target.is_dir()) {
            // Another run published the same asset meanwhile: keep it, as without --force.
            return Err(Error::Exists {
                path: self.target.clone(),
            });
        }
        if self.target.exists() {
            let parked = self.tmp.with_extension("old");
            std::fs::rename(&self.target, &parked).map_err(Error::output(&self.target))?;
            old = Some(parked);
        }
        std::fs::rename(&self.tmp, &self.target).map_err(Error::output(&self.target))?;
        self.published = true;
        if let Some(old) = old {
            // The new asset is in place; failing to delete the old copy loses nothing.
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(self.target.clone())
    }
}

fn unusable(path: &Path, why: &str) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
    }
}

/// Removes temp folders left by runs that were killed (kill -9, power loss):
/// their process is gone, so nothing will ever publish them.
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
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
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
}
