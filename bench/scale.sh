#!/usr/bin/env bash
# Scale on one node, as Ray's release test measures it
# (release/benchmarks/single_node): runs bench/scale_bench (rayk, an embedded
# one-node cluster) and then bench/scale_ray.py (Ray's Python API, a local
# ray.init()), one after the other, and prints one table side by side.
#
#   bash bench/scale.sh [queued_tasks] [large_object_gib]    # defaults 1000000 4
#
# $RAYK_BENCH_PYTHON is the Python with ray and numpy (default python3);
# RAYK_BENCH_RAY=0 leaves Ray out. Raw outputs stay in $RAYK_BENCH_OUT
# (default a fresh temporary folder). Each side is bounded by
# $RAYK_SCALE_TIMEOUT seconds (default 1800; each probe inside by 600 s).
# Ray is stopped with `ray stop` on the way out, even on failure (it stops
# every Ray process of this user); rayk's cluster ends with its driver, in a
# session root of its own that is removed afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
queued="${1:-1000000}"
large_gib="${2:-4}"
python="${RAYK_BENCH_PYTHON:-python3}"
with_ray="${RAYK_BENCH_RAY:-1}"
limit="${RAYK_SCALE_TIMEOUT:-1800}"
out="${RAYK_BENCH_OUT:-$(mktemp -d /tmp/rayk_scale_XXXXXX)}"
mkdir -p "$out"
for number in "$queued" "$large_gib" "$limit"; do
  [[ "$number" =~ ^[0-9]+$ ]] || { echo "scale.sh: '$number' is not a whole number" >&2; exit 2; }
done
case "$with_ray" in
  0 | 1) ;;
  *) echo "RAYK_BENCH_RAY='$with_ray' must be 1 (run Ray's side) or 0 (leave it out)" >&2; exit 2 ;;
esac
if [ "$with_ray" = 1 ] && ! "$python" -c 'import ray, numpy' 2>/dev/null; then
  echo "scale.sh: $python cannot import ray and numpy; run '$python -m pip install ray numpy'" \
       "or set RAYK_BENCH_PYTHON (or RAYK_BENCH_RAY=0)" >&2
  exit 2
fi

session_root="$(mktemp -d /tmp/rayk_scale_sessions_XXXXXX)"
ray_started=false
cleanup() {
  if [ "$ray_started" = true ]; then "$python" -m ray.scripts.scripts stop >/dev/null 2>&1 || true; fi
  rm -rf "$session_root"
}
trap cleanup EXIT

if [ ! -f "$root/build/build.ninja" ]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$root/build" -j2 --target rayk rayk_all_plugins scale_bench >/dev/null

segments_before="$(ls /dev/shm | grep '^rayk-' | sort || true)"
echo "raw output in $out; load before: $(uptime)"
echo "running rayk (build/bin/scale_bench $queued $large_gib)"
RAYK_SESSION_ROOT="$session_root" RAYK_LOG_TO_DRIVER=0 \
  timeout --kill-after=30 "$limit" "$root/build/bin/scale_bench" "$queued" "$large_gib" \
  >"$out/rayk.txt" 2>"$out/rayk.err" || echo "rayk: exit $? (see $out/rayk.err)" >>"$out/rayk.txt"
segments_after="$(ls /dev/shm | grep '^rayk-' | sort || true)"
left="$(comm -13 <(echo "$segments_before") <(echo "$segments_after") | grep . || true)"
[ -z "$left" ] || echo "WARNING: rayk left shared-memory segments behind: $left" >&2

if [ "$with_ray" = 1 ]; then
  echo "running Ray ($python bench/scale_ray.py $queued $large_gib)"
  ray_started=true
  RAY_AUTH_MODE=disabled timeout --kill-after=30 "$limit" \
    "$python" "$root/bench/scale_ray.py" "$queued" "$large_gib" \
    >"$out/ray.txt" 2>"$out/ray.err" || echo "ray: exit $? (see $out/ray.err)" >>"$out/ray.txt"
  "$python" -m ray.scripts.scripts stop >/dev/null 2>&1 || true
  ray_started=false
else
  : >"$out/ray.txt"
fi
echo "load after: $(uptime)"

# One row per probe: the value of each side, "-" where a side printed none.
"$python" - "$out/ray.txt" "$out/rayk.txt" <<'EOF'
import sys

def read(path):
    values, extra = {}, []
    for text in open(path):
        probe, tab, value = text.rstrip("\n").partition("\t")
        if tab:
            values[probe] = value
        elif text.strip():
            extra.append(text.strip())
    return values, extra

ray, ray_extra = read(sys.argv[1])
rayk, rayk_extra = read(sys.argv[2])
probes = list(dict.fromkeys(list(rayk) + list(ray)))
print("| probe | Ray Python | rayk |")
print("| --- | ---: | ---: |")
for probe in probes:
    print(f"| {probe} | {ray.get(probe, '-')} | {rayk.get(probe, '-')} |")
for side, extra in (("Ray", ray_extra), ("rayk", rayk_extra)):
    for text in extra:
        print(f"{side}: {text}")
EOF
