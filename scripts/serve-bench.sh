#!/usr/bin/env bash
# `mpe serve` figures, in one run: upload throughput on loopback (the AWS CLI and boto3,
# 1 GiB in 8 MiB parts) against the data disk's own write speed (dd, fsync'd), latency
# of small GETs (S3 API and the /cdn/ delivery path, one connection kept alive), and
# jobs per hour at --jobs 1 and --jobs 2 (N uploads of SOURCE, first PUT to last
# COMPLETE). Prints one line per figure.
# usage: scripts/serve-bench.sh [MPE_BINARY] [SOURCE] [N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mpe=${1:-target/release/mpe}
src=${2:-fixtures/sample.mp4}
n=${3:-8}
python=$(bash scripts/setup-python.sh)
aws=$PWD/target/awscli/bin/aws
work=$(mktemp -d -p "${BENCH_DIR:-$PWD/target}")
pid=
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
start() {
  rm -rf "$work/data" "$work/log"
  NO_COLOR=1 "$mpe" serve --data "$work/data" --listen "127.0.0.1:$port" --jobs "$1" >"$work/log" 2>&1 &
  pid=$!
  until grep -q "stack outputs" "$work/log"; do sleep 0.05; done
  AWS_ACCESS_KEY_ID=$(awk '/aws_access_key_id/ {print $3}' "$work/data/credentials")
  AWS_SECRET_ACCESS_KEY=$(awk '/aws_secret_access_key/ {print $3}' "$work/data/credentials")
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE=$work/aws.cfg AWS_SHARED_CREDENTIALS_FILE=/dev/null
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
printf '[default]\ns3 =\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n  max_concurrent_requests = 8\n' >"$work/aws.cfg"

start 1
# The disk under the data folder, as a reference: 1 GiB written and fsync'd.
dd_line=$(dd if=/dev/zero of="$work/data/dd.bin" bs=8M count=128 conv=fsync 2>&1 | tail -1)
rm -f "$work/data/dd.bin"
echo "disk (dd, 1 GiB, fsync):       ${dd_line##*, }"
head -c $((1 << 30)) /dev/zero >"$work/large.bin"
t0=$(date +%s.%N)
"$aws" --endpoint-url "$url" s3 cp --quiet "$work/large.bin" s3://mpe-raw-local/big/cli.bin
t1=$(date +%s.%N)
echo "upload, AWS CLI (1 GiB):       $(echo "scale=0; 1024 / ($t1 - $t0)" | bc) MiB/s"
"$python" - "$url" "$work/large.bin" <<'PY'
import boto3, sys, time, statistics, http.client, urllib.parse
from boto3.s3.transfer import TransferConfig
url, large = sys.argv[1], sys.argv[2]
s3 = boto3.client('s3', endpoint_url=url, region_name='us-east-1')
t = time.time()
s3.upload_file(large, 'mpe-raw-local', 'big/boto.bin', Config=TransferConfig(multipart_chunksize=8 << 20, max_concurrency=8))
print('upload, boto3 (1 GiB):         %d MiB/s' % (1024 / (time.time() - t)))
s3.delete_object(Bucket='mpe-raw-local', Key='big/boto.bin')
s3.delete_object(Bucket='mpe-raw-local', Key='big/cli.bin')
s3.put_object(Bucket='mpe-media-local', Key='bench/small.json', Body=b'x' * 1024)
def lat(f, n=500):
    for _ in range(20):
        f()
    xs = []
    for _ in range(n):
        t = time.perf_counter(); f(); xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    return statistics.median(xs), xs[int(len(xs) * 0.99)]
m, p = lat(lambda: s3.get_object(Bucket='mpe-media-local', Key='bench/small.json')['Body'].read())
print('GET 1 KiB, S3 API (boto3):     median %.2f ms, p99 %.2f ms' % (m, p))
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port)
def cdn():
    c.request('GET', '/cdn/bench/small.json'); r = c.getresponse(); r.read()
    assert r.status == 200
m, p = lat(cdn)
print('GET 1 KiB, /cdn/ (keep-alive): median %.2f ms, p99 %.2f ms' % (m, p))
PY
stop
rm -f "$work/large.bin"

for jobs in 1 2; do
  start "$jobs"
  t0=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    "$aws" --endpoint-url "$url" s3 cp --quiet "$src" "s3://mpe-raw-local/uploads/bench$i.mp4"
  done
  until [[ $(grep -c '"status":"COMPLETE"' "$work/data/events.jsonl" 2>/dev/null) -ge $n ]]; do
    if grep -q '"status":"ERROR"' "$work/data/events.jsonl" 2>/dev/null; then
      echo "a job failed" >&2; exit 1
    fi
    sleep 0.1
  done
  t1=$(date +%s.%N)
  echo "jobs per hour, --jobs $jobs:       $(echo "scale=0; $n * 3600 / ($t1 - $t0)" | bc) ($n uploads of $(basename "$src") in $(echo "scale=1; ($t1 - $t0) / 1" | bc) s)"
  stop
done
