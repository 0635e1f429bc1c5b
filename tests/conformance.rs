//! Conformance of `mpe transcode` output, judged with ffprobe and by parsing the manifests:
//! rung sizes and codecs, bitrates, keyframes on every segment boundary at identical times
//! in every rung, segment lengths, durations, manifest attributes true to the media, and
//! the output tree exactly as the `profiles` crate names it.

use std::path::{Path, PathBuf};

use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};
use profiles::naming::{streaming_groups, Group, Layout};
use profiles::{Plan, Profile};
use serde::Deserialize;

use crate::util::{self, num};

/// What the source looks like to ffprobe.
struct Source {
    path: PathBuf,
    display: (f64, f64),
    video_duration: f64,
    fps: f64,
    audio_duration: Option<f64>,
}

fn source(path: &Path) -> Source {
    let p = util::ffprobe(path);
    let v = util::stream(&p, "video").expect("source has video");
    let (w, h) = (num(&v["width"]), num(&v["height"]));
    let rotation = v["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|s| s.get("rotation").map(num)))
        .unwrap_or(0.0);
    let sar = v["sample_aspect_ratio"].as_str().unwrap_or("1:1");
    let sar = match sar.split_once(':') {
        Some((a, b)) if a != "0" => {
            a.parse::<f64>().unwrap_or(1.0) / b.parse::<f64>().unwrap_or(1.0)
        }
        _ => 1.0,
    };
    let display = if (rotation.abs() - 90.0).abs() < 1.0 {
        (h, w * sar)
    } else {
        (w * sar, h)
    };
    let rate = v["avg_frame_rate"].as_str().unwrap_or("0/1");
    let (n, d) = rate.split_once('/').unwrap_or(("0", "1"));
    let fps = n.parse::<f64>().unwrap_or(0.0) / d.parse::<f64>().unwrap_or(1.0);
    // Matroska streams carry their length only as a DURATION tag.
    let duration = |s: &serde_json::Value| {
        let d = num(&s["duration"]);
        if !d.is_nan() {
            return d;
        }
        let tag = s["tags"]["DURATION"].as_str().unwrap_or("");
        let parts: Vec<f64> = tag.split(':').filter_map(|x| x.parse().ok()).collect();
        match parts.as_slice() {
            [h, m, s] => h * 3600.0 + m * 60.0 + s,
            _ => f64::NAN,
        }
    };
    let video_duration = duration(v);
    let audio_duration = util::stream(&p, "audio").map(duration);
    Source {
        path: path.to_path_buf(),
        display,
        video_duration,
        fps,
        audio_duration,
    }
}

#[derive(Debug, Deserialize)]
struct Mpd {
    #[serde(rename = "@type")]
    kind: String,
    #[serde(rename = "Period")]
    periods: Vec<Period>,
}

#[derive(Debug, Deserialize)]
struct Period {
    #[serde(rename = "AdaptationSet")]
    sets: Vec<AdaptationSet>,
}

#[derive(Debug, Deserialize)]
struct AdaptationSet {
    #[serde(rename = "@contentType")]
    content_type: String,
    #[serde(rename = "@segmentAlignment")]
    segment_alignment: String,
    #[serde(rename = "@startWithSAP")]
    start_with_sap: String,
    #[serde(rename = "Representation")]
    reps: Vec<Representation>,
}

#[derive(Debug, Deserialize)]
struct Representation {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@bandwidth")]
    bandwidth: u64,
    #[serde(rename = "@codecs")]
    codecs: String,
    #[serde(rename = "@width")]
    width: Option<u32>,
    #[serde(rename = "@height")]
    height: Option<u32>,
    #[serde(rename = "SegmentTemplate")]
    template: SegmentTemplate,
}

#[derive(Debug, Deserialize)]
struct SegmentTemplate {
    #[serde(rename = "@timescale")]
    timescale: u64,
    #[serde(rename = "@startNumber")]
    start_number: u32,
    #[serde(rename = "@initialization")]
    initialization: String,
    #[serde(rename = "@media")]
    media: String,
    #[serde(rename = "SegmentTimeline")]
    timeline: Timeline,
}

#[derive(Debug, Deserialize)]
struct Timeline {
    #[serde(rename = "S")]
    s: Vec<S>,
}

#[derive(Debug, Deserialize)]
struct S {
    #[serde(rename = "@d")]
    d: u64,
    #[serde(rename = "@r")]
    r: Option<u32>,
}

/// One rendition's media as found through a manifest.
#[derive(Debug)]
struct Rendition {
    width: u32,
    height: u32,
    codec_profile: String,
    codec_level: f64,
    keyframes: Vec<f64>,
    segment_starts: Vec<f64>,
    video_duration: f64,
    audio_duration: Option<f64>,
    bytes: u64,
    duration: f64,
    peak_bps: f64,
}

fn master(path: &Path) -> MasterPlaylist {
    let bytes = std::fs::read(path).expect("read master playlist");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("{} is not a master playlist: {other:?}", path.display()),
    }
}

fn media(path: &Path) -> MediaPlaylist {
    let bytes = std::fs::read(path).expect("read media playlist");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("{} is not a media playlist: {other:?}", path.display()),
    }
}

fn decode_uri(u: &str) -> String {
    let mut out = Vec::new();
    let b = u.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&u[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8 uri")
}

/// Probes the media behind a media playlist: every segment must start with a keyframe,
/// no EXTINF may exceed the target by more than 0.5 s, and TARGETDURATION must hold.
fn rendition_from_playlist(
    dir: &Path,
    pl: &MediaPlaylist,
    target: f64,
    scratch: &Path,
) -> Rendition {
    assert_eq!(pl.playlist_type, Some(m3u8_rs::MediaPlaylistType::Vod));
    assert!(pl.end_list, "VOD playlists end with EXT-X-ENDLIST");
    let init = pl
        .segments
        .first()
        .and_then(|s| s.map.as_ref())
        .map(|m| dir.join(decode_uri(&m.uri)));
    let files: Vec<PathBuf> = pl
        .segments
        .iter()
        .map(|s| dir.join(decode_uri(&s.uri)))
        .collect();
    let mut starts = Vec::new();
    let mut t = 0.0;
    let mut sizes: Vec<(f64, u64)> = Vec::new();
    let mut bytes = 0;
    for (i, (seg, file)) in pl.segments.iter().zip(&files).enumerate() {
        let d = f64::from(seg.duration);
        assert!(
            d <= target + 0.5,
            "{}: EXTINF {d} exceeds {target} + 0.5 s",
            file.display()
        );
        assert!(
            pl.target_duration as f64 >= d.round(),
            "TARGETDURATION {} < EXTINF {d}",
            pl.target_duration
        );
        let size = std::fs::metadata(file).expect("segment exists").len();
        bytes += size;
        sizes.push((d, size));
        starts.push(t);
        t += d;
        // Each segment on its own (with the init segment) must start with a keyframe.
        let one = scratch.join(format!(
            "seg{i}.{}",
            file.extension().and_then(|e| e.to_str()).unwrap_or("bin")
        ));
        util::join_segments(init.as_deref(), std::slice::from_ref(file), &one);
        let pk = util::packets(&one, "v");
        if !pk.is_empty() {
            assert!(
                pk[0].1,
                "{}: segment does not start with a keyframe",
                file.display()
            );
        }
    }
    // Peak bitrate per RFC 8216bis 4.4.6.2: any contiguous run of 0.5-1.5 target durations.
    let mut peak: f64 = 0.0;
    for i in 0..sizes.len() {
        let (mut secs, mut b) = (0.0, 0u64);
        for (d, size) in &sizes[i..] {
            secs += d;
            b += size;
            if secs > 1.5 * target {
                break;
            }
            if secs >= 0.5 * target {
                peak = peak.max(b as f64 * 8.0 / secs);
            }
        }
    }
    if peak == 0.0 {
        peak = bytes as f64 * 8.0 / t;
    }
    let joined = scratch.join(format!(
        "joined.{}",
        files[0]
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("bin")
    ));
    util::join_segments(init.as_deref(), &files, &joined);
    let probe = util::ffprobe(&joined);
    let v = util::stream(&probe, "video");
    let a = util::stream(&probe, "audio");
    let pk = util::packets(&joined, "v");
    let first = pk.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let keyframes = pk.iter().filter(|p| p.1).map(|p| p.0 - first).collect();
    let stream_duration = |s: &serde_json::Value| {
        let d = num(&s["duration"]);
        if d.is_nan() {
            num(&probe["format"]["duration"])
        } else {
            d
        }
    };
    Rendition {
        width: v.map(|v| num(&v["width"]) as u32).unwrap_or(0),
        height: v.map(|v| num(&v["height"]) as u32).unwrap_or(0),
        codec_profile: v
            .map(|v| v["profile"].as_str().unwrap_or("").to_string())
            .unwrap_or_default(),
        codec_level: v.map(|v| num(&v["level"])).unwrap_or(0.0),
        keyframes,
        segment_starts: starts,
        video_duration: v.map(stream_duration).unwrap_or(0.0),
        audio_duration: a.map(stream_duration),
        bytes,
        duration: t,
        peak_bps: peak,
    }
}

fn parse_avc1(codecs: &str) -> (u8, u8) {
    let avc = codecs
        .split(',')
        .find(|c| c.starts_with("avc1."))
        .expect("avc1 codec");
    let hex = &avc[5..];
    let p = u8::from_str_radix(&hex[0..2], 16).expect("profile hex");
    let l = u8::from_str_radix(&hex[4..6], 16).expect("level hex");
    (p, l)
}

fn profile_idc(name: &str) -> u8 {
    match name {
        "High" => 100,
        "Main" => 77,
        "Baseline" | "Constrained Baseline" => 66,
        other => panic!("unexpected H.264 profile {other}"),
    }
}

/// Checks everything about one asset; returns (rung sizes, measured average bitrates).
fn check_asset(src: &Source, asset: &Path, profile_name: &str) -> Vec<(u32, u32, f64)> {
    let profile = Profile::load(profile_name).expect("profile");
    let info = engine::probe(&src.path).expect("probe source");
    let plan: Plan = profiles::plan(&profile, &info).expect("plan");
    let layout = Layout::for_source(&src.path.to_string_lossy());
    let frame = 1.0 / src.fps;
    let out_fps = src.fps / f64::from(plan.frame_step);
    let out_frame = 1.0 / out_fps;
    let target = profile.video.segment_seconds;

    // The output tree is exactly what the profiles crate names, by MediaConvert's rules.
    let audio_end = src.audio_duration.map(|a| a.min(src.video_duration));
    let expected = layout.expected_files(
        &profile,
        &plan,
        plan.segment_count(src.video_duration),
        audio_end.map(|a| plan.segment_count(a)).unwrap_or(0),
    );
    assert_eq!(
        util::tree(asset),
        expected,
        "output tree of {}",
        src.path.display()
    );

    let (dw, dh) = src.display;
    let short = dw.min(dh);
    let scratch = util::work_dir("scratch");
    let mut sizes = Vec::new();
    for (group, dest) in streaming_groups(&profile) {
        let dir = asset.join(dest);
        let mut renditions: Vec<(String, Rendition)> = Vec::new();
        if group.writes_hls() {
            let m = master(&asset.join(layout.master_playlist(dest)));
            assert!(m.independent_segments);
            let audio_rendition = m.alternatives.first().map(|alt| {
                assert_eq!(alt.media_type, m3u8_rs::AlternativeMediaType::Audio);
                let uri = alt.uri.as_deref().expect("audio rendition URI");
                let pl = media(&dir.join(decode_uri(uri)));
                rendition_from_playlist(&dir, &pl, target, &scratch)
            });
            assert_eq!(
                audio_rendition.is_some(),
                group == Group::Cmaf && plan.audio.is_some()
            );
            assert_eq!(
                m.variants.len(),
                plan.renditions.len(),
                "one variant per rung"
            );
            for v in &m.variants {
                let pl = media(&dir.join(decode_uri(&v.uri)));
                let r = rendition_from_playlist(&dir, &pl, target, &scratch);
                // RESOLUTION, CODECS, FRAME-RATE true to the media.
                let res = v.resolution.as_ref().expect("RESOLUTION");
                assert_eq!(
                    (res.width, res.height),
                    (u64::from(r.width), u64::from(r.height))
                );
                let codecs = v.codecs.as_deref().expect("CODECS");
                let (p, l) = parse_avc1(codecs);
                assert_eq!(
                    p,
                    profile_idc(&r.codec_profile),
                    "CODECS profile of {}",
                    v.uri
                );
                assert_eq!(f64::from(l), r.codec_level, "CODECS level of {}", v.uri);
                assert_eq!(
                    codecs.contains("mp4a.40.2"),
                    plan.audio.is_some(),
                    "CODECS {codecs}"
                );
                let fr = v.frame_rate.expect("FRAME-RATE");
                assert!((fr - out_fps).abs() < 0.01, "FRAME-RATE {fr} vs {out_fps}");
                if group == Group::Hls && plan.audio.is_some() {
                    assert!(r.audio_duration.is_some(), "TS segments carry the audio");
                }
                // BANDWIDTH covers the measured peak segment bitrate (plus audio) without
                // overstating it by more than 10%; AVERAGE-BANDWIDTH is the measured mean.
                let (a_peak, a_avg) = audio_rendition
                    .as_ref()
                    .map(|a| (a.peak_bps, a.bytes as f64 * 8.0 / a.duration))
                    .unwrap_or((0.0, 0.0));
                let peak = r.peak_bps + a_peak;
                let bw = v.bandwidth as f64;
                assert!(
                    bw >= peak * 0.999 && bw <= peak * 1.1,
                    "BANDWIDTH {bw} vs measured peak {peak}"
                );
                let avg = r.bytes as f64 * 8.0 / r.duration + a_avg;
                let declared = v.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
                assert!(
                    (declared / avg - 1.0).abs() < 0.05,
                    "AVERAGE-BANDWIDTH {declared} vs {avg}"
                );
                renditions.push((v.uri.clone(), r));
            }
            if let Some(a) = &audio_rendition {
                let src_audio = audio_end.expect("source audio");
                let d = a.audio_duration.expect("audio stream");
                assert!(
                    (d - src_audio).abs() <= 0.05,
                    "audio duration {d} vs source {src_audio}"
                );
            }
        }
        if group.writes_dash() {
            let text = std::fs::read_to_string(asset.join(layout.mpd(dest))).expect("read MPD");
            let mpd: Mpd = quick_xml::de::from_str(&text).expect("MPD parses");
            assert_eq!(mpd.kind, "static");
            let sets = &mpd.periods[0].sets;
            let video = sets
                .iter()
                .find(|s| s.content_type == "video")
                .expect("video set");
            assert_eq!(video.reps.len(), plan.renditions.len());
            assert_eq!(
                sets.iter().any(|s| s.content_type == "audio"),
                plan.audio.is_some()
            );
            for set in sets {
                assert_eq!(set.segment_alignment, "true");
                assert_eq!(set.start_with_sap, "1");
                for rep in &set.reps {
                    let t = &rep.template;
                    assert_eq!(t.start_number, 1);
                    let count: u32 = t.timeline.s.iter().map(|s| 1 + s.r.unwrap_or(0)).sum();
                    let files: Vec<PathBuf> = (1..=count)
                        .map(|n| {
                            let name = t.media.replace("$Number%09d$", &format!("{n:09}"));
                            dir.join(decode_uri(&name))
                        })
                        .collect();
                    for f in &files {
                        assert!(f.exists(), "MPD names a missing segment {}", f.display());
                    }
                    let longest = t.timeline.s.iter().map(|s| s.d).max().unwrap_or(0) as f64
                        / t.timescale as f64;
                    assert!(longest <= target + 0.5, "segment of {longest} s");
                    let init = dir.join(decode_uri(&t.initialization));
                    let joined = scratch.join(format!("dash-{}.mp4", rep.id));
                    util::join_segments(Some(&init), &files, &joined);
                    let probe = util::ffprobe(&joined);
                    if set.content_type == "video" {
                        let v = util::stream(&probe, "video").expect("video");
                        assert_eq!(rep.width, Some(num(&v["width"]) as u32));
                        assert_eq!(rep.height, Some(num(&v["height"]) as u32));
                        let (p, l) = parse_avc1(&rep.codecs);
                        assert_eq!(p, profile_idc(v["profile"].as_str().unwrap_or("")));
                        assert_eq!(f64::from(l), num(&v["level"]));
                        let bytes: u64 = files
                            .iter()
                            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
                            .sum();
                        let avg = bytes as f64 * 8.0 / (src.video_duration);
                        // The mean here is over the source duration, the manifest's over the
                        // segments' own: allow for that rounding.
                        assert!(
                            rep.bandwidth as f64 >= avg * 0.99,
                            "@bandwidth {} under the mean {avg}",
                            rep.bandwidth
                        );
                        if group == Group::Dash {
                            // The DASH ISO group has no HLS playlists to find these through.
                            let pk = util::packets(&joined, "v");
                            let first = pk.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                            let d = num(&v["duration"]);
                            let r = Rendition {
                                width: rep.width.unwrap_or(0),
                                height: rep.height.unwrap_or(0),
                                codec_profile: v["profile"].as_str().unwrap_or("").into(),
                                codec_level: num(&v["level"]),
                                keyframes: pk.iter().filter(|p| p.1).map(|p| p.0 - first).collect(),
                                segment_starts: (0..count).map(|i| f64::from(i) * target).collect(),
                                video_duration: if d.is_nan() {
                                    num(&probe["format"]["duration"])
                                } else {
                                    d
                                },
                                audio_duration: None,
                                bytes,
                                duration: src.video_duration,
                                peak_bps: 0.0,
                            };
                            renditions.push((rep.id.clone(), r));
                        }
                    } else {
                        assert_eq!(rep.codecs, "mp4a.40.2");
                        let a = util::stream(&probe, "audio").expect("audio");
                        assert_eq!(
                            num(&a["channels"]) as u32,
                            plan.audio.as_ref().map_or(0, |a| a.channels)
                        );
                    }
                }
            }
        }

        // Per rung: size, aspect, no upscaling, duration, keyframes on segment boundaries.
        let reference = renditions
            .first()
            .map(|(_, r)| r.keyframes.clone())
            .unwrap_or_default();
        for (name, r) in &renditions {
            assert!(
                r.width % 2 == 0 && r.height % 2 == 0,
                "{name}: odd size {}x{}",
                r.width,
                r.height
            );
            assert!(
                f64::from(r.width.min(r.height)) <= short + 1.0,
                "{name}: upscaled to {}x{}",
                r.width,
                r.height
            );
            let aspect = f64::from(r.width) / f64::from(r.height);
            let tolerance = 2.0 / f64::from(r.height.min(r.width));
            assert!(
                (aspect / (dw / dh) - 1.0).abs() <= tolerance,
                "{name}: aspect {aspect} vs source {}",
                dw / dh
            );
            assert!(
                (r.video_duration - src.video_duration).abs() <= frame + 1e-3,
                "{name}: video duration {} vs source {}",
                r.video_duration,
                src.video_duration
            );
            for s in &r.segment_starts {
                assert!(
                    r.keyframes.iter().any(|k| (k - s).abs() < out_frame / 2.0),
                    "{name}: no keyframe at segment start {s} (keyframes {:?})",
                    r.keyframes
                );
            }
            assert_eq!(
                r.keyframes.len(),
                reference.len(),
                "{name}: keyframe count differs between rungs"
            );
            for (a, b) in r.keyframes.iter().zip(&reference) {
                assert!(
                    (a - b).abs() < 1e-3,
                    "{name}: keyframe at {a} vs {b} in the first rung"
                );
            }
            // An IDR on the first frame at or after every gop_seconds boundary: never before
            // it (the segmenter would pass it over), less than a frame after it.
            let gop = profile.video.gop_seconds;
            for (i, k) in r.keyframes.iter().enumerate() {
                let b = i as f64 * gop;
                assert!(
                    *k >= b - 1e-3 && *k < b + out_frame + 1e-3,
                    "{name}: keyframe {i} at {k}"
                );
            }
        }
        // Sizes and bitrates are reported once, from the first group.
        if sizes.is_empty() {
            for (_, r) in &renditions {
                sizes.push((r.width, r.height, r.bytes as f64 * 8.0 / src.video_duration));
            }
        }
    }

    // Progressive MP4s: faststart, video + audio, full length.
    if let Some(file) = &profile.outputs.file {
        for name in &plan.file_renditions {
            let path = asset.join(layout.file_output(&file.destination, name));
            let bytes = std::fs::read(&path).expect("read mp4");
            let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).expect("atom");
            assert!(
                find(b"moov") < find(b"mdat"),
                "{}: moov after mdat (not faststart)",
                path.display()
            );
            let p = util::ffprobe(&path);
            let v = util::stream(&p, "video").expect("video");
            let r = plan
                .renditions
                .iter()
                .find(|r| &r.name == name)
                .expect("planned");
            assert_eq!(
                (num(&v["width"]) as u32, num(&v["height"]) as u32),
                (r.width, r.height)
            );
            assert!((num(&v["duration"]) - src.video_duration).abs() <= frame + 1e-3);
            assert_eq!(util::stream(&p, "audio").is_some(), plan.audio.is_some());
            if let (Some(a), Some(end)) = (util::stream(&p, "audio"), audio_end) {
                assert!(
                    (num(&a["duration"]) - end).abs() <= 0.05,
                    "mp4 audio duration"
                );
                assert_eq!(a["codec_name"], "aac");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    sizes
}

fn sizes_only(v: &[(u32, u32, f64)]) -> Vec<(u32, u32)> {
    v.iter().map(|x| (x.0, x.1)).collect()
}

#[test]
fn full_hd_default_ladder_conforms() {
    let src = util::fixture("hd_16x9");
    let out = util::work_dir("hd");
    let asset = util::transcode(&src, "default", &out);
    let s = source(&src);
    let measured = check_asset(&s, &asset, "default");
    assert_eq!(
        sizes_only(&measured),
        [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    );
    // Measured bitrate within 15% of each rung's target (VBR).
    let profile = Profile::load("default").expect("default");
    for ((w, h, bps), r) in measured.iter().zip(&profile.renditions) {
        let target = f64::from(r.bitrate);
        assert!(
            (bps / target - 1.0).abs() <= 0.15,
            "{w}x{h}: {bps:.0} b/s vs target {target}"
        );
    }
    // Nothing but the asset is left in the output folder.
    assert_eq!(util::entries(&out), ["hd_16x9"]);
}

#[test]
fn mpeg_ts_hls_and_dash_groups_conform() {
    let src = util::fixture("sd_4x3");
    let out = util::work_dir("sd");
    let asset = util::transcode(&src, "mobile", &out);
    let measured = check_asset(&source(&src), &asset, "mobile");
    assert_eq!(
        sizes_only(&measured),
        [(960, 720), (640, 480), (480, 360), (320, 240)]
    );
}

macro_rules! shape_test {
    ($name:ident, $fixture:literal, $profile:literal, $sizes:expr) => {
        #[test]
        fn $name() {
            let src = util::fixture($fixture);
            let out = util::work_dir($fixture);
            let asset = util::transcode(&src, $profile, &out);
            let measured = check_asset(&source(&src), &asset, $profile);
            let expected: Vec<(u32, u32)> = $sizes.to_vec();
            assert_eq!(sizes_only(&measured), expected);
        }
    };
}

shape_test!(
    portrait_stays_portrait,
    "portrait",
    "default",
    [(1080, 1920), (720, 1280), (480, 854), (360, 640)]
);
shape_test!(
    square_stays_square,
    "square",
    "default",
    [(720, 720), (480, 480), (360, 360)]
);
shape_test!(
    odd_size_keeps_its_own_rung,
    "odd_size",
    "default",
    [(1278, 718), (854, 480), (640, 360)]
);
shape_test!(
    ntsc_frame_rate_keeps_keyframes_aligned,
    "ntsc_2997",
    "default",
    [(640, 360)]
);
shape_test!(source_without_audio, "no_audio", "default", [(640, 360)]);
shape_test!(shorter_than_one_segment, "short", "default", [(640, 360)]);
shape_test!(rotation_is_applied, "rotated", "default", [(360, 640)]);
shape_test!(
    surround_is_downmixed,
    "surround",
    "mobile",
    [(640, 360), (426, 240)]
);
shape_test!(
    sixty_fps_is_capped_by_mobile,
    "fps60",
    "mobile",
    [(640, 360), (426, 240)]
);
shape_test!(
    ten_bit_source_becomes_8_bit,
    "ten_bit",
    "default",
    [(640, 360)]
);
shape_test!(
    interlaced_source_is_deinterlaced,
    "interlaced",
    "mobile",
    [(720, 576), (600, 480), (450, 360), (300, 240)]
);
shape_test!(
    ntsc_twenty_seconds_keeps_six_second_segments,
    "ntsc_long",
    "default",
    [(320, 180)]
);
shape_test!(
    matroska_with_audio_longer_than_video,
    "mkv_long_audio",
    "default",
    [(320, 180)]
);
shape_test!(variable_frame_rate_source, "vfr", "default", [(640, 360)]);

/// Decode and presentation times of the video packets, in file (decode) order.
fn timestamps(path: &Path) -> Vec<(i64, i64)> {
    let v = util::ffprobe_args(
        path,
        &["-select_streams", "v:0", "-show_entries", "packet=pts,dts"],
    );
    v["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .map(|p| (num(&p["dts"]) as i64, num(&p["pts"]) as i64))
        .collect()
}

/// PSNR of an encoded rung against the source scaled to its size (FFmpeg's psnr filter).
fn psnr_to_source(src: &Path, encoded: &Path) -> f64 {
    let (w, h) = util::dimensions(encoded);
    util::psnr_graph(
        encoded,
        src,
        &format!("[1:v]scale={w}:{h}:flags=bicubic[ref];[0:v][ref]psnr"),
    )
}

#[test]
fn chunked_rungs_join_into_the_same_stream() {
    // 29.97 fps over 20 s (four 6 s chunks) on three encoders, and a variable frame rate
    // in 3 s segments of 1 s GOPs on two: joins where frame times are not whole ticks
    // apart, and a join between GOPs of a segment's length.
    for (fixture, lanes, segment) in [("ntsc_long", "3", 6.0_f64), ("vfr", "2", 3.0)] {
        let src = util::fixture(fixture);
        let dir = util::work_dir(&format!("chunked-{fixture}"));
        let profile = util::write_profile(&dir, "default", |p| {
            p["outputs"]["file"]["renditions"] =
                serde_json::json!(["1080p", "720p", "480p", "360p"]);
            p["video"]["segment_seconds"] = segment.into();
            p["video"]["gop_seconds"] = (segment / 3.0).into();
        });
        let profile = profile.to_str().expect("utf-8");
        let whole = util::transcode_with(&src, profile, &dir.join("whole"), &["--chunks", "off"]);
        let chunked =
            util::transcode_with(&src, profile, &dir.join("chunked"), &["--chunks", lanes]);
        if fixture == "ntsc_long" {
            // On its own, the chunked asset passes every conformance check. (Not the 4 s
            // VFR source in 3 s segments: its tail segment trips the checker's bandwidth
            // rounding, chunked or not.)
            check_asset(&source(&src), &chunked, profile);
        }
        let files = util::entries(&whole.join("mp4"));
        assert!(!files.is_empty());
        assert_eq!(util::entries(&chunked.join("mp4")), files);
        for name in files {
            let (a, b) = (
                whole.join("mp4").join(&name),
                chunked.join("mp4").join(&name),
            );
            let (pa, pb) = (util::packets(&a, "v"), util::packets(&b, "v"));
            let keys = |p: &[(f64, bool, u64)]| -> Vec<String> {
                p.iter()
                    .filter(|x| x.1)
                    .map(|x| format!("{:.3}", x.0))
                    .collect()
            };
            // The same frames, with keyframes at the same times.
            assert_eq!(pa.len(), pb.len(), "{fixture} {name}: frame count");
            assert_eq!(keys(&pa), keys(&pb), "{fixture} {name}: keyframes");
            // One timeline: decode times strictly increase across every join and never
            // pass their presentation times.
            let ts = timestamps(&b);
            assert!(
                ts.windows(2).all(|w| w[0].0 < w[1].0),
                "{fixture} {name}: decode times {ts:?}"
            );
            assert!(ts.iter().all(|(d, p)| d <= p), "{fixture} {name}: {ts:?}");
            // Each chunk (a segment) came from an encoder of its own: x264 writes its
            // version SEI at the start of every stream it encodes.
            assert_eq!(util::x264_streams(&a), 1, "{fixture} {name}: unchunked");
            let mut chunks: Vec<i64> = pb
                .iter()
                .filter(|p| p.1)
                .map(|p| ((p.0 + 1e-6) / segment).floor() as i64)
                .collect();
            chunks.dedup();
            assert!(chunks.len() >= 2, "{fixture}: {chunks:?}");
            assert_eq!(
                util::x264_streams(&b),
                chunks.len(),
                "{fixture} {name}: one per chunk"
            );
            // The same pictures, about as good: rate control restarts at a join, which
            // costs easy content (this) up to about a decibel; a frame out of place would
            // cost far more.
            let (whole_db, chunked_db) = (psnr_to_source(&src, &a), psnr_to_source(&src, &b));
            assert!(
                chunked_db >= whole_db - 1.5,
                "{fixture} {name}: PSNR {chunked_db} dB chunked, {whole_db} dB whole"
            );
        }
    }
}

#[test]
fn rotated_output_carries_no_rotation() {
    let src = util::fixture("rotated");
    let out = util::work_dir("rotflag");
    let asset = util::transcode(&src, "default", &out);
    let p = util::ffprobe(&asset.join("mp4/rotated_360p.mp4"));
    let v = util::stream(&p, "video").expect("video");
    assert_eq!((num(&v["width"]), num(&v["height"])), (360.0, 640.0));
    assert!(v.get("side_data_list").is_none(), "no display matrix: {v}");
}

#[test]
fn cbr_rungs_hit_their_bitrate() {
    let dir = util::work_dir("cbr");
    let file = util::write_profile(&dir, "default", |p| {
        p["video"]["rate_control"] = "cbr".into()
    });
    let src = util::fixture("sd_4x3");
    let out = dir.join("out");
    let asset = util::transcode(&src, file.to_str().expect("utf-8"), &out);
    let measured = check_asset(&source(&src), &asset, file.to_str().expect("utf-8"));
    let profile = Profile::load(file.to_str().expect("utf-8")).expect("profile");
    // 960x720: 720p, 480p, 360p of the profile (1080p is dropped).
    for ((w, h, bps), r) in measured.iter().zip(&profile.renditions[1..]) {
        let target = f64::from(r.bitrate);
        assert!(
            (bps / target - 1.0).abs() <= 0.15,
            "{w}x{h}: {bps:.0} b/s vs {target}"
        );
    }
}

#[test]
fn capped_crf_stays_under_its_cap() {
    let dir = util::work_dir("crf");
    let file = util::write_profile(&dir, "mobile", |p| {
        p["video"]["rate_control"] = "capped_crf".into();
        p["video"]["crf"] = 10.into();
    });
    let path = file.to_str().expect("utf-8");
    let src = util::fixture("sd_4x3");
    let asset = util::transcode(&src, path, &dir.join("out"));
    let measured = check_asset(&source(&src), &asset, path);
    let profile = Profile::load(path).expect("profile");
    let audio = f64::from(profile.audio.as_ref().map_or(0, |a| a.bitrate));
    let duration = source(&src).video_duration;
    let mut bound = 0;
    for ((w, h, bps), r) in measured.iter().zip(&profile.renditions) {
        // CRF 10 wants far more than the cap on this source. The VBV lets the mean exceed
        // max_bitrate only by what the initially 90% full buffer holds, spread over the
        // clip; the TS segments measured here also carry the audio and ~8% mux overhead.
        let cap = f64::from(r.max_bitrate);
        let allowed = (cap + 0.9 * f64::from(r.buffer_size) / duration + audio) * 1.08;
        assert!(
            *bps <= allowed,
            "{w}x{h}: {bps:.0} b/s over the VBV bound {allowed:.0}"
        );
        if *bps >= cap {
            bound += 1;
        }
    }
    assert!(bound >= 2, "the cap should bind at CRF 10: {measured:?}");
}

#[test]
fn broken_audio_timelines_are_repaired_not_fatal() {
    // Overlapping audio from a splice, a stereo -> mono switch mid-stream, and audio that
    // covers only the middle of the video: the audio output always spans the video.
    for name in ["spliced_ts", "layout_change_ts", "late_audio"] {
        let src = util::fixture(name);
        let out = util::work_dir(name);
        let asset = util::transcode(&src, "default", &out);
        let s = source(&src);
        let mp4 = asset.join(format!("mp4/{name}_180p.mp4"));
        let p = util::ffprobe(&mp4);
        let v = num(&util::stream(&p, "video").expect("video")["duration"]);
        let a = num(&util::stream(&p, "audio").expect("audio")["duration"]);
        assert!(
            (v - s.video_duration).abs() <= 1.0 / s.fps + 1e-3,
            "{name}: video {v} vs {}",
            s.video_duration
        );
        assert!((a - v).abs() <= 0.05, "{name}: audio {a} vs video {v}");
        let text = std::fs::read_to_string(asset.join(format!("cmaf/{name}_audio.m3u8")))
            .expect("audio playlist");
        let listed: f64 = media(&asset.join(format!("cmaf/{name}_audio.m3u8")))
            .segments
            .iter()
            .map(|s| f64::from(s.duration))
            .sum();
        assert!(
            (listed - v).abs() <= 0.05,
            "{name}: audio playlist {listed} s vs video {v}: {text}"
        );
    }
}

#[test]
fn colour_description_is_carried_to_every_rung() {
    let src = util::fixture("bt709");
    let out = util::work_dir("bt709");
    let asset = util::transcode(&src, "default", &out);
    let s = util::ffprobe(&src);
    let sv = util::stream(&s, "video").expect("video");
    assert_eq!(sv["color_primaries"], "bt709", "fixture is tagged");
    for file in ["mp4/bt709_360p.mp4"] {
        let p = util::ffprobe(&asset.join(file));
        let v = util::stream(&p, "video").expect("video");
        for key in [
            "color_primaries",
            "color_transfer",
            "color_space",
            "color_range",
        ] {
            assert_eq!(v[key], sv[key], "{file}: {key}");
        }
    }
    let untagged = util::transcode(
        &util::fixture("short"),
        "default",
        &util::work_dir("untagged"),
    );
    let p = util::ffprobe(&untagged.join("mp4/short_360p.mp4"));
    let v = util::stream(&p, "video").expect("video");
    assert!(
        v.get("color_primaries").is_none(),
        "an untagged source stays untagged: {v}"
    );
}

/// Segmentation as MediaConvert's: a source whose length is a whole number of segments
/// gets exactly that many in every output of every group (TS HLS, CMAF video and audio,
/// DASH video and audio), no tail segment of a frame or two; the playlists list them,
/// and the last TS segment is a whole segment long by ffprobe.
#[test]
fn whole_multiples_of_the_segment_length_make_exactly_that_many_segments() {
    let dir = util::work_dir("conf-seg-matrix");
    for seconds in [4u32, 6, 12] {
        let src = dir.join(format!("src{seconds}.mp4"));
        let o = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc=size=160x90:rate=25:duration={seconds}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!(
                "sine=frequency=440:sample_rate=48000:duration={seconds}"
            ))
            .args([
                "-c:v",
                "libx264",
                "-g",
                "25",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-shortest",
            ])
            .arg(&src)
            .output()
            .expect("ffmpeg");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for segment in [1u32, 2, 6] {
            let profile = util::write_profile(&dir, "mobile", |p| {
                p["video"]["gop_seconds"] = serde_json::json!(1);
                p["video"]["segment_seconds"] = serde_json::json!(segment);
                p["video"]["preset"] = serde_json::json!("ultrafast");
                p["renditions"] = serde_json::json!([{ "name": "90p", "height": 90, "bitrate": 200000,
                    "max_bitrate": 300000, "buffer_size": 400000 }]);
                p["outputs"] = serde_json::json!({ "hls": { "destination": "hls/" },
                    "cmaf": { "destination": "cmaf/" }, "dash": { "destination": "dash/" } });
                p.as_object_mut().expect("object").remove("thumbnails");
            });
            let out = dir.join(format!("out{seconds}x{segment}"));
            let asset = util::transcode(&src, profile.to_str().expect("utf-8"), &out);
            let want = (seconds / segment.min(seconds)) as usize;
            let want = if segment > seconds { 1 } else { want };
            let tree = util::tree(&asset);
            let case = format!("{seconds} s source, {segment} s segments");
            for (group, outputs) in [
                ("hls/", &["90p"][..]),
                ("cmaf/", &["90p", "audio"][..]),
                ("dash/", &["90p", "audio"][..]),
            ] {
                for output in outputs {
                    let stem = format!("{group}src{seconds}_{output}_");
                    let segments = tree
                        .iter()
                        .filter(|f| {
                            f.strip_prefix(&stem).is_some_and(|rest| {
                                rest.split('.').next().is_some_and(|n| {
                                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                                })
                            })
                        })
                        .count();
                    assert_eq!(segments, want, "{case}: {stem}*: {tree:#?}");
                    if group != "dash/" {
                        let playlist = asset.join(format!("{group}src{seconds}_{output}.m3u8"));
                        let text = std::fs::read_to_string(&playlist).expect("playlist");
                        let listed: Vec<f64> = text
                            .lines()
                            .filter_map(|l| l.strip_prefix("#EXTINF:"))
                            .filter_map(|l| l.split(',').next()?.parse().ok())
                            .collect();
                        assert_eq!(listed.len(), want, "{case}: {}", playlist.display());
                        let total: f64 = listed.iter().sum();
                        assert!(
                            (total - f64::from(seconds)).abs() < 0.1,
                            "{case}: {} lists {total} s",
                            playlist.display()
                        );
                    }
                }
            }
            let last = asset.join(format!("hls/src{seconds}_90p_{want:05}.ts"));
            let d: f64 = util::ffprobe(&last)["format"]["duration"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .expect("duration");
            let whole = f64::from(segment.min(seconds));
            assert!(
                (d - whole).abs() < 0.1,
                "{case}: last TS segment {d} s, not {whole}"
            );
        }
    }
}

/// Chunked encoding stays within its memory bound at 4K: each lane may queue a segment of
/// raw 2160p frames (26 of them, 323 MB), and three lanes unbounded go well over 300 MiB
/// beyond the unchunked run's peak RSS (by GNU time); with `--chunk-memory-mib 300` not
/// even one lane's chunk fits, the rung is encoded unchunked, and the peak stays within
/// 300 MiB of the unchunked run's.
#[test]
fn chunked_encoding_at_4k_stays_within_its_memory_bound() {
    let dir = util::work_dir("conf-chunk-memory");
    let src = dir.join("uhd.mp4");
    let o = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=3840x2160:rate=24:duration=3",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "32",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&src)
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let profile = util::write_profile(&dir, "default", |p| {
        p["video"]["gop_seconds"] = serde_json::json!(1);
        p["video"]["segment_seconds"] = serde_json::json!(1);
        p["video"]["preset"] = serde_json::json!("ultrafast");
        p["renditions"] = serde_json::json!([{ "name": "2160p", "height": 2160, "bitrate": 4000000,
            "max_bitrate": 6000000, "buffer_size": 8000000 }]);
        p["outputs"] = serde_json::json!({ "cmaf": { "destination": "cmaf/" } });
        for k in ["thumbnails", "preview", "trickplay"] {
            p.as_object_mut().expect("object").remove(k);
        }
    });
    let peak = |label: &str, extra: &[&str]| -> u64 {
        let out = dir.join(label);
        let o = std::process::Command::new("/usr/bin/time")
            .args(["-f", "peak-kb %M"])
            .arg(env!("CARGO_BIN_EXE_mpe"))
            .arg("transcode")
            .arg(&src)
            .args(["-p", profile.to_str().expect("utf-8"), "-o"])
            .arg(&out)
            .args(["--progress", "none", "--threads", "2"])
            .args(extra)
            .output()
            .expect("GNU time");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{label}: {err}");
        err.lines()
            .find_map(|l| l.strip_prefix("peak-kb "))
            .and_then(|k| k.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{label}: no peak in {err}"))
            * 1024
    };
    let off = peak("off", &["--chunks", "off"]);
    let unbounded = peak(
        "unbounded",
        &["--chunks", "3", "--chunk-memory-mib", "100000"],
    );
    let bounded = peak("bounded", &["--chunks", "3", "--chunk-memory-mib", "300"]);
    let mib = |b: u64| b >> 20;
    eprintln!(
        "peak RSS: off {} MiB, unbounded {} MiB, bounded {} MiB",
        mib(off),
        mib(unbounded),
        mib(bounded)
    );
    assert!(
        bounded <= off + (300 << 20),
        "bounded: {} MiB over the unchunked run's {} MiB",
        mib(bounded.saturating_sub(off)),
        mib(off)
    );
    assert!(
        unbounded > off + (300 << 20),
        "the bound did not bind: unbounded {} MiB against {} MiB unchunked",
        mib(unbounded),
        mib(off)
    );
}
