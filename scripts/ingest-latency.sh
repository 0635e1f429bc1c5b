#!/usr/bin/env bash
# How long `mpe watch` (default --settle 1) takes from a source's last close to its job:
# a file moved in by rename, a file copied in place in one go, and a file appended in
# three pieces with 2 s pauses (closed and reopened between them). Prints one line each.
# usage: scripts/ingest-latency.sh [MPE_BINARY] [SOURCE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mpe=${1:-target/release/mpe}
src=${2:-fixtures/sample.mp4}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/in"
NO_COLOR=1 "$mpe" watch "$work/in" -o "$work/out" -p mobile >"$work/log" 2>&1 &
pid=$!
until grep -q " watching" "$work/log"; do sleep 0.05; done

now() { date +%s.%N; }
# Waits until a job of NAME is recorded (the watcher's log says Ingest); prints the
# seconds since START, then waits for the job to end, so the next one starts on an
# idle machine.
taken() {
  local name=$1 start=$2 at
  until grep -q "Ingest.*$name" "$work/log"; do sleep 0.01; done
  at=$(echo "$(now) - $start" | bc)
  until [[ $(grep -c "Complete job" "$work/log") -ge $3 ]]; do sleep 0.1; done
  echo "$at"
}

cp "$src" "$work/staged.mp4"
mv "$work/staged.mp4" "$work/in/renamed.mp4"
t0=$(now)
echo "renamed into the folder:        $(taken renamed.mp4 "$t0" 1) s"

cp "$src" "$work/in/copied.mp4"
t0=$(now)
echo "copied in place (one close):    $(taken copied.mp4 "$t0" 2) s"

size=$(stat -c %s "$src")
piece=$(( (size + 2) / 3 ))
for i in 0 1 2; do
  dd if="$src" bs="$piece" skip="$i" count=1 status=none >>"$work/in/appended.mp4"
  [[ $i -lt 2 ]] && sleep 2
done
t0=$(now)
echo "appended in 3 pieces, 2 s apart: $(taken appended.mp4 "$t0" 3) s after the last close"
