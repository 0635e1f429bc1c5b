//! The upload and status API of `mpe serve` (`/api/`), by its contract: every route,
//! status code and error; a single presigned PUT and a resumed multipart upload sent with
//! a plain HTTP client as a browser sends them; the status record at each step, from the
//! API and from its event stream; the published outputs it names, judged by ffprobe and
//! m3u8-rs over the delivery path.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::mediaconvert::{free_port, wait_port, Proc};
use crate::util;

const TOKEN: &str = "api-token-for-the-tests-0123";

/// `mpe serve` with a config of `extra` lines; its URL and process.
fn start(dir: &Path, extra: &str) -> (String, Proc) {
    let port = free_port();
    let config = dir.join("mpe.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:{port}\"\napi_token = {TOKEN:?}\n{extra}",
            dir.join("data").to_str().expect("utf-8")
        ),
    )
    .expect("config");
    let proc = crate::serve::serve_config(dir, &config, &["--jobs", "2"]);
    wait_port(port, "mpe serve");
    (format!("http://127.0.0.1:{port}"), proc)
}

/// A request: (status, headers as lowercase name -> value, body).
fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let hs = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or_default().to_string();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).expect("body");
    (status, hs, out)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> &'a str {
    hs.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

const BEARER: (&str, &str) = ("Authorization", "Bearer api-token-for-the-tests-0123");

/// An API call with the token and a JSON answer.
fn api(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string().into_bytes());
    let (status, hs, out) = call(
        method,
        url,
        &[BEARER, ("Content-Type", "application/json")],
        body.as_deref(),
    );
    assert_eq!(header(&hs, "content-type"), "application/json", "{url}");
    let v = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "{method} {url}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    });
    (status, v)
}

/// Asserts an error answer's status and code.
fn refused(status: u16, v: &Value, want: u16, code: &str) {
    assert_eq!(status, want, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

/// Follows `/api/events` from the first change: each record, as it comes.
fn follow(base: &str) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    let url = format!("{base}/api/events?from=start&token={TOKEN}");
    std::thread::spawn(move || {
        let resp = ureq::get(&url)
            .timeout(Duration::from_secs(600))
            .call()
            .expect("the event stream");
        assert_eq!(resp.content_type(), "text/event-stream");
        for line in std::io::BufReader::new(resp.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ") {
                let v: Value = serde_json::from_str(data).expect("an event is JSON");
                assert_eq!(v["detail-type"], "Upload Status Change", "{v}");
                if tx.send(v["detail"].clone()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Polls the record of `name` until it has ended.
fn ended(base: &str, name: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, v) = api("GET", &format!("{base}/api/status/{name}"), None);
        assert_eq!(status, 200, "{v}");
        if matches!(v["status"].as_str(), Some("COMPLETE" | "ERROR")) {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} did not end: {v}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn every_api_route_answers_by_the_contract_and_uploads_become_published_assets() {
    let dir = util::work_dir("api-contract");
    // Small limits, so that a few MiB take the multipart path in 5 MiB parts.
    let (base, _serve) = start(
        &dir,
        "upload_max_bytes = 104857600\nmultipart_threshold_bytes = 6291456\npart_max_bytes = 5242880\n",
    );
    let events = follow(&base);
    let uploads = format!("{base}/api/uploads");
    let short = util::fixture("short");
    let bulky = util::fixture("bulky");
    let short_size = std::fs::metadata(&short).expect("short").len();
    let bulky_bytes = std::fs::read(&bulky).expect("bulky");
    assert!(
        bulky_bytes.len() > 10 * 1024 * 1024,
        "bulky is over two parts"
    );
    let ask = |name: &str, size: u64, ct: &str| json!({"fileName": name, "size": size, "contentType": ct});

    // Auth: none, malformed and wrong tokens; no route; wrong method.
    let (status, hs, out) = call(
        "POST",
        &uploads,
        &[],
        Some(ask("a.mp4", 1, "video/mp4").to_string().as_bytes()),
    );
    let v: Value = serde_json::from_slice(&out).expect("JSON");
    refused(status, &v, 401, "Unauthorized");
    assert_eq!(header(&hs, "www-authenticate"), "Bearer");
    for auth in ["Basic abc", "Bearer not-the-token"] {
        let (status, _, out) = call(
            "GET",
            &format!("{base}/api/status"),
            &[("Authorization", auth)],
            None,
        );
        let v: Value = serde_json::from_slice(&out).expect("JSON");
        let (want, code) = match auth.starts_with("Bearer") {
            true => (403, "Forbidden"),
            false => (401, "Unauthorized"),
        };
        refused(status, &v, want, code);
    }
    let (status, _, out) = call("GET", &format!("{base}/api/events"), &[], None);
    refused(
        status,
        &serde_json::from_slice(&out).expect("JSON"),
        401,
        "Unauthorized",
    );
    let (status, v) = api("GET", &format!("{base}/api/nothing"), None);
    refused(status, &v, 404, "NotFound");
    let (status, v) = api("PUT", &uploads, Some(ask("a.mp4", 1, "video/mp4")));
    refused(status, &v, 405, "MethodNotAllowed");
    let (status, v) = api("GET", &format!("{base}/api/status/none.mp4"), None);
    refused(status, &v, 404, "NotFound");
    let (status, v) = api("GET", &format!("{base}/api/uploads/no-such/parts"), None);
    refused(status, &v, 404, "NotFound");
    let (status, v) = api("GET", &format!("{base}/api/status?limit=0"), None);
    refused(status, &v, 400, "BadRequest");

    // Requests the limits refuse.
    for (body, want, code) in [
        (ask("huge.mp4", 104_857_601, "video/mp4"), 413, "TooLarge"),
        (ask("page.mp4", 10, "text/html"), 415, "UnsupportedType"),
        (ask("notes.txt", 10, "video/mp4"), 415, "UnsupportedType"),
        (
            ask("../escape.mp4", 10, "video/mp4"),
            400,
            "InvalidFileName",
        ),
        (
            ask("a/../../b.mp4", 10, "video/mp4"),
            400,
            "InvalidFileName",
        ),
        (ask(".hidden.mp4", 10, "video/mp4"), 400, "InvalidFileName"),
        (ask("empty.mp4", 0, "video/mp4"), 400, "BadRequest"),
        (json!({"fileName": "a.mp4"}), 400, "BadRequest"),
        (
            json!({"fileName": "a.mp4", "size": 1, "contentType": "video/mp4", "profile": "nope"}),
            400,
            "BadRequest",
        ),
    ] {
        let (status, v) = api("POST", &uploads, Some(body.clone()));
        refused(status, &v, want, code);
        assert!(
            !v.to_string().contains("\"url\""),
            "no URL for a refused request: {body}"
        );
    }
    let (status, _, out) = call("POST", &uploads, &[BEARER], Some(b"{not json"));
    refused(
        status,
        &serde_json::from_slice(&out).expect("JSON"),
        400,
        "BadRequest",
    );
    let (status, v) = api("GET", &format!("{base}/api/status"), None);
    assert_eq!(status, 200);
    assert_eq!(v["items"], json!([]), "refused requests leave no record");

    // One presigned PUT for a small file.
    let (status, single) = api(
        "POST",
        &uploads,
        Some(ask("single.mp4", short_size, "video/mp4")),
    );
    assert_eq!(status, 201, "{single}");
    assert_eq!(single["method"], "PUT");
    assert_eq!(single["fileName"], "single.mp4");
    assert_eq!(single["headers"]["Content-Type"], "video/mp4");
    assert!(single["expiresAt"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let url = single["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{base}/mpe-raw-local/uploads/single.mp4?"))
            && url.contains("X-Amz-Signature="),
        "{url}"
    );
    let (status, record) = api("GET", &format!("{base}/api/status/single.mp4"), None);
    assert_eq!(status, 200);
    assert_eq!(record["status"], "UPLOADING", "{record}");
    assert_eq!(record["uploadId"], single["uploadId"]);
    assert_eq!(record["percent"], 0);
    for field in ["jobId", "error", "updatedAt", "outputs"] {
        assert!(record.get(field).is_some(), "{field}: {record}");
    }
    let (status, _, out) = call(
        "PUT",
        url,
        &[("Content-Type", "video/mp4")],
        Some(&std::fs::read(&short).expect("short")),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));

    // A multipart upload, interrupted after its first part and resumed from the parts
    // the API says S3 holds.
    let (status, multi) = api(
        "POST",
        &uploads,
        Some(ask("multi.mp4", bulky_bytes.len() as u64, "video/mp4")),
    );
    assert_eq!(status, 201, "{multi}");
    let part_size = multi["partSize"].as_u64().expect("partSize") as usize;
    assert_eq!(part_size, 5 * 1024 * 1024);
    let parts = multi["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), bulky_bytes.len().div_ceil(part_size));
    assert_eq!(multi["complete"]["method"], "POST");
    let chunk =
        |n: usize| &bulky_bytes[(n - 1) * part_size..(n * part_size).min(bulky_bytes.len())];
    let put_part = |n: usize| {
        let url = parts[n - 1]["url"].as_str().expect("part url");
        assert_eq!(parts[n - 1]["partNumber"], n);
        let (status, hs, out) = call("PUT", url, &[], Some(chunk(n)));
        assert_eq!(status, 200, "part {n}: {}", String::from_utf8_lossy(&out));
        header(&hs, "etag").to_string()
    };
    let first = put_part(1);
    let id = multi["uploadId"].as_str().expect("uploadId");
    let (status, held) = api("GET", &format!("{base}/api/uploads/{id}/parts"), None);
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["fileName"], "multi.mp4");
    assert_eq!(
        held["parts"],
        json!([{"partNumber": 1, "size": part_size, "etag": first}]),
        "the part S3 holds, with the ETag the PUT gave"
    );
    let mut etags = vec![first];
    for n in 2..=parts.len() {
        etags.push(put_part(n));
    }
    let xml = format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        etags
            .iter()
            .enumerate()
            .map(|(i, e)| format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            ))
            .collect::<String>()
    );
    let (status, _, out) = call(
        "POST",
        multi["complete"]["url"].as_str().expect("complete url"),
        &[("Content-Type", "application/xml")],
        Some(xml.as_bytes()),
    );
    let out = String::from_utf8_lossy(&out);
    assert_eq!(status, 200, "{out}");
    assert!(
        out.contains(&format!("-{}&quot;</ETag>", parts.len()))
            || out.contains(&format!("-{}\"</ETag>", parts.len())),
        "a multipart ETag: {out}"
    );

    // A file that is no video: the record ends in ERROR with the reason.
    let (status, bad) = api("POST", &uploads, Some(ask("notes.mp4", 20, "video/mp4")));
    assert_eq!(status, 201, "{bad}");
    let (status, _, _) = call(
        "PUT",
        bad["url"].as_str().expect("url"),
        &[("Content-Type", "video/mp4")],
        Some(b"these are only notes"),
    );
    assert_eq!(status, 200);

    let within = Duration::from_secs(300);
    let notes = ended(&base, "notes.mp4", within);
    assert_eq!(notes["status"], "ERROR", "{notes}");
    assert!(
        notes["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{notes}"
    );
    for name in ["single.mp4", "multi.mp4"] {
        let r = ended(&base, name, within);
        assert_eq!(r["status"], "COMPLETE", "{r}");
        assert_eq!(r["percent"], 100, "{r}");
        assert!(r["error"].is_null(), "{r}");
        assert!(r["jobId"].as_str().is_some_and(|j| !j.is_empty()), "{r}");
        let o = &r["outputs"];
        let asset = name.trim_end_matches(".mp4");
        // The HLS multivariant playlist over the delivery path, read by m3u8-rs.
        let hls = o["hls"].as_str().expect("hls");
        assert!(hls.starts_with(&format!("{base}/cdn/{asset}/")), "{hls}");
        let (status, _, body) = call("GET", hls, &[], None);
        assert_eq!(status, 200, "{hls}");
        match m3u8_rs::parse_playlist_res(&body) {
            Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => assert!(!m.variants.is_empty()),
            other => panic!("{hls}: not a multivariant playlist: {other:?}"),
        }
        let dash = o["dash"].as_str().expect("dash");
        let (status, _, body) = call("GET", dash, &[], None);
        assert_eq!(status, 200, "{dash}");
        assert!(String::from_utf8_lossy(&body).contains("<MPD"), "{dash}");
        let mp4s = o["mp4"].as_array().expect("mp4");
        assert!(!mp4s.is_empty(), "{r}");
        for m in mp4s {
            let probe = util::ffprobe(Path::new(m.as_str().expect("url")));
            assert!(util::stream(&probe, "video").is_some(), "{m}: {probe}");
        }
        let thumbs = o["thumbnails"].as_array().expect("thumbnails");
        assert!(!thumbs.is_empty(), "{r}");
        for t in thumbs {
            let (status, hs, body) = call("GET", t.as_str().expect("url"), &[], None);
            assert_eq!(status, 200, "{t}");
            assert_eq!(header(&hs, "content-type"), "image/jpeg", "{t}");
            assert!(body.starts_with(&[0xff, 0xd8]), "{t}: a JPEG");
        }
    }

    // The stream gave each file's changes in order, UPLOADING to the end, with the
    // percent never going back.
    let mut seen: std::collections::HashMap<String, Vec<(String, u64)>> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let done = ["single.mp4", "multi.mp4", "notes.mp4"].iter().all(|n| {
            seen.get(*n)
                .and_then(|s| s.last())
                .is_some_and(|(s, _)| s == "COMPLETE" || s == "ERROR")
        });
        if done {
            break;
        }
        if let Ok(r) = events.recv_timeout(Duration::from_secs(1)) {
            seen.entry(r["fileName"].as_str().expect("fileName").to_string())
                .or_default()
                .push((
                    r["status"].as_str().expect("status").to_string(),
                    r["percent"].as_u64().expect("percent"),
                ));
        }
    }
    let order = [
        "UPLOADING",
        "UPLOADED",
        "SUBMITTED",
        "PROGRESSING",
        "COMPLETE",
    ];
    for name in ["single.mp4", "multi.mp4"] {
        let s = &seen[name];
        let stages: Vec<&str> = s.iter().map(|(st, _)| st.as_str()).collect();
        let mut dedup = stages.clone();
        dedup.dedup();
        assert_eq!(dedup, order, "{name}: {s:?}");
        assert!(
            s.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name}: percent never goes back: {s:?}"
        );
    }
    let notes: Vec<&str> = seen["notes.mp4"].iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(notes, ["UPLOADING", "UPLOADED", "ERROR"]);

    // The list: newest change first, paged.
    let (status, page) = api("GET", &format!("{base}/api/status?limit=2"), None);
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let next = page["nextToken"].as_str().expect("a next page");
    let (_, rest) = api(
        "GET",
        &format!("{base}/api/status?limit=2&nextToken={next}"),
        None,
    );
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1), "{rest}");
    assert!(rest["nextToken"].is_null(), "{rest}");
    let all: Vec<&Value> = items
        .iter()
        .chain(rest["items"].as_array().expect("items"))
        .collect();
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["updatedAt"].as_str().expect("t"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let mut names: Vec<&str> = all
        .iter()
        .map(|r| r["fileName"].as_str().expect("n"))
        .collect();
    names.sort();
    assert_eq!(names, ["multi.mp4", "notes.mp4", "single.mp4"]);
}

#[test]
fn an_upload_url_past_its_expiry_is_refused_by_s3_and_the_token_is_made_once() {
    let dir = util::work_dir("api-expiry");
    let (base, serve) = start(&dir, "upload_url_ttl_seconds = 1\n");
    let (status, v) = api(
        "POST",
        &format!("{base}/api/uploads"),
        Some(json!({"fileName": "late.mp4", "size": 5, "contentType": "video/mp4"})),
    );
    assert_eq!(status, 201, "{v}");
    std::thread::sleep(Duration::from_millis(2500));
    let (status, _, out) = call(
        "PUT",
        v["url"].as_str().expect("url"),
        &[("Content-Type", "video/mp4")],
        Some(b"12345"),
    );
    let out = String::from_utf8_lossy(&out);
    assert_eq!(status, 403, "{out}");
    assert!(out.contains("<Code>AccessDenied</Code>"), "{out}");
    drop(serve);

    // Without a configured token, one is made at first start (private) and kept.
    let data = dir.join("fresh");
    let port = free_port();
    let run = || {
        Proc(
            Command::new(env!("CARGO_BIN_EXE_mpe"))
                .args(["serve", "--data", data.to_str().expect("utf-8")])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .env_remove("MPE_API_TOKEN")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("mpe serve"),
        )
    };
    let wait = || wait_port(port, "mpe serve");
    let p = run();
    wait();
    let token = std::fs::read_to_string(data.join("api-token")).expect("api-token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("api-token"))
        .expect("api-token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(p);
    let _p = run();
    wait();
    assert_eq!(
        std::fs::read_to_string(data.join("api-token")).expect("api-token"),
        token
    );
    let (status, _, _) = call(
        "GET",
        &format!("http://127.0.0.1:{port}/api/status"),
        &[("Authorization", &format!("Bearer {}", token.trim()))],
        None,
    );
    assert_eq!(status, 200);
}

/// What tests/player/web.mjs saw driving the page at `base` with `file` (and `args`);
/// fails unless every step ran.
fn page(base: &str, file: &Path, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(util::repo().join("tests/player/web.mjs"))
        .args(["--base", base, "--token", TOKEN])
        .args(args)
        .arg("--file")
        .arg(file)
        .stderr(Stdio::inherit())
        .output()
        .expect("node tests/player/web.mjs (run tests/player/setup.sh first)");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("web.mjs: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(out.status.success(), "{seen:#}");
    seen
}

#[test]
fn the_web_page_uploads_a_file_follows_it_to_complete_and_plays_it_with_a_rendition_switch() {
    let dir = util::work_dir("api-page");
    // The mobile ladder of a 360p source is two renditions (360p and 240p).
    let (base, _serve) = start(&dir, "profile = \"mobile\"\n");
    // The page and its player libraries come from mpe itself.
    for (path, ct) in [
        ("/", "text/html; charset=utf-8"),
        ("/web/app.js", "text/javascript; charset=utf-8"),
        ("/web/hls.min.js", "text/javascript"),
        ("/web/dash.all.min.js", "text/javascript"),
    ] {
        let (status, hs, body) = call("GET", &format!("{base}{path}"), &[], None);
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&hs, "content-type"), ct, "{path}");
        assert!(body.len() > 100, "{path}");
        assert!(
            header(&hs, "content-security-policy").contains("default-src 'self'"),
            "{path}: nothing from another origin"
        );
    }
    let src = util::fixture("web_30");
    let file = dir.join("clip.mp4");
    std::fs::copy(&src, &file).expect("copy the fixture");
    let size = std::fs::metadata(&file).expect("clip").len();
    let seen = page(&base, &file, &[]);
    assert_eq!(seen["fragmentKept"], "", "the token leaves the address bar");
    assert_eq!(seen["uploadState"], "uploaded", "{seen:#}");
    let bars: Vec<u64> = seen["bars"]
        .as_array()
        .expect("bars")
        .iter()
        .filter_map(Value::as_f64)
        .map(|v| v as u64)
        .collect();
    assert_eq!(bars.last(), Some(&size), "the bar ends full: {bars:?}");
    assert!(
        bars.iter().filter(|&&b| b > 0 && b < size).count() >= 2,
        "the bar moved on the way: {bars:?}"
    );
    assert_eq!(seen["final"], "COMPLETE", "{seen:#}");
    let statuses: Vec<&str> = seen["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(statuses.last(), Some(&"COMPLETE"), "{statuses:?}");
    assert!(
        seen["playedTo"].as_f64().is_some_and(|t| t > 1.0),
        "{seen:#}"
    );
    assert_eq!(
        seen["renditions"].as_array().map(Vec::len),
        Some(3),
        "Auto and two: {seen:#}"
    );
    assert_ne!(seen["switched"]["from"], seen["switched"]["to"], "{seen:#}");
    assert!(seen["pageErrors"].is_null(), "{seen:#}");
    // The page's download links and thumbnails are the record's, and they load.
    let (_, record) = api("GET", &format!("{base}/api/status/clip.mp4"), None);
    assert_eq!(seen["downloads"], record["outputs"]["mp4"], "{seen:#}");
    let widths = seen["thumbnails"].as_array().expect("thumbnails");
    assert!(
        !widths.is_empty() && widths.iter().all(|w| w.as_u64() > Some(0)),
        "{seen:#}"
    );
    // The tile shown over the seek bar is the one the WebVTT track gives for that time,
    // cut from a sheet of the mobile profile's 5 x 5 tiles.
    let track = record["outputs"]["trickplay"].as_str().expect("trick play");
    assert!(
        track.ends_with("/trickplay/clip_trickplay.vtt"),
        "{record:#}"
    );
    let (status, _, body) = call("GET", track, &[], None);
    assert_eq!(status, 200, "{track}");
    let vtt = String::from_utf8(body).expect("utf-8");
    let tile = &seen["tile"];
    let at = tile["time"].as_f64().expect("time");
    // The fixture runs 12 s: 90 % of the bar is past the first 10 s tile, so the tile is
    // not the sheet's corner.
    assert!(at > 10.0, "hovered at 90% of the bar: {seen:#}");
    let cue = vtt
        .split("\n\n")
        .filter_map(|c| {
            let (times, target) = c.trim().split_once('\n')?;
            let (from, to) = times.split_once(" --> ")?;
            let secs = |t: &str| {
                t.split(':')
                    .try_fold(0.0, |acc, p| p.parse::<f64>().map(|v| acc * 60.0 + v))
                    .ok()
            };
            Some((secs(from)?, secs(to)?, target.to_string()))
        })
        .find(|(from, to, _)| at >= *from && at < *to)
        .unwrap_or_else(|| panic!("no cue covers {at} s: {vtt}"));
    let (sheet, xywh) = cue.2.split_once("#xywh=").expect("a spatial fragment");
    let n: Vec<u64> = xywh.split(',').filter_map(|v| v.parse().ok()).collect();
    assert!(
        tile["src"]
            .as_str()
            .is_some_and(|s| s.ends_with(&format!("/trickplay/{sheet}"))),
        "{seen:#} {vtt}"
    );
    // The sheet is drawn shifted left and up by the tile's corner.
    let shift: Vec<u64> = tile["position"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.trim_end_matches("px").parse::<f64>().ok())
        .map(|v| v.abs() as u64)
        .collect();
    assert_eq!(
        (tile["width"].as_u64(), tile["height"].as_u64(), shift),
        (Some(n[2]), Some(n[3]), vec![n[0], n[1]]),
        "{seen:#} {vtt}"
    );
    assert_eq!(tile["sheet"], json!([n[2] * 5, n[3] * 5]), "{seen:#}");
}

#[test]
fn a_page_closed_mid_upload_resumes_from_the_parts_s3_holds_and_each_part_is_sent_once() {
    let dir = util::work_dir("api-page-resume");
    // 5 MiB parts above 6 MiB: the bulky fixture goes in three.
    let (base, _serve) = start(
        &dir,
        "upload_max_bytes = 104857600\nmultipart_threshold_bytes = 6291456\npart_max_bytes = 5242880\n",
    );
    let file = dir.join("big.mp4");
    std::fs::copy(util::fixture("bulky"), &file).expect("copy the fixture");
    let seen = page(&base, &file, &["--resume"]);
    let parts = seen["parts"].as_u64().expect("parts");
    assert!(parts >= 3, "{seen:#}");
    assert_eq!(
        seen["beforeClose"].as_object().map(|o| o.len() as u64),
        Some(parts - 1),
        "all but the last part landed before the page closed: {seen:#}"
    );
    let want: serde_json::Map<String, Value> =
        (1..=parts).map(|n| (n.to_string(), json!(1))).collect();
    assert_eq!(
        seen["answered"],
        Value::Object(want),
        "each part sent once: {seen:#}"
    );
    assert_eq!(seen["uploadState"], "uploaded", "{seen:#}");
    assert!(
        seen["uploadInfo"].as_str().is_some_and(|i| i == "uploaded"),
        "{seen:#}"
    );
    // The object is the file, byte for byte, and its asset is published.
    let r = ended(&base, "big.mp4", Duration::from_secs(300));
    assert_eq!(r["status"], "COMPLETE", "{r}");
    let stored = dir.join("data/buckets/mpe-raw-local/uploads/big.mp4");
    assert_eq!(
        std::fs::read(stored).expect("the object"),
        std::fs::read(&file).expect("the file")
    );
}
