//! Decoded frames to still pictures: colour-correct RGB conversion and JPEG/PNG/WebP encoding.

use std::io::Cursor;

use ff::software::scaling;
use ff::{color, format::Pixel, frame};
use ffmpeg_next as ff;
use image::{ImageEncoder, RgbImage};
use profiles::ImageFormat;

use crate::error::Error;

/// Converts frames of any pixel format and size to RGB pictures of one size.
///
/// The YUV matrix and range come from the frame: BT.601, BT.709 or BT.2020 as tagged,
/// limited or full range (yuvj formats are full). An untagged frame is read as BT.709
/// when it is HD (720 lines or more) and BT.601 otherwise, the convention encoders follow.
pub(crate) struct Converter {
    width: u32,
    height: u32,
    scaler: Option<(scaling::Context, Key)>,
}

type Key = (Pixel, u32, u32, i32, bool);

impl Converter {
    /// A converter to `width` x `height`.
    pub fn new(width: u32, height: u32) -> Converter {
        Converter {
            width,
            height,
            scaler: None,
        }
    }

    /// The picture of `f`, scaled (bicubic) to the converter's size.
    pub fn rgb(&mut self, f: &frame::Video) -> Result<RgbImage, Error> {
        let full = f.color_range() == color::Range::JPEG
            || matches!(
                f.format(),
                Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P
            );
        let space = match f.color_space() {
            color::Space::Unspecified | color::Space::Reserved => {
                if f.height() >= 720 {
                    color::Space::BT709
                } else {
                    color::Space::BT470BG
                }
            }
            s => s,
        };
        let space: ff::ffi::AVColorSpace = space.into();
        let key = (f.format(), f.width(), f.height(), space as i32, full);
        if self.scaler.as_ref().map(|(_, k)| *k) != Some(key) {
            let mut ctx = scaling::Context::get(
                key.0,
                key.1,
                key.2,
                Pixel::RGB24,
                self.width,
                self.height,
                scaling::Flags::BICUBIC
                    | scaling::Flags::ACCURATE_RND
                    | scaling::Flags::FULL_CHR_H_INT,
            )
            .map_err(Error::ffmpeg("setting up the picture scaler"))?;
            // SAFETY: ctx is a valid SwsContext; sws_getCoefficients returns a pointer into
            // libswscale's static tables (an unknown space gives the default table).
            unsafe {
                let src = ff::ffi::sws_getCoefficients(key.3);
                let dst = ff::ffi::sws_getCoefficients(ff::ffi::SWS_CS_DEFAULT);
                // Fails only for formats without a YUV matrix (RGB sources), where it does
                // not matter.
                ff::ffi::sws_setColorspaceDetails(
                    ctx.as_mut_ptr(),
                    src,
                    i32::from(full),
                    dst,
                    1,
                    0,
                    1 << 16,
                    1 << 16,
                );
            }
            self.scaler = Some((ctx, key));
        }
        let mut out = frame::Video::new(Pixel::RGB24, self.width, self.height);
        if let Some((ctx, _)) = self.scaler.as_mut() {
            ctx.run(f, &mut out)
                .map_err(Error::ffmpeg("converting a frame to RGB"))?;
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let stride = out.stride(0);
        let data = out.data(0);
        let mut pixels = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            pixels.extend_from_slice(&data[row * stride..row * stride + w * 3]);
        }
        RgbImage::from_raw(self.width, self.height, pixels)
            .ok_or_else(|| Error::Internal("picture buffer has the wrong size".into()))
    }
}

/// Encodes a picture; `quality` (1 to 100) applies to JPEG only (WebP is lossless).
pub(crate) fn encode(img: &RgbImage, format: ImageFormat, quality: u8) -> Result<Vec<u8>, Error> {
    let mut buf = Cursor::new(Vec::new());
    let (w, h) = img.dimensions();
    let kind = image::ExtendedColorType::Rgb8;
    let result =
        match format {
            ImageFormat::Jpeg => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100))
                    .write_image(img.as_raw(), w, h, kind)
            }
            ImageFormat::Png => {
                image::codecs::png::PngEncoder::new(&mut buf).write_image(img.as_raw(), w, h, kind)
            }
            ImageFormat::Webp => image::codecs::webp::WebPEncoder::new_lossless(&mut buf)
                .write_image(img.as_raw(), w, h, kind),
        };
    result.map_err(|e| Error::Internal(format!("encoding a {w}x{h} {format:?} picture: {e}")))?;
    Ok(buf.into_inner())
}
