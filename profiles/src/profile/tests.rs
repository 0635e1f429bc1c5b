use super::*;

fn default_json() -> serde_json::Value {
    serde_json::from_str(include_str!("../../default.json")).expect("shipped profile is JSON")
}

fn load_value(v: &serde_json::Value) -> Result<Profile, ProfileError> {
    Profile::from_json(&v.to_string(), "test.json")
}

#[test]
fn shipped_profiles_load_and_validate() {
    for name in Profile::shipped_names() {
        let p = Profile::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.name, name);
        assert!(p.renditions.len() >= 3);
    }
    let d = Profile::load("default").expect("default");
    let heights: Vec<u32> = d.renditions.iter().map(|r| r.height).collect();
    assert_eq!(heights, [1080, 720, 480, 360]);
    assert_eq!((d.video.gop_seconds, d.video.segment_seconds), (2.0, 6.0));
}

#[test]
fn unknown_profile_names_the_shipped_ones() {
    let e = Profile::load("nope").expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "profile nope: no such shipped profile and no such file (shipped: default, mobile)"
    );
}

#[test]
fn missing_file_is_a_read_error() {
    let e = Profile::load("/nonexistent/p.json").expect_err("missing");
    assert!(matches!(e, ProfileError::Read { .. }), "{e}");
    assert!(e
        .to_string()
        .starts_with("profile /nonexistent/p.json: cannot read"));
}

#[test]
fn parse_errors_name_the_field() {
    let mut v = default_json();
    v["renditions"][2]["bitrate"] = "fast".into();
    let e = load_value(&v).expect_err("wrong type");
    let s = e.to_string();
    assert!(
        s.starts_with("profile test.json: field `renditions[2].bitrate`: invalid type"),
        "{s}"
    );

    let mut v = default_json();
    v["video"]["presett"] = "fast".into();
    let s = load_value(&v).expect_err("unknown field").to_string();
    assert!(s.contains("unknown field `presett`"), "{s}");

    let s = Profile::from_json("{", "x.json")
        .expect_err("bad json")
        .to_string();
    assert!(s.starts_with("profile x.json: "), "{s}");
}

#[test]
fn a_profile_is_one_json_document_read_from_a_plain_file_of_sane_size() {
    let text = default_json().to_string();
    // Stray text or a second profile after the first: refused, not ignored.
    for tail in [" x", " {\"name\": \"second\"}", "}"] {
        let s = Profile::from_json(&format!("{text}{tail}"), "two.json")
            .expect_err(tail)
            .to_string();
        assert!(
            s.starts_with("profile two.json: document: more after the profile's closing brace"),
            "{tail}: {s}"
        );
    }
    // A byte-order mark is skipped.
    Profile::from_json(&format!("\u{feff}{text}"), "bom.json").expect("BOM");
    // Neither a device nor a huge file is read.
    let e = Profile::load("/dev/zero.json").expect_err("no such file");
    assert!(matches!(e, ProfileError::Read { .. }), "{e}");
    let dir = std::env::temp_dir().join(format!("mpe-profile-caps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let zero = dir.join("zero.json");
    let _ = std::fs::remove_file(&zero);
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let s = Profile::load(zero.to_str().expect("utf-8"))
        .expect_err("a device")
        .to_string();
    assert!(s.ends_with("cannot read: not a regular file"), "{s}");
    let big = dir.join("big.json");
    std::fs::write(&big, format!("{text}{}", " ".repeat(5 << 20))).expect("write");
    let s = Profile::load(big.to_str().expect("utf-8"))
        .expect_err("5 MiB")
        .to_string();
    assert!(s.ends_with("cannot read: larger than 4 MiB"), "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn at_most_sixteen_renditions() {
    let mut v = default_json();
    let rungs: Vec<serde_json::Value> = (0..17)
        .map(|i| {
            serde_json::json!({ "name": format!("r{i}"), "height": 1080 - 2 * i,
                "bitrate": 1_000_000, "max_bitrate": 1_000_000, "buffer_size": 1_000_000 })
        })
        .collect();
    v["renditions"] = serde_json::json!(rungs[..16]);
    v["outputs"]["file"]["renditions"] = serde_json::json!(["r0"]);
    load_value(&v).expect("sixteen");
    v["renditions"] = serde_json::json!(rungs);
    let s = load_value(&v).expect_err("seventeen").to_string();
    assert!(
        s.starts_with("profile test.json: field `renditions`: 17 renditions: at most 16"),
        "{s}"
    );
}

/// (field, edit that breaks it, words the reason must contain)
type Case = (
    &'static str,
    Box<dyn Fn(&mut serde_json::Value)>,
    &'static str,
);

#[test]
fn validation_errors_name_field_and_reason() {
    let cases: Vec<Case> = vec![
        (
            "video.segment_seconds",
            Box::new(|v| v["video"]["segment_seconds"] = 5.into()),
            "not a whole multiple",
        ),
        (
            "video.gop_seconds",
            Box::new(|v| v["video"]["gop_seconds"] = 0.into()),
            "outside",
        ),
        (
            "video.crf",
            Box::new(|v| v["video"]["rate_control"] = "capped_crf".into()),
            "required",
        ),
        (
            "renditions[1].height",
            Box::new(|v| v["renditions"][1]["height"] = 1080.into()),
            "tallest first",
        ),
        (
            "renditions[0].height",
            Box::new(|v| v["renditions"][0]["height"] = 1081.into()),
            "even",
        ),
        (
            "renditions[3].max_bitrate",
            Box::new(|v| v["renditions"][3]["max_bitrate"] = 1000.into()),
            "below bitrate",
        ),
        (
            "renditions",
            Box::new(|v| v["renditions"] = serde_json::json!([])),
            "at least one",
        ),
        (
            "renditions[1].name",
            Box::new(|v| v["renditions"][1]["name"] = "1080p".into()),
            "used twice",
        ),
        (
            "renditions[0].name",
            Box::new(|v| v["renditions"][0]["name"] = "a b".into()),
            "ASCII",
        ),
        (
            "audio.channels",
            Box::new(|v| v["audio"]["channels"] = 6.into()),
            "1 or 2",
        ),
        (
            "audio.sample_rate",
            Box::new(|v| v["audio"]["sample_rate"] = 22050.into()),
            "44100",
        ),
        (
            "renditions[0].name",
            Box::new(|v| v["renditions"][0]["name"] = "audio_hi".into()),
            "reserved for the audio outputs",
        ),
        (
            "audio_renditions[0].name",
            Box::new(|v| {
                v["audio_renditions"] = serde_json::json!([{ "name": "mono",
                    "audio": { "bitrate": 64000, "channels": 1, "sample_rate": 48000 } }])
            }),
            "must be `audio_`",
        ),
        (
            "audio_renditions[1].name",
            Box::new(|v| {
                let r = serde_json::json!({ "name": "audio_mono",
                    "audio": { "bitrate": 64000, "channels": 1, "sample_rate": 48000 } });
                v["audio_renditions"] = serde_json::json!([r.clone(), r]);
            }),
            "used twice",
        ),
        (
            "audio_renditions[0].audio.track",
            Box::new(|v| {
                v["audio_renditions"] = serde_json::json!([{ "name": "audio_mono",
                    "audio": { "bitrate": 64000, "channels": 1, "sample_rate": 48000, "track": 2 } }])
            }),
            "chosen once",
        ),
        (
            "audio_renditions[0].audio.bitrate",
            Box::new(|v| {
                v["audio_renditions"] = serde_json::json!([{ "name": "audio_mono",
                    "audio": { "bitrate": 8000, "channels": 1, "sample_rate": 48000 } }])
            }),
            "outside",
        ),
        (
            "audio_renditions[0].audio",
            Box::new(|v| {
                v.as_object_mut().map(|o| o.remove("audio"));
                v["audio_renditions"] = serde_json::json!([{ "name": "audio_mono",
                    "audio": { "bitrate": 64000, "channels": 1, "sample_rate": 48000 } }])
            }),
            "needs the profile's `audio`",
        ),
        (
            "audio_renditions[0]",
            Box::new(|v| {
                v["outputs"] = serde_json::json!({ "hls": { "destination": "hls/" } });
                v["audio_renditions"] = serde_json::json!([{ "name": "audio_mono",
                    "audio": { "bitrate": 64000, "channels": 1, "sample_rate": 48000 } }])
            }),
            "CMAF and DASH groups",
        ),
        (
            "renditions[2].audio.channels",
            Box::new(|v| {
                v["renditions"][2]["audio"] = serde_json::json!(
                    { "bitrate": 64000, "channels": 6, "sample_rate": 48000 }
                )
            }),
            "1 or 2",
        ),
        (
            "renditions[2].audio.track",
            Box::new(|v| {
                v["renditions"][2]["audio"] = serde_json::json!(
                    { "bitrate": 64000, "channels": 1, "sample_rate": 48000, "track": 2 }
                )
            }),
            "chosen once",
        ),
        (
            "renditions[2].audio",
            Box::new(|v| {
                v["renditions"][2]["audio"] = serde_json::json!(
                    { "bitrate": 64000, "channels": 1, "sample_rate": 48000 }
                );
                v.as_object_mut().map(|o| o.remove("audio"));
            }),
            "needs the profile's `audio`",
        ),
        (
            "outputs.hls.program_date_time.date",
            Box::new(|v| {
                v["outputs"]["hls"] = serde_json::json!({
                    "destination": "hls/",
                    "program_date_time": { "date": "2026-02-30" }
                })
            }),
            "YYYY-MM-DD",
        ),
        (
            "outputs.hls.program_date_time.period_seconds",
            Box::new(|v| {
                v["outputs"]["hls"] = serde_json::json!({
                    "destination": "hls/",
                    "program_date_time": { "period_seconds": 0 }
                })
            }),
            "outside [1, 3600]",
        ),
        (
            "outputs.file.renditions[0]",
            Box::new(|v| v["outputs"]["file"]["renditions"][0] = "4k".into()),
            "not a rendition",
        ),
        (
            "outputs.cmaf.destination",
            Box::new(|v| v["outputs"]["cmaf"]["destination"] = "../up/".into()),
            "relative folder",
        ),
        (
            "outputs",
            Box::new(|v| v["outputs"] = serde_json::json!({})),
            "no output group",
        ),
    ];
    for (field, edit, reason) in cases {
        let mut v = default_json();
        edit(&mut v);
        let e = load_value(&v).expect_err(field);
        let s = e.to_string();
        assert!(
            s.starts_with(&format!("profile test.json: field `{field}`: ")) && s.contains(reason),
            "{field}: got {s}"
        );
    }
}
