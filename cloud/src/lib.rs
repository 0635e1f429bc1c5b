//! The cloud executor of a profile: AWS Elemental MediaConvert.
//!
//! This crate renders profiles into MediaConvert jobs and talks to AWS. It never links
//! FFmpeg, so that it can be built into a small Lambda. Its work is tracked in the cloud
//! issue; for now it only re-exports the profile model it will render from.

pub use profiles;
