//! MediaConvert jobs through aws-sdk-mediaconvert: create a rendered job, get, list,
//! cancel and wait, with each job reduced to what a user follows ([`JobState`]).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_mediaconvert::types::{
    ContainerType, Job, JobSettings, JobStatus, Order, OutputGroupType, ProbeInputFile,
};
use aws_sdk_mediaconvert::Client;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

use crate::aws::describe;
use crate::error::CloudError;
use crate::wire::to_camel;

/// A job as `mpe cloud status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobState {
    /// MediaConvert's job id.
    pub id: String,
    /// SUBMITTED, PROGRESSING, COMPLETE, CANCELED or ERROR.
    pub status: String,
    /// Percent done while PROGRESSING.
    pub percent: Option<i32>,
    /// PROBING, TRANSCODING or UPLOADING while PROGRESSING.
    pub phase: Option<String>,
    /// When it was created (RFC 3339).
    pub created: Option<String>,
    /// The error code, when ERROR.
    pub error_code: Option<i32>,
    /// The error message, when ERROR.
    pub error_message: Option<String>,
    /// The job's UserMetadata (mpe puts its job id and profile there).
    pub user_metadata: BTreeMap<String, String>,
    /// What the job writes, by MediaConvert's naming rules: the playlists and manifests
    /// of streaming groups and the files of file groups (as the COMPLETE event lists
    /// them; frame captures as a `*` pattern).
    pub outputs: Vec<String>,
    /// The job's OutputGroupDetails once it is COMPLETE: per output group, what each
    /// output came out as (GetJob gives durations and picture sizes, never paths).
    pub output_groups: Vec<Vec<OutputInfo>>,
}

/// One output of a finished job, from its OutputDetail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputInfo {
    /// Duration in milliseconds.
    pub duration_ms: Option<i32>,
    /// Picture width, for outputs with video.
    pub width: Option<i32>,
    /// Picture height, for outputs with video.
    pub height: Option<i32>,
}

impl JobState {
    /// The error as one line, `code: message`, when the job has one.
    pub fn error_line(&self) -> Option<String> {
        match (&self.error_code, &self.error_message) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (None, Some(m)) => Some(m.clone()),
            (Some(c), None) => Some(format!("error {c}")),
            (None, None) => None,
        }
    }

    /// Whether the job has ended (COMPLETE, ERROR or CANCELED).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETE" | "ERROR" | "CANCELED")
    }

    fn from_job(job: &Job) -> JobState {
        JobState {
            id: job.id().unwrap_or_default().to_string(),
            status: job
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            percent: job.job_percent_complete(),
            phase: job.current_phase().map(|p| p.as_str().to_string()),
            created: job.created_at().and_then(|t| {
                t.fmt(aws_sdk_mediaconvert::primitives::DateTimeFormat::DateTime)
                    .ok()
            }),
            error_code: job.error_code(),
            error_message: job.error_message().map(str::to_string),
            user_metadata: job
                .user_metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            outputs: job.settings().map(output_paths).unwrap_or_default(),
            output_groups: job
                .output_group_details()
                .iter()
                .map(|g| {
                    g.output_details()
                        .iter()
                        .map(|d| OutputInfo {
                            duration_ms: d.duration_in_ms(),
                            width: d.video_details().and_then(|v| v.width_in_px()),
                            height: d.video_details().and_then(|v| v.height_in_px()),
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// Submits a CreateJob request exactly as rendered (PascalCase JSON, as `mpe cloud
/// render` prints it).
///
/// The SDK's typed builders would mean re-expressing hundreds of settings structures
/// that the rendered JSON (already validated against the API model) states; instead the
/// request body is replaced by the rendered job's wire form before signing, so the SDK
/// still provides credentials, SigV4, retries, endpoints and response parsing.
pub async fn create_job(mc: &Client, request: &Value) -> Result<JobState, CloudError> {
    let role = request
        .get("Role")
        .and_then(Value::as_str)
        .ok_or_else(|| CloudError::Job {
            field: "Role".into(),
            reason: "missing".into(),
        })?
        .to_string();
    // The SDK fills the idempotency token only into bodies it serialises itself: one is
    // added here, so that a CreateJob retried after a lost answer returns the job that
    // was made instead of making a second.
    let mut request = request.clone();
    if let Some(obj) = request.as_object_mut() {
        obj.entry("ClientRequestToken")
            .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
    }
    let body = serde_json::to_vec(&to_camel(&request)).map_err(|e| CloudError::Job {
        field: "(request)".into(),
        reason: e.to_string(),
    })?;
    let out = mc
        .create_job()
        .role(role)
        .settings(JobSettings::builder().build())
        .customize()
        .mutate_request(move |req| {
            let len = body.len().to_string();
            *req.body_mut() = SdkBody::from(body.clone());
            req.headers_mut().insert("content-length", len);
        })
        .send()
        .await
        .map_err(|e| CloudError::Aws {
            action: "MediaConvert CreateJob".into(),
            message: describe(&e),
        })?;
    out.job()
        .map(JobState::from_job)
        .ok_or_else(|| CloudError::Aws {
            action: "MediaConvert CreateJob".into(),
            message: "no job in the response".into(),
        })
}

/// GetJob.
pub async fn get_job(mc: &Client, id: &str) -> Result<JobState, CloudError> {
    let out = mc
        .get_job()
        .id(id)
        .send()
        .await
        .map_err(|e| CloudError::Aws {
            action: format!("MediaConvert GetJob {id}"),
            message: describe(&e),
        })?;
    out.job()
        .map(JobState::from_job)
        .ok_or_else(|| CloudError::Aws {
            action: format!("MediaConvert GetJob {id}"),
            message: "no job in the response".into(),
        })
}

/// ListJobs, newest first, following pages up to `max` jobs.
pub async fn list_jobs(
    mc: &Client,
    status: Option<&str>,
    max: usize,
) -> Result<Vec<JobState>, CloudError> {
    let mut jobs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = mc
            .list_jobs()
            .order(Order::Descending)
            .max_results(20)
            .set_next_token(token.take());
        if let Some(s) = status {
            req = req.status(JobStatus::from(s.to_ascii_uppercase().as_str()));
        }
        let out = req.send().await.map_err(|e| CloudError::Aws {
            action: "MediaConvert ListJobs".into(),
            message: describe(&e),
        })?;
        jobs.extend(out.jobs().iter().map(JobState::from_job));
        match out.next_token() {
            Some(t) if jobs.len() < max => token = Some(t.to_string()),
            _ => break,
        }
    }
    jobs.truncate(max);
    Ok(jobs)
}

/// CancelJob.
pub async fn cancel_job(mc: &Client, id: &str) -> Result<(), CloudError> {
    mc.cancel_job()
        .id(id)
        .send()
        .await
        .map_err(|e| CloudError::Aws {
            action: format!("MediaConvert CancelJob {id}"),
            message: describe(&e),
        })?;
    Ok(())
}

/// Polls GetJob every `interval` until the job ends, calling `update` whenever its
/// status, phase or percent changes; gives up after `timeout` when one is set.
pub async fn wait(
    mc: &Client,
    id: &str,
    interval: Duration,
    timeout: Option<Duration>,
    update: &mut dyn FnMut(&JobState),
) -> Result<JobState, CloudError> {
    let start = tokio::time::Instant::now();
    let mut last: Option<JobState> = None;
    loop {
        let state = get_job(mc, id).await?;
        if last.as_ref() != Some(&state) {
            update(&state);
        }
        if state.is_final() {
            return Ok(state);
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            return Err(CloudError::Aws {
                action: format!("wait for job {id}"),
                message: format!("still {} after {:?}", state.status, start.elapsed()),
            });
        }
        last = Some(state);
        tokio::time::sleep(interval).await;
    }
}

/// The playlists, manifests and files a job's settings name (MediaConvert's rules: a
/// Destination ending in `/` takes the input's file name as the base name).
pub fn output_paths(settings: &JobSettings) -> Vec<String> {
    let input = settings
        .inputs()
        .first()
        .and_then(|i| i.file_input())
        .unwrap_or_default();
    let file = input.rsplit('/').next().unwrap_or_default();
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let base = |dest: &str| {
        if dest.ends_with('/') {
            format!("{dest}{stem}")
        } else {
            dest.to_string()
        }
    };
    let mut paths = Vec::new();
    for g in settings.output_groups() {
        let Some(s) = g.output_group_settings() else {
            continue;
        };
        let modifiers = g.outputs().iter().map(|o| o.name_modifier().unwrap_or(""));
        match s.r#type() {
            Some(OutputGroupType::HlsGroupSettings) => {
                let b = base(
                    s.hls_group_settings()
                        .and_then(|h| h.destination())
                        .unwrap_or(""),
                );
                paths.push(format!("{b}.m3u8"));
                paths.extend(modifiers.map(|m| format!("{b}{m}.m3u8")));
            }
            Some(OutputGroupType::DashIsoGroupSettings) => {
                let d = s.dash_iso_group_settings().and_then(|h| h.destination());
                paths.push(format!("{}.mpd", base(d.unwrap_or(""))));
            }
            Some(OutputGroupType::CmafGroupSettings) => {
                let b = base(
                    s.cmaf_group_settings()
                        .and_then(|h| h.destination())
                        .unwrap_or(""),
                );
                paths.push(format!("{b}.m3u8"));
                paths.push(format!("{b}.mpd"));
            }
            Some(OutputGroupType::FileGroupSettings) => {
                let b = base(
                    s.file_group_settings()
                        .and_then(|h| h.destination())
                        .unwrap_or(""),
                );
                for o in g.outputs() {
                    let m = o.name_modifier().unwrap_or("");
                    let container = o.container_settings().and_then(|c| c.container());
                    let path = match (container, o.extension()) {
                        (Some(ContainerType::Raw), ext) => {
                            format!("{b}{m}.*.{}", ext.unwrap_or("jpg"))
                        }
                        (_, Some(ext)) => format!("{b}{m}.{ext}"),
                        (Some(ContainerType::Mov), None) => format!("{b}{m}.mov"),
                        (Some(ContainerType::Webm), None) => format!("{b}{m}.webm"),
                        (Some(ContainerType::M2Ts), None) => format!("{b}{m}.m2ts"),
                        _ => format!("{b}{m}.mp4"),
                    };
                    paths.push(path);
                }
            }
            _ => {}
        }
    }
    paths
}

/// Probe: what MediaConvert reads of one file (`s3://bucket/key`, or an HTTP(S) URL).
///
/// A file MediaConvert refuses to read (BadRequest, UnprocessableEntity, NotFound, or an
/// answer with no result) is [`CloudError::Unreadable`]; an endpoint that cannot be
/// reached, throttling that outlasts the SDK's retries and the service's own faults are
/// [`CloudError::Aws`], worth another try.
pub async fn probe(mc: &Client, input: &str) -> Result<crate::probe::ProbeResult, CloudError> {
    let out = mc
        .probe()
        .input_files(ProbeInputFile::builder().file_url(input).build())
        .send()
        .await
        .map_err(|e| {
            let message = describe(&e);
            let refused = e.as_service_error().is_some_and(|s| {
                s.is_bad_request_exception()
                    || s.is_unprocessable_entity_exception()
                    || s.is_not_found_exception()
            });
            if refused {
                CloudError::Unreadable {
                    input: input.to_string(),
                    message,
                }
            } else {
                CloudError::Aws {
                    action: format!("MediaConvert Probe {input}"),
                    message,
                }
            }
        })?;
    out.probe_results()
        .first()
        .map(from_sdk)
        .ok_or_else(|| CloudError::Unreadable {
            input: input.to_string(),
            message: "MediaConvert's probe gave no result".into(),
        })
}

/// The SDK's ProbeResult as mpe's data (the members mpe reads).
fn from_sdk(r: &aws_sdk_mediaconvert::types::ProbeResult) -> crate::probe::ProbeResult {
    use crate::probe as p;
    use aws_sdk_mediaconvert::types as t;
    let ratio = |n: Option<i32>, d: Option<i32>| p::Ratio {
        numerator: n,
        denominator: d,
    };
    let frame = |f: &t::FrameRate| ratio(f.numerator(), f.denominator());
    let aspect = |a: &t::AspectRatio| ratio(a.numerator(), a.denominator());
    let name = |s: &str| Some(s.to_string());
    let video = |v: &t::VideoProperties| p::VideoProperties {
        bit_depth: v.bit_depth(),
        bit_rate: v.bit_rate(),
        codec_metadata: v.codec_metadata().map(|c| p::CodecMetadata {
            bit_depth: c.bit_depth(),
            chroma_subsampling: c.chroma_subsampling().and_then(name),
            coded_frame_rate: c.coded_frame_rate().map(frame),
            display_aspect_ratio: c.display_aspect_ratio().map(aspect),
            field_order: c.field_order().and_then(name),
            height: c.height(),
            level: c.level().and_then(name),
            profile: c.profile().and_then(name),
            rotation: c.rotation(),
            sample_aspect_ratio: c.sample_aspect_ratio().map(aspect),
            scan_type: c.scan_type().and_then(name),
            width: c.width(),
        }),
        color_primaries: v.color_primaries().map(|c| c.as_str().to_string()),
        display_aspect_ratio: v.display_aspect_ratio().map(aspect),
        frame_rate: v.frame_rate().map(frame),
        height: v.height(),
        matrix_coefficients: v.matrix_coefficients().map(|c| c.as_str().to_string()),
        rotation: v.rotation(),
        sample_aspect_ratio: v.sample_aspect_ratio().map(aspect),
        transfer_characteristics: v.transfer_characteristics().map(|c| c.as_str().to_string()),
        width: v.width(),
    };
    let track = |tr: &t::Track| p::Track {
        audio_properties: tr.audio_properties().map(|a| p::AudioProperties {
            bit_depth: a.bit_depth(),
            bit_rate: a.bit_rate(),
            channel_layout: a.channel_layout().and_then(name),
            channels: a.channels(),
            language_code: a.language_code().and_then(name),
            sample_rate: a.sample_rate(),
        }),
        codec: tr.codec().map(|c| c.as_str().to_string()),
        data_properties: tr.data_properties().map(|d| p::DataProperties {
            language_code: d.language_code().and_then(name),
        }),
        duration: tr.duration(),
        index: tr.index(),
        track_type: tr.track_type().map(|k| k.as_str().to_string()),
        video_properties: tr.video_properties().map(video),
    };
    p::ProbeResult {
        container: r.container().map(|c| p::Container {
            bit_rate: c.bit_rate(),
            duration: c.duration(),
            format: c.format().map(|f| f.as_str().to_string()),
            tracks: Some(c.tracks().iter().map(track).collect()),
        }),
        metadata: r.metadata().map(|m| p::Metadata {
            e_tag: m.e_tag().and_then(name),
            file_size: m.file_size(),
            last_modified: m.last_modified().map(|d| d.as_secs_f64()),
            mime_type: m.mime_type().and_then(name),
        }),
        track_mappings: Some(
            r.track_mappings()
                .iter()
                .map(|m| p::TrackMapping {
                    audio_track_indexes: Some(m.audio_track_indexes().to_vec()),
                    data_track_indexes: Some(m.data_track_indexes().to_vec()),
                    video_track_indexes: Some(m.video_track_indexes().to_vec()),
                })
                .collect(),
        ),
    }
}
