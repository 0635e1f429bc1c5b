//! Frame blending for INTERPOLATE frame-rate conversion: an output frame between two
//! source frames mixes both, as FFmpeg's `framerate` filter does.

use ff::{format::Pixel, frame};
use ffmpeg_next as ff;

/// `a` and `b` mixed, `toward` (0 to 1) of the way from `a` to `b`, with `a`'s properties;
/// `None` unless both are the same 8-bit planar picture (every plane one byte a sample),
/// where the caller repeats `a` instead.
pub(crate) fn blend(a: &frame::Video, b: &frame::Video, toward: f64) -> Option<frame::Video> {
    let planar8 = matches!(
        a.format(),
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::GRAY8
    );
    if !planar8 || (a.format(), a.width(), a.height()) != (b.format(), b.width(), b.height()) {
        return None;
    }
    let mut out = frame::Video::new(a.format(), a.width(), a.height());
    // SAFETY: both frames are valid; this copies colour tags, side data and timestamps,
    // not pixels.
    if unsafe { ff::ffi::av_frame_copy_props(out.as_mut_ptr(), a.as_ptr()) } < 0 {
        return None;
    }
    // Weights in 256ths, rounded: exact for the two ends, and the sum of two byte
    // products stays within u32.
    let wb = (toward.clamp(0.0, 1.0) * 256.0).round() as u32;
    let wa = 256 - wb;
    for p in 0..a.planes() {
        let width = a.plane_width(p) as usize;
        let rows = a.plane_height(p) as usize;
        let (sa, sb, so) = (a.stride(p), b.stride(p), out.stride(p));
        let (da, db) = (a.data(p), b.data(p));
        let dout = out.data_mut(p);
        for y in 0..rows {
            let ra = da.get(y * sa..y * sa + width)?;
            let rb = db.get(y * sb..y * sb + width)?;
            let ro = dout.get_mut(y * so..y * so + width)?;
            for ((o, &x), &z) in ro.iter_mut().zip(ra).zip(rb) {
                *o = ((u32::from(x) * wa + u32::from(z) * wb + 128) >> 8) as u8;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(y: u8, u: u8) -> frame::Video {
        let mut f = frame::Video::new(Pixel::YUV420P, 8, 4);
        for (p, v) in [(0, y), (1, u), (2, u)] {
            f.data_mut(p).fill(v);
        }
        f
    }

    #[test]
    fn blends_every_plane_by_the_weight_and_refuses_other_pictures() {
        ff::init().expect("ffmpeg");
        let (a, b) = (filled(0, 100), filled(200, 200));
        let m = blend(&a, &b, 0.25).expect("blends");
        assert!(
            m.data(0)[..8].iter().all(|&v| v == 50),
            "{:?}",
            &m.data(0)[..8]
        );
        assert!(m.data(1)[..4].iter().all(|&v| v == 125));
        assert_eq!(blend(&a, &b, 1.0).expect("blends").data(0)[0], 200);
        let other = frame::Video::new(Pixel::YUV420P, 16, 4);
        assert!(blend(&a, &other, 0.5).is_none());
        let nv12 = frame::Video::new(Pixel::NV12, 8, 4);
        assert!(blend(&nv12, &nv12, 0.5).is_none());
    }
}
