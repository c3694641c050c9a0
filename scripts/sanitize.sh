#!/usr/bin/env bash
# Builds rayk with sanitizers in a build folder of its own and runs tests there:
#   scripts/sanitize.sh asan [ctest args...]  address+undefined in build-asan;
#                                             unit, conformance and integration tests
#   scripts/sanitize.sh tsan [ctest args...]  thread in build-tsan; unit tests
# Every process is instrumented: tests, and the daemons and workers they start.
# Those write their stderr to session log files, so every sanitizer report goes
# to <build>/sanitizer-reports/ instead, and a report fails the run even when
# the test that caused it passed (a worker's finding may not fail a test).
set -euo pipefail
cd "$(dirname "$0")/.."
pass="${1:-}"
case "$pass" in
  asan) build=build-asan sanitize=address,undefined labels='^(unit|conformance|integration)$' ;;
  tsan) build=build-tsan sanitize=thread labels='^unit$' ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [ctest arguments...]" >&2; exit 2 ;;
esac
shift
root=$PWD
reports=$root/$build/sanitizer-reports

# Benchmarks are not run here, so they are not built. -O1 -g1 is what the
# sanitizers' own docs suggest, and it halves the compile time of -O2 -g (an
# integration test under ASan: 27 s at -O2 -g, 14 s at -O1 -g1); reports keep
# whole stacks with file and line.
start=$SECONDS
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAYK_SANITIZE="$sanitize" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DRAYK_BUILD_BENCH=OFF >/dev/null
targets=()
if [ "$pass" = tsan ]; then
  # Only the unit tests run under TSan: build those (and what they depend on).
  for source in tests/unit/*_test.cc; do targets+=("$(basename "$source" .cc)"); done
fi
cmake --build "$build" -j"$(nproc)" ${targets[@]+--target "${targets[@]}"}
echo "sanitize $pass: built in $((SECONDS - start)) s"

# halt_on_error: the first finding ends the process, so it cannot be missed in
# a log nobody reads. The suppression files name third-party code only.
# GCC's UBSan runtime ignores its log_path when ASan's is loaded too (its call
# to set the path lands in ASan's runtime), so its text goes to stderr, which
# for a daemon is a session log deleted with the test's folder. abort_on_error
# and handle_abort turn each UBSan finding into an ASan report of the abort,
# whose stack names the __ubsan_handle_* check and the line, in $reports.
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:handle_abort=1:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan:suppressions=$root/scripts/sanitizers/tsan.supp"
start=$SECONDS
status=0
ctest --test-dir "$build" -j2 --output-on-failure --no-tests=error --timeout 900 \
  -L "$labels" "$@" || status=$?
echo "sanitize $pass: tests ran in $((SECONDS - start)) s"

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
  for report in "${found[@]}"; do
    echo "==== $report"
    cat "$report"
  done
  echo "sanitize $pass: ${#found[@]} sanitizer report(s) above, in $reports" >&2
  exit 1
fi
exit "$status"
