#!/usr/bin/env bash
# Thumbnail speed: `mpe thumbs` against the ffmpeg command line, and what thumbnails cost
# inside `mpe transcode`. One run, interleaved repetitions, medians of wall and CPU time
# and peak RSS.
#
#   benches/thumbs.sh [--reps N] [--source FILE] [--count N] [--width W]
#
# Part 1, N (default 20) thumbnails W (default 640) pixels wide of a long source (default:
# a generated 10-minute 1080p25 H.264 + AAC file, cached in target/bench/), at the same
# times (the middle of N equal parts):
#   mpe-thumbs      mpe thumbs --count N (exact frames, parallel seeking)
#   mpe-thumbs-fast mpe thumbs --count N --fast (keyframes)
#   ffmpeg-seek     N sequential `ffmpeg -ss T -i SRC -frames:v 1` (accurate seek)
#   ffmpeg-fps      one `ffmpeg -vf fps=N/duration` pass over the whole source
# Part 2: `mpe transcode` of the 10 s 1080p fixture with the default ladder, without any
# pictures and with thumbnails every 2 s plus trick-play tiles every second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

reps=3
src=""
count=20
width=640
while (($#)); do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --source) src=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --width) width=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--source FILE] [--count N] [--width W]" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time >/dev/null || { echo "thumbs: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
FFMPEG=${FFMPEG:-ffmpeg}
MPE=${MPE:-target/release/mpe}
if [[ ! -x $MPE || -n ${MPE_REBUILD:-} ]]; then
  cargo build --release --locked >&2
fi
if [[ -z $src ]]; then
  src=target/bench/long_1080p.mp4
  if [[ ! -s $src ]]; then
    mkdir -p target/bench
    echo "thumbs: generating a 10-minute 1080p source into $src (a few minutes, once)" >&2
    # x264's default keyint (250 frames, 10 s), as many uploads have.
    $FFMPEG -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=25:duration=600 \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=600" \
      -c:v libx264 -preset ultrafast -crf 26 -pix_fmt yuv420p -c:a aac -b:a 128k \
      -movflags +faststart "$src.tmp.mp4"
    mv "$src.tmp.mp4" "$src"
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$src")
times=$(awk -v d="$duration" -v n="$count" 'BEGIN{for(i=0;i<n;i++) printf "%.3f ", (i+0.5)*d/n}')

mpe_thumbs() { "$MPE" thumbs "$src" --count "$count" --width "$width" -o "$1" >/dev/null; }
mpe_thumbs_fast() { "$MPE" thumbs "$src" --count "$count" --width "$width" --fast -o "$1" >/dev/null; }
ffmpeg_seek() {
  local i=0 t
  for t in $times; do
    $FFMPEG -v error -y -ss "$t" -i "$src" -frames:v 1 -vf "scale=$width:-2" "$1/$i.jpg"
    i=$((i + 1))
  done
}
ffmpeg_fps() {
  $FFMPEG -v error -y -i "$src" -an \
    -vf "fps=fps=$count/$duration:start_time=$(awk -v d="$duration" -v n="$count" 'BEGIN{print d/n/2}'),scale=$width:-2" \
    "$1/%03d.jpg"
}
export -f mpe_thumbs mpe_thumbs_fast ffmpeg_seek ffmpeg_fps
export src FFMPEG MPE count width duration times

measure() { # results-file name
  local o="$work/$2"
  rm -rf "$o"; mkdir -p "$o"
  /usr/bin/time -o "$work/t" -f "%e %U %S %M" bash -c "$2 $o"
  echo "$2 $(cat "$work/t")" >>"$1"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

table() { # results-file base-name contenders...
  local f=$1 base=$2 base_wall
  shift 2
  base_wall=$(awk -v c="$base" '$1==c{print $2}' "$f" | median)
  echo "| contender | wall s (median) | CPU s | peak RSS MB | wall / ${base//_/-} |"
  echo "|---|---:|---:|---:|---:|"
  for c in "$@"; do
    local wall cpu rss
    wall=$(awk -v c="$c" '$1==c{print $2}' "$f" | median)
    cpu=$(awk -v c="$c" '$1==c{print $3+$4}' "$f" | median)
    rss=$(awk -v c="$c" '$1==c{print $5}' "$f" | median)
    printf '| %s | %.2f | %.2f | %.0f | %.3f |\n' "${c//_/-}" "$wall" "$cpu" "$((rss / 1024))" \
      "$(echo "$wall / $base_wall" | bc -l)"
  done
}

part1=(mpe_thumbs mpe_thumbs_fast ffmpeg_seek ffmpeg_fps)
for ((i = 1; i <= reps; i++)); do
  echo "part 1: rep $i/$reps" >&2
  for c in "${part1[@]}"; do measure "$work/r1" "$c"; done
done
# Which ffmpeg way is faster decides the bar.
seek=$(awk '$1=="ffmpeg_seek"{print $2}' "$work/r1" | median)
fps=$(awk '$1=="ffmpeg_fps"{print $2}' "$work/r1" | median)
bar=ffmpeg_seek
[[ $(echo "$fps < $seek" | bc -l) == 1 ]] && bar=ffmpeg_fps
echo
echo "Part 1: $count thumbnails, $width px wide, of $src (${duration} s), $(nproc) cores, $reps reps; bar: ${bar//_/-}"
echo
table "$work/r1" "$bar" "${part1[@]}"

# Part 2: thumbnails inside the transcode.
hd=$(bash fixtures/generate.sh hd_16x9)
transcode_plain() { "$MPE" transcode "$hd" -p benches/pictures-off.json -o "$1" --force --progress none >/dev/null; }
transcode_pictures() { "$MPE" transcode "$hd" -p benches/pictures-on.json -o "$1" --force --progress none >/dev/null; }
export -f transcode_plain transcode_pictures
export hd work
for ((i = 1; i <= reps; i++)); do
  echo "part 2: rep $i/$reps" >&2
  for c in transcode_plain transcode_pictures; do measure "$work/r2" "$c"; done
done
echo
echo "Part 2: mpe transcode of $hd with the default ladder, without pictures and with thumbnails (every 2 s, 640 px) and trick play (every 1 s); $reps reps"
echo
table "$work/r2" transcode_plain transcode_plain transcode_pictures
