//! MediaConvert: the queue, the role jobs run as, and one job template per shipped profile.

use serde_json::{json, Value};

use super::iam::{policy, role, stmt, KEY_USE};
use super::storage::objects;
use super::{att, key_arn, name, sub, tag_map, Resources};
use crate::error::CloudError;
use crate::mediaconvert::is_frame_capture;
use crate::profiles::{Profile, ProfileError};

/// The bucket the templates are rendered into, rewritten to the stack's buckets
/// afterwards. `$fn$` is MediaConvert's input file name (one folder per asset); it holds
/// no `{`, so it passes through Fn::Sub unchanged.
const PLACEHOLDER_DEST: &str = "s3://mpe-media-placeholder/$fn$/";

/// [`PLACEHOLDER_DEST`]'s bucket part.
const PLACEHOLDER_BUCKET: &str = "s3://mpe-media-placeholder/";

/// Adds the queue, the role and the templates; returns the names of the profiles that
/// have a template (`mpe-<profile>-<suffix>`), in shipped order.
pub(super) fn add(res: &mut Resources) -> Result<Vec<String>, CloudError> {
    res.add(
        "MediaConvertQueue",
        "AWS::MediaConvert::Queue",
        json!({
            "Name": name("queue"),
            "Description": "mpe transcodes",
            "PricingPlan": "ON_DEMAND",
            "Status": "ACTIVE",
            "Tags": tag_map(),
        }),
    );
    let mut names = Vec::new();
    for profile_name in Profile::shipped_names() {
        let profile = Profile::shipped(profile_name).map_err(|e| load_error(profile_name, e))?;
        job_template(res, &profile)?;
        names.push(profile.name);
    }
    role(
        res,
        "MediaConvertRole",
        "mediaconvert",
        "mediaconvert.amazonaws.com",
        None,
    );
    policy(
        res,
        "MediaConvertPolicy",
        "mediaconvert",
        "MediaConvertRole",
        vec![
            stmt(
                "ReadRawUploads",
                &["s3:GetObject"],
                objects("RawBucket", "*"),
            ),
            stmt(
                "WriteMediaAndThumbnails",
                &["s3:PutObject"],
                json!([
                    objects("MediaBucket", "*"),
                    objects("ThumbnailsBucket", "*")
                ]),
            ),
            stmt("UseKey", KEY_USE, key_arn()),
        ],
    );
    Ok(names)
}

fn load_error(profile: &str, e: ProfileError) -> CloudError {
    let (field, reason) = match e {
        ProfileError::Invalid { field, reason, .. } | ProfileError::Parse { field, reason, .. } => {
            (field, reason)
        }
        other => (String::new(), other.to_string()),
    };
    CloudError::Unsupported {
        profile: profile.to_string(),
        field,
        reason,
    }
}

/// The logical-id form of a profile name: `mobile-hd` -> `MobileHd`.
pub(super) fn camel(profile: &str) -> String {
    profile
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn job_template(res: &mut Resources, profile: &Profile) -> Result<(), CloudError> {
    let t = crate::render_template(profile, Some(PLACEHOLDER_DEST))?;
    let mut settings = t["Settings"].clone();
    if let Some(groups) = settings["OutputGroups"].as_array_mut() {
        for group in groups {
            // Frame captures go to the thumbnails bucket, in the same tree as the media,
            // so CloudFront can serve `*/thumbnails/*` from there under the same paths.
            let bucket = if is_frame_capture(group) {
                "ThumbnailsBucket"
            } else {
                "MediaBucket"
            };
            to_bucket(group, bucket);
        }
    }
    to_bucket(&mut settings, "MediaBucket");
    res.add(
        &format!("JobTemplate{}", camel(&profile.name)),
        "AWS::MediaConvert::JobTemplate",
        json!({
            "Name": name(&profile.name),
            "Description": t["Description"],
            "Category": t["Category"],
            "Queue": att("MediaConvertQueue", "Arn"),
            "Priority": 0,
            "StatusUpdateInterval": t["StatusUpdateInterval"],
            "AccelerationSettings": { "Mode": "DISABLED" },
            "SettingsJson": settings,
            "Tags": tag_map(),
        }),
    );
    Ok(())
}

/// Rewrites every placeholder location under `v` into `bucket_id`'s bucket.
fn to_bucket(v: &mut Value, bucket_id: &str) {
    match v {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(PLACEHOLDER_BUCKET) {
                // `${` would start a Fn::Sub variable; `${!` is its literal form.
                let rest = rest.replace("${", "${!");
                *v = sub(&format!("s3://${{{bucket_id}}}/{rest}"));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| to_bucket(x, bucket_id)),
        Value::Object(m) => m.values_mut().for_each(|x| to_bucket(x, bucket_id)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_cases_profile_names() {
        assert_eq!(camel("default"), "Default");
        assert_eq!(camel("mobile-hd_2"), "MobileHd2");
    }

    #[test]
    fn rewrites_only_placeholder_locations() {
        let mut v = json!({
            "a": "s3://mpe-media-placeholder/$fn$/cmaf/",
            "b": ["s3://other/$fn$/", "cmaf/"],
        });
        to_bucket(&mut v, "MediaBucket");
        assert_eq!(
            v,
            json!({
                "a": { "Fn::Sub": "s3://${MediaBucket}/$fn$/cmaf/" },
                "b": ["s3://other/$fn$/", "cmaf/"],
            })
        );
    }
}
