#!/usr/bin/env bash
# Installs the system packages mpe needs on Debian 12: FFmpeg's development
# libraries (ffmpeg-next links them), clang + pkg-config (bindgen), and the
# ffmpeg/ffprobe command line used as the test oracle and benchmark baseline.
# openssl makes the HTTPS webhook test's certificates; mount, its tmpfs for the full-disk
# test. With --player it also installs Chromium for the playback tests.
# Idempotent: packages already present are skipped quickly by apt.
set -euo pipefail

pkgs=(
  pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev
  libavdevice-dev libswscale-dev libswresample-dev
  ffmpeg time bc util-linux mount procps python3 python3-venv
  openssl ca-certificates curl
)
if [[ "${1:-}" == "--player" ]]; then
  pkgs+=(chromium)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  echo "installing: ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The web page's player libraries (hls.js, dash.js), pinned and checked, built into mpe.
bash "$(dirname "${BASH_SOURCE[0]}")/../web/fetch-players.sh"
