#!/usr/bin/env bash
# Resample family: thumbnails by area averaging (a quarter of the size), and
# a bilinear upscale to a fixed size.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run resize --scale 0.25 "$IMAGES" -o "$OUT/thumbs" --format jpg --quality 85 --overwrite -v
"$CLDISPATCH" run resize --size 1280x960 "$IMAGES/camera.png" -o "$OUT/upscaled" --overwrite -v
