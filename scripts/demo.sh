#!/usr/bin/env bash
# The main job: install, build, and run demo jobs on an embedded local cluster
# (a GCS server, a raylet and worker processes started by the driver itself).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo "== Monte Carlo pi over 32 tasks"
build/bin/pi 32 2000000
echo "== word count of README.md (map-reduce)"
build/bin/wordcount README.md 8
echo "== recursive Fibonacci with nested tasks"
build/bin/fibonacci 14
echo "== parameter server: an actor holding weights, tasks pushing gradients"
build/bin/parameter_server 200 2
echo "== batching service: an async actor fanning requests out to batch tasks"
build/bin/batching_service 32 100 16
echo "== streaming pipeline: a generator task yielding chunks to consumer tasks as they come"
build/bin/streaming_pipeline 64 200000 4
