// The measuring half of `rayk microbenchmark`: what a case is, how one is
// timed, and how results are printed.
//
// Timing (timing.h) follows Ray's `ray microbenchmark` so that the figures compare: a
// case's body is called for a warm-up second (shorter if the trials are), then
// in `trials` trials of `duration` seconds each; a trial's figure is
// multiplier * calls / elapsed seconds, and a case reports the mean and the
// population standard deviation over its trials. Ray also sleeps 10 s before
// every case to let noisy neighbours settle; rayk does not.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace rayk::microbenchmark {

struct Settings {
  double duration = 2.0;  // seconds per trial
  int trials = 4;
  // Told "warm-up", then "trial 2/4", as each phase of a case's timing
  // begins (the command's progress line); may be empty.
  std::function<void(const std::string& phase)> on_phase;
};

// Times one body as described above. A case calls Run exactly once, after
// its setup (actors, objects) and before its teardown.
class Timer {
 public:
  explicit Timer(const Settings& settings) : settings_(settings) {}

  // `multiplier` is what one call of `body` counts for: 1000 for a body that
  // submits 1000 tasks and waits for them, 0.8 for one that puts 0.8 gigabytes.
  void Run(double multiplier, const std::function<void()>& body);

  // One figure per trial, after Run.
  const std::vector<double>& samples() const { return samples_; }

 private:
  Settings settings_;
  std::vector<double> samples_;
};

struct Case {
  const char* name;  // as Ray names it, with '_' for spaces and ':'
  const char* unit;  // "per second" or "gigabytes per second"
  std::function<void(Timer&)> body;
};

// Every case, in Ray's order (cases.cc).
const std::vector<Case>& Cases();

}  // namespace rayk::microbenchmark
