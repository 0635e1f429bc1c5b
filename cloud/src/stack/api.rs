//! The upload and status API and its web page: the status table, the API token in
//! Secrets Manager, the API Gateway HTTP API (routes, the token authorizers, the `api`
//! integration), the rule that keeps the status table in step, and the web distribution
//! that serves the page from the web bucket and `/api/*` from the HTTP API on one origin.

use serde_json::{json, Value};

use super::delivery::{cache_policy, logging};
use super::{att, key_arn, name, ref_, skip, sub, tag_map, tags, Resources};
use crate::status_table::{BY_TIME, BY_UPLOAD};

/// The API's routes, by logical id, route key and the authorizer that guards them (the
/// event stream takes its token in the query: an EventSource sends no headers).
const ROUTES: [(&str, &str, &str); 5] = [
    ("UploadsRoute", "POST /api/uploads", "HeaderAuthorizer"),
    (
        "PartsRoute",
        "GET /api/uploads/{uploadId}/parts",
        "HeaderAuthorizer",
    ),
    ("StatusListRoute", "GET /api/status", "HeaderAuthorizer"),
    (
        "StatusRoute",
        "GET /api/status/{fileName}",
        "HeaderAuthorizer",
    ),
    ("EventsRoute", "GET /api/events", "QueryAuthorizer"),
];

/// AWS's managed origin request policy AllViewerExceptHostHeader: the API sees the
/// viewer's headers and query, and API Gateway its own host name.
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The viewer-request function of the web distribution: the page's paths to its files.
const PAGES_FUNCTION: &str = "function handler(event) {\n\
  var r = event.request;\n\
  if (r.uri === '/' || r.uri === '/index.html') { r.uri = '/web/index.html'; }\n\
  else if (r.uri.indexOf('/play/') === 0) { r.uri = '/web/play.html'; }\n\
  return r;\n\
}\n";

pub(super) fn add(res: &mut Resources) {
    status_table(res);
    token(res);
    http_api(res);
    status_rule(res);
    web_distribution(res);
}

/// One record per file name; the indexes find an upload's record and order them by
/// their last change.
fn status_table(res: &mut Resources) {
    super::records::table(
        res,
        "StatusTable",
        "status",
        json!([
            { "AttributeName": "FileName", "AttributeType": "S" },
            { "AttributeName": "UploadId", "AttributeType": "S" },
            { "AttributeName": "Kind", "AttributeType": "S" },
            { "AttributeName": "UpdatedAt", "AttributeType": "S" },
        ]),
        "FileName",
        json!([
            {
                "IndexName": BY_UPLOAD,
                "KeySchema": [{ "AttributeName": "UploadId", "KeyType": "HASH" }],
                "Projection": { "ProjectionType": "ALL" },
            },
            {
                "IndexName": BY_TIME,
                "KeySchema": [
                    { "AttributeName": "Kind", "KeyType": "HASH" },
                    { "AttributeName": "UpdatedAt", "KeyType": "RANGE" },
                ],
                "Projection": { "ProjectionType": "ALL" },
            },
        ]),
    );
}

fn token(res: &mut Resources) {
    res.add(
        "ApiTokenSecret",
        "AWS::SecretsManager::Secret",
        json!({
            "Name": name("api-token"),
            "Description": "Bearer token of the upload and status API (and its web page)",
            "GenerateSecretString": { "PasswordLength": 40, "ExcludePunctuation": true },
            "KmsKeyId": key_arn(),
            "Tags": tags(),
        }),
    );
}

fn http_api(res: &mut Resources) {
    res.add(
        "HttpApi",
        "AWS::ApiGatewayV2::Api",
        json!({
            "Name": name("api"),
            "Description": "mpe upload and status API",
            "ProtocolType": "HTTP",
            // The token, not a cookie, authorises: the page on another origin (a dev
            // server) may call it, as it may call mpe serve.
            "CorsConfiguration": {
                "AllowOrigins": ["*"],
                "AllowMethods": ["GET", "POST", "OPTIONS"],
                "AllowHeaders": ["authorization", "content-type", "last-event-id"],
                "MaxAge": 600,
            },
            "Tags": tag_map(),
        }),
    );
    res.add(
        "ApiAccessLogGroup",
        "AWS::Logs::LogGroup",
        json!({
            "LogGroupName": sub("/aws/apigateway/mpe-api-${EnvironmentSuffix}"),
            "RetentionInDays": ref_("LogRetentionDays"),
            "KmsKeyId": key_arn(),
            "Tags": tags(),
        }),
    );
    res.add(
        "ApiStage",
        "AWS::ApiGatewayV2::Stage",
        json!({
            "ApiId": ref_("HttpApi"),
            "StageName": "$default",
            "AutoDeploy": true,
            "DefaultRouteSettings": { "ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50 },
            "AccessLogSettings": {
                "DestinationArn": att("ApiAccessLogGroup", "Arn"),
                "Format": "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\
                    \"time\":\"$context.requestTime\",\"route\":\"$context.routeKey\",\
                    \"status\":\"$context.status\",\"authorizerError\":\"$context.authorizer.error\",\
                    \"integrationError\":\"$context.integrationErrorMessage\"}",
            },
            "Tags": tag_map(),
        }),
    );
    res.add(
        "ApiIntegration",
        "AWS::ApiGatewayV2::Integration",
        json!({
            "ApiId": ref_("HttpApi"),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": att("ApiFunction", "Arn"),
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": 10000,
        }),
    );
    let authorize_uri = sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/\
         ${AuthorizeFunction.Arn}/invocations",
    );
    // A missing token is refused by API Gateway itself (401), a wrong one by the
    // authorizer (403), as mpe serve answers them.
    for (id, source) in [
        ("HeaderAuthorizer", "$request.header.Authorization"),
        ("QueryAuthorizer", "$request.querystring.token"),
    ] {
        res.add(
            id,
            "AWS::ApiGatewayV2::Authorizer",
            json!({
                "ApiId": ref_("HttpApi"),
                "Name": name(&id.to_ascii_lowercase()),
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": authorize_uri.clone(),
                "AuthorizerPayloadFormatVersion": "2.0",
                "EnableSimpleResponses": true,
                "IdentitySource": [source],
                "AuthorizerResultTtlInSeconds": 300,
            }),
        );
    }
    for (id, key, authorizer) in ROUTES {
        res.add(
            id,
            "AWS::ApiGatewayV2::Route",
            json!({
                "ApiId": ref_("HttpApi"),
                "RouteKey": key,
                "AuthorizationType": "CUSTOM",
                "AuthorizerId": ref_(authorizer),
                "Target": sub("integrations/${ApiIntegration}"),
            }),
        );
    }
    let from_api = |suffix: &str| {
        sub(&format!(
            "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{HttpApi}}/{suffix}"
        ))
    };
    for (id, function, source) in [
        ("ApiInvokePermission", "ApiFunction", from_api("*")),
        (
            "AuthorizeInvokePermission",
            "AuthorizeFunction",
            from_api("authorizers/*"),
        ),
    ] {
        res.add(
            id,
            "AWS::Lambda::Permission",
            json!({
                "FunctionName": att(function, "Arn"),
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceAccount": ref_("AWS::AccountId"),
                "SourceArn": source,
            }),
        );
    }
}

/// Uploads complete in the raw bucket, and this queue's job state changes, reach the
/// `status` function: one rule each (a pattern per source).
fn status_rule(res: &mut Resources) {
    let rules = [
        (
            "StatusUploadRule",
            "upload-status",
            "Completed uploads under uploads/ mark their status UPLOADED",
            json!({
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": { "name": [ref_("RawBucket")] },
                    "object": { "key": [{ "prefix": "uploads/" }] },
                },
            }),
        ),
        (
            "StatusJobRule",
            "job-status",
            "Every state change of this stack's MediaConvert jobs moves their upload's status",
            json!({
                "source": ["aws.mediaconvert"],
                "detail-type": ["MediaConvert Job State Change"],
                "detail": { "queue": [att("MediaConvertQueue", "Arn")] },
            }),
        ),
    ];
    for (id, kind, description, pattern) in rules {
        res.add(
            id,
            "AWS::Events::Rule",
            json!({
                "Name": name(kind),
                "Description": description,
                "State": "ENABLED",
                "EventPattern": pattern,
                "Targets": [{
                    "Id": "status",
                    "Arn": att("StatusFunction", "Arn"),
                    "RetryPolicy": { "MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600 },
                    "DeadLetterConfig": { "Arn": att("DeadLetterQueue", "Arn") },
                }],
                "Tags": tags(),
            }),
        );
        res.add(
            &format!("{id}InvokePermission"),
            "AWS::Lambda::Permission",
            json!({
                "FunctionName": att("StatusFunction", "Arn"),
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceAccount": ref_("AWS::AccountId"),
                "SourceArn": att(id, "Arn"),
            }),
        );
    }
}

fn web_distribution(res: &mut Resources) {
    res.add(
        "WebPagesFunction",
        "AWS::CloudFront::Function",
        json!({
            "Name": name("web-pages"),
            "AutoPublish": true,
            "FunctionConfig": {
                "Comment": "The web page's paths (/, /play/{fileName}) to its files",
                "Runtime": "cloudfront-js-2.0",
            },
            "FunctionCode": PAGES_FUNCTION,
            "Tags": tags(),
        }),
    );
    cache_policy(
        res,
        "WebCachePolicy",
        "web-cache",
        "The web page's files: a minute, so that a new publish shows soon",
        (60, 3600),
        json!({ "HeaderBehavior": "none" }),
        "none",
    );
    // CloudFront forwards Authorization only when the cache key holds it; the API
    // answers `Cache-Control: no-store`, so nothing is kept all the same.
    cache_policy(
        res,
        "ApiCachePolicy",
        "api-cache",
        "The API: never cached, the token passed on",
        (0, 1),
        json!({ "HeaderBehavior": "whitelist", "Headers": ["Authorization"] }),
        "all",
    );
    res.add(
        "WebDistribution",
        "AWS::CloudFront::Distribution",
        json!({
            "DistributionConfig": {
                "Comment": name("web"),
                "Enabled": true,
                "HttpVersion": "http2and3",
                "IPV6Enabled": true,
                "PriceClass": "PriceClass_100",
                "Origins": [
                    {
                        "Id": "web",
                        "DomainName": att("WebBucket", "RegionalDomainName"),
                        "S3OriginConfig": { "OriginAccessIdentity": "" },
                        "OriginAccessControlId": att("OriginAccessControl", "Id"),
                    },
                    {
                        "Id": "api",
                        "DomainName": sub("${HttpApi}.execute-api.${AWS::Region}.amazonaws.com"),
                        "CustomOriginConfig": {
                            "OriginProtocolPolicy": "https-only",
                            "OriginSSLProtocols": ["TLSv1.2"],
                        },
                    },
                ],
                "DefaultCacheBehavior": {
                    "TargetOriginId": "web",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": ["GET", "HEAD"],
                    "CachedMethods": ["GET", "HEAD"],
                    "Compress": true,
                    "CachePolicyId": ref_("WebCachePolicy"),
                    "FunctionAssociations": [{
                        "EventType": "viewer-request",
                        "FunctionARN": att("WebPagesFunction", "FunctionARN"),
                    }],
                },
                "CacheBehaviors": [{
                    "PathPattern": "/api/*",
                    "TargetOriginId": "api",
                    "ViewerProtocolPolicy": "https-only",
                    "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                    "CachedMethods": ["GET", "HEAD"],
                    "Compress": false,
                    "CachePolicyId": ref_("ApiCachePolicy"),
                    "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
                }],
                "Logging": logging("cloudfront-web/"),
                "ViewerCertificate": { "CloudFrontDefaultCertificate": true },
            },
            "Tags": tags(),
        }),
    )
    .metadata(skip(&[
        (
            "CKV_AWS_68",
            "As for the media distribution: a CloudFront WebACL lives in us-east-1, which the \
             Rules keep this stack out of; the API behind it checks a token on every request",
        ),
        (
            "CKV_AWS_174",
            "As for the media distribution: the default *.cloudfront.net certificate fixes the \
             security policy",
        ),
    ]));
}

/// The stack's outputs for the API and the page.
pub(super) fn outputs() -> Vec<(&'static str, Value)> {
    let out =
        |description: &str, value: Value| json!({ "Description": description, "Value": value });
    vec![
        (
            "WebUrl",
            out(
                "The upload page (add #token=... from the ApiTokenSecret)",
                sub("https://${WebDistribution.DomainName}/"),
            ),
        ),
        (
            "ApiUrl",
            out(
                "The upload and status API",
                sub("https://${WebDistribution.DomainName}/api/"),
            ),
        ),
        (
            "WebBucketName",
            out(
                "Bucket of the web page's files (scripts/publish-web.sh)",
                ref_("WebBucket"),
            ),
        ),
        (
            "StatusTableName",
            out("Upload status records", ref_("StatusTable")),
        ),
        (
            "ApiTokenSecretArn",
            out("Secret holding the API token", ref_("ApiTokenSecret")),
        ),
    ]
}
