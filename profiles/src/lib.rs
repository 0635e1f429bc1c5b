//! The ladder model shared by both executors of mpe: profiles, media facts, plans and
//! output names.
//!
//! This crate is pure data. It never links FFmpeg and never talks to AWS: the engine
//! (local) and the cloud crate (MediaConvert) both depend on it, and neither depends on
//! the other. Everything that must be identical between local and cloud output (which
//! renditions apply to a source, what the files are called) is decided here, once.

pub mod clip;
pub mod error;
pub mod media;
pub mod naming;
pub mod pictures;
pub mod plan;
pub mod profile;
pub mod timespec;
pub mod trickplay;

pub use clip::{Clip, ClipWindow, Timecode, TimecodeError, TimecodeOrigin};
pub use error::{PlanError, ProfileError, TimeError};
pub use media::{AudioStream, MediaInfo, SubtitleStream, VideoStream};
pub use pictures::{
    AnimatedWebpSettings, ImageFormat, PreviewSettings, ThumbnailSettings, TrickPlaySettings,
};
pub use plan::{
    plan, Placement, Plan, PlannedAnimation, PlannedAudio, PlannedPreview, PlannedRendition,
    PlannedThumbnails, PlannedTrickPlay,
};
pub use profile::{
    AudioSettings, EncoderTuning, H264Profile, HlsGroupSettings, InputFilter, OutputGroups,
    OutputSize, Profile, ProgramDateTime, RateControl, Rendition, Scaling, TransportStream,
    VideoSettings, X264Preset,
};
pub use timespec::TimeSpec;
