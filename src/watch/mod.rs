//! mpe's local pipeline, the one-machine twin of the AWS workflow (S3 upload ->
//! EventBridge -> Step Functions -> MediaConvert -> DynamoDB record -> SNS, SQS DLQ):
//! a watch folder, a SQLite job store, retries with backoff, a failure queue, and
//! MediaConvert-shaped state-change events.

//!
//! It lives in the binary, as the design has it: it drives the engine and owns files and
//! a database, and no other crate needs it.

pub mod error;
pub mod events;
pub mod ingest;
pub mod runner;
pub mod store;

pub use ingest::DEFAULT_EXTENSIONS;
pub use runner::{watch, Jobs, WatchOptions};
pub use store::{Job, Status};
