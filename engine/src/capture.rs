//! Pictures from the transcode's own decode: thumbnails and trick-play tiles are picked as
//! frames go by (no second decode) and converted and written on their own thread.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use ff::frame;
use ffmpeg_next as ff;
use profiles::naming::Layout;
use profiles::{PlannedThumbnails, PlannedTrickPlay};
use serde::Serialize;

use crate::error::Error;
use crate::picture::{self, Converter};
use crate::pipeline::share;
use crate::trickplay::Sheets;

/// A picture the plan asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shot {
    /// Thumbnail `i` (capture order).
    Thumb(usize),
    /// Trick-play tile `i`.
    Tile(usize),
}

/// A picked frame on its way to the writer, with the time of the frame itself.
pub(crate) struct Picked {
    shot: Shot,
    frame_time: f64,
    frame: frame::Video,
}

/// Finds, for each wanted time, the frame displayed then: the last frame that starts at or
/// before it. Runs on the decoding thread and only compares times; pixels are shared.
pub(crate) struct Picker {
    wanted: Vec<(f64, Shot)>,
    next: usize,
    prev: Option<(f64, frame::Video)>,
    tx: SyncSender<Picked>,
}

/// Frame times are exact in their time base; this only absorbs float rounding.
const EPS: f64 = 1e-6;

impl Picker {
    /// A picker for thumbnails and tiles, sending to a writer.
    pub fn new(
        thumbs: Option<&PlannedThumbnails>,
        tiles: Option<&PlannedTrickPlay>,
        tx: SyncSender<Picked>,
    ) -> Picker {
        let mut wanted: Vec<(f64, Shot)> = Vec::new();
        if let Some(t) = thumbs {
            wanted.extend(
                t.times
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x, Shot::Thumb(i))),
            );
        }
        if let Some(t) = tiles {
            wanted.extend(t.times.iter().enumerate().map(|(i, &x)| (x, Shot::Tile(i))));
        }
        wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
        Picker {
            wanted,
            next: 0,
            prev: None,
            tx,
        }
    }

    /// Sees the next frame, which starts at `t` seconds.
    pub fn frame(&mut self, t: f64, f: &frame::Video) -> Result<(), Error> {
        while let Some(&(at, shot)) = self.wanted.get(self.next) {
            if at >= t - EPS {
                break;
            }
            // `at` lies before this frame: the previous one was on screen then (or, before
            // the first frame, this one is the first thing shown).
            let (ft, pf) = match &self.prev {
                Some((pt, p)) => (*pt, share(p)?),
                None => (t, share(f)?),
            };
            self.send(shot, ft, pf)?;
            self.next += 1;
        }
        if self.next < self.wanted.len() {
            self.prev = Some((t, share(f)?));
        }
        Ok(())
    }

    /// After the last frame: every time still wanted shows the last frame.
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some((t, last)) = self.prev.take() {
            while let Some(&(_, shot)) = self.wanted.get(self.next) {
                self.send(shot, t, share(&last)?)?;
                self.next += 1;
            }
        }
        Ok(())
    }

    fn send(&self, shot: Shot, frame_time: f64, frame: frame::Video) -> Result<(), Error> {
        self.tx
            .send(Picked {
                shot,
                frame_time,
                frame,
            })
            .map_err(|_| Error::Internal("the picture writer stopped early".into()))
    }
}

/// A written thumbnail, for the asset record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Thumbnail {
    /// Path relative to the asset root.
    pub path: String,
    /// The time asked for, seconds.
    pub time: f64,
    /// Start of the frame shown at that time, seconds.
    pub frame_time: f64,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
}

/// Where and what the writer writes.
pub(crate) struct WriterSetup<'a> {
    pub root: &'a Path,
    pub layout: &'a Layout,
    pub thumbs: Option<(&'a str, &'a PlannedThumbnails)>,
    pub tiles: Option<(&'a str, &'a PlannedTrickPlay)>,
}

/// Converts, encodes and writes every picked frame until the picker hangs up.
pub(crate) fn write(setup: WriterSetup<'_>, rx: Receiver<Picked>) -> Result<Vec<Thumbnail>, Error> {
    let mut thumb_conv = setup.thumbs.map(|(_, t)| Converter::new(t.width, t.height));
    let mut tile_conv = setup
        .tiles
        .map(|(_, t)| Converter::new(t.tile_width, t.tile_height));
    let tile_dir = setup.tiles.map(|(d, _)| setup.root.join(d));
    let mut sheets = match (setup.tiles, &tile_dir) {
        (Some((_, plan)), Some(dir)) => Some(Sheets::new(plan, dir, setup.layout)),
        _ => None,
    };
    let mut written = Vec::new();
    for p in rx {
        match p.shot {
            Shot::Thumb(i) => {
                let (Some((dest, plan)), Some(conv)) = (setup.thumbs, thumb_conv.as_mut()) else {
                    continue;
                };
                let img = conv.rgb(&p.frame)?;
                let bytes = picture::encode(&img, plan.format, plan.quality)?;
                let rel = setup.layout.thumbnail(dest, i, plan.format);
                let path = setup.root.join(&rel);
                std::fs::write(&path, bytes).map_err(Error::output(&path))?;
                written.push(Thumbnail {
                    path: rel,
                    time: plan.times[i],
                    frame_time: p.frame_time,
                    width: plan.width,
                    height: plan.height,
                });
            }
            Shot::Tile(i) => {
                if let (Some(s), Some(conv)) = (sheets.as_mut(), tile_conv.as_mut()) {
                    s.put(i, &conv.rgb(&p.frame)?)?;
                }
            }
        }
    }
    if let Some(s) = sheets {
        s.finish()?;
    }
    written.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(written)
}
