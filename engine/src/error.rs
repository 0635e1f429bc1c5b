//! Typed errors of the engine; each says what failed and where, in one line.
//!
//! The underlying cause (FFmpeg's or the OS's) is the error's `source()`, not part of its
//! message, so that a chain printed with `{:#}` names it exactly once.

use std::path::PathBuf;

use profiles::PlanError;

/// Why a probe or transcode failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source path does not exist.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The source.
        path: PathBuf,
    },
    /// The source is not a regular file.
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The source.
        path: PathBuf,
    },
    /// The source has zero bytes.
    #[error("{}: file is empty (0 bytes)", path.display())]
    Empty {
        /// The source.
        path: PathBuf,
    },
    /// FFmpeg cannot recognise the source as media.
    #[error("{}: not a media file FFmpeg can read", path.display())]
    NotMedia {
        /// The source.
        path: PathBuf,
        /// FFmpeg's reason.
        source: ffmpeg_next::Error,
    },
    /// The source cannot be read.
    #[error("{}", path.display())]
    Read {
        /// The source.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The source cannot be planned (no video stream, unusable video).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// This FFmpeg build has no decoder for the source's codec.
    #[error("{}: stream #{index}: codec {codec} is not supported (no decoder in this FFmpeg build)", path.display())]
    UnsupportedCodec {
        /// The source.
        path: PathBuf,
        /// Stream index.
        index: usize,
        /// Codec name.
        codec: String,
    },
    /// The source ends well before the duration its header declares.
    #[error("{}: truncated: media ends at {decoded:.2} s but the file declares {declared:.2} s", path.display())]
    Truncated {
        /// The source.
        path: PathBuf,
        /// Where decodable media ended, in seconds.
        decoded: f64,
        /// The declared duration, in seconds.
        declared: f64,
    },
    /// Reading or decoding the source failed part way.
    #[error("{}: {what} at {at:.2} s", path.display())]
    Corrupt {
        /// The source.
        path: PathBuf,
        /// What was being done (`reading`, `decoding video`...).
        what: &'static str,
        /// Media time of the failure, in seconds.
        at: f64,
        /// FFmpeg's reason.
        source: ffmpeg_next::Error,
    },
    /// Reading the source failed part way for a reason other than its content (an I/O
    /// error of the disk or mount): transient, nothing is published.
    #[error("{}: read error at {at:.2} s", path.display())]
    ReadFailed {
        /// The source.
        path: PathBuf,
        /// Media time of the failure, in seconds.
        at: f64,
        /// FFmpeg's reason.
        source: ffmpeg_next::Error,
    },
    /// The source decoded to no video frames at all.

    #[error("{}: no video frame could be decoded", path.display())]
    NoFrames {
        /// The source.
        path: PathBuf,
    },
    /// An FFmpeg call failed while encoding or packaging.
    #[error("{stage}")]
    Ffmpeg {
        /// What mpe was doing, e.g. `opening the 720p encoder`.
        stage: String,
        /// FFmpeg's reason.
        source: ffmpeg_next::Error,
    },
    /// An encoder did not accept an option mpe set (FFmpeg would otherwise ignore it silently).
    #[error("{encoder}: option(s) not accepted: {options}")]
    EncoderOptions {
        /// The encoder, e.g. `libx264`.
        encoder: String,
        /// The refused keys, comma separated.
        options: String,
    },
    /// The output location cannot be written.
    #[error("output {}", path.display())]
    Output {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The asset folder exists already and replacing it was not asked for.
    #[error("output {}: already exists (pass --force to replace an asset folder)", path.display())]
    Exists {
        /// The asset folder.
        path: PathBuf,
    },
    /// A time asked for cannot be used with this source.
    #[error("{}: time {value:?}: {reason}", path.display())]
    Time {
        /// The source.
        path: PathBuf,
        /// The time as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The clip asked for does not fit this source.
    #[error("{}: clipping: timecode {source}", path.display())]
    Clip {
        /// The source.
        path: PathBuf,
        /// Which part of the timeline: 0 the source's clip, `k` that of `joined[k - 1]`.
        piece: usize,
        /// Which timecode, and why.
        source: profiles::TimecodeError,
    },
    /// The run was cancelled (Ctrl-C); nothing was published.
    #[error("cancelled; nothing was published")]
    Cancelled,
    /// A worker thread died; a bug in mpe.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the error is the input's, the profile's or the job's own: run again as it
    /// is, it fails the same way, so retrying cannot help. Every other error (I/O of the
    /// source or the output, FFmpeg's encoders and muxers, resources, an internal error)
    /// may pass on a retry; [`Error::Cancelled`] is neither, and says `false`.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. }
                | Error::NotAFile { .. }
                | Error::Empty { .. }
                | Error::NotMedia { .. }
                | Error::Plan(_)
                | Error::UnsupportedCodec { .. }
                | Error::Truncated { .. }
                | Error::Corrupt { .. }
                | Error::NoFrames { .. }
                | Error::EncoderOptions { .. }
                | Error::Exists { .. }
                | Error::Time { .. }
                | Error::Clip { .. }
        ) || matches!(self, Error::Output { source, .. }
            // A path mpe refuses as written ('%', not UTF-8), not one the system failed.
            if source.kind() == std::io::ErrorKind::InvalidInput)
    }

    /// Whether retrying may help: a failure that is neither permanent nor a cancel.
    pub fn is_transient(&self) -> bool {
        !self.is_permanent() && !matches!(self, Error::Cancelled)
    }

    pub(crate) fn ffmpeg(stage: impl Into<String>) -> impl FnOnce(ffmpeg_next::Error) -> Error {
        let stage = stage.into();
        move |source| Error::Ffmpeg { stage, source }
    }

    pub(crate) fn output(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Output { path, source }
    }
}
