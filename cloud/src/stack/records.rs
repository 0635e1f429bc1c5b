//! Job records and messages: the DynamoDB job table, the SNS topic, the SQS queues.

use serde_json::{json, Value};

use super::iam::{deny_insecure_transport, doc, stmt};
use super::{att, key_arn, name, ref_, tags, Resources};

pub(super) fn add(res: &mut Resources) {
    job_table(res);
    topic(res);
    queues(res);
}

/// One record per execution, keyed by the execution name; the index lists jobs by status
/// in start order.
fn job_table(res: &mut Resources) {
    table(
        res,
        "JobTable",
        "jobs",
        json!([
            { "AttributeName": "id", "AttributeType": "S" },
            { "AttributeName": "status", "AttributeType": "S" },
            { "AttributeName": "startedAt", "AttributeType": "S" },
        ]),
        "id",
        json!([{
            "IndexName": "status-startedAt",
            "KeySchema": [
                { "AttributeName": "status", "KeyType": "HASH" },
                { "AttributeName": "startedAt", "KeyType": "RANGE" },
            ],
            "Projection": { "ProjectionType": "ALL" },
        }]),
    );
}

/// An on-demand table keyed by `key`, with its `indexes`: recoverable to any point,
/// encrypted with the stack's key, deleted with the stack.
pub(super) fn table(
    res: &mut Resources,
    id: &str,
    kind: &str,
    attributes: Value,
    key: &str,
    indexes: Value,
) {
    res.add(
        id,
        "AWS::DynamoDB::Table",
        json!({
            "TableName": name(kind),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": attributes,
            "KeySchema": [{ "AttributeName": key, "KeyType": "HASH" }],
            "GlobalSecondaryIndexes": indexes,
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
            "SSESpecification": {
                "SSEEnabled": true,
                "SSEType": "KMS",
                "KMSMasterKeyId": key_arn(),
            },
            // Deleted with the stack, like everything else.
            "DeletionProtectionEnabled": false,
            "Tags": tags(),
        }),
    );
}

fn topic(res: &mut Resources) {
    res.add(
        "NotificationTopic",
        "AWS::SNS::Topic",
        json!({
            "TopicName": name("notifications"),
            "DisplayName": "mpe pipeline",
            "KmsMasterKeyId": key_arn(),
            "Tags": tags(),
        }),
    );
    let topic = ref_("NotificationTopic");
    let statements = [
        stmt("DenyInsecureTransport", &["sns:Publish"], topic.clone())
            .deny()
            .principal(json!("*"))
            .condition(json!({ "Bool": { "aws:SecureTransport": "false" } })),
        stmt("AllowAlarmsToPublish", &["sns:Publish"], topic.clone())
            .principal(json!({ "Service": "cloudwatch.amazonaws.com" }))
            .condition(json!({ "StringEquals": { "aws:SourceAccount": ref_("AWS::AccountId") } })),
    ];
    res.add(
        "NotificationTopicPolicy",
        "AWS::SNS::TopicPolicy",
        json!({ "Topics": [topic.clone()], "PolicyDocument": doc(statements) }),
    );
    res.add(
        "NotificationEmailSubscription",
        "AWS::SNS::Subscription",
        json!({
            "TopicArn": topic,
            "Protocol": "email",
            "Endpoint": ref_("NotificationEmail"),
        }),
    );
}

fn queues(res: &mut Resources) {
    let queue = |kind: &str, retention: u32| -> Value {
        json!({
            "QueueName": name(kind),
            "KmsMasterKeyId": key_arn(),
            "KmsDataKeyReusePeriodSeconds": 300,
            "MessageRetentionPeriod": retention,
            "Tags": tags(),
        })
    };
    // 14 days, the most SQS keeps: dead letters wait for a person.
    res.add(
        "DeadLetterQueue",
        "AWS::SQS::Queue",
        queue("dlq", 1_209_600),
    );
    let mut retry = queue("retry", 345_600);
    retry["VisibilityTimeout"] = json!(300);
    retry["RedrivePolicy"] = json!({
        "deadLetterTargetArn": att("DeadLetterQueue", "Arn"),
        "maxReceiveCount": 5,
    });
    res.add("RetryQueue", "AWS::SQS::Queue", retry);

    let dlq = att("DeadLetterQueue", "Arn");
    res.add(
        "DeadLetterQueuePolicy",
        "AWS::SQS::QueuePolicy",
        json!({
            "Queues": [ref_("DeadLetterQueue")],
            "PolicyDocument": doc([
                deny_insecure_transport("sqs", dlq.clone()),
                stmt("AllowRuleDeadLetters", &["sqs:SendMessage"], dlq.clone())
                    .principal(json!({ "Service": "events.amazonaws.com" }))
                    .condition(json!({
                        "ArnEquals": {
                            "aws:SourceArn": [
                                att("JobStateRule", "Arn"),
                                att("StatusUploadRule", "Arn"),
                                att("StatusJobRule", "Arn"),
                            ],
                        },
                    })),
                stmt("AllowStateMachineFailures", &["sqs:SendMessage"], dlq)
                    .principal(json!({ "AWS": att("StateMachineRole", "Arn") })),
            ]),
        }),
    );
    let retry_arn = att("RetryQueue", "Arn");
    res.add(
        "RetryQueuePolicy",
        "AWS::SQS::QueuePolicy",
        json!({
            "Queues": [ref_("RetryQueue")],
            "PolicyDocument": doc([
                deny_insecure_transport("sqs", retry_arn.clone()),
                stmt("AllowUploadRuleUndeliveredEvents", &["sqs:SendMessage"], retry_arn)
                    .principal(json!({ "Service": "events.amazonaws.com" }))
                    .condition(json!({
                        "ArnEquals": { "aws:SourceArn": att("UploadRule", "Arn") },
                    })),
            ]),
        }),
    );
}
