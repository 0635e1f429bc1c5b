#!/usr/bin/env bash
# mpe against the ffmpeg command line doing the same work with the same settings, in one
# run with interleaved repetitions. Prints wall time, CPU time and peak RSS of each
# contender, their ratios to the single ffmpeg process, and per-rung PSNR/SSIM of mpe's
# and ffmpeg's encodes against the same scaled source, so no speed comes from quality.
#
#   benches/compare.sh [--reps N] [--source FILE] [--cores LIST] [--contenders LIST]
#   benches/compare.sh --instructions [--source FILE]
#
# Contenders (all write the 1080p/720p/480p/360p ladder of the default profile: H.264
# High, x264 veryfast, VBR, IDR every 2 s, closed GOP, no scene cuts, AAC 128 kb/s):
#   ffmpeg-split   one ffmpeg process, split filter graph, four MP4 outputs (the bar)
#   ffmpeg-4x      four separate ffmpeg runs (the naive baseline)
#   mpe-mp4        mpe with benches/ladder-mp4.json: the same four MP4s
#   mpe-default    mpe with the default profile: CMAF ladder (HLS + DASH) + a 720p MP4
#   mpe-chunked    mpe-mp4 with --chunks auto: rungs with more cores than one x264 uses
#                  well are encoded in 6 s chunks on parallel encoders (not run by default)
#   ffmpeg-1080, mpe-1080, mpe-1080-chunked
#                  one 1080p rung only (benches/rung-1080.json), the single-encoder case
#                  chunking is for (not run by default)
# Ratios are to the first contender listed.
# --cores "1 2" reruns everything under `taskset` for each core count; --contenders picks
# which run (default: "ffmpeg_split ffmpeg_4x mpe_mp4 mpe_default").
# GNU_TIME (default /usr/bin/time), FFMPEG and MPE name the binaries (benches/bundle.py
# packs them for another machine).
# --instructions counts instructions instead (valgrind's callgrind, all threads and child
# processes): the work each contender does, free of the shared host's noise, split by
# library. Slow (~60x): give it a short source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

reps=3
src=""
cores_list=""
instructions=""
contenders=(ffmpeg_split ffmpeg_4x mpe_mp4 mpe_default)
while (($#)); do
  case $1 in
    --instructions) instructions=1; shift ;;
    --reps) reps=$2; shift 2 ;;
    --source) src=$2; shift 2 ;;
    --cores) cores_list=$2; shift 2 ;;
    --contenders) read -ra contenders <<<"$2"; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--source FILE] [--cores LIST] [--contenders LIST] | --instructions [--source FILE]" >&2; exit 2 ;;
  esac
done
[[ -n $src ]] || src=$(bash fixtures/generate.sh hd_16x9)
GNU_TIME=${GNU_TIME:-/usr/bin/time}
command -v "$GNU_TIME" >/dev/null || { echo "compare: $GNU_TIME missing (apt-get install time)" >&2; exit 1; }
MPE=${MPE:-target/release/mpe}
if [[ ! -x $MPE || -n ${MPE_REBUILD:-} ]]; then
  cargo build --release --locked >&2
fi
FFMPEG=${FFMPEG:-ffmpeg}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

x264p="scenecut=0:open-gop=0:keyint=200:min-keyint=50"
keys='expr:gte(t,n_forced*2)'
rung_args() { # height bitrate maxrate bufsize
  echo "-c:v libx264 -preset veryfast -profile:v high -forced-idr 1 -b:v $2 -maxrate $3 -bufsize $4 -x264-params $x264p -force_key_frames $keys -c:a aac -b:a 128k -ac 2 -ar 48000"
}
R1080=$(rung_args 1080 6000k 9000k 12000k)
R720=$(rung_args 720 3000k 4500k 6000k)
R480=$(rung_args 480 1500k 2250k 3000k)
R360=$(rung_args 360 730k 1100k 1460k)

ffmpeg_split() {
  local o=$1
  # shellcheck disable=SC2086
  $FFMPEG -v error -y -i "$src" -filter_complex \
    "[0:v]split=4[a][b][c][d];[b]scale=1280:720[v720];[c]scale=854:480[v480];[d]scale=640:360[v360]" \
    -map "[a]" -map 0:a $R1080 "$o/1080.mp4" \
    -map "[v720]" -map 0:a $R720 "$o/720.mp4" \
    -map "[v480]" -map 0:a $R480 "$o/480.mp4" \
    -map "[v360]" -map 0:a $R360 "$o/360.mp4"
}
ffmpeg_4x() {
  local o=$1
  # shellcheck disable=SC2086
  $FFMPEG -v error -y -i "$src" $R1080 "$o/1080.mp4"
  # shellcheck disable=SC2086
  $FFMPEG -v error -y -i "$src" -vf scale=1280:720 $R720 "$o/720.mp4"
  # shellcheck disable=SC2086
  $FFMPEG -v error -y -i "$src" -vf scale=854:480 $R480 "$o/480.mp4"
  # shellcheck disable=SC2086
  $FFMPEG -v error -y -i "$src" -vf scale=640:360 $R360 "$o/360.mp4"
}
mpe_mp4() { "$MPE" transcode "$src" -p benches/ladder-mp4.json -o "$1" --force --progress none >/dev/null; }
mpe_default() { "$MPE" transcode "$src" -p default -o "$1" --force --progress none >/dev/null; }
mpe_chunked() { "$MPE" transcode "$src" -p benches/ladder-mp4.json -o "$1" --force --progress none --chunks auto >/dev/null; }
# shellcheck disable=SC2086
ffmpeg_1080() { $FFMPEG -v error -y -i "$src" $R1080 "$1/1080.mp4"; }
mpe_1080() { "$MPE" transcode "$src" -p benches/rung-1080.json -o "$1" --force --progress none >/dev/null; }
mpe_1080_chunked() { "$MPE" transcode "$src" -p benches/rung-1080.json -o "$1" --force --progress none --chunks auto >/dev/null; }
export -f ffmpeg_split ffmpeg_4x mpe_mp4 mpe_default mpe_chunked ffmpeg_1080 mpe_1080 mpe_1080_chunked
export src FFMPEG MPE R1080 R720 R480 R360

# Runs one contender under /usr/bin/time; appends "name wall user sys maxrss_kb".
measure() { # name cores
  local name=$1 cores=$2 o="$work/$1"
  rm -rf "$o"; mkdir -p "$o"
  local pin=()
  [[ -n $cores ]] && pin=(taskset -c "0-$((cores - 1))")
  # set -f: the keyframe expression holds a '*' that must not glob. The function's text
  # goes along: a wrapper run by /bin/sh (dash) drops exported bash functions.
  "$GNU_TIME" -o "$work/t" -f "%e %U %S %M" "${pin[@]}" bash -c "$(declare -f "$name"); set -f; $name $o"
  echo "$name $(cat "$work/t")" >>"$work/results-${cores:-all}"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

report() { # cores
  local f="$work/results-${1:-all}" base_wall base_rss base=${contenders[0]}
  base_wall=$(awk -v c="$base" '$1==c{print $2}' "$f" | median)
  base_rss=$(awk -v c="$base" '$1==c{print $5}' "$f" | median)
  echo
  echo "cores: ${1:-all ($(nproc))}, reps: $reps, source: $src"
  echo
  echo "| contender | wall s (median) | CPU s | peak RSS MB | wall / ${base//_/-} | RSS / ${base//_/-} |"
  echo "|---|---:|---:|---:|---:|---:|"
  for c in "${contenders[@]}"; do
    local wall cpu rss
    wall=$(awk -v c="$c" '$1==c{print $2}' "$f" | median)
    cpu=$(awk -v c="$c" '$1==c{print $3+$4}' "$f" | median)
    rss=$(awk -v c="$c" '$1==c{print $5}' "$f" | median)
    printf '| %s | %.2f | %.2f | %.0f | %.3f | %.3f |\n' "${c//_/-}" "$wall" "$cpu" "$((rss / 1024))" \
      "$(echo "$wall / $base_wall" | bc -l)" "$(echo "$rss / $base_rss" | bc -l)"
  done
}

# Instructions retired by a contender (Ir), in total and by shared object.
count() { # name
  local name=$1 o="$work/$1"
  rm -rf "$o"; mkdir -p "$o"
  # The function's text goes along: valgrind drops exported bash functions from the
  # environment.
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/cg.$name.%p" \
    bash -c "$(declare -f "$name"); set -f; $name $o" 2>/dev/null
  for f in "$work"/cg."$name".*; do
    callgrind_annotate --inclusive=no --threshold=100 "$f" 2>/dev/null
  done | awk -v name="$name" '
    /^ *[0-9,]+ +\(.*\) +.*\[.*\]$/ {
      ir = $1; gsub(",", "", ir)
      obj = $NF; gsub(/[][]/, "", obj); sub(".*/", "", obj); sub(/\.so.*/, "", obj)
      by[obj] += ir; total += ir
    }
    END { for (o in by) printf "%s %s %.0f\n", name, o, by[o]; printf "%s TOTAL %.0f\n", name, total }
  ' >>"$work/instructions"
}

if [[ -n $instructions ]]; then
  command -v valgrind >/dev/null || { echo "compare: valgrind missing (apt-get install valgrind)" >&2; exit 1; }
  for c in "${contenders[@]}"; do
    echo "counting $c" >&2
    count "$c"
  done
  f="$work/instructions"
  base=$(awk '$1=="ffmpeg_split" && $2=="TOTAL" {print $3}' "$f")
  echo
  echo "source: $src (instructions by callgrind, all threads and processes)"
  echo
  echo "| contender | G instructions | / ffmpeg-split | libx264 | libswscale | libavcodec | libavfilter | mpe | other |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in "${contenders[@]}"; do
    awk -v c="$c" -v base="$base" '
      $1 == c { by[$2] = $3 }
      END {
        t = by["TOTAL"]; known = 0
        split("libx264 libswscale libavcodec libavfilter mpe", objs, " ")
        line = sprintf("| %s | %.2f | %.3f |", c, t / 1e9, t / base)
        for (i = 1; i <= 5; i++) { line = line sprintf(" %.2f |", by[objs[i]] / 1e9); known += by[objs[i]] }
        gsub("_", "-", line)
        print line sprintf(" %.2f |", (t - known) / 1e9)
      }' "$f"
  done
  exit 0
fi

# Quality at equal settings: each encode against the source scaled the same way (bicubic).
has() { [[ " ${contenders[*]} " == *" $1 "* ]]; }
metric() { # file w h -> "psnr ssim"
  local out psnr ssim
  out=$($FFMPEG -v info -nostats -i "$1" -i "$src" -lavfi \
    "[1:v]scale=$2:$3:flags=bicubic,split[r1][r2];[0:v]split[d1][d2];[d1][r1]psnr;[d2][r2]ssim" \
    -f null - 2>&1)
  psnr=$(grep -o 'PSNR y:[^ ]* u:[^ ]* v:[^ ]* average:[0-9.inf]*' <<<"$out" | sed 's/.*average://')
  ssim=$(grep -o 'SSIM Y:[^ ]* .*All:[0-9.]*' <<<"$out" | sed 's/.*All://')
  echo "$psnr $ssim"
}
quality() {
  echo
  echo "| rung | contender | PSNR dB | ffmpeg PSNR dB | diff dB | SSIM | ffmpeg SSIM |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  local base r c mp ms fp fs
  base=$(basename "${src%.*}")
  for r in "1080 1920" "720 1280" "480 854" "360 640"; do
    set -- $r
    # Each mpe contender against the ffmpeg contender that wrote the same rung; each
    # ffmpeg encode is measured once.
    local -A ref_metric=()
    for pair in ffmpeg_split:mpe_mp4 ffmpeg_split:mpe_chunked ffmpeg_1080:mpe_1080 ffmpeg_1080:mpe_1080_chunked; do
      local ref=${pair%%:*} c=${pair#*:}
      has "$ref" && has "$c" && [[ -e $work/$ref/$1.mp4 ]] || continue
      [[ -n ${ref_metric[$ref]:-} ]] || ref_metric[$ref]=$(metric "$work/$ref/$1.mp4" "$2" "$1")
      read -r fp fs <<<"${ref_metric[$ref]}"
      read -r mp ms < <(metric "$work/$c/$base/mp4/${base}_$1p.mp4" "$2" "$1")
      printf '| %sp | %s | %.3f | %.3f | %+.3f | %.4f | %.4f |\n' "$1" "${c//_/-}" "$mp" "$fp" \
        "$(echo "$mp - $fp" | bc -l)" "$ms" "$fs"
    done
  done
}

# The quality table is of the first core count's encodes (with --chunks auto, the most
# cores chunk the most).
first=1
for cores in ${cores_list:-""}; do
  for ((i = 1; i <= reps; i++)); do
    echo "rep $i/$reps${cores:+ on $cores cores}" >&2
    for c in "${contenders[@]}"; do measure "$c" "$cores"; done
  done
  report "$cores"
  if [[ -n $first ]]; then
    quality
    first=""
  fi
done
