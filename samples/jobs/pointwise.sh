#!/usr/bin/env bash
# Pointwise family: grayscale every sample image, keeping each format, then
# once more as PGM; --explain shows where the work ran and why.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run grayscale "$IMAGES" -o "$OUT/grayscale" --overwrite --explain -v
"$CLDISPATCH" run grayscale "$IMAGES" -o "$OUT/grayscale-pgm" --format pgm --overwrite
