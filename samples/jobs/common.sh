# Shared by the sample scripts: where the binary, the images and the output
# folder are. Override with CLDISPATCH=/path/to/cldispatch or OUT=dir.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLDISPATCH=${CLDISPATCH:-$root/build/cldispatch}
IMAGES=${IMAGES:-$root/samples/images}
OUT=${OUT:-$root/out}
if [ ! -x "$CLDISPATCH" ]; then
  echo "build first: meson setup build && ninja -C build" >&2
  exit 2
fi
