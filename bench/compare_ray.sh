#!/usr/bin/env bash
# Runs `ray microbenchmark` and `rayk microbenchmark` on this machine, one
# after the other, and prints one table (case | Ray | rayk | rayk/Ray) with the
# machine's floors beside it (bench/baseline: memcpy, transport round trip).
#
#   bash bench/compare_ray.sh
#
# Ray comes from PyPI into a virtualenv, $RAYK_BENCH_VENV (default
# bench/.venv), made on the first run (a few minutes). Ray's run takes ~15
# minutes: it sleeps 10 s before each case. Its "client:" (Ray Client) cases
# are skipped through Ray's own TESTS_TO_SKIP (set it to change that;
# TESTS_TO_RUN restricts Ray to names containing a substring).
# $RAYK_MICROBENCHMARK_ARGS goes to `rayk microbenchmark` (e.g. "--filter actor").
# Raw outputs stay in $RAYK_BENCH_OUT (default a fresh temporary folder).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${RAYK_BENCH_VENV:-$root/bench/.venv}"
out="${RAYK_BENCH_OUT:-$(mktemp -d /tmp/rayk_compare_XXXXXX)}"
mkdir -p "$out"

# Ray, in its own virtualenv (its microbenchmark also needs numpy).
if ! "$venv/bin/python" -c 'import ray, numpy' 2>/dev/null; then
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing python3-venv (to make $venv)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv
  fi
  echo "installing Ray from PyPI into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q 'ray[default]' numpy
fi

# rayk: the command, its microbenchmark library, the baseline tool.
if [ ! -f "$root/build/build.ninja" ]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$root/build" --target rayk_cli rayk_microbenchmark rayk_all_plugins baseline >/dev/null

echo "raw output in $out"
echo "running bench/baseline"
"$root/build/bin/baseline" > "$out/baseline.txt"
echo "running ray microbenchmark (about 15 minutes)"
# Even with its client cases skipped, Ray starts a Ray Client server at the
# end, which can time out on a busy machine; the figures printed before count.
( cd "$out" && TESTS_TO_SKIP="${TESTS_TO_SKIP-client:}" RAY_USAGE_STATS_ENABLED=0 \
    "$venv/bin/ray" microbenchmark > "$out/ray.txt" 2> "$out/ray.log" ) || {
  if ! grep -q ' per second ' "$out/ray.txt"; then
    echo "ray microbenchmark failed; see $out/ray.log" >&2
    exit 1
  fi
  echo "ray microbenchmark ended with an error after its cases (see $out/ray.log); using what it printed"
}
echo "running rayk microbenchmark"
# shellcheck disable=SC2086  # the extra arguments are meant to split
RAYK_SESSION_ROOT="$out/rayk_sessions" "$root/build/bin/rayk" microbenchmark --format json \
  ${RAYK_MICROBENCHMARK_ARGS:-} > "$out/rayk.json" 2> "$out/rayk.log" || {
  echo "rayk microbenchmark failed; see $out/rayk.log" >&2
  exit 1
}

"$venv/bin/python" - "$out" "$("$venv/bin/ray" --version)" <<'PY'
import json, os, platform, re, subprocess, sys, datetime

out, ray_version = sys.argv[1], sys.argv[2]

def case_name(ray_name):
    # "1:1 async-actor calls sync" -> "1_1_async_actor_calls_sync"; drop "(Plasma Store)".
    name = ray_name.replace("(Plasma Store)", "").strip().lower()
    return re.sub(r"[ :/-]+", "_", name)

ray = {}
for line in open(os.path.join(out, "ray.txt")):
    m = re.match(r"^(.*) per second ([-+0-9.eE]+) \+- ([-+0-9.eE]+)\s*$", line)
    if m:
        ray[case_name(m.group(1))] = (float(m.group(2)), float(m.group(3)))
rayk = {c["name"]: (c["mean"], c["std"]) for c in json.load(open(os.path.join(out, "rayk.json")))["cases"]}
baseline = dict(line.split() for line in open(os.path.join(out, "baseline.txt")) if line.strip())

cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
print(f"\n{datetime.date.today()}  {cpu}, {os.cpu_count()} cores  {ray_version}; rayk build/bin/rayk")
print("figures: calls (or gigabytes, as Ray counts them) per second, mean +- std over trials\n")
print(f"| {'case':<44} | {'Ray':>22} | {'rayk':>24} | {'rayk/Ray':>8} |")
print(f"|{'-' * 46}|{'-' * 23}:|{'-' * 25}:|{'-' * 9}:|")
def cell(v):
    return f"{v[0]:,.2f} +- {v[1]:,.2f}" if v else "-"
for name in list(rayk) + [n for n in ray if n not in rayk]:
    r, k = ray.get(name), rayk.get(name)
    ratio = f"{k[0] / r[0]:.2f}" if r and k and r[0] > 0 else "-"
    print(f"| {name:<44} | {cell(r):>22} | {cell(k):>24} | {ratio:>8} |")
print("\nthis machine's floors (bench/baseline):")
print(f"  memcpy, one thread:                 {float(baseline['memcpy_gigabytes_per_second']):.2f} gigabytes per second")
print(f"  transport round trip (zmq, tcp):    {float(baseline['transport_rtt_us']):.1f} us "
      f"= {1e6 / float(baseline['transport_rtt_us']):,.0f} sync calls per second")
print(f"  transport pipelined calls:          {float(baseline['transport_pipelined_calls_per_second']):,.0f} per second")
PY
