//! The customer managed key, the six buckets and their bucket policies.

use serde_json::{json, Value};

use super::iam::{deny_insecure_transport, doc, stmt, Stmt, KEY_USE};
use super::{att, bucket_name, key_arn, ref_, skip, sub, tags, Resources};

/// Objects of a bucket under `prefix` (`*` for all).
pub(super) fn objects(bucket_id: &str, prefix: &str) -> Value {
    sub(&format!("${{{bucket_id}.Arn}}/{prefix}"))
}

/// The stack's trail, by ARN: the trail itself needs the bucket policy first, so the
/// policies name it by its known ARN rather than by reference.
fn trail_arn() -> Value {
    sub(
        "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:\
         trail/mpe-trail-${EnvironmentSuffix}",
    )
}

pub(super) fn add(res: &mut Resources) {
    key(res);
    buckets(res);
}

fn key(res: &mut Resources) {
    let account_root = json!({ "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") });
    let via = |service: &str| sub(&format!("{service}.${{AWS::Region}}.amazonaws.com"));
    let key_use_and_describe: Vec<&str> =
        KEY_USE.iter().copied().chain(["kms:DescribeKey"]).collect();
    // In a key policy "Resource": "*" means "this key"; it is the only form KMS takes.
    let this_key = || json!("*");
    // Secrets Manager keeps the API token.
    let services = ["s3", "sns", "sqs", "dynamodb", "lambda", "secretsmanager"].map(via);
    // The console's key-administrator set, not kms:*.
    let administer = stmt(
        "AllowAccountToAdministerKey",
        &[
            "kms:Create*",
            "kms:Describe*",
            "kms:Enable*",
            "kms:List*",
            "kms:Put*",
            "kms:Update*",
            "kms:Revoke*",
            "kms:Disable*",
            "kms:Get*",
            "kms:Delete*",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion",
            "kms:RotateKeyOnDemand",
        ],
        this_key(),
    )
    .principal(account_root.clone());
    let through_services = stmt(
        "AllowAccountUseThroughPipelineServices",
        &[
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
            "kms:CreateGrant",
        ],
        this_key(),
    )
    .principal(account_root)
    .condition(json!({
        "StringEquals": {
            "kms:CallerAccount": ref_("AWS::AccountId"),
            "kms:ViaService": services,
        },
    }));
    let roles = stmt(
        "AllowPipelineRolesToUseKey",
        &key_use_and_describe,
        this_key(),
    )
    .principal(json!({
        "AWS": [
            att("ValidateRole", "Arn"),
            att("JobStateRole", "Arn"),
            att("ApiRole", "Arn"),
            att("AuthorizeRole", "Arn"),
            att("StatusRole", "Arn"),
            att("StateMachineRole", "Arn"),
            att("MediaConvertRole", "Arn"),
        ],
    }));
    let logs = stmt(
        "AllowCloudWatchLogs",
        &[
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
        ],
        this_key(),
    )
    .principal(json!({ "Service": via("logs") }))
    .condition(json!({
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn":
                sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
        },
    }));
    let trail_encrypt = stmt(
        "AllowCloudTrailToEncryptLogs",
        &["kms:GenerateDataKey"],
        this_key(),
    )
    .principal(json!({ "Service": "cloudtrail.amazonaws.com" }))
    .condition(json!({
        "StringEquals": { "aws:SourceArn": trail_arn() },
        "StringLike": {
            "kms:EncryptionContext:aws:cloudtrail:arn":
                sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"),
        },
    }));
    let trail_describe = stmt(
        "AllowCloudTrailToDescribeKey",
        &["kms:DescribeKey"],
        this_key(),
    )
    .principal(json!({ "Service": "cloudtrail.amazonaws.com" }))
    .condition(json!({ "StringEquals": { "aws:SourceArn": trail_arn() } }));
    let alarms_and_events = stmt(
        "AllowAlarmsAndEventBridgeToUseEncryptedTargets",
        KEY_USE,
        this_key(),
    )
    .principal(json!({ "Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }))
    .condition(json!({ "StringEquals": { "aws:SourceAccount": ref_("AWS::AccountId") } }));
    let cloudfront = stmt(
        "AllowCloudFrontToReadEncryptedMedia",
        &["kms:Decrypt"],
        this_key(),
    )
    .principal(json!({ "Service": "cloudfront.amazonaws.com" }))
    .condition(json!({
        "ArnLike": {
            "aws:SourceArn":
                sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"),
        },
    }));
    let statements = vec![
        administer,
        through_services,
        roles,
        logs,
        trail_encrypt,
        trail_describe,
        alarms_and_events,
        cloudfront,
    ];
    res.add(
        "EncryptionKey",
        "AWS::KMS::Key",
        json!({
            "Description": sub("mpe customer managed key (${EnvironmentSuffix})"),
            "EnableKeyRotation": true,
            "KeySpec": "SYMMETRIC_DEFAULT",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyPolicy": doc(statements),
            "Tags": tags(),
        }),
    );
    res.add(
        "EncryptionKeyAlias",
        "AWS::KMS::Alias",
        json!({
            "AliasName": sub("alias/mpe-${EnvironmentSuffix}"),
            "TargetKeyId": ref_("EncryptionKey"),
        }),
    );
}

/// How a bucket differs from the common shape.
struct Bucket<'a> {
    id: &'a str,
    kind: &'a str,
    encryption: Value,
    /// Prefix in the access-log bucket; None for the access-log bucket itself.
    logging_prefix: Option<&'a str>,
    ownership: &'a str,
    lifecycle_rules: Vec<Value>,
    extra: Vec<(&'a str, Value)>,
    metadata: Option<Value>,
}

impl<'a> Bucket<'a> {
    /// A KMS-encrypted bucket that logs to the access-log bucket.
    fn new(id: &'a str, kind: &'a str, logging_prefix: &'a str) -> Self {
        Bucket {
            id,
            kind,
            encryption: json!({
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key_arn(),
                },
                "BucketKeyEnabled": true,
            }),
            logging_prefix: Some(logging_prefix),
            ownership: "BucketOwnerEnforced",
            lifecycle_rules: Vec::new(),
            extra: Vec::new(),
            metadata: None,
        }
    }

    fn add(self, res: &mut Resources) {
        let mut rules = vec![
            json!({
                "Id": "abort-incomplete-multipart-uploads",
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 },
            }),
            json!({
                "Id": "expire-noncurrent-versions",
                "Status": "Enabled",
                "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
            }),
        ];
        rules.extend(self.lifecycle_rules);
        let mut props = json!({
            "BucketName": bucket_name(self.kind),
            "BucketEncryption": { "ServerSideEncryptionConfiguration": [self.encryption] },
            "VersioningConfiguration": { "Status": "Enabled" },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": { "Rules": [{ "ObjectOwnership": self.ownership }] },
            "LifecycleConfiguration": { "Rules": rules },
            "Tags": tags(),
        });
        if let Some(prefix) = self.logging_prefix {
            props["LoggingConfiguration"] = json!({
                "DestinationBucketName": ref_("AccessLogBucket"),
                "LogFilePrefix": prefix,
            });
        }
        for (k, v) in self.extra {
            props[k] = v;
        }
        let added = res.add(self.id, "AWS::S3::Bucket", props);
        if let Some(m) = self.metadata {
            added.metadata(m);
        }
    }
}

/// A bucket's policy: TLS only, then `statements`.
fn bucket_policy(res: &mut Resources, id: &str, bucket_id: &str, statements: Vec<Stmt>) {
    let mut all = vec![deny_insecure_transport(
        "s3",
        json!([att(bucket_id, "Arn"), objects(bucket_id, "*")]),
    )];
    all.extend(statements);
    res.add(
        id,
        "AWS::S3::BucketPolicy",
        json!({ "Bucket": ref_(bucket_id), "PolicyDocument": doc(all) }),
    );
}

/// CloudFront's `distribution` (through the origin access control) reads the bucket's
/// objects.
fn cloudfront_read(bucket_id: &str, distribution: &str) -> Stmt {
    stmt(
        "AllowCloudFrontOriginAccessControlRead",
        &["s3:GetObject"],
        objects(bucket_id, "*"),
    )
    .principal(json!({ "Service": "cloudfront.amazonaws.com" }))
    .condition(json!({
        "StringEquals": {
            "AWS:SourceArn":
                sub(&format!(
                    "arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:\
                     distribution/${{{distribution}}}"
                )),
        },
    }))
}

fn buckets(res: &mut Resources) {
    Bucket {
        // ACLs stay possible here: CloudFront standard logs are delivered with them.
        ownership: "BucketOwnerPreferred",
        encryption: json!({ "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }),
        logging_prefix: None,
        lifecycle_rules: vec![
            json!({ "Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": 365 }),
        ],
        metadata: Some(skip(&[(
            "CKV_AWS_18",
            "This is the access-log target bucket; logging it into itself would loop and another \
             log bucket would only move the problem",
        )])),
        ..Bucket::new("AccessLogBucket", "access-logs", "")
    }
    .add(res);
    bucket_policy(
        res,
        "AccessLogBucketPolicy",
        "AccessLogBucket",
        vec![stmt(
            "AllowS3ServerAccessLogDelivery",
            &["s3:PutObject"],
            objects("AccessLogBucket", "s3/*"),
        )
        .principal(json!({ "Service": "logging.s3.amazonaws.com" }))
        .condition(json!({
            "StringEquals": { "aws:SourceAccount": ref_("AWS::AccountId") },
            "ArnLike": {
                "aws:SourceArn": [
                    att("RawBucket", "Arn"),
                    att("MediaBucket", "Arn"),
                    att("ThumbnailsBucket", "Arn"),
                    att("TrailBucket", "Arn"),
                    att("WebBucket", "Arn"),
                ],
            },
        }))],
    );

    Bucket::new("TrailBucket", "trail", "s3/trail/").add(res);
    bucket_policy(
        res,
        "TrailBucketPolicy",
        "TrailBucket",
        vec![
            stmt(
                "AllowCloudTrailAclCheck",
                &["s3:GetBucketAcl"],
                att("TrailBucket", "Arn"),
            )
            .principal(json!({ "Service": "cloudtrail.amazonaws.com" }))
            .condition(json!({ "StringEquals": { "aws:SourceArn": trail_arn() } })),
            stmt(
                "AllowCloudTrailWrite",
                &["s3:PutObject"],
                objects("TrailBucket", "AWSLogs/${AWS::AccountId}/*"),
            )
            .principal(json!({ "Service": "cloudtrail.amazonaws.com" }))
            .condition(json!({
                "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": trail_arn(),
                },
            })),
        ],
    );

    Bucket {
        extra: vec![
            (
                "AccelerateConfiguration",
                json!({ "AccelerationStatus": "Enabled" }),
            ),
            // Uploads start the pipeline through EventBridge.
            (
                "NotificationConfiguration",
                json!({ "EventBridgeConfiguration": { "EventBridgeEnabled": true } }),
            ),
            // The web page uploads straight to presigned URLs: only its origin may, and
            // it reads each part's ETag to complete the upload.
            (
                "CorsConfiguration",
                json!({ "CorsRules": [{
                    "Id": "web-page-uploads",
                    "AllowedOrigins": [sub("https://${WebDistribution.DomainName}")],
                    "AllowedMethods": ["PUT", "POST"],
                    "AllowedHeaders": ["content-type", "content-md5", "x-amz-*"],
                    "ExposedHeaders": ["ETag"],
                    "MaxAge": 3000,
                }] }),
            ),
        ],
        ..Bucket::new("RawBucket", "raw", "s3/raw/")
    }
    .add(res);
    bucket_policy(res, "RawBucketPolicy", "RawBucket", Vec::new());

    Bucket {
        lifecycle_rules: vec![json!({
            "Id": "tier-media",
            "Status": "Enabled",
            "Transitions": [
                { "StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30 },
                { "StorageClass": "GLACIER_IR", "TransitionInDays": 365 },
            ],
        })],
        ..Bucket::new("MediaBucket", "media", "s3/media/")
    }
    .add(res);
    bucket_policy(
        res,
        "MediaBucketPolicy",
        "MediaBucket",
        vec![cloudfront_read("MediaBucket", "Distribution")],
    );

    Bucket::new("WebBucket", "web", "s3/web/").add(res);
    bucket_policy(
        res,
        "WebBucketPolicy",
        "WebBucket",
        vec![cloudfront_read("WebBucket", "WebDistribution")],
    );

    Bucket::new("ThumbnailsBucket", "thumbnails", "s3/thumbnails/").add(res);
    bucket_policy(
        res,
        "ThumbnailsBucketPolicy",
        "ThumbnailsBucket",
        vec![cloudfront_read("ThumbnailsBucket", "Distribution")],
    );
}
