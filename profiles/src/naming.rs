//! Output naming: the files a MediaConvert job writes for a profile, by MediaConvert's rules.
//!
//! The engine writes exactly these names locally and the cloud crate renders jobs whose
//! outputs carry them, so the two trees are interchangeable. The rules and their sources
//! are in `shared/MEDIACONVERT.md`: destination + base name + NameModifier + extension;
//! HLS segments `_00001.ts`, DASH and CMAF segments `_000000001`, init files `<m>init.<ext>`.
//!
//! Choices where MediaConvert leaves a name open, kept here and nowhere else:
//! - every output's NameModifier is `_<rendition name>`, and the audio output's is `_audio`
//!   (further audio-only outputs `_audio_<suffix>`);
//! - the HLS (TS) group muxes audio into every rung, so it has no audio-only output;
//! - thumbnails are a frame-capture output with modifier `_thumb`:
//!   `<dest><base>_thumb.0000000.jpg`, 0-based, in capture order (MediaConvert's rule);
//! - the preview clip is a file output with modifier `_preview` (`.mp4`, and `.webp` for
//!   its animated WebP version);
//! - trick-play sheets are mpe's own (MediaConvert's image-based trick play is not
//!   modelled): `<dest><base>_trickplay_00001.jpg`, 1-based, and `<dest><base>_trickplay.vtt`;
//! - the asset record is `metadata.json` at the asset root.

use crate::pictures::ImageFormat;
use crate::plan::Plan;
use crate::profile::Profile;

/// The asset record at the root of every asset, written last.
pub const METADATA: &str = "metadata.json";

/// Rendition name reserved for the audio output (modifier `_audio`).
pub const AUDIO_NAME: &str = "audio";

/// Whether an output of this name is audio-only: the profile's `audio`, or one of its
/// `audio_renditions`, named `audio_<suffix>` (video renditions may use neither).
pub fn is_audio_output(name: &str) -> bool {
    name == AUDIO_NAME || name.starts_with("audio_")
}

/// A streaming output group type, named after MediaConvert's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// CMAF_GROUP_SETTINGS: `.cmfv`/`.cmfa` segments, HLS + DASH manifests.
    Cmaf,
    /// HLS_GROUP_SETTINGS: MPEG-TS segments.
    Hls,
    /// DASH_ISO_GROUP_SETTINGS: fMP4 `.mp4` segments.
    Dash,
}

impl Group {
    /// Extension of media and init segments for a video (`audio = false`) or audio output.
    pub fn segment_extension(self, audio: bool) -> &'static str {
        match (self, audio) {
            (Group::Cmaf, false) => "cmfv",
            (Group::Cmaf, true) => "cmfa",
            (Group::Dash, _) => "mp4",
            (Group::Hls, _) => "ts",
        }
    }

    /// Digits of the zero-padded segment counter (5 for HLS, 9 for DASH and CMAF).
    pub fn counter_digits(self) -> usize {
        match self {
            Group::Hls => 5,
            Group::Cmaf | Group::Dash => 9,
        }
    }

    /// Whether segments are fragmented MP4 with a separate init segment.
    pub fn has_init(self) -> bool {
        !matches!(self, Group::Hls)
    }

    /// Whether the group writes an HLS master playlist.
    pub fn writes_hls(self) -> bool {
        matches!(self, Group::Cmaf | Group::Hls)
    }

    /// Whether the group writes a DASH MPD.
    pub fn writes_dash(self) -> bool {
        matches!(self, Group::Cmaf | Group::Dash)
    }

    /// Whether audio is a separate output (rather than muxed into each video rung).
    pub fn separate_audio(self) -> bool {
        !matches!(self, Group::Hls)
    }
}

/// Names for one asset: a base name (the source file name without its extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    base: String,
}

impl Layout {
    /// The layout for a source path, MediaConvert-style: base = file name minus its last
    /// extension, spaces kept.
    pub fn for_source(source: &str) -> Layout {
        let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
        let base = match file.rfind('.') {
            Some(i) if i > 0 => &file[..i],
            _ => file,
        };
        Layout {
            base: base.to_string(),
        }
    }

    /// The layout of an asset whose base name is known (a job's, from its metadata).
    pub fn of_base(base: &str) -> Layout {
        Layout {
            base: base.to_string(),
        }
    }

    /// The base name.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The group's HLS master (multivariant) playlist: `<dest><base>.m3u8`.
    pub fn master_playlist(&self, dest: &str) -> String {
        format!("{dest}{}.m3u8", self.base)
    }

    /// The group's DASH manifest: `<dest><base>.mpd`.
    pub fn mpd(&self, dest: &str) -> String {
        format!("{dest}{}.mpd", self.base)
    }

    /// An output's HLS child playlist: `<dest><base>_<name>.m3u8`.
    pub fn child_playlist(&self, dest: &str, name: &str) -> String {
        format!("{dest}{}_{name}.m3u8", self.base)
    }

    /// An output's init segment: `<dest><base>_<name>init.<ext>`.
    pub fn init_segment(&self, group: Group, dest: &str, name: &str) -> String {
        let ext = group.segment_extension(is_audio_output(name));
        format!("{dest}{}_{name}init.{ext}", self.base)
    }

    /// Media segment `number` (1-based) of an output: `<dest><base>_<name>_<counter>.<ext>`.
    pub fn segment(&self, group: Group, dest: &str, name: &str, number: u32) -> String {
        let ext = group.segment_extension(is_audio_output(name));
        let width = group.counter_digits();
        format!("{dest}{}_{name}_{number:0width$}.{ext}", self.base)
    }

    /// The one media file of a SINGLE_FILE output: `<dest><base>_<name>.<ext>` (the
    /// documented "single media resource", named as MediaConvert names outputs).
    pub fn single_file(&self, group: Group, dest: &str, name: &str) -> String {
        let ext = group.segment_extension(is_audio_output(name));
        format!("{dest}{}_{name}.{ext}", self.base)
    }

    /// A progressive MP4 of the file group: `<dest><base>_<name>.mp4`.
    pub fn file_output(&self, dest: &str, name: &str) -> String {
        format!("{dest}{}_{name}.mp4", self.base)
    }

    /// Thumbnail `index` (0-based, capture order): `<dest><base>_thumb.<7 digits>.<ext>`.
    pub fn thumbnail(&self, dest: &str, index: usize, format: ImageFormat) -> String {
        format!(
            "{dest}{}_thumb.{index:07}.{}",
            self.base,
            format.extension()
        )
    }

    /// The preview clip: `<dest><base>_preview.mp4`.
    pub fn preview(&self, dest: &str) -> String {
        format!("{dest}{}_preview.mp4", self.base)
    }

    /// The animated WebP preview: `<dest><base>_preview.webp`.
    pub fn preview_webp(&self, dest: &str) -> String {
        format!("{dest}{}_preview.webp", self.base)
    }

    /// Trick-play sheet `number` (1-based): `<dest><base>_trickplay_<5 digits>.jpg`.
    pub fn trickplay_sheet(&self, dest: &str, number: u32) -> String {
        format!("{dest}{}_trickplay_{number:05}.jpg", self.base)
    }

    /// The trick-play WebVTT track: `<dest><base>_trickplay.vtt`.
    pub fn trickplay_vtt(&self, dest: &str) -> String {
        format!("{dest}{}_trickplay.vtt", self.base)
    }

    /// Every file a job with this profile and plan writes, relative to the asset root,
    /// sorted. `video_segments`/`audio_segments` are the segment counts of the streaming
    /// outputs (see [`Plan::segment_count`]).
    pub fn expected_files(
        &self,
        profile: &Profile,
        plan: &Plan,
        video_segments: u32,
        audio_segments: u32,
    ) -> Vec<String> {
        let mut files = Vec::new();
        for (group, dest) in streaming_groups(profile) {
            if group.writes_hls() {
                files.push(self.master_playlist(dest));
            }
            if group.writes_dash() {
                files.push(self.mpd(dest));
            }
            let mut outputs: Vec<(&str, u32)> = plan
                .renditions
                .iter()
                .map(|r| (r.name.as_str(), video_segments))
                .collect();
            if group.separate_audio() {
                outputs.extend(
                    plan.separate_audio()
                        .into_iter()
                        .map(|(name, _)| (name, audio_segments)),
                );
            }
            for (name, count) in outputs {
                if group.writes_hls() {
                    files.push(self.child_playlist(dest, name));
                }
                let single = single_file(profile, group);
                if group.has_init() && !single {
                    files.push(self.init_segment(group, dest, name));
                }
                if single {
                    files.push(self.single_file(group, dest, name));
                } else {
                    files.extend((1..=count).map(|n| self.segment(group, dest, name, n)));
                }
            }
        }
        if let Some(file) = &profile.outputs.file {
            for name in &plan.file_renditions {
                files.push(self.file_output(&file.destination, name));
            }
        }
        if let (Some(t), Some(pt)) = (&profile.thumbnails, &plan.thumbnails) {
            files.extend((0..pt.times.len()).map(|i| self.thumbnail(&t.destination, i, pt.format)));
        }
        if let (Some(p), Some(pp)) = (&profile.preview, &plan.preview) {
            files.push(self.preview(&p.destination));
            if pp.animated_webp.is_some() {
                files.push(self.preview_webp(&p.destination));
            }
        }
        if let (Some(t), Some(pt)) = (&profile.trickplay, &plan.trickplay) {
            files.extend((1..=pt.sheets()).map(|n| self.trickplay_sheet(&t.destination, n)));
            files.push(self.trickplay_vtt(&t.destination));
        }
        files.push(METADATA.to_string());
        files.sort();
        files
    }
}

/// Whether `group` writes one media file per output (the group's `single_file`).
pub fn single_file(profile: &Profile, group: Group) -> bool {
    let o = &profile.outputs;
    match group {
        Group::Hls => o.hls.as_ref().is_some_and(|h| h.single_file),
        Group::Cmaf => o.cmaf.as_ref().is_some_and(|c| c.single_file),
        Group::Dash => o.dash.as_ref().is_some_and(|d| d.single_file),
    }
}

/// The streaming groups a profile enables, with their destinations, in a fixed order.
pub fn streaming_groups(profile: &Profile) -> Vec<(Group, &str)> {
    let o = &profile.outputs;
    [
        (Group::Cmaf, o.cmaf.as_ref().map(|s| s.destination.as_str())),
        (Group::Hls, o.hls.as_ref().map(|s| s.destination.as_str())),
        (Group::Dash, o.dash.as_ref().map(|s| s.destination.as_str())),
    ]
    .into_iter()
    .filter_map(|(g, d)| d.map(|d| (g, d)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_name_drops_only_the_last_extension_and_keeps_spaces() {
        assert_eq!(
            Layout::for_source("/in/big buck.v2.mp4").base(),
            "big buck.v2"
        );
        assert_eq!(Layout::for_source("clip").base(), "clip");
        assert_eq!(Layout::for_source(".hidden").base(), ".hidden");
    }

    #[test]
    fn names_follow_mediaconvert_rules() {
        let l = Layout::for_source("s3://raw/movie.mov");
        assert_eq!(l.master_playlist("cmaf/"), "cmaf/movie.m3u8");
        assert_eq!(l.mpd("cmaf/"), "cmaf/movie.mpd");
        assert_eq!(l.child_playlist("cmaf/", "720p"), "cmaf/movie_720p.m3u8");
        assert_eq!(
            l.init_segment(Group::Cmaf, "cmaf/", "720p"),
            "cmaf/movie_720pinit.cmfv"
        );
        assert_eq!(
            l.init_segment(Group::Cmaf, "cmaf/", "audio"),
            "cmaf/movie_audioinit.cmfa"
        );
        assert_eq!(
            l.segment(Group::Cmaf, "cmaf/", "720p", 1),
            "cmaf/movie_720p_000000001.cmfv"
        );
        assert_eq!(
            l.segment(Group::Dash, "dash/", "audio", 12),
            "dash/movie_audio_000000012.mp4"
        );
        assert_eq!(
            l.segment(Group::Hls, "hls/", "360p", 3),
            "hls/movie_360p_00003.ts"
        );
        assert_eq!(l.file_output("mp4/", "720p"), "mp4/movie_720p.mp4");
        assert_eq!(
            l.thumbnail("thumbnails/", 0, ImageFormat::Jpeg),
            "thumbnails/movie_thumb.0000000.jpg"
        );
        assert_eq!(
            l.thumbnail("t/", 36, ImageFormat::Webp),
            "t/movie_thumb.0000036.webp"
        );
    }
}
