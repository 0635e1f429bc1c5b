//! Typed errors of the cloud executor.

/// Why a profile cannot be rendered, a job cannot be run, or an AWS call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// A profile setting MediaConvert cannot express; named by its field.
    #[error("profile {profile}: field `{field}`: {reason}")]
    Unsupported {
        /// The profile's name.
        profile: String,
        /// The field, e.g. `thumbnails.format`.
        field: String,
        /// Why MediaConvert cannot do it.
        reason: String,
    },
    /// A CreateJob request the local executor cannot run; `field` is its path in the
    /// request (`Settings.OutputGroups[0].Outputs[1].NameModifier`).
    #[error("job: {field}: {reason}")]
    Job {
        /// Where in the request.
        field: String,
        /// Why.
        reason: String,
    },
    /// A location that is not an `s3://bucket/key` URI.
    #[error("{what} {uri:?}: {reason}")]
    BadUri {
        /// Which argument.
        what: &'static str,
        /// As given.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// The AWS configuration chain gave no usable region or credentials.
    #[error("AWS configuration: {0}")]
    Config(String),
    /// An AWS call failed (after the SDK's retries); `message` is one line: the
    /// service's error code and message, or why the endpoint could not be reached.
    #[error("{action}: {message}")]
    Aws {
        /// What was being done, e.g. `upload s3://raw/uploads/a.mp4`.
        action: String,
        /// Why it failed.
        message: String,
    },
    /// A local file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// MediaConvert refused to read a file (it is not media, or not there): final, not
    /// worth another try.
    #[error("{input}: MediaConvert cannot read it: {message}")]
    Unreadable {
        /// The file.
        input: String,
        /// MediaConvert's answer.
        message: String,
    },
    /// A MediaConvert probe result lacks what a plan needs; `field` is the member's path
    /// in the ProbeResult (`Container.Tracks[0].VideoProperties.FrameRate`).
    #[error("{input}: MediaConvert's probe result: {field}: {reason}")]
    Probe {
        /// The file probed.
        input: String,
        /// Where in the result.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A service the stack needs is not offered in the region asked.
    #[error("{service} is not offered in {region}; it is in: {regions}")]
    NotInRegion {
        /// The service, e.g. `MediaLive`.
        service: String,
        /// The region asked.
        region: String,
        /// The regions that have it, comma-separated.
        regions: String,
    },
    /// A deployed stack's outputs could not be read.
    #[error("stack outputs {path}: {reason}")]
    StackOutputs {
        /// The file given.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
