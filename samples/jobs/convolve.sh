#!/usr/bin/env bash
# Convolve family: Gaussian blur, unsharp-mask sharpening and Sobel edges on
# the sample images.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run blur --sigma 3 "$IMAGES" -o "$OUT/blur" --overwrite --explain -v
"$CLDISPATCH" run sharpen --sigma 1.5 --amount 0.8 "$IMAGES" -o "$OUT/sharpen" --overwrite -v
"$CLDISPATCH" run sobel "$IMAGES" -o "$OUT/sobel" --format png --overwrite -v
