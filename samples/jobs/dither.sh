#!/usr/bin/env bash
# Dither family: Floyd-Steinberg error diffusion to 2 and 4 grey levels.
# The job is order-dependent, so placement keeps it on the host; forcing a
# device shows the difference.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run dither "$IMAGES" -o "$OUT/dither-2" --format png --overwrite --explain -v
"$CLDISPATCH" run dither --levels 4 "$IMAGES" -o "$OUT/dither-4" --format png --overwrite -v
