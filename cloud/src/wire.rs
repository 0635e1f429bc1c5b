//! MediaConvert's REST wire JSON is the API model's members in camelCase (every
//! `locationName` is the member name with its first letter lowered); requests as the
//! console, the CLI and `mpe cloud render` write them are PascalCase. Map members keep
//! their keys (`"Audio Selector 1"`, user metadata) in both.

use serde_json::{Map, Value};

/// Members whose values are maps with user-chosen keys (from the API model).
const MAPS: &[&str] = &[
    "AudioSelectorGroups",
    "AudioSelectors",
    "CaptionSelectors",
    "DynamicAudioSelectors",
    "Tags",
    "UserMetadata",
];

/// camelCase wire JSON -> PascalCase.
pub fn to_pascal(v: &Value) -> Value {
    convert(v, &to_upper_first)
}

/// PascalCase -> camelCase wire JSON.
pub fn to_camel(v: &Value) -> Value {
    convert(v, &|k: &str| {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
            .unwrap_or_default()
    })
}

fn convert(v: &Value, rename: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                let new = rename(k);
                let pascal = to_upper_first(k);
                let converted = if MAPS.contains(&pascal.as_str()) {
                    match val {
                        // A map: its keys are data, its values are structures (or strings).
                        Value::Object(inner) => Value::Object(
                            inner
                                .iter()
                                .map(|(ik, iv)| (ik.clone(), convert(iv, rename)))
                                .collect(),
                        ),
                        other => other.clone(),
                    }
                } else {
                    convert(val, rename)
                };
                out.insert(new, converted);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| convert(x, rename)).collect()),
        other => other.clone(),
    }
}

fn to_upper_first(k: &str) -> String {
    let mut c = k.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_change_case_and_map_keys_do_not() {
        let wire = json!({ "settings": { "inputs": [{ "fileInput": "s3://a/b.mp4",
            "audioSelectors": { "Audio Selector 1": { "defaultSelection": "DEFAULT" } } }] },
            "userMetadata": { "mpe_job_id": "x" } });
        let pascal = to_pascal(&wire);
        assert_eq!(
            pascal,
            json!({ "Settings": { "Inputs": [{ "FileInput": "s3://a/b.mp4",
                "AudioSelectors": { "Audio Selector 1": { "DefaultSelection": "DEFAULT" } } }] },
                "UserMetadata": { "mpe_job_id": "x" } })
        );
        assert_eq!(to_camel(&pascal), wire);
    }
}
