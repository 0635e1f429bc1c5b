//! Clips: the part of a source to transcode, named by SMPTE timecodes as MediaConvert's
//! `InputClippings` name it, and turned into seconds once the source's frame rate is known.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A SMPTE timecode: `HH:MM:SS:FF`, or `HH:MM:SS;FF` counted drop-frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timecode {
    /// Hours, 0 to 23.
    pub hours: u32,
    /// Minutes, 0 to 59.
    pub minutes: u32,
    /// Seconds, 0 to 59.
    pub seconds: u32,
    /// Frames within the second.
    pub frames: u32,
    /// Drop-frame counting (`;` before the frames), as 29.97 and 59.94 fps timecode is.
    pub drop_frame: bool,
}

/// A timecode that is not one, with the text and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {reason}")]
pub struct TimecodeError {
    /// What was given.
    pub text: String,
    /// Why it is refused.
    pub reason: String,
}

impl FromStr for Timecode {
    type Err = TimecodeError;

    fn from_str(text: &str) -> Result<Timecode, TimecodeError> {
        let bad = |reason: &str| TimecodeError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let shape = "not a timecode: write HH:MM:SS:FF (or HH:MM:SS;FF, drop-frame)";
        let (clock, frames, drop_frame) = match (text.rfind(';'), text.rfind(':')) {
            (Some(i), _) if text.len() - i == 3 => (&text[..i], &text[i + 1..], true),
            (None, Some(i)) if text.len() - i == 3 => (&text[..i], &text[i + 1..], false),
            _ => return Err(bad(shape)),
        };
        let mut parts = clock.split(':');
        let mut field = |max: u32| -> Result<u32, TimecodeError> {
            let p = parts.next().ok_or_else(|| bad(shape))?;
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(shape));
            }
            let v: u32 = p.parse().map_err(|_| bad(shape))?;
            if v > max {
                return Err(bad(
                    "a field is out of range (hours 0-23, minutes and seconds 0-59)",
                ));
            }
            Ok(v)
        };
        let (hours, minutes, seconds) = (field(23)?, field(59)?, field(59)?);
        if parts.next().is_some()
            || frames.len() != 2
            || !frames.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad(shape));
        }
        let frames = frames.parse().map_err(|_| bad(shape))?;
        Ok(Timecode {
            hours,
            minutes,
            seconds,
            frames,
            drop_frame,
        })
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.drop_frame { ';' } else { ':' };
        write!(
            f,
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        )
    }
}

impl Timecode {
    /// Frames since 00:00:00:00 at `fps` (numerator, denominator). Drop-frame timecode
    /// skips frame numbers 0 and 1 (0 to 3 at 59.94) at the start of every minute not a
    /// multiple of ten, so that the count keeps up with the clock (SMPTE ST 12-1).
    pub fn frame_number(&self, fps: [u32; 2]) -> Result<i64, TimecodeError> {
        let nominal = nominal_rate(fps);
        if self.frames >= nominal {
            return Err(TimecodeError {
                text: self.to_string(),
                reason: format!(
                    "frame {} does not exist at {nominal} frames a second",
                    self.frames
                ),
            });
        }
        let (h, m, s, f) = (
            i64::from(self.hours),
            i64::from(self.minutes),
            i64::from(self.seconds),
            i64::from(self.frames),
        );
        let nominal = i64::from(nominal);
        let count = ((h * 60 + m) * 60 + s) * nominal + f;
        if !self.drop_frame {
            return Ok(count);
        }
        let dropped_per_minute = match nominal {
            30 => 2,
            60 => 4,
            _ => {
                return Err(TimecodeError {
                    text: self.to_string(),
                    reason: "drop-frame timecode exists only at 29.97 and 59.94 frames a second"
                        .into(),
                })
            }
        };
        if s == 0 && f < dropped_per_minute && m % 10 != 0 {
            return Err(TimecodeError {
                text: self.to_string(),
                reason: "a drop-frame timecode that is skipped (no frame has it)".into(),
            });
        }
        let minutes = h * 60 + m;
        Ok(count - dropped_per_minute * (minutes - minutes / 10))
    }
}

/// The frame count per timecode second: the rate rounded up (30 for 29.97).
fn nominal_rate(fps: [u32; 2]) -> u32 {
    let (n, d) = (fps[0].max(1), fps[1].max(1));
    n.div_ceil(d)
}

/// Where an input's timecodes start: MediaConvert's `InputTimecodeSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimecodeOrigin {
    /// The first frame is 00:00:00:00 (`ZEROBASED`).
    Zero,
    /// The source's own timecode, or zero where it has none (`EMBEDDED`, the default).
    Embedded,
    /// The first frame is this timecode (`SPECIFIEDSTART` with `TimecodeStart`).
    Specified(Timecode),
}

/// The part of a source to transcode: from `start` (included) to `end` (included), on the
/// timeline `origin` gives; either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    /// The first frame kept; `None` from the source's first frame.
    pub start: Option<Timecode>,
    /// The last frame kept; `None` to the source's end.
    pub end: Option<Timecode>,
    /// How the source's frames are counted.
    pub origin: TimecodeOrigin,
}

/// A clip in seconds from the source's first frame: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipWindow {
    /// The first frame kept.
    pub start: f64,
    /// Just after the last frame kept; `None` to the source's end.
    pub end: Option<f64>,
}

impl Clip {
    /// The clip in seconds of a source at `fps` whose own timecode (the first frame's) is
    /// `embedded`, lasting `duration` seconds (0 when unknown). The end frame is included,
    /// as MediaConvert includes it; an end past the source's is the source's end.
    pub fn window(
        &self,
        fps: [u32; 2],
        embedded: Option<Timecode>,
        duration: f64,
    ) -> Result<ClipWindow, TimecodeError> {
        let zero = Timecode {
            hours: 0,
            minutes: 0,
            seconds: 0,
            frames: 0,
            drop_frame: false,
        };
        let origin = match self.origin {
            TimecodeOrigin::Zero => zero,
            TimecodeOrigin::Embedded => embedded.unwrap_or(zero),
            TimecodeOrigin::Specified(t) => t,
        };
        let first = origin.frame_number(fps)?;
        let seconds_per_frame = f64::from(fps[1].max(1)) / f64::from(fps[0].max(1));
        let at = |t: &Timecode, past: i64| -> Result<f64, TimecodeError> {
            let n = t.frame_number(fps)? - first + past;
            if n < 0 {
                return Err(TimecodeError {
                    text: t.to_string(),
                    reason: format!("before the input's first frame, which is {origin}"),
                });
            }
            Ok(n as f64 * seconds_per_frame)
        };
        let start = match &self.start {
            Some(t) => at(t, 0)?,
            None => 0.0,
        };
        let end = match &self.end {
            Some(t) => Some(at(t, 1)?),
            None => None,
        };
        if let (Some(t), Some(e)) = (&self.end, end) {
            if e <= start {
                return Err(TimecodeError {
                    text: t.to_string(),
                    reason: "the end comes before the start".into(),
                });
            }
        }
        if duration > 0.0 && start >= duration - seconds_per_frame / 2.0 {
            let t = self.start.unwrap_or(zero);
            return Err(TimecodeError {
                text: t.to_string(),
                reason: format!("after the input's end ({duration:.3} s)"),
            });
        }
        let end = end.filter(|e| duration <= 0.0 || *e < duration);
        Ok(ClipWindow { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(s: &str) -> Timecode {
        s.parse().expect("timecode")
    }

    #[test]
    fn timecodes_parse_and_print_back() {
        for s in ["00:00:01:00", "01:05:00:29", "00:01:00;02"] {
            assert_eq!(tc(s).to_string(), s);
        }
        for bad in [
            "1:00:00:00",
            "00:00:00",
            "00:60:00:00",
            "24:00:00:00",
            "aa:00:00:00",
            "00:00:00:000",
        ] {
            assert!(bad.parse::<Timecode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn drop_frame_counts_skip_two_numbers_a_minute_except_every_tenth() {
        let ntsc = [30000, 1001];
        assert_eq!(tc("00:00:59;29").frame_number(ntsc), Ok(1799));
        assert_eq!(tc("00:01:00;02").frame_number(ntsc), Ok(1800));
        assert_eq!(tc("00:10:00;00").frame_number(ntsc), Ok(17982));
        assert!(tc("00:01:00;00").frame_number(ntsc).is_err());
        // One hour of drop-frame timecode is an hour of clock time, to the frame.
        let hour = tc("01:00:00;00").frame_number(ntsc).expect("frames");
        assert_eq!(hour, 107_892);
        assert!((hour as f64 * 1001.0 / 30000.0 - 3600.0).abs() < 0.01);
        assert!(tc("00:00:00;00").frame_number([25, 1]).is_err());
        assert!(tc("00:00:00:25").frame_number([25, 1]).is_err());
    }

    #[test]
    fn windows_include_the_end_frame_and_follow_the_origin() {
        let clip = Clip {
            start: Some(tc("01:00:01:00")),
            end: Some(tc("01:00:02:29")),
            origin: TimecodeOrigin::Embedded,
        };
        let w = clip
            .window([30, 1], Some(tc("01:00:00:00")), 6.0)
            .expect("window");
        assert_eq!(w.start, 1.0);
        assert!((w.end.expect("end") - 3.0).abs() < 1e-9);
        // No embedded timecode: counted from zero, so 01:00:01:00 is past the end.
        assert!(clip.window([30, 1], None, 6.0).is_err());
        let zero = Clip {
            origin: TimecodeOrigin::Zero,
            start: None,
            end: Some(tc("00:00:09:00")),
        };
        // An end past the source's is its end.
        assert_eq!(zero.window([25, 1], None, 6.0).expect("w").end, None);
        let before = Clip {
            origin: TimecodeOrigin::Specified(tc("00:00:10:00")),
            start: Some(tc("00:00:05:00")),
            end: None,
        };
        assert!(before.window([25, 1], None, 60.0).is_err());
        let backwards = Clip {
            origin: TimecodeOrigin::Zero,
            start: Some(tc("00:00:03:00")),
            end: Some(tc("00:00:02:00")),
        };
        assert!(backwards.window([25, 1], None, 60.0).is_err());
    }
}
