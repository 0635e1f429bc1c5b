//! `bootstrap` of the pipeline's Lambda functions (provided.al2023): runs the handler the
//! function's Handler setting names (`_HANDLER`: validate, plan, job-state, api, authorize or status).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    mpe_cloud::lambda::serve(&handler).await
}
