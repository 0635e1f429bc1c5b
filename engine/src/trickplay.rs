//! Trick-play sprite sheets and their WebVTT index: tiles every K seconds laid out N x M per
//! sheet, each cue pointing at `sheet.jpg#xywh=x,y,w,h`.

use std::fmt::Write;
use std::path::Path;

use image::RgbImage;
use profiles::naming::Layout;
use profiles::{ImageFormat, PlannedTrickPlay};

use crate::error::Error;
use crate::picture;

/// Where tile `index` lands: sheet number (1-based) and its top-left corner.
pub fn tile_position(plan: &PlannedTrickPlay, index: usize) -> (u32, u32, u32) {
    let per = plan.per_sheet() as usize;
    let sheet = (index / per) as u32 + 1;
    let slot = (index % per) as u32;
    (
        sheet,
        (slot % plan.columns) * plan.tile_width,
        (slot / plan.columns) * plan.tile_height,
    )
}

/// The WebVTT track: one cue per tile, from its time to the next tile's (the last one to
/// `end`), naming the sheet by its path relative to the track.
pub fn vtt(plan: &PlannedTrickPlay, layout: &Layout, end: f64) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, &start) in plan.times.iter().enumerate() {
        let stop = plan
            .times
            .get(i + 1)
            .copied()
            .unwrap_or(end.max(start + 0.001));
        let (sheet, x, y) = tile_position(plan, i);
        let _ = write!(
            out,
            "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
            timestamp(start),
            timestamp(stop),
            layout.trickplay_sheet("", sheet),
            plan.tile_width,
            plan.tile_height
        );
    }
    out
}

fn timestamp(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

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
        let (sheet, x, y) = tile_position(self.plan, index);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_cover_the_video_and_walk_the_grid() {
        let plan = PlannedTrickPlay {
            times: vec![0.0, 10.0, 20.0, 30.0, 40.0],
            interval: 10.0,
            tile_width: 160,
            tile_height: 90,
            columns: 2,
            rows: 2,
            quality: 75,
        };
        assert_eq!(tile_position(&plan, 3), (1, 160, 90));
        assert_eq!(tile_position(&plan, 4), (2, 0, 0));
        let text = vtt(&plan, &Layout::for_source("a.mp4"), 45.5);
        assert!(
            text.starts_with(
                "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\na_trickplay_00001.jpg#xywh=0,0,160,90\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "00:00:40.000 --> 00:00:45.500\na_trickplay_00002.jpg#xywh=0,0,160,90\n"
            ),
            "{text}"
        );
    }
}
