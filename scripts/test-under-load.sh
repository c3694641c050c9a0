#!/usr/bin/env bash
# Runs the whole suite N times (default 3) with ctest -j2 while stress-ng keeps
# every core busy, then checks that nothing was left behind (no rayk process,
# no /dev/shm/rayk-* segment). The suite must hold on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
command -v stress-ng >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo;
  $sudo apt-get install -y -qq --no-install-recommends stress-ng; }
stress-ng --cpu "$(nproc)" --timeout 3h --quiet &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs, under stress-ng --cpu $(nproc)"
  ctest --test-dir build -j2 --output-on-failure --no-tests=error --timeout 300 | grep -E "tests passed|Failed|Total Test time"
done
left=$(ls /dev/shm | grep '^rayk-' || true)
procs=$(pgrep -af 'bin/rayk (gcs-server|raylet|worker)' || true)
[ -z "$left" ] || { echo "left behind in /dev/shm: $left"; exit 1; }
[ -z "$procs" ] || { echo "left running: $procs"; exit 1; }
echo "nothing left behind"
