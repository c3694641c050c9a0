#!/usr/bin/env bash
# Installs, builds and runs every test (unit, conformance, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# Integration tests start real processes; two at a time fits a 2-core machine.
ctest --test-dir build -j2 --output-on-failure --no-tests=error --timeout 300 "$@"
