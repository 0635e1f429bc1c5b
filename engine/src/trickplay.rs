//! Trick-play sprite sheets drawn from decoded frames: tiles every K seconds laid out N x M
//! per sheet (where each lands, and the WebVTT track, are `profiles::trickplay`'s).

use std::path::Path;

use image::RgbImage;
use profiles::naming::Layout;
use profiles::{ImageFormat, PlannedTrickPlay};

use crate::error::Error;
use crate::picture;

/// Sheets being filled with tiles in time order; each is written once full.
pub(crate) struct Sheets<'a> {
    plan: &'a PlannedTrickPlay,
    dir: &'a Path,
    layout: &'a Layout,
    current: Option<(u32, RgbImage)>,
    written: u32,
}

impl<'a> Sheets<'a> {
    /// Sheets of `plan`, written into `dir` (the trick-play destination folder).
    pub fn new(plan: &'a PlannedTrickPlay, dir: &'a Path, layout: &'a Layout) -> Sheets<'a> {
        Sheets {
            plan,
            dir,
            layout,
            current: None,
            written: 0,
        }
    }

    /// Places tile `index`; a tile that starts a new sheet writes the previous one.
    pub fn put(&mut self, index: usize, tile: &RgbImage) -> Result<(), Error> {
        let (sheet, x, y) = self.plan.tile_position(index);
        if self.current.as_ref().is_some_and(|(n, _)| *n != sheet) {
            self.flush()?;
        }
        let (_, img) = self.current.get_or_insert_with(|| {
            (
                sheet,
                RgbImage::new(
                    self.plan.columns * self.plan.tile_width,
                    self.plan.rows * self.plan.tile_height,
                ),
            )
        });
        image::imageops::replace(img, tile, i64::from(x), i64::from(y));
        Ok(())
    }

    /// Writes the sheet being filled; returns how many sheets were written in all.
    pub fn finish(mut self) -> Result<u32, Error> {
        self.flush()?;
        Ok(self.written)
    }

    fn flush(&mut self) -> Result<(), Error> {
        if let Some((n, img)) = self.current.take() {
            let bytes = picture::encode(&img, ImageFormat::Jpeg, self.plan.quality)?;
            let path = self.dir.join(self.layout.trickplay_sheet("", n));
            std::fs::write(&path, bytes).map_err(Error::output(&path))?;
            self.written += 1;
        }
        Ok(())
    }
}
