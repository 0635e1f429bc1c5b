//! Muxers: the segmenting muxer behind every streaming output, and progressive MP4 files.
//!
//! Segments are cut by libavformat's HLS muxer, which writes fMP4 (init + fragments) or
//! MPEG-TS segments under names mpe chooses. It cuts at the first keyframe at or after
//! each segment boundary; the encoders put IDR frames exactly there, so every rung is cut
//! at the same timestamps. The playlist it writes is only read back for segment durations.

use std::path::{Path, PathBuf};

use ff::{codec, format, Dictionary, Packet, Rational};
use ffmpeg_next as ff;

use crate::error::Error;

/// A stream to add to a muxer: codec parameters of an opened encoder and its time base.
#[derive(Clone)]
pub(crate) struct StreamSpec {
    pub parameters: codec::Parameters,
    pub time_base: Rational,
}

// SAFETY: the parameters are an owned copy, only read when a muxer is set up.
unsafe impl Send for StreamSpec {}

/// How a segmenting muxer writes its segments.
pub(crate) enum SegmentKind<'a> {
    /// Fragmented MP4 with an init segment of this file name (in the playlist's folder).
    /// `offset` seconds are added to every timestamp: the fragmented MP4 muxer shifts each
    /// track on its own so that its first dts is zero, which would move video (B-frame
    /// delay) and audio (AAC priming) by different amounts. Starting every track at the
    /// same positive offset keeps them in sync; the MPD timeline starts there.
    Fmp4 { init_name: &'a str, offset: f64 },
    /// MPEG-TS segments carrying this program (video first, then audio).
    Ts(&'a profiles::TransportStream),
}

/// One muxer with the time bases needed to rescale packets into it.
pub(crate) struct Muxer {
    octx: format::context::Output,
    /// Per stream: (encoder time base, muxer stream time base after the header).
    time_bases: Vec<(Rational, Rational)>,
    /// Per stream: ticks (encoder time base) added to every timestamp.
    offsets: Vec<i64>,
    label: String,
}

impl Muxer {
    /// A segmenting muxer that writes `playlist` and segments named by `pattern`.
    pub fn segmented(
        playlist: &Path,
        pattern: &Path,
        kind: SegmentKind<'_>,
        segment_seconds: f64,
        streams: &[StreamSpec],
    ) -> Result<Muxer, Error> {
        let mut opts = Dictionary::new();
        let mut offset = 0.0;
        let mut pids = Vec::new();
        opts.set("hls_time", &format!("{segment_seconds}"));
        opts.set("hls_list_size", "0");
        opts.set("hls_playlist_type", "vod");
        opts.set("start_number", "1");
        opts.set("hls_segment_filename", &pattern.to_string_lossy());
        match kind {
            SegmentKind::Fmp4 {
                init_name,
                offset: o,
            } => {
                offset = o;
                opts.set("hls_segment_type", "fmp4");
                opts.set("hls_fmp4_init_filename", init_name);
            }
            SegmentKind::Ts(program) => {
                opts.set("hls_segment_type", "mpegts");
                // The HLS muxer hands these to the MPEG-TS muxer of every segment, and
                // gives each of its streams the id set here, which that muxer takes as
                // the stream's PID (an id under 16 would be replaced by its own).
                let mut ts = format!(
                    "mpegts_pmt_start_pid={}:mpegts_service_id={}",
                    program.pmt_pid, program.program_number
                );
                if let Some(id) = program.transport_stream_id {
                    ts.push_str(&format!(":mpegts_transport_stream_id={id}"));
                }
                opts.set("hls_ts_options", &ts);
                pids = streams
                    .iter()
                    .map(|s| match s.parameters.medium() {
                        ff::media::Type::Audio => program.audio_pid,
                        _ => program.video_pid,
                    })
                    .collect();
            }
        }
        let mut m = Self::open_with_ids(playlist, "hls", opts, streams, &pids)?;
        m.offsets = streams
            .iter()
            .map(|s| (offset / f64::from(s.time_base)).round() as i64)
            .collect();
        Ok(m)
    }

    /// A progressive MP4 with its index at the front (faststart).
    pub fn mp4_file(path: &Path, streams: &[StreamSpec]) -> Result<Muxer, Error> {
        let mut opts = Dictionary::new();
        opts.set("movflags", "+faststart");
        Self::open(path, "mp4", opts, streams)
    }

    /// An animated WebP file, looping forever.
    pub fn webp(path: &Path, streams: &[StreamSpec]) -> Result<Muxer, Error> {
        let mut opts = Dictionary::new();
        opts.set("loop", "0");
        Self::open(path, "webp", opts, streams)
    }

    fn open(
        path: &Path,
        format_name: &str,
        opts: Dictionary,
        streams: &[StreamSpec],
    ) -> Result<Muxer, Error> {
        Self::open_with_ids(path, format_name, opts, streams, &[])
    }

    /// [`Muxer::open`], stream `i` given the format-specific id `ids[i]` where there is one.
    fn open_with_ids(
        path: &Path,
        format_name: &str,
        opts: Dictionary,
        streams: &[StreamSpec],
        ids: &[u16],
    ) -> Result<Muxer, Error> {
        let label = path.display().to_string();
        let mut octx = format::output_as(&path, format_name)
            .map_err(Error::ffmpeg(format!("creating {label}")))?;
        for (i, spec) in streams.iter().enumerate() {
            let mut ost = octx
                .add_stream(ff::encoder::find(codec::Id::None))
                .map_err(Error::ffmpeg(format!("adding a stream to {label}")))?;
            ost.set_parameters(spec.parameters.clone());
            ost.set_time_base(spec.time_base);
            // SAFETY: resets the tag so the muxer picks the one for its container, and
            // sets the stream id, a plain field of the stream not yet written.
            unsafe {
                (*ost.parameters().as_mut_ptr()).codec_tag = 0;
                if let Some(id) = ids.get(i) {
                    (*ost.as_mut_ptr()).id = i32::from(*id);
                }
            }
        }
        let leftover = octx
            .write_header_with(opts)
            .map_err(Error::ffmpeg(format!("writing the header of {label}")))?;
        let refused: Vec<String> = leftover.iter().map(|(k, _)| k.to_string()).collect();
        drop(leftover);
        if !refused.is_empty() {
            return Err(Error::EncoderOptions {
                encoder: format!("{format_name} muxer"),
                options: refused.join(", "),
            });
        }
        // The muxer may have changed stream time bases in write_header: read them now.
        let time_bases: Vec<(Rational, Rational)> = streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let tb = octx
                    .stream(i)
                    .map(|st| st.time_base())
                    .unwrap_or(s.time_base);
                (s.time_base, tb)
            })
            .collect();
        Ok(Muxer {
            octx,
            offsets: vec![0; time_bases.len()],
            time_bases,
            label,
        })
    }

    /// Writes a copy of `packet` (timestamps in the stream's encoder time base).
    pub fn write(&mut self, stream: usize, packet: &Packet) -> Result<(), Error> {
        let (from, to) = self.time_bases[stream];
        let mut p = packet.clone();
        let offset = self.offsets[stream];
        if offset != 0 {
            p.set_pts(p.pts().map(|t| t + offset));
            p.set_dts(p.dts().map(|t| t + offset));
        }
        p.rescale_ts(from, to);
        p.set_stream(stream);
        p.set_position(-1);
        p.write_interleaved(&mut self.octx)
            .map_err(Error::ffmpeg(format!("writing {}", self.label)))
    }

    /// Flushes and closes the file(s).
    pub fn finish(mut self) -> Result<(), Error> {
        self.octx
            .write_trailer()
            .map_err(Error::ffmpeg(format!("finishing {}", self.label)))
    }
}

/// Where a streaming output's files go, in the temp asset folder.
pub(crate) struct SegmentPaths {
    pub playlist: PathBuf,
    pub pattern: PathBuf,
    pub init_name: Option<String>,
}
