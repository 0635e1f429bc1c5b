//! The Lambda handlers of the deployed pipeline (`stack.json`): one `bootstrap` binary,
//! the handler chosen by the function's Handler setting (`_HANDLER`).

/// Validates an upload, picks its profile and probes it (Step Functions' first task).
pub const VALIDATE: &str = "validate";
/// Plans an upload from its probe and renders its CreateJob body.
pub const PLAN: &str = "plan";
/// Records MediaConvert job state changes in the job table.
pub const JOB_STATE: &str = "job-state";
/// Answers the upload and status API (`/api/...`) behind API Gateway.
pub const API: &str = "api";
/// Lets API requests through that carry the API token (API Gateway's authorizer).
pub const AUTHORIZE: &str = "authorize";
/// Keeps the status table in step with uploads, jobs and rejections.
pub const STATUS: &str = "status";
/// Every handler the crate implements.
pub const HANDLERS: &[&str] = &[VALIDATE, PLAN, JOB_STATE, API, AUTHORIZE, STATUS];

pub mod api;
pub mod authorize;
pub mod job_state;
pub mod plan;
pub mod status;
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
        API => {
            let s3 = aws_sdk_s3::Client::new(&shared);
            let ddb = aws_sdk_dynamodb::Client::new(&shared);
            let settings = api::Settings::from_env()?;
            let signer = api::Signer::of(&shared)?;
            let clients = api::Clients {
                s3: &s3,
                ddb: &ddb,
                signer: &signer,
            };
            let settings = &settings;
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                Ok::<Value, lambda_runtime::Error>(api::handle(clients, settings, &e.payload).await)
            }))
            .await
        }
        AUTHORIZE => {
            // Read once per instance: a rotated token reaches new instances, and old
            // ones within the authorizer's cache time of their end.
            let secrets = aws_sdk_secretsmanager::Client::new(&shared);
            let id = env_var("API_TOKEN_SECRET")?;
            let token = secrets
                .get_secret_value()
                .secret_id(&id)
                .send()
                .await
                .map_err(|e| format!("read the API token {id}: {}", crate::aws::describe(&e)))?
                .secret_string()
                .map(str::trim)
                .unwrap_or_default()
                .to_string();
            let token = &token;
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                Ok::<Value, lambda_runtime::Error>(authorize::handle(token, &e.payload))
            }))
            .await
        }
        STATUS => {
            let ddb = aws_sdk_dynamodb::Client::new(&shared);
            let s3 = aws_sdk_s3::Client::new(&shared);
            let settings = status::Settings::from_env()?;
            let (ddb, s3, settings) = (&ddb, &s3, &settings);
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
                status::handle(ddb, s3, settings, &e.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }))
            .await
        }
        other => Err(format!("unknown handler {other:?}; known: {}", HANDLERS.join(", ")).into()),
    }
}
