#include "generator_functions.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace generator_functions {
namespace {

void Trace(const std::string& path, const std::string& line) {
  std::ofstream(path, std::ios::app) << line << std::endl;
}

// Writes "closed" to the trace when the producer's frame goes.
struct ClosedTrace {
  std::string path;
  ~ClosedTrace() { Trace(path, "closed"); }
};

}  // namespace

rayk::Generator<int> Count(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

rayk::Generator<std::string> LargeChunks(int n, int64_t bytes) {
  for (int i = 0; i < n; ++i) co_yield std::string(bytes, static_cast<char>('a' + i % 26));
}

rayk::Generator<int> CountThenThrow(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
  throw std::runtime_error("the stream broke after " + std::to_string(n) + " items");
}

rayk::Generator<int> Endless(std::string trace) {
  ClosedTrace closed{trace};
  for (int i = 0;; ++i) {
    Trace(trace, std::to_string(i));
    co_yield i;
  }
}

rayk::Generator<int> CountTraced(int n, std::string trace) {
  for (int i = 0; i < n; ++i) {
    Trace(trace, std::to_string(i));
    co_yield i;
  }
}

rayk::Generator<int> CountDyingOnce(int n, int die_after, std::string marker) {
  const bool first_run = access(marker.c_str(), F_OK) != 0;
  for (int i = 0; i < n; ++i) {
    if (first_run && i == die_after) {
      Trace(marker, "died");
      kill(getpid(), SIGKILL);
    }
    co_yield i;
  }
}

// The actors' producers run the free ones and add their base: what is
// tested is where they run, not what they yield.
rayk::Generator<int> Streamer::Count(int n) {
  for (int i : generator_functions::Count(n)) {
    ++made_;
    co_yield base_ + i;
  }
}

rayk::Generator<int> Streamer::Endless(std::string trace) {
  for (int i : generator_functions::Endless(std::move(trace))) {
    ++made_;
    co_yield base_ + i;
  }
}

rayk::Generator<int> Streamer::CountThenThrow(int n) {
  for (int i : generator_functions::CountThenThrow(n)) {
    ++made_;
    co_yield base_ + i;
  }
}

rayk::Generator<int> Streamer::CountDyingOnce(int n, int die_after, std::string marker) {
  for (int i : generator_functions::CountDyingOnce(n, die_after, std::move(marker))) {
    ++made_;
    co_yield base_ + i;
  }
}

rayk::Async<int> AsyncStreamer::Echo(int x) { co_return x; }

rayk::Generator<int> SlowSeven(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  co_yield 7;
}

}  // namespace generator_functions

using namespace generator_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(Count, LargeChunks, CountThenThrow, Endless, CountTraced, CountDyingOnce, SlowSeven,
            Streamer::Create, &Streamer::Count, &Streamer::Endless, &Streamer::CountThenThrow,
            &Streamer::CountDyingOnce, &Streamer::Made, AsyncStreamer::Create,
            &AsyncStreamer::Echo);
