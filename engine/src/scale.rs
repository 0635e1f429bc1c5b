//! A libswscale context with the bicubic kernel's parameters, which ffmpeg-next's
//! `scaling::Context` cannot pass: MediaConvert's `Sharpness` picks them.

use ff::ffi;
use ff::format::Pixel;
use ff::frame;
use ffmpeg_next as ff;

use crate::error::Error;

/// The bicubic kernel's B (blur) and C (ringing) for a sharpness of 0 to 100.
///
/// MediaConvert's `Sharpness` "changes the width of the anti-alias filter kernel used for
/// scaling": 0 the softest, 100 the sharpest, 50 recommended (API reference,
/// VideoDescription). mpe's reading of it on libswscale's bicubic: 50 is libswscale's own
/// default (B 0, C 0.6), below it B grows to the B-spline's 1 and C falls to 0 (wider,
/// softer), above it C grows to 1 (a narrower, sharper lobe).
pub(crate) fn bicubic_params(sharpness: u8) -> [f64; 2] {
    let s = f64::from(sharpness.min(100));
    if s <= 50.0 {
        let t = s / 50.0;
        [1.0 - t, 0.6 * t]
    } else {
        [0.0, 0.6 + 0.4 * (s - 50.0) / 50.0]
    }
}

/// One source shape scaled to one yuv420p size with bicubic at a given sharpness.
pub(crate) struct Bicubic {
    ptr: *mut ffi::SwsContext,
    src: (Pixel, u32, u32),
    dst: (u32, u32),
}

impl Bicubic {
    /// A context from `src` (format, width, height) to `dst` (width, height); `sharpness`
    /// `None` (or 50) is libswscale's default kernel.
    pub fn new(
        src: (Pixel, u32, u32),
        dst: (u32, u32),
        sharpness: Option<u8>,
    ) -> Result<Bicubic, Error> {
        let params = sharpness.filter(|s| *s != 50).map(bicubic_params);
        let param_ptr = params.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: sws_getContext copies the two params it reads; NULL filters and NULL
        // params are its documented defaults. A NULL result is an error, checked below.
        let ptr = unsafe {
            ffi::sws_getContext(
                src.1 as i32,
                src.2 as i32,
                src.0.into(),
                dst.0 as i32,
                dst.1 as i32,
                Pixel::YUV420P.into(),
                ffi::SWS_BICUBIC,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                param_ptr,
            )
        };
        if ptr.is_null() {
            return Err(Error::ffmpeg("setting up the scaler")(
                ff::Error::InvalidData,
            ));
        }
        Ok(Bicubic { ptr, src, dst })
    }

    /// Scales `input` (of the source shape) into a new yuv420p frame.
    pub fn run(&mut self, input: &frame::Video) -> Result<frame::Video, Error> {
        if (input.format(), input.width(), input.height()) != self.src {
            return Err(Error::ffmpeg("scaling")(ff::Error::InputChanged));
        }
        let mut out = frame::Video::new(Pixel::YUV420P, self.dst.0, self.dst.1);
        // SAFETY: both frames hold allocated planes of the shapes the context was made
        // for (checked above; `out` allocated here), and the context is valid until drop.
        let rows = unsafe {
            ffi::sws_scale(
                self.ptr,
                (*input.as_ptr()).data.as_ptr() as *const *const u8,
                (*input.as_ptr()).linesize.as_ptr(),
                0,
                self.src.2 as i32,
                (*out.as_mut_ptr()).data.as_ptr(),
                (*out.as_mut_ptr()).linesize.as_ptr(),
            )
        };
        if rows < 0 {
            return Err(Error::ffmpeg("scaling")(ff::Error::from(rows)));
        }
        Ok(out)
    }
}

impl Drop for Bicubic {
    fn drop(&mut self) {
        // SAFETY: the context was made by sws_getContext and is freed once.
        unsafe { ffi::sws_freeContext(self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::bicubic_params;

    #[test]
    fn sharpness_50_is_libswscales_default_and_the_ends_are_soft_and_sharp() {
        assert_eq!(bicubic_params(50), [0.0, 0.6]);
        assert_eq!(bicubic_params(0), [1.0, 0.0]);
        assert_eq!(bicubic_params(100), [0.0, 1.0]);
        // Monotonic: less blur and more ringing as sharpness rises.
        let mut last = bicubic_params(0);
        for s in 1..=100 {
            let p = bicubic_params(s);
            assert!(
                p[0] <= last[0] && p[1] >= last[1],
                "{s}: {p:?} after {last:?}"
            );
            last = p;
        }
    }
}
