#!/usr/bin/env bash
# A chain of jobs as one `cldispatch run` against the same jobs as one run
# each through files (PPM in between), on N copies of a real photo. The
# steps are STEPS, separated by '|' (default: resize --scale 0.5, blur
# --sigma 2, sharpen).
#
# The input is made at run time: tests/images/mate_storm.jpg (1920x1280)
# written once as PPM (by `sharpen --amount 0`, which leaves every pixel
# as it is) and copied N times, so that the codecs cost little next to the
# jobs. Rounds are interleaved (the chain, then the three runs) and the
# best of each is kept: the machine may be shared. Every round writes over
# the files of the round before (--overwrite) after an untimed sync: on
# the development VM, memory freed by deleting outputs goes back to the
# host and is slow to touch again, which charged the three runs, which
# write three times the new data, more than the chain (README, "Measuring
# on a fresh VM").
#
#   samples/bench/chain.sh [ROUNDS] [N] [DEVICE]   # default 3 16 auto
#   STEPS='blur --sigma 2|sharpen|median' samples/bench/chain.sh 3 16 cpu
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLDISPATCH=${CLDISPATCH:-$root/build/cldispatch}
ROUNDS=${1:-3}
N=${2:-16}
DEVICE=${3:-auto}
IMAGE=${IMAGE:-$root/tests/images/mate_storm.jpg}
STEPS=${STEPS:-resize --scale 0.5|blur --sigma 2|sharpen}
IFS='|' read -r -a steps <<<"$STEPS"
chain=()
for st in "${steps[@]}"; do
  [ ${#chain[@]} -gt 0 ] && chain+=(then)
  read -r -a words <<<"$st"
  chain+=("${words[@]}")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cld-chain.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache

mkdir -p "$work/in"
# The photo once as PPM, so that the codecs cost little next to the jobs.
"$CLDISPATCH" run sharpen --amount 0 --format ppm --device host "$IMAGE" \
  -o "$work/one" >/dev/null 2>&1
base=$(ls "$work/one"/*.ppm)
for i in $(seq -w 1 "$N"); do cp "$base" "$work/in/img$i.ppm"; done

# Warm up: the first run of each kernel compiles it into the cache.
"$CLDISPATCH" run "${chain[@]}" "$base" -o "$work/warm" --device "$DEVICE" \
  >/dev/null 2>&1
rm -rf "$work/warm"

now() { date +%s.%N; }
best_chain=
best_sep=
for r in $(seq 1 "$ROUNDS"); do
  sync
  t0=$(now)
  "$CLDISPATCH" run "${chain[@]}" "$work/in" -o "$work/out" \
    --device "$DEVICE" --overwrite >/dev/null 2>&1
  t1=$(now)
  from=$work/in
  s=0
  for i in "${!steps[@]}"; do
    read -r -a words <<<"${steps[$i]}"
    sync
    ta=$(now)
    "$CLDISPATCH" run "${words[@]}" "$from" -o "$work/t$i" \
      --device "$DEVICE" --overwrite >/dev/null 2>&1
    s=$(awk -v a="$ta" -v b="$(now)" -v s="$s" 'BEGIN {print s + b - a}')
    from=$work/t$i
  done
  c=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  printf 'round %d: chain %.3f s, %d runs %.3f s\n' "$r" "$c" \
    "${#steps[@]}" "$s"
  best_chain=$(awk -v a="${best_chain:-$c}" -v b="$c" \
    'BEGIN {print (b < a ? b : a)}')
  best_sep=$(awk -v a="${best_sep:-$s}" -v b="$s" \
    'BEGIN {print (b < a ? b : a)}')
done
printf '%s: %d x %s, device %s, best of %d: chain %.3f s, %d runs %.3f s, ratio %.2fx\n' \
  "${chain[*]}" "$N" "$(basename "$IMAGE")" "$DEVICE" "$ROUNDS" \
  "$best_chain" "${#steps[@]}" "$best_sep" \
  "$(awk -v a="$best_sep" -v b="$best_chain" 'BEGIN {print a / b}')"
