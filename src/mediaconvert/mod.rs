//! The MediaConvert API on localhost (`mpe mediaconvert serve`): jobs, job templates,
//! presets, queues, DescribeEndpoints and Probe at MediaConvert's REST paths with its
//! camelCase wire JSON, kept in a SQLite store, running each job with the engine and
//! reading and writing `s3://` through an S3 endpoint. It lives in the binary: it needs
//! both the engine and the cloud crate.

pub mod api;
pub mod http;
pub mod runner;
pub mod s3;
pub mod server;
pub mod store;

pub use server::{serve, ServeOptions};
