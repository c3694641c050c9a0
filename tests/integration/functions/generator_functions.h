// Remote functions for the streaming generator tests (generators_test.cc),
// in the same test library as test_functions.h. Producers that take a
// `trace` path append one line per item they are about to yield, and
// "closed" when their frame is destroyed, so a test can see how far a
// producer got and that it stopped.
#pragma once

#include <rayk/api.h>

#include <cstdint>
#include <string>

namespace generator_functions {

// 0, 1, ..., n - 1.
rayk::Generator<int> Count(int n);
// `n` strings of `bytes` bytes, string i filled with 'a' + i % 26: large
// ones go to the object store, one object each.
rayk::Generator<std::string> LargeChunks(int n, int64_t bytes);
// 0, ..., n - 1, then throws std::runtime_error("the stream broke after <n> items").
rayk::Generator<int> CountThenThrow(int n);
// 0, 1, 2, ... without end, tracing each item to `trace`.
rayk::Generator<int> Endless(std::string trace);
// 0, ..., n - 1, tracing each item to `trace`.
rayk::Generator<int> CountTraced(int n, std::string trace);
// 0, ..., n - 1; the first run (no file at `marker` yet) makes the file and
// kills its own process after yielding `die_after` items.
rayk::Generator<int> CountDyingOnce(int n, int die_after, std::string marker);
// Sleeps `ms` milliseconds, then yields 7.
rayk::Generator<int> SlowSeven(int ms);

}  // namespace generator_functions
