#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in build-fuzz and runs
# each over its seeds for a bounded time:
#   scripts/fuzz.sh [SECONDS]   seconds per target, 30 by default (what CI runs)
# Fails on any crash, sanitizer report (ASan, UBSan, leaks), timeout or
# allocation over the limit, and prints each target's executions. Each
# target's corpus grows in build-fuzz/corpus/<target>, kept between runs;
# the input that failed goes to build-fuzz/artifacts/<target>/ (never into the
# repository), to replay with build-fuzz/bin/<target>_fuzz <file>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
build=build-fuzz
targets=(frame asio_frame message config)

start=$SECONDS
# Only the fuzz targets are built, not the rest of the tree: they link the few
# kernel sources they exercise (tests/fuzz/CMakeLists.txt).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DRAYK_BUILD_FUZZ=ON -DRAYK_BUILD_TESTS=OFF -DRAYK_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target rayk_fuzz_seeds "${targets[@]/%/_fuzz}"
echo "fuzz: built in $((SECONDS - start)) s"

# Seeds made from the current message structs, beside the committed ones.
"$build/bin/rayk_fuzz_seeds" "$build/seeds"

export ASAN_OPTIONS="detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1"
status=0
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target artifacts=$build/artifacts/$target log=$build/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  seeds=(tests/fuzz/corpus/"$target")
  [ -d "$build/seeds/$target" ] && seeds+=("$build/seeds/$target")
  dict=()
  [ -f tests/fuzz/"$target".dict ] && dict=(-dict=tests/fuzz/"$target".dict)
  # -malloc_limit_mb: inputs are at most 4 KiB, so a larger allocation is a
  # lying length or count that got past the decoder's bounds.
  result=0
  "$build/bin/${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -malloc_limit_mb=64 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
    "$corpus" "${seeds[@]}" >"$log" 2>&1 || result=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$result" -ne 0 ]; then
    status=1
    tail -n 60 "$log"
    echo "fuzz $target: FAILED (exit $result) after ${runs:-?} executions; the input is in" \
      "$artifacts/, the log in $log" >&2
  else
    echo "fuzz $target: ${runs:-?} executions in $seconds s (${rate:-?}/s), corpus ${corp:-?}" \
      "(inputs/bytes), no crashes"
  fi
done
echo "fuzz: done in $((SECONDS - start)) s"
exit "$status"
