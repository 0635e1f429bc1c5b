//! The `plan` handler: MediaConvert's probe of an upload -> `profiles::plan` -> the whole
//! CreateJob body, rendered by the same `render_job` that `mpe cloud render` uses, so
//! that the deployed pipeline makes the renditions `mpe transcode` makes for the same
//! source (never upscaled, portrait kept portrait, the source-height rung added).
//!
//! It calls no AWS API: the probe comes in with the payload (the validate handler made
//! it), and the job goes out to the state machine's CreateJob task.

use serde_json::{json, Value};

use crate::error::CloudError;
use crate::mediaconvert::{capture_destination, render_job, JobRequest};
use crate::probe::{media_info, ProbeResult};
use profiles::Profile;

/// The handler's configuration (the function's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Processed media (`MEDIA_BUCKET`): each asset goes to `s3://<it>/<input stem>/`.
    pub media_bucket: String,
    /// Frame captures (`THUMBNAILS_BUCKET`), under the same asset paths.
    pub thumbnails_bucket: String,
    /// The role MediaConvert runs jobs as (`MEDIACONVERT_ROLE`).
    pub role: String,
    /// The queue jobs go to (`MEDIACONVERT_QUEUE`).
    pub queue: Option<String>,
    /// The stack's suffix (`JOB_TEMPLATE_SUFFIX`): the profile's job template is
    /// `mpe-<profile>-<suffix>`, recorded in the job's UserMetadata.
    pub suffix: String,
}

impl Settings {
    /// From the function's environment.
    pub fn from_env() -> Result<Settings, CloudError> {
        Ok(Settings {
            media_bucket: super::env_var("MEDIA_BUCKET")?,
            thumbnails_bucket: super::env_var("THUMBNAILS_BUCKET")?,
            role: super::env_var("MEDIACONVERT_ROLE")?,
            queue: std::env::var("MEDIACONVERT_QUEUE")
                .ok()
                .filter(|q| !q.is_empty()),
            suffix: super::env_var("JOB_TEMPLATE_SUFFIX")?,
        })
    }
}

/// The job template of `profile` in a stack with `suffix` (see the stack's mediaconvert
/// module).
pub fn template_name(profile: &str, suffix: &str) -> String {
    format!("mpe-{profile}-{suffix}")
}

/// Plans one upload. The payload is `{"executionId", "input", "profile", "probe"}`
/// (`probe` a ProbeResult in PascalCase, as the validate handler gives it); the answer
/// always carries `accepted`, `reason` and `job` (the state machine reads all three):
/// the CreateJob body, or `null` with the reason the upload cannot be planned.
pub fn plan(s: &Settings, payload: &Value) -> Value {
    match job(s, payload) {
        Ok(job) => json!({ "accepted": true, "reason": null, "job": job }),
        Err(reason) => json!({ "accepted": false, "reason": reason, "job": null }),
    }
}

fn job(s: &Settings, payload: &Value) -> Result<Value, String> {
    let field = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the payload has no {k}"))
    };
    let (input, name, id) = (field("input")?, field("profile")?, field("executionId")?);
    let profile = Profile::shipped(name).map_err(|e| e.to_string())?;
    let probe = payload
        .get("probe")
        .filter(|p| !p.is_null())
        .ok_or("the payload has no probe")?;
    let result = ProbeResult::from_json(probe).map_err(|e| format!("{input}: {e}"))?;
    let media = media_info(&result, input).map_err(|e| e.to_string())?;
    let planned = profiles::plan(&profile, &media).map_err(|e| e.to_string())?;
    // The asset folder is what MediaConvert's `$fn$` gives the input, as in the job
    // templates: its file name without the extension.
    let layout = profiles::naming::Layout::for_source(input);
    let asset = layout.base();
    let destination = format!("s3://{}/{asset}/", s.media_bucket);
    let mut job = render_job(&JobRequest {
        profile: &profile,
        input,
        destination: &destination,
        role: &s.role,
        queue: s.queue.as_deref(),
        job_id: id,
        plan: Some(&planned),
    })
    .map_err(|e| e.to_string())?;
    if let Some(t) = &profile.thumbnails {
        let to = format!("s3://{}/{asset}/{}", s.thumbnails_bucket, t.destination);
        capture_destination(&mut job, &to).map_err(|e| e.to_string())?;
    }
    job["UserMetadata"]["mpe_job_template"] = json!(template_name(name, &s.suffix));
    // What the status handler keys the upload's record by, from the job's events.
    job["UserMetadata"]["mpe_upload"] = json!(input);
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            media_bucket: "mpe-media-dev-1".into(),
            thumbnails_bucket: "mpe-thumbnails-dev-1".into(),
            role: "arn:aws:iam::1:role/mc".into(),
            queue: Some("arn:aws:mediaconvert:eu-west-3:1:queues/mpe-queue-dev".into()),
            suffix: "dev".into(),
        }
    }

    fn probe(i: usize) -> Value {
        let wire: Value =
            serde_json::from_str(include_str!("../../tests/probe/probe-response.json"))
                .expect("JSON");
        crate::wire::to_pascal(&wire)["ProbeResults"][i].clone()
    }

    fn heights(job: &Value) -> Vec<(u64, u64)> {
        job["Settings"]["OutputGroups"][0]["Outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .filter(|o| o["VideoDescription"].is_object())
            .map(|o| {
                let vd = &o["VideoDescription"];
                (
                    vd["Width"].as_u64().unwrap_or(0),
                    vd["Height"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    #[test]
    fn a_portrait_upload_gets_portrait_rungs_and_its_template_is_recorded() {
        let v = plan(
            &settings(),
            &json!({ "executionId": "e1", "input": "s3://raw/uploads/phone.mov",
                     "profile": "default", "probe": probe(0) }),
        );
        assert_eq!(v["accepted"], true, "{v}");
        let job = &v["job"];
        assert_eq!(
            heights(job),
            [(1080, 1920), (720, 1280), (480, 854), (360, 640)]
        );
        assert_eq!(job["Role"], "arn:aws:iam::1:role/mc");
        assert_eq!(
            job["UserMetadata"],
            json!({ "mpe_job_id": "e1", "mpe_profile": "default", "mpe_job_template": "mpe-default-dev",
                    "mpe_upload": "s3://raw/uploads/phone.mov",
                    "mpe_trickplay": job["UserMetadata"]["mpe_trickplay"] })
        );
        // The sheets go beside the media, under the asset, whatever bucket the
        // captures are in.
        let order = crate::trickplay::Order::of_metadata(&job["UserMetadata"])
            .expect("trick play asked")
            .expect("reads");
        assert_eq!(
            (
                order.destination.as_str(),
                order.base.as_str(),
                order.interval
            ),
            ("s3://mpe-media-dev-1/phone/trickplay/", "phone", 10.0)
        );
        let groups = job["Settings"]["OutputGroups"].as_array().expect("groups");
        let dest = |name: &str| {
            groups
                .iter()
                .find(|g| g["Name"] == name)
                .map(|g| g["OutputGroupSettings"].to_string())
                .unwrap_or_default()
        };
        assert!(dest("CMAF").contains("s3://mpe-media-dev-1/phone/cmaf/"));
        assert!(dest("Thumbnails").contains("s3://mpe-thumbnails-dev-1/phone/thumbnails/"));
    }

    #[test]
    fn a_720p_upload_gets_no_1080p_rung() {
        let v = plan(
            &settings(),
            &json!({ "executionId": "e2", "input": "s3://raw/uploads/mobile/screen.mp4",
                     "profile": "mobile", "probe": probe(1) }),
        );
        assert_eq!(v["accepted"], true, "{v}");
        let rungs = heights(&v["job"]);
        assert_eq!(rungs[0], (1280, 720), "{rungs:?}");
        assert!(rungs.iter().all(|r| r.1 <= 720));
    }

    #[test]
    fn what_cannot_be_planned_is_rejected_with_the_reason() {
        let mut no_rate = probe(1);
        no_rate["Container"]["Tracks"][0]["VideoProperties"]
            .as_object_mut()
            .map(|m| m.remove("FrameRate"));
        let mut audio_only = probe(1);
        audio_only["Container"]["Tracks"]
            .as_array_mut()
            .map(|t| t.remove(0));
        for (probe, needle) in [
            (no_rate, "VideoProperties.FrameRate"),
            (audio_only, "no video"),
            (Value::Null, "no probe"),
        ] {
            let v = plan(
                &settings(),
                &json!({ "executionId": "e", "input": "s3://raw/uploads/a.mp4",
                         "profile": "default", "probe": probe }),
            );
            assert_eq!(v["accepted"], false, "{v}");
            assert!(v["job"].is_null());
            assert!(
                v["reason"].as_str().expect("reason").contains(needle),
                "{needle}: {v}"
            );
        }
    }

    #[test]
    fn the_asset_is_the_input_stem_as_mediaconverts_fn() {
        for (input, cmaf) in [
            ("s3://raw/uploads/a.b.mov", "s3://mpe-media-dev-1/a.b/cmaf/"),
            ("s3://raw/uploads/movie", "s3://mpe-media-dev-1/movie/cmaf/"),
        ] {
            let v = plan(
                &settings(),
                &json!({ "executionId": "e", "input": input, "profile": "default",
                         "probe": probe(1) }),
            );
            let dest = &v["job"]["Settings"]["OutputGroups"][0]["OutputGroupSettings"]
                ["CmafGroupSettings"]["Destination"];
            assert_eq!(dest, cmaf, "{v}");
        }
    }
}
