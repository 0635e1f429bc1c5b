//! Typed errors of the cloud executor.

/// Why a profile cannot be rendered or a job cannot be run.
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
}
