#!/usr/bin/env bash
# The "Ray C++" column of bench/compare_ray.sh, on its own: builds
# bench/ray_cpp/ray_cpp_microbenchmark.cc against PyPI's ray-cpp, starts a
# local Ray head, runs the program against it and stops the head again.
#
#   bash bench/ray_cpp/run.sh [program arguments]
#   bash bench/ray_cpp/run.sh --duration 1 --trials 1 --filter tasks_sync
#   bash bench/ray_cpp/run.sh --build-only
#
# Prints the program's lines ("<case> per second <mean> +- <std>") on stdout;
# progress and errors go to stderr, Ray's logs to $RAYK_BENCH_OUT.
#
# Ray must already be in the virtualenv $RAYK_BENCH_VENV (default bench/.venv;
# bench/compare_ray.sh makes it). ray-cpp is installed there at the same
# version as ray. The program is compiled with g++ into
# $RAYK_BENCH_RAY_CPP_BUILD (default build/ray_cpp), once as the driver and
# once as a shared library beside it: Ray's C++ workers load the remote
# functions from the shared libraries in the driver's folder.
#
# The head listens on port $RAYK_BENCH_RAY_CPP_PORT (default 6390) with
# RAY_AUTH_MODE=disabled, since a C++ driver does not pass Ray's token. It is
# stopped with `ray stop` on the way out, even on failure; `ray stop` stops
# every Ray process of this user on the machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${RAYK_BENCH_VENV:-$root/bench/.venv}"
build="${RAYK_BENCH_RAY_CPP_BUILD:-$root/build/ray_cpp}"
port="${RAYK_BENCH_RAY_CPP_PORT:-6390}"
source_file="$root/bench/ray_cpp/ray_cpp_microbenchmark.cc"
timing="$root/cli/microbenchmark/timing.h"  # rayk's timing loop, which it shares

fail() {
  echo "ray_cpp: $*" >&2
  exit 1
}

build_only=false
if [ "${1:-}" = "--build-only" ]; then
  build_only=true
  shift
fi
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  fail "RAYK_BENCH_RAY_CPP_PORT='$port' is not a port number; set e.g. RAYK_BENCH_RAY_CPP_PORT=6390"
fi
"$venv/bin/python" -c 'import ray' 2>/dev/null ||
  fail "no Ray in $venv; run 'bash bench/compare_ray.sh' once (it installs Ray there) or set RAYK_BENCH_VENV"
command -v g++ >/dev/null || fail "g++ is not installed; run scripts/install-deps.sh (or apt-get install g++)"
out="${RAYK_BENCH_OUT:-$(mktemp -d /tmp/rayk_ray_cpp_XXXXXX)}"
mkdir -p "$out"

# ray-cpp at ray's own version: the C++ API must match the head it talks to.
version="$("$venv/bin/python" -c 'import ray; print(ray.__version__)')"
# (pip's output is read whole: grep -q would close the pipe on it early.)
installed="$("$venv/bin/pip" show ray-cpp 2>/dev/null || true)"
if ! grep -qx "Version: $version" <<<"$installed"; then
  echo "installing ray-cpp==$version into $venv" >&2
  "$venv/bin/pip" install -q "ray-cpp==$version" >&2 ||
    fail "pip install ray-cpp==$version into $venv failed (network? PyPI has no ray-cpp for this Python or version?); set RAYK_BENCH_RAY_CPP=0 to leave the Ray C++ column out"
fi
cpp="$("$venv/bin/python" -c 'import os, ray; print(os.path.join(os.path.dirname(ray.__file__), "cpp"))')"
if [ ! -f "$cpp/include/ray/api.h" ] || [ ! -f "$cpp/lib/libray_api.so" ]; then
  fail "ray-cpp in $venv has no $cpp/include/ray/api.h or $cpp/lib/libray_api.so; reinstall it: $venv/bin/pip install --force-reinstall ray-cpp==$version"
fi

# One compile, two links. -D_GLIBCXX_USE_CXX11_ABI=0: libray_api.so is built
# with the old std::string ABI. The folder holds nothing but the driver and
# its library, since the workers load every shared library in it.
driver="$build/ray_cpp_microbenchmark"
if [ ! -x "$driver" ] || [ "$source_file" -nt "$driver" ] || [ "$timing" -nt "$driver" ] ||
  [ "$cpp/lib/libray_api.so" -nt "$driver" ]; then
  echo "compiling $source_file against ray-cpp $version" >&2
  mkdir -p "$build"
  rm -f "$driver" "$build/libray_cpp_microbenchmark.so"
  object="$out/ray_cpp_microbenchmark.o"
  # shellcheck disable=SC2054  # -Wl,-rpath,DIR is one argument
  link=(-L"$cpp/lib" -lray_api -Wl,-rpath,"$cpp/lib" -pthread)
  {
    g++ -std=c++17 -O2 -fPIC -D_GLIBCXX_USE_CXX11_ABI=0 -I"$cpp/include" -I"$root/cli" -w \
      -c "$source_file" -o "$object" &&
      g++ -shared -o "$build/libray_cpp_microbenchmark.so" "$object" "${link[@]}" &&
      g++ -o "$driver.tmp" "$object" "${link[@]}" && mv "$driver.tmp" "$driver"
  } 2>"$out/ray_cpp_build.log" || {
    rm -f "$driver.tmp"
    fail "compiling $source_file failed; see $out/ray_cpp_build.log"
  }
fi
$build_only && exit 0

# The head, on the address Ray picks for this node: a C++ driver looks for a
# raylet on the IP it reaches the head from, so 127.0.0.1 would not do.
ip="$("$venv/bin/python" -c 'from ray._private.services import get_node_ip_address as f; print(f())')"
export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
trap '"$venv/bin/ray" stop >>"$out/ray_cpp_head.log" 2>&1 || true' EXIT
echo "starting a Ray head at $ip:$port" >&2
"$venv/bin/ray" start --head --node-ip-address "$ip" --port "$port" --include-dashboard=false \
  --disable-usage-stats >"$out/ray_cpp_head.log" 2>&1 ||
  fail "ray start --head --port $port failed (port in use? set RAYK_BENCH_RAY_CPP_PORT); see $out/ray_cpp_head.log"
echo "running $driver" >&2
"$driver" --address "$ip:$port" "$@" 2>"$out/ray_cpp.log" ||
  fail "$driver failed; see $out/ray_cpp.log"
