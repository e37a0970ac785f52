#!/usr/bin/env bash
# Soak run (a script, not a test): N small images (default 2000) through
# each PoCL device in turn, every output compared byte for byte with the C
# reference (the same batch on the host), and the peak RSS of the N-item
# run compared with a run of N/10 items on the same device: a leak or a
# cache that grows per item shows as a larger peak.
#
#   samples/soak.sh [N]            # JOB=sobel by default; CLDISPATCH, OUT
#
# The job must give the same bytes on every target: every 8-bit image job
# does (tests/test_exact_pocl.c). Exit status 0 when every output matches and each
# device's peak RSS at N items is within 10% of the one at N/10.
set -euo pipefail
source "$(dirname "$0")/jobs/common.sh"

n=${1:-2000}
small=$((n / 10))
job=${JOB:-sobel}
export POCL_DEVICES="pthread basic"
work=$OUT/soak
rm -rf "$work"
mkdir -p "$work/src"

# Peak RSS (KiB) of a command, printed on fd 3; the command's own output
# goes to a log.
peak() {
  python3 - "$@" 3>&1 <<'PY'
import os, resource, subprocess, sys
with open(os.environ["SOAK_LOG"], "ab") as log:
    rc = subprocess.call(sys.argv[1:], stdout=log, stderr=log)
os.write(3, b"%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)
PY
}
export SOAK_LOG=$work/log.txt

# Distinct small inputs: the sample images at 24 sizes from 16x12 to
# 108x81, made by cldispatch itself on the host.
for i in $(seq 0 23); do
  w=$((16 + 4 * i)); h=$((12 + 3 * i))
  "$CLDISPATCH" run resize --device host --size "${w}x${h}" -f png \
    "$IMAGES" -o "$work/src/$w" >>"$SOAK_LOG" 2>&1
done
mapfile -t srcs < <(find "$work/src" -name '*.png' | sort)
echo "soak: $job, ${#srcs[@]} distinct inputs of 16x12 to 108x81," \
  "$n and $small items per run"

# The two input sets: hard links, spread over folders of 100.
for set in "$small" "$n"; do
  for ((k = 0; k < set; k++)); do
    d=$work/in$set/$((k / 100))
    [ -d "$d" ] || mkdir -p "$d"
    ln "${srcs[k % ${#srcs[@]}]}" "$d/$k.png"
  done
done

# The C reference on the host.
"$CLDISPATCH" run "$job" --device host "$work/in$n" -o "$work/ref" \
  >>"$SOAK_LOG" 2>&1

status=0
printf '%-8s %7s %9s %13s\n' device items seconds "peak RSS MiB"
for dev in 0 1; do
  declare -A rss=()
  for set in "$small" "$n"; do
    out=$work/out-$dev-$set
    t0=$(date +%s%N)
    kib=$(peak "$CLDISPATCH" run "$job" --device "$dev" "$work/in$set" \
      -o "$out") || { echo "soak: device $dev, $set items: failed" \
      "(see $SOAK_LOG)"; status=1; }
    t1=$(date +%s%N)
    rss[$set]=$kib
    awk -v d="$dev" -v n="$set" -v t="$((t1 - t0))" -v k="$kib" \
      'BEGIN { printf "%-8s %7d %9.1f %13.1f\n", d, n, t / 1e9, k / 1024 }' 
    # Every output byte-equal to the reference, and nothing missing.
    for ((k = 0; k < set; k++)); do
      f=$((k / 100))/$k.png
      if ! cmp -s "$out/$f" "$work/ref/$f"; then
        echo "soak: device $dev: $f differs from the C reference or is" \
          "missing"
        status=1
        break
      fi
    done
  done
  ratio=$(awk -v a="${rss[$n]}" -v b="${rss[$small]}" \
    'BEGIN { printf "%.3f", a / b }')
  echo "device $dev: peak RSS $n items / $small items = $ratio"
  if awk -v r="$ratio" 'BEGIN { exit !(r > 1.10) }'; then
    echo "soak: device $dev: peak RSS grew by more than 10%"
    status=1
  fi
done
[ "$status" = 0 ] && echo "soak: all outputs equal the C reference"
exit "$status"
