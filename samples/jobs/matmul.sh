#!/usr/bin/env bash
# Matmul family: a random 1024x1024 float32 product written as NumPy .npy,
# then the product of two .npy files (the first result with itself).
set -euo pipefail
source "$(dirname "$0")/common.sh"
"$CLDISPATCH" run matmul --n 1024 --seed 7 -o "$OUT/matmul" --overwrite --explain -v
cp "$OUT/matmul/matmul.npy" "$OUT/matmul/a.npy"
"$CLDISPATCH" run matmul "$OUT/matmul/a.npy" "$OUT/matmul/a.npy" -o "$OUT/matmul" --overwrite -v
