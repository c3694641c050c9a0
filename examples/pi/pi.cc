// Estimates pi by Monte Carlo over many tasks: each task throws darts at the
// unit square and counts those inside the quarter circle.
//
//   build/bin/pi [tasks] [samples_per_task]
#include <rayk/api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int64_t CountInside(int64_t samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int64_t inside = 0;
  for (int64_t i = 0; i < samples; ++i) {
    double x = unit(rng), y = unit(rng);
    inside += x * x + y * y <= 1.0;
  }
  return inside;
}
RAYK_REMOTE(CountInside);

int main(int argc, char** argv) {
  int tasks = argc > 1 ? std::atoi(argv[1]) : 32;
  int64_t samples = argc > 2 ? std::atoll(argv[2]) : 1'000'000;
  rayk::Init();
  std::vector<rayk::ObjectRef<int64_t>> counts;
  for (int t = 0; t < tasks; ++t)
    counts.push_back(rayk::Task(CountInside).Remote(samples, uint64_t(t + 1)));
  int64_t inside = 0;
  for (const auto& count : rayk::Get(counts)) inside += *count;
  double pi = 4.0 * static_cast<double>(inside) / static_cast<double>(samples * tasks);
  std::printf("pi ~= %.6f from %lld samples in %d tasks\n", pi,
              static_cast<long long>(samples * tasks), tasks);
  rayk::Shutdown();
  return 0;
}
