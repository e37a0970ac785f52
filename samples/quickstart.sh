#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu checkout to a finished batch:
# install the packages, build, list the devices, and run the sample batch on
# the default device (placement chooses), writing into out/.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/install-deps
[ -d build ] || meson setup build
ninja -C build

./build/cldispatch --devices
./build/cldispatch run blur --sigma 2 samples/images -o out/blur --overwrite --explain -v
echo "Outputs are in $(pwd)/out/"
