#!/usr/bin/env bash
# Fractal family: a generator with no input; renders the Mandelbrot set.
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run mandelbrot --size 1920x1080 --iter 512 -o "$OUT/fractal" --overwrite --explain -v
