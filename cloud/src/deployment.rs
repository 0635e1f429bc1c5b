//! What `mpe cloud` reads from the deployed stack (`stack.json`): its outputs, given as
//! the JSON `aws cloudformation describe-stacks` prints.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::CloudError;

/// The raw uploads bucket's name.
pub const RAW_BUCKET: &str = "RawBucketName";
/// The processed media bucket's name (assets go to `s3://<it>/<asset>/`).
pub const MEDIA_BUCKET: &str = "MediaBucketName";
/// The IAM role MediaConvert assumes.
pub const ROLE_ARN: &str = "MediaConvertRoleArn";
/// The on-demand queue.
pub const QUEUE_ARN: &str = "MediaConvertQueueArn";
/// The customer-managed KMS key that encrypts the buckets.
pub const KMS_KEY_ARN: &str = "KmsKeyArn";

/// A stack's outputs by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs(BTreeMap<String, String>);

impl StackOutputs {
    /// Reads `describe-stacks` output (`{"Stacks": [{"Outputs": [...]}]}`), a bare
    /// `Outputs` list (`--query 'Stacks[0].Outputs'`), or a flat `{"Key": "Value"}` map.
    pub fn parse(doc: &Value, path: &str) -> Result<StackOutputs, CloudError> {
        let bad = |reason: &str| CloudError::StackOutputs {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let list = match doc {
            Value::Object(m) if m.contains_key("Stacks") => {
                let stacks = m["Stacks"]
                    .as_array()
                    .ok_or_else(|| bad("Stacks is not a list"))?;
                match stacks.as_slice() {
                    [one] => one.get("Outputs").cloned().unwrap_or(Value::Array(vec![])),
                    [] => return Err(bad("no stack in Stacks")),
                    _ => return Err(bad("several stacks; pass --stack-name to describe-stacks")),
                }
            }
            Value::Object(m) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .ok_or_else(|| bad(&format!("value of {k} is not a string")))?;
                    out.insert(k.clone(), v.to_string());
                }
                return Ok(StackOutputs(out));
            }
            other => other.clone(),
        };
        let items = list
            .as_array()
            .ok_or_else(|| bad("Outputs is not a list"))?;
        let mut out = BTreeMap::new();
        for item in items {
            let (Some(k), Some(v)) = (
                item.get("OutputKey").and_then(Value::as_str),
                item.get("OutputValue").and_then(Value::as_str),
            ) else {
                return Err(bad("an output lacks OutputKey or OutputValue"));
            };
            out.insert(k.to_string(), v.to_string());
        }
        Ok(StackOutputs(out))
    }

    /// An output's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_shape_the_cli_prints() {
        let list = json!([{ "OutputKey": RAW_BUCKET, "OutputValue": "raw-dev" }]);
        let full = json!({ "Stacks": [{ "StackName": "mpe", "Outputs": list.clone() }] });
        let flat = json!({ RAW_BUCKET: "raw-dev" });
        for doc in [list, full, flat] {
            let o = StackOutputs::parse(&doc, "f").expect("parses");
            assert_eq!(o.get(RAW_BUCKET), Some("raw-dev"));
            assert_eq!(o.get(ROLE_ARN), None);
        }
        let err =
            StackOutputs::parse(&json!([{ "OutputKey": "x" }]), "f.json").expect_err("no value");
        assert_eq!(
            err.to_string(),
            "stack outputs f.json: an output lacks OutputKey or OutputValue"
        );
    }
}
