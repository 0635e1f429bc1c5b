//! The MediaConvert API on localhost (`mpe mediaconvert serve`): CreateJob, GetJob,
//! ListJobs, CancelJob and Probe at MediaConvert's REST paths with its camelCase wire JSON,
//! running each job with the engine and reading and writing `s3://` through an S3
//! endpoint. It lives in the binary: it needs both the engine and the cloud crate.

pub mod s3;
pub mod server;

pub use server::{serve, ServeOptions};
