//! The pipeline's Lambda handlers (`cloud::lambda`) with real event documents, against
//! moto's S3 and DynamoDB, `mpe mediaconvert serve`'s Probe and `mpe serve`'s S3 (which
//! checks every signature) on 127.0.0.1, through the SDK clients they run with in AWS.

use std::time::Duration;

use crate::mediaconvert::{free_port, moto, wait_port};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use cloud::lambda::{api, authorize, job_state, status, validate};
use serde_json::{json, Value};

use crate::mediaconvert::{boto3, stack};
use crate::util;

const BUCKET: &str = "mpe-raw-dev-123456789012";

pub(crate) fn shared(url: &str) -> aws_config::SdkConfig {
    shared_as(url, "testing", "testing")
}

/// [`shared`] with other credentials.
fn shared_as(url: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(cloud::aws::http_client())
        .region(Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new(key, secret, None, None, "test"),
        ))
        .endpoint_url(url)
        .build()
}

/// A real-shaped event document from `cloud/tests/events/`.
fn event_doc(name: &str) -> Value {
    let path = util::repo().join(format!("cloud/tests/events/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("JSON")
}

/// "Object Created" as EventBridge delivers it from S3, for `key` and `size`, passed on
/// as the state machine's Validate task does (`executionId`, `$.detail`).
fn created(key: &str, size: u64) -> Value {
    let mut e = event_doc("s3-object-created");
    e["detail"]["object"]["key"] = json!(key);
    e["detail"]["object"]["size"] = json!(size);
    json!({ "executionId": "exec-1", "detail": e["detail"] })
}

#[test]
fn handlers_judge_uploads_update_records_and_presign_puts() {
    let st = stack(&util::work_dir("lambda"), None);
    let (python, url) = (st.python.clone(), st.s3_url.clone());
    let short = util::fixture("short");
    let mkv = util::fixture("mkv_long_audio");
    let text = util::fixture("not_video");
    boto3(
        &python,
        &url,
        &format!(
            "s3.create_bucket(Bucket='{BUCKET}', CreateBucketConfiguration={{'LocationConstraint': 'eu-west-3'}})\n\
             s3.upload_file({short:?}, '{BUCKET}', 'uploads/short.mp4')\n\
             s3.upload_file({mkv:?}, '{BUCKET}', 'uploads/mobile/long.mkv')\n\
             s3.upload_file({short:?}, '{BUCKET}', 'uploads/tagged.mp4', ExtraArgs={{'Metadata': {{'mpe-profile': 'mobile'}}}})\n\
             s3.upload_file({text:?}, '{BUCKET}', 'uploads/notes.mp4')\n\
             ddb = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='eu-west-3')\n\
             ddb.create_table(TableName='jobs', KeySchema=[{{'AttributeName': 'id', 'KeyType': 'HASH'}}],\n\
                 AttributeDefinitions=[{{'AttributeName': 'id', 'AttributeType': 'S'}}], BillingMode='PAY_PER_REQUEST')\n\
             ddb.put_item(TableName='jobs', Item={{'id': {{'S': 'exec-1'}}, 'status': {{'S': 'SUBMITTED'}}}})",
            short = short.to_string_lossy(),
            mkv = mkv.to_string_lossy(),
            text = text.to_string_lossy(),
        ),
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).expect("size").len();
    let conf = shared(&url);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let mc = aws_sdk_mediaconvert::Client::new(&shared(&st.mc_url));
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // validate: real files, read back from S3 by their first bytes, then probed by
    // MediaConvert.
    let settings = validate::Settings {
        raw_bucket: BUCKET.into(),
        prefix: "uploads/".into(),
        default_profile: "default".into(),
        profiles: vec!["default".into(), "mobile".into()],
    };
    let judge = |key: &str, bytes: u64| {
        rt.block_on(validate::handle(&s3, &mc, &settings, &created(key, bytes)))
            .expect("handled")
    };
    let v = judge("uploads/short.mp4", size(&short));
    assert_eq!(
        (&v["accepted"], &v["input"], &v["profile"], &v["reason"]),
        (
            &json!(true),
            &json!(format!("s3://{BUCKET}/uploads/short.mp4")),
            &json!("default"),
            &Value::Null
        ),
        "{v}"
    );
    let probe = cloud::probe::ProbeResult::from_json(&v["probe"]).expect("a ProbeResult");
    let media = cloud::probe::media_info(&probe, "short").expect("facts");
    assert_eq!((media.video[0].width, media.video[0].height), (640, 360));
    let v = judge("uploads/mobile/long.mkv", size(&mkv));
    assert_eq!(
        (v["accepted"].clone(), v["profile"].clone()),
        (json!(true), json!("mobile")),
        "{v}"
    );
    let v = judge("uploads/tagged.mp4", size(&short));
    assert_eq!(v["profile"], "mobile", "metadata names the profile: {v}");
    let v = judge("uploads/notes.mp4", size(&text));
    assert_eq!(v["accepted"], false, "{v}");
    assert!(
        v["reason"]
            .as_str()
            .expect("reason")
            .contains("not a video container"),
        "{v}"
    );

    // job-state: COMPLETE updates the record the state machine wrote; another job's
    // event changes nothing.
    let mut event = event_doc("mediaconvert-complete");
    event["detail"]["userMetadata"]["mpe_job_id"] = json!("exec-1");
    let updated = |e: &Value| {
        rt.block_on(job_state::handle(&ddb, "jobs", e))
            .expect("handled")["updated"]
            .clone()
    };
    let records = || {
        boto3(
            &python,
            &url,
            "ddb = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='eu-west-3')\n\
             print(json.dumps(ddb.scan(TableName='jobs')['Items']))",
        )
    };
    assert_eq!(updated(&event), true);
    let mut other = event.clone();
    other["detail"]["userMetadata"]["mpe_job_id"] = json!("exec-unknown");
    assert_eq!(updated(&other), false);
    let items = records();
    let items = items.as_array().expect("items");
    assert_eq!(items.len(), 1, "no record made for a foreign id: {items:?}");
    assert_eq!(items[0]["status"]["S"], "COMPLETE");
    assert_eq!(items[0]["mediaConvertJobId"]["S"], "1732568975123-abc123");
    assert_eq!(
        items[0]["outputs"]["L"][1]["S"],
        "s3://media/movie/cmaf/movie.m3u8"
    );

    // job-state: ERROR records the code and message.
    let mut failed = event_doc("mediaconvert-error");
    failed["detail"]["userMetadata"]["mpe_job_id"] = json!("exec-1");
    assert_eq!(updated(&failed), true);
    let items = records()[0].clone();
    assert_eq!(items["status"]["S"], "ERROR", "{items}");
    assert!(
        items.to_string().contains("Unable to open input file"),
        "{items}"
    );
}

const TOKEN: &str = "lambda-api-token-0123456789";

/// An API Gateway HTTP API request (payload format 2.0) as the `api` handler gets it.
fn request(method: &str, raw_path: &str, query: Value, body: Option<Value>) -> Value {
    let mut e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "headers": { "authorization": format!("Bearer {TOKEN}"), "content-type": "application/json" },
        "queryStringParameters": query,
        "requestContext": { "http": { "method": method, "path": raw_path } },
        "isBase64Encoded": false,
    });
    if let Some(b) = body {
        e["body"] = json!(b.to_string());
    }
    e
}

/// The answer's status and JSON body.
fn answer(v: &Value) -> (u16, Value) {
    let status = v["statusCode"].as_u64().expect("statusCode") as u16;
    let body = v["body"].as_str().expect("body");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A PUT or POST of `body` to a presigned URL; the status and the ETag.
fn send(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut req = ureq::request(method, url);
    if let Some(ct) = content_type {
        req = req.set("Content-Type", ct);
    }
    let r = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = r.status();
    let etag = r.header("etag").unwrap_or_default().to_string();
    let text = r.into_string().unwrap_or_default();
    assert!(status < 300, "{method} {url}: {status} {text}");
    (status, etag)
}

/// The `event:` blocks of a server-sent-events body: (id, data as JSON).
fn sse(body: &str) -> (Vec<(String, Value)>, Option<String>) {
    let mut out = Vec::new();
    let mut last = None;
    for block in body.split("\n\n") {
        let field = |name: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{name}: "))
                    .or_else(|| (l == format!("{name}:")).then_some(""))
            })
        };
        if let Some(id) = field("id") {
            last = Some(id.to_string());
        }
        if let (Some(id), Some(data)) = (field("id"), field("data").filter(|d| !d.is_empty())) {
            assert_eq!(field("event"), Some(cloud::api::CHANGE), "{block}");
            out.push((
                id.to_string(),
                serde_json::from_str(data).expect("event JSON"),
            ));
        }
    }
    (out, last)
}

#[test]
fn the_api_handlers_answer_by_the_contract_with_real_s3_and_dynamodb() {
    let dir = util::work_dir("lambda-api");
    let python = util::python();
    let (_moto, ddb_url) = moto(&python, false);
    // The status table as the stack defines it, keys and indexes.
    let stack = cloud::stack::generate().expect("stack");
    let table = &stack["Resources"]["StatusTable"]["Properties"];
    boto3(
        &python,
        &ddb_url,
        &format!(
            "t = json.loads({:?})\n\
             ddb = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='eu-west-3')\n\
             ddb.create_table(TableName='status', BillingMode='PAY_PER_REQUEST',\n\
                 AttributeDefinitions=t['AttributeDefinitions'], KeySchema=t['KeySchema'],\n\
                 GlobalSecondaryIndexes=t['GlobalSecondaryIndexes'])",
            table.to_string()
        ),
    );
    // `mpe serve`'s S3, which checks presigned signatures as S3 does.
    let port = free_port();
    let config = dir.join("mpe.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:{port}\"\nregion = \"eu-west-3\"\n\
             access_key_id = \"lambdatests\"\nsecret_access_key = \"lambdatestssecret\"\n",
            dir.join("data").to_str().expect("utf-8")
        ),
    )
    .expect("config");
    let _serve = crate::serve::serve_config(&dir, &config, &[]);
    wait_port(port, "mpe serve");
    let s3_url = format!("http://127.0.0.1:{port}");

    let s3_conf = shared_as(&s3_url, "lambdatests", "lambdatestssecret");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&s3_conf)
            .force_path_style(true)
            .build(),
    );
    let ddb = aws_sdk_dynamodb::Client::new(&shared(&ddb_url));
    let signer = api::Signer::of(&s3_conf).expect("signer");
    let clients = api::Clients {
        s3: &s3,
        ddb: &ddb,
        signer: &signer,
    };
    let settings = api::Settings {
        raw_bucket: "mpe-raw-local".into(),
        prefix: "uploads/".into(),
        table: "status".into(),
        profiles: vec!["default".into(), "mobile".into()],
        limits: cloud::api::Limits {
            max_size: 100 * 1024 * 1024,
            multipart_threshold: 6 * 1024 * 1024,
            max_part_size: 5 * 1024 * 1024,
            ttl: Duration::from_secs(900),
        },
    };
    let status_settings = status::Settings {
        table: "status".into(),
        prefix: "uploads/".into(),
        cdn: "https://cdn.example/".into(),
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let call = |method: &str, path: &str, query: Value, body: Option<Value>| {
        answer(&rt.block_on(api::handle(
            clients,
            &settings,
            &request(method, path, query, body),
        )))
    };
    let refused = |(status, v): (u16, Value), want: u16, code: &str| {
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (want, Some(code)),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    };
    let ask = |name: &str, size: u64, ct: &str| json!({"fileName": name, "size": size, "contentType": ct});
    let none = Value::Null;

    // The authorizer: the token in the header, or in the query for the stream only.
    let authorized = |e: &Value| authorize::handle(TOKEN, e)["isAuthorized"] == true;
    assert!(authorized(&request(
        "GET",
        "/api/status",
        none.clone(),
        None
    )));
    let mut wrong = request("GET", "/api/status", none.clone(), None);
    wrong["headers"]["authorization"] = json!("Bearer not-it");
    assert!(!authorized(&wrong));
    let mut stream = request("GET", "/api/events", json!({"token": TOKEN}), None);
    stream["headers"] = json!({});
    assert!(authorized(&stream));

    // What the contract refuses, with the codes mpe serve gives.
    refused(
        call("GET", "/api/nothing", none.clone(), None),
        404,
        "NotFound",
    );
    refused(
        call(
            "PUT",
            "/api/uploads",
            none.clone(),
            Some(ask("a.mp4", 1, "video/mp4")),
        ),
        405,
        "MethodNotAllowed",
    );
    refused(
        call("GET", "/api/status/none.mp4", none.clone(), None),
        404,
        "NotFound",
    );
    refused(
        call("GET", "/api/uploads/no-such/parts", none.clone(), None),
        404,
        "NotFound",
    );
    refused(
        call("GET", "/api/status", json!({"limit": "0"}), None),
        400,
        "BadRequest",
    );
    refused(
        call("GET", "/api/status", json!({"nextToken": "zz"}), None),
        400,
        "BadRequest",
    );
    for (body, want, code) in [
        (ask("huge.mp4", 104_857_601, "video/mp4"), 413, "TooLarge"),
        (ask("page.mp4", 10, "text/html"), 415, "UnsupportedType"),
        (
            ask("../escape.mp4", 10, "video/mp4"),
            400,
            "InvalidFileName",
        ),
        (json!({"fileName": "a.mp4"}), 400, "BadRequest"),
    ] {
        refused(
            call("POST", "/api/uploads", none.clone(), Some(body)),
            want,
            code,
        );
    }
    let (status, v) = call("GET", "/api/status", none.clone(), None);
    assert_eq!(
        (status, &v["items"]),
        (200, &json!([])),
        "refused requests leave no record"
    );

    // One presigned PUT, which S3 takes.
    let small = vec![7u8; 200_000];
    let (status, single) = call(
        "POST",
        "/api/uploads",
        none.clone(),
        Some(ask("my clip.mp4", small.len() as u64, "video/mp4")),
    );
    assert_eq!(status, 201, "{single}");
    assert_eq!(
        (
            single["method"].as_str(),
            single["headers"]["Content-Type"].as_str()
        ),
        (Some("PUT"), Some("video/mp4"))
    );
    assert!(
        single["expiresAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{single}"
    );
    send(
        "PUT",
        single["url"].as_str().expect("url"),
        Some("video/mp4"),
        &small,
    );
    let (status, record) = call("GET", "/api/status/my%20clip.mp4", none.clone(), None);
    assert_eq!(status, 200, "{record}");
    assert_eq!(
        (record["status"].as_str(), &record["uploadId"]),
        (Some("UPLOADING"), &single["uploadId"])
    );

    // Multipart: three 5 MiB parts, the first sent, the rest after asking which S3 holds,
    // then the presigned completion.
    let big: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (status, multi) = call(
        "POST",
        "/api/uploads",
        none.clone(),
        Some(ask("multi.mp4", big.len() as u64, "video/mp4")),
    );
    assert_eq!(status, 201, "{multi}");
    let parts = multi["parts"].as_array().expect("parts").clone();
    let part_size = multi["partSize"].as_u64().expect("partSize") as usize;
    assert_eq!((parts.len(), part_size), (3, 5 * 1024 * 1024));
    let chunk = |n: usize| &big[(n - 1) * part_size..(n * part_size).min(big.len())];
    let mut etags = vec![
        send(
            "PUT",
            parts[0]["url"].as_str().expect("url"),
            None,
            chunk(1),
        )
        .1,
    ];
    let id = multi["uploadId"].as_str().expect("uploadId");
    let (status, held) = call(
        "GET",
        &format!("/api/uploads/{id}/parts"),
        none.clone(),
        None,
    );
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["parts"].as_array().map(Vec::len), Some(1), "{held}");
    assert_eq!(held["parts"][0]["partNumber"], 1);
    assert_eq!(held["parts"][0]["size"], part_size);
    assert_eq!(held["parts"][0]["etag"].as_str(), Some(etags[0].as_str()));
    for n in 2..=3 {
        etags.push(
            send(
                "PUT",
                parts[n - 1]["url"].as_str().expect("url"),
                None,
                chunk(n),
            )
            .1,
        );
    }
    let xml: String = etags
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            )
        })
        .collect();
    assert_eq!(multi["complete"]["method"], "POST");
    send(
        "POST",
        multi["complete"]["url"].as_str().expect("complete url"),
        Some("application/xml"),
        format!("<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>").as_bytes(),
    );
    let head = rt
        .block_on(
            s3.head_object()
                .bucket("mpe-raw-local")
                .key("uploads/multi.mp4")
                .send(),
        )
        .expect("the completed object");
    assert_eq!(head.content_length(), Some(big.len() as i64));
    refused(
        call(
            "GET",
            &format!("/api/uploads/{id}/parts"),
            none.clone(),
            None,
        ),
        404,
        "NotFound",
    );

    // The status handler: S3's Object Created, then the job's state changes.
    let apply = |e: &Value| {
        rt.block_on(status::handle(&ddb, &s3, &status_settings, e))
            .expect("handled")
    };
    let mut created_doc = event_doc("s3-object-created");
    created_doc["detail"]["object"]["key"] = json!("uploads/multi.mp4");
    assert_eq!(apply(&created_doc)["updated"], true);
    let (_, r) = call("GET", "/api/status/multi.mp4", none.clone(), None);
    assert_eq!(
        (r["status"].as_str(), &r["uploadId"]),
        (Some("UPLOADED"), &json!(id)),
        "{r}"
    );
    let of_upload = |name: &str, status: &str| {
        let mut e = event_doc(name);
        e["detail"]["userMetadata"]["mpe_upload"] = json!("s3://mpe-raw-local/uploads/multi.mp4");
        e["detail"]["status"] = json!(status);
        e
    };
    let mut progressing = of_upload("mediaconvert-progressing", "STATUS_UPDATE");
    progressing["detail"]["jobProgress"] = json!({ "jobPercentComplete": 40 });
    assert_eq!(apply(&progressing)["updated"], true);
    let (_, r) = call("GET", "/api/status/multi.mp4", none.clone(), None);
    assert_eq!(
        (
            r["status"].as_str(),
            r["percent"].as_u64(),
            r["jobId"].as_str()
        ),
        (Some("PROGRESSING"), Some(40), Some("1732568975123-abc123")),
        "{r}"
    );
    let late = of_upload("mediaconvert-progressing", "SUBMITTED");
    assert_eq!(
        apply(&late)["updated"],
        false,
        "a late SUBMITTED moves nothing back"
    );
    let mut complete = of_upload("mediaconvert-complete", "COMPLETE");
    complete["detail"]["userMetadata"]["mpe_job_id"] = json!("exec-42");
    // The job asked for trick play: its three frame captures (made by ffmpeg) are in the
    // thumbnails bucket, and the handler tiles them before it says COMPLETE.
    let order = json!({ "destination": "s3://mpe-media-local/multi/trickplay/", "base": "multi",
        "interval": 4.0, "columns": 2, "rows": 1, "width": 80, "quality": 80 });
    complete["detail"]["userMetadata"]["mpe_trickplay"] = json!(order.to_string());
    let captures = util::work_dir("lambda-captures");
    for i in 0..3 {
        let jpg = captures.join(format!("{i}.jpg"));
        let o = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("color=c={}:s=320x180", ["red", "lime", "blue"][i]))
            .args(["-frames:v", "1"])
            .arg(&jpg)
            .output()
            .expect("ffmpeg");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        rt.block_on(
            s3.put_object()
                .bucket("mpe-thumbnails-local")
                .key(format!("multi/thumbnails/multi_thumb.{i:07}.jpg"))
                .body(std::fs::read(&jpg).expect("capture").into())
                .send(),
        )
        .expect("capture stored");
    }
    complete["detail"]["outputGroupDetails"]
        .as_array_mut()
        .expect("groups")
        .push(json!({ "type": "FILE_GROUP", "outputDetails": [{
            "outputFilePaths": ["s3://mpe-thumbnails-local/multi/thumbnails/multi_thumb.0000002.jpg"],
            "durationInMs": 10000, "videoDetails": { "widthInPx": 320, "heightInPx": 180 } }] }));
    assert_eq!(apply(&complete)["updated"], true);
    let got = |key: &str| {
        let o = rt
            .block_on(s3.get_object().bucket("mpe-media-local").key(key).send())
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        rt.block_on(o.body.collect())
            .expect("body")
            .into_bytes()
            .to_vec()
    };
    let vtt = String::from_utf8(got("multi/trickplay/multi_trickplay.vtt")).expect("utf-8");
    assert!(
        vtt.starts_with(
            "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nmulti_trickplay_00001.jpg#xywh=0,0,80,45\n"
        ) && vtt
            .ends_with("00:00:08.000 --> 00:00:10.000\nmulti_trickplay_00002.jpg#xywh=0,0,80,45\n"),
        "{vtt}"
    );
    // Two columns, one row: both sheets are two tiles wide, the second half empty.
    for n in [1, 2] {
        let sheet = captures.join(format!("sheet{n}.jpg"));
        std::fs::write(
            &sheet,
            got(&format!("multi/trickplay/multi_trickplay_0000{n}.jpg")),
        )
        .expect("sheet");
        let o = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&sheet)
            .output()
            .expect("ffprobe");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "mjpeg,160,45",
            "sheet {n}"
        );
    }
    let (_, r) = call("GET", "/api/status/multi.mp4", none.clone(), None);
    assert_eq!(
        (r["status"].as_str(), r["percent"].as_u64()),
        (Some("COMPLETE"), Some(100)),
        "{r}"
    );
    assert_eq!(
        r["outputs"]["trickplay"], "https://cdn.example/multi/trickplay/multi_trickplay.vtt",
        "{r}"
    );
    let hls = r["outputs"]["hls"].as_str().expect("hls URL");
    assert!(
        hls.starts_with("https://cdn.example/") && hls.ends_with(".m3u8"),
        "{r}"
    );
    let after_end = of_upload("mediaconvert-error", "ERROR");
    assert_eq!(apply(&after_end)["updated"], false, "an ended record stays");
    let mut foreign = event_doc("mediaconvert-complete");
    foreign["detail"]["userMetadata"] = json!({});
    assert_eq!(apply(&foreign)["updated"], false);
    let rejected = json!({ "rejected": { "key": "uploads/my clip.mp4",
        "reason": { "Error": "UploadRejected", "Cause": "not a video container" } } });
    assert_eq!(apply(&rejected)["updated"], true);
    let (_, r) = call("GET", "/api/status/my%20clip.mp4", none.clone(), None);
    assert_eq!(
        (r["status"].as_str(), r["error"].as_str()),
        (Some("ERROR"), Some("not a video container")),
        "{r}"
    );

    // The list, newest first, a page at a time.
    let (status, first) = call("GET", "/api/status", json!({"limit": "1"}), None);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["items"][0]["fileName"], "my clip.mp4", "{first}");
    let token = first["nextToken"].as_str().expect("a next page");
    let (_, second) = call(
        "GET",
        "/api/status",
        json!({"limit": "1", "nextToken": token}),
        None,
    );
    assert_eq!(second["items"][0]["fileName"], "multi.mp4", "{second}");
    let (_, all) = call("GET", "/api/status", none.clone(), None);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["nextToken"], Value::Null, "{all}");

    // The event stream: every change from the start, then nothing after the last id.
    let events = |headers: Value, query: Value| {
        let mut e = request("GET", "/api/events", query, None);
        for (k, v) in headers.as_object().into_iter().flatten() {
            e["headers"][k] = v.clone();
        }
        let out = rt.block_on(api::handle(clients, &settings, &e));
        assert_eq!(out["statusCode"], 200, "{out}");
        assert_eq!(out["headers"]["content-type"], "text/event-stream");
        let body = out["body"].as_str().expect("body").to_string();
        assert!(body.starts_with("retry: "), "{body}");
        sse(&body)
    };
    let (changes, last) = events(json!({}), json!({"from": "start"}));
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|(_, c)| {
            (
                c["detail"]["fileName"].as_str().unwrap_or(""),
                c["detail"]["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // A name's record is one item: the stream from the start holds each name's latest.
    assert_eq!(
        seen,
        [("multi.mp4", "COMPLETE"), ("my clip.mp4", "ERROR")],
        "{changes:?}"
    );
    let last = last.expect("an id");
    let (after, again) = events(json!({"last-event-id": last}), none.clone());
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(again.as_deref(), Some(last.as_str()));
}
