//! Typed errors for loading and validating profiles.

use std::fmt;

/// A profile that cannot be used, with where and why.
///
/// Displayed as one line: `profile <origin>: <field>: <reason>`, so that a user can go
/// straight to the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The profile could not be read from disk.
    #[error("profile {origin}: cannot read: {reason}")]
    Read {
        /// The file (or shipped profile name) that failed.
        origin: String,
        /// The I/O error text.
        reason: String,
    },
    /// The JSON is malformed or a field has the wrong type or an unknown name.
    #[error("profile {origin}: {}: {reason}", FieldPath(field))]
    Parse {
        /// The file (or shipped profile name).
        origin: String,
        /// Path to the field, e.g. `renditions[2].bitrate` (empty for the document).
        field: String,
        /// What serde reported, with line and column.
        reason: String,
    },
    /// The JSON parsed but a value is out of range or inconsistent.
    #[error("profile {origin}: {}: {reason}", FieldPath(field))]
    Invalid {
        /// The file (or shipped profile name).
        origin: String,
        /// Path to the field, e.g. `video.segment_seconds`.
        field: String,
        /// Why the value is refused.
        reason: String,
    },
    /// `-p NAME` named no shipped profile and no file.
    #[error("profile {name}: no such shipped profile and no such file (shipped: {shipped})")]
    Unknown {
        /// What the user asked for.
        name: String,
        /// The shipped profile names, comma separated.
        shipped: String,
    },
}

struct FieldPath<'a>(&'a str);

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() || self.0 == "." {
            f.write_str("document")
        } else {
            write!(f, "field `{}`", self.0)
        }
    }
}

/// A source that no plan can be made for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The source has no video stream; audio-only assets are not a ladder.
    #[error("{path}: no video stream (audio-only sources cannot make a video ladder)")]
    NoVideo {
        /// The source path.
        path: String,
    },
    /// The video stream has a size or rate no encoder can use.
    #[error("{path}: video stream #{index}: {reason}")]
    BadVideo {
        /// The source path.
        path: String,
        /// Stream index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The profile asks an audio track the source does not have.
    #[error("{path}: no audio track {track} (it has {tracks})")]
    NoAudioTrack {
        /// The source path.
        path: String,
        /// The track asked (1 is the first).
        track: u32,
        /// How many audio tracks the source has.
        tracks: usize,
    },
}

/// A time position that cannot be read, with the value as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time {value:?}: {reason}")]
pub struct TimeError {
    /// The value as the user wrote it.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}
