#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what mpe needs, build it, and
# transcode the bundled sample (fixtures/sample.mp4) with the default profile.
# Prints where the output is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
if ! command -v cargo >/dev/null 2>&1; then
  [[ -f "$HOME/.cargo/env" ]] && . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "demo: installing the Rust toolchain with rustup (Debian's rustc is too old)" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  . "$HOME/.cargo/env"
fi
cargo build --release --locked
out=${1:-out}
./target/release/mpe transcode fixtures/sample.mp4 -p default -o "$out" --force
echo
echo "The ladder is in $out/sample/:"
echo "  CMAF (HLS + DASH): $out/sample/cmaf/sample.m3u8 and $out/sample/cmaf/sample.mpd"
echo "  progressive MP4:   $out/sample/mp4/"
echo "  thumbnails:        $out/sample/thumbnails/"
echo "  asset record:      $out/sample/metadata.json"
