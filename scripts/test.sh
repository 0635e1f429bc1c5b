#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, the player harness, the Python
# judges (botocore), formatting, lints, and every test (unit, integration, playback in
# Chromium, MediaConvert model validation, stack.json by cfn-lint and checkov).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh --player
bash tests/player/setup.sh
# botocore from PyPI: MediaConvert's API model, the judge of the rendered jobs.
bash scripts/setup-python.sh >/dev/null
# cfn-lint and checkov from PyPI, each in its own virtualenv: the judges of stack.json.
bash scripts/setup-stack-tools.sh
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The cloud crate must never link FFmpeg (a Lambda must stay small).
if cargo tree -p mpe-cloud --edges normal --prefix none | grep -q '^ffmpeg'; then
  echo "test: mpe-cloud depends on FFmpeg; DESIGN.md forbids it" >&2
  exit 1
fi
# Every criterion benchmark once, as a smoke test (the figures come from `cargo bench`).
cargo test --locked --benches
# nextest runs each test in its own process and ends on one summary line; plain cargo
# test is the fallback where nextest is not installed.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --lib --bins --tests
fi
