//! The Lambda functions: validate, plan, job-state, and the API's api, authorize and
//! status, each with its role, policy and log group, plus the default-profile parameter
//! and the validate alias.

use serde_json::{json, Value};

use super::iam::{own_logs, policy, role, stmt, write_traces, Stmt, KEY_USE, LAMBDA_TRACES};
use super::storage::objects;
use super::{att, key_arn, name, ref_, skip, sub, tag_map, tags, Resources};
use crate::lambda::{API, AUTHORIZE, JOB_STATE, PLAN, STATUS, VALIDATE};

/// Each function's logical-id prefix and handler; the handler also names it
/// (`mpe-<handler>-<suffix>`).
pub(super) const FUNCTIONS: [(&str, &str); 6] = [
    ("Validate", VALIDATE),
    ("Plan", PLAN),
    ("JobState", JOB_STATE),
    ("Api", API),
    ("Authorize", AUTHORIZE),
    ("Status", STATUS),
];

/// What differs between the functions.
struct Function {
    prefix: &'static str,
    handler: &'static str,
    memory: u32,
    timeout: u32,
    reserved: u32,
    env: Value,
    statements: Vec<Stmt>,
}

/// The media bucket's trick-play folders of `profiles` (each asset's
/// `<asset>/<destination>`), where the status handler writes sheets.
fn trickplay_folders(profiles: &[String]) -> Value {
    let mut folders: Vec<String> = profiles
        .iter()
        .filter_map(|p| profiles::Profile::shipped(p).ok()?.trickplay)
        .map(|t| t.destination)
        .collect();
    folders.sort();
    folders.dedup();
    if folders.is_empty() {
        // No shipped profile draws trick play: a grant no key matches.
        folders.push("trickplay/".into());
    }
    Value::Array(
        folders
            .iter()
            .map(|d| objects("MediaBucket", &format!("*/{d}*")))
            .collect(),
    )
}

/// Adds the functions; `profiles` are the profiles that have a job template.
pub(super) fn add(res: &mut Resources, profiles: &[String]) {
    res.add(
        "DefaultProfileParameter",
        "AWS::SSM::Parameter",
        json!({
            "Name": name("default-profile"),
            "Description":
                "Profile used when an upload names none (job template mpe-<profile>-<suffix>)",
            "Type": "String",
            "Value": "default",
            "Tier": "Standard",
            "Tags": tag_map(),
        }),
    );
    let functions = [
        Function {
            prefix: "Validate",
            handler: VALIDATE,
            memory: 1024,
            timeout: 60,
            reserved: 20,
            env: json!({
                "RAW_BUCKET": ref_("RawBucket"),
                // Resolved at deploy time, so the function never calls SSM: a changed
                // default takes a stack update.
                "DEFAULT_PROFILE": att("DefaultProfileParameter", "Value"),
                "PROFILES": profiles.join(","),
            }),
            statements: vec![
                stmt(
                    "ReadUploads",
                    &["s3:GetObject"],
                    objects("RawBucket", "uploads/*"),
                ),
                // Probe names no resource type (a file URL is no MediaConvert resource),
                // so it is granted on "*"; this function is the only one with it. It
                // reads the upload with this role's own s3:GetObject and key use.
                stmt("ProbeUploads", &["mediaconvert:Probe"], json!("*")),
            ],
        },
        Function {
            prefix: "Plan",
            handler: PLAN,
            memory: 256,
            timeout: 10,
            reserved: 20,
            // Planning is computation only: the probe comes in with the payload and the
            // job goes out to the state machine, so the role grants nothing but logs.
            env: json!({
                "MEDIA_BUCKET": ref_("MediaBucket"),
                "THUMBNAILS_BUCKET": ref_("ThumbnailsBucket"),
                "MEDIACONVERT_ROLE": att("MediaConvertRole", "Arn"),
                "MEDIACONVERT_QUEUE": att("MediaConvertQueue", "Arn"),
                "JOB_TEMPLATE_SUFFIX": ref_("EnvironmentSuffix"),
            }),
            statements: vec![],
        },
        Function {
            prefix: "JobState",
            handler: JOB_STATE,
            memory: 256,
            timeout: 30,
            reserved: 10,
            // No webhook secret: the pipeline holds no secret at all.
            env: json!({ "JOB_TABLE": ref_("JobTable") }),
            statements: vec![stmt(
                "UpdateJobRecords",
                &["dynamodb:GetItem", "dynamodb:UpdateItem"],
                att("JobTable", "Arn"),
            )],
        },
        Function {
            prefix: "Api",
            handler: API,
            memory: 256,
            timeout: 10,
            reserved: 20,
            env: json!({
                "RAW_BUCKET": ref_("RawBucket"),
                "UPLOAD_PREFIX": "uploads/",
                "STATUS_TABLE": ref_("StatusTable"),
                "PROFILES": profiles.join(","),
                "URL_TTL_SECONDS": "900",
            }),
            statements: vec![
                // Presigned PUTs and parts are the browser's requests made with this
                // role's grant; the completion is presigned too.
                stmt(
                    "PresignUploads",
                    &["s3:PutObject", "s3:ListMultipartUploadParts"],
                    objects("RawBucket", "uploads/*"),
                ),
                stmt(
                    "KeepStatusRecords",
                    &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                    json!([att("StatusTable", "Arn"), sub("${StatusTable.Arn}/index/*")]),
                ),
            ],
        },
        Function {
            prefix: "Authorize",
            handler: AUTHORIZE,
            memory: 128,
            timeout: 5,
            reserved: 20,
            env: json!({ "API_TOKEN_SECRET": ref_("ApiTokenSecret") }),
            statements: vec![stmt(
                "ReadApiToken",
                &["secretsmanager:GetSecretValue"],
                ref_("ApiTokenSecret"),
            )],
        },
        Function {
            prefix: "Status",
            handler: STATUS,
            // A finished job's trick play is drawn here (crate::trickplay): its frame
            // captures decoded and tiled, a second or so per hundred captures.
            memory: 512,
            timeout: 120,
            reserved: 10,
            env: json!({
                "STATUS_TABLE": ref_("StatusTable"),
                "UPLOAD_PREFIX": "uploads/",
                "DELIVERY_URL": sub("https://${Distribution.DomainName}/"),
            }),
            statements: vec![
                stmt(
                    "KeepStatusRecords",
                    &["dynamodb:GetItem", "dynamodb:PutItem"],
                    att("StatusTable", "Arn"),
                ),
                // Trick play: the captures in, the sheets and track out.
                stmt(
                    "ReadFrameCaptures",
                    &["s3:GetObject"],
                    objects("ThumbnailsBucket", "*"),
                ),
                stmt(
                    "WriteTrickPlay",
                    &["s3:PutObject"],
                    trickplay_folders(profiles),
                ),
            ],
        },
    ];
    debug_assert!(functions
        .iter()
        .map(|f| (f.prefix, f.handler))
        .eq(FUNCTIONS.iter().copied()));
    for f in functions {
        function(res, f);
    }

    // A Version is published once, when it is created, and replaced (so published again)
    // only when one of its properties changes. Its Description names the code key, so a
    // deploy with new code must give the zip a new LambdaCodeKey: that updates the
    // function's code and publishes a new version for the alias. New code under the same
    // key changes nothing; there is no code hash at generation time to key on.
    res.add(
        "ValidateVersion",
        "AWS::Lambda::Version",
        json!({
            "FunctionName": ref_("ValidateFunction"),
            "Description": sub(
                "Published for the provisioned-concurrency alias from \
                 ${LambdaCodeBucket}/${LambdaCodeKey}"
            ),
        }),
    );
    res.add(
        "ValidateAlias",
        "AWS::Lambda::Alias",
        json!({
            "Name": sub("live-${EnvironmentSuffix}"),
            "FunctionName": ref_("ValidateFunction"),
            "FunctionVersion": att("ValidateVersion", "Version"),
            "ProvisionedConcurrencyConfig": { "ProvisionedConcurrentExecutions": 2 },
        }),
    );
    res.add(
        "JobStateInvokePermission",
        "AWS::Lambda::Permission",
        json!({
            "FunctionName": att("JobStateFunction", "Arn"),
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceAccount": ref_("AWS::AccountId"),
            "SourceArn": att("JobStateRule", "Arn"),
        }),
    );
}

/// A function with its role, policy and log group.
fn function(res: &mut Resources, f: Function) {
    let kind = f.handler;
    let role_id = format!("{}Role", f.prefix);
    let policy_id = format!("{}Policy", f.prefix);
    let log_group = format!("{}LogGroup", f.prefix);
    role(res, &role_id, kind, "lambda.amazonaws.com", None);
    let mut statements = vec![own_logs(&log_group)];
    statements.extend(f.statements);
    statements.push(stmt("UseKey", KEY_USE, key_arn()));
    statements.push(stmt(
        "SendToDeadLetterQueue",
        &["sqs:SendMessage"],
        att("DeadLetterQueue", "Arn"),
    ));
    statements.push(write_traces(LAMBDA_TRACES));
    policy(res, &policy_id, kind, &role_id, statements);
    res.add(
        &log_group,
        "AWS::Logs::LogGroup",
        json!({
            "LogGroupName": sub(&format!("/aws/lambda/mpe-{kind}-${{EnvironmentSuffix}}")),
            "RetentionInDays": ref_("LogRetentionDays"),
            "KmsKeyId": key_arn(),
            "Tags": tags(),
        }),
    );
    res.add(
        &format!("{}Function", f.prefix),
        "AWS::Lambda::Function",
        json!({
            "FunctionName": name(kind),
            "Description": format!("mpe {kind}"),
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            // One bootstrap binary for every function; it picks the handler by `_HANDLER`.
            "Handler": f.handler,
            "Code": { "S3Bucket": ref_("LambdaCodeBucket"), "S3Key": sub("${LambdaCodeKey}") },
            "Role": att(&role_id, "Arn"),
            "MemorySize": f.memory,
            "Timeout": f.timeout,
            "ReservedConcurrentExecutions": f.reserved,
            "Environment": { "Variables": f.env },
            "KmsKeyArn": key_arn(),
            "TracingConfig": { "Mode": "Active" },
            "DeadLetterConfig": { "TargetArn": att("DeadLetterQueue", "Arn") },
            "LoggingConfig": { "LogFormat": "JSON", "LogGroup": ref_(&log_group) },
            "Tags": tags(),
        }),
    )
    // Lambda checks the dead-letter permission when it creates the function.
    .depends_on(&[&policy_id])
    .metadata(skip(&[(
        "CKV_AWS_117",
        "The function only calls AWS APIs (S3, DynamoDB); a VPC would add NAT or endpoints \
         and cold-start cost with no private resource to reach",
    )]));
}
