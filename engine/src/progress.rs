//! Progress reports from a running transcode; the caller decides how to show them.

/// A snapshot of a running transcode, sent to the caller's callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Seconds of source media decoded so far.
    pub position: f64,
    /// Source duration in seconds (0 when unknown).
    pub duration: f64,
    /// Video frames decoded so far.
    pub frames: u64,
    /// True once decoding is done and encoders and packagers are finishing.
    pub finishing: bool,
}

impl Progress {
    /// Fraction done in `[0, 1]`.
    pub fn fraction(&self) -> f64 {
        if self.duration > 0.0 {
            (self.position / self.duration).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}
