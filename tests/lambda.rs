//! The pipeline's Lambda handlers (`cloud::lambda`) with real event documents, against
//! moto's S3 and DynamoDB and `mpe mediaconvert serve`'s Probe on 127.0.0.1, through the
//! SDK clients they run with in AWS.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use cloud::lambda::{job_state, upload_url, validate};
use serde_json::{json, Value};

use crate::mediaconvert::{boto3, stack};
use crate::util;

const BUCKET: &str = "mpe-raw-dev-123456789012";

pub(crate) fn shared(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(cloud::aws::http_client())
        .region(Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "test"),
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

    // upload-url: the presigned PUT works against the S3 server.
    let us = upload_url::Settings {
        raw_bucket: BUCKET.into(),
        prefix: "uploads/".into(),
        ttl: Duration::from_secs(900),
        profiles: vec!["default".into()],
    };
    let req = json!({ "version": "2.0", "queryStringParameters": { "name": "new.mp4" } });
    let out = rt
        .block_on(upload_url::handle(&s3, &us, &req))
        .expect("handled");
    assert_eq!(out["statusCode"], 200, "{out}");
    let body: Value = serde_json::from_str(out["body"].as_str().expect("body")).expect("JSON");
    let bytes = std::fs::read(&short).expect("source");
    let put = ureq::put(body["url"].as_str().expect("url"))
        .send_bytes(&bytes)
        .expect("PUT to the presigned URL");
    assert_eq!(put.status(), 200);
    let head = boto3(
        &python,
        &url,
        &format!("print(json.dumps(s3.head_object(Bucket='{BUCKET}', Key='uploads/new.mp4')['ContentLength']))"),
    );
    assert_eq!(head, json!(size(&short)));
}
