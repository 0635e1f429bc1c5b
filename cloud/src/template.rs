//! Job templates and output presets: a job made from a template, its outputs made from
//! presets, resolved into the one full CreateJob request the executor reads.
//!
//! The rules (MediaConvert User Guide, "Working with job templates" and "Working with
//! output presets"; API Reference, `CreateJob.JobTemplate` and `Output.Preset`):
//!
//! - **A template lies under its job.** The job's `Settings` are merged over the
//!   template's: an object member the job gives is merged member by member, and any
//!   other value the job gives (a string, a number, a list such as `Inputs` or
//!   `OutputGroups`) replaces the template's whole. What the job leaves out, the template
//!   fills in. This is how the documentation's own sample uses a template (the job gives
//!   only `Inputs`, the template its output groups and their destinations), and why the
//!   Video on Demand on AWS solution, which changes destinations, resends each output
//!   group whole.
//! - **Job-wide members**: `Queue`, `Priority`, `StatusUpdateInterval` and
//!   `AccelerationSettings` come from the template where the job has none.
//! - **A preset lies under its output.** An output naming a `Preset` takes the preset's
//!   `ContainerSettings`, `VideoDescription` and `AudioDescriptions`, with any of those
//!   the output gives itself merged over them by the same rule; its `NameModifier`,
//!   `Extension` and `OutputSettings` are the output's own.
//!
//! A template or preset that does not exist is the request's error, named by path.

use serde_json::{Map, Value};

use crate::error::CloudError;

/// `over` merged onto `under`: objects member by member, anything else replaced.
pub fn merge(under: &Value, over: &Value) -> Value {
    match (under, over) {
        (Value::Object(u), Value::Object(o)) => {
            let mut out: Map<String, Value> = u.clone();
            for (k, v) in o {
                let merged = match u.get(k) {
                    Some(base) => merge(base, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => over.clone(),
    }
}

/// Members of a template that a job without them inherits.
const INHERITED: &[&str] = &[
    "Queue",
    "Priority",
    "StatusUpdateInterval",
    "AccelerationSettings",
];

/// A CreateJob request (PascalCase) with its `JobTemplate` and its outputs' `Preset`s
/// resolved: `template` is the named template's body as stored (its `Settings` and
/// job-wide members), `preset` finds a preset's `Settings` by name. The result names
/// neither; the request is otherwise unchanged.
pub fn resolve(
    request: &Value,
    template: Option<&Value>,
    preset: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, CloudError> {
    let mut job = request.clone();
    let Some(obj) = job.as_object_mut() else {
        return Ok(job);
    };
    if let Some(t) = template {
        let settings = merge(
            t.get("Settings").unwrap_or(&Value::Null),
            obj.get("Settings").unwrap_or(&Value::Null),
        );
        // A job that gives no Settings at all takes the template's as they are.
        let settings = if settings.is_null() {
            t.get("Settings").cloned().unwrap_or(Value::Null)
        } else {
            settings
        };
        obj.insert("Settings".into(), settings);
        for k in INHERITED {
            if let (None, Some(v)) = (obj.get(*k), t.get(*k)) {
                obj.insert((*k).into(), v.clone());
            }
        }
    }
    obj.remove("JobTemplate");
    let groups = obj
        .get_mut("Settings")
        .and_then(|s| s.get_mut("OutputGroups"))
        .and_then(Value::as_array_mut);
    for (g, group) in groups.into_iter().flatten().enumerate() {
        let outputs = group.get_mut("Outputs").and_then(Value::as_array_mut);
        for (o, output) in outputs.into_iter().flatten().enumerate() {
            let Some(out) = output.as_object_mut() else {
                continue;
            };
            let Some(name) = out.remove("Preset") else {
                continue;
            };
            let field = format!("Settings.OutputGroups[{g}].Outputs[{o}].Preset");
            let Some(name) = name.as_str() else {
                return Err(CloudError::Job {
                    field,
                    reason: "a preset name is a string".into(),
                });
            };
            let Some(settings) = preset(name) else {
                return Err(CloudError::Job {
                    field,
                    reason: format!("no preset named {name:?}"),
                });
            };
            let own = Value::Object(std::mem::take(out));
            let merged = merge(&settings, &own);
            if let Value::Object(m) = merged {
                *out = m;
            }
        }
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The documentation's pattern: the template holds the output groups (one output
    /// from a preset, one written out), the job the input and a change of segment length.
    #[test]
    fn a_job_over_its_template_and_an_output_over_its_preset() {
        let template = json!({
            "Queue": "arn:aws:mediaconvert:local:000000000000:queues/Fast",
            "Priority": 10,
            "StatusUpdateInterval": "SECONDS_10",
            "Settings": {
                "TimecodeConfig": { "Source": "ZEROBASED" },
                "Inputs": [{ "TimecodeSource": "ZEROBASED", "DeblockFilter": "DISABLED" }],
                "OutputGroups": [{
                    "Name": "Apple HLS",
                    "OutputGroupSettings": { "Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {
                        "SegmentLength": 10, "MinSegmentLength": 0,
                        "Destination": "s3://media/asset/hls/" } },
                    "Outputs": [
                        { "NameModifier": "_720p", "Preset": "hls-720p" },
                        { "NameModifier": "_360p", "ContainerSettings": { "Container": "M3U8" } }
                    ]
                }]
            }
        });
        let preset = |name: &str| {
            (name == "hls-720p").then(|| {
                json!({
                    "ContainerSettings": { "Container": "M3U8" },
                    "VideoDescription": { "Width": 1280, "Height": 720, "CodecSettings": {
                        "Codec": "H_264", "H264Settings": { "RateControlMode": "QVBR" } } }
                })
            })
        };
        let job = json!({
            "Role": "arn:aws:iam::000000000000:role/MediaConvert",
            "JobTemplate": "ladder",
            "Priority": -5,
            "Settings": { "Inputs": [{ "FileInput": "s3://raw/uploads/a.mp4" }] }
        });
        let got = resolve(&job, Some(&template), &preset).expect("resolves");
        // The job's own members stay; the template fills what it leaves out.
        assert_eq!(got["Role"], job["Role"]);
        assert_eq!(got["Priority"], -5);
        assert_eq!(got["Queue"], template["Queue"]);
        assert_eq!(got["StatusUpdateInterval"], "SECONDS_10");
        assert!(got.get("JobTemplate").is_none());
        let s = &got["Settings"];
        assert_eq!(s["TimecodeConfig"], json!({ "Source": "ZEROBASED" }));
        // A list the job gives replaces the template's whole.
        assert_eq!(
            s["Inputs"],
            json!([{ "FileInput": "s3://raw/uploads/a.mp4" }])
        );
        let outputs = &s["OutputGroups"][0]["Outputs"];
        assert_eq!(
            outputs[0],
            json!({ "NameModifier": "_720p",
                "ContainerSettings": { "Container": "M3U8" },
                "VideoDescription": { "Width": 1280, "Height": 720, "CodecSettings": {
                    "Codec": "H_264", "H264Settings": { "RateControlMode": "QVBR" } } } })
        );
        assert_eq!(
            outputs[1],
            template["Settings"]["OutputGroups"][0]["Outputs"][1]
        );

        // Objects merge member by member (the job's TimecodeConfig keeps the template's
        // Source); a list the job gives is its own (its output groups replace the
        // template's whole), and an output's own settings lie over its preset's.
        let mut tuned = job.clone();
        tuned["Settings"]["TimecodeConfig"] = json!({ "Start": "01:00:00:00" });
        tuned["Settings"]["OutputGroups"] = template["Settings"]["OutputGroups"].clone();
        tuned["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"] =
            json!({ "SegmentLength": 4, "Destination": "s3://media/b/hls/" });
        tuned["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"] =
            json!({ "Height": 540 });
        let got = resolve(&tuned, Some(&template), &preset).expect("resolves");
        assert_eq!(
            got["Settings"]["TimecodeConfig"],
            json!({ "Source": "ZEROBASED", "Start": "01:00:00:00" })
        );
        let group = &got["Settings"]["OutputGroups"][0];
        assert_eq!(
            group["OutputGroupSettings"]["HlsGroupSettings"],
            json!({ "SegmentLength": 4, "Destination": "s3://media/b/hls/" })
        );
        let video = &group["Outputs"][0]["VideoDescription"];
        assert_eq!(
            (&video["Width"], &video["Height"]),
            (&json!(1280), &json!(540))
        );
        assert_eq!(
            video["CodecSettings"]["H264Settings"]["RateControlMode"],
            "QVBR"
        );
    }

    #[test]
    fn a_missing_preset_is_named_by_path() {
        let job = json!({ "Settings": { "OutputGroups": [{ "Outputs": [
            { "ContainerSettings": { "Container": "MP4" } }, { "Preset": "nope" } ] }] } });
        let e = resolve(&job, None, &|_| None).expect_err("no such preset");
        assert_eq!(
            e.to_string(),
            "job: Settings.OutputGroups[0].Outputs[1].Preset: no preset named \"nope\""
        );
    }
}
