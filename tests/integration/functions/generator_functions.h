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

// A plain actor whose methods stream. Its items start at the `base` it was
// made with, and it counts the items it made, so a test sees that the
// producer ran on the actor's instance and when.
class Streamer {
 public:
  static Streamer* Create(int base) { return new Streamer(base); }
  explicit Streamer(int base) : base_(base) {}
  virtual ~Streamer() = default;

  // base, base + 1, ..., base + n - 1.
  rayk::Generator<int> Count(int n);
  // base, base + 1, ... without end, tracing each item to `trace` as
  // Endless does (and "closed" when the producer's frame goes).
  rayk::Generator<int> Endless(std::string trace);
  // base, ..., base + n - 1, then throws as CountThenThrow does.
  rayk::Generator<int> CountThenThrow(int n);
  // base, ..., base + n - 1; as CountDyingOnce, the first run (no file at
  // `marker` yet) kills the actor's process after `die_after` items.
  rayk::Generator<int> CountDyingOnce(int n, int die_after, std::string marker);
  // How many items this instance made so far.
  int Made() const { return made_; }

 private:
  int base_ = 0;
  int made_ = 0;
};

// The same with a coroutine method, which makes it an async actor: its
// calls interleave on one event loop (rayk/async.h).
class AsyncStreamer : public Streamer {
 public:
  static AsyncStreamer* Create(int base) { return new AsyncStreamer(base); }
  using Streamer::Streamer;
  // `x`, from a coroutine that awaits nothing.
  rayk::Async<int> Echo(int x);
};

}  // namespace generator_functions
