//! `mpe serve` alone (no moto): the AWS CLI, boto3 and a plain HTTP client send uploads
//! to its S3 API as they would to AWS; each upload becomes one job whose outputs land in
//! the media bucket under MediaConvert's names and play in hls.js and dash.js from the
//! delivery path; a boto3 Lambda-style client runs a MediaConvert job on the same port;
//! bad signatures, wrong keys, expired URLs and traversal keys get S3's XML errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mediaconvert::{free_port, wait_port, Proc};
use crate::util;

/// `mpe serve --config CONFIG ARGS` with no settings from the environment, logging to
/// `dir/serve.log`.
pub fn serve_config(dir: &Path, config: &Path, args: &[&str]) -> Proc {
    let log = std::fs::File::create(dir.join("serve.log")).expect("log");
    Proc(
        Command::new(env!("CARGO_BIN_EXE_mpe"))
            .args(["serve", "--config", config.to_str().expect("utf-8")])
            .args(args)
            .env_remove("MPE_ACCESS_KEY_ID")
            .env_remove("MPE_SECRET_ACCESS_KEY")
            .env_remove("MPE_API_TOKEN")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mpe serve"),
    )
}

/// A running `mpe serve` on a free port with its data folder.
struct Serve {
    proc: Option<Proc>,
    port: u16,
    dir: PathBuf,
    url: String,
    data: PathBuf,
    key: String,
    secret: String,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        Serve::start_on(dir, free_port())
    }

    /// Kills the server as `kill -9` does and starts it again on the same data and port.
    fn kill_and_restart(&mut self) {
        drop(self.proc.take());
        let again = Serve::start_on(&self.dir, self.port);
        assert_eq!(
            (&again.key, &again.secret),
            (&self.key, &self.secret),
            "same credentials"
        );
        *self = again;
    }

    fn start_on(dir: &Path, port: u16) -> Serve {
        Serve::start_with(dir, port, &[], &[])
    }

    fn start_with(dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let data = dir.join("data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("serve.log"))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_mpe"))
            .args(["serve", "--data", data.to_str().expect("utf-8")])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--jobs", "2"])
            .env_remove("MPE_ACCESS_KEY_ID")
            .env_remove("MPE_SECRET_ACCESS_KEY")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mpe serve");
        let proc = Proc(child);
        wait_port(port, "mpe serve");
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
            proc: Some(proc),
            port,
            dir: dir.to_path_buf(),
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
# Virtual-host style (BUCKET.localhost), as SDKs address buckets by default.
import socket
real_getaddrinfo = socket.getaddrinfo
def loopback(host, *a, **k):
    if isinstance(host, str) and (host == 'localhost' or host.endswith('.localhost')):
        host = '127.0.0.1'
    return real_getaddrinfo(host, *a, **k)
socket.getaddrinfo = loopback
vh = boto3.client('s3', endpoint_url=url.replace('127.0.0.1', 'localhost'), region_name='us-east-1',
                  config=botocore.config.Config(s3={'addressing_style': 'virtual'}))
out['virtual_host'] = vh.get_object(Bucket='mpe-raw-local', Key='uploads/presigned.mp4')['Body'].read() == data
# Checksums as S3 computes them; a wrong Content-MD5 is BadDigest; copies.
import base64
put = s3.put_object(Bucket='mpe-raw-local', Key='misc/hello.txt', Body=b'hello', ChecksumAlgorithm='SHA256')
out['sha256_ok'] = put.get('ChecksumSHA256') == base64.b64encode(hashlib.sha256(b'hello').digest()).decode()
try:
    s3.put_object(Bucket='mpe-raw-local', Key='misc/bad.txt', Body=b'hello', ContentMD5=base64.b64encode(hashlib.md5(b'other').digest()).decode())
    out['bad_md5'] = None
except botocore.exceptions.ClientError as e:
    out['bad_md5'] = e.response['Error']['Code']
s3.copy_object(Bucket='mpe-media-local', Key='misc/copy.txt', CopySource={'Bucket': 'mpe-raw-local', 'Key': 'misc/hello.txt'})
out['copy_ok'] = s3.get_object(Bucket='mpe-media-local', Key='misc/copy.txt')['Body'].read() == b'hello'
s3.delete_object(Bucket='mpe-raw-local', Key='misc/hello.txt')
s3.delete_object(Bucket='mpe-media-local', Key='misc/copy.txt')
out['deleted'] = s3.list_objects_v2(Bucket='mpe-raw-local', Prefix='misc/')['KeyCount']
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
    // Every output key of the stack (stack.json's Outputs) is there.
    let stack: Value = serde_json::from_slice(
        &std::fs::read(util::repo().join("stack.json")).expect("stack.json"),
    )
    .expect("JSON");
    for key in stack["Outputs"].as_object().expect("Outputs").keys() {
        out(key);
    }
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
    // Not a video: rejected by validate, into the failure queue and the records.
    let notes = dir.join("notes.mp4");
    std::fs::write(&notes, "not a video at all\n").expect("notes");
    serve.aws(
        &single,
        &[
            "s3",
            "cp",
            notes.to_str().expect("utf-8"),
            "s3://mpe-raw-local/uploads/notes.mp4",
        ],
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
    assert_eq!(r["virtual_host"], true, "{r}");
    assert_eq!(r["sha256_ok"], true, "{r}");
    assert_eq!(r["bad_md5"], "BadDigest", "{r}");
    assert_eq!(r["copy_ok"], true, "{r}");
    assert_eq!(r["deleted"], 0, "{r}");
    assert_eq!(r["etag_is_md5"], true, "{r}");
    assert_eq!(
        r["listed"],
        serde_json::json!([
            "uploads/boto.mp4",
            "uploads/cli.mp4",
            "uploads/climulti.mp4",
            "uploads/notes.mp4",
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
    assert!(created >= 6, "an Object Created event per raw object");

    // The job table's twin: the DynamoDB item's fields, as the state machine and the
    // job-state handler leave them.
    let records = serve.python(
        "import json, sqlite3, sys\n\
         c = sqlite3.connect(sys.argv[2]); c.row_factory = sqlite3.Row\n\
         print(json.dumps([dict(r) for r in c.execute('SELECT * FROM records ORDER BY input')]))",
        &[serve.data.join("records.db").to_str().expect("utf-8")],
    );
    let records = records.as_array().expect("rows");
    assert_eq!(records.len(), 5, "{records:#?}");
    for r in records {
        let input = r["input"].as_str().expect("input");
        if input.ends_with("notes.mp4") {
            assert_eq!(r["status"], "ERROR", "{r}");
            assert!(
                r["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not a video")),
                "{r}"
            );
            continue;
        }
        assert_eq!(r["status"], "COMPLETE", "{r}");
        assert_eq!(r["profile"], "default", "{r}");
        assert_eq!(r["jobTemplate"], "mpe-default-local", "{r}");
        assert!(
            r["mediaConvertJobId"]
                .as_str()
                .is_some_and(|j| ids.contains(&j)),
            "{r}"
        );
        assert!(
            r["completedAt"].is_string() && r["startedAt"].is_string(),
            "{r}"
        );
        let outputs: Vec<String> =
            serde_json::from_str(r["outputs"].as_str().expect("outputs")).expect("JSON");
        assert!(outputs.iter().any(|o| o.ends_with(".m3u8")), "{r}");
    }
    let failures = std::fs::read_to_string(serve.data.join("failures.jsonl")).expect("failures");
    assert_eq!(failures.lines().count(), 1, "{failures}");
    assert!(failures.contains("uploads/notes.mp4"), "{failures}");

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
    // The index page links each asset's manifests.
    let (status, _, page) = get(&format!("{}/cdn/", serve.url), &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    for asset in ["cli", "climulti", "boto", "presigned"] {
        assert!(
            page.contains(&format!("href=\"/cdn/{asset}/cmaf/{asset}.m3u8\"")),
            "{page}"
        );
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

    // hls.js and dash.js play every upload's asset from the delivery path.
    for (asset, ext, kind) in ["cli", "climulti", "boto", "presigned"]
        .into_iter()
        .flat_map(|a| [(a, "m3u8", "hls"), (a, "mpd", "dash")])
    {
        let out = Command::new("node")
            .arg(util::repo().join("tests/player/play.mjs"))
            .args([
                "--url",
                &format!("{}/cdn/{asset}/cmaf/{asset}.{ext}", serve.url),
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
        assert!(
            out.status.success() && v["ok"] == true,
            "{asset} {kind}: {v}"
        );
    }
}

const BEFORE_KILL: &str = r#"
import boto3, json, socket, sys, time, urllib.parse
url, small, bulky = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
data = open(bulky, 'rb').read()
part = 5 * 1024 * 1024
u1 = s3.create_multipart_upload(Bucket='mpe-raw-local', Key='uploads/mpu.mp4')['UploadId']
for n in (1, 2):
    s3.upload_part(Bucket='mpe-raw-local', Key='uploads/mpu.mp4', UploadId=u1, PartNumber=n, Body=data[(n - 1) * part:n * part])
u2 = s3.create_multipart_upload(Bucket='mpe-raw-local', Key='big/abort.bin')['UploadId']
s3.upload_part(Bucket='mpe-raw-local', Key='big/abort.bin', UploadId=u2, PartNumber=1, Body=b'x' * part)
for i in range(3):
    s3.upload_file(small, 'mpe-raw-local', 'uploads/job%d.mp4' % i)
# A PUT cut off by the kill: half its body sent, the rest never.
signed = s3.generate_presigned_url('put_object', Params={'Bucket': 'mpe-raw-local', 'Key': 'uploads/half.mp4'}, ExpiresIn=300)
u = urllib.parse.urlsplit(signed)
sock = socket.create_connection((u.hostname, u.port))
head = 'PUT %s?%s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n\r\n' % (u.path, u.query, u.hostname, u.port, len(data))
sock.sendall(head.encode() + data[:len(data) // 2])
print(json.dumps({'u1': u1, 'u2': u2}), flush=True)
time.sleep(60)
"#;

const AFTER_KILL: &str = r#"
import boto3, botocore, json, sys
url, bulky, u1, u2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
out = {}
try:
    s3.head_object(Bucket='mpe-raw-local', Key='uploads/half.mp4')
    out['half'] = 'visible'
except botocore.exceptions.ClientError as e:
    out['half'] = e.response['Error']['Code']
data = open(bulky, 'rb').read()
part = 5 * 1024 * 1024
parts = s3.list_parts(Bucket='mpe-raw-local', Key='uploads/mpu.mp4', UploadId=u1)['Parts']
out['parts_kept'] = [p['PartNumber'] for p in parts]
r = s3.upload_part(Bucket='mpe-raw-local', Key='uploads/mpu.mp4', UploadId=u1, PartNumber=3, Body=data[2 * part:])
done = [{'PartNumber': p['PartNumber'], 'ETag': p['ETag']} for p in parts] + [{'PartNumber': 3, 'ETag': r['ETag']}]
s3.complete_multipart_upload(Bucket='mpe-raw-local', Key='uploads/mpu.mp4', UploadId=u1, MultipartUpload={'Parts': done})
head = s3.head_object(Bucket='mpe-raw-local', Key='uploads/mpu.mp4')
out['mpu_size'] = head['ContentLength']
out['mpu_body_ok'] = s3.get_object(Bucket='mpe-raw-local', Key='uploads/mpu.mp4')['Body'].read() == data
s3.abort_multipart_upload(Bucket='mpe-raw-local', Key='big/abort.bin', UploadId=u2)
out['uploads_left'] = len(s3.list_multipart_uploads(Bucket='mpe-raw-local').get('Uploads', []))
try:
    s3.head_object(Bucket='mpe-raw-local', Key='big/abort.bin')
    out['aborted'] = 'visible'
except botocore.exceptions.ClientError as e:
    out['aborted'] = e.response['Error']['Code']
print(json.dumps(out))
"#;

#[test]
fn kill_9_during_uploads_and_jobs_loses_nothing_and_shows_nothing_half_made() {
    let small = util::fixture("short");
    let bulky = util::fixture("bulky");
    let dir = util::work_dir("serve-kill");
    let mut serve = Serve::start(&dir);
    let mut before = Command::new(util::python())
        .arg("-c")
        .arg(BEFORE_KILL)
        .arg(&serve.url)
        .args([&small, &bulky])
        .envs(serve.env())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(before.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the script's line");
    let ids: Value = serde_json::from_str(&line).expect("upload ids");
    // Killed once a job runs (the half PUT still open), and again mid-way through the
    // jobs left.
    let running = |s: &Serve| {
        s.events()
            .iter()
            .any(|e| e["detail"]["status"] == "PROGRESSING")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running(&serve) {
        assert!(Instant::now() < deadline, "no job started");
        std::thread::sleep(Duration::from_millis(50));
    }
    serve.kill_and_restart();
    let _ = before.kill();
    let _ = before.wait();
    let tmp: Vec<_> = std::fs::read_dir(serve.data.join(".tmp"))
        .expect(".tmp")
        .collect();
    assert!(tmp.is_empty(), "the temp files of cut-off bodies are gone");
    std::thread::sleep(Duration::from_millis(1500));
    serve.kill_and_restart();

    let r = serve.python(
        AFTER_KILL,
        &[
            bulky.to_str().expect("utf-8"),
            ids["u1"].as_str().expect("u1"),
            ids["u2"].as_str().expect("u2"),
        ],
    );
    assert_eq!(r["half"], "404", "a cut-off PUT leaves no object: {r}");
    assert_eq!(r["parts_kept"], serde_json::json!([1, 2]), "{r}");
    assert_eq!(
        r["mpu_size"],
        std::fs::metadata(&bulky).expect("bulky").len(),
        "{r}"
    );
    assert_eq!(r["mpu_body_ok"], true, "{r}");
    assert_eq!(r["uploads_left"], 0, "{r}");
    assert_eq!(r["aborted"], "404", "{r}");

    // Four uploads (three before the kills, the completed multipart one after): each is
    // one job, and each ends COMPLETE.
    let deadline = Instant::now() + Duration::from_secs(300);
    let log = || std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    loop {
        let mut by_upload: std::collections::BTreeMap<String, Vec<(String, String)>> =
            Default::default();
        for e in serve.events() {
            if e["detail-type"] != "MediaConvert Job State Change" {
                continue;
            }
            let upload = e["detail"]["userMetadata"]["mpe_upload"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            by_upload.entry(upload).or_default().push((
                e["detail"]["jobId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["detail"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        let complete = by_upload
            .values()
            .filter(|v| v.iter().any(|(_, s)| s == "COMPLETE"))
            .count();
        if complete == 4 {
            for (upload, states) in &by_upload {
                let mut jobs: Vec<&String> = states.iter().map(|(j, _)| j).collect();
                jobs.sort();
                jobs.dedup();
                assert_eq!(jobs.len(), 1, "{upload}: one job, made once: {states:?}");
                assert!(
                    !states.iter().any(|(_, s)| s == "ERROR"),
                    "{upload}: {states:?}\n{}",
                    log()
                );
            }
            let keys: Vec<&String> = by_upload.keys().collect();
            assert_eq!(
                keys,
                [
                    "s3://mpe-raw-local/uploads/job0.mp4",
                    "s3://mpe-raw-local/uploads/job1.mp4",
                    "s3://mpe-raw-local/uploads/job2.mp4",
                    "s3://mpe-raw-local/uploads/mpu.mp4"
                ]
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs did not all complete: {by_upload:#?}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The MediaConvert API agrees: four jobs, all COMPLETE.
    let listed = serve.python(
        "import boto3, json, sys\nmc = boto3.client('mediaconvert', endpoint_url=sys.argv[1], region_name='us-east-1')\nprint(json.dumps([j['Status'] for j in mc.list_jobs(MaxResults=20)['Jobs']]))",
        &[],
    );
    assert_eq!(
        listed,
        serde_json::json!(["COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE"])
    );
}

const LOAD: &str = r#"
import boto3, json, sys, time
from concurrent.futures import ThreadPoolExecutor
from boto3.s3.transfer import TransferConfig
url, small, large = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1',
                  config=__import__('botocore.config').config.Config(max_pool_connections=64))
big = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=8)
def one(i):
    if i == 30:
        s3.upload_file(large, 'mpe-raw-local', 'big/large.bin', Config=big)
    else:
        s3.upload_file(small, 'mpe-raw-local', 'uploads/load-%02d.mp4' % i)
t = time.time()
with ThreadPoolExecutor(31) as pool:
    list(pool.map(one, range(31)))
head = s3.head_object(Bucket='mpe-raw-local', Key='big/large.bin')
print(json.dumps({'seconds': time.time() - t, 'large_size': head['ContentLength'], 'large_etag': head['ETag']}))
"#;

/// Peak resident memory of a process, from /proc (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[test]
fn thirty_concurrent_uploads_with_one_of_a_gibibyte_and_thirty_queued_jobs_complete_once_in_bounded_memory(
) {
    let small = util::fixture("short");
    let dir = util::work_dir("serve-load");
    let serve = Serve::start(&dir);
    let large = dir.join("large.bin");
    // 1 GiB: sparse, so that making it costs no time; its bytes go over the wire all the
    // same.
    std::fs::File::create(&large)
        .and_then(|f| f.set_len(1 << 30))
        .expect("large file");
    let r = serve.python(
        LOAD,
        &[
            small.to_str().expect("utf-8"),
            large.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(r["large_size"], 1u64 << 30, "{r}");
    assert!(
        r["large_etag"]
            .as_str()
            .is_some_and(|e| e.ends_with("-128\"")),
        "1 GiB in 8 MiB parts: {r}"
    );
    let ended = serve.ended(30, Duration::from_secs(600));
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    assert_eq!(
        ended.len(),
        30,
        "{}",
        &log[log.len().saturating_sub(3000)..]
    );
    let mut uploads: Vec<String> = ended
        .iter()
        .inspect(|e| assert_eq!(e["detail"]["status"], "COMPLETE", "{e:#}"))
        .map(|e| {
            e["detail"]["userMetadata"]["mpe_upload"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    uploads.sort();
    uploads.dedup();
    assert_eq!(
        uploads.len(),
        30,
        "each upload's job ends once: {uploads:?}"
    );
    // A moment more: no upload makes a second job.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(serve.ended(31, Duration::ZERO).len(), 30);
    let pid = serve.proc.as_ref().map(|p| p.0.id()).expect("pid");
    let peak = peak_rss(pid);
    eprintln!(
        "serve: 31 uploads in {:.1} s, peak RSS {} MiB",
        r["seconds"].as_f64().unwrap_or(0.0),
        peak >> 20
    );
    // Bodies are streamed to disk: the server never holds the 1 GiB object, nor half of
    // it, though it also ran 30 ladders.
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
    std::fs::remove_file(&large).ok();
    std::fs::remove_dir_all(serve.data.join("buckets/mpe-raw-local/big")).ok();
}

#[test]
fn serve_beyond_loopback_needs_given_credentials_and_bad_settings_are_one_line() {
    let dir = util::work_dir("serve-refuse");
    let data = dir.join("data");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mpe"));
        c.arg("serve")
            .args(["--data", data.to_str().expect("utf-8")])
            .args(args)
            .env_remove("MPE_ACCESS_KEY_ID")
            .env_remove("MPE_SECRET_ACCESS_KEY")
            .envs(env.iter().copied());
        let o = c.output().expect("mpe serve");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let port = free_port().to_string();
    let any = format!("0.0.0.0:{port}");
    let (code, err) = run(&["--listen", &any], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("MPE_ACCESS_KEY_ID"), "{err}");
    assert!(
        !data.join("credentials").exists(),
        "no key is made for a server others can reach"
    );
    let (code, err) = run(
        &["--listen", &format!("127.0.0.1:{port}")],
        &[("MPE_ACCESS_KEY_ID", "AKIDLOCAL")],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("both"), "{err}");
    let (code, err) = run(
        &["--listen", &format!("127.0.0.1:{port}"), "-p", "nope"],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nope"), "{err}");
    let (code, err) = run(&["--suffix", "Bad_Suffix"], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--suffix"), "{err}");
}

#[test]
fn mpe_cloud_submit_with_the_local_stack_outputs_uploads_in_parallel_parts_and_its_job_runs() {
    // The Rust SDKs (aws-sdk-s3's parallel multipart upload in cloud::upload, and
    // aws-sdk-mediaconvert), pointed at the local twin by its outputs.json alone.
    let bulky = util::fixture("bulky");
    let dir = util::work_dir("serve-submit");
    let serve = Serve::start(&dir);
    let outputs = serve.data.join("outputs.json");
    let o = crate::mediaconvert::cloud(
        &[
            "submit",
            bulky.to_str().expect("utf-8"),
            "--stack-outputs",
            outputs.to_str().expect("utf-8"),
            "--key",
            "direct/bulky.mp4",
            "--part-size",
            "5",
            "--wait",
        ],
        &serve.url,
        &serve.url,
        &[
            ("AWS_ACCESS_KEY_ID", &serve.key),
            ("AWS_SECRET_ACCESS_KEY", &serve.secret),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
    );
    let r = serve.python(
        "import boto3, json, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
         h = s3.head_object(Bucket='mpe-raw-local', Key='direct/bulky.mp4')\n\
         keys = [o['Key'] for o in s3.list_objects_v2(Bucket='mpe-media-local', Prefix='bulky/').get('Contents', [])]\n\
         print(json.dumps({'etag': h['ETag'], 'size': h['ContentLength'], 'keys': keys}))",
        &[],
    );
    let len = std::fs::metadata(&bulky).expect("bulky").len();
    assert_eq!(r["size"], len, "{r}");
    assert!(
        r["etag"]
            .as_str()
            .is_some_and(|e| e.ends_with(&format!("-{}\"", len.div_ceil(5 << 20)))),
        "{r}"
    );
    let keys = r["keys"].as_array().expect("keys");
    assert!(
        keys.iter()
            .any(|k| k.as_str().is_some_and(|k| k.ends_with(".m3u8")))
            && keys
                .iter()
                .any(|k| k.as_str().is_some_and(|k| k.ends_with(".mpd"))),
        "{r}"
    );
    // Not under uploads/: the workflow made no second job.
    let jobs = serve
        .events()
        .iter()
        .filter(|e| e["detail"]["status"] == "SUBMITTED")
        .count();
    assert_eq!(jobs, 1);
}

const CORS: &str = r#"
import boto3, json, sys, urllib.request, urllib.error
url, phase = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
out = {}
if phase == 'set':
    s3.put_bucket_cors(Bucket='mpe-raw-local', CORSConfiguration={'CORSRules': [{
        'AllowedOrigins': ['http://page.example'], 'AllowedMethods': ['PUT', 'GET'],
        'AllowedHeaders': ['*'], 'ExposeHeaders': ['ETag'], 'MaxAgeSeconds': 600}]})
out['rules'] = s3.get_bucket_cors(Bucket='mpe-raw-local')['CORSRules']
def preflight(origin, method):
    req = urllib.request.Request(url + '/mpe-raw-local/uploads/x.mp4', method='OPTIONS', headers={
        'Origin': origin, 'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'content-type'})
    try:
        r = urllib.request.urlopen(req)
        return [r.status, dict(r.headers)]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]
out['allowed'] = preflight('http://page.example', 'PUT')
out['other_origin'] = preflight('http://evil.example', 'PUT')
out['other_method'] = preflight('http://page.example', 'DELETE')
print(json.dumps(out))
"#;

#[test]
fn bucket_cors_is_kept_across_restarts_and_answers_browsers_preflights() {
    let dir = util::work_dir("serve-cors");
    let mut serve = Serve::start(&dir);
    let r = serve.python(CORS, &["set"]);
    let check = |r: &Value| {
        assert_eq!(
            r["rules"][0]["AllowedOrigins"][0], "http://page.example",
            "{r}"
        );
        assert_eq!(r["allowed"][0], 200, "{r}");
        let h = &r["allowed"][1];
        let get = |k: &str| {
            h.as_object()
                .and_then(|m| m.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            get("access-control-allow-origin"),
            "http://page.example",
            "{r}"
        );
        assert!(get("access-control-allow-methods").contains("PUT"), "{r}");
        assert_eq!(get("access-control-allow-headers"), "content-type", "{r}");
        assert_eq!(get("access-control-max-age"), "600", "{r}");
        for k in ["other_origin", "other_method"] {
            assert_eq!(r[k][0], 403, "{k}: {r}");
            assert!(
                r[k][1]
                    .as_str()
                    .is_some_and(|x| x.contains("AccessForbidden")),
                "{k}: {r}"
            );
        }
    };
    check(&r);
    serve.kill_and_restart();
    check(&serve.python(CORS, &["get"]));
}

const SSE: &str = r#"
import boto3, hashlib, hmac, json, sys, threading, urllib.request, urllib.error
url, small, secret = sys.argv[1], sys.argv[2], sys.argv[3]
token = hmac.new(secret.encode(), b'mpe-events', hashlib.sha256).hexdigest()[:32]
out = {}
try:
    urllib.request.urlopen(url + '/events?token=' + '0' * 32)
    out['bad_token'] = 200
except urllib.error.HTTPError as e:
    out['bad_token'] = e.code
r = urllib.request.urlopen(url + '/events?token=' + token, timeout=120)
out['type'] = r.headers['Content-Type']
messages = []
def read():
    msg = {}
    for raw in r:
        line = raw.decode().rstrip('\n')
        if line == '':
            if 'data' in msg:
                messages.append(msg)
                if json.loads(msg['data'])['detail'].get('status') == 'COMPLETE':
                    return
            msg = {}
        elif not line.startswith(':'):
            k, _, v = line.partition(': ')
            msg[k] = v
t = threading.Thread(target=read); t.start()
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
s3.upload_file(small, 'mpe-raw-local', 'uploads/sse.mp4')
t.join(120)
out['events'] = [m['event'] for m in messages]
out['statuses'] = [json.loads(m['data'])['detail'].get('status') for m in messages]
ids = [m['id'] for m in messages]
out['ids_match'] = all(json.loads(m['data'])['id'] == m['id'] for m in messages)
# A client reconnecting with Last-Event-ID gets what came after it.
again = urllib.request.urlopen(urllib.request.Request(url + '/events?token=' + token, headers={'Last-Event-ID': ids[0]}), timeout=30)
for raw in again:
    line = raw.decode().rstrip('\n')
    if line.startswith('id: '):
        out['resumed_at'] = line[4:]
        break
out['second'] = ids[1]
print(json.dumps(out))
"#;

#[test]
fn the_event_stream_sends_each_event_as_it_is_written_and_resumes_after_the_last_seen() {
    let small = util::fixture("short");
    let dir = util::work_dir("serve-sse");
    let serve = Serve::start(&dir);
    let r = serve.python(SSE, &[small.to_str().expect("utf-8"), &serve.secret]);
    assert_eq!(r["bad_token"], 403, "{r}");
    assert_eq!(r["type"], "text/event-stream", "{r}");
    assert_eq!(r["events"][0], "Object Created", "{r}");
    assert_eq!(
        r["statuses"],
        serde_json::json!([null, "SUBMITTED", "PROGRESSING", "COMPLETE"]),
        "{r}"
    );
    assert_eq!(r["ids_match"], true, "{r}");
    assert_eq!(r["resumed_at"], r["second"], "{r}");
}

#[test]
fn a_body_declared_over_five_gib_is_refused_before_it_is_read() {
    let dir = util::work_dir("serve-large");
    let serve = Serve::start(&dir);
    let r = serve.python(
        r#"
import boto3, json, socket, sys, urllib.parse
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')
signed = s3.generate_presigned_url('put_object', Params={'Bucket': 'mpe-raw-local', 'Key': 'big/huge.bin'}, ExpiresIn=300)
u = urllib.parse.urlsplit(signed)
sock = socket.create_connection((u.hostname, u.port), timeout=30)
sock.sendall(('PUT %s?%s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n\r\n' % (u.path, u.query, u.hostname, u.port, 6 << 30)).encode() + b'x' * 65536)
answer = b''
while b'</Error>' not in answer:
    chunk = sock.recv(65536)
    if not chunk:
        break
    answer += chunk
print(json.dumps({'answer': answer.decode(errors='replace')}))
"#,
        &[],
    );
    let answer = r["answer"].as_str().expect("answer");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
    let leftover: Vec<_> = std::fs::read_dir(serve.data.join(".tmp"))
        .expect(".tmp")
        .collect();
    assert!(leftover.is_empty(), "nothing of it was kept");
}

#[test]
fn a_mediaconvert_job_reads_another_s3_endpoint_while_uploads_still_use_serves_buckets() {
    let small = util::fixture("short");
    let dir = util::work_dir("serve-other-s3");
    let python = util::python();
    let (_moto, moto_url) = crate::mediaconvert::moto(&python, false);
    crate::mediaconvert::boto3(
        &python,
        &moto_url,
        &format!(
            "s3.create_bucket(Bucket='elsewhere')\ns3.upload_file({:?}, 'elsewhere', 'in/clip.mp4')\nprint('null')",
            small.to_str().expect("utf-8")
        ),
    );
    let serve = Serve::start_with(
        &dir,
        free_port(),
        &["--s3-endpoint", &moto_url],
        &crate::mediaconvert::CREDS,
    );
    let job = dir.join("job.json");
    std::fs::write(&job, crate::cloud::render(&small, "default").to_string()).expect("job");
    let r = serve.python(
        r#"
import boto3, json, sys, time
url, job, small = sys.argv[1], sys.argv[2], sys.argv[3]
mc = boto3.client('mediaconvert', endpoint_url=url, region_name='us-east-1')
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
job = json.load(open(job))
job['Settings']['Inputs'][0]['FileInput'] = 's3://elsewhere/in/clip.mp4'
for g in job['Settings']['OutputGroups']:
    for k, v in g['OutputGroupSettings'].items():
        if isinstance(v, dict) and 'Destination' in v:
            v['Destination'] = 's3://mpe-media-local/ext/' + v['Destination'].split('/', 3)[3]
made = mc.create_job(Role=job['Role'], Settings=job['Settings'])['Job']
s3.upload_file(small, 'mpe-raw-local', 'uploads/local.mp4')
deadline = time.time() + 240
while True:
    j = mc.get_job(Id=made['Id'])['Job']
    if j['Status'] in ('COMPLETE', 'ERROR') or time.time() > deadline:
        break
    time.sleep(0.5)
keys = [o['Key'] for o in s3.list_objects_v2(Bucket='mpe-media-local', Prefix='ext/').get('Contents', [])]
print(json.dumps({'status': j['Status'], 'error': j.get('ErrorMessage'), 'keys': keys}))
"#,
        &[job.to_str().expect("utf-8"), small.to_str().expect("utf-8")],
    );
    assert_eq!(r["status"], "COMPLETE", "{r}");
    assert!(
        r["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k.as_str().is_some_and(|k| k.ends_with(".m3u8"))),
        "{r}"
    );
    // The upload to serve's own raw bucket ran as ever.
    let ended = serve.ended(2, Duration::from_secs(240));
    assert_eq!(ended.len(), 2, "{ended:#?}");
    assert!(
        ended.iter().all(|e| e["detail"]["status"] == "COMPLETE"),
        "{ended:#?}"
    );
}

#[test]
fn a_config_file_sets_the_server_and_its_credentials_and_flags_win_over_it() {
    let dir = util::work_dir("serve-config");
    let port = free_port();
    let config = dir.join("mpe.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"0.0.0.0:{port}\"\nsuffix = \"cfg\"\nregion = \"eu-west-3\"\n\
             access_key_id = \"AKIDFROMCONFIG\"\nsecret_access_key = \"secret-from-config\"\n",
            dir.join("data").to_str().expect("utf-8")
        ),
    )
    .expect("config");
    let _serve = serve_config(dir.as_path(), &config, &["--region", "us-east-1"]);
    wait_port(port, "mpe serve");
    // Beyond loopback, on the config's keys; no key file made.
    assert!(!dir.join("data/credentials").exists());
    let o = Command::new(util::python())
        .arg("-c")
        .arg(
            "import boto3, json, sys\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
             r = s3.list_buckets()\n\
             print(json.dumps([b['Name'] for b in r['Buckets']] + [r['Buckets'][0]['BucketRegion']]))",
        )
        .arg(format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "AKIDFROMCONFIG")
        .env("AWS_SECRET_ACCESS_KEY", "secret-from-config")
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        names,
        serde_json::json!([
            "mpe-media-cfg",
            "mpe-raw-cfg",
            "mpe-thumbnails-cfg",
            "us-east-1"
        ]),
        "the config's suffix, the flag's region"
    );

    // A config mpe cannot read is one line naming the file and the line.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "suffix = \"x\"\nlisten_on = \"127.0.0.1:1\"\n").expect("bad");
    let o = Command::new(env!("CARGO_BIN_EXE_mpe"))
        .args(["serve", "--config", bad.to_str().expect("utf-8")])
        .output()
        .expect("mpe serve");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml: line 2") && err.contains("listen_on"),
        "{err}"
    );
}
