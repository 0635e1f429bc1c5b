//! The shared clock of a transcode: output timestamps and IDR positions, decided once on
//! the decoded frames before they fan out, so every rung gets identical pts and keyframes.

use ff::{frame, picture, Rational};
use ffmpeg_next as ff;

/// Timestamps and keyframe decisions, made once on the shared frames so that every rung
/// gets identical pts and IDR positions.
pub(crate) struct Clock {
    start: i64,
    /// Where the current input begins on the timeline, in ticks (0 for the first).
    base: i64,
    tb: Rational,
    /// The time base of output pts: `tb`, or on the grid the output frame duration.
    out_tb: Rational,
    gop: f64,
    /// Segment length and keyframes per segment, when IDRs are also forced on segment
    /// boundaries.
    segment: Option<(f64, u64)>,
    frame_seconds: f64,
    step: u32,
    seen: u64,
    pub frames: u64,
    last_pts: Option<i64>,
    /// Index of the next GOP boundary.
    next_key: u64,
    last_t: f64,
    /// Seconds kept from zero, for a clip: frames before zero or past this are dropped.
    clip: Option<f64>,
    /// Whether a frame past the clip's end has come (nothing later is wanted).
    past_end: bool,
    /// Seconds per source frame (for clip edges and a held frame's end).
    src_frame: f64,
    /// Output frames on the output rate's own grid, duplicated or dropped.
    grid: Option<Grid>,
}

/// MediaConvert's DUPLICATE_DROP frame-rate conversion: output frame `n` (at `n / fps`)
/// shows the latest source frame at or before that time; or with INTERPOLATE, a blend of
/// that frame and the next, weighted by the time between them.
struct Grid {
    /// The last source frame and its timeline seconds: shown until the next one comes.
    held: Option<(frame::Video, f64)>,
    /// The next output frame's index.
    next: u64,
    /// Blend instead of repeat (INTERPOLATE).
    blend: bool,
}

impl Clock {
    /// `start` is the source start in `tb` ticks; `fps` the output frame rate (after
    /// keeping one frame in `step`); `gop` the IDR interval in seconds.
    pub fn new(start: i64, tb: Rational, gop: f64, fps: f64, step: u32) -> Clock {
        Clock {
            start,
            base: 0,
            tb,
            out_tb: tb,
            gop,
            segment: None,
            frame_seconds: if fps > 0.0 { 1.0 / fps } else { 0.04 },
            step: step.max(1),
            seen: 0,
            frames: 0,
            last_pts: None,
            next_key: 0,
            last_t: 0.0,
            clip: None,
            past_end: false,
            src_frame: (if fps > 0.0 { 1.0 / fps } else { 0.04 }) / f64::from(step.max(1)),
            grid: None,
        }
    }

    /// Places frames on the output rate's grid, duplicating or dropping source frames at
    /// `source_fps` (a rate that is not a whole multiple of the output's, or joined
    /// inputs at different rates). Frames then come out of [`Clock::push`] in any number,
    /// their pts counted in `out_tb`, one tick a frame, so that no output frame's time is
    /// rounded. With `blend`, frames between two source frames are blends of both.
    pub fn with_grid(mut self, source_fps: f64, out_tb: Rational, blend: bool) -> Clock {
        self.out_tb = out_tb;
        self.step = 1;
        if source_fps > 0.0 {
            self.src_frame = 1.0 / source_fps;
        }
        self.grid = Some(Grid {
            held: None,
            next: 0,
            blend,
        });
        self
    }

    /// Keeps only a clip: the frames from zero (`start` is the clip's first frame) for
    /// `length` seconds, or to the end with `None`. A frame counts as in when its middle
    /// is, so timestamps a little off the frame grid fall on the side they are nearest.
    pub fn with_clip(mut self, length: Option<f64>) -> Clock {
        self.clip = Some(length.unwrap_or(f64::INFINITY));
        self
    }

    /// Goes on with the next input joined to the timeline: its frames (in this clock's
    /// time base) from `start` ticks follow the last frame so far, `length` seconds of
    /// them (`None`: to its end). The GOP grid runs on across the join.
    /// `source_fps` is its rate (used on the grid). Call [`Clock::end_input`] first.
    pub fn next_input(&mut self, start: i64, length: Option<f64>, source_fps: f64) {
        if self.grid.is_some() && source_fps > 0.0 {
            self.src_frame = 1.0 / source_fps;
        }
        self.base = (self.end() / f64::from(self.tb)).round() as i64;
        self.start = start;
        self.clip = Some(length.unwrap_or(f64::INFINITY));
        self.past_end = false;
    }

    /// Whether a frame past the clip's end has come.
    pub fn past_end(&self) -> bool {
        self.past_end
    }

    /// Also forces an IDR on every multiple of `segment` seconds, the GOP cadence starting
    /// over there (MediaConvert's `SegmentLengthControl: EXACT`, which "might result in
    /// extra I-frames"). With segments a whole number of GOPs this changes nothing.
    pub fn with_segments(mut self, segment: f64) -> Clock {
        self.segment = (segment > 0.0).then(|| {
            (
                segment,
                ((segment / self.gop) - 1e-9).ceil().max(1.0) as u64,
            )
        });
        self
    }

    /// Time of keyframe boundary `k`: `k x gop`, or with segments, GOPs counted afresh
    /// from each segment's start.
    fn boundary(&self, k: u64) -> f64 {
        match self.segment {
            None => k as f64 * self.gop,
            Some((seg, per)) => (k / per) as f64 * seg + (k % per) as f64 * self.gop,
        }
    }

    /// Stamps a decoded frame (pts shifted to start at zero, kept strictly increasing) and
    /// marks GOP boundaries as I; `None` when the frame is decimated away.
    pub fn stamp(&mut self, f: frame::Video) -> Option<frame::Video> {
        if !self.in_clip(&f) {
            return None;
        }
        self.stamp_kept(f)
    }

    /// Takes a decoded frame and gives the output frames it makes: itself stamped (or
    /// nothing, decimated away), or on the grid, the held frame once for every output
    /// time it covers up to this one.
    pub fn push(&mut self, f: frame::Video) -> Vec<frame::Video> {
        if self.grid.is_none() {
            return self.stamp(f).into_iter().collect();
        }
        if !self.in_clip(&f) {
            return Vec::new();
        }
        let t = match f.pts() {
            Some(p) => (p - self.start + self.base) as f64 * f64::from(self.tb),
            // No timestamp: one source frame after the last.
            None => self
                .grid
                .as_ref()
                .and_then(|g| g.held.as_ref())
                .map_or(0.0, |(_, t)| t + self.src_frame),
        };
        let out = self.fill_until(t, Some((&f, t)));
        if let Some(g) = self.grid.as_mut() {
            g.held = Some((f, t));
        }
        out
    }

    /// Ends the current input: on the grid, the held frame for the output times it still
    /// covers (its own duration); nothing otherwise.
    pub fn end_input(&mut self) -> Vec<frame::Video> {
        let Some(until) = self
            .grid
            .as_ref()
            .and_then(|g| g.held.as_ref())
            .map(|(_, t)| t + self.src_frame)
        else {
            return Vec::new();
        };
        let out = self.fill_until(until, None);
        if let Some(g) = self.grid.as_mut() {
            g.held = None;
        }
        out
    }

    /// The held frame, once for each output time before `t` (less a quarter frame, so
    /// that timestamps rounded to the time base fall on the frame they belong to); when
    /// blending, mixed with `next` (the source frame at `t`) by the time between them.
    fn fill_until(&mut self, t: f64, next: Option<(&frame::Video, f64)>) -> Vec<frame::Video> {
        let mut out = Vec::new();
        let tolerance = self.frame_seconds.min(self.src_frame) / 4.0;
        let tick = 1.0 / f64::from(self.out_tb);
        while let Some(g) = self.grid.as_mut() {
            let at = g.next as f64 * self.frame_seconds;
            let Some((held, held_t)) = g.held.as_ref() else {
                break;
            };
            if at >= t - tolerance {
                break;
            }
            // How far the output time lies from the held frame towards the next one.
            let toward = match next {
                Some((_, next_t)) if g.blend && next_t > *held_t => {
                    ((at - held_t) / (next_t - held_t)).clamp(0.0, 1.0)
                }
                _ => 0.0,
            };
            let blended = match next {
                // Within a sixteenth of a frame, as FFmpeg's framerate filter does by
                // default, the nearer frame is shown as it is.
                Some((n, _)) if toward > 1.0 / 16.0 => match toward < 15.0 / 16.0 {
                    true => crate::blend::blend(held, n, toward),
                    false => share(n),
                },
                _ => None,
            };
            let Some(copy) = blended.or_else(|| share(held)) else {
                break;
            };
            g.next += 1;
            let pts = (at * tick).round() as i64;
            out.push(self.mark(copy, pts));
        }
        out
    }

    /// Whether a frame lies in the current clip (always, without one); one past its end
    /// says so ([`Clock::past_end`]).
    fn in_clip(&mut self, f: &frame::Video) -> bool {
        if let (Some(length), Some(pts)) = (self.clip, f.pts()) {
            let t = (pts - self.start) as f64 * f64::from(self.tb);
            let half = self.src_frame / 2.0;
            if t >= length - half {
                self.past_end = true;
                return false;
            }
            if t < -half {
                return false;
            }
        }
        true
    }

    fn stamp_kept(&mut self, f: frame::Video) -> Option<frame::Video> {
        self.seen += 1;
        if !(self.seen - 1).is_multiple_of(u64::from(self.step)) {
            return None;
        }
        let tick = 1.0 / f64::from(self.tb);
        let min_next = self.last_pts.map(|p| p + 1);
        let pts = match (f.pts().map(|p| p - self.start + self.base), min_next) {
            (Some(p), Some(m)) if p < m => {
                // Broken or repeated timestamps: place the frame one frame after the last.
                self.last_pts
                    .map(|l| l + (self.frame_seconds * tick).round().max(1.0) as i64)
                    .unwrap_or(m)
            }
            (Some(p), _) => p,
            (None, Some(_)) => self
                .last_pts
                .map(|l| l + (self.frame_seconds * tick).round().max(1.0) as i64)
                .unwrap_or(0),
            (None, None) => 0,
        };
        Some(self.mark(f, pts))
    }

    /// Gives a frame its output pts and, on GOP boundaries, the I type.
    fn mark(&mut self, mut f: frame::Video, pts: i64) -> frame::Video {
        f.set_pts(Some(pts));
        self.last_pts = Some(pts);
        let t = pts as f64 * f64::from(self.out_tb);
        self.last_t = t;
        // The first frame at or after each boundary: the segmenter cuts only at a keyframe
        // at or after N x segment length, so one even a fraction of a frame early would be
        // passed over and the segment would run on to the next GOP (29.97 fps at 18 s).
        // Boundaries are k x gop, not a running sum, so they never drift.
        if t >= self.boundary(self.next_key) - 1e-9 {
            f.set_kind(picture::Type::I);
            while self.boundary(self.next_key) <= t + 1e-9 {
                self.next_key += 1;
            }
        } else {
            f.set_kind(picture::Type::None);
        }
        self.frames += 1;
        f
    }

    pub fn position(&self) -> f64 {
        self.last_t
    }

    pub fn end(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.last_t + self.frame_seconds
        }
    }
}

/// A new reference to a frame's buffers.
fn share(f: &frame::Video) -> Option<frame::Video> {
    // SAFETY: av_frame_clone makes a new reference to the frame's buffers, or returns
    // null, which is not wrapped.
    unsafe {
        let p = ff::ffi::av_frame_clone(f.as_ptr());
        (!p.is_null()).then(|| frame::Video::wrap(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(clock: &mut Clock, pts: &[i64]) -> Vec<(i64, bool)> {
        pts.iter()
            .filter_map(|&p| {
                let mut f = frame::Video::new(ff::format::Pixel::YUV420P, 16, 16);
                f.set_pts(Some(p));
                clock
                    .stamp(f)
                    .map(|f| (f.pts().unwrap_or(-1), f.kind() == picture::Type::I))
            })
            .collect()
    }

    #[test]
    fn ntsc_keyframes_land_on_every_two_seconds() {
        // 29.97 fps in a 1/30000 time base: frame n at n * 1001.
        let mut c = Clock::new(0, Rational::new(1, 30000), 2.0, 30000.0 / 1001.0, 1);
        let pts: Vec<i64> = (0..300).map(|n| n * 1001).collect();
        let keys: Vec<i64> = run(&mut c, &pts)
            .into_iter()
            .filter(|k| k.1)
            .map(|k| k.0)
            .collect();
        let times: Vec<f64> = keys.iter().map(|&p| p as f64 / 30000.0).collect();
        assert_eq!(keys.len(), 5, "{times:?}");
        for (i, t) in times.iter().enumerate() {
            assert!((t - 2.0 * i as f64).abs() < 0.5 / 29.97, "{times:?}");
        }
    }

    #[test]
    fn no_keyframe_lands_before_its_boundary() {
        // 29.97 fps: frame 539 is at 17.985 s, just before the 18 s boundary; 23.976 fps
        // reaches 24 s the same way. The keyframe must be the first frame at or after.
        for den in [30000, 24000] {
            let (rate, ticks, seconds) = (f64::from(den) / 1001.0, 1001, 30.0);
            let tb = Rational::new(1, den);
            let mut c = Clock::new(0, tb, 2.0, rate, 1);
            let n = (seconds * rate) as i64;
            let pts: Vec<i64> = (0..n).map(|i| i * ticks).collect();
            let keys: Vec<f64> = run(&mut c, &pts)
                .into_iter()
                .filter(|k| k.1)
                .map(|k| k.0 as f64 * f64::from(tb))
                .collect();
            assert_eq!(keys.len(), 15, "{keys:?}");
            for (i, t) in keys.iter().enumerate() {
                let b = 2.0 * i as f64;
                assert!(*t >= b - 1e-9 && *t < b + 1.0 / rate, "keyframe {i} at {t}");
            }
        }
    }

    #[test]
    fn start_offset_is_removed_and_decimation_keeps_every_other_frame() {
        let mut c = Clock::new(1000, Rational::new(1, 60), 2.0, 30.0, 2);
        let pts: Vec<i64> = (1000..1240).collect();
        let out = run(&mut c, &pts);
        assert_eq!(out.len(), 120);
        assert_eq!(out[0], (0, true));
        assert_eq!(out[1], (2, false));
        assert!(out[60].1, "frame at 2 s is a keyframe");
        assert!((c.end() - 4.0).abs() < 1e-9, "{}", c.end());
    }

    #[test]
    fn segment_boundaries_get_an_idr_and_restart_the_gop() {
        // GOP 3 s, segments 10 s, 30 fps: keys at 0 3 6 9, 10 13 16 19, 20.
        let mut c = Clock::new(0, Rational::new(1, 30), 3.0, 30.0, 1).with_segments(10.0);
        let pts: Vec<i64> = (0..630).collect();
        let keys: Vec<i64> = run(&mut c, &pts)
            .into_iter()
            .filter(|k| k.1)
            .map(|k| k.0 / 30)
            .collect();
        assert_eq!(keys, [0, 3, 6, 9, 10, 13, 16, 19, 20]);
        // Segments a whole number of GOPs: the plain grid.
        let mut c = Clock::new(0, Rational::new(1, 30), 2.0, 30.0, 1).with_segments(6.0);
        let keys: Vec<i64> = run(&mut c, &pts)
            .into_iter()
            .filter(|k| k.1)
            .map(|k| k.0 / 30)
            .collect();
        assert_eq!(keys, (0..11).map(|k| k * 2).collect::<Vec<_>>());
    }

    #[test]
    fn repeated_or_missing_timestamps_still_increase() {
        let mut c = Clock::new(0, Rational::new(1, 25), 2.0, 25.0, 1);
        let mut out = Vec::new();
        for p in [Some(0), Some(1), Some(1), None, Some(3)] {
            let mut f = frame::Video::new(ff::format::Pixel::YUV420P, 16, 16);
            f.set_pts(p);
            out.push(c.stamp(f).and_then(|f| f.pts()).unwrap_or(-1));
        }
        assert_eq!(out, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_clip_keeps_its_frames_only_and_starts_at_zero_with_a_keyframe() {
        // 25 fps, clip from 1.0 s (pts 25 after a seek that landed on pts 0) for 2 s.
        let mut c = Clock::new(25, Rational::new(1, 25), 1.0, 25.0, 1).with_clip(Some(2.0));
        let out = run(&mut c, &(0..100).collect::<Vec<_>>());
        assert_eq!(out.len(), 50);
        assert_eq!(out[0], (0, true));
        assert_eq!(out[25], (25, true));
        assert_eq!(out[49].0, 49);
        assert!(c.past_end());
        assert!((c.end() - 2.0).abs() < 1e-9, "{}", c.end());
    }

    #[test]
    fn a_joined_input_follows_the_last_frame_and_keeps_the_gop_grid() {
        // 25 fps, GOP 1 s: 1.2 s of a first input, then 1 s of another from its 2.0 s.
        let mut c = Clock::new(0, Rational::new(1, 25), 1.0, 25.0, 1).with_clip(Some(1.2));
        let first = run(&mut c, &(0..50).collect::<Vec<_>>());
        assert_eq!(first.len(), 30);
        c.next_input(50, Some(1.0), 25.0);
        let second = run(&mut c, &(40..100).collect::<Vec<_>>());
        assert_eq!(second.len(), 25);
        assert_eq!(second[0].0, 30, "right after the first input's last frame");
        let keys: Vec<i64> = first
            .iter()
            .chain(&second)
            .filter(|k| k.1)
            .map(|k| k.0)
            .collect();
        assert_eq!(keys, [0, 25, 50]);
        assert!((c.end() - 2.2).abs() < 1e-9, "{}", c.end());
    }

    #[test]
    fn on_the_grid_frames_are_duplicated_or_dropped_to_the_output_rate() {
        let frames = |c: &mut Clock, pts: &[i64]| -> Vec<(i64, bool)> {
            let mut out = Vec::new();
            for &p in pts {
                let mut f = frame::Video::new(ff::format::Pixel::YUV420P, 16, 16);
                f.set_pts(Some(p));
                out.extend(c.push(f));
            }
            out.extend(c.end_input());
            out.iter()
                .map(|f| (f.pts().unwrap_or(-1), f.kind() == picture::Type::I))
                .collect()
        };
        // 30 fps (1/15360 ticks of 512) to 25 fps: 2 s in, 50 frames out, IDR each second.
        let tb = Rational::new(1, 15360);
        let mut c = Clock::new(0, tb, 1.0, 25.0, 1).with_grid(30.0, Rational::new(1, 25), false);
        let out = frames(&mut c, &(0..60).map(|n| n * 512).collect::<Vec<_>>());
        assert_eq!(out.len(), 50);
        assert!(out.iter().enumerate().all(|(n, f)| f.0 == n as i64));
        let keys: Vec<usize> = (0..50).filter(|&n| out[n].1).collect();
        assert_eq!(keys, [0, 25]);
        assert!((c.end() - 2.0).abs() < 1e-9);
        // 25 fps to 30 fps: 2 s in, 60 frames out (every fifth a repeat).
        let mut c = Clock::new(0, Rational::new(1, 25), 1.0, 30.0, 1).with_grid(
            25.0,
            Rational::new(1, 30),
            false,
        );
        assert_eq!(frames(&mut c, &(0..50).collect::<Vec<_>>()).len(), 60);
    }
}
