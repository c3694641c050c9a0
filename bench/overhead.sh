#!/usr/bin/env bash
# What task events cost (issue 18 item 8): `rayk microbenchmark` of the
# single-client task cases with task events on ($RAYK_TASK_EVENTS=1, the
# default) and off (=0), alternating on/off/on/off in one run of one build,
# so that whatever else loads the machine weighs on both alike. Two builds
# compared run after run differ by more than the events cost (26-45% between
# runs on a shared 2-core machine); pairs taken seconds apart do not.
#
#   bash bench/overhead.sh [--pairs 8] [--duration 2] [--trials 2] [--filter REGEX]
#
# For each case it prints the median over the runs with events on and with
# them off, each with its spread (lowest and highest run), and the median of
# the pairs' costs (time per task with events over time without, minus 1;
# negative is noise). The load average before and after goes with it. Needs
# build/bin/rayk and build/lib/librayk_microbenchmark.so (ninja -C build rayk
# rayk_microbenchmark).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
pairs=8
duration=2
trials=2
filter='single_client_tasks_(sync|async)'
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) echo "overhead.sh: unknown argument '$1'; see the usage at the top of $0" >&2; exit 2 ;;
  esac
done
rayk=$repo/build/bin/rayk
if [[ ! -x $rayk ]]; then
  echo "overhead.sh: no $rayk; build it: ninja -C $repo/build rayk rayk_microbenchmark" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# A copy of the build, so that a rebuild during the run changes nothing.
mkdir -p "$out/rayk/bin"
cp "$rayk" "$out/rayk/bin/"
cp -r "$repo/build/lib" "$out/rayk/lib"
rayk=$out/rayk/bin/rayk
export LD_LIBRARY_PATH=$out/rayk/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The median of values[1..n] (awk, shared by the two summaries below).
median='
  function median(values, n,    i, j, t) {
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && values[j - 1] > values[j]; j--) {
        t = values[j]; values[j] = values[j - 1]; values[j - 1] = t
      }
    return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
  }
'
for ((pair = 1; pair <= pairs; pair++)); do
  # Which goes first alternates too, so neither always follows the other.
  if ((pair % 2)); then order="1 0"; else order="0 1"; fi
  for events in $order; do
    # CPU time of the whole cluster (the command, its GCS and raylet, and the
    # workers they reaped), less sensitive to other load than throughput.
    RAYK_TASK_EVENTS=$events /usr/bin/time -f '%U %S' -o "$out/$pair-$events.cpu" \
      "$rayk" microbenchmark --filter "$filter" --duration "$duration" \
      --trials "$trials" --format json >"$out/$pair-$events.json"
  done
  [[ -t 2 ]] && printf '\rpair %d of %d' "$pair" "$pairs" >&2
done
[[ -t 2 ]] && echo >&2
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# CPU microseconds per task, both cases together, per run: pair events cpu_us.
for file in "$out"/*-[01].json; do
  base=$(basename "$file" .json)
  tasks=$(jq "[.cases[].mean] | add * $duration * $trials" "$file")
  read -r user system <"$out/$base.cpu"
  echo "${base%-*} ${base#*-} $(echo "($user + $system) * 1000000 / $tasks" | bc -l)"
done | sort -k1,1n -k2,2 | awk -v pairs="$pairs" "$median"'
  { cpu[$1, $2] = $3 }
  END {
    for (p = 1; p <= pairs; p++) {
      if (!((p, 1) in cpu) || !((p, 0) in cpu)) continue
      n++; on[n] = cpu[p, 1]; off[n] = cpu[p, 0]; ratio[n] = on[n] / off[n] - 1
      costs = costs sprintf(" %+.1f%%", 100 * ratio[n])
    }
    printf "CPU per task, all processes: events on %.1f us, off %.1f us (medians); cost %+.1f%%\n",
      median(on, n), median(off, n), 100 * median(ratio, n)
    print "  cost in each pair:" costs
  }'

# One line per case and run: case, pair, events, mean of its trials.
for file in "$out"/*-[01].json; do
  base=$(basename "$file" .json)
  jq -r --arg pair "${base%-*}" --arg events "${base#*-}" \
    '.cases[] | "\(.name) \($pair) \($events) \(.mean)"' "$file"
done | sort -k1,1 -k2,2n -k3,3 | awk -v pairs="$pairs" "$median"'
  { rate[$1, $2, $3] = $4; cases[$1] = 1 }
  END {
    printf "%-26s %28s %28s %12s\n", "case (tasks/s)", "events on: median (range)",
      "events off: median (range)", "cost"
    for (name in cases) {
      n = 0
      for (p = 1; p <= pairs; p++) {
        if (!((name, p, 1) in rate) || !((name, p, 0) in rate)) continue
        n++
        on[n] = rate[name, p, 1]; off[n] = rate[name, p, 0]
        ratio[n] = off[n] / on[n] - 1  # time per task with events over time without, minus 1
      }
      lo_on = hi_on = on[1]; lo_off = hi_off = off[1]
      for (i = 1; i <= n; i++) {
        if (on[i] < lo_on) lo_on = on[i]; if (on[i] > hi_on) hi_on = on[i]
        if (off[i] < lo_off) lo_off = off[i]; if (off[i] > hi_off) hi_off = off[i]
      }
      printf "%-26s %10.0f (%6.0f-%6.0f) %11.0f (%6.0f-%6.0f) %+11.1f%%\n", name,
        median(on, n), lo_on, hi_on, median(off, n), lo_off, hi_off, 100 * median(ratio, n)
    }
  }'
