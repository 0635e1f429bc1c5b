//! The status table of the deployed API (DynamoDB, partition key `FileName`): status
//! records as items, and the reads and guarded writes the `api` and `status` handlers
//! make.
//!
//! Two indexes: `ByUploadId` finds the record of an upload (`GET /api/uploads/{id}/parts`),
//! `ByTime` (`Kind`, `UpdatedAt`) orders them for `GET /api/status` and the event stream.
//! Every write is guarded by the item's `Version`, so that events handled at once (a
//! job's PROGRESSING and COMPLETE) never overwrite one another.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::api::{Outputs, Stage, StatusRecord};
use crate::aws::describe;
use crate::error::CloudError;

/// The index by upload id.
pub const BY_UPLOAD: &str = "ByUploadId";
/// The index by time of change (partition `Kind`, sort `UpdatedAt`).
pub const BY_TIME: &str = "ByTime";
/// The one `Kind` every record has, so that `ByTime` holds them all in one order.
pub const KIND: &str = "upload";

/// How often a guarded write is tried again after another writer came first.
const TRIES: usize = 8;

/// A record with the object key it follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// What the API answers.
    pub record: StatusRecord,
    /// The raw bucket's key of the upload.
    pub key: String,
}

/// The time now as the records write it: RFC 3339 in UTC with milliseconds, always the
/// same length, so that text order is time order (the `ByTime` sort key).
pub fn now() -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = aws_smithy_types::DateTime::from_secs(t.as_secs() as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    match secs.strip_suffix('Z') {
        Some(s) => format!("{s}.{:03}Z", t.subsec_millis()),
        None => secs,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn list(v: &[String]) -> AttributeValue {
    AttributeValue::L(v.iter().map(|x| s(x)).collect())
}

/// The item of an entry (without `Version`, which the write sets).
pub fn to_item(e: &Entry) -> HashMap<String, AttributeValue> {
    let r = &e.record;
    let mut item = HashMap::from([
        ("FileName".to_string(), s(&r.file_name)),
        ("Kind".to_string(), s(KIND)),
        ("ObjectKey".to_string(), s(&e.key)),
        ("Status".to_string(), s(r.status.as_str())),
        (
            "Percent".to_string(),
            AttributeValue::N(r.percent.to_string()),
        ),
        ("UpdatedAt".to_string(), s(&r.updated_at)),
    ]);
    let o = &r.outputs;
    let mut outputs = HashMap::from([
        ("Mp4".to_string(), list(&o.mp4)),
        ("Thumbnails".to_string(), list(&o.thumbnails)),
    ]);
    for (name, v) in [
        ("Hls", &o.hls),
        ("Dash", &o.dash),
        ("Preview", &o.preview),
        ("Trickplay", &o.trickplay),
    ] {
        if let Some(v) = v {
            outputs.insert(name.to_string(), s(v));
        }
    }
    item.insert("Outputs".to_string(), AttributeValue::M(outputs));
    // Absent rather than empty: an index key may not be an empty string.
    for (name, v) in [
        ("UploadId", &r.upload_id),
        ("JobId", &r.job_id),
        ("Error", &r.error),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            item.insert(name.to_string(), s(v));
        }
    }
    item
}

/// The entry of an item; `None` for one this code did not write.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Entry> {
    let text = |m: &HashMap<String, AttributeValue>, k: &str| {
        m.get(k).and_then(|v| v.as_s().ok()).cloned()
    };
    let texts = |m: &HashMap<String, AttributeValue>, k: &str| -> Vec<String> {
        m.get(k)
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default()
    };
    let o = item
        .get("Outputs")
        .and_then(|v| v.as_m().ok())
        .cloned()
        .unwrap_or_default();
    Some(Entry {
        key: text(item, "ObjectKey")?,
        record: StatusRecord {
            file_name: text(item, "FileName")?,
            upload_id: text(item, "UploadId"),
            status: Stage::parse(&text(item, "Status")?)?,
            percent: item
                .get("Percent")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u8>().ok())
                .unwrap_or(0)
                .min(100),
            job_id: text(item, "JobId"),
            error: text(item, "Error"),
            updated_at: text(item, "UpdatedAt")?,
            outputs: Outputs {
                hls: text(&o, "Hls"),
                dash: text(&o, "Dash"),
                mp4: texts(&o, "Mp4"),
                thumbnails: texts(&o, "Thumbnails"),
                preview: text(&o, "Preview"),
                trickplay: text(&o, "Trickplay"),
            },
        },
    })
}

fn version_of(item: &HashMap<String, AttributeValue>) -> u64 {
    item.get("Version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The table, through a DynamoDB client.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    /// The client.
    pub ddb: &'a aws_sdk_dynamodb::Client,
    /// The table's name.
    pub name: &'a str,
}

/// A page of records, newest first, and the token of the next one.
pub type Page = (Vec<StatusRecord>, Option<String>);

impl Table<'_> {
    fn failed<E>(&self, action: String) -> impl FnOnce(SdkError<E, HttpResponse>) -> CloudError + '_
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        move |e| CloudError::Aws {
            action: format!("{action} (table {})", self.name),
            message: describe(&e),
        }
    }

    async fn read(
        &self,
        file_name: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, CloudError> {
        let out = self
            .ddb
            .get_item()
            .table_name(self.name)
            .key("FileName", s(file_name))
            .consistent_read(true)
            .send()
            .await
            .map_err(self.failed(format!("read the status of {file_name:?}")))?;
        Ok(out.item)
    }

    /// The record of `file_name`.
    pub async fn get(&self, file_name: &str) -> Result<Option<Entry>, CloudError> {
        Ok(self.read(file_name).await?.as_ref().and_then(from_item))
    }

    /// Applies `f` to the entry of `file_name` (none yet: `None`) and writes what it
    /// returns, unless another writer changed the item meanwhile: then it reads and
    /// applies again. `f` returning `None` writes nothing. Returns what was written.
    pub async fn change(
        &self,
        file_name: &str,
        f: impl Fn(Option<Entry>) -> Option<Entry>,
    ) -> Result<Option<Entry>, CloudError> {
        for _ in 0..TRIES {
            let item = self.read(file_name).await?;
            let version = item.as_ref().map(version_of);
            let Some(next) = f(item.as_ref().and_then(from_item)) else {
                return Ok(None);
            };
            let mut new_item = to_item(&next);
            new_item.insert(
                "Version".to_string(),
                AttributeValue::N((version.unwrap_or(0) + 1).to_string()),
            );
            let mut req = self
                .ddb
                .put_item()
                .table_name(self.name)
                .set_item(Some(new_item));
            req = match version {
                None => req.condition_expression("attribute_not_exists(FileName)"),
                Some(v) => req
                    .condition_expression("Version = :v")
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            };
            match req.send().await {
                Ok(_) => return Ok(Some(next)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(self.failed(format!("write the status of {file_name:?}"))(e)),
            }
        }
        Err(CloudError::Aws {
            action: format!("write the status of {file_name:?} (table {})", self.name),
            message: format!("other writers came first {TRIES} times"),
        })
    }

    /// The entry of the upload `upload_id`.
    pub async fn by_upload(&self, upload_id: &str) -> Result<Option<Entry>, CloudError> {
        let out = self
            .ddb
            .query()
            .table_name(self.name)
            .index_name(BY_UPLOAD)
            .key_condition_expression("UploadId = :u")
            .expression_attribute_values(":u", s(upload_id))
            .send()
            .await
            .map_err(self.failed(format!("find upload {upload_id:?}")))?;
        Ok(out.items().iter().find_map(from_item))
    }

    /// Up to `limit` records, most recently changed first, after the page `token`
    /// ended (a token this gave; `Err(None)` for one it did not).
    pub async fn page(
        &self,
        limit: usize,
        token: Option<&str>,
    ) -> Result<Page, Option<CloudError>> {
        let start = match token {
            Some(t) => Some(decode_token(t).ok_or(None)?),
            None => None,
        };
        let out = self
            .ddb
            .query()
            .table_name(self.name)
            .index_name(BY_TIME)
            .key_condition_expression("Kind = :k")
            .expression_attribute_values(":k", s(KIND))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Some(self.failed("list the statuses".into())(e)))?;
        let items = out
            .items()
            .iter()
            .filter_map(from_item)
            .map(|e| e.record)
            .collect();
        Ok((items, out.last_evaluated_key().map(encode_token)))
    }

    /// Up to `limit` records changed after `after` (an `UpdatedAt`), oldest first.
    pub async fn since(&self, after: &str, limit: usize) -> Result<Vec<StatusRecord>, CloudError> {
        let out = self
            .ddb
            .query()
            .table_name(self.name)
            .index_name(BY_TIME)
            .key_condition_expression("Kind = :k AND UpdatedAt > :t")
            .expression_attribute_values(":k", s(KIND))
            .expression_attribute_values(":t", s(after))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(self.failed(format!("list the changes since {after}")))?;
        Ok(out
            .items()
            .iter()
            .filter_map(from_item)
            .map(|e| e.record)
            .collect())
    }
}

/// A page's end as an opaque token: the hex of the index key's three strings.
fn encode_token(key: &HashMap<String, AttributeValue>) -> String {
    let part = |k: &str| {
        key.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let text = serde_json::json!([part("FileName"), part("UpdatedAt")]).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(t: &str) -> Option<HashMap<String, AttributeValue>> {
    if !t.len().is_multiple_of(2) || t.len() > 2048 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect();
    let parts: Vec<String> = serde_json::from_slice(&bytes?).ok()?;
    let [file_name, updated_at] = <[String; 2]>::try_from(parts).ok()?;
    Some(HashMap::from([
        ("FileName".to_string(), s(&file_name)),
        ("Kind".to_string(), s(KIND)),
        ("UpdatedAt".to_string(), s(&updated_at)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_survives_its_item_and_a_token_its_round_trip() {
        let mut record = StatusRecord::uploading("a b.mp4", "up-1", &now());
        record.outputs.hls = Some("https://cdn/a/cmaf/a.m3u8".into());
        record.outputs.mp4 = vec!["https://cdn/a/mp4/a_720p.mp4".into()];
        record.error = Some(String::new());
        let e = Entry {
            record,
            key: "uploads/a b.mp4".into(),
        };
        let back = from_item(&to_item(&e)).expect("reads");
        assert_eq!(back.record.error, None, "an empty error is not kept");
        assert_eq!(
            Entry {
                record: StatusRecord {
                    error: None,
                    ..e.record.clone()
                },
                ..e.clone()
            },
            back
        );
        let key = HashMap::from([
            ("FileName".to_string(), s("x.mp4")),
            ("Kind".to_string(), s(KIND)),
            ("UpdatedAt".to_string(), s("2026-12-04T10:00:00.000Z")),
        ]);
        assert_eq!(decode_token(&encode_token(&key)), Some(key));
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token("123"), None);
    }

    #[test]
    fn times_sort_as_text() {
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let b = now();
        assert_eq!(a.len(), "2026-12-04T10:00:00.000Z".len(), "{a}");
        assert!(a < b, "{a} {b}");
    }
}
