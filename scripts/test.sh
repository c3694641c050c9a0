#!/usr/bin/env bash
# Installs, builds and runs every test (unit, conformance, integration), then
# runs them again under the sanitizers (scripts/sanitize.sh): address and
# undefined-behaviour over unit, conformance and integration tests in
# build-asan, thread over the unit tests in build-tsan. Arguments go to every
# ctest run (e.g. -R shm). The tsan pass runs by default (clean three times in
# a row, about 6 min to build, 11 s to test); RAYK_SANITIZE_PASSES="asan tsan"
# adds asan, which has not yet been run clean (then make it the default too).
# Between the two, each fuzz target (scripts/fuzz.sh) runs RAYK_FUZZ_SECONDS
# (30 by default; 0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
scripts/build.sh
# Integration tests start real processes; two at a time fits a 2-core machine.
ctest --test-dir build -j2 --output-on-failure --no-tests=error --timeout 300 "$@"
if [ "${RAYK_FUZZ_SECONDS:-30}" -gt 0 ]; then
  scripts/fuzz.sh "${RAYK_FUZZ_SECONDS:-30}"
fi
for pass in ${RAYK_SANITIZE_PASSES-tsan}; do
  scripts/sanitize.sh "$pass" "$@"
done
