#!/usr/bin/env bash
# Regenerate tests/images/orientation/N.jpg (N = 1..8): one 64x48 crop of
# tests/images/rocket.jpg, stored as each EXIF orientation would have a
# camera store it, with that Orientation tag set, so that every file turned
# upright by its tag shows the same picture. Everything is lossless
# (jpegtran works on the DCT blocks; exiftool only adds the APP1 segment),
# so the files differ from the crop only by the transform.
#
# Needs libjpeg-turbo-progs (jpegtran) and libimage-exiftool-perl
# (exiftool); the test suite itself needs neither.
set -euo pipefail
cd "$(dirname "$0")"
src=images/rocket.jpg
dst=images/orientation
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dst"

# rocket.jpg has no chroma subsampling, so the 8x8 block grid is the only
# constraint: the crop is on it and -perfect refuses anything inexact.
jpegtran -perfect -copy none -crop 64x48+288+176 -outfile "$tmp/up.jpg" "$src"

# Orientation N says how to turn the stored image upright, so the stored
# image is the upright one turned the inverse way.
inverse=(
  [1]=""
  [2]="-flip horizontal"
  [3]="-rotate 180"
  [4]="-flip vertical"
  [5]="-transpose"
  [6]="-rotate 270"
  [7]="-transverse"
  [8]="-rotate 90"
)
for n in 1 2 3 4 5 6 7 8; do
  # shellcheck disable=SC2086
  jpegtran -perfect -copy none ${inverse[$n]} -outfile "$dst/$n.jpg" \
    "$tmp/up.jpg"
  exiftool -q -overwrite_original -n -Orientation="$n" "$dst/$n.jpg"
done
ls -l "$dst"
