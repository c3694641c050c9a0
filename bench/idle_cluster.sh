#!/usr/bin/env bash
# The CPU an idle dev cluster costs (issue 19 item 8), before and after a
# change, side by side in one run: for each build it starts `rayk dev up
# --nodes N`, lets it settle, then reads the CPU time (utime + stime, from
# /proc/<pid>/stat) of every process of the cluster (GCS, its supervisor,
# the raylets) over a window, and prints it per second of wall time, in
# cores (1.00 = one core busy). The machine's other load over the same
# window (from /proc/stat) is printed beside it, since a loaded machine
# slows everything.
#
#   bash bench/idle_cluster.sh [--nodes 200] [--settle 10] [--window 30] [--base d654c45]
#
# "after" is this checkout's build/ (built if missing); "before" is commit
# --base exported to build-before/<base>/ and built there (the rayk command
# and the plugins only; ccache makes it quick when the commit was built
# before). --base none measures this checkout alone.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
nodes=200
settle=10
window=30
base=d654c45
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "idle_cluster.sh: unknown argument '$1'; see the usage at the top of $0" >&2; exit 2 ;;
  esac
done

build() {  # source dir: builds the rayk command and the plugins in <dir>/build
  local dir=$1
  if [[ ! -x "$dir/build/bin/rayk" ]]; then
    cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$dir/build" -j"$(nproc)" --target rayk_cli rayk_all_plugins >/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "<clock ticks (utime + stime)> <count>" of the processes whose command line
# mentions the session root $1 (given through the environment, so that this
# reader's own command line does not).
cluster_ticks() {
  BENCH_ROOT=$1 python3 -c '
import os
root, ticks, count = os.environ["BENCH_ROOT"], 0, 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if root not in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"):
            continue
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    ticks += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15
    count += 1
print(ticks, count)'
}

# Busy and total ticks of the whole machine, from /proc/stat's first line.
machine_ticks() {
  read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

root=""
rayk_bin=""
cleanup() {
  if [[ -n "$root" ]]; then
    RAYK_SESSION_ROOT=$root "$rayk_bin" dev down >/dev/null 2>&1 || true
    rm -rf "$root"
  fi
}
trap cleanup EXIT

# Prints "<cluster cores> <other cores> <processes> <up seconds>" for the build in $1.
measure() {
  local src=$1 hz up_start up_end t0 t1 m0 m1 w0 w1 procs
  rayk_bin=$src/build/bin/rayk
  root=$(mktemp -d /tmp/rayk-idle-bench.XXXXXX)
  hz=$(getconf CLK_TCK)
  up_start=$(date +%s.%N)
  RAYK_SESSION_ROOT=$root "$rayk_bin" dev up --nodes "$nodes" --port "$(free_port)" \
    --config "$src/plugins.toml" >"$root.up.log" 2>&1 ||
    { echo "dev up failed ($src):" >&2; tail -5 "$root.up.log" >&2; rm -f "$root.up.log"; exit 1; }
  rm -f "$root.up.log"
  up_end=$(date +%s.%N)
  sleep "$settle"
  read -r t0 procs <<<"$(cluster_ticks "$root")"
  m0=$(machine_ticks); w0=$(date +%s.%N)
  sleep "$window"
  read -r t1 _ <<<"$(cluster_ticks "$root")"
  m1=$(machine_ticks); w1=$(date +%s.%N)
  RAYK_SESSION_ROOT=$root "$rayk_bin" dev down >/dev/null 2>&1 || true
  rm -rf "$root"
  root=""
  read -r mb0 mt0 <<<"$m0"
  read -r mb1 mt1 <<<"$m1"
  python3 - "$t0" "$t1" "$hz" "$w0" "$w1" "$mb0" "$mt0" "$mb1" "$mt1" "$procs" "$up_start" "$up_end" <<'EOF'
import os, sys
t0, t1, hz, w0, w1, mb0, mt0, mb1, mt1, procs, u0, u1 = sys.argv[1:]
wall = float(w1) - float(w0)
cluster = (int(t1) - int(t0)) / int(hz) / wall
cpus = os.cpu_count()
machine = (int(mb1) - int(mb0)) / (int(mt1) - int(mt0)) * cpus  # busy cores, the cluster included
print(f"{cluster:.3f} {max(machine - cluster, 0):.2f} {procs} {float(u1) - float(u0):.1f}")
EOF
}

build "$repo"
columns=("after ($(git -C "$repo" rev-parse --short HEAD)):$repo")
if [[ "$base" != "none" ]]; then
  before=$repo/build-before/$base
  if [[ ! -f "$before/CMakeLists.txt" ]]; then
    mkdir -p "$before"
    git -C "$repo" archive "$base" | tar -x -C "$before"
  fi
  build "$before"
  columns=("before ($base):$before" "${columns[0]}")
fi

echo "idle dev cluster: $nodes raylets, $settle s to settle, then CPU over $window s" \
  "($(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-24s %14s %14s %10s %10s\n' build "cluster cores" "other load" processes "up (s)"
for column in "${columns[@]}"; do
  label=${column%%:*}
  src=${column#*:}
  read -r cores other procs up <<<"$(measure "$src")"
  printf '%-24s %14s %14s %10s %10s\n' "$label" "$cores" "$other" "$procs" "$up"
done
