//! Segment indexes (ISO/IEC 14496-12 `sidx`) of single-file fMP4 outputs: the segmenter's
//! fragments read back, and one index written for the whole file.
//!
//! libavformat writes each fMP4 segment as `styp`, `sidx`, then `moof`/`mdat` pairs whose
//! data offsets count from their own `moof` (tfhd default-base-is-moof), so the pairs can
//! be moved into one file as they are. Only these two boxes are read and one is written,
//! which is why no MP4 crate is pulled in for it.

use crate::error::Error;

/// What one segment's own index says, and where its media boxes lie.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SegmentIndex {
    /// The indexed stream's track id.
    pub reference_id: u32,
    /// Ticks per second of the times below.
    pub timescale: u32,
    /// Presentation time of the segment's first frame, in `timescale` ticks.
    pub earliest: u64,
    /// Its duration in ticks: the sum of every subsegment its indexes list.
    pub duration: u64,
    /// Byte ranges `(start, end)` of its top-level boxes other than `styp` and `sidx`.
    pub media: Vec<(usize, usize)>,
}

impl SegmentIndex {
    /// Bytes of media (the `moof`/`mdat` pairs) the segment holds.
    pub fn media_bytes(&self) -> u64 {
        self.media.iter().map(|(s, e)| (e - s) as u64).sum()
    }
}

/// Reads the top-level boxes of an fMP4 segment (`label` names it in errors).
pub(crate) fn read_segment(bytes: &[u8], label: &str) -> Result<SegmentIndex, Error> {
    let bad = |what: &str| Error::Internal(format!("{label}: {what}"));
    let mut first: Option<(u32, u32, u64)> = None;
    let mut duration = 0u64;
    let mut media = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let size = be32(bytes, at).ok_or_else(|| bad("a box header is cut short"))? as usize;
        let kind = bytes
            .get(at + 4..at + 8)
            .ok_or_else(|| bad("a box type is cut short"))?;
        // Sizes 0 (to the end) and 1 (64-bit) are never written for these segments.
        if size < 8 || at + size > bytes.len() {
            return Err(bad("a box size runs past the segment"));
        }
        let body = &bytes[at + 8..at + size];
        match kind {
            b"styp" => {}
            b"sidx" => {
                let (id, scale, earliest, d) =
                    parse_sidx(body).ok_or_else(|| bad("its sidx box is malformed"))?;
                if first.is_none() {
                    first = Some((id, scale, earliest));
                }
                duration += d;
            }
            _ => media.push((at, at + size)),
        }
        at += size;
    }
    let (reference_id, timescale, earliest) = first.ok_or_else(|| bad("no sidx box"))?;
    Ok(SegmentIndex {
        reference_id,
        timescale,
        earliest,
        duration,
        media,
    })
}

/// `(reference_ID, timescale, earliest_presentation_time, summed subsegment_duration)`.
fn parse_sidx(b: &[u8]) -> Option<(u32, u32, u64, u64)> {
    let version = *b.first()?;
    let id = be32(b, 4)?;
    let scale = be32(b, 8)?;
    let (earliest, rest) = match version {
        0 => (u64::from(be32(b, 12)?), 20),
        _ => (be64(b, 12)?, 28),
    };
    let count = u16::from_be_bytes(b.get(rest + 2..rest + 4)?.try_into().ok()?) as usize;
    let mut duration = 0u64;
    for i in 0..count {
        duration += u64::from(be32(b, rest + 4 + i * 12 + 4)?);
    }
    Some((id, scale, earliest, duration))
}

/// One `sidx` (version 1) indexing `segments` as subsegments that follow it directly,
/// each `(media bytes, duration in ticks)` and starting with a keyframe (SAP type 1).
pub(crate) fn write_sidx(
    reference_id: u32,
    timescale: u32,
    earliest: u64,
    segments: &[(u64, u64)],
) -> Result<Vec<u8>, Error> {
    let count = u16::try_from(segments.len())
        .map_err(|_| Error::Internal(format!("{} segments overflow one sidx", segments.len())))?;
    let size = 8 + 4 + 4 + 4 + 16 + 4 + 12 * segments.len();
    let mut b = Vec::with_capacity(size);
    b.extend((size as u32).to_be_bytes());
    b.extend(*b"sidx");
    b.extend([1, 0, 0, 0]); // version 1, no flags
    b.extend(reference_id.to_be_bytes());
    b.extend(timescale.to_be_bytes());
    b.extend(earliest.to_be_bytes());
    b.extend(0u64.to_be_bytes()); // first_offset: the first subsegment follows at once
    b.extend(0u16.to_be_bytes()); // reserved
    b.extend(count.to_be_bytes());
    for &(bytes, duration) in segments {
        let too_big = || Error::Internal(format!("a {bytes}-byte segment overflows its sidx"));
        let size = u32::try_from(bytes)
            .ok()
            .filter(|s| *s < 1 << 31)
            .ok_or_else(too_big)?;
        let ticks = u32::try_from(duration).map_err(|_| too_big())?;
        b.extend(size.to_be_bytes()); // reference_type 0: media
        b.extend(ticks.to_be_bytes());
        b.extend(0x9000_0000u32.to_be_bytes()); // starts_with_SAP 1, SAP_type 1, delta 0
    }
    Ok(b)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_index_reads_back_and_media_boxes_are_found_around_it() {
        let sidx = write_sidx(1, 15360, 51200, &[(1000, 51200), (500, 20480)]).expect("sidx");
        let mut seg = b"\0\0\0\x10stypmsdh\0\0\0\0".to_vec();
        seg.extend(&sidx);
        let moof_at = seg.len();
        seg.extend(b"\0\0\0\x08moof\0\0\0\x0Cmdatabcd");
        let s = read_segment(&seg, "test").expect("reads");
        assert_eq!(
            (s.reference_id, s.timescale, s.earliest, s.duration),
            (1, 15360, 51200, 71680)
        );
        assert_eq!(
            s.media,
            [(moof_at, moof_at + 8), (moof_at + 8, moof_at + 20)]
        );
        assert_eq!(s.media_bytes(), 20);
        let cut = &seg[..seg.len() - 2];
        assert!(read_segment(cut, "cut").is_err());
    }
}
