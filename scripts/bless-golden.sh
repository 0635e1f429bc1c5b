#!/usr/bin/env bash
# Rewrites cloud/golden/ and stack.json from the generators (after an intended change), then checks them
# against the botocore model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MPE_BLESS=1 cargo test -p mpe-cloud --test golden rendered_requests_equal_the_golden_files
MPE_BLESS=1 cargo test -p mpe-cloud --test stack committed_stack_is_the_generators_output
cargo test -p mpe-cloud --test golden
git status --short cloud/golden stack.json
