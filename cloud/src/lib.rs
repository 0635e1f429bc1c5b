//! The cloud executor of a profile: AWS Elemental MediaConvert.
//!
//! This crate renders profiles into MediaConvert jobs and job templates, in the JSON the
//! MediaConvert console and CLI use, with output names that are the ones the `profiles`
//! crate gives and the engine writes; it uploads sources to S3 and submits and follows
//! jobs through the AWS SDK. It never links FFmpeg, so that it can be built into a small
//! Lambda.

pub mod api;
pub mod aws;
pub mod client;
pub mod deployment;
pub mod error;
pub mod job;
pub mod lambda;
pub mod mediaconvert;
pub mod medialive;
pub mod model;
pub mod probe;
pub mod stack;
pub mod status_table;
pub mod template;
pub mod trickplay;
pub mod upload;
pub mod wire;

pub use aws::{clients, Clients, Endpoints};
pub use client::JobState;
pub use error::CloudError;
pub use job::{check_request, parse_job, JobWarning, JoinedInput, LocalJob};
pub use mediaconvert::{render_job, render_template, JobRequest};
pub use profiles;
pub use upload::{upload, UploadOptions, Uploaded};
