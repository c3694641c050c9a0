#!/usr/bin/env bash
# Runs `ray microbenchmark`, the same cases written against Ray's C++ API
# (bench/ray_cpp) and `rayk microbenchmark` on this machine, one after the
# other, and prints one table (case | Ray Python | Ray C++ | rayk | rayk / best
# Ray) with the machine's floors beside it (bench/baseline: memcpy, transport
# round trip).
#
#   bash bench/compare_ray.sh
#
# Ray comes from PyPI into a virtualenv, $RAYK_BENCH_VENV (default
# bench/.venv), made on the first run (a few minutes). Ray's run takes ~15
# minutes: it sleeps 10 s before each case. Its "client:" (Ray Client) cases
# are skipped through Ray's own TESTS_TO_SKIP (set it to change that;
# TESTS_TO_RUN restricts Ray to names containing a substring).
# $RAYK_MICROBENCHMARK_ARGS goes to `rayk microbenchmark` (e.g. "--filter actor").
# The Ray C++ column (bench/ray_cpp/run.sh: PyPI's ray-cpp, g++, a local Ray
# head on port $RAYK_BENCH_RAY_CPP_PORT, default 6390) takes about a minute;
# RAYK_BENCH_RAY_CPP=0 leaves it out, $RAYK_RAY_CPP_ARGS goes to its program
# (e.g. "--duration 1 --trials 2").
# Raw outputs stay in $RAYK_BENCH_OUT (default a fresh temporary folder).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${RAYK_BENCH_VENV:-$root/bench/.venv}"
out="${RAYK_BENCH_OUT:-$(mktemp -d /tmp/rayk_compare_XXXXXX)}"
mkdir -p "$out"
ray_cpp="${RAYK_BENCH_RAY_CPP:-1}"
case "$ray_cpp" in
  0 | 1) ;;
  *) echo "RAYK_BENCH_RAY_CPP='$ray_cpp' must be 1 (run the Ray C++ column) or 0 (leave it out)" >&2
     exit 2 ;;
esac

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
# Ray C++: install ray-cpp and compile now, so that a failure shows before the long runs.
if [ "$ray_cpp" = 1 ]; then
  RAYK_BENCH_VENV="$venv" RAYK_BENCH_OUT="$out" bash "$root/bench/ray_cpp/run.sh" --build-only
fi

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
if [ "$ray_cpp" = 1 ]; then
  echo "running bench/ray_cpp (Ray's C++ API)"
  # shellcheck disable=SC2086  # the extra arguments are meant to split
  # A failure here keeps the figures already printed (Ray Python's took 15 minutes).
  RAYK_BENCH_VENV="$venv" RAYK_BENCH_OUT="$out" bash "$root/bench/ray_cpp/run.sh" \
    ${RAYK_RAY_CPP_ARGS:-} > "$out/ray_cpp.txt" ||
    echo "bench/ray_cpp failed (the line above says why); its missing cases show -"
else
  : > "$out/ray_cpp.txt"
fi
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

def figures(file_name):
    # "<case> per second <mean> +- <std>" lines, as `ray microbenchmark` prints them.
    found = {}
    for line in open(os.path.join(out, file_name)):
        m = re.match(r"^(.*) per second ([-+0-9.eE]+) \+- ([-+0-9.eE]+)\s*$", line)
        if m:
            found[case_name(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return found

ray = figures("ray.txt")
ray_cpp = figures("ray_cpp.txt")
rayk = {c["name"]: (c["mean"], c["std"]) for c in json.load(open(os.path.join(out, "rayk.json")))["cases"]}
baseline = dict(line.split() for line in open(os.path.join(out, "baseline.txt")) if line.strip())

cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
print(f"\n{datetime.date.today()}  {cpu}, {os.cpu_count()} cores  {ray_version}; rayk build/bin/rayk")
print("figures: calls (or gigabytes, as Ray counts them) per second, mean +- std over trials\n")
print(f"| {'case':<44} | {'Ray Python':>22} | {'Ray C++':>22} | {'rayk':>24} | {'rayk / best Ray':>15} |")
print(f"|{'-' * 46}|{'-' * 23}:|{'-' * 23}:|{'-' * 25}:|{'-' * 16}:|")
def cell(v):
    return f"{v[0]:,.2f} +- {v[1]:,.2f}" if v else "-"
names = list(rayk) + [n for n in ray if n not in rayk]
names += [n for n in ray_cpp if n not in names]
for name in names:
    r, c, k = ray.get(name), ray_cpp.get(name), rayk.get(name)
    best = max((v[0] for v in (r, c) if v), default=0)
    ratio = f"{k[0] / best:.2f}" if k and best > 0 else "-"
    print(f"| {name:<44} | {cell(r):>22} | {cell(c):>22} | {cell(k):>24} | {ratio:>15} |")
print("\nthis machine's floors (bench/baseline):")
print(f"  memcpy, one thread:                 {float(baseline['memcpy_gigabytes_per_second']):.2f} gigabytes per second")
print(f"  transport round trip (zmq, tcp):    {float(baseline['transport_rtt_us']):.1f} us "
      f"= {1e6 / float(baseline['transport_rtt_us']):,.0f} sync calls per second")
print(f"  transport pipelined calls:          {float(baseline['transport_pipelined_calls_per_second']):,.0f} per second")
PY
