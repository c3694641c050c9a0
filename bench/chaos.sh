#!/usr/bin/env bash
# The chaos run (issue 15 item 7), as Ray's release suite runs
# chaos_many_tasks_kill_raylet and chaos_many_actors_kill_raylet: runs
# build/bin/chaos_bench (bench/chaos/chaos_bench.cc) with the sizes of the
# issue and prints, before its table, the date, the machine's load and the
# command, so that the output can go into bench/README.md as it is.
#
#   bash bench/chaos.sh [chaos_bench flags...]
#
# Defaults: 10,000 tasks (map, then a fan-in-4 tree reduce; every result
# 128 KiB, so in a node's store, where a node's death loses it), 20 actors
# taking 10,000 calls, each map task and call "working" (sleeping) 15 ms and 60 ms so
# that the run lasts long enough for several raylet kills; a worker killed
# every second, a raylet every 10 s (a node added back), the GCS every 12 s,
# three times. Flags given are passed on after these, so they override them.
# chaos_bench starts and stops its own dev clusters, in session roots of its
# own; it exits 1 if a result was wrong or missing, 3 on a hang.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="${RAYK_CHAOS_BENCH:-$root/build/bin/chaos_bench}"
[ -x "$bench" ] || {
  echo "chaos.sh: $bench is not built; run cmake --build build --target chaos_bench" >&2
  exit 2
}
args=(--tasks=10000 --actors=20 --calls=10000 --map-bytes=131072 --task-work-us=15000
      --call-work-us=60000 --worker-period-ms=1000 --raylet-period-ms=10000 --gcs-period-ms=12000 --gcs-kills=3
      --deadline-s=600 "$@")
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$(nproc) CPUs"
echo "command: bench/chaos.sh $* -> chaos_bench ${args[*]}"
# The retries' warnings go to stderr; the table to stdout.
"$bench" "${args[@]}"
