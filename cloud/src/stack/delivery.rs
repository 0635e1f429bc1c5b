//! Delivery: the CloudFront distribution in front of the media and thumbnails buckets.

use serde_json::{json, Value};

use super::{att, name, ref_, skip, tags, Resources};

pub(super) fn add(res: &mut Resources) {
    res.add(
        "OriginAccessControl",
        "AWS::CloudFront::OriginAccessControl",
        json!({
            "OriginAccessControlConfig": {
                "Name": name("oac"),
                "Description": "CloudFront reads the media and thumbnails buckets",
                "OriginAccessControlOriginType": "s3",
                "SigningBehavior": "always",
                "SigningProtocol": "sigv4",
            },
        }),
    );
    cache_policy(
        res,
        "MediaCachePolicy",
        "media-cache",
        "Immutable media segments and thumbnails",
        (86400, 31_536_000),
        json!({ "HeaderBehavior": "none" }),
        "none",
    );
    res.add(
        "PlayerResponseHeadersPolicy",
        "AWS::CloudFront::ResponseHeadersPolicy",
        json!({
            "ResponseHeadersPolicyConfig": {
                "Name": name("player-headers"),
                "Comment": "CORS for web players, security headers",
                "CorsConfig": {
                    "AccessControlAllowCredentials": false,
                    "AccessControlAllowHeaders": {
                        "Items": ["Range", "Origin", "Accept", "Content-Type"],
                    },
                    "AccessControlAllowMethods": { "Items": ["GET", "HEAD", "OPTIONS"] },
                    "AccessControlAllowOrigins": { "Items": ref_("PlayerOrigins") },
                    "AccessControlExposeHeaders": {
                        "Items": ["Content-Length", "Content-Range", "ETag"],
                    },
                    "AccessControlMaxAgeSec": 600,
                    "OriginOverride": true,
                },
                "SecurityHeadersConfig": {
                    "ContentTypeOptions": { "Override": true },
                    "ReferrerPolicy": {
                        "ReferrerPolicy": "strict-origin-when-cross-origin",
                        "Override": true,
                    },
                    "StrictTransportSecurity": {
                        "AccessControlMaxAgeSec": 31_536_000,
                        "IncludeSubdomains": true,
                        "Override": true,
                    },
                },
            },
        }),
    );
    // The job templates write frame captures to the thumbnails bucket under the asset's
    // folder (`<asset>/thumbnails/`), everything else to the media bucket: one URL tree.
    let mut thumbnails = behavior("thumbnails");
    thumbnails["PathPattern"] = json!("*/thumbnails/*");
    res.add(
        "Distribution",
        "AWS::CloudFront::Distribution",
        json!({
            "DistributionConfig": {
                "Comment": name("media"),
                "Enabled": true,
                "HttpVersion": "http2and3",
                "IPV6Enabled": true,
                "PriceClass": "PriceClass_100",
                "DefaultRootObject": "index.html",
                "Origins": [
                    s3_origin("media", "MediaBucket"),
                    s3_origin("thumbnails", "ThumbnailsBucket"),
                ],
                "DefaultCacheBehavior": behavior("media"),
                "CacheBehaviors": [thumbnails],
                "Logging": logging("cloudfront/"),
                "ViewerCertificate": { "CloudFrontDefaultCertificate": true },
            },
            "Tags": tags(),
        }),
    )
    .metadata(skip(&[
        (
            "CKV_AWS_68",
            "A CloudFront-scope WAFv2 WebACL can only be created in us-east-1 and the Rules pin \
             this stack to AllowedRegion; attach a WebACL from a us-east-1 stack if the media \
             needs one",
        ),
        (
            "CKV_AWS_174",
            "The distribution serves the *.cloudfront.net name with the default certificate, for \
             which CloudFront fixes the security policy; a TLSv1.2_2021 policy needs a custom \
             domain and a us-east-1 ACM certificate, which this stack does not take",
        ),
    ]));
}

/// A cache behavior: read-only methods, HTTPS, the media cache and player headers.
fn behavior(origin_id: &str) -> Value {
    json!({
        "TargetOriginId": origin_id,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": ["GET", "HEAD", "OPTIONS"],
        "CachedMethods": ["GET", "HEAD", "OPTIONS"],
        "Compress": true,
        "CachePolicyId": ref_("MediaCachePolicy"),
        "ResponseHeadersPolicyId": ref_("PlayerResponseHeadersPolicy"),
    })
}

/// A bucket origin read through the origin access control (no legacy OAI).
fn s3_origin(origin_id: &str, bucket_id: &str) -> Value {
    json!({
        "Id": origin_id,
        "DomainName": att(bucket_id, "RegionalDomainName"),
        "S3OriginConfig": { "OriginAccessIdentity": "" },
        "OriginAccessControlId": att("OriginAccessControl", "Id"),
    })
}

/// A cache policy: `ttl` (default, max) seconds, compressed variants cached apart, no
/// cookies, `headers` and the query strings (`query`: none or all) in the key.
pub(super) fn cache_policy(
    res: &mut Resources,
    id: &str,
    kind: &str,
    comment: &str,
    ttl: (u32, u32),
    headers: Value,
    query: &str,
) {
    res.add(
        id,
        "AWS::CloudFront::CachePolicy",
        json!({
            "CachePolicyConfig": {
                "Name": name(kind),
                "Comment": comment,
                "DefaultTTL": ttl.0,
                "MaxTTL": ttl.1,
                "MinTTL": 0,
                "ParametersInCacheKeyAndForwardedToOrigin": {
                    "EnableAcceptEncodingGzip": true,
                    "EnableAcceptEncodingBrotli": true,
                    "CookiesConfig": { "CookieBehavior": "none" },
                    "HeadersConfig": headers,
                    "QueryStringsConfig": { "QueryStringBehavior": query },
                },
            },
        }),
    );
}

/// A distribution's standard logs, under `prefix` in the access-log bucket or the one the
/// parameter names (CloudFront does not deliver them to buckets in opt-in regions).
pub(super) fn logging(prefix: &str) -> Value {
    json!({
        "Bucket": {
            "Fn::If": [
                "UseStackLogBucketForCloudFront",
                att("AccessLogBucket", "DomainName"),
                ref_("CloudFrontLogBucketDomain"),
            ],
        },
        "Prefix": prefix,
        "IncludeCookies": false,
    })
}
