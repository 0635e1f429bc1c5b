//! The Lambda handlers of the deployed pipeline (`stack.json`): one `bootstrap` binary,
//! the handler chosen by the function's Handler setting (`_HANDLER`).

/// Validates an upload, picks its profile and probes it (Step Functions' first task).
pub const VALIDATE: &str = "validate";
/// Plans an upload from its probe and renders its CreateJob body.
pub const PLAN: &str = "plan";
/// Records MediaConvert job state changes in the job table.
pub const JOB_STATE: &str = "job-state";
/// Returns a presigned PUT URL for a new upload (a Function URL).
pub const UPLOAD_URL: &str = "upload-url";
/// Every handler the crate implements.
pub const HANDLERS: &[&str] = &[VALIDATE, PLAN, JOB_STATE, UPLOAD_URL];

pub mod job_state;
pub mod plan;
pub mod upload_url;
pub mod validate;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::error::CloudError;

/// A required setting from the function's environment.
pub(crate) fn env_var(key: &str) -> Result<String, CloudError> {
    std::env::var(key)
        .map_err(|_| CloudError::Config(format!("environment variable {key} is not set")))
}

/// A comma-separated list from the environment (empty when unset).
pub(crate) fn env_list(key: &str) -> Vec<String> {
    std::env::var(key)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs the Lambda Runtime API loop for `handler` (the function's `_HANDLER`), with
/// clients from the function's role; returns when the runtime stops.
pub async fn serve(handler: &str) -> Result<(), lambda_runtime::Error> {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::aws::http_client())
        .load()
        .await;
    match handler {
        VALIDATE => {
            let s3 = aws_sdk_s3::Client::new(&shared);
            let mc = aws_sdk_mediaconvert::Client::new(&shared);
            let settings = validate::Settings::from_env()?;
            let (s3, mc, settings) = (&s3, &mc, &settings);
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                validate::handle(s3, mc, settings, &e.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }))
            .await
        }
        PLAN => {
            let settings = plan::Settings::from_env()?;
            let settings = &settings;
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                Ok::<Value, lambda_runtime::Error>(plan::plan(settings, &e.payload))
            }))
            .await
        }
        JOB_STATE => {
            let ddb = aws_sdk_dynamodb::Client::new(&shared);
            let table = env_var("JOB_TABLE")?;
            let (ddb, table) = (&ddb, table.as_str());
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                job_state::handle(ddb, table, &e.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }))
            .await
        }
        UPLOAD_URL => {
            let s3 = aws_sdk_s3::Client::new(&shared);
            let settings = upload_url::Settings::from_env()?;
            let (s3, settings) = (&s3, &settings);
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                upload_url::handle(s3, settings, &e.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }))
            .await
        }
        other => Err(format!("unknown handler {other:?}; known: {}", HANDLERS.join(", ")).into()),
    }
}
