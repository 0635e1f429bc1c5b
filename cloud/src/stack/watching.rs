//! Watching the pipeline: CloudTrail, the CloudWatch alarms and the dashboard.

use serde_json::{json, Value};

use super::functions::FUNCTIONS;
use super::{att, key_arn, name, ref_, sub, tags, Resources};

pub(super) fn add(res: &mut Resources) {
    res.add(
        "Trail",
        "AWS::CloudTrail::Trail",
        json!({
            "TrailName": name("trail"),
            "S3BucketName": ref_("TrailBucket"),
            "KMSKeyId": key_arn(),
            "IsLogging": true,
            "EnableLogFileValidation": true,
            "IsMultiRegionTrail": true,
            "IncludeGlobalServiceEvents": true,
            "Tags": tags(),
        }),
    )
    // CloudTrail checks that it may write to the bucket when the trail is created.
    .depends_on(&["TrailBucketPolicy"]);
    alarms(res);
    dashboard(res);
}

/// An alarm on one metric, notifying the topic on ALARM and on OK.
struct Alarm<'a> {
    id: &'a str,
    kind: &'a str,
    description: &'a str,
    namespace: &'a str,
    metric: &'a str,
    dimension: (&'a str, Value),
    statistic: &'a str,
}

impl Alarm<'_> {
    fn add(self, res: &mut Resources) {
        let (dim_name, dim_value) = self.dimension;
        res.add(
            self.id,
            "AWS::CloudWatch::Alarm",
            json!({
                "AlarmName": name(self.kind),
                "AlarmDescription": self.description,
                "Namespace": self.namespace,
                "MetricName": self.metric,
                "Dimensions": [{ "Name": dim_name, "Value": dim_value }],
                "Statistic": self.statistic,
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref_("NotificationTopic")],
                "OKActions": [ref_("NotificationTopic")],
                "Tags": tags(),
            }),
        );
    }
}

fn alarms(res: &mut Resources) {
    Alarm {
        id: "ExecutionsFailedAlarm",
        kind: "executions-failed",
        description: "A pipeline execution failed",
        namespace: "AWS/States",
        metric: "ExecutionsFailed",
        dimension: ("StateMachineArn", ref_("StateMachine")),
        statistic: "Sum",
    }
    .add(res);

    // ExecutionTime is in milliseconds and CloudFormation cannot multiply a parameter, so
    // metric math turns it into seconds to compare with MaxExecutionSeconds.
    res.add(
        "ExecutionTimeAlarm",
        "AWS::CloudWatch::Alarm",
        json!({
            "AlarmName": name("execution-time"),
            "AlarmDescription": "A pipeline execution took longer than MaxExecutionSeconds",
            "Metrics": [
                {
                    "Id": "executionTime",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/States",
                            "MetricName": "ExecutionTime",
                            "Dimensions": [{
                                "Name": "StateMachineArn",
                                "Value": ref_("StateMachine"),
                            }],
                        },
                        "Period": 300,
                        "Stat": "Maximum",
                    },
                    "ReturnData": false,
                },
                {
                    "Id": "executionSeconds",
                    "Expression": "executionTime / 1000",
                    "Label": "Longest execution (seconds)",
                    "ReturnData": true,
                },
            ],
            "EvaluationPeriods": 1,
            "Threshold": ref_("MaxExecutionSeconds"),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref_("NotificationTopic")],
            "OKActions": [ref_("NotificationTopic")],
            "Tags": tags(),
        }),
    );

    Alarm {
        id: "DeadLetterQueueAlarm",
        kind: "dlq-messages",
        description: "Messages are waiting in the dead-letter queue",
        namespace: "AWS/SQS",
        metric: "ApproximateNumberOfMessagesVisible",
        dimension: ("QueueName", att("DeadLetterQueue", "QueueName")),
        statistic: "Maximum",
    }
    .add(res);

    for (prefix, kind) in FUNCTIONS {
        let function = ref_(&format!("{prefix}Function"));
        Alarm {
            id: &format!("{prefix}ErrorsAlarm"),
            kind: &format!("{kind}-errors"),
            description: &format!("The {kind} function returned errors"),
            namespace: "AWS/Lambda",
            metric: "Errors",
            dimension: ("FunctionName", function.clone()),
            statistic: "Sum",
        }
        .add(res);
        Alarm {
            id: &format!("{prefix}ThrottlesAlarm"),
            kind: &format!("{kind}-throttles"),
            description: &format!("The {kind} function was throttled"),
            namespace: "AWS/Lambda",
            metric: "Throttles",
            dimension: ("FunctionName", function),
            statistic: "Sum",
        }
        .add(res);
    }

    Alarm {
        id: "MediaConvertErrorsAlarm",
        kind: "mediaconvert-errors",
        description: "MediaConvert jobs of the mpe queue ended in ERROR",
        namespace: "AWS/MediaConvert",
        metric: "JobsErroredCount",
        // Assumed: the Queue dimension carries the queue's ARN.
        dimension: ("Queue", att("MediaConvertQueue", "Arn")),
        statistic: "Sum",
    }
    .add(res);
}

/// A 12 x 6 metric widget.
fn widget(x: u32, y: u32, title: &str, metrics: Vec<[&str; 4]>, stat: &str) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": 300,
            "view": "timeSeries",
            "metrics": metrics,
        },
    })
}

fn dashboard(res: &mut Resources) {
    const SM: &str = "${StateMachine}";
    const SQS_VISIBLE: &str = "ApproximateNumberOfMessagesVisible";
    let functions: Vec<String> = FUNCTIONS
        .iter()
        .map(|(prefix, _)| format!("${{{prefix}Function}}"))
        .collect();
    let errors_and_throttles = functions
        .iter()
        .flat_map(|f| {
            ["Errors", "Throttles"].map(|m| ["AWS/Lambda", m, "FunctionName", f.as_str()])
        })
        .collect();
    let durations = functions
        .iter()
        .map(|f| ["AWS/Lambda", "Duration", "FunctionName", f.as_str()])
        .collect();
    let body = json!({
        "widgets": [
            widget(0, 0, "Pipeline executions", vec![
                ["AWS/States", "ExecutionsStarted", "StateMachineArn", SM],
                ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", SM],
                ["AWS/States", "ExecutionsFailed", "StateMachineArn", SM],
                ["AWS/States", "ExecutionsTimedOut", "StateMachineArn", SM],
            ], "Sum"),
            widget(12, 0, "Pipeline execution time (ms)", vec![
                ["AWS/States", "ExecutionTime", "StateMachineArn", SM],
            ], "Maximum"),
            widget(0, 6, "MediaConvert jobs", vec![
                ["AWS/MediaConvert", "JobsCompletedCount", "Queue", "${MediaConvertQueue.Arn}"],
                ["AWS/MediaConvert", "JobsErroredCount", "Queue", "${MediaConvertQueue.Arn}"],
            ], "Sum"),
            widget(12, 6, "Dead-letter and retry queues", vec![
                ["AWS/SQS", SQS_VISIBLE, "QueueName", "${DeadLetterQueue.QueueName}"],
                ["AWS/SQS", SQS_VISIBLE, "QueueName", "${RetryQueue.QueueName}"],
            ], "Maximum"),
            widget(0, 12, "Lambda errors and throttles", errors_and_throttles, "Sum"),
            widget(12, 12, "Lambda duration (p95)", durations, "p95"),
        ],
    });
    res.add(
        "Dashboard",
        "AWS::CloudWatch::Dashboard",
        json!({
            "DashboardName": name("pipeline"),
            // The body is a JSON string; Fn::Sub fills in the ARNs, names and region.
            "DashboardBody": sub(&body.to_string()),
            "Tags": tags(),
        }),
    );
}
