#!/usr/bin/env bash
# Histogram family: equalize the luma of the low-contrast motion-blurred
# clock and the other samples (histogram on the device, cumulative sum on
# the host, look-up on the device).
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run equalize "$IMAGES" -o "$OUT/equalize" --format png --overwrite --explain -v
