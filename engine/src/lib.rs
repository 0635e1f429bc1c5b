//! mpe's local executor: probe a source, decode it once, scale and encode every rung of
//! the ladder concurrently, and package the result as MediaConvert would.
//!
//! FFmpeg is reached through ffmpeg-next. This crate never knows about AWS; output names
//! come from the `profiles` crate so that local and cloud trees are interchangeable.

pub mod codecs;
pub mod dash;
pub mod error;
pub mod hls;
pub mod metadata;
pub mod probe;
pub mod progress;
pub mod stages;
pub mod thumbs;
pub mod transcode;
pub mod trickplay;

mod animation;
mod audio;
mod blend;
mod capture;
mod chunks;
mod clock;
mod decode;
mod filters;
mod mux;
mod package;
mod picture;
mod pipeline;
mod publish;
mod rung;
mod scale;
mod sidx;
mod uri;

pub use capture::Thumbnail;
pub use error::Error;
pub use probe::probe;
pub use progress::Progress;
pub use thumbs::{thumbs, ThumbsOptions, ThumbsReport};
pub use transcode::{transcode, Chunks, Joined, OutputFile, TranscodeOptions, TranscodeReport};

/// Initialises FFmpeg once and quiets its own logging (mpe reports errors itself).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Registration cannot fail on FFmpeg >= 4; an Err here only means "already done".
        let _ = ffmpeg_next::init();
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}
