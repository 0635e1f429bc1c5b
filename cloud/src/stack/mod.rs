//! The production pipeline as CloudFormation JSON (`stack.json`), generated from the
//! shipped profiles.
//!
//! Raw uploads start a Step Functions execution through EventBridge; it validates the
//! upload, picks a profile, has MediaConvert probe it, plans the job from the probe with
//! `profiles::plan` (as the engine plans locally), records the job in DynamoDB,
//! transcodes with MediaConvert, and notifies through SNS; CloudFront serves the results.
//! The profiles' job templates stay in the stack for the console and other tools.
//! Every resource is named `mpe-<kind>-${EnvironmentSuffix}`, tagged, encrypted with the
//! stack's key where the service allows it, and deleted with the stack (nothing is
//! retained). The checkov skips carry their reasons in `Metadata`.

mod api;
mod delivery;
mod functions;
mod iam;
mod mediaconvert;
mod records;
mod storage;
mod watching;
mod workflow;

use serde_json::{json, Map, Value};

use crate::deployment;
use crate::error::CloudError;

/// The region a stack is pinned to unless `AllowedRegion` says otherwise.
///
/// Not eu-south-2: MediaConvert is not offered there (botocore's endpoint data lists no
/// `mediaconvert` endpoint and CloudFormation has no MediaConvert types there), so a
/// stack pinned to it could not be created.
pub const DEFAULT_REGION: &str = "eu-west-3";

/// Builds the whole template from the shipped profiles.
pub fn generate() -> Result<Value, CloudError> {
    let mut res = Resources::default();
    storage::add(&mut res);
    records::add(&mut res);
    let profiles = mediaconvert::add(&mut res)?;
    functions::add(&mut res, &profiles);
    workflow::add(&mut res);
    delivery::add(&mut res);
    api::add(&mut res);
    watching::add(&mut res);
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "mpe video pipeline: raw uploads -> EventBridge -> Step Functions \
            (validate and probe, plan, MediaConvert, DynamoDB records, SNS) -> CloudFront delivery",
        "Parameters": parameters(),
        "Rules": {
            "RegionIsAllowed": {
                "Assertions": [{
                    "Assert": { "Fn::Equals": [ref_("AWS::Region"), ref_("AllowedRegion")] },
                    "AssertDescription":
                        "This stack may only be created in the region named by AllowedRegion",
                }],
            },
        },
        "Conditions": {
            "UseStackLogBucketForCloudFront": {
                "Fn::Equals": [ref_("CloudFrontLogBucketDomain"), ""],
            },
        },
        "Resources": Value::Object(res.0),
        "Outputs": outputs(),
    }))
}

/// The template as committed: pretty JSON (2-space indent) plus a trailing newline.
pub fn render() -> Result<String, CloudError> {
    // `{:#}` is serde_json's pretty printer (2 spaces), and it cannot fail on a Value.
    Ok(format!("{:#}\n", generate()?))
}

fn parameters() -> Value {
    json!({
        "EnvironmentSuffix": {
            "Type": "String",
            "Default": "dev",
            "AllowedPattern": "^[a-z0-9][a-z0-9-]{0,19}$",
            "ConstraintDescription": "lowercase letters, digits and hyphens, 1 to 20 characters, \
                not starting with a hyphen",
            "Description": "Suffix of every resource name (mpe-<type>-<suffix>)",
        },
        "AllowedRegion": {
            "Type": "String",
            "Default": DEFAULT_REGION,
            "AllowedPattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$",
            "Description": "The only region this stack may be created in (asserted in Rules); it \
                must offer MediaConvert, which eu-south-2 for one does not",
        },
        "NotificationEmail": {
            "Type": "String",
            "AllowedPattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
            "ConstraintDescription": "an email address",
            "Description":
                "Receives pipeline notifications and alarms (the subscription must be confirmed)",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 365,
            "AllowedValues": [
                1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                2557, 2922, 3288, 3653,
            ],
            "Description": "Retention of every CloudWatch log group of the stack",
        },
        "MaxExecutionSeconds": {
            "Type": "Number",
            "Default": 3600,
            "MinValue": 60,
            "MaxValue": 172800,
            "Description": "Alarm when a pipeline execution takes longer than this",
        },
        "LambdaCodeBucket": {
            "Type": "String",
            "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "Bucket holding the zipped Rust Lambda bootstrap",
        },
        "LambdaCodeKey": {
            "Type": "String",
            "Default": "mpe/lambda.zip",
            // Room for it in the validate Version's Description (256 at most).
            "MaxLength": 128,
            "AllowedPattern": "^[A-Za-z0-9!_.*'()/-]+[A-Za-z0-9!_.*'()-]$",
            "Description": "Key of the zip whose bootstrap binary serves every handler. Give new \
                code a new key (e.g. mpe/lambda-<commit>.zip): an unchanged key updates neither \
                the functions nor the published validate version",
        },
        "PlayerOrigins": {
            "Type": "CommaDelimitedList",
            "Default": "*",
            "Description": "Origins allowed by the CloudFront CORS policy for web players",
        },
        "CloudFrontLogBucketDomain": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]+\\.s3\\.amazonaws\\.com$",
            "Description": "Bucket (<name>.s3.amazonaws.com, ACLs enabled) for CloudFront \
                standard logs; empty: this stack's access-log bucket. CloudFront does not \
                deliver standard logs to buckets in opt-in regions (eu-south-2 is one): set a \
                bucket in a non-opt-in region there.",
        },
    })
}

fn outputs() -> Value {
    let out =
        |description: &str, value: Value| json!({ "Description": description, "Value": value });
    let mut o = Map::new();
    // The keys `mpe cloud submit --stack-outputs` reads.
    o.insert(
        deployment::RAW_BUCKET.into(),
        out(
            "Uploads bucket (mpe cloud submit --bucket)",
            ref_("RawBucket"),
        ),
    );
    o.insert(
        deployment::MEDIA_BUCKET.into(),
        out("Processed media bucket", ref_("MediaBucket")),
    );
    o.insert(
        deployment::ROLE_ARN.into(),
        out(
            "Role MediaConvert jobs run as",
            att("MediaConvertRole", "Arn"),
        ),
    );
    o.insert(
        deployment::QUEUE_ARN.into(),
        out("MediaConvert queue", att("MediaConvertQueue", "Arn")),
    );
    o.insert(
        deployment::KMS_KEY_ARN.into(),
        out("Customer managed key", key_arn()),
    );
    let rest = [
        (
            "ThumbnailsBucketName",
            out("Thumbnails and previews bucket", ref_("ThumbnailsBucket")),
        ),
        ("JobTableName", out("Job records", ref_("JobTable"))),
        (
            "StateMachineArn",
            out("Pipeline state machine", ref_("StateMachine")),
        ),
        (
            "DistributionDomainName",
            out(
                "CloudFront domain serving media",
                att("Distribution", "DomainName"),
            ),
        ),
        (
            "NotificationTopicArn",
            out("Pipeline notifications", ref_("NotificationTopic")),
        ),
        (
            "DeadLetterQueueUrl",
            out("Dead-letter queue", ref_("DeadLetterQueue")),
        ),
    ];
    for (k, v) in rest.into_iter().chain(api::outputs()) {
        o.insert(k.into(), v);
    }
    Value::Object(o)
}

/// cfn-lint's stateful types (I3011): they state DeletionPolicy and UpdateReplacePolicy
/// explicitly, and both are Delete, so that "nothing is retained" is visible.
const STATEFUL: &[&str] = &[
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
];

/// The template's Resources by logical id.
#[derive(Default)]
struct Resources(Map<String, Value>);

impl Resources {
    /// Adds a resource; the returned handle adds DependsOn or Metadata.
    fn add(&mut self, id: &str, kind: &str, props: Value) -> Added<'_> {
        let mut r = json!({ "Type": kind, "Properties": props });
        if STATEFUL.contains(&kind) {
            r["DeletionPolicy"] = json!("Delete");
            r["UpdateReplacePolicy"] = json!("Delete");
        }
        debug_assert!(!self.0.contains_key(id), "{id} added twice");
        let slot = self.0.entry(id.to_string()).or_insert(Value::Null);
        *slot = r;
        Added(slot)
    }
}

/// A resource just added.
struct Added<'a>(&'a mut Value);

impl Added<'_> {
    fn depends_on(self, ids: &[&str]) -> Self {
        self.0["DependsOn"] = json!(ids);
        self
    }

    fn metadata(self, m: Value) -> Self {
        self.0["Metadata"] = m;
        self
    }
}

fn ref_(id: &str) -> Value {
    json!({ "Ref": id })
}

fn att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// Every named resource: `mpe-<kind>-${EnvironmentSuffix}`.
fn name(kind: &str) -> Value {
    sub(&format!("mpe-{kind}-${{EnvironmentSuffix}}"))
}

/// S3 names are global, so buckets add the account: `mpe-<kind>-<suffix>-<account>`.
fn bucket_name(kind: &str) -> Value {
    sub(&format!(
        "mpe-{kind}-${{EnvironmentSuffix}}-${{AWS::AccountId}}"
    ))
}

/// Tags as the `{Key, Value}` list most types take.
fn tags() -> Value {
    json!([
        { "Key": "Project", "Value": "mpe" },
        { "Key": "Environment", "Value": ref_("EnvironmentSuffix") },
    ])
}

/// Tags as the JSON map MediaConvert and SSM take instead of a list.
fn tag_map() -> Value {
    json!({ "Project": "mpe", "Environment": ref_("EnvironmentSuffix") })
}

/// checkov skips, each `(check id, why it does not apply)`.
fn skip(pairs: &[(&str, &str)]) -> Value {
    let skips: Vec<Value> = pairs
        .iter()
        .map(|(id, comment)| json!({ "id": id, "comment": comment }))
        .collect();
    json!({ "checkov": { "skip": skips } })
}

fn key_arn() -> Value {
    att("EncryptionKey", "Arn")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Value {
        generate().expect("the shipped profiles generate a stack")
    }

    fn resources(stack: &Value) -> &Map<String, Value> {
        stack["Resources"]
            .as_object()
            .expect("Resources is an object")
    }

    #[test]
    fn every_task_state_retries_and_catches() {
        let stack = stack();
        let states = stack["Resources"]["StateMachine"]["Properties"]["Definition"]["States"]
            .as_object()
            .expect("the definition has states");
        let tasks: Vec<_> = states.iter().filter(|(_, s)| s["Type"] == "Task").collect();
        assert!(tasks.len() >= 7, "{} tasks", tasks.len());
        for (id, s) in tasks {
            let retry = s["Retry"].as_array().expect("a Retry list");
            assert!(!retry.is_empty(), "{id} has no Retry");
            for r in retry {
                // Backoff: each wait longer than the last.
                assert!(
                    r["BackoffRate"].as_f64().is_some_and(|b| b > 1.0),
                    "{id}: {r}"
                );
                assert!(
                    r["MaxAttempts"].as_u64().is_some_and(|m| m >= 2),
                    "{id}: {r}"
                );
                assert!(
                    r["IntervalSeconds"].as_u64().is_some_and(|i| i >= 1),
                    "{id}: {r}"
                );
            }
            assert!(
                s["Catch"].as_array().is_some_and(|c| !c.is_empty()),
                "{id} has no Catch"
            );
        }
        // The graph is whole: every Next, Default, Choice and Catch target is a state,
        // every state leads somewhere or ends, and a walk from StartAt reaches them all.
        let targets = |s: &Value| -> Vec<String> {
            let mut t: Vec<&Value> = vec![&s["Next"], &s["Default"]];
            for list in ["Choices", "Catch"] {
                if let Some(items) = s[list].as_array() {
                    t.extend(items.iter().map(|c| &c["Next"]));
                }
            }
            t.into_iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        for (id, s) in states {
            for t in targets(s) {
                assert!(
                    states.contains_key(&t),
                    "{id} goes to {t}, which is not a state"
                );
            }
            let ends = s["End"] == true || matches!(s["Type"].as_str(), Some("Fail" | "Succeed"));
            assert!(
                ends || s["Next"].is_string() || s["Type"] == "Choice",
                "{id} leads nowhere"
            );
        }
        let definition = &stack["Resources"]["StateMachine"]["Properties"]["Definition"];
        let start = definition["StartAt"].as_str().expect("StartAt").to_string();
        let mut reached = std::collections::BTreeSet::new();
        let mut queue = vec![start];
        while let Some(id) = queue.pop() {
            if reached.insert(id.clone()) {
                queue.extend(targets(&states[&id]));
            }
        }
        let all: std::collections::BTreeSet<String> = states.keys().cloned().collect();
        assert_eq!(reached, all, "states no path from StartAt reaches");
    }

    /// Every (policy id, action) the stack's IAM policies grant.
    fn grants(stack: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (id, r) in resources(stack) {
            let Some(statements) = r
                .pointer("/Properties/PolicyDocument/Statement")
                .and_then(Value::as_array)
            else {
                continue;
            };
            for st in statements {
                let actions = match &st["Action"] {
                    Value::String(a) => vec![a.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .map(String::from)
                        .collect(),
                    _ => Vec::new(),
                };
                out.extend(actions.into_iter().map(|a| (id.clone(), a)));
            }
        }
        out
    }

    #[test]
    fn only_the_validate_function_may_probe_and_the_plan_function_calls_nothing() {
        let stack = stack();
        let grants = grants(&stack);
        let probing: Vec<&String> = grants
            .iter()
            .filter(|(_, a)| a == "mediaconvert:Probe" || a == "mediaconvert:*" || a == "*")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(probing, ["ValidatePolicy"]);
        // The plan function writes its logs and traces, uses the key and the DLQ: no
        // AWS API of the pipeline.
        let plan: Vec<&str> = grants
            .iter()
            .filter(|(id, _)| id == "PlanPolicy")
            .map(|(_, a)| a.as_str())
            .collect();
        assert!(!plan.is_empty());
        for a in plan {
            let service = a.split(':').next().unwrap_or_default();
            assert!(
                ["logs", "kms", "sqs", "xray"].contains(&service),
                "the plan function may {a}"
            );
        }
        // The state machine creates jobs on its queue only, from the planned body.
        let transcode = &stack["Resources"]["StateMachine"]["Properties"]["Definition"]["States"]
            ["Transcode"]["Parameters"];
        assert_eq!(transcode["Settings.$"], "$.plan.job.Settings");
        assert!(transcode.get("JobTemplate").is_none() && transcode.get("JobTemplate.$").is_none());
    }

    #[test]
    fn nothing_is_retained() {
        let stack = stack();
        for (id, r) in resources(&stack) {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                assert_ne!(r[policy], "Retain", "{id} {policy}");
            }
            if STATEFUL.contains(&r["Type"].as_str().expect("a Type")) {
                assert_eq!(r["DeletionPolicy"], "Delete", "{id}");
                assert_eq!(r["UpdateReplacePolicy"], "Delete", "{id}");
            }
        }
    }

    #[test]
    fn every_name_carries_the_environment_suffix() {
        const NAME_KEYS: &[&str] = &[
            "AlarmName",
            "AliasName",
            "BucketName",
            "DashboardName",
            "FunctionName",
            "LogGroupName",
            "Name",
            "PolicyName",
            "QueueName",
            "RoleName",
            "StateMachineName",
            "TableName",
            "TopicName",
            "TrailName",
        ];
        let stack = stack();
        let mut named = 0;
        for (id, r) in resources(&stack) {
            let props = r["Properties"].as_object().expect("Properties");
            // CloudFront keeps its names one level down, in the *Config object.
            let nested = props
                .iter()
                .filter(|(k, _)| k.ends_with("Config"))
                .filter_map(|(_, v)| v.as_object());
            for map in std::iter::once(props).chain(nested) {
                for key in NAME_KEYS {
                    let Some(v) = map.get(*key) else { continue };
                    // FunctionName in a Version, Alias, Url or Permission is a reference
                    // to the function; every other name is built with the suffix.
                    if *key == "FunctionName"
                        && (v.get("Ref").is_some() || v.get("Fn::GetAtt").is_some())
                    {
                        continue;
                    }
                    let text = v.get("Fn::Sub").and_then(Value::as_str);
                    let Some(text) = text else {
                        panic!("{id}.{key} = {v}: a name without the suffix");
                    };
                    named += 1;
                    assert!(text.contains("${EnvironmentSuffix}"), "{id}.{key} = {text}");
                }
            }
        }
        assert!(named >= 40, "only {named} names found");
    }

    #[test]
    fn the_region_is_pinned_to_allowed_region() {
        let stack = stack();
        let assertion = &stack["Rules"]["RegionIsAllowed"]["Assertions"][0]["Assert"];
        assert_eq!(
            assertion,
            &json!({ "Fn::Equals": [{ "Ref": "AWS::Region" }, { "Ref": "AllowedRegion" }] })
        );
        assert_eq!(
            stack["Parameters"]["AllowedRegion"]["Default"],
            DEFAULT_REGION
        );
    }

    #[test]
    fn every_handler_is_one_the_lambda_binary_serves() {
        let stack = stack();
        let mut handlers = Vec::new();
        for r in resources(&stack).values() {
            if r["Type"] == "AWS::Lambda::Function" {
                let h = r["Properties"]["Handler"].as_str().expect("a Handler");
                assert!(crate::lambda::HANDLERS.contains(&h), "{h}");
                assert_eq!(
                    r["Properties"]["Code"]["S3Key"],
                    json!({ "Fn::Sub": "${LambdaCodeKey}" })
                );
                handlers.push(h);
            }
        }
        handlers.sort_unstable();
        let mut all = crate::lambda::HANDLERS.to_vec();
        all.sort_unstable();
        assert_eq!(handlers, all);
    }

    #[test]
    fn every_shipped_profile_has_a_job_template() {
        let stack = stack();
        let res = resources(&stack);
        let names: Vec<&str> = crate::profiles::Profile::shipped_names().collect();
        for profile in &names {
            let id = format!("JobTemplate{}", mediaconvert::camel(profile));
            let t = &res[&id]["Properties"];
            assert_eq!(
                t["Name"],
                json!({ "Fn::Sub": format!("mpe-{profile}-${{EnvironmentSuffix}}") })
            );
            let text = t["SettingsJson"].to_string();
            assert!(!text.contains("mpe-media-placeholder"), "{id}: {text}");
        }
        assert_eq!(
            res["ValidateFunction"]["Properties"]["Environment"]["Variables"]["PROFILES"],
            names.join(",")
        );
    }

    #[test]
    fn thumbnails_go_to_the_thumbnails_bucket_under_the_served_path() {
        let stack = stack();
        let groups = stack["Resources"]["JobTemplateDefault"]["Properties"]["SettingsJson"]
            ["OutputGroups"]
            .as_array()
            .expect("output groups")
            .clone();
        let dest = |name: &str| {
            groups
                .iter()
                .find(|g| g["Name"] == name)
                .map(|g| g["OutputGroupSettings"]["FileGroupSettings"]["Destination"].clone())
        };
        assert_eq!(
            dest("Thumbnails"),
            Some(json!({ "Fn::Sub": "s3://${ThumbnailsBucket}/$fn$/thumbnails/" }))
        );
        let behaviors = &stack["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
            ["CacheBehaviors"];
        assert_eq!(behaviors[0]["PathPattern"], "*/thumbnails/*");
        assert_eq!(behaviors[0]["TargetOriginId"], "thumbnails");
    }

    #[test]
    fn outputs_are_the_keys_the_cli_reads() {
        let stack = stack();
        for key in [
            deployment::RAW_BUCKET,
            deployment::MEDIA_BUCKET,
            deployment::ROLE_ARN,
            deployment::QUEUE_ARN,
            deployment::KMS_KEY_ARN,
        ] {
            assert!(stack["Outputs"][key]["Value"].is_object(), "{key}");
        }
    }

    #[test]
    fn render_is_pretty_with_a_trailing_newline() {
        let text = render().expect("renders");
        assert!(text.starts_with("{\n  \""), "{}", &text[..20]);
        assert!(text.ends_with("}\n"));
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, stack());
    }
}
