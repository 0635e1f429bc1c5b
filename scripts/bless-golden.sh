#!/usr/bin/env bash
# Rewrites cloud/golden/ from the renderer (after an intended change), then checks them
# against the botocore model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MPE_BLESS=1 cargo test -p mpe-cloud --test golden rendered_requests_equal_the_golden_files
cargo test -p mpe-cloud --test golden
git status --short cloud/golden
