#!/usr/bin/env bash
# Installs, builds and runs every test (unit, conformance, integration), then
# runs them again under the sanitizers (scripts/sanitize.sh): address and
# undefined-behaviour over unit, conformance and integration tests in
# build-asan, thread over the unit tests in build-tsan. Arguments go to every
# ctest run (e.g. -R shm). Both passes run by default (RAYK_SANITIZE_PASSES
# picks them: "tsan" alone, or "" for none): tsan was clean three times in a
# row, about 6 min to build and 11 s to test; asan twice, 2-3 min to test, and
# its cold build is the longest step here (it builds every test, daemon and
# example instrumented: 49 min on a 2-core machine busy with other builds at
# -O2 -g; the sanitizer builds now use -O1 -g1, which halves each file's
# compile time, see scripts/sanitize.sh).
# Between ctest and the sanitizers, each fuzz target (scripts/fuzz.sh) runs
# RAYK_FUZZ_SECONDS (30 by default; 0 skips them).
# The short chaos run (tests/integration/chaos_test.cc, about 20 s) runs with
# the rest; `-E ChaosTest` leaves it out.
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
for pass in ${RAYK_SANITIZE_PASSES-tsan asan}; do
  scripts/sanitize.sh "$pass" "$@"
done
