//! The `status` handler: keeps the status table (`GET /api/status`) in step with the
//! pipeline. S3's "Object Created" (through EventBridge) marks an upload UPLOADED,
//! MediaConvert's job state changes move it on (SUBMITTED, PROGRESSING with its percent,
//! COMPLETE with its delivery URLs, ERROR), and the state machine's failure path reports
//! a rejected upload with its reason.

use serde_json::{json, Value};

use crate::api::{self, JobNews, Stage, StatusRecord};
use crate::error::CloudError;
use crate::model::JOB_STATE_CHANGE;
use crate::status_table::{self, Entry, Table};

/// The handler's configuration (the function's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The status table (`STATUS_TABLE`).
    pub table: String,
    /// The raw bucket's upload prefix (`UPLOAD_PREFIX`).
    pub prefix: String,
    /// Where outputs are delivered, ending with `/` (`DELIVERY_URL`).
    pub cdn: String,
}

impl Settings {
    /// From the function's environment.
    pub fn from_env() -> Result<Settings, CloudError> {
        let mut cdn = super::env_var("DELIVERY_URL")?;
        if !cdn.ends_with('/') {
            cdn.push('/');
        }
        Ok(Settings {
            table: super::env_var("STATUS_TABLE")?,
            prefix: std::env::var("UPLOAD_PREFIX").unwrap_or_else(|_| "uploads/".into()),
            cdn,
        })
    }
}

/// What an event says of an upload.
enum Said {
    /// Its object is complete.
    Uploaded,
    /// Its job moved on.
    Job(JobNews),
    /// The pipeline refused it.
    Rejected(String),
}

/// Reads an event: the upload's object key and what happened to it; `None` for events of
/// no upload (another prefix, another account's jobs).
fn read(event: &Value, s: &Settings) -> Option<(String, Said)> {
    if let Some(r) = event.get("rejected") {
        let key = r["key"].as_str()?.to_string();
        let reason = reason_of(&r["reason"]);
        return Some((key, Said::Rejected(reason)));
    }
    match event["detail-type"].as_str()? {
        "Object Created" => {
            let key = event["detail"]["object"]["key"].as_str()?.to_string();
            Some((key, Said::Uploaded))
        }
        JOB_STATE_CHANGE => {
            let news = JobNews::of(event, &s.cdn)?;
            Some((news.key.clone(), Said::Job(news)))
        }
        _ => None,
    }
}

/// A person's reason from the state machine's `$.error` (`{"Error", "Cause"}`, the cause
/// a Lambda error's JSON with its `errorMessage`), or from plain text.
fn reason_of(v: &Value) -> String {
    let cause = match v {
        Value::String(t) => t.as_str(),
        Value::Object(o) => match o.get("Cause").and_then(Value::as_str) {
            Some(c) => c,
            None => return v.to_string(),
        },
        _ => return "the pipeline failed".to_string(),
    };
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

/// Applies the event to the status table; says what it did.
pub async fn handle(
    ddb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
    s: &Settings,
    event: &Value,
) -> Result<Value, CloudError> {
    let Some((key, mut said)) = read(event, s) else {
        return Ok(json!({ "updated": false, "reason": "not an upload's event" }));
    };
    let Some(file_name) = api::file_name_of(&s.prefix, &key) else {
        return Ok(json!({ "updated": false, "reason": format!("{key:?} is no upload") }));
    };
    // A job that asked for trick play is COMPLETE once its sheets are drawn from its
    // frame captures; captures that cannot be drawn make it an ERROR.
    if let (Said::Job(news), Some(work)) = (&mut said, crate::trickplay::Work::of(event)) {
        let drawn = match work {
            Ok(w) => crate::trickplay::publish(s3, &w).await?,
            Err(e) => Err(e),
        };
        if let Err(e) = drawn {
            news.news = api::News::Error(e.to_string());
        }
    }
    let table = Table {
        ddb,
        name: &s.table,
    };
    let written = table
        .change(&file_name, |before| {
            let now = status_table::now();
            // A record of the same name under another key (another profile's folder)
            // is an older upload: only an object's arrival replaces it.
            let before = before.filter(|e| e.key == key || matches!(said, Said::Uploaded));
            match &said {
                Said::Uploaded => {
                    let prior = before.as_ref().filter(|e| e.key == key).map(|e| &e.record);
                    Some(Entry {
                        record: StatusRecord::uploaded(&file_name, prior, &now),
                        key: key.clone(),
                    })
                }
                Said::Job(news) => {
                    let mut e = before?;
                    news.clone().apply(&mut e.record, &now).then_some(e)
                }
                Said::Rejected(reason) => {
                    let mut e = before?;
                    e.record
                        .advance(Stage::Error, None, &now, |r| r.error = Some(reason.clone()))
                        .then_some(e)
                }
            }
        })
        .await?;
    Ok(match written {
        Some(e) => json!({ "updated": true, "fileName": file_name, "status": e.record.status }),
        None => json!({ "updated": false, "fileName": file_name, "reason": "no change" }),
    })
}
