#!/usr/bin/env bash
# The watch folder's speed: how soon a finished file becomes a running job, and how many
# short jobs a minute it gets through at --jobs 1 and --jobs 2.
#
#   benches/watch.sh [--files N] [--latency-runs N]
#
# Latency: a file is copied into the folder (cp closes it at the end); the time from then
# to the job's PROGRESSING event (the encoder starting) is reported, median of the runs.
# Throughput: N (default 30) copies of the `short` fixture (640x360, 1.5 s) dropped at
# once with the shipped `mobile` profile; jobs a minute from the first drop to the last
# COMPLETE event.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

files=30
runs=5
while (($#)); do
  case $1 in
    --files) files=$2; shift 2 ;;
    --latency-runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--files N] [--latency-runs N]" >&2; exit 2 ;;
  esac
done
MPE=${MPE:-target/release/mpe}
if [[ ! -x $MPE || -n ${MPE_REBUILD:-} ]]; then
  cargo build --release --locked >&2
fi
src=$(bash fixtures/generate.sh short)
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
# Millisecond timestamps of the events with STATUS, one per line.
stamps() { # events-file status
  grep "\"status\":\"$2\"" "$1" 2>/dev/null | grep -o '"timestamp":[0-9]*' | cut -d: -f2 || true
}
count() { stamps "$1" "$2" | wc -l; }
wait_count() { # events-file status n
  local deadline=$(( $(date +%s) + 600 ))
  while (( $(count "$1" "$2") < $3 )); do
    (( $(date +%s) < deadline )) || { echo "watch: timed out waiting for $3 $2 events" >&2; exit 1; }
    sleep 0.05
  done
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Latency, one file at a time.
in="$work/lat-in"; mkdir -p "$in"
"$MPE" watch "$in" -o "$work/lat-out" -p mobile 2>/dev/null &
pid=$!
sleep 1
: >"$work/lat"
for ((i = 1; i <= runs; i++)); do
  cp "$src" "$in/l$i.mp4"
  t0=$(now)
  wait_count "$in/.mpe/events.jsonl" PROGRESSING "$i"
  t1=$(stamps "$in/.mpe/events.jsonl" PROGRESSING | tail -1)
  echo "$t1 / 1000 - $t0" | bc -l >>"$work/lat"
  wait_count "$in/.mpe/events.jsonl" COMPLETE "$i"
done
kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=""
lat=$(median <"$work/lat")

echo
echo "Watch folder, $(nproc) cores, fixture $(basename "$src"), profile mobile (settle 1 s)"
echo
printf '| measure | value |\n|---|---:|\n'
printf '| file closed -> job started (median of %d) | %.3f s |\n' "$runs" "$lat"
for jobs in 1 2; do
  in="$work/burst$jobs-in"; mkdir -p "$in"
  "$MPE" watch "$in" -o "$work/burst$jobs-out" -p mobile --jobs "$jobs" 2>/dev/null &
  pid=$!
  sleep 1
  t0=$(now)
  for ((i = 0; i < files; i++)); do cp "$src" "$in/b$i.mp4"; done
  wait_count "$in/.mpe/events.jsonl" COMPLETE "$files"
  t1=$(stamps "$in/.mpe/events.jsonl" COMPLETE | sort -g | tail -1)
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  printf '| burst of %d, --jobs %d | %.1f jobs/min (%.1f s) |\n' "$files" "$jobs" \
    "$(echo "$files * 60 / ($t1 / 1000 - $t0)" | bc -l)" "$(echo "$t1 / 1000 - $t0" | bc -l)"
done
