//! DASH manifests: a static MPD per group, one adaptation set for video and one for each
//! shape of audio (channels and rate), each representation with a SegmentTemplate over the
//! files the segmenter wrote.
//!
//! Segment times follow the DASH-IF interoperability points: aligned segments
//! (`segmentAlignment`), each starting with an IDR (`startWithSAP="1"`), numbered from 1.

use std::fmt::Write as _;

use crate::hls::PackagedOutput;

/// The MPD of a group. `duration` is the presentation duration in seconds.
/// Media timestamps start at or just after `offset` seconds (see the fMP4 muxer), and the
/// timeline says so: the first segment starts at `offset`. No presentationTimeOffset is
/// declared: with one, Chromium dropped the whole first GOP of some sources (negative
/// decode times after the offset), while players start cleanly at the first segment.
pub fn mpd(
    videos: &[PackagedOutput],
    audio: &[PackagedOutput],
    target: f64,
    offset: f64,
) -> String {
    // The presentation lasts until the last segment of the longest output ends.
    let start = timeline_start(offset);
    let duration = videos
        .iter()
        .chain(audio)
        .map(|o| start + o.duration())
        .fold(0.0, f64::max);
    // Single files are addressed by SegmentBase, which the on-demand profile has and the
    // live profile does not.
    let profile = match videos.iter().chain(audio).any(|o| o.single.is_some()) {
        true => "isoff-on-demand",
        false => "isoff-live",
    };
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:{profile}:2011" type="static" mediaPresentationDuration="{}" minBufferTime="PT{}S">"#,
        iso_duration(duration),
        target.ceil() as u64
    );
    let _ = writeln!(x, r#"  <Period id="0" start="PT0S">"#);
    if !videos.is_empty() {
        let max_w = videos
            .iter()
            .filter_map(|v| v.video.map(|x| x.0))
            .max()
            .unwrap_or(0);
        let max_h = videos
            .iter()
            .filter_map(|v| v.video.map(|x| x.1))
            .max()
            .unwrap_or(0);
        let fps = videos
            .first()
            .and_then(|v| v.video)
            .map(|x| x.2)
            .unwrap_or(0.0);
        let _ = writeln!(
            x,
            r#"    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="{max_w}" maxHeight="{max_h}" frameRate="{}">"#,
            frame_rate(fps)
        );
        for v in videos {
            let (w, h, _) = v.video.unwrap_or((0, 0, 0.0));
            let _ = writeln!(
                x,
                r#"      <Representation id="{}" bandwidth="{}" codecs="{}" width="{w}" height="{h}" sar="1:1">"#,
                xml(&v.name),
                v.peak_bandwidth(target),
                xml(&v.codecs)
            );
            template(&mut x, v, offset);
            let _ = writeln!(x, "      </Representation>");
        }
        let _ = writeln!(x, "    </AdaptationSet>");
    }
    // Audio outputs a player can switch between without a gap share an adaptation set
    // (DASH-IF IOP: its representations are seamlessly switchable); another channel count
    // or sample rate is another set, chosen once.
    let mut sets: Vec<Vec<&PackagedOutput>> = Vec::new();
    for a in audio {
        let shape = |o: &PackagedOutput| (o.audio_channels, o.audio_rate, o.codecs.clone());
        match sets.iter_mut().find(|set| shape(set[0]) == shape(a)) {
            Some(set) => set.push(a),
            None => sets.push(vec![a]),
        }
    }
    for (id, set) in (1..).zip(&sets) {
        let _ = writeln!(
            x,
            r#"    <AdaptationSet id="{id}" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">"#
        );
        for a in set {
            let _ = writeln!(
                x,
                r#"      <Representation id="{}" bandwidth="{}" codecs="{}" audioSamplingRate="{}">"#,
                xml(&a.name),
                a.peak_bandwidth(target),
                xml(&a.codecs),
                a.audio_rate.unwrap_or(48_000)
            );
            let _ = writeln!(
                x,
                r#"        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="{}"/>"#,
                a.audio_channels.unwrap_or(2)
            );
            template(&mut x, a, offset);
            let _ = writeln!(x, "      </Representation>");
        }
        let _ = writeln!(x, "    </AdaptationSet>");
    }
    let _ = writeln!(x, "  </Period>");
    let _ = writeln!(x, "</MPD>");
    x
}

/// A SegmentTemplate with a timeline of the real segment durations in milliseconds, so
/// that a short final segment or a slightly longer audio segment is described exactly; or
/// for a single file, its URL and the byte ranges of its init and index, the segment
/// times being in the index.
fn template(x: &mut String, o: &PackagedOutput, offset: f64) {
    let Some(first) = o.segments.first() else {
        return;
    };
    if let Some(crate::hls::SingleFile {
        init,
        index: (from, to),
    }) = o.single
    {
        let _ = writeln!(
            x,
            "        <BaseURL>{}</BaseURL>",
            xml(&crate::uri::encode(&first.file))
        );
        let _ = writeln!(x, r#"        <SegmentBase indexRange="{from}-{to}">"#);
        let _ = writeln!(x, r#"          <Initialization range="0-{}"/>"#, init - 1);
        let _ = writeln!(x, "        </SegmentBase>");
        return;
    }
    let media = number_template(&first.file);
    let init = o
        .init
        .as_deref()
        .map(|i| crate::uri::encode(i).replace('$', "$$"))
        .unwrap_or_default();
    let _ = writeln!(
        x,
        r#"        <SegmentTemplate timescale="1000" startNumber="1" initialization="{}" media="{}">"#,
        xml(&init),
        xml(&media)
    );
    let _ = writeln!(x, "          <SegmentTimeline>");
    // Start times accumulate from exact durations so rounding never drifts.
    let mut t = timeline_start(offset);
    let mut runs: Vec<(u64, u64, u32)> = Vec::new();
    for s in &o.segments {
        let start = (t * 1000.0).round() as u64;
        t += s.duration;
        let d = (t * 1000.0).round() as u64 - start;
        match runs.last_mut() {
            Some((_, ld, r)) if *ld == d => *r += 1,
            _ => runs.push((start, d, 0)),
        }
    }
    for (i, (start, d, r)) in runs.iter().enumerate() {
        let t_attr = if i == 0 {
            format!(r#" t="{start}""#)
        } else {
            String::new()
        };
        let r_attr = if *r > 0 {
            format!(r#" r="{r}""#)
        } else {
            String::new()
        };
        let _ = writeln!(x, r#"            <S{t_attr} d="{d}"{r_attr}/>"#);
    }
    let _ = writeln!(x, "          </SegmentTimeline>");
    let _ = writeln!(x, "        </SegmentTemplate>");
}

/// The first segment's start in whole milliseconds, rounded down so that it never lies
/// after the media's first frame.
fn timeline_start(offset: f64) -> f64 {
    (offset * 1000.0).floor().max(0.0) / 1000.0
}

/// Turns `base_720p_000000001.cmfv` into `base_720p_$Number%09d$.cmfv`.
fn number_template(first: &str) -> String {
    let encoded = crate::uri::encode(first).replace('$', "$$");
    let (stem, ext) = encoded.rsplit_once('.').unwrap_or((&encoded, ""));
    let digits = stem
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let head = &stem[..stem.len() - digits];
    format!("{head}$Number%0{digits}d$.{ext}")
}

fn iso_duration(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    format!("PT{h}H{m}M{}.{:03}S", rest / 1000, rest % 1000)
}

/// A frame rate as the MPD schema's FrameRateType wants it: `N` or `N/M`, never a decimal.
fn frame_rate(fps: f64) -> String {
    if (fps - fps.round()).abs() < 1e-3 {
        return format!("{}", fps.round() as u64);
    }
    if ((fps * 1001.0) - (fps * 1001.0).round()).abs() < 1e-2 {
        return format!("{}/1001", (fps * 1001.0).round() as u64);
    }
    let (mut n, mut d) = ((fps * 1000.0).round() as u64, 1000_u64);
    let g = gcd(n, d);
    n /= g;
    d /= g;
    format!("{n}/{d}")
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_durations() {
        assert_eq!(
            number_template("a b_720p_000000001.cmfv"),
            "a%20b_720p_$Number%09d$.cmfv"
        );
        assert_eq!(iso_duration(3725.5), "PT1H2M5.500S");
        assert_eq!(frame_rate(25.0), "25");
        assert_eq!(frame_rate(30000.0 / 1001.0), "30000/1001");
        assert_eq!(frame_rate(19.75), "79/4");
        assert_eq!(frame_rate(12.5), "25/2");
    }
}
