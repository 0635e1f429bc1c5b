#!/usr/bin/env bash
# Fetches the pinned player libraries (players.lock) from the npm registry into
# web/vendor/, checking each tarball against its sha512, so that `mpe serve` builds
# them into the pages it serves (no third-party CDN at run time). Needs curl, tar and
# openssl, not node. Idempotent: a library already fetched at its version is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
mkdir -p vendor
while read -r name version integrity file served; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  stamp="vendor/$served.version"
  if [[ -f "vendor/$served" && "$(cat "$stamp" 2>/dev/null)" == "$name@$version" ]]; then
    continue
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  url="$registry/$name/-/${name##*/}-$version.tgz"
  curl -fsSL --retry 3 -o "$tmp/p.tgz" "$url" || { echo "fetch-players: cannot download $url" >&2; exit 1; }
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/p.tgz" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    echo "fetch-players: $name@$version from $url is not the pinned tarball ($got)" >&2
    exit 1
  fi
  tar -m -xzf "$tmp/p.tgz" -C "$tmp" "package/$file"
  mv "$tmp/package/$file" "vendor/$served.tmp" && mv "vendor/$served.tmp" "vendor/$served"
  echo "$name@$version" > "$stamp"
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch-players: $name@$version -> web/vendor/$served" >&2
done < players.lock
