#!/usr/bin/env bash
# Scheduling efficiency at fine granularity (issue 19 item 7), rayk beside
# Ray: N tasks that each burn G microseconds of CPU on a node of 2 CPUs, N
# chosen so that the ideal run takes 5 s; efficiency = ideal / measured.
# Runs build/bin/granularity (rayk, an embedded node) and then
# bench/granularity_ray.py (Ray's Python API, a local ray.init()), one after
# the other, and prints one table, with how much CPU each driver used (in
# CPUs: CPU seconds per wall second) and the machine's busy CPUs meanwhile.
#
#   bash bench/granularity.sh [ideal_seconds] [cpus] [lengths_us...]   # defaults 5 2 100 1000 10000
#
# Ray comes from the virtualenv bench/compare_ray.sh makes ($RAYK_BENCH_VENV,
# default bench/.venv); RAYK_BENCH_RAY=0 leaves Ray out. Raw outputs stay in
# $RAYK_BENCH_OUT (default a fresh temporary folder). Ray is shut down by
# its driver (ray.shutdown()); no `ray stop`, which would also stop other
# Ray instances of this user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${RAYK_BENCH_VENV:-$root/bench/.venv}"
with_ray="${RAYK_BENCH_RAY:-1}"
out="${RAYK_BENCH_OUT:-$(mktemp -d /tmp/rayk_granularity_XXXXXX)}"
mkdir -p "$out"
ideal="${1:-5}"
cpus="${2:-2}"
shift $(($# < 2 ? $# : 2))
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(100 1000 10000)
[[ "$ideal" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "granularity.sh: ideal seconds '$ideal' is not a number" >&2; exit 2; }
for number in "$cpus" "${lengths[@]}"; do
  [[ "$number" =~ ^[1-9][0-9]*$ ]] || { echo "granularity.sh: '$number' is not a positive whole number" >&2; exit 2; }
done
case "$with_ray" in
  0 | 1) ;;
  *) echo "RAYK_BENCH_RAY='$with_ray' must be 1 (run Ray's side) or 0 (leave it out)" >&2; exit 2 ;;
esac
if [ "$with_ray" = 1 ] && ! "$venv/bin/python" -c 'import ray' 2>/dev/null; then
  echo "granularity.sh: $venv has no Ray; run 'bash bench/compare_ray.sh' once (it makes the" \
       "virtualenv) or set RAYK_BENCH_VENV, or RAYK_BENCH_RAY=0" >&2
  exit 2
fi
if [ ! -f "$root/build/build.ninja" ]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$root/build" -j2 --target rayk rayk_all_plugins granularity >/dev/null

echo "raw output in $out; load before: $(uptime)"
echo "running rayk (build/bin/granularity $ideal $cpus ${lengths[*]})"
RAYK_LOG_TO_DRIVER=0 "$root/build/bin/granularity" "$ideal" "$cpus" "${lengths[@]}" \
  >"$out/rayk.txt" 2>"$out/rayk.err" || { echo "rayk failed; see $out/rayk.err" >&2; exit 1; }
if [ "$with_ray" = 1 ]; then
  echo "running Ray (bench/granularity_ray.py)"
  RAY_USAGE_STATS_ENABLED=0 "$venv/bin/python" "$root/bench/granularity_ray.py" "$ideal" "$cpus" \
    "${lengths[@]}" >"$out/ray.txt" 2>"$out/ray.err" || echo "Ray failed; see $out/ray.err" >&2
else
  : >"$out/ray.txt"
fi

# One row per length: Ray's efficiency and CPUs, rayk's.
echo
echo "$(date -u +%F)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $cpus CPUs in the node, ideal $ideal s"
echo "efficiency = ideal / measured; driver and machine in CPUs busy (CPU seconds per wall second)"
echo "load after: $(uptime)"
echo
awk -F'\t' '
  FNR == 1 { next }
  FILENAME ~ /\/ray\.txt$/ { ray[$1] = $0; next }
  { rayk[$1] = $0; order[++n] = $1 }
  function cell(line, i,   f) { if (line == "") return "-"; split(line, f, "\t"); return f[i] }
  END {
    printf "| task length | tasks | Ray efficiency | Ray s | Ray driver | Ray machine | rayk efficiency | rayk s | rayk driver | rayk machine |\n"
    printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    for (i = 1; i <= n; ++i) {
      g = order[i]; r = ray[g]; k = rayk[g]
      label = g >= 1000 ? (g / 1000) " ms" : g " us"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, cell(k, 2),
             cell(r, 4), cell(r, 3), cell(r, 5), cell(r, 6), cell(k, 4), cell(k, 3), cell(k, 5), cell(k, 6)
    }
  }' "$out/ray.txt" "$out/rayk.txt"
