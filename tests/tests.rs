//! Integration tests of the `mpe` binary, in one test binary (each one links FFmpeg).
//!
//! Output is judged by tools no one here wrote: ffprobe for the media, m3u8-rs and
//! quick-xml for the manifests, hls.js and dash.js in Chromium for playback.

mod util;

mod api;
mod cloud;
mod conformance;
mod errors;
mod jobs;
mod lambda;
mod mediaconvert;
mod pictures;
mod planning;
mod player;
mod probe;
mod serve;
mod thumbs;
mod watch;
