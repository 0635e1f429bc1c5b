#!/usr/bin/env bash
# Install the pinned player-check dependencies (playwright-core, hls.js, dashjs)
# into tests/player/node_modules. Idempotent: does nothing when node_modules
# already matches package-lock.json. Usable from CI:
#   tests/player/setup.sh
# Needs node >= 20 and npm; only talks to the npm registry. Downloads no browser
# (playwright-core has no install step); play.mjs uses /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "setup.sh: node not found (need node >= 20)" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup.sh: npm not found" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup.sh: node $(node -v) is too old (need >= 20)" >&2
  exit 1
fi

stamp=node_modules/.mpe-setup-stamp
want="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1) node$major"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -f node_modules/hls.js/dist/hls.min.js ] \
  && [ -f node_modules/dashjs/dist/modern/umd/dash.all.min.js ] \
  && [ -f node_modules/playwright-core/package.json ]; then
  echo "setup.sh: node_modules up to date"
  exit 0
fi

npm ci --no-audit --no-fund
echo "$want" > "$stamp"
echo "setup.sh: installed $(node -p 'Object.entries(require("./package.json").dependencies).map(([k,v])=>k+"@"+v).join(" ")')"
