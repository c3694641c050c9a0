#!/usr/bin/env bash
# Installs rayk's build and test dependencies from Debian's packages (Debian 12).
# Only what is missing is installed, so a second run is quick.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev libboost-serialization-dev libboost-filesystem-dev
  cppzmq-dev libzmq3-dev libsodium-dev libsqlite3-dev libtomlplusplus-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev  # the redis gcs plugin's client
  redis-server  # the real Redis the redis gcs plugin's tests and gcs_bench start (redis-cli comes with it)
  iproute2  # ip netns, for the multi-host tests
  clang-format  # scripts/check-format.sh; the sanitizers' runtimes come with g++
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer is clang's (libclang_rt.fuzzer, in libclang-rt-14-dev)
  gnuplot-nox  # `rayk sim --plot`: draws utilisation and queue length over time per policy
  prometheus  # the real Prometheus server (and promtool) that the head's metrics test scrapes with
  chromium  # headless Chromium: dashboard_test loads the head's dashboard page and checks its DOM and console
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
