//! AWS clients from the usual configuration chain (environment, profiles, SSO, IMDS),
//! with mpe's overrides, and one-line descriptions of SDK errors.

use std::error::Error as StdError;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::CloudError;

/// Where to reach AWS; every field left `None` comes from the configuration chain.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// The region (else `AWS_REGION`, the profile's region...).
    pub region: Option<String>,
    /// An S3 endpoint (a local S3 API server, a VPC endpoint). Requests to it use
    /// path-style addressing, which every S3 implementation serves.
    pub s3: Option<String>,
    /// A MediaConvert endpoint (`mpe mediaconvert serve`, an account endpoint).
    pub mediaconvert: Option<String>,
    /// Attempts per request, throttling and transient network errors included
    /// (the SDK's standard retry mode: exponential backoff with jitter).
    pub max_attempts: u32,
}

/// The two clients `mpe cloud` uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3, for the upload.
    pub s3: aws_sdk_s3::Client,
    /// MediaConvert, for jobs.
    pub mediaconvert: aws_sdk_mediaconvert::Client,
    /// The region the clients use.
    pub region: String,
}

/// Loads the configuration chain and builds the clients. Fails early, in one line, when
/// there is no region or no credentials, rather than after a long upload.
pub async fn clients(e: &Endpoints) -> Result<Clients, CloudError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(e.max_attempts.max(1)));
    if let Some(r) = &e.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let shared = loader.load().await;
    let Some(region) = shared.region().map(|r| r.to_string()) else {
        return Err(CloudError::Config(
            "no region: pass --region, or set AWS_REGION or a region in the AWS profile".into(),
        ));
    };
    let Some(creds) = shared.credentials_provider() else {
        return Err(CloudError::Config("no credentials provider".into()));
    };
    {
        use aws_sdk_s3::config::ProvideCredentials;
        creds.provide_credentials().await.map_err(|err| {
            CloudError::Config(format!(
                "no credentials: {} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run `aws sso login`)",
                one_line(&DisplayErrorContext(&err).to_string())
            ))
        })?;
    }
    let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(url) = &e.s3 {
        s3 = s3.endpoint_url(url).force_path_style(true);
    }
    let mut mc = aws_sdk_mediaconvert::config::Builder::from(&shared);
    if let Some(url) = &e.mediaconvert {
        mc = mc.endpoint_url(url);
    }
    Ok(Clients {
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        mediaconvert: aws_sdk_mediaconvert::Client::from_conf(mc.build()),
        region,
    })
}

/// The HTTPS client every AWS client here uses (hyper, rustls with ring, the system's
/// root certificates), and the credential and SSO providers of the configuration chain
/// with them. Like the SDK's own default client it honours `HTTPS_PROXY`, `HTTP_PROXY`
/// and `NO_PROXY`, and takes timeouts and the async sleep from each client's settings.
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            connector.set_sleep_impl(c.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// One line for an SDK error: the service's code and message, or the reason a request
/// never got an answer (unreachable endpoint, timeout, no credentials).
pub(crate) fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let text = match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            let message = e.message().filter(|m| !m.trim().is_empty());
            match (e.code(), message) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => format!("{code} (HTTP {})", s.raw().status().as_u16()),
                (None, Some(msg)) => msg.to_string(),
                (None, None) => format!("service error {:?}", s.raw()),
            }
        }
        SdkError::DispatchFailure(d) => {
            let why = innermost(err).unwrap_or_else(|| DisplayErrorContext(err).to_string());
            if d.is_io() || d.is_timeout() {
                format!("endpoint unreachable: {why}")
            } else {
                why
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        _ => DisplayErrorContext(err).to_string(),
    };
    one_line(&text)
}

/// The deepest cause in an error's chain: for a refused connection, "Connection refused
/// (os error 111)" rather than the layers of client plumbing around it.
fn innermost(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut cur = err.source()?;
    while let Some(next) = cur.source() {
        cur = next;
    }
    Some(cur.to_string())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
