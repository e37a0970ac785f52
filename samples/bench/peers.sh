#!/usr/bin/env bash
# Whole-command timings of cldispatch against OpenCV, libvips and
# ImageMagick on the same inputs, in one run (issue 10's table):
#
#   png   64 x 1920x1080 PNG  -> Gaussian blur sigma 2 -> PNG
#   ppm   the same, PPM -> PPM
#   jpeg  32 x 4000x3000 JPEG -> 1/8 size (500x375) JPEG quality 85; a
#         quarter of them carry an EXIF orientation (6 or 8), so every tool
#         must turn them upright; chroma subsampled 4:2:0 as cameras write
#         them (JPEG_SAMPLING=1x1 for 4:4:4, ImageMagick's own choice at
#         quality 90)
#
# The inputs are made at run time from samples/images (upscaled and cropped,
# each copy shifted so that no two are alike) in a temporary folder, never
# committed. Each tool is timed as a whole command (processes started,
# files read and written), and each peer gets 2 processes over half the
# files each (the machine has 2 cores). Rounds are interleaved (every
# tool once per round) and the best round is reported, with the range;
# the machine may be shared, so compare ratios from one run. ImageMagick,
# 10-30x slower than the others, runs in the first MAGICK_ROUNDS rounds
# only (default 1).
#
# Measurement only: needs python3-opencv, libvips-tools, imagemagick,
# libimage-exiftool-perl and libjpeg-turbo-progs (jpegtran), which the
# project itself does not.
#
#   samples/bench/peers.sh [ROUNDS] [ROWS]   # defaults: 5 "png ppm jpeg"
#   CLDISPATCH=build/cldispatch KEEP=1 samples/bench/peers.sh 3 jpeg
#   TOOLS="cld opencv" samples/bench/peers.sh 3 png   # a subset of tools
#   KEEP=1 ...; WORK=/tmp/cld-peers.XXXXXX ...          # reuse the inputs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLDISPATCH=${CLDISPATCH:-$root/build/cldispatch}
IMAGES=${IMAGES:-$root/samples/images}
ROUNDS=${1:-5}
ROWS=${2:-png ppm jpeg}
MAGICK_ROUNDS=${MAGICK_ROUNDS:-1}
PY=/usr/bin/python3

for tool in "$CLDISPATCH" vips vipsthumbnail convert mogrify exiftool jpegtran; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
$PY -c 'import cv2' || { echo "missing: python3-opencv" >&2; exit 2; }

# WORK=DIR reuses the inputs a KEEP=1 run left there.
if [ -n "${WORK:-}" ] && [ -d "$WORK/jpeg" ]; then
  work=$WORK
else
  work=$(mktemp -d /tmp/cld-peers.XXXXXX)
  [ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
fi
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$work/pocl-cache}
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$work/cache}

# ---- inputs --------------------------------------------------------------
bases=()
for f in "$IMAGES"/*.png "$IMAGES"/*.jpg; do bases+=("$f"); done

make_inputs() {
  local i=0 b
  mkdir -p "$work/png" "$work/ppm" "$work/jpeg"
  for ((i = 0; i < 64; i++)); do
    b=${bases[$((i % ${#bases[@]}))]}
    convert "$b" -resize '1920x1080^' -gravity center -extent 1920x1080 \
      -roll "+$((i * 37))+$((i * 23))" "$work/png/p$(printf %02d "$i").png"
    convert "$work/png/p$(printf %02d "$i").png" \
      "$work/ppm/p$(printf %02d "$i").ppm"
  done
  for ((i = 0; i < 32; i++)); do
    b=${bases[$((i % ${#bases[@]}))]}
    local out=$work/jpeg/j$(printf %02d "$i").jpg
    convert "$b" -resize '4000x3000^' -gravity center -extent 4000x3000 \
      -roll "+$((i * 101))+$((i * 67))" -quality 90 \
      -sampling-factor "${JPEG_SAMPLING:-2x2}" "$out"
    # Every fourth file is stored sideways, as cameras do, and says so.
    if ((i % 4 == 1)); then
      jpegtran -rotate 90 -copy none -outfile "$out.t" "$out"
      mv "$out.t" "$out"
      exiftool -q -overwrite_original -n -Orientation=8 "$out"
    elif ((i % 4 == 3)); then
      jpegtran -rotate 270 -copy none -outfile "$out.t" "$out"
      mv "$out.t" "$out"
      exiftool -q -overwrite_original -n -Orientation=6 "$out"
    fi
  done
}
if [ "$work" != "${WORK:-}" ]; then
  echo "making inputs in $work ..." >&2
  make_inputs
fi

# Half of a folder's files, for the two processes of a peer.
half() { ls "$1"/*."$2" | awk -v h="$3" 'NR % 2 == h'; }

# ---- commands ------------------------------------------------------------
# Each function runs one tool on one row, writing into $2.
run_cld() {
  case $1 in
  png | ppm) "$CLDISPATCH" run blur --sigma 2 "$work/$1" -o "$2" \
               >/dev/null 2>&1 ;;
  jpeg) "$CLDISPATCH" run resize --scale 0.125 "$work/jpeg" -o "$2" \
          --format jpg --quality 85 >/dev/null 2>&1 ;;
  esac
}
run_opencv() {
  local mode=blur ext=$1
  [ "$1" = jpeg ] && { mode=thumb-reduced; ext=jpg; }
  $PY "$here/peers.py" $mode "$2" $(half "$work/$1" "$ext" 0) &
  $PY "$here/peers.py" $mode "$2" $(half "$work/$1" "$ext" 1)
  wait
}
run_opencv_plain() {
  $PY "$here/peers.py" thumb "$2" $(half "$work/jpeg" jpg 0) &
  $PY "$here/peers.py" thumb "$2" $(half "$work/jpeg" jpg 1)
  wait
}
vips_blur() {
  local f
  for f in "$@"; do
    VIPS_CONCURRENCY=1 vips gaussblur "$f" "$out_dir/$(basename "$f")" 2
  done
}
run_vips() {
  out_dir=$2
  case $1 in
  png | ppm)
    vips_blur $(half "$work/$1" "$1" 0) &
    vips_blur $(half "$work/$1" "$1" 1)
    wait ;;
  jpeg)
    VIPS_CONCURRENCY=1 vipsthumbnail -s 500x500 -o "$2/%s.jpg[Q=85]" \
      $(half "$work/jpeg" jpg 0) &
    VIPS_CONCURRENCY=1 vipsthumbnail -s 500x500 -o "$2/%s.jpg[Q=85]" \
      $(half "$work/jpeg" jpg 1)
    wait ;;
  esac
}
run_magick() {
  local ext=$1 op=(-gaussian-blur 0x2)
  [ "$1" = jpeg ] && { ext=jpg; op=(-auto-orient -resize 12.5% -quality 85); }
  mogrify -limit thread 1 -path "$2" "${op[@]}" $(half "$work/$1" "$ext" 0) &
  mogrify -limit thread 1 -path "$2" "${op[@]}" $(half "$work/$1" "$ext" 1)
  wait
}

tools_for() {
  local all t
  case $1 in
  jpeg) all="cld opencv opencv_plain vips magick" ;;
  *) all="cld opencv vips magick" ;;
  esac
  for t in $all; do
    [[ " ${TOOLS:-$all} " == *" $t "* ]] && echo "$t"
  done
}

# ---- rounds --------------------------------------------------------------
declare -A best worst bytes
now() { date +%s.%N; }
# A first cldispatch run compiles and caches its kernels; not timed.
run_cld png "$work/warm" || true
rm -rf "$work/warm"
for ((r = 1; r <= ROUNDS; r++)); do
  for row in $ROWS; do
    for tool in $(tools_for "$row"); do
      [ "$tool" = magick ] && ((r > MAGICK_ROUNDS)) && continue
      out=$work/out-$row-$tool
      rm -rf "$out"
      mkdir -p "$out"
      t0=$(now)
      "run_$tool" "$row" "$out"
      t=$(echo "$(now) - $t0" | bc -l)
      k=$row/$tool
      if [ -z "${best[$k]:-}" ] || (($(echo "$t < ${best[$k]}" | bc -l))); then
        best[$k]=$t
      fi
      if [ -z "${worst[$k]:-}" ] || (($(echo "$t > ${worst[$k]}" | bc -l))); then
        worst[$k]=$t
      fi
      bytes[$k]=$(du -cb "$out"/* | tail -1 | cut -f1)
      echo "round $r $k: $(printf %.3f "$t") s" >&2
    done
  done
done

# Upright check for the thumbnail row: every output must be landscape
# (500 wide) exactly when its input is, once orientation is applied.
upright() {
  local bad=0 f w
  for f in "$work/out-jpeg-$1"/*.jpg; do
    w=$(identify -format %w "$f")
    [ "$w" = 500 ] || bad=$((bad + 1))
  done
  echo "$bad"
}

printf '\n%-6s %-13s %10s %10s %10s %12s %10s\n' row tool best_s worst_s \
  items/s out_bytes "cld/tool"
for row in $ROWS; do
  n=64
  [ "$row" = jpeg ] && n=32
  for tool in $(tools_for "$row"); do
    k=$row/$tool
    printf '%-6s %-13s %10.3f %10.3f %10.1f %12s %10.2f\n' "$row" "$tool" \
      "${best[$k]}" "${worst[$k]}" "$(echo "$n / ${best[$k]}" | bc -l)" \
      "${bytes[$k]}" "$(echo "${best[$k]} / ${best[$row/cld]}" | bc -l)"
  done
  if [ "$row" = jpeg ]; then
    for tool in $(tools_for jpeg); do
      echo "jpeg/$tool: $(upright "$tool") of 32 outputs not 500 wide"
    done
  fi
done
echo "best of $ROUNDS interleaved rounds; cld/tool > 1 means cldispatch" \
  "is faster; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
