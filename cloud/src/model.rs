//! MediaConvert's job model as typed serde data: the CreateJob request and the settings
//! it carries, with the members real jobs use (the console's export, the documentation's
//! samples, mpe's own renderer).
//!
//! Names are the API's (PascalCase, as botocore's model and the console spell them; the
//! wire's camelCase is converted by [`crate::wire`]). Enum-valued members are kept as
//! strings: the reader ([`crate::job`]) decides which values it follows and names the
//! others by path, so that a valid MediaConvert value mpe cannot honour is an ERROR of
//! the job, not a parse failure. A member this model does not know is refused by path
//! ([`parse`]); it is never dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a request does not read as a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// A member has the wrong type or shape: MediaConvert answers such a request with
    /// 400 BadRequest.
    Invalid {
        /// Path of the member, e.g. `Settings.Inputs[0].FileInput`.
        path: String,
        /// What serde found.
        reason: String,
    },
    /// A member this model does not know: a job MediaConvert may run but mpe cannot.
    Unknown {
        /// Path of the member.
        path: String,
    },
}

impl ModelError {
    /// The member's path.
    pub fn path(&self) -> &str {
        match self {
            Self::Invalid { path, .. } | Self::Unknown { path } => path,
        }
    }
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { path, reason } => write!(f, "{path}: {reason}"),
            Self::Unknown { path } => write!(f, "{path}: not supported by mpe's local executor"),
        }
    }
}

/// Reads `value` (PascalCase) as a `T`, naming the first bad or unknown member by path.
pub fn parse<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let reason = e.inner().to_string();
        // serde's message for a member outside a struct's list: "unknown field `X`,
        // expected one of ...".
        match reason
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            Some(field) => ModelError::Unknown {
                path: if path.is_empty() {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                },
            },
            None => ModelError::Invalid { path, reason },
        }
    })
}

/// A CreateJob request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CreateJob {
    pub role: String,
    pub settings: JobSettings,
    pub queue: Option<String>,
    pub job_template: Option<String>,
    pub user_metadata: Option<BTreeMap<String, String>>,
    pub priority: Option<i64>,
    pub status_update_interval: Option<String>,
    pub acceleration_settings: Option<AccelerationSettings>,
    pub tags: Option<BTreeMap<String, String>>,
    pub client_request_token: Option<String>,
    pub billing_tags_source: Option<String>,
    pub simulate_reserved_queue: Option<String>,
}

/// A CreateJobTemplate (or UpdateJobTemplate) request: a job's settings without its
/// input files, and the job-wide members jobs made from it inherit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CreateJobTemplate {
    pub name: Option<String>,
    pub settings: Option<JobSettings>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub queue: Option<String>,
    pub priority: Option<i64>,
    pub status_update_interval: Option<String>,
    pub acceleration_settings: Option<AccelerationSettings>,
    pub hop_destinations: Option<Vec<Value>>,
    pub elemental_inference_settings: Option<Value>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A CreatePreset (or UpdatePreset) request: the settings of one output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CreatePreset {
    pub name: Option<String>,
    pub settings: Option<PresetSettings>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A preset's `Settings`: the members of an output that say what it is made of.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PresetSettings {
    pub container_settings: Option<ContainerSettings>,
    pub video_description: Option<VideoDescription>,
    pub audio_descriptions: Option<Vec<AudioDescription>>,
}

/// A CreateQueue request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CreateQueue {
    pub name: Option<String>,
    pub description: Option<String>,
    pub pricing_plan: Option<String>,
    pub status: Option<String>,
    pub concurrent_jobs: Option<i64>,
    pub maximum_concurrent_feeds: Option<i64>,
    pub reservation_plan_settings: Option<Value>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A job's state, as MediaConvert names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting in its queue.
    Submitted,
    /// Running.
    Progressing,
    /// Every output written.
    Complete,
    /// Cancelled by CancelJob.
    Canceled,
    /// Failed; `ErrorCode` and `ErrorMessage` say why.
    Error,
}

impl JobStatus {
    /// Every status, in the order a job moves through them.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Submitted,
        JobStatus::Progressing,
        JobStatus::Complete,
        JobStatus::Canceled,
        JobStatus::Error,
    ];

    /// The API's name (`SUBMITTED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Submitted => "SUBMITTED",
            JobStatus::Progressing => "PROGRESSING",
            JobStatus::Complete => "COMPLETE",
            JobStatus::Canceled => "CANCELED",
            JobStatus::Error => "ERROR",
        }
    }

    /// Reads the API's name.
    pub fn parse(s: &str) -> Option<JobStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Submitted | JobStatus::Progressing)
    }
}

/// `AccelerationSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AccelerationSettings {
    pub mode: String,
}

/// `Settings` of a job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct JobSettings {
    #[serde(default)]
    pub inputs: Vec<Input>,
    #[serde(default)]
    pub output_groups: Vec<OutputGroup>,
    pub timecode_config: Option<TimecodeConfig>,
    pub ad_avail_offset: Option<i64>,
    pub follow_source: Option<i64>,
}

/// `TimecodeConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TimecodeConfig {
    pub source: Option<String>,
    pub start: Option<String>,
    pub anchor: Option<String>,
    pub timestamp_offset: Option<String>,
}

/// One of `Settings.Inputs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Input {
    pub file_input: Option<String>,
    pub audio_selectors: Option<BTreeMap<String, AudioSelector>>,
    pub video_selector: Option<VideoSelector>,
    pub timecode_source: Option<String>,
    pub timecode_start: Option<String>,
    pub input_clippings: Option<Vec<InputClipping>>,
    pub filter_enable: Option<String>,
    pub filter_strength: Option<i64>,
    pub deblock_filter: Option<String>,
    pub denoise_filter: Option<String>,
    pub psi_control: Option<String>,
    pub input_scan_type: Option<String>,
}

/// One of `InputClippings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct InputClipping {
    pub start_timecode: Option<String>,
    pub end_timecode: Option<String>,
}

/// One of `AudioSelectors`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AudioSelector {
    pub default_selection: Option<String>,
    pub program_selection: Option<i64>,
    pub tracks: Option<Vec<i64>>,
    pub selector_type: Option<String>,
    pub offset: Option<i64>,
    pub language_code: Option<String>,
}

/// `VideoSelector`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct VideoSelector {
    pub color_space: Option<String>,
    pub color_space_usage: Option<String>,
    pub rotate: Option<String>,
    pub alpha_behavior: Option<String>,
    pub pad_video: Option<String>,
}

/// One of `Settings.OutputGroups`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OutputGroup {
    pub name: Option<String>,
    pub custom_name: Option<String>,
    pub output_group_settings: OutputGroupSettings,
    #[serde(default)]
    pub outputs: Vec<Output>,
}

/// `OutputGroupSettings`: its `Type` and the settings of that type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OutputGroupSettings {
    #[serde(rename = "Type")]
    pub kind: String,
    pub hls_group_settings: Option<HlsGroupSettings>,
    pub dash_iso_group_settings: Option<DashIsoGroupSettings>,
    pub cmaf_group_settings: Option<CmafGroupSettings>,
    pub file_group_settings: Option<FileGroupSettings>,
}

/// `HlsGroupSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct HlsGroupSettings {
    pub destination: Option<String>,
    pub segment_length: Option<i64>,
    pub min_segment_length: Option<i64>,
    pub segment_length_control: Option<String>,
    pub segment_control: Option<String>,
    pub output_selection: Option<String>,
    pub directory_structure: Option<String>,
    pub manifest_duration_format: Option<String>,
    pub program_date_time: Option<String>,
    pub program_date_time_period: Option<i64>,
    pub stream_inf_resolution: Option<String>,
    pub manifest_compression: Option<String>,
    pub codec_specification: Option<String>,
    pub client_cache: Option<String>,
    pub caption_language_setting: Option<String>,
    pub timed_metadata_id3_frame: Option<String>,
    pub timed_metadata_id3_period: Option<i64>,
    pub timestamp_delta_milliseconds: Option<i64>,
    pub min_final_segment_length: Option<f64>,
    pub segments_per_subdirectory: Option<i64>,
}

/// `DashIsoGroupSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DashIsoGroupSettings {
    pub destination: Option<String>,
    pub segment_length: Option<i64>,
    pub fragment_length: Option<i64>,
    pub segment_length_control: Option<String>,
    pub segment_control: Option<String>,
    pub mpd_profile: Option<String>,
    pub hbbtv_compliance: Option<String>,
    pub min_buffer_time: Option<i64>,
    pub min_final_segment_length: Option<f64>,
    pub write_segment_timeline_in_representation: Option<String>,
}

/// `CmafGroupSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CmafGroupSettings {
    pub destination: Option<String>,
    pub segment_length: Option<i64>,
    pub fragment_length: Option<i64>,
    pub segment_length_control: Option<String>,
    pub segment_control: Option<String>,
    pub write_dash_manifest: Option<String>,
    pub write_hls_manifest: Option<String>,
    pub manifest_duration_format: Option<String>,
    pub mpd_profile: Option<String>,
    pub stream_inf_resolution: Option<String>,
    pub manifest_compression: Option<String>,
    pub codec_specification: Option<String>,
    pub client_cache: Option<String>,
    pub min_buffer_time: Option<i64>,
    pub min_final_segment_length: Option<f64>,
    pub write_segment_timeline_in_representation: Option<String>,
}

/// `FileGroupSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileGroupSettings {
    pub destination: Option<String>,
}

/// One of a group's `Outputs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Output {
    pub name_modifier: Option<String>,
    pub extension: Option<String>,
    pub preset: Option<String>,
    pub container_settings: Option<ContainerSettings>,
    pub video_description: Option<VideoDescription>,
    pub audio_descriptions: Option<Vec<AudioDescription>>,
    pub output_settings: Option<OutputSettings>,
}

/// `OutputSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OutputSettings {
    pub hls_settings: Option<HlsSettings>,
}

/// `HlsSettings` of an output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct HlsSettings {
    pub audio_group_id: Option<String>,
    pub audio_only_container: Option<String>,
    pub audio_rendition_sets: Option<String>,
    pub audio_track_type: Option<String>,
    pub i_frame_only_manifest: Option<String>,
    pub segment_modifier: Option<String>,
}

/// `ContainerSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ContainerSettings {
    pub container: Option<String>,
    pub m3u8_settings: Option<M3u8Settings>,
    pub mp4_settings: Option<Mp4Settings>,
    pub cmfc_settings: Option<CmfcSettings>,
    pub mpd_settings: Option<MpdSettings>,
}

/// `M3u8Settings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct M3u8Settings {
    pub audio_frames_per_pes: Option<i64>,
    pub audio_pids: Option<Vec<i64>>,
    pub audio_duration: Option<String>,
    pub pcr_control: Option<String>,
    pub pcr_pid: Option<i64>,
    pub pmt_pid: Option<i64>,
    pub pat_interval: Option<i64>,
    pub pmt_interval: Option<i64>,
    pub private_metadata_pid: Option<i64>,
    pub program_number: Option<i64>,
    pub scte35_source: Option<String>,
    pub nielsen_id3: Option<String>,
    pub timed_metadata: Option<String>,
    pub timed_metadata_pid: Option<i64>,
    pub transport_stream_id: Option<i64>,
    pub video_pid: Option<i64>,
}

/// `Mp4Settings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Mp4Settings {
    pub moov_placement: Option<String>,
    pub cslg_atom: Option<String>,
    pub free_space_box: Option<String>,
    pub ctts_version: Option<i64>,
    pub mp4_major_brand: Option<String>,
    pub audio_duration: Option<String>,
}

/// `CmfcSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CmfcSettings {
    pub audio_duration: Option<String>,
    pub audio_group_id: Option<String>,
    pub audio_track_type: Option<String>,
    pub i_frame_only_manifest: Option<String>,
    pub scte35_esam: Option<String>,
    pub scte35_source: Option<String>,
    pub timed_metadata: Option<String>,
}

/// `MpdSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MpdSettings {
    pub audio_duration: Option<String>,
    pub caption_container_type: Option<String>,
    pub scte35_esam: Option<String>,
    pub scte35_source: Option<String>,
    pub timed_metadata: Option<String>,
}

/// `VideoDescription`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct VideoDescription {
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub scaling_behavior: Option<String>,
    pub anti_alias: Option<String>,
    pub sharpness: Option<i64>,
    pub timecode_insertion: Option<String>,
    pub afd_signaling: Option<String>,
    pub drop_frame_timecode: Option<String>,
    pub respond_to_afd: Option<String>,
    pub color_metadata: Option<String>,
    pub codec_settings: Option<VideoCodecSettings>,
}

/// `VideoCodecSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct VideoCodecSettings {
    pub codec: Option<String>,
    pub h264_settings: Option<H264Settings>,
    pub frame_capture_settings: Option<FrameCaptureSettings>,
}

/// `H264Settings`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct H264Settings {
    pub rate_control_mode: Option<String>,
    pub bitrate: Option<i64>,
    pub max_bitrate: Option<i64>,
    pub hrd_buffer_size: Option<i64>,
    pub hrd_buffer_initial_fill_percentage: Option<i64>,
    pub qvbr_settings: Option<QvbrSettings>,
    pub codec_profile: Option<String>,
    pub codec_level: Option<String>,
    pub gop_size: Option<f64>,
    pub gop_size_units: Option<String>,
    pub gop_closed_cadence: Option<i64>,
    pub gop_b_reference: Option<String>,
    pub min_i_interval: Option<i64>,
    pub scene_change_detect: Option<String>,
    pub number_b_frames_between_reference_frames: Option<i64>,
    pub number_reference_frames: Option<i64>,
    pub entropy_encoding: Option<String>,
    pub slices: Option<i64>,
    pub interlace_mode: Option<String>,
    pub field_encoding: Option<String>,
    pub par_control: Option<String>,
    pub par_numerator: Option<i64>,
    pub par_denominator: Option<i64>,
    pub quality_tuning_level: Option<String>,
    pub framerate_control: Option<String>,
    pub framerate_numerator: Option<i64>,
    pub framerate_denominator: Option<i64>,
    pub framerate_conversion_algorithm: Option<String>,
    pub adaptive_quantization: Option<String>,
    pub spatial_adaptive_quantization: Option<String>,
    pub temporal_adaptive_quantization: Option<String>,
    pub flicker_adaptive_quantization: Option<String>,
    pub syntax: Option<String>,
    pub softness: Option<i64>,
    pub slow_pal: Option<String>,
    pub telecine: Option<String>,
    pub unregistered_sei_timecode: Option<String>,
    pub repeat_pps: Option<String>,
    pub dynamic_sub_gop: Option<String>,
    pub write_mp4_packaging_type: Option<String>,
}

/// `QvbrSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct QvbrSettings {
    pub qvbr_quality_level: Option<i64>,
    pub qvbr_quality_level_fine_tune: Option<f64>,
    pub max_average_bitrate: Option<i64>,
}

/// `FrameCaptureSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FrameCaptureSettings {
    pub framerate_numerator: Option<i64>,
    pub framerate_denominator: Option<i64>,
    pub max_captures: Option<i64>,
    pub quality: Option<i64>,
}

/// One of an output's `AudioDescriptions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AudioDescription {
    pub audio_source_name: Option<String>,
    pub audio_type_control: Option<String>,
    pub language_code_control: Option<String>,
    pub codec_settings: Option<AudioCodecSettings>,
}

/// `AudioCodecSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AudioCodecSettings {
    pub codec: Option<String>,
    pub aac_settings: Option<AacSettings>,
}

/// `AacSettings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AacSettings {
    pub bitrate: Option<i64>,
    pub codec_profile: Option<String>,
    pub coding_mode: Option<String>,
    pub rate_control_mode: Option<String>,
    pub sample_rate: Option<i64>,
    pub raw_format: Option<String>,
    pub specification: Option<String>,
    pub audio_description_broadcaster_mix: Option<String>,
    pub vbr_quality: Option<String>,
}

/// The EventBridge event MediaConvert sends when a job changes status ("MediaConvert
/// Job State Change"; User Guide, "Using EventBridge with MediaConvert"), which mpe's
/// watch folder writes too and the job-state Lambda reads. Members mpe does not know are
/// kept in `other`, so reading and writing back loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStateChange {
    /// `"0"`.
    pub version: String,
    /// The event's own id.
    pub id: String,
    /// `MediaConvert Job State Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.mediaconvert` (`mpe.watch` locally).
    pub source: String,
    /// The account.
    pub account: String,
    /// When, RFC 3339.
    pub time: String,
    /// The region.
    pub region: String,
    /// The job's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
    /// What changed.
    pub detail: JobStateDetail,
}

/// The `detail` of a [`JobStateChange`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStateDetail {
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// The account.
    pub account_id: String,
    /// The queue's ARN.
    pub queue: String,
    /// MediaConvert's job id.
    pub job_id: String,
    /// SUBMITTED, PROGRESSING, STATUS_UPDATE, COMPLETE, CANCELED, ERROR, NEW_WARNING...
    pub status: String,
    /// The job's `UserMetadata`.
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
    /// COMPLETE: per output group, what each output is and where it went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_group_details: Vec<EventOutputGroup>,
    /// ERROR: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// ERROR: MediaConvert's error code (1010, 1030...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// Members mpe does not read (`jobProgress`, `framesDecoded`, `warnings`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One output group of a COMPLETE event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOutputGroup {
    /// One entry per output.
    pub output_details: Vec<EventOutputDetail>,
    /// The group's manifests (`.mpd` before `.m3u8`, as MediaConvert lists them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub playlist_file_paths: Vec<String>,
    /// `CMAF_GROUP`, `HLS_GROUP`, `DASH_ISO_GROUP`, `FILE_GROUP`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One output of an [`EventOutputGroup`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOutputDetail {
    /// Its files, where MediaConvert lists them (file groups and frame captures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_file_paths: Vec<String>,
    /// Its duration.
    pub duration_in_ms: u64,
    /// Its picture size, for outputs with video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_details: Option<EventVideoDetails>,
}

/// The picture size of an [`EventOutputDetail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventVideoDetails {
    /// Width in pixels.
    pub width_in_px: u32,
    /// Height in pixels.
    pub height_in_px: u32,
}

/// The `detail-type` of a [`JobStateChange`].
pub const JOB_STATE_CHANGE: &str = "MediaConvert Job State Change";

/// x264 preset <-> `QualityTuningLevel`, the one mapping both directions use.
pub mod tuning {
    use profiles::X264Preset;

    /// The level a preset renders as.
    pub fn level_of(preset: X264Preset) -> &'static str {
        match preset {
            X264Preset::Ultrafast | X264Preset::Superfast | X264Preset::Veryfast => "SINGLE_PASS",
            X264Preset::Faster | X264Preset::Fast | X264Preset::Medium => "SINGLE_PASS_HQ",
            X264Preset::Slow | X264Preset::Slower | X264Preset::Veryslow => "MULTI_PASS_HQ",
        }
    }

    /// The preset a level reads as; `None` for a level MediaConvert does not have.
    pub fn preset_of(level: &str) -> Option<X264Preset> {
        match level {
            "SINGLE_PASS" => Some(X264Preset::Veryfast),
            "SINGLE_PASS_HQ" => Some(X264Preset::Medium),
            "MULTI_PASS_HQ" => Some(X264Preset::Slow),
            _ => None,
        }
    }

    /// x264's CRF for a QVBR quality level (1..10, 7 the usual web choice) and back:
    /// three CRF steps a level, level 7 = CRF 23 (x264's own default).
    pub fn crf_of(qvbr_level: f64) -> f64 {
        23.0 - (qvbr_level - 7.0) * 3.0
    }

    /// The QVBR level closest to a CRF, within 1..10.
    pub fn qvbr_of(crf: f64) -> i64 {
        ((7.0 - (crf - 23.0) / 3.0).round() as i64).clamp(1, 10)
    }

    /// A rung's rate control as MediaConvert and MediaLive both spell it (their H.264
    /// settings share the mode names; only the keys around them differ).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Rate {
        /// `RateControlMode`: VBR, CBR or QVBR.
        pub mode: &'static str,
        /// The average bitrate (VBR, CBR).
        pub bitrate: Option<u32>,
        /// The cap (VBR, QVBR).
        pub max_bitrate: Option<u32>,
        /// The QVBR quality level (QVBR).
        pub qvbr_level: Option<i64>,
    }

    impl Rate {
        /// Sets `RateControlMode`, `Bitrate` and `MaxBitrate` (the keys both services
        /// share) in an H.264 settings object; the QVBR level is the caller's, as its key
        /// differs.
        pub fn set_in(&self, h264: &mut serde_json::Map<String, serde_json::Value>) {
            h264.insert("RateControlMode".into(), self.mode.into());
            if let Some(b) = self.bitrate {
                h264.insert("Bitrate".into(), b.into());
            }
            if let Some(m) = self.max_bitrate {
                h264.insert("MaxBitrate".into(), m.into());
            }
        }
    }

    /// The rate control of a rung of `bitrate` capped at `max_bitrate` under `v`.
    pub fn rate_of(v: &profiles::VideoSettings, bitrate: u32, max_bitrate: u32) -> Rate {
        match v.rate_control {
            profiles::RateControl::Vbr => Rate {
                mode: "VBR",
                bitrate: Some(bitrate),
                max_bitrate: Some(max_bitrate),
                qvbr_level: None,
            },
            profiles::RateControl::Cbr => Rate {
                mode: "CBR",
                bitrate: Some(bitrate),
                max_bitrate: None,
                qvbr_level: None,
            },
            // QVBR is the services' constant-quality mode with a cap.
            profiles::RateControl::CappedCrf => Rate {
                mode: "QVBR",
                bitrate: None,
                max_bitrate: Some(max_bitrate),
                qvbr_level: Some(qvbr_of(f64::from(v.crf.unwrap_or(23.0)))),
            },
        }
    }

    /// The H.264 profile's name in both services.
    pub fn h264_profile(p: profiles::H264Profile) -> &'static str {
        match p {
            profiles::H264Profile::Baseline => "BASELINE",
            profiles::H264Profile::Main => "MAIN",
            profiles::H264Profile::High => "HIGH",
        }
    }

    /// `AdaptiveQuantization` levels and the x264 `aq-strength` each stands for: OFF is
    /// no AQ, HIGH x264's default 1.0, the others scaled around it.
    const AQ: [(&str, f32); 6] = [
        ("OFF", 0.0),
        ("LOW", 0.5),
        ("MEDIUM", 0.8),
        ("HIGH", 1.0),
        ("HIGHER", 1.3),
        ("MAX", 1.6),
    ];

    /// The x264 strength of an `AdaptiveQuantization` level (`None` for AUTO or a level
    /// MediaConvert does not have).
    pub fn aq_strength_of(level: &str) -> Option<f32> {
        AQ.iter().find(|(l, _)| *l == level).map(|(_, s)| *s)
    }

    /// The level of an x264 strength; `None` for one that is no level's.
    pub fn aq_level_of(strength: f32) -> Option<&'static str> {
        AQ.iter()
            .find(|(_, s)| (s - strength).abs() < 1e-6)
            .map(|(l, _)| *l)
    }

    /// The scene-cut threshold a job's `SceneChangeDetect: ENABLED` reads as (x264's own
    /// default); MediaConvert has no threshold to give.
    pub const SCENE_CUT: u32 = 40;
}
