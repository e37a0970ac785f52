#!/usr/bin/env bash
# Whole-process times of `auto` against every fixed target, over a grid of
# jobs and image sizes (issue 10's start-up grid): how often placement,
# start-up included, comes within 1.10x of the fastest fixed target, and
# how a tiny auto run compares with --device host.
#
# Each cell runs one PPM image through one job, as a whole `cldispatch run`
# process, once per target per round (after an untimed `sync`, the
# targets in an order that turns each round); rounds are interleaved and the
# minimum per target is kept (the machine may be shared). The inputs are
# made at run time from samples/images in a temporary folder. The cache
# folder is the script's own: it is calibrated first (`--calibrate`,
# which also compiles every kernel once), and every run then adds to its
# history, as a user's runs would.
#
#   samples/bench/startup.sh [ROUNDS]          # default 5
#   CLDISPATCH=build/cldispatch POCL_DEVICES="pthread basic" samples/bench/startup.sh 3
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CLDISPATCH=${CLDISPATCH:-$root/build/cldispatch}
ROUNDS=${1:-5}
SIZES=${SIZES:-64x64 256x256 1024x768 4000x2800}
JOBS=${JOBS:-grayscale blur sobel resize equalize}

work=$(mktemp -d "${TMPDIR:-/tmp}/cld-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache

# Targets: the host, each OpenCL device by its id, and auto.
mapfile -t devices < <("$CLDISPATCH" --devices --json 2>/dev/null |
  python3 -c 'import json,sys; [print(d["id"]) for p in json.load(sys.stdin)["platforms"] for d in p["devices"]]')
targets=(host "${devices[@]}" auto)

echo "making inputs in $work ..."
for s in $SIZES; do
  "$CLDISPATCH" run resize --size "$s" --format ppm --device host \
    "$root/samples/images/chelsea.png" -o "$work/in-$s" >/dev/null
done
echo "calibrating (first run compiles every kernel) ..."
"$CLDISPATCH" --calibrate >/dev/null

opts() {
  case $1 in
    resize) echo "--scale 0.5" ;;
    *) echo "" ;;
  esac
}

# Nanoseconds of one whole command. Every command fsyncs its output, so
# `sync` first (untimed): otherwise the previous command's data, still
# being written back, lands on this one's fsync (a 64x64 run timed right
# after a 4000x2800 one took twice as long as the same run elsewhere).
timed() {
  local t0 t1
  sync
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(( t1 - t0 ))
}

declare -A best
for r in $(seq "$ROUNDS"); do
  for j in $JOBS; do
    for s in $SIZES; do
      # Each round starts the targets at another one, so that none always
      # runs right after the same command.
      n=${#targets[@]}
      for i in $(seq 0 $((n - 1))); do
        t=${targets[$(( (i + r) % n ))]}
        # shellcheck disable=SC2046
        ns=$(timed "$CLDISPATCH" run "$j" $(opts "$j") --device "$t" \
          --overwrite "$work/in-$s/chelsea.ppm" -o "$work/out")
        k="$j $s $t"
        if [ -z "${best[$k]:-}" ] || [ "$ns" -lt "${best[$k]}" ]; then
          best[$k]=$ns
        fi
      done
    done
  done
done

printf '%-10s %-10s' job size
for t in "${targets[@]}"; do printf ' %12.12s' "$t"; done
printf ' %8s\n' "auto/best"
cells=0; within=0; worst=0; worst_cell=
for j in $JOBS; do
  for s in $SIZES; do
    printf '%-10s %-10s' "$j" "$s"
    fixed=
    for t in "${targets[@]}"; do
      ns=${best[$j $s $t]}
      printf ' %10.2fms' "$(echo "$ns / 1000000" | bc -l)"
      if [ "$t" != auto ] && { [ -z "$fixed" ] || [ "$ns" -lt "$fixed" ]; }; then
        fixed=$ns
      fi
    done
    ratio=$(echo "${best[$j $s auto]} / $fixed" | bc -l)
    printf ' %7.2fx\n' "$ratio"
    cells=$((cells + 1))
    if [ "$(echo "$ratio <= 1.10" | bc -l)" = 1 ]; then
      within=$((within + 1))
    fi
    if [ "$(echo "$ratio > $worst" | bc -l)" = 1 ]; then
      worst=$ratio; worst_cell="$j $s"
    fi
  done
done
first=${SIZES%% *}
printf 'auto within 1.10x of the fastest fixed target: %d of %d cells; worst %.2fx (%s)\n' \
  "$within" "$cells" "$worst" "$worst_cell"
for j in $JOBS; do
  printf '%s %s: auto / host = %.2fx\n' "$j" "$first" \
    "$(echo "${best[$j $first auto]} / ${best[$j $first host]}" | bc -l)"
done
