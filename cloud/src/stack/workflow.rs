//! The pipeline's workflow: the Step Functions state machine and the EventBridge rules that
//! start it and report MediaConvert job states.

use serde_json::{json, Map, Value};

use super::iam::{policy, role, stmt, write_traces, KEY_USE};
use super::{att, key_arn, name, ref_, sub, tags, Resources};

pub(super) fn add(res: &mut Resources) {
    state_machine(res);
    rules(res);
}

/// Lambda's transient invoke errors, as Step Functions' docs list them.
const LAMBDA_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

const TASK_FAILED: &[&str] = &["States.TaskFailed"];

/// Lambda's transient errors, then any failure of the function itself (its handlers fail
/// only on errors worth another try; what cannot succeed is a rejection, not an error).
fn lambda_retry() -> Value {
    json!([retrier(LAMBDA_ERRORS, 2, 3), retrier(TASK_FAILED, 5, 3)])
}

/// A Choice on a verdict's `accepted`: false goes to `reject`, anything else on.
fn accepted(variable: &str, reject: &str, next: &str) -> Value {
    json!({
        "Type": "Choice",
        "Choices": [{ "Variable": variable, "BooleanEquals": false, "Next": reject }],
        "Default": next,
    })
}

/// A rejected upload takes the failure path with the handler's reason as the cause,
/// which the job record keeps.
fn rejected(reason: &str) -> Value {
    json!({
        "Type": "Pass",
        "Parameters": { "Error": "UploadRejected", "Cause.$": reason },
        "ResultPath": "$.error",
        "Next": "SendToDLQ",
    })
}

/// A Retry list of one retrier.
fn retry(errors: &[&str], interval: u32, attempts: u32) -> Value {
    json!([retrier(errors, interval, attempts)])
}

/// One retrier with exponential backoff.
fn retrier(errors: &[&str], interval: u32, attempts: u32) -> Value {
    json!({
        "ErrorEquals": errors,
        "IntervalSeconds": interval,
        "MaxAttempts": attempts,
        "BackoffRate": 2.0,
    })
}

/// Failures of the main path go to the failure path (dead-letter queue, record, notify).
fn catch_to_failure_path() -> Value {
    json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "SendToDLQ" }])
}

/// Failures on the failure path end the execution, keeping the first error.
fn catch_to_fail() -> Value {
    json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.failurePathError", "Next": "Failed" }])
}

/// A Task state; every one retries and catches. `result_path` None is JSON null: the
/// result is dropped and the state's input passes on unchanged.
struct Task {
    resource: &'static str,
    parameters: Value,
    result_selector: Option<Value>,
    result_path: Option<&'static str>,
    retry: Value,
    catch: Value,
    /// The next state; None ends the execution.
    next: Option<&'static str>,
}

impl Task {
    fn new(resource: &'static str, parameters: Value, next: Option<&'static str>) -> Self {
        Task {
            resource,
            parameters,
            result_selector: None,
            result_path: None,
            retry: retry(TASK_FAILED, 2, 3),
            catch: catch_to_failure_path(),
            next,
        }
    }

    fn state(self) -> Value {
        let mut s = json!({
            "Type": "Task",
            "Resource": self.resource,
            "Parameters": self.parameters,
            "ResultPath": self.result_path,
            "Retry": self.retry,
            "Catch": self.catch,
        });
        if let Some(rs) = self.result_selector {
            s["ResultSelector"] = rs;
        }
        match self.next {
            Some(n) => s["Next"] = json!(n),
            None => s["End"] = json!(true),
        }
        s
    }
}

fn states() -> Value {
    let mut states = Map::new();
    let mut add = |id: &str, state: Value| {
        states.insert(id.to_string(), state);
    };
    add(
        "Validate",
        Task {
            result_selector: Some(json!({
                "accepted.$": "$.Payload.accepted",
                "input.$": "$.Payload.input",
                "profile.$": "$.Payload.profile",
                "reason.$": "$.Payload.reason",
                "probe.$": "$.Payload.probe",
            })),
            result_path: Some("$.validation"),
            // The handler fails (rather than rejects) only on errors worth another try:
            // S3 or MediaConvert unreachable or throttled.
            retry: lambda_retry(),
            ..Task::new(
                "arn:aws:states:::lambda:invoke",
                json!({
                    "FunctionName": "${ValidateFunctionAliasArn}",
                    "Payload": { "executionId.$": "$$.Execution.Name", "detail.$": "$.detail" },
                }),
                Some("ChooseProfile"),
            )
        }
        .state(),
    );
    add(
        "ChooseProfile",
        accepted("$.validation.accepted", "RejectUpload", "Plan"),
    );
    add("RejectUpload", rejected("$.validation.reason"));
    // MediaConvert's probe -> profiles::plan -> the whole CreateJob body, as `mpe cloud
    // render` makes it: no upscaling, portrait kept portrait, the source-height rung.
    add(
        "Plan",
        Task {
            result_selector: Some(json!({
                "accepted.$": "$.Payload.accepted",
                "reason.$": "$.Payload.reason",
                "job.$": "$.Payload.job",
            })),
            result_path: Some("$.plan"),
            retry: retry(LAMBDA_ERRORS, 2, 3),
            ..Task::new(
                "arn:aws:states:::lambda:invoke",
                json!({
                    "FunctionName": "${PlanFunctionArn}",
                    "Payload": {
                        "executionId.$": "$$.Execution.Name",
                        "input.$": "$.validation.input",
                        "profile.$": "$.validation.profile",
                        "probe.$": "$.validation.probe",
                    },
                }),
                Some("ChoosePlan"),
            )
        }
        .state(),
    );
    add(
        "ChoosePlan",
        accepted("$.plan.accepted", "RejectPlan", "RecordSubmitted"),
    );
    add("RejectPlan", rejected("$.plan.reason"));
    add(
        "RecordSubmitted",
        Task::new(
            "arn:aws:states:::dynamodb:putItem",
            json!({
                "TableName": "${JobTableName}",
                "Item": {
                    "id": { "S.$": "$$.Execution.Name" },
                    "status": { "S": "SUBMITTED" },
                    "startedAt": { "S.$": "$$.Execution.StartTime" },
                    "input": { "S.$": "$.validation.input" },
                    "profile": { "S.$": "$.validation.profile" },
                    "jobTemplate": { "S.$": "$.plan.job.UserMetadata.mpe_job_template" },
                    "executionArn": { "S.$": "$$.Execution.Id" },
                },
            }),
            Some("Transcode"),
        )
        .state(),
    );
    add(
        "Transcode",
        Task {
            result_selector: Some(json!({ "jobId.$": "$.Job.Id", "status.$": "$.Job.Status" })),
            result_path: Some("$.transcode"),
            // Throttling and MediaConvert's own faults only: a job that ends in ERROR is
            // not retried, it takes the failure path.
            retry: retry(
                &[
                    "MediaConvert.TooManyRequestsException",
                    "MediaConvert.InternalServerErrorException",
                ],
                10,
                3,
            ),
            ..Task::new(
                "arn:aws:states:::mediaconvert:createJob.sync",
                // The plan's body, member by member. The execution's name is the
                // idempotency token: a CreateJob retried after a lost answer gets the job
                // it made, not a second one.
                json!({
                    "Role.$": "$.plan.job.Role",
                    "Queue.$": "$.plan.job.Queue",
                    "Settings.$": "$.plan.job.Settings",
                    "StatusUpdateInterval.$": "$.plan.job.StatusUpdateInterval",
                    // The job-state handler finds the record by its mpe_job_id.
                    "UserMetadata.$": "$.plan.job.UserMetadata",
                    "ClientRequestToken.$": "$$.Execution.Name",
                }),
                Some("RecordComplete"),
            )
        }
        .state(),
    );
    add(
        "RecordComplete",
        Task::new(
            "arn:aws:states:::dynamodb:updateItem",
            json!({
                "TableName": "${JobTableName}",
                "Key": { "id": { "S.$": "$$.Execution.Name" } },
                "UpdateExpression":
                    "SET #status = :status, completedAt = :completedAt, mediaConvertJobId = :jobId",
                "ExpressionAttributeNames": { "#status": "status" },
                "ExpressionAttributeValues": {
                    ":status": { "S": "COMPLETE" },
                    ":completedAt": { "S.$": "$$.State.EnteredTime" },
                    ":jobId": { "S.$": "$.transcode.jobId" },
                },
            }),
            Some("Notify"),
        )
        .state(),
    );
    add(
        "Notify",
        Task::new(
            "arn:aws:states:::sns:publish",
            json!({
                "TopicArn": "${NotificationTopicArn}",
                "Subject": "mpe job complete",
                "Message.$": "States.Format('mpe job {} is COMPLETE (MediaConvert job {})', \
                    $$.Execution.Name, $.transcode.jobId)",
            }),
            None,
        )
        .state(),
    );
    add(
        "SendToDLQ",
        Task {
            catch: catch_to_fail(),
            ..Task::new(
                "arn:aws:states:::sqs:sendMessage",
                json!({
                    "QueueUrl": "${DeadLetterQueueUrl}",
                    "MessageBody.$": "States.JsonToString($)",
                }),
                Some("MarkError"),
            )
        }
        .state(),
    );
    add(
        "MarkError",
        Task {
            catch: catch_to_fail(),
            // An upsert, so that a run that fails in Validate still gets a record.
            ..Task::new(
                "arn:aws:states:::dynamodb:updateItem",
                json!({
                    "TableName": "${JobTableName}",
                    "Key": { "id": { "S.$": "$$.Execution.Name" } },
                    "UpdateExpression": "SET #status = :status, #error = :error, \
                        startedAt = if_not_exists(startedAt, :startedAt)",
                    "ExpressionAttributeNames": { "#status": "status", "#error": "error" },
                    "ExpressionAttributeValues": {
                        ":status": { "S": "ERROR" },
                        ":error": { "S.$": "States.JsonToString($.error)" },
                        ":startedAt": { "S.$": "$$.Execution.StartTime" },
                    },
                }),
                Some("MarkUploadError"),
            )
        }
        .state(),
    );
    add(
        "MarkUploadError",
        Task {
            // The notice goes out whatever happens here.
            catch: json!([{
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.statusError",
                "Next": "NotifyFailure",
            }]),
            result_path: None,
            retry: retry(LAMBDA_ERRORS, 2, 3),
            // The upload's status record (the API's) says why, as the job record does.
            ..Task::new(
                "arn:aws:states:::lambda:invoke",
                json!({
                    "FunctionName": "${StatusFunctionArn}",
                    "Payload": {
                        "rejected": {
                            "key.$": "$.detail.object.key",
                            "reason.$": "$.error",
                        },
                    },
                }),
                Some("NotifyFailure"),
            )
        }
        .state(),
    );
    add(
        "NotifyFailure",
        Task {
            catch: catch_to_fail(),
            ..Task::new(
                "arn:aws:states:::sns:publish",
                json!({
                    "TopicArn": "${NotificationTopicArn}",
                    "Subject": "mpe job failed",
                    "Message.$": "States.Format('mpe job {} FAILED: {}', $$.Execution.Name, \
                        States.JsonToString($.error))",
                }),
                Some("Failed"),
            )
        }
        .state(),
    );
    add(
        "Failed",
        json!({
            "Type": "Fail",
            "Error": "MpePipelineFailed",
            "Cause": "See the execution history, the job record and the dead-letter queue",
        }),
    );
    Value::Object(states)
}

fn state_machine(res: &mut Resources) {
    role(
        res,
        "StateMachineRole",
        "pipeline",
        "states.amazonaws.com",
        Some(json!({ "StringEquals": { "aws:SourceAccount": ref_("AWS::AccountId") } })),
    );
    policy(
        res,
        "StateMachinePolicy",
        "pipeline",
        "StateMachineRole",
        vec![
            stmt(
                "InvokeValidateAndPlan",
                &["lambda:InvokeFunction"],
                json!([
                    ref_("ValidateAlias"),
                    att("PlanFunction", "Arn"),
                    att("StatusFunction", "Arn"),
                ]),
            ),
            stmt(
                "WriteJobRecords",
                &["dynamodb:PutItem", "dynamodb:UpdateItem"],
                att("JobTable", "Arn"),
            ),
            // CreateJob takes the queue's ARN as its resource (the planned job names no
            // template). If a deployment gets AccessDenied on CreateJob, this scoping is
            // the first thing to widen.
            stmt(
                "CreateMediaConvertJobs",
                &["mediaconvert:CreateJob"],
                att("MediaConvertQueue", "Arn"),
            ),
            // TagResource: Step Functions tags the jobs it creates.
            stmt(
                "FollowMediaConvertJobs",
                &[
                    "mediaconvert:GetJob",
                    "mediaconvert:CancelJob",
                    "mediaconvert:TagResource",
                ],
                sub("arn:${AWS::Partition}:mediaconvert:${AWS::Region}:${AWS::AccountId}:jobs/*"),
            ),
            stmt(
                "PassMediaConvertRole",
                &["iam:PassRole"],
                att("MediaConvertRole", "Arn"),
            )
            .condition(json!({
                "StringEquals": { "iam:PassedToService": "mediaconvert.amazonaws.com" },
            })),
            // The rule through which .sync integrations learn that a job ended.
            stmt(
                "ManageSyncEventRule",
                &["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                sub(
                    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:\
                     rule/StepFunctionsGetEventsForMediaConvertJobRule",
                ),
            ),
            stmt("Notify", &["sns:Publish"], ref_("NotificationTopic")),
            stmt(
                "SendToDeadLetterQueue",
                &["sqs:SendMessage"],
                att("DeadLetterQueue", "Arn"),
            ),
            stmt("UseKey", KEY_USE, key_arn()),
            // "*": these vended-log delivery actions have no resource types; Step
            // Functions needs them for its LoggingConfiguration.
            stmt(
                "DeliverExecutionLogs",
                &[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                json!("*"),
            ),
            // Sampling too, for the state machine's TracingConfiguration.
            write_traces(&[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ]),
        ],
    );
    res.add(
        "StateMachineLogGroup",
        "AWS::Logs::LogGroup",
        json!({
            // The prefix AWS recommends for vended logs: the logs resource policy then
            // covers the prefix instead of growing by one entry per log group.
            "LogGroupName": sub("/aws/vendedlogs/states/mpe-pipeline-${EnvironmentSuffix}"),
            "RetentionInDays": ref_("LogRetentionDays"),
            "KmsKeyId": key_arn(),
            "Tags": tags(),
        }),
    );
    res.add(
        "StateMachine",
        "AWS::StepFunctions::StateMachine",
        json!({
            "StateMachineName": name("pipeline"),
            "StateMachineType": "STANDARD",
            "RoleArn": att("StateMachineRole", "Arn"),
            "Definition": {
                "Comment": "mpe: validate and probe, plan the job, record, transcode, record, \
                    notify; rejections and failures to the DLQ",
                "StartAt": "Validate",
                "States": states(),
            },
            "DefinitionSubstitutions": {
                "ValidateFunctionAliasArn": ref_("ValidateAlias"),
                "PlanFunctionArn": att("PlanFunction", "Arn"),
                "StatusFunctionArn": att("StatusFunction", "Arn"),
                "JobTableName": ref_("JobTable"),
                "NotificationTopicArn": ref_("NotificationTopic"),
                "DeadLetterQueueUrl": ref_("DeadLetterQueue"),
            },
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": true,
                "Destinations": [{
                    "CloudWatchLogsLogGroup": { "LogGroupArn": att("StateMachineLogGroup", "Arn") },
                }],
            },
            "TracingConfiguration": { "Enabled": true },
            "Tags": tags(),
        }),
    )
    // Step Functions checks log delivery when it creates the state machine.
    .depends_on(&["StateMachinePolicy"]);
}

fn rules(res: &mut Resources) {
    role(res, "EventsRole", "events", "events.amazonaws.com", None);
    policy(
        res,
        "EventsPolicy",
        "events",
        "EventsRole",
        vec![stmt(
            "StartPipeline",
            &["states:StartExecution"],
            ref_("StateMachine"),
        )],
    );
    let retry_policy = json!({ "MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600 });
    // `mpe cloud submit` uploads under uploads/; events EventBridge cannot deliver go to
    // the retry queue, whose redrive passes them to the dead-letter queue.
    res.add(
        "UploadRule",
        "AWS::Events::Rule",
        json!({
            "Name": name("upload-created"),
            "Description": "A new object under uploads/ in the raw bucket starts the pipeline",
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": { "name": [ref_("RawBucket")] },
                    "object": { "key": [{ "prefix": "uploads/" }] },
                },
            },
            "Targets": [{
                "Id": "pipeline",
                "Arn": ref_("StateMachine"),
                "RoleArn": att("EventsRole", "Arn"),
                "RetryPolicy": retry_policy.clone(),
                "DeadLetterConfig": { "Arn": att("RetryQueue", "Arn") },
            }],
            "Tags": tags(),
        }),
    );
    res.add(
        "JobStateRule",
        "AWS::Events::Rule",
        json!({
            "Name": name("job-state-change"),
            "Description": "MediaConvert jobs of this stack's queue that end COMPLETE or ERROR",
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.mediaconvert"],
                "detail-type": ["MediaConvert Job State Change"],
                "detail": {
                    "status": ["COMPLETE", "ERROR"],
                    "queue": [att("MediaConvertQueue", "Arn")],
                },
            },
            "Targets": [{
                "Id": "job-state",
                "Arn": att("JobStateFunction", "Arn"),
                "RetryPolicy": retry_policy,
                "DeadLetterConfig": { "Arn": att("DeadLetterQueue", "Arn") },
            }],
            "Tags": tags(),
        }),
    );
}
