//! Trick-play sheets cut from a finished job's frame captures: MediaConvert captures the
//! profile's thumbnails, and this tiles them into the sprite sheets and WebVTT track that
//! the engine writes locally, under the same names (the status handler runs it when the
//! job completes, in the stack and in `mpe serve`).

use image::{imageops, RgbImage};
use profiles::naming::Layout;
use profiles::{PlannedTrickPlay, TrickPlaySettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::describe;
use crate::error::CloudError;

/// The job's user metadata key holding its [`Order`] (JSON text, as user metadata values
/// are strings).
pub const METADATA: &str = "mpe_trickplay";

/// What a job asked of its trick play, written into its user metadata when it is rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Order {
    /// The folder the sheets and track go to: `s3://media/asset/trickplay/`.
    pub destination: String,
    /// The asset's base name: sheets are `<base>_trickplay_00001.jpg`.
    pub base: String,
    /// Seconds between tiles (the frame captures' interval).
    pub interval: f64,
    /// Tiles per row.
    pub columns: u32,
    /// Rows per sheet.
    pub rows: u32,
    /// Tile width; the height follows the captures' aspect.
    pub width: u32,
    /// JPEG quality of the sheets.
    pub quality: u8,
}

/// Why trick play could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trick play: {0}")]
pub struct TrickPlayError(pub String);

impl Order {
    /// The order for an asset written under `asset` (a folder URI ending in `/`).
    pub fn new(t: &TrickPlaySettings, asset: &str, base: &str) -> Order {
        Order {
            destination: format!("{asset}{}", t.destination),
            base: base.to_string(),
            interval: t.interval_seconds,
            columns: t.columns,
            rows: t.rows,
            width: t.width,
            quality: t.quality,
        }
    }

    /// The order in a job's user metadata (`userMetadata` of an event, or a job's
    /// `UserMetadata`); `None` where the job asked no trick play.
    pub fn of_metadata(meta: &Value) -> Option<Result<Order, TrickPlayError>> {
        let text = meta.get(METADATA)?.as_str()?;
        Some(
            serde_json::from_str(text)
                .map_err(|e| TrickPlayError(format!("user metadata {METADATA}: {e}"))),
        )
    }

    /// The WebVTT track's URI.
    pub fn track(&self) -> String {
        Layout::of_base(&self.base).trickplay_vtt(&self.destination)
    }

    /// The URI of sheet `number` (1-based).
    pub fn sheet(&self, number: u32) -> String {
        Layout::of_base(&self.base).trickplay_sheet(&self.destination, number)
    }

    /// The layout of `count` tiles cut from captures of `frame` size (width, height).
    pub fn plan(&self, count: usize, frame: (u32, u32)) -> PlannedTrickPlay {
        let (tile_width, tile_height) = profiles::plan::picture_size(
            (f64::from(frame.0), f64::from(frame.1)),
            Some(self.width),
            None,
        );
        PlannedTrickPlay {
            times: (0..count).map(|i| i as f64 * self.interval).collect(),
            interval: self.interval,
            tile_width,
            tile_height,
            columns: self.columns,
            rows: self.rows,
            quality: self.quality,
        }
    }
}

/// The trick play a completed job owes: its order, its captures in order and where the
/// video ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    /// What was asked.
    pub order: Order,
    /// The frame captures, `s3://` URIs, first to last.
    pub frames: Vec<String>,
    /// The end of the video in seconds (the last cue's end).
    pub end: f64,
}

impl Work {
    /// What a "MediaConvert Job State Change" event owes: `None` unless the job is
    /// COMPLETE and asked for trick play.
    pub fn of(event: &Value) -> Option<Result<Work, TrickPlayError>> {
        let d = &event["detail"];
        if d["status"] != "COMPLETE" {
            return None;
        }
        let order = match Order::of_metadata(&d["userMetadata"])? {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        Some(Work::from_details(order, &d["outputGroupDetails"]))
    }

    fn from_details(order: Order, groups: &Value) -> Result<Work, TrickPlayError> {
        let outputs = || {
            groups
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["outputDetails"].as_array().into_iter().flatten())
        };
        // The COMPLETE event names only the last capture (`<prefix>.0000004.jpg`); the
        // captures are numbered from 0 with seven digits.
        let last = outputs()
            .flat_map(|o| o["outputFilePaths"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .find(|p| capture_number(p).is_some())
            .ok_or_else(|| TrickPlayError("the job wrote no frame captures".into()))?;
        let (prefix, n) = capture_number(last).unwrap_or((last, 0));
        let frames = (0..=n).map(|i| format!("{prefix}.{i:07}.jpg")).collect();
        let end = outputs()
            .filter_map(|o| o["durationInMs"].as_u64())
            .max()
            .ok_or_else(|| TrickPlayError("the job's outputs have no duration".into()))?;
        Ok(Work {
            order,
            frames,
            end: end as f64 / 1000.0,
        })
    }
}

/// `(prefix, n)` of a capture path `<prefix>.<7 digits>.jpg`.
fn capture_number(path: &str) -> Option<(&str, u32)> {
    let stem = path.strip_suffix(".jpg")?;
    let (prefix, digits) = stem.rsplit_once('.')?;
    (digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok().map(|n| (prefix, n)))
        .flatten()
}

/// A file to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its `s3://` URI.
    pub uri: String,
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its media type.
    pub content_type: &'static str,
}

/// Draws the sheets from the captures (`frames`, JPEG, in capture order) and writes the
/// track, which comes last: a reader that finds the track finds every sheet it names.
pub fn draw(work: &Work, frames: &[Vec<u8>]) -> Result<Vec<File>, TrickPlayError> {
    let order = &work.order;
    let first = frames
        .first()
        .ok_or_else(|| TrickPlayError("no frame captures".into()))?;
    let size = decode(first, &work.frames[0])?.dimensions();
    let plan = order.plan(frames.len(), size);
    let mut files = Vec::new();
    let mut sheet: Option<(u32, RgbImage)> = None;
    for (i, bytes) in frames.iter().enumerate() {
        let at = work
            .frames
            .get(i)
            .map(String::as_str)
            .unwrap_or("a capture");
        let tile = imageops::resize(
            &decode(bytes, at)?,
            plan.tile_width,
            plan.tile_height,
            imageops::FilterType::Triangle,
        );
        let (n, x, y) = plan.tile_position(i);
        if sheet.as_ref().is_some_and(|(m, _)| *m != n) {
            files.extend(sheet.take().map(|s| encode(order, s)).transpose()?);
        }
        let (_, img) = sheet.get_or_insert_with(|| {
            (
                n,
                RgbImage::new(plan.columns * plan.tile_width, plan.rows * plan.tile_height),
            )
        });
        imageops::replace(img, &tile, i64::from(x), i64::from(y));
    }
    files.extend(sheet.take().map(|s| encode(order, s)).transpose()?);
    files.push(File {
        uri: order.track(),
        body: plan
            .vtt(&Layout::of_base(&order.base), work.end)
            .into_bytes(),
        content_type: "text/vtt",
    });
    Ok(files)
}

/// Reads the work's captures from S3, draws the sheets and writes them and the track.
/// The outer error is S3's (worth another try), the inner one the captures' (final).
pub async fn publish(
    s3: &aws_sdk_s3::Client,
    work: &Work,
) -> Result<Result<(), TrickPlayError>, CloudError> {
    let mut frames = Vec::with_capacity(work.frames.len());
    for uri in &work.frames {
        let (bucket, key) = split(uri)?;
        let action = format!("read {uri}");
        let aws = |message: String| CloudError::Aws {
            action: action.clone(),
            message,
        };
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| aws(describe(&e)))?;
        let bytes = got.body.collect().await.map_err(|e| aws(e.to_string()))?;
        frames.push(bytes.into_bytes().to_vec());
    }
    let files = match draw(work, &frames) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    for f in files {
        let (bucket, key) = split(&f.uri)?;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type(f.content_type)
            .body(f.body.into())
            .send()
            .await
            .map_err(|e| CloudError::Aws {
                action: format!("write {}", f.uri),
                message: describe(&e),
            })?;
    }
    Ok(Ok(()))
}

fn split(uri: &str) -> Result<(&str, &str), CloudError> {
    uri.strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| CloudError::BadUri {
            what: "trick-play file",
            uri: uri.to_string(),
            reason: "not an s3://bucket/key URI".into(),
        })
}

fn decode(bytes: &[u8], at: &str) -> Result<RgbImage, TrickPlayError> {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map(|i| i.to_rgb8())
        .map_err(|e| TrickPlayError(format!("{at}: {e}")))
}

fn encode(order: &Order, (n, img): (u32, RgbImage)) -> Result<File, TrickPlayError> {
    let mut body = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut body, order.quality.clamp(1, 100))
        .encode_image(&img)
        .map_err(|e| TrickPlayError(format!("encoding sheet {n}: {e}")))?;
    Ok(File {
        uri: order.sheet(n),
        body,
        content_type: "image/jpeg",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Order {
        Order {
            destination: "s3://media/a/trickplay/".into(),
            base: "a".into(),
            interval: 10.0,
            columns: 2,
            rows: 2,
            width: 32,
            quality: 90,
        }
    }

    /// A 64x36 capture of one flat colour.
    fn capture(rgb: [u8; 3]) -> Vec<u8> {
        let img = RgbImage::from_pixel(64, 36, image::Rgb(rgb));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(&img)
            .expect("jpeg");
        out
    }

    #[test]
    fn a_complete_event_names_every_capture_from_its_last() {
        let event = json!({ "detail": {
            "status": "COMPLETE",
            "userMetadata": { METADATA: serde_json::to_string(&order()).expect("json") },
            "outputGroupDetails": [
                { "type": "CMAF_GROUP", "outputDetails": [{ "durationInMs": 45500 }],
                  "playlistFilePaths": ["s3://media/a/cmaf/a.m3u8"] },
                { "type": "FILE_GROUP", "outputDetails": [
                    { "outputFilePaths": ["s3://thumbs/a/thumbnails/a_thumb.0000004.jpg"],
                      "durationInMs": 45000 }] },
            ],
        }});
        let w = Work::of(&event).expect("owed").expect("reads");
        assert_eq!(w.frames.len(), 5);
        assert_eq!(w.frames[0], "s3://thumbs/a/thumbnails/a_thumb.0000000.jpg");
        assert_eq!(w.frames[4], "s3://thumbs/a/thumbnails/a_thumb.0000004.jpg");
        assert_eq!(w.end, 45.5);
        let mut progressing = event.clone();
        progressing["detail"]["status"] = json!("PROGRESSING");
        assert!(Work::of(&progressing).is_none());
        let mut plain = event;
        plain["detail"]["userMetadata"] = json!({});
        assert!(Work::of(&plain).is_none());
    }

    #[test]
    fn sheets_hold_each_capture_at_its_cue() {
        let colours = [
            [250, 0, 0],
            [0, 250, 0],
            [0, 0, 250],
            [250, 250, 0],
            [0, 250, 250],
        ];
        let frames: Vec<_> = colours.iter().map(|c| capture(*c)).collect();
        let work = Work {
            order: order(),
            frames: (0..5)
                .map(|i| format!("s3://t/a/thumbnails/a_thumb.{i:07}.jpg"))
                .collect(),
            end: 45.5,
        };
        let files = draw(&work, &frames).expect("draws");
        let uris: Vec<_> = files.iter().map(|f| f.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "s3://media/a/trickplay/a_trickplay_00001.jpg",
                "s3://media/a/trickplay/a_trickplay_00002.jpg",
                "s3://media/a/trickplay/a_trickplay.vtt",
            ]
        );
        let vtt = String::from_utf8(files[2].body.clone()).expect("utf-8");
        assert!(
            vtt.contains("00:00:30.000 --> 00:00:40.000\na_trickplay_00001.jpg#xywh=32,18,32,18\n"),
            "{vtt}"
        );
        assert!(
            vtt.ends_with("00:00:40.000 --> 00:00:45.500\na_trickplay_00002.jpg#xywh=0,0,32,18\n"),
            "{vtt}"
        );
        let sheet = image::load_from_memory(&files[0].body)
            .expect("sheet")
            .to_rgb8();
        assert_eq!(sheet.dimensions(), (64, 36));
        // Each tile's middle is its capture's colour.
        for (i, (x, y)) in [(16, 9), (48, 9), (16, 27), (48, 27)]
            .into_iter()
            .enumerate()
        {
            let p = sheet.get_pixel(x, y).0;
            let near = p.iter().zip(colours[i]).all(|(a, b)| a.abs_diff(b) < 24);
            assert!(near, "tile {i}: {p:?} is not {:?}", colours[i]);
        }
    }

    #[test]
    fn a_corrupt_capture_is_named() {
        let work = Work {
            order: order(),
            frames: vec!["s3://t/x.0000000.jpg".into(), "s3://t/x.0000001.jpg".into()],
            end: 12.0,
        };
        let err = draw(&work, &[capture([1, 2, 3]), b"not a jpeg".to_vec()]).expect_err("corrupt");
        assert!(err.to_string().contains("s3://t/x.0000001.jpg"), "{err}");
    }
}
