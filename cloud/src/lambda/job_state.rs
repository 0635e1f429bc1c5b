//! The `job-state` handler: a "MediaConvert Job State Change" event (COMPLETE or ERROR)
//! becomes an update of the job's record in the job table.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use crate::aws::describe;
use crate::error::CloudError;
use crate::model::{self, JobStateChange, ModelError, JOB_STATE_CHANGE};

/// What the record gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordUpdate {
    /// The record's key: mpe's job id (the execution name, in UserMetadata).
    pub id: String,
    /// COMPLETE, ERROR, PROGRESSING...
    pub status: String,
    /// MediaConvert's job id.
    pub mediaconvert_job_id: String,
    /// When MediaConvert said so (the event's time).
    pub at: String,
    /// Playlists, manifests and files the job wrote (COMPLETE).
    pub outputs: Vec<String>,
    /// `code: message` (ERROR).
    pub error: Option<String>,
}

/// Reads the event. `Ok(None)` for a job that is not one of mpe's (no `mpe_job_id`):
/// the rule may match other jobs in the account's queues.
pub fn update(event: &Value) -> Result<Option<RecordUpdate>, CloudError> {
    if event.get("detail-type").and_then(Value::as_str) != Some(JOB_STATE_CHANGE) {
        return Err(CloudError::Job {
            field: "detail-type".into(),
            reason: "not a MediaConvert Job State Change event".into(),
        });
    }
    let e: JobStateChange = model::parse(event).map_err(|e| CloudError::Job {
        field: e.path().to_string(),
        reason: match e {
            ModelError::Invalid { reason, .. } => {
                format!("in the MediaConvert Job State Change event: {reason}")
            }
            ModelError::Unknown { .. } => "not in the MediaConvert Job State Change event".into(),
        },
    })?;
    let d = e.detail;
    let Some(id) = d.user_metadata.get("mpe_job_id") else {
        return Ok(None);
    };
    let mut outputs = Vec::new();
    for g in &d.output_group_details {
        outputs.extend(g.playlist_file_paths.iter().cloned());
        for o in &g.output_details {
            outputs.extend(o.output_file_paths.iter().cloned());
        }
    }
    let error = d.error_message.as_ref().map(|m| match d.error_code {
        Some(c) => format!("{c}: {m}"),
        None => m.clone(),
    });
    Ok(Some(RecordUpdate {
        id: id.clone(),
        status: d.status,
        mediaconvert_job_id: d.job_id,
        at: e.time,
        outputs,
        error,
    }))
}

/// Applies the event to the record. The record must exist (the state machine writes it
/// before it creates the job): an event for an unknown id changes nothing.
pub async fn handle(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    event: &Value,
) -> Result<Value, CloudError> {
    let Some(u) = update(event)? else {
        return Ok(json!({ "updated": false, "reason": "not an mpe job" }));
    };
    let mut expr = "SET #status = :status, mediaConvertJobId = :job, updatedAt = :at".to_string();
    let mut req = ddb
        .update_item()
        .table_name(table)
        .key("id", AttributeValue::S(u.id.clone()))
        .condition_expression("attribute_exists(id)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":status", AttributeValue::S(u.status.clone()))
        .expression_attribute_values(":job", AttributeValue::S(u.mediaconvert_job_id.clone()))
        .expression_attribute_values(":at", AttributeValue::S(u.at.clone()));
    if !u.outputs.is_empty() {
        expr.push_str(", outputs = :outputs");
        req = req.expression_attribute_values(
            ":outputs",
            AttributeValue::L(u.outputs.iter().cloned().map(AttributeValue::S).collect()),
        );
    }
    if let Some(e) = &u.error {
        expr.push_str(", #error = :error");
        req = req
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":error", AttributeValue::S(e.clone()));
    }
    match req.update_expression(expr).send().await {
        Ok(_) => Ok(json!({ "updated": true, "id": u.id, "status": u.status })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(json!({ "updated": false, "reason": format!("no record {}", u.id) }))
        }
        Err(e) => Err(CloudError::Aws {
            action: format!("update job record {}", u.id),
            message: describe(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real-shaped event from `cloud/tests/events/` (the documents the stack's
    /// EventBridge rules are also tested against).
    fn event(name: &str) -> Value {
        let text = match name {
            "complete" => include_str!("../../tests/events/mediaconvert-complete.json"),
            "error" => include_str!("../../tests/events/mediaconvert-error.json"),
            _ => include_str!("../../tests/events/mediaconvert-progressing.json"),
        };
        serde_json::from_str(text).expect("event JSON")
    }

    #[test]
    fn complete_records_the_outputs() {
        let u = update(&event("complete"))
            .expect("parses")
            .expect("an mpe job");
        assert_eq!(u.id, "exec-42");
        assert_eq!(u.status, "COMPLETE");
        assert_eq!(u.mediaconvert_job_id, "1732568975123-abc123");
        assert_eq!(
            u.outputs,
            [
                "s3://media/movie/cmaf/movie.mpd",
                "s3://media/movie/cmaf/movie.m3u8",
                "s3://media/movie/mp4/movie_720p.mp4"
            ]
        );
        assert_eq!(u.error, None);
    }

    #[test]
    fn error_records_code_and_message_and_foreign_jobs_are_left_alone() {
        let mut e = event("error");
        let u = update(&e).expect("parses").expect("an mpe job");
        assert_eq!(u.status, "ERROR");
        assert_eq!(
            u.error.as_deref(),
            Some("1030: Unable to open input file [s3://mpe-raw-dev-123456789012/uploads/a.mp4]")
        );
        assert!(u.outputs.is_empty());
        assert_eq!(u.id, "exec-43");

        e["detail"]["userMetadata"] = json!({});
        assert_eq!(update(&e).expect("parses"), None);
        let err = update(&json!({ "detail-type": "Object Created" })).expect_err("refused");
        assert!(err
            .to_string()
            .contains("not a MediaConvert Job State Change"));
    }

    #[test]
    fn the_typed_event_reads_and_writes_back_every_member() {
        for name in ["complete", "error", "progressing"] {
            let v = event(name);
            let typed: JobStateChange = serde_json::from_value(v.clone()).expect("typed");
            assert_eq!(serde_json::to_value(&typed).expect("JSON"), v, "{name}");
        }
        let mut e = event("complete");
        e["detail"].as_object_mut().map(|d| d.remove("jobId"));
        let err = update(&e).expect_err("no job id");
        assert!(err.to_string().contains("detail"), "{err}");
        assert!(err.to_string().contains("jobId"), "{err}");
    }
}
