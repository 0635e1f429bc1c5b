use super::*;
use crate::media::AudioStream;

fn media(w: u32, h: u32, fps: [u32; 2], rotation: u32, audio: bool) -> MediaInfo {
    let mut m = MediaInfo::nominal(w, h, fps);
    m.path = "in.mp4".into();
    m.container = "mov,mp4".into();
    m.duration = 10.0;
    m.size = 1;
    m.video[0].rotation = rotation;
    m.video[0].duration = Some(10.0);
    m.audio = if audio {
        vec![AudioStream {
            index: 1,
            codec: "aac".into(),
            profile: None,
            channels: 6,
            channel_layout: Some("5.1".into()),
            sample_rate: 44100,
            language: None,
            duration: Some(10.0),
            bit_rate: None,
        }]
    } else {
        vec![]
    };
    m
}

fn sizes(p: &Plan) -> Vec<(u32, u32)> {
    p.renditions.iter().map(|r| (r.width, r.height)).collect()
}

fn default() -> Profile {
    Profile::load("default").expect("default profile")
}

#[test]
fn full_hd_gets_all_four_rungs() {
    let p = plan(&default(), &media(1920, 1080, [25, 1], 0, true)).expect("plan");
    assert_eq!(
        sizes(&p),
        [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    );
    assert_eq!(p.file_renditions, ["720p"]);
    let a = p.audio.expect("audio");
    assert_eq!((a.channels, a.sample_rate), (2, 48000));
}

#[test]
fn never_upscales_and_keeps_the_source_size_between_rungs() {
    let p = plan(&default(), &media(1278, 718, [25, 1], 0, false)).expect("plan");
    assert_eq!(sizes(&p), [(1278, 718), (854, 480), (640, 360)]);
    assert!(p.renditions[0].source_size);
    assert_eq!(p.renditions[0].name, "718p");
    // 720p was dropped, so the file group takes the tallest rung.
    assert_eq!(p.file_renditions, ["718p"]);
    assert!(p.audio.is_none());
    let r = &p.renditions[0];
    assert!(
        r.bitrate < 3_000_000 && r.bitrate >= 1_500_000,
        "{}",
        r.bitrate
    );

    let mut prof = default();
    prof.video.keep_source_height = false;
    let p = plan(&prof, &media(1278, 718, [25, 1], 0, false)).expect("plan");
    assert_eq!(sizes(&p), [(854, 480), (640, 360)]);
}

#[test]
fn tiny_sources_get_one_rung_at_their_own_size() {
    let mut prof = default();
    prof.video.keep_source_height = false;
    let p = plan(&prof, &media(320, 180, [25, 1], 0, true)).expect("plan");
    assert_eq!(sizes(&p), [(320, 180)]);
}

#[test]
fn portrait_square_and_4x3_keep_their_shape() {
    let p = plan(&default(), &media(1080, 1920, [30, 1], 0, true)).expect("plan");
    assert_eq!(
        sizes(&p),
        [(1080, 1920), (720, 1280), (480, 854), (360, 640)]
    );
    let p = plan(&default(), &media(720, 720, [25, 1], 0, true)).expect("plan");
    assert_eq!(sizes(&p), [(720, 720), (480, 480), (360, 360)]);
    let p = plan(&default(), &media(960, 720, [25, 1], 0, true)).expect("plan");
    assert_eq!(sizes(&p), [(960, 720), (640, 480), (480, 360)]);
}

#[test]
fn rotation_is_applied_to_the_display_size() {
    let p = plan(&default(), &media(640, 360, [25, 1], 90, true)).expect("plan");
    assert_eq!(sizes(&p), [(360, 640)]);
    assert_eq!(p.rotation, 90);
    assert_eq!((p.display_width, p.display_height), (360, 640));
}

#[test]
fn frame_rate_is_never_raised_and_capped_by_whole_steps() {
    let p = plan(&default(), &media(640, 360, [30000, 1001], 0, true)).expect("plan");
    assert_eq!((p.frame_rate, p.frame_step), ([30000, 1001], 1));
    let mobile = Profile::load("mobile").expect("mobile");
    let p = plan(&mobile, &media(640, 360, [60, 1], 0, true)).expect("plan");
    assert_eq!((p.frame_rate, p.frame_step), ([30, 1], 2));
    let p = plan(&mobile, &media(640, 360, [60000, 1001], 0, true)).expect("plan");
    assert_eq!((p.frame_rate, p.frame_step), ([30000, 1001], 2));
    let p = plan(&mobile, &media(640, 360, [24, 1], 0, true)).expect("plan");
    assert_eq!((p.frame_rate, p.frame_step), ([24, 1], 1));
}

#[test]
fn no_video_is_an_error() {
    let mut m = media(640, 360, [25, 1], 0, true);
    m.video.clear();
    let e = plan(&default(), &m).expect_err("no video");
    assert_eq!(
        e.to_string(),
        "in.mp4: no video stream (audio-only sources cannot make a video ladder)"
    );
}

#[test]
fn segment_count_is_mediaconvert_ceil() {
    let p = plan(&default(), &media(640, 360, [25, 1], 0, true)).expect("plan");
    assert_eq!(p.segment_count(10.0), 2);
    assert_eq!(p.segment_count(12.0), 2);
    assert_eq!(p.segment_count(12.04), 3);
    assert_eq!(p.segment_count(1.5), 1);
    assert_eq!(p.segment_count(14.966 / 6.0 * 6.0), 3);
}

#[test]
fn segments_round_up_to_whole_gops_and_a_short_tail_joins_the_one_before() {
    let mut prof = default();
    prof.video.gop_frames = Some(60);
    prof.video.segment_seconds = 5.0;
    prof.video.segments_whole_gops = true;
    prof.video.min_final_segment_seconds = Some(2.0);
    prof.validate("test").expect("valid");
    // 60 frames at 29.97 fps are 2.002 s; 5 s rounds up to three of them.
    let p = plan(&prof, &media(640, 360, [30000, 1001], 0, true)).expect("plan");
    assert!((p.gop_seconds - 2.002).abs() < 1e-9, "{}", p.gop_seconds);
    assert!(
        (p.segment_seconds - 6.006).abs() < 1e-9,
        "{}",
        p.segment_seconds
    );
    assert_eq!(p.segment_count(12.012), 2);
    // A 1.5 s tail joins the segment before; a 2.5 s one stands.
    assert_eq!(p.segment_count(13.5), 2);
    assert_eq!(p.segment_count(14.5), 3);
    // One segment has no segment before it.
    assert_eq!(p.segment_count(1.0), 1);
    // GOPs in seconds round the same way, and a whole multiple stays as it is.
    prof.video.gop_frames = None;
    prof.video.gop_seconds = 4.0;
    prof.video.segment_seconds = 6.0;
    let p = plan(&prof, &media(640, 360, [25, 1], 0, true)).expect("plan");
    assert_eq!(p.segment_seconds, 8.0);
    prof.video.segment_seconds = 8.0;
    let p = plan(&prof, &media(640, 360, [25, 1], 0, true)).expect("plan");
    assert_eq!(p.segment_seconds, 8.0);
    // The minimum must be under the segment length.
    prof.video.min_final_segment_seconds = Some(8.0);
    let e = prof.validate("test").expect_err("too long");
    assert!(
        e.to_string().contains("video.min_final_segment_seconds"),
        "{e}"
    );
}

#[test]
fn expected_files_cover_every_group() {
    let prof = Profile::load("mobile").expect("mobile");
    let p = plan(&prof, &media(640, 360, [25, 1], 0, true)).expect("plan");
    let files = crate::naming::Layout::for_source("a.mp4").expected_files(&prof, &p, 2, 2);
    for f in [
        "hls/a.m3u8",
        "hls/a_360p.m3u8",
        "hls/a_360p_00002.ts",
        "hls/a_240p_00001.ts",
        "dash/a.mpd",
        "dash/a_360pinit.mp4",
        "dash/a_audioinit.mp4",
        "dash/a_audio_000000002.mp4",
        "mp4/a_360p.mp4",
    ] {
        assert!(files.iter().any(|x| x == f), "missing {f} in {files:?}");
    }
    assert!(
        !files.iter().any(|x| x.starts_with("hls/a_audio")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|x| x.ends_with("dash/a_360p.m3u8")),
        "{files:?}"
    );
}

#[test]
fn interval_captures_follow_mediaconvert_cadence() {
    // The UG example: 185 s at one capture every 5 s ends with file .0000036 (37 captures).
    assert_eq!(interval_times(5.0, 185.0, None).len(), 37);
    assert_eq!(interval_times(5.0, 185.0, Some(10)).len(), 10);
    assert_eq!(interval_times(2.0, 10.0, None), [0.0, 2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn pictures_keep_aspect_and_never_upscale() {
    assert_eq!(picture_size((1920.0, 1080.0), Some(320), None), (320, 180));
    assert_eq!(picture_size((1080.0, 1920.0), None, Some(320)), (180, 320));
    assert_eq!(
        picture_size((1920.0, 1080.0), Some(320), Some(320)),
        (320, 180)
    );
    assert_eq!(picture_size((320.0, 240.0), Some(640), None), (320, 240));
}

#[test]
fn thumbnails_preview_and_trickplay_are_planned_from_the_profile() {
    let mut p = default();
    p.thumbnails = Some(
        serde_json::from_str(
            r#"{"destination":"t/","interval_seconds":4,"times":["25%","end","30"],"width":320}"#,
        )
        .expect("thumbnails"),
    );
    p.preview = Some(
        serde_json::from_str(r#"{"destination":"p/","start":"50%","seconds":8,"height":240,"animated_webp":{"width":200}}"#)
            .expect("preview"),
    );
    p.trickplay = Some(
        serde_json::from_str(r#"{"destination":"s/","interval_seconds":1,"columns":2,"rows":2}"#)
            .expect("trickplay"),
    );
    p.validate("test").expect("valid");
    let plan = plan(&p, &media(1280, 720, [25, 1], 0, true)).expect("plan");
    let t = plan.thumbnails.expect("thumbnails");
    // 0, 4, 8 by interval, 2.5 (25%) and 10 (end); 30 lies past the end of 10 s.
    assert_eq!(t.times, [0.0, 2.5, 4.0, 8.0, 10.0]);
    assert_eq!((t.width, t.height), (320, 180));
    let pv = plan.preview.expect("preview");
    // 50% of 10 s is 5 s, but an 8 s clip must start by 2 s to fit.
    assert_eq!(
        (pv.start, pv.seconds, pv.width, pv.height),
        (2.0, 8.0, 426, 240)
    );
    assert!(pv.audio);
    let a = pv.animated_webp.expect("animated webp");
    assert_eq!((a.width, a.height, a.fps, a.quality), (200, 112, 10.0, 70));
    let tp = plan.trickplay.expect("trickplay");
    assert_eq!(tp.times.len(), 10);
    assert_eq!((tp.tile_width, tp.tile_height, tp.sheets()), (160, 90, 3));
}

/// The default profile with its ladder replaced by rungs of exact sizes.
fn exact(sizes: &[(Option<u32>, Option<u32>, crate::Scaling)]) -> Profile {
    let mut p = default();
    p.video.keep_source_height = false;
    p.outputs.file = None;
    p.renditions = sizes
        .iter()
        .enumerate()
        .map(|(i, &(width, height, scaling))| Rendition {
            name: format!("r{i}"),
            height: 100,
            bitrate: 500_000,
            max_bitrate: 500_000,
            buffer_size: 1_000_000,
            size: Some(crate::OutputSize {
                width,
                height,
                scaling,
            }),
            audio: None,
            file_audio: None,
            sharpness: None,
        })
        .collect();
    p
}

#[test]
fn exact_sizes_follow_mediaconverts_scaling_rules_and_may_upscale() {
    use crate::Scaling::*;
    let p = exact(&[
        (Some(1280), Some(720), Pad),
        (None, Some(1080), Pad),
        (Some(400), None, Pad),
        (None, None, Pad),
        (Some(400), Some(400), Fit),
        (Some(2000), Some(2000), FitNoUpscale),
        (Some(300), Some(300), Fill),
        (Some(300), Some(400), Stretch),
        (Some(480), Some(480), Pad),
    ]);
    let plan = plan(&p, &media(640, 360, [30, 1], 0, false)).expect("plan");
    assert_eq!(
        sizes(&plan),
        [
            (1280, 720),
            (1920, 1080),
            (400, 226),
            (640, 360),
            (400, 226),
            (640, 360),
            (300, 300),
            (300, 400),
            (480, 480),
        ]
    );
    let placements: Vec<Option<Placement>> = plan.renditions.iter().map(|r| r.placement).collect();
    // FILL covers 300x300 with a 534x300 picture, centred: 117 columns cut each side
    // (rounded down to even).
    assert_eq!(
        placements[6],
        Some(Placement {
            width: 534,
            height: 300,
            x: -118,
            y: 0
        })
    );
    // DEFAULT in a square box: letterboxed, 104 rows of black above (even offsets).
    assert_eq!(
        placements[8],
        Some(Placement {
            width: 480,
            height: 270,
            x: 0,
            y: 104
        })
    );
    assert!(
        placements[..6].iter().all(Option::is_none),
        "{placements:?}"
    );
}

#[test]
fn a_specified_frame_rate_decimates_whole_factors_retimes_others_and_gops_count_frames() {
    let mut p = default();
    p.video.frame_rate = Some([30, 1]);
    p.video.gop_frames = Some(90);
    let plan60 = plan(&p, &media(640, 360, [60, 1], 0, false)).expect("plan");
    assert_eq!((plan60.frame_rate, plan60.frame_step), ([30, 1], 2));
    assert!(
        (plan60.gop_seconds - 3.0).abs() < 1e-9,
        "{}",
        plan60.gop_seconds
    );
    assert!(!plan60.retime);
    let plan25 = plan(&p, &media(640, 360, [25, 1], 0, false)).expect("25 -> 30");
    assert_eq!(
        (plan25.frame_rate, plan25.frame_step, plan25.retime),
        ([30, 1], 1, true)
    );
}

#[test]
fn a_rungs_own_audio_is_planned_once_per_distinct_setting() {
    let mut p = default();
    let own = |bitrate, channels| crate::AudioSettings {
        codec: crate::profile::AudioCodec::Aac,
        bitrate,
        channels,
        sample_rate: 44_100,
        track: None,
        tracks: vec![],
    };
    // 720p and 480p ask the same; 360p asks the profile's own, which is no variant.
    let main = p.audio.clone().expect("default has audio");
    p.renditions[1].audio = Some(own(64_000, 1));
    p.renditions[2].audio = Some(own(64_000, 1));
    p.renditions[3].audio = Some(main.clone());
    let plan = plan(&p, &media(1920, 1080, [30, 1], 0, true)).expect("plans");
    let names: Vec<_> = plan.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["1080p", "720p", "480p", "360p"]);
    let variants = plan.audio_variants();
    assert_eq!(variants.len(), 2, "{variants:?}");
    assert_eq!(variants[0].bitrate, main.bitrate);
    assert_eq!((variants[1].bitrate, variants[1].channels), (64_000, 1));
    assert_eq!(plan.rung_audio(&plan.renditions[0]), plan.audio.as_ref());
    assert_eq!(plan.rung_audio(&plan.renditions[2]), Some(variants[1]));
    assert!(plan.renditions[3].audio.is_none());
    // Stereo asked of a mono source is mono, as the profile's own audio.
    let mut m = media(1920, 1080, [30, 1], 0, true);
    m.audio[0].channels = 1;
    p.renditions[2].audio = Some(own(96_000, 2));
    let plan = super::plan(&p, &m).expect("plans");
    assert_eq!(
        plan.renditions[2].audio.as_ref().map(|a| a.channels),
        Some(1)
    );
    // Without source audio there is none to vary.
    let plan = super::plan(&p, &media(1920, 1080, [30, 1], 0, false)).expect("plans");
    assert!(plan.audio_variants().is_empty());
    assert!(plan.rung_audio(&plan.renditions[2]).is_none());
}

#[test]
fn audio_renditions_are_planned_after_the_profiles_audio_and_encoded_once() {
    let mut p = default();
    let other = |bitrate, channels| crate::profile::AudioRendition {
        name: format!("audio_{bitrate}"),
        audio: crate::AudioSettings {
            codec: crate::profile::AudioCodec::Aac,
            bitrate,
            channels,
            sample_rate: 48_000,
            track: None,
            tracks: vec![],
        },
    };
    p.audio_renditions = vec![other(64_000, 2), other(48_000, 1)];
    // A rung muxing the 48 kb/s mono shares its encoding.
    p.renditions[3].audio = Some(p.audio_renditions[1].audio.clone());
    let planned = crate::plan(&p, &media(1920, 1080, [30, 1], 0, true)).expect("plans");
    let names: Vec<_> = planned
        .separate_audio()
        .iter()
        .map(|(n, a)| (*n, a.bitrate))
        .collect();
    assert_eq!(
        names,
        [
            ("audio", 128_000),
            ("audio_64000", 64_000),
            ("audio_48000", 48_000)
        ]
    );
    assert_eq!(planned.audio_variants().len(), 3);
    // Without source audio there are no audio outputs at all.
    let silent = crate::plan(&p, &media(1920, 1080, [30, 1], 0, false)).expect("plans");
    assert!(silent.separate_audio().is_empty());
    assert!(silent.audio_renditions.is_empty());
}

#[test]
fn several_tracks_are_planned_as_one_audio_with_their_channels_together() {
    let mut m = media(1280, 720, [25, 1], 0, true);
    let mono = |index| AudioStream {
        index,
        channels: 1,
        channel_layout: Some("mono".into()),
        ..m.audio[0].clone()
    };
    m.audio = vec![mono(1), mono(2), mono(3)];
    let mut p = default();
    let a = p.audio.as_mut().expect("default has audio");
    a.tracks = vec![3, 1];
    a.channels = 2;
    let plan = plan(&p, &m).expect("plans");
    let audio = plan.audio.expect("audio");
    assert_eq!(
        (audio.source_stream, &audio.more_streams[..]),
        (3, &[1][..])
    );
    // Two monos make two channels; one mono alone would have made one.
    assert_eq!(audio.channels, 2);
    p.audio.as_mut().expect("audio").tracks = vec![2];
    let audio = crate::plan(&p, &m).expect("plans").audio.expect("audio");
    assert_eq!(audio.channels, 1);
    // A track the source lacks, wherever it is in the list.
    p.audio.as_mut().expect("audio").tracks = vec![1, 4];
    let e = crate::plan(&p, &m).expect_err("no track 4");
    assert_eq!(e.to_string(), "in.mp4: no audio track 4 (it has 3)");
}

#[test]
fn sources_beyond_the_side_limits_are_refused_unless_the_profile_allows_more() {
    let err = plan(&default(), &media(9216, 5184, [30, 1], 0, false)).expect_err("too big");
    assert!(
        err.to_string()
            .contains("size 9216x5184 is larger than the 8192x8192"),
        "{err}"
    );
    let mut p = default();
    p.video.max_source_side = Some(10240);
    p.validate("test").expect("valid");
    plan(&p, &media(9216, 5184, [30, 1], 0, false)).expect("allowed by the profile");
    p.video.max_source_side = Some(20000);
    let err = p.validate("test").expect_err("over 16384");
    assert!(err.to_string().contains("video.max_source_side"), "{err}");
    let err = plan(&default(), &media(12, 12, [30, 1], 0, false)).expect_err("too small");
    assert!(
        err.to_string()
            .contains("size 12x12 is smaller than the 16x16"),
        "{err}"
    );
}
