//! One rung of the ladder, on its own thread: scale, encode with x264, write every output
//! that carries this rung (streaming segments and progressive MP4).

use std::sync::mpsc::Receiver;

use ff::{codec, encoder, format::Pixel, frame, Codec, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use profiles::{Placement, PlannedRendition, RateControl, VideoSettings};

use crate::error::Error;
use crate::mux::{Muxer, SegmentKind, SegmentPaths, StreamSpec};

/// What the demuxing thread sends to a rung.
pub(crate) enum Msg {
    /// A decoded, upright frame with pts in the source time base; `kind` is `I` on every
    /// GOP boundary.
    Video(frame::Video),
    /// An encoded AAC packet of audio encoding `.0` (in the time base of its
    /// [`StreamSpec`]).
    Audio(usize, Packet),
}

/// The program of TS segments that name none.
static DEFAULT_PROGRAM: std::sync::LazyLock<profiles::TransportStream> =
    std::sync::LazyLock::new(profiles::TransportStream::default);

/// An output this rung writes.
pub(crate) enum Target {
    /// A streaming output: fMP4 or TS segments plus the muxer's playlist.
    Segments {
        paths: SegmentPaths,
        /// MPEG-TS segments carrying this program; fMP4 when `None`.
        ts: Option<profiles::TransportStream>,
        /// The audio encoding muxed in, if any.
        audio: Option<usize>,
    },
    /// A progressive MP4 with audio muxed in.
    File {
        path: std::path::PathBuf,
        /// The audio encoding muxed in, if any.
        audio: Option<usize>,
    },
}

/// Everything a rung needs to run.
pub(crate) struct Setup {
    pub rendition: PlannedRendition,
    pub video: VideoSettings,
    /// Time base of incoming frame pts (the encoder uses it too).
    pub time_base: Rational,
    pub frame_rate: Rational,
    pub gop_frames: u32,
    pub segment_seconds: f64,
    /// Presentation offset of fMP4 segments, seconds (see [`SegmentKind::Fmp4`]).
    pub fmp4_offset: f64,
    /// x264 threads per encoder.
    pub threads: usize,
    /// Encoders working on GOP-aligned chunks at once; 1 encodes the rung in one piece
    /// (see [`crate::chunks`]).
    pub lanes: usize,
    pub targets: Vec<Target>,
    /// The transcode's audio encodings the targets mux, by index (0: the profile's).
    pub audio: Vec<(usize, StreamSpec)>,
    /// The source's colour description, carried to the output: scaling keeps the matrix
    /// and primaries, so the encoded pixels mean what the source's meant.
    pub color: Color,
}

/// Colour primaries, transfer and matrix of a video stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Color {
    pub primaries: ff::color::Primaries,
    pub transfer: ff::color::TransferCharacteristic,
    pub space: ff::color::Space,
}

impl Default for Color {
    fn default() -> Self {
        Color {
            primaries: ff::color::Primaries::Unspecified,
            transfer: ff::color::TransferCharacteristic::Unspecified,
            space: ff::color::Space::Unspecified,
        }
    }
}

/// What a finished rung reports.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub name: String,
    pub codec: String,
    pub frames: u64,
}

/// The x264 options for a rung, in the order they are set. Every key must be accepted by
/// libx264 or the generic codec options, or opening fails (see [`open_checked`]).
pub(crate) fn x264_options(
    r: &PlannedRendition,
    v: &VideoSettings,
    gop_frames: u32,
    threads: usize,
) -> Vec<(&'static str, String)> {
    // Keyframes are forced on GOP and segment boundaries by timestamp; x264's own keyint
    // is a backstop far beyond that. Scene cuts are off unless the profile asks for them.
    let t = &v.tuning;
    // Scene cuts, where asked for, may add I-frames between the forced ones, no closer
    // than `min_i_interval` frames to the last.
    let (scenecut, min_keyint) = match t.scene_cut {
        Some(cut) if cut > 0 => (cut, t.min_i_interval.unwrap_or(0).max(1)),
        _ => (0, gop_frames.max(1)),
    };
    let mut params = format!(
        "scenecut={scenecut}:open-gop=0:keyint={}:min-keyint={min_keyint}",
        gop_frames.saturating_mul(4).max(1),
    );
    let mut tune = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            params.push_str(&format!(":{key}={value}"));
        }
    };
    tune("bframes", t.b_frames.map(|b| b.to_string()));
    tune(
        "b-pyramid",
        t.b_pyramid
            .map(|p| if p { "normal" } else { "none" }.to_string()),
    );
    tune("ref", t.ref_frames.map(|r| r.to_string()));
    tune("level", t.level.clone());
    tune("cabac", t.cavlc.then(|| "0".to_string()));
    tune("slices", t.slices.map(|n| n.to_string()));
    match t.aq_strength {
        Some(a) if a <= 0.0 => tune("aq-mode", Some("0".into())),
        a => tune("aq-strength", a.map(|a| a.to_string())),
    }
    tune("mbtree", t.mb_tree.map(|m| u8::from(m).to_string()));
    tune("vbv-init", t.vbv_init.map(|f| f.to_string()));
    let mut o = vec![
        ("preset", v.preset.as_str().to_string()),
        ("profile", v.profile.as_str().to_string()),
        ("forced-idr", "1".to_string()),
        ("threads", threads.to_string()),
    ];
    match v.rate_control {
        RateControl::Vbr => {
            o.push(("b", r.bitrate.to_string()));
            o.push(("maxrate", r.max_bitrate.to_string()));
            o.push(("bufsize", r.buffer_size.to_string()));
        }
        RateControl::Cbr => {
            o.push(("b", r.bitrate.to_string()));
            o.push(("maxrate", r.bitrate.to_string()));
            o.push(("bufsize", r.buffer_size.to_string()));
            params.push_str(":nal-hrd=cbr");
        }
        RateControl::CappedCrf => {
            o.push(("crf", format!("{}", v.crf.unwrap_or(23.0))));
            o.push(("maxrate", r.max_bitrate.to_string()));
            o.push(("bufsize", r.buffer_size.to_string()));
        }
    }
    o.push(("x264-params", params));
    o
}

/// Opens an encoder and fails if it left any option unused: ffmpeg-next would otherwise
/// drop misspelled or unsupported options without a word.
pub(crate) fn open_checked(
    mut ctx: codec::Context,
    codec: Codec,
    opts: Dictionary,
    name: &str,
) -> Result<codec::Context, Error> {
    // SAFETY: ctx is a fresh, unopened context for `codec`; the dictionary is handed to
    // avcodec_open2 and taken back to be freed.
    let (rc, left) = unsafe {
        let mut raw = opts.disown();
        let rc = ff::ffi::avcodec_open2(ctx.as_mut_ptr(), codec.as_ptr(), &mut raw);
        (rc, Dictionary::own(raw))
    };
    if rc < 0 {
        return Err(Error::Ffmpeg {
            stage: format!("opening the {name} encoder"),
            source: ff::Error::from(rc),
        });
    }
    let refused: Vec<String> = left.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !refused.is_empty() {
        return Err(Error::EncoderOptions {
            encoder: name.to_string(),
            options: refused.join(", "),
        });
    }
    Ok(ctx)
}

/// Scales frames of any format and size to one yuv420p size (bicubic, at the rung's
/// sharpness). The context is built on the first frame and rebuilt if the source changes
/// shape mid-stream.
pub(crate) struct Scaler {
    width: u32,
    height: u32,
    /// Where the scaled picture goes in the frame, when it does not fill it.
    placement: Option<Placement>,
    /// The display aspect of the first frame (the first input's), which `placement` was
    /// planned for.
    first_aspect: Option<f64>,
    /// MediaConvert's `Sharpness` (0 to 100); `None` is libswscale's own bicubic.
    sharpness: Option<u8>,
    ctx: Option<(crate::scale::Bicubic, ScaleKey)>,
}

/// What a scaler context is made for: the source frame's format and size, the size it
/// scales to.
type ScaleKey = (Pixel, u32, u32, u32, u32);

/// A frame's display aspect (pixel aspect applied; square when unknown).
fn display_aspect(f: &frame::Video) -> f64 {
    let sar = f.aspect_ratio();
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
        f64::from(sar)
    } else {
        1.0
    };
    f64::from(f.width().max(1)) * sar / f64::from(f.height().max(1))
}

/// A picture of `aspect` fitted into a `width` x `height` frame with bars, centred on
/// even offsets (MediaConvert's DEFAULT scaling); `None` when it fills the frame.
fn fitted(width: u32, height: u32, aspect: f64) -> Option<Placement> {
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    let (w, h) = (f64::from(width), f64::from(height));
    let (pw, ph) = (
        even((h * aspect).min(w)).min(width),
        even((w / aspect).min(h)).min(height),
    );
    ((pw, ph) != (width, height)).then(|| Placement {
        width: pw,
        height: ph,
        x: ((width - pw) / 4 * 2) as i32,
        y: ((height - ph) / 4 * 2) as i32,
    })
}

impl Scaler {
    /// A scaler to `width` x `height`.
    pub fn new(width: u32, height: u32) -> Scaler {
        Scaler {
            width,
            height,
            placement: None,
            first_aspect: None,
            sharpness: None,
            ctx: None,
        }
    }

    /// A scaler to a rung's frame, its picture placed as planned (padded or cropped).
    pub fn for_rendition(r: &PlannedRendition) -> Scaler {
        Scaler {
            placement: r.placement,
            sharpness: r.sharpness,
            ..Scaler::new(r.width, r.height)
        }
    }

    /// The frame at this size, with its pts and picture type. A frame of another shape
    /// than the first (an input joined after it) is fitted into the frame with bars
    /// rather than stretched to the first's placement.
    pub fn scale(&mut self, src: &frame::Video) -> Result<frame::Video, Error> {
        let aspect = display_aspect(src);
        let first = *self.first_aspect.get_or_insert(aspect);
        let placement = if (aspect / first - 1.0).abs() <= 0.02 {
            self.placement
        } else {
            fitted(self.width, self.height, aspect)
        };
        let (sw, sh) = placement.map_or((self.width, self.height), |p| (p.width, p.height));
        let key = (src.format(), src.width(), src.height(), sw, sh);
        let mut ctx = match self.ctx.take() {
            Some((ctx, k)) if k == key => ctx,
            _ => crate::scale::Bicubic::new((key.0, key.1, key.2), (sw, sh), self.sharpness)?,
        };
        let scaled = ctx.run(src);
        self.ctx = Some((ctx, key));
        let mut out = scaled?;
        if let Some(p) = placement {
            out = place(&out, self.width, self.height, p);
        }
        // The scaler copies pixels only: carry timing and the forced picture type over.
        out.set_pts(src.pts());
        out.set_kind(src.kind());
        Ok(out)
    }
}

/// `picture` (yuv420p) put into a black `width` x `height` frame at `p`'s position:
/// bars where it is smaller, its overflow cut off where it is larger. Offsets are even,
/// so chroma rows and columns line up with luma.
fn place(picture: &frame::Video, width: u32, height: u32, p: Placement) -> frame::Video {
    let mut out = frame::Video::new(Pixel::YUV420P, width, height);
    for plane in 0..3 {
        // Luma 0 is limited-range black's 16; chroma's neutral is 128.
        let (black, shift) = if plane == 0 { (16u8, 0) } else { (128u8, 1) };
        let (ow, oh) = ((width >> shift) as i64, (height >> shift) as i64);
        let (pw, ph) = ((p.width >> shift) as i64, (p.height >> shift) as i64);
        let (x, y) = (i64::from(p.x) >> shift, i64::from(p.y) >> shift);
        let (dst_stride, src_stride) = (out.stride(plane), picture.stride(plane));
        let src = picture.data(plane);
        let dst = out.data_mut(plane);
        dst.fill(black);
        // Columns of the frame the picture covers, and where in the picture they start.
        let (x0, x1) = (x.max(0), (x + pw).min(ow));
        if x1 <= x0 {
            continue;
        }
        for row in y.max(0)..(y + ph).min(oh) {
            let from = ((row - y) as usize) * src_stride + (x0 - x) as usize;
            let to = row as usize * dst_stride + x0 as usize;
            let n = (x1 - x0) as usize;
            dst[to..to + n].copy_from_slice(&src[from..from + n]);
        }
    }
    out
}

/// Every output of a rung: its muxers, each with the audio encoding it carries.
pub(crate) struct Outputs {
    muxers: Vec<(Muxer, Option<usize>)>,
}

impl Outputs {
    /// Opens a muxer per target, with `video` as stream 0 and the audio (where the target
    /// carries it) as stream 1.
    pub fn open(s: &Setup, video: &StreamSpec) -> Result<Outputs, Error> {
        let mut muxers = Vec::new();
        for t in &s.targets {
            let (Target::Segments { audio, .. } | Target::File { audio, .. }) = t;
            let mut streams = vec![video.clone()];
            let audio = audio.and_then(|v| {
                let (_, spec) = s.audio.iter().find(|(i, _)| *i == v)?;
                streams.push(spec.clone());
                Some(v)
            });
            let m = match t {
                Target::Segments { paths, ts, .. } => {
                    let kind = match (&paths.init_name, ts) {
                        (_, Some(program)) => SegmentKind::Ts(program),
                        (Some(init), None) => SegmentKind::Fmp4 {
                            init_name: init,
                            offset: s.fmp4_offset,
                        },
                        (None, None) => SegmentKind::Ts(&DEFAULT_PROGRAM),
                    };
                    Muxer::segmented(
                        &paths.playlist,
                        &paths.pattern,
                        kind,
                        s.segment_seconds,
                        &streams,
                    )?
                }
                Target::File { path, .. } => Muxer::mp4_file(path, &streams)?,
            };
            muxers.push((m, audio));
        }
        Ok(Outputs { muxers })
    }

    /// Writes an encoded video packet to every output.
    pub fn video(&mut self, p: &Packet) -> Result<(), Error> {
        for (m, _) in &mut self.muxers {
            m.write(0, p)?;
        }
        Ok(())
    }

    /// Writes an AAC packet of audio encoding `variant` to the outputs that carry it.
    pub fn audio(&mut self, variant: usize, p: &Packet) -> Result<(), Error> {
        for (m, audio) in &mut self.muxers {
            if *audio == Some(variant) {
                m.write(1, p)?;
            }
        }
        Ok(())
    }

    /// Writes trailers and playlists.
    pub fn finish(self) -> Result<(), Error> {
        for (m, _) in self.muxers {
            m.finish()?;
        }
        Ok(())
    }
}

/// Opens the rung's x264 encoder with `threads` threads. Encoders opened from the same
/// setup are interchangeable: same parameters, same headers.
pub(crate) fn open_encoder(s: &Setup, threads: usize) -> Result<encoder::video::Encoder, Error> {
    let r = &s.rendition;
    let stage = format!("opening the {} encoder", r.name);
    let x264 = encoder::find_by_name("libx264")
        .ok_or(ff::Error::EncoderNotFound)
        .map_err(Error::ffmpeg(&stage))?;
    let mut enc = codec::Context::new_with_codec(x264)
        .encoder()
        .video()
        .map_err(Error::ffmpeg(&stage))?;
    enc.set_width(r.width);
    enc.set_height(r.height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(s.time_base);
    enc.set_frame_rate(Some(s.frame_rate));
    enc.set_aspect_ratio(Rational::new(1, 1));
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    enc.set_color_primaries(s.color.primaries);
    enc.set_color_transfer_characteristic(s.color.transfer);
    enc.set_colorspace(s.color.space);
    // The scaler writes limited-range yuv420p.
    enc.set_color_range(ff::color::Range::MPEG);
    let mut opts = Dictionary::new();
    for (k, v) in x264_options(r, &s.video, s.gop_frames, threads) {
        opts.set(k, &v);
    }
    let opened = open_checked(enc.0 .0, x264, opts, "libx264")?;
    Ok(encoder::video::Encoder(
        opened.encoder().video().map_err(Error::ffmpeg(&stage))?,
    ))
}

/// The encoder's global headers (SPS and PPS).
pub(crate) fn extradata(enc: &encoder::video::Encoder) -> &[u8] {
    // SAFETY: extradata/extradata_size describe a buffer owned by the open encoder, which
    // the returned slice borrows.
    unsafe {
        let ctx = enc.as_ptr();
        if (*ctx).extradata.is_null() || (*ctx).extradata_size <= 0 {
            &[]
        } else {
            std::slice::from_raw_parts((*ctx).extradata, (*ctx).extradata_size as usize)
        }
    }
}

/// The RFC 6381 codec string of an open encoder.
pub(crate) fn codec_string(enc: &encoder::video::Encoder) -> String {
    crate::codecs::avc1_from_extradata(extradata(enc)).unwrap_or_else(|| "avc1.640028".into())
}

/// One frame in encoder ticks: x264 leaves packet durations unset, and muxers need them
/// for the last frame's duration (MP4 track length, the last segment's EXTINF).
pub(crate) fn frame_ticks(s: &Setup) -> i64 {
    (f64::from(s.frame_rate.invert()) / f64::from(s.time_base))
        .round()
        .max(1.0) as i64
}

/// Scales `src` to the rung's size, or shares it when it already is that size.
pub(crate) fn fit(scaler: &mut Scaler, src: &frame::Video) -> Result<frame::Video, Error> {
    let aspect = display_aspect(src);
    let first = *scaler.first_aspect.get_or_insert(aspect);
    let same_shape = (aspect / first - 1.0).abs() <= 0.02 && scaler.placement.is_none();
    if same_shape
        && (src.format(), src.width(), src.height())
            == (Pixel::YUV420P, scaler.width, scaler.height)
    {
        crate::pipeline::share(src)
    } else {
        scaler.scale(src)
    }
}

/// Sends `frame` to the encoder (`None`: flushes the rung `name`'s encoder), then moves
/// every packet it has ready to `out`.
pub(crate) fn encode(
    enc: &mut encoder::video::Encoder,
    frame: Option<&frame::Video>,
    name: &str,
    frame_ticks: i64,
    out: &mut dyn FnMut(Packet) -> Result<(), Error>,
) -> Result<(), Error> {
    match frame {
        Some(f) => enc.send_frame(f).map_err(Error::ffmpeg(format!(
            "encoding {}x{}",
            f.width(),
            f.height()
        )))?,
        None => enc
            .send_eof()
            .map_err(Error::ffmpeg(format!("flushing the {name} encoder")))?,
    }
    loop {
        let mut p = Packet::empty();
        match enc.receive_packet(&mut p) {
            Ok(()) => {
                if p.duration() <= 0 {
                    p.set_duration(frame_ticks);
                }
                out(p)?;
            }
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => return Ok(()),
            Err(ff::Error::Eof) => return Ok(()),
            Err(e) => {
                return Err(Error::Ffmpeg {
                    stage: format!("encoding {}x{}", enc.width(), enc.height()),
                    source: e,
                })
            }
        }
    }
}

struct Rung {
    encoder: encoder::video::Encoder,
    scaler: Scaler,
    outputs: Outputs,
    frames: u64,
    frame_ticks: i64,
}

/// Runs a rung until the sender hangs up, then flushes everything.
pub(crate) fn run(setup: Setup, rx: Receiver<Msg>) -> Result<Finished, Error> {
    if setup.lanes > 1 {
        return crate::chunks::run(setup, rx);
    }
    let name = setup.rendition.name.clone();
    let mut rung = Rung::open(&setup)?;
    for msg in rx {
        match msg {
            Msg::Video(f) => {
                let f = fit(&mut rung.scaler, &f)?;
                rung.encode(Some(&f), &name)?;
                rung.frames += 1;
            }
            Msg::Audio(v, p) => rung.outputs.audio(v, &p)?,
        }
    }
    rung.encode(None, &name)?;
    let codec = codec_string(&rung.encoder);
    rung.outputs.finish()?;
    Ok(Finished {
        name,
        codec,
        frames: rung.frames,
    })
}

impl Rung {
    fn open(s: &Setup) -> Result<Rung, Error> {
        let encoder = open_encoder(s, s.threads)?;
        let video_spec = StreamSpec {
            parameters: codec::Parameters::from(&encoder),
            time_base: s.time_base,
        };
        Ok(Rung {
            outputs: Outputs::open(s, &video_spec)?,
            encoder,
            scaler: Scaler::for_rendition(&s.rendition),
            frames: 0,
            frame_ticks: frame_ticks(s),
        })
    }

    fn encode(&mut self, frame: Option<&frame::Video>, name: &str) -> Result<(), Error> {
        let outputs = &mut self.outputs;
        encode(&mut self.encoder, frame, name, self.frame_ticks, &mut |p| {
            outputs.video(&p)
        })
    }
}
