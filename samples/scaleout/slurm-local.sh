#!/usr/bin/env bash
# A Slurm job array on a one-node Slurm cluster started here, for real:
# munged, slurmctld and slurmd from Debian's munge and slurm-wlm, with their
# own key, sockets, state and configuration in a scratch folder (nothing in
# /etc is touched), run as root.
#
# The plan has 6 shards and the array runs at most 2 tasks at a time
# (--array=0-5%2), so a task that ends frees its CPU for the next shard.
# Task 3 is cancelled while it runs; merge then names shard 3 as missing.
# Shard 3 is submitted again as a one-task array (--array=3, where Slurm
# reports a task count of 1: the shard count comes from the plan), and
# merge confirms a complete, disjoint cover.
#
# Usage (as root): samples/scaleout/slurm-local.sh [BUILD_DIR]
#   needs: apt-get install slurm-wlm munge python3
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$here/build}")
bin=$build/cldispatch
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (slurmd must)" >&2; exit 2; }

work=$(mktemp -d /tmp/cld-slurm.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
say() { echo "== $*"; }

# munge: a key of our own and a socket in the scratch folder.
mkdir -p "$work/munge"
dd if=/dev/urandom of="$work/munge/key" bs=1024 count=1 status=none
chmod 400 "$work/munge/key"
munged --force --key-file="$work/munge/key" \
    --socket="$work/munge/sock" --pid-file="$work/munge/pid" \
    --log-file="$work/munge/log" --seed-file="$work/munge/seed"
pids+=("$(cat "$work/munge/pid")")

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<EOF
ClusterName=cldlocal
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$work/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" > "$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
    sinfo -h -o '%T' 2>/dev/null | grep -q idle && break
    sleep 1
done
say "cluster"
sinfo
sinfo -h -o '%T' | grep -q idle || { cat "$work"/*.log; exit 1; }

# Inputs: the sample images and a few large generated ones.
cd "$work"
mkdir -p in
cp "$here"/samples/images/*.png "$here"/samples/images/*.jpg in/
python3 - <<'EOF'
for i in range(12):
    w, h = 700 + 90 * i, 500 + 40 * i
    row = bytes(((x * 5 + i * 31) ^ (x >> 4)) & 255 for x in range(w * 3))
    data = b"".join(bytes((b + y * (i + 3)) & 255 for b in row)
                    for y in range(h))
    with open(f"in/gen{i:02d}.ppm", "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + data)
EOF
say "plan"
"$bin" plan blur --sigma 3 -f png in -o out --shards 6 --plan plan.json

run="$bin run --plan $work/plan.json -d host -j 1"
say "sbatch --array=0-5%2 (6 shards, 2 at a time)"
job=$(sbatch --parsable --array=0-5%2 --cpus-per-task=1 \
      --output="$work/task-%a.log" --chdir="$work" --wrap "$run")
echo "job $job"
# Cancel task 3 while it runs, preferably while it writes an output.
for _ in $(seq 1 600); do
    st=$(squeue -h -j "${job}_3" -o '%T' 2>/dev/null || true)
    [ "$st" = RUNNING ] && break
    sleep 0.1
done
[ "$st" = RUNNING ] || { echo "task 3 never ran ($st)"; exit 1; }
for _ in $(seq 1 300); do
    [ -n "$(find out -name '.*.tmp' 2>/dev/null)" ] && break
    sleep 0.01
done
squeue -j "$job" -o '%.12i %.10T %.10M' || true
scancel "${job}_3"
say "scancel ${job}_3 while it ran"
for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.2
done
sacct_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z]*'; }
for t in 0 1 2 3 4 5; do
    echo "task $t: $(sacct_state "${job}_$t" || echo gone) $(tail -n 1 \
         "$work/task-$t.log" 2>/dev/null)"
done
say "merge (shard 3 was cancelled)"
rc=0
"$bin" merge plan.json || rc=$?
echo "merge exit $rc"
[ "$rc" = 4 ] || { echo "expected exit 4"; exit 1; }
echo "temporary files left by the cancel: $(find out -name '.*.tmp' | wc -l)"

say "sbatch --array=3 (the cancelled shard again)"
job2=$(sbatch --parsable --array=3 --output="$work/rerun-%a.log" \
       --chdir="$work" --wrap "env | grep '^SLURM_ARRAY_TASK_COUNT'; $run")
for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$job2" 2>/dev/null)" ] && break
    sleep 0.2
done
cat "$work/rerun-3.log"
say "merge"
"$bin" merge plan.json
python3 - <<'EOF'
import json
plan = json.load(open("plan.json"))
seen = [[] for _ in plan["items"]]
for k in range(plan["shards"]):
    s = json.load(open(f"out/.cldispatch/shard-{k}.json"))
    print(f"shard {k}: {s['items_count']} items, {s['done']} done, "
          f"{s['skipped']} skipped, {s['tmp_removed']} temporary removed, "
          f"from {s['run']['source']} on {s['run']['host']}")
    for it in s["items"]:
        seen[it["index"]].append(k)
ok = all(len(v) == 1 and plan["items"][i]["shard"] == v[0]
         for i, v in enumerate(seen))
print("cover:", "complete and disjoint" if ok else "BROKEN",
      f"({len(seen)} inputs)")
raise SystemExit(0 if ok else 1)
EOF
[ -z "$(find out -name '.*.tmp')" ] || { echo "temporary files remain"; exit 1; }
say "done ($work)"
