// How a microbenchmark case is timed, following Ray's `ray microbenchmark`:
// the body is called for a warm-up of one second (shorter if the trials are),
// then in `trials` trials of `duration` seconds each; a trial's figure is
// multiplier * calls / elapsed seconds.
//
// Shared by `rayk microbenchmark` (harness.cc) and the same cases written
// against Ray's C++ API (bench/ray_cpp), so that both count alike. Hence only
// the standard library and C++17: that program is built without rayk, with
// the old std::string ABI of Ray's library.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rayk::microbenchmark {

// One figure per trial. `phase` is told "warm-up", then "trial 2/4", as each
// phase begins.
template <class Body, class Phase>
std::vector<double> TimeTrials(double duration, int trials, double multiplier, const Body& body,
                               const Phase& phase) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  // Warm up (leases, workers, connections) and size the step between clock
  // reads so that reading the clock costs nothing next to the calls.
  phase("warm-up");
  const double warmup = std::min(1.0, duration);
  int64_t warm_calls = 0;
  Clock::time_point start = Clock::now();
  do {
    body();
    ++warm_calls;
  } while (seconds_since(start) < warmup);
  const int64_t step = warm_calls / 10 + 1;
  std::vector<double> samples;
  for (int t = 0; t < trials; ++t) {
    phase("trial " + std::to_string(t + 1) + "/" + std::to_string(trials));
    int64_t calls = 0;
    start = Clock::now();
    while (seconds_since(start) < duration) {
      for (int64_t i = 0; i < step; ++i) body();
      calls += step;
    }
    samples.push_back(multiplier * calls / seconds_since(start));
  }
  return samples;
}

}  // namespace rayk::microbenchmark
