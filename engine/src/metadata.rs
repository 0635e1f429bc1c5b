//! The asset record `metadata.json`: what was made, from what, with which plan, and how
//! long each stage took. Written last, so its presence means the asset is complete.
//! The schema is documented in `docs/metadata.md`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use profiles::{MediaInfo, Plan};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::capture::Thumbnail;
use crate::error::Error;
use crate::transcode::OutputFile;

/// The schema identifier written into every record; bumped on incompatible changes.
pub const SCHEMA: &str = "mpe.asset/1";

/// The whole record.
#[derive(Debug, Clone, Serialize)]
pub struct AssetRecord {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Version of mpe that made the asset.
    pub mpe_version: &'static str,
    /// When the asset was completed, RFC 3339 UTC.
    pub created: String,
    /// The source as given.
    pub source: String,
    /// Name of the profile.
    pub profile: String,
    /// The probe result.
    pub media: MediaInfo,
    /// The plan that was executed.
    pub plan: Plan,
    /// Every file of the asset except this record, sorted by path.
    pub files: Vec<FileRecord>,
    /// The thumbnails, in capture order.
    pub thumbnails: Vec<Thumbnail>,
    /// The preview clip.
    pub preview: Option<PreviewRecord>,
    /// The trick-play track and its sheets.
    pub trickplay: Option<TrickPlayRecord>,
    /// Wall time of each stage, seconds.
    pub timings: Timings,
}

/// One file of the asset.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileRecord {
    /// Path relative to the asset root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// What it is: `manifest`, `playlist`, `init`, `segment`, `video`, `preview`,
    /// `thumbnail`, `sprite`, `vtt`.
    pub kind: String,
    /// Media duration in seconds (segments, videos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Measured bitrate, `bytes x 8 / duration`, bits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u64>,
    /// Picture width (video files and images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Picture height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// What the transcode knows about a file it wrote.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub kind: &'static str,
    pub duration: Option<f64>,
    pub size: Option<(u32, u32)>,
}

/// The preview clip.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRecord {
    /// Path relative to the asset root.
    pub path: String,
    /// Where it starts in the source, seconds.
    pub start: f64,
    /// Length, seconds.
    pub seconds: f64,
    /// The animated WebP version, relative to the asset root.
    pub animated_webp: Option<String>,
}

/// The trick-play track.
#[derive(Debug, Clone, Serialize)]
pub struct TrickPlayRecord {
    /// The WebVTT file, relative to the asset root.
    pub vtt: String,
    /// The sheets, in order.
    pub sheets: Vec<String>,
    /// Seconds between tiles.
    pub interval: f64,
    /// Tile size.
    pub tile_width: u32,
    /// Tile height.
    pub tile_height: u32,
    /// Grid of a sheet.
    pub columns: u32,
    /// Rows of a sheet.
    pub rows: u32,
}

/// Wall time of each stage, seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Opening, probing and planning.
    pub probe: f64,
    /// Decoding, encoding, segmenting and pictures (concurrent).
    pub encode: f64,
    /// Manifests, renames and the tree check.
    pub package: f64,
    /// Checksums of every file.
    pub checksum: f64,
    /// Everything up to writing the record.
    pub total: f64,
}

/// Records every file of `files` (read from `root`), hashing them in parallel.
pub(crate) fn file_records(
    root: &Path,
    files: &[OutputFile],
    facts: &BTreeMap<String, Facts>,
) -> Result<Vec<FileRecord>, Error> {
    files
        .par_iter()
        .map(|f| {
            let path = root.join(&f.path);
            let sha256 = sha256_file(&path)?;
            let known = facts.get(&f.path).cloned().unwrap_or_else(|| Facts {
                kind: kind_by_name(&f.path),
                ..Facts::default()
            });
            let bitrate = known
                .duration
                .filter(|d| *d > 0.0)
                .map(|d| (f.bytes as f64 * 8.0 / d).round() as u64);
            Ok(FileRecord {
                path: f.path.clone(),
                bytes: f.bytes,
                sha256,
                kind: known.kind.to_string(),
                duration: known.duration,
                bitrate,
                width: known.size.map(|s| s.0),
                height: known.size.map(|s| s.1),
            })
        })
        .collect()
}

fn kind_by_name(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("mpd") => "manifest",
        Some("m3u8") => "playlist",
        Some("vtt") => "vtt",
        _ => "other",
    }
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = std::fs::File::open(path).map_err(Error::output(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(Error::output(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian, era arithmetic).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_606_026), "2026-11-25T11:27:06Z");
    }
}
