//! Where trick-play tiles sit on their sheets, and the WebVTT track that indexes them:
//! one layout for the engine (sheets drawn from decoded frames) and the cloud (sheets
//! drawn from MediaConvert's frame captures), so both write the same files.

use std::fmt::Write;

use crate::naming::Layout;
use crate::plan::PlannedTrickPlay;

impl PlannedTrickPlay {
    /// Where tile `index` lands: sheet number (1-based) and its top-left corner.
    pub fn tile_position(&self, index: usize) -> (u32, u32, u32) {
        let per = self.per_sheet().max(1) as usize;
        let sheet = (index / per) as u32 + 1;
        let slot = (index % per) as u32;
        let columns = self.columns.max(1);
        (
            sheet,
            (slot % columns) * self.tile_width,
            (slot / columns) * self.tile_height,
        )
    }

    /// The WebVTT track: one cue per tile, from its time to the next tile's (the last one
    /// to `end`), naming the sheet by its path relative to the track.
    pub fn vtt(&self, layout: &Layout, end: f64) -> String {
        let mut out = String::from("WEBVTT\n");
        for (i, &start) in self.times.iter().enumerate() {
            let stop = self
                .times
                .get(i + 1)
                .copied()
                .unwrap_or(end.max(start + 0.001));
            let (sheet, x, y) = self.tile_position(i);
            let _ = write!(
                out,
                "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
                timestamp(start),
                timestamp(stop),
                layout.trickplay_sheet("", sheet),
                self.tile_width,
                self.tile_height
            );
        }
        out
    }
}

/// `HH:MM:SS.mmm`, as WebVTT writes cue times.
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
        assert_eq!(plan.tile_position(3), (1, 160, 90));
        assert_eq!(plan.tile_position(4), (2, 0, 0));
        let text = plan.vtt(&Layout::for_source("a.mp4"), 45.5);
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
