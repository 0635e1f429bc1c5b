//! `mpe serve` alone (no moto): the AWS CLI, boto3 and a plain HTTP client send uploads
//! to its S3 API as they would to AWS; each upload becomes one job whose outputs land in
//! the media bucket under MediaConvert's names and play in hls.js and dash.js from the
//! delivery path; a boto3 Lambda-style client runs a MediaConvert job on the same port;
//! bad signatures, wrong keys, expired URLs and traversal keys get S3's XML errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mediaconvert::{free_port, Proc};
use crate::util;

/// A running `mpe serve` on a free port with its data folder.
struct Serve {
    _proc: Proc,
    url: String,
    data: PathBuf,
    key: String,
    secret: String,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        let port = free_port();
        let data = dir.join("data");
        let log = std::fs::File::create(dir.join("serve.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_mpe"))
            .args(["serve", "--data", data.to_str().expect("utf-8")])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--jobs", "2"])
            .env_remove("MPE_ACCESS_KEY_ID")
            .env_remove("MPE_SECRET_ACCESS_KEY")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mpe serve");
        let proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mpe serve did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let creds = std::fs::read_to_string(data.join("credentials")).expect("credentials");
        let field = |name: &str| {
            creds
                .lines()
                .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == name))
                .map(|(_, v)| v.trim().to_string())
                .expect("credentials field")
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("credentials"))
            .expect("credentials")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
        Serve {
            _proc: proc,
            url: format!("http://127.0.0.1:{port}"),
            data,
            key: field("aws_access_key_id"),
            secret: field("aws_secret_access_key"),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    fn aws(&self, config: &Path, args: &[&str]) -> String {
        let o = Command::new(util::repo().join("target/awscli/bin/aws"))
            .args(["--endpoint-url", &self.url])
            .args(args)
            .envs(self.env())
            .env("AWS_CONFIG_FILE", config)
            .output()
            .expect("run the AWS CLI (scripts/setup-python.sh installs it)");
        assert!(
            o.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn python(&self, code: &str, args: &[&str]) -> Value {
        let o = Command::new(util::python())
            .arg("-c")
            .arg(code)
            .arg(&self.url)
            .args(args)
            .envs(self.env())
            .output()
            .expect("python");
        assert!(
            o.status.success(),
            "python: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("the script prints JSON")
    }

    /// Every event in the event log.
    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.data.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `n` jobs have ended; their final events.
    fn ended(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let ended: Vec<Value> = self
                .events()
                .into_iter()
                .filter(|e| {
                    e["detail-type"] == "MediaConvert Job State Change"
                        && matches!(e["detail"]["status"].as_str(), Some("COMPLETE" | "ERROR"))
                })
                .collect();
            if ended.len() >= n || Instant::now() > deadline {
                return ended;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

const BOTO3: &str = r#"
import boto3, botocore, botocore.config, json, sys, time, urllib.request, urllib.error, hashlib
from boto3.s3.transfer import TransferConfig
url, small, bulky = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
out = {}
# Multipart with parallel parts.
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
s3.upload_file(bulky, 'mpe-raw-local', 'uploads/boto.mp4', Config=cfg)
head = s3.head_object(Bucket='mpe-raw-local', Key='uploads/boto.mp4')
out['multipart_etag'] = head['ETag']
out['multipart_size'] = head['ContentLength']
# A presigned PUT, sent with plain HTTP.
# (botocore signs it with SigV2 here, the query form S3 still takes; the content type
# is part of what is signed, as a browser's upload sends one.)
signed = s3.generate_presigned_url('put_object', Params={'Bucket': 'mpe-raw-local', 'Key': 'uploads/presigned.mp4', 'ContentType': 'video/mp4'}, ExpiresIn=300)
data = open(small, 'rb').read()
r = urllib.request.urlopen(urllib.request.Request(signed, data=data, method='PUT', headers={'Content-Type': 'video/mp4'}))
out['presigned_status'] = r.status
got = s3.get_object(Bucket='mpe-raw-local', Key='uploads/presigned.mp4', Range='bytes=10-109')
body = got['Body'].read()
out['range_ok'] = body == data[10:110] and got['ContentRange'] == 'bytes 10-109/%d' % len(data)
out['etag_is_md5'] = got['ETag'].strip('"') == hashlib.md5(data).hexdigest()
listed = s3.list_objects_v2(Bucket='mpe-raw-local', Prefix='uploads/')
out['listed'] = sorted(o['Key'] for o in listed.get('Contents', []))
# Paged listing with a delimiter.
page = s3.list_objects_v2(Bucket='mpe-raw-local', Delimiter='/', MaxKeys=1)
out['top'] = [p['Prefix'] for p in page.get('CommonPrefixes', [])]
def code(f):
    try:
        f()
        return None
    except botocore.exceptions.ClientError as e:
        return e.response['Error']['Code']
bad = boto3.client('s3', endpoint_url=url, region_name='us-east-1', aws_access_key_id=s3._request_signer._credentials.access_key, aws_secret_access_key='wrong-secret-0000')
out['bad_secret'] = code(lambda: bad.list_objects_v2(Bucket='mpe-raw-local'))
other = boto3.client('s3', endpoint_url=url, region_name='us-east-1', aws_access_key_id='AKIDNOTTHISONE', aws_secret_access_key='whatever-secret')
out['wrong_key'] = code(lambda: other.list_objects_v2(Bucket='mpe-raw-local'))
out['traversal'] = code(lambda: s3.put_object(Bucket='mpe-raw-local', Key='uploads/a/../../../../etc/x', Body=b'x'))
out['no_bucket'] = code(lambda: s3.put_object(Bucket='no-such-bucket', Key='x', Body=b'x'))
out['no_key'] = code(lambda: s3.head_object(Bucket='mpe-raw-local', Key='uploads/none.mp4'))
v4 = boto3.client('s3', endpoint_url=url, region_name='us-east-1', config=botocore.config.Config(signature_version='s3v4'))
expiring = v4.generate_presigned_url('get_object', Params={'Bucket': 'mpe-raw-local', 'Key': 'uploads/presigned.mp4'}, ExpiresIn=1)
time.sleep(2.5)
def http_error(u, method='GET', data=None):
    try:
        urllib.request.urlopen(urllib.request.Request(u, data=data, method=method))
        return None
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
out['expired'] = http_error(expiring)
out['anonymous'] = http_error(url + '/mpe-raw-local/uploads/presigned.mp4')
# A Lambda-style client: MediaConvert on the same port, reading and writing its buckets.
mc = boto3.client('mediaconvert', endpoint_url=url, region_name='us-east-1')
s3.upload_file(small, 'mpe-raw-local', 'lambda/in.mp4')
job = json.load(open(sys.argv[4]))
job['Settings']['Inputs'][0]['FileInput'] = 's3://mpe-raw-local/lambda/in.mp4'
for g in job['Settings']['OutputGroups']:
    for k, v in g['OutputGroupSettings'].items():
        if isinstance(v, dict) and 'Destination' in v:
            v['Destination'] = 's3://mpe-media-local/lambda/' + v['Destination'].split('/', 3)[3]
made = mc.create_job(Role=job['Role'], Settings=job['Settings'])['Job']
deadline = time.time() + 240
while True:
    j = mc.get_job(Id=made['Id'])['Job']
    if j['Status'] in ('COMPLETE', 'ERROR', 'CANCELED') or time.time() > deadline:
        break
    time.sleep(0.5)
out['lambda_job'] = j['Status']
out['lambda_error'] = j.get('ErrorMessage')
out['lambda_outputs'] = sorted(o['Key'] for o in s3.list_objects_v2(Bucket='mpe-media-local', Prefix='lambda/').get('Contents', []))
bad_mc = boto3.client('mediaconvert', endpoint_url=url, region_name='us-east-1', aws_access_key_id=s3._request_signer._credentials.access_key, aws_secret_access_key='wrong-secret-0000')
out['mc_bad_secret'] = code(lambda: bad_mc.list_jobs())
print(json.dumps(out))
"#;

/// HTTP GET of the delivery path: (status, headers, body).
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = ureq::get(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = resp.status();
    let hs = resp
        .headers_names()
        .into_iter()
        .map(|n| (n.clone(), resp.header(&n).unwrap_or_default().to_string()))
        .collect();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).expect("body");
    (status, hs, body)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> &'a str {
    hs.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn real_clients_upload_to_serve_alone_and_each_upload_becomes_one_job_that_plays() {
    let small = util::fixture("short");
    let bulky = util::fixture("bulky");
    let dir = util::work_dir("serve");
    let serve = Serve::start(&dir);

    // outputs.json is describe-stacks' shape, with the stack's output keys.
    let outputs: Value = serde_json::from_slice(
        &std::fs::read(serve.data.join("outputs.json")).expect("outputs.json"),
    )
    .expect("JSON");
    let out = |k: &str| {
        outputs["Stacks"][0]["Outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .find(|o| o["OutputKey"] == k)
            .and_then(|o| o["OutputValue"].as_str())
            .unwrap_or_else(|| panic!("no output {k}"))
            .to_string()
    };
    assert_eq!(out("RawBucketName"), "mpe-raw-local");
    assert_eq!(out("Endpoint"), serve.url);

    // The AWS CLI: one single PUT, one multipart upload (threshold below the file).
    let single = dir.join("aws-single.cfg");
    std::fs::write(&single, "[default]\n").expect("config");
    let multi = dir.join("aws-multi.cfg");
    std::fs::write(
        &multi,
        "[default]\ns3 =\n  multipart_threshold = 64KB\n  multipart_chunksize = 5MB\n",
    )
    .expect("config");
    let src = small.to_str().expect("utf-8");
    serve.aws(
        &single,
        &["s3", "cp", src, "s3://mpe-raw-local/uploads/cli.mp4"],
    );
    serve.aws(
        &multi,
        &["s3", "cp", src, "s3://mpe-raw-local/uploads/climulti.mp4"],
    );
    let listed = serve.aws(&single, &["s3", "ls", "s3://mpe-raw-local/uploads/"]);
    assert!(
        listed.contains(" cli.mp4") && listed.contains(" climulti.mp4"),
        "{listed}"
    );
    let buckets = serve.aws(&single, &["s3", "ls"]);
    for b in ["mpe-raw-local", "mpe-media-local", "mpe-thumbnails-local"] {
        assert!(buckets.contains(b), "{buckets}");
    }

    // boto3: parallel multipart, a presigned PUT over plain HTTP, the refusals, and a
    // MediaConvert job on the same port.
    let job = dir.join("job.json");
    std::fs::write(&job, crate::cloud::render(&small, "default").to_string()).expect("job");
    let r = serve.python(
        BOTO3,
        &[
            src,
            bulky.to_str().expect("utf-8"),
            job.to_str().expect("utf-8"),
        ],
    );
    let bulky_len = std::fs::metadata(&bulky).expect("bulky").len();
    assert_eq!(r["multipart_size"], bulky_len, "{r}");
    let parts = bulky_len.div_ceil(5 << 20);
    assert!(
        r["multipart_etag"]
            .as_str()
            .is_some_and(|e| e.ends_with(&format!("-{parts}\""))),
        "a multipart ETag ends in its part count: {r}"
    );
    assert_eq!(r["presigned_status"], 200, "{r}");
    assert_eq!(r["range_ok"], true, "{r}");
    assert_eq!(r["etag_is_md5"], true, "{r}");
    assert_eq!(
        r["listed"],
        serde_json::json!([
            "uploads/boto.mp4",
            "uploads/cli.mp4",
            "uploads/climulti.mp4",
            "uploads/presigned.mp4"
        ]),
        "{r}"
    );
    assert_eq!(r["top"], serde_json::json!(["uploads/"]), "{r}");
    assert_eq!(r["bad_secret"], "SignatureDoesNotMatch", "{r}");
    assert_eq!(r["wrong_key"], "InvalidAccessKeyId", "{r}");
    assert_eq!(r["traversal"], "InvalidArgument", "{r}");
    assert_eq!(r["no_bucket"], "NoSuchBucket", "{r}");
    assert_eq!(r["no_key"], "404", "{r}");
    for k in ["expired", "anonymous"] {
        assert_eq!(r[k][0], 403, "{k}: {r}");
        let xml = r[k][1].as_str().expect("body");
        assert!(xml.contains("<Code>AccessDenied</Code>"), "{k}: {xml}");
    }
    assert_eq!(r["mc_bad_secret"], "ForbiddenException", "{r}");
    assert_eq!(r["lambda_job"], "COMPLETE", "{r}");
    assert!(
        r["lambda_outputs"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k.as_str().is_some_and(|k| k.ends_with(".m3u8"))),
        "{r}"
    );

    // Four uploads, four jobs (plus the Lambda-style one), each ended once, COMPLETE.
    let ended = serve.ended(5, Duration::from_secs(300));
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    assert_eq!(ended.len(), 5, "{ended:#?}\n{log}");
    let mut ids: Vec<&str> = ended
        .iter()
        .map(|e| e["detail"]["jobId"].as_str().expect("jobId"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each job ends exactly once: {ended:#?}");
    for e in &ended {
        assert_eq!(e["detail"]["status"], "COMPLETE", "{e:#}\n{log}");
    }
    let created = serve
        .events()
        .into_iter()
        .filter(|e| e["detail-type"] == "Object Created" && e["source"] == "aws.s3")
        .count();
    assert!(created >= 5, "an Object Created event per raw object");

    // Each upload's asset, under MediaConvert's names, from the delivery path.
    for asset in ["cli", "climulti", "boto", "presigned"] {
        let base = format!("{}/cdn/{asset}/cmaf/{asset}", serve.url);
        let (status, hs, body) = get(&format!("{base}.m3u8"), &[]);
        assert_eq!(status, 200, "{asset}");
        assert_eq!(header(&hs, "content-type"), "application/vnd.apple.mpegurl");
        assert_eq!(header(&hs, "access-control-allow-origin"), "*");
        assert!(header(&hs, "cache-control").contains("max-age=2"));
        assert!(String::from_utf8_lossy(&body).starts_with("#EXTM3U"));
        let (status, hs, _) = get(&format!("{base}.mpd"), &[]);
        assert_eq!(status, 200, "{asset}");
        assert_eq!(header(&hs, "content-type"), "application/dash+xml");
    }
    // Segments: immutable, ranged, revalidated by ETag; ffprobe reads them over HTTP.
    let seg = format!("{}/cdn/cli/cmaf/cli_360p_000000001.cmfv", serve.url);
    let (status, hs, whole) = get(&seg, &[]);
    assert_eq!(status, 200);
    assert!(header(&hs, "cache-control").contains("immutable"));
    assert_eq!(header(&hs, "content-type"), "video/mp4");
    let etag = header(&hs, "etag").to_string();
    let (status, hs, part) = get(&seg, &[("Range", "bytes=0-99")]);
    assert_eq!(status, 206);
    assert_eq!(part, whole[..100]);
    assert_eq!(
        header(&hs, "content-range"),
        format!("bytes 0-99/{}", whole.len())
    );
    let (status, _, _) = get(&seg, &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    let thumbs = serve.aws(
        &single,
        &["s3", "ls", "--recursive", "s3://mpe-thumbnails-local/cli/"],
    );
    assert!(thumbs.contains(".jpg"), "{thumbs}");
    let probe = util::ffprobe(Path::new(&format!(
        "{}/cdn/cli/mp4/cli_360p.mp4",
        serve.url
    )));
    assert!(
        util::stream(&probe, "video").is_some(),
        "the progressive MP4 over HTTP: {probe}"
    );

    // hls.js and dash.js play an asset from the delivery path.
    for (manifest, kind) in [("boto.m3u8", "hls"), ("boto.mpd", "dash")] {
        let out = Command::new("node")
            .arg(util::repo().join("tests/player/play.mjs"))
            .args([
                "--url",
                &format!("{}/cdn/boto/cmaf/{manifest}", serve.url),
                "--kind",
                kind,
                "--seconds",
                "1",
            ])
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
            .unwrap_or_else(|_| panic!("{stdout} {}", String::from_utf8_lossy(&out.stderr)));
        assert!(out.status.success() && v["ok"] == true, "{kind}: {v}");
    }
}
