// Task and actor round trips on an embedded one-node cluster (or
// RAYK_ADDRESS): sync calls (submit, wait, repeat), async calls (submit a
// batch of 1000, then wait for all), small Put/Get calls, and actor
// creations (create, first call answered, kill: one GCS actor record written
// several times, and a worker started), each as calls per second over a few
// trials. A third argument runs only the cases whose name contains it.
//
//   build/bin/task_bench [seconds_per_trial] [trials] [filter]
#include <rayk/api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

int Noop(int x) { return x; }

class Echo {
 public:
  static Echo* Create() { return new Echo(); }
  int Call(int x) { return x; }
};
RAYK_REMOTE(Noop, Echo::Create, &Echo::Call);

namespace {

using Clock = std::chrono::steady_clock;

// Runs `batch` (which does `per_batch` calls) until `seconds` pass; returns calls/s.
double Rate(double seconds, int per_batch, const std::function<void()>& batch) {
  auto start = Clock::now();
  int64_t calls = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    batch();
    calls += per_batch;
  }
  return calls / std::chrono::duration<double>(Clock::now() - start).count();
}

std::string filter;  // run only the cases whose name contains it

void Report(const char* name, double seconds, int trials, int per_batch,
            const std::function<void()>& batch) {
  if (std::string(name).find(filter) == std::string::npos) return;
  batch();  // warm up: leases, workers, connections
  std::vector<double> rates;
  for (int t = 0; t < trials; ++t) rates.push_back(Rate(seconds, per_batch, batch));
  double mean = std::accumulate(rates.begin(), rates.end(), 0.0) / rates.size();
  double var = 0;
  for (double r : rates) var += (r - mean) * (r - mean);
  double sd = rates.size() > 1 ? std::sqrt(var / (rates.size() - 1)) : 0;
  std::printf("%-28s %12.1f per second  +- %.1f\n", name, mean, sd);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  int trials = argc > 2 ? std::atoi(argv[2]) : 3;
  if (argc > 3) filter = argv[3];
  rayk::Init();
  Report("single_client_tasks_sync", seconds, trials, 1,
         [] { rayk::Get(rayk::Task(Noop).Remote(1)); });
  Report("single_client_tasks_async", seconds, trials, 1000, [] {
    std::vector<rayk::ObjectRef<int>> refs;
    refs.reserve(1000);
    for (int i = 0; i < 1000; ++i) refs.push_back(rayk::Task(Noop).Remote(i));
    rayk::Get(refs);
  });
  Report("single_client_put_calls", seconds, trials, 1000, [] {
    for (int i = 0; i < 1000; ++i) rayk::Put(i);
  });
  auto actor = rayk::Actor(Echo::Create).Remote();
  Report("1_1_actor_calls_sync", seconds, trials, 1,
         [&actor] { rayk::Get(actor.Task(&Echo::Call).Remote(1)); });
  Report("1_1_actor_calls_async", seconds, trials, 1000, [&actor] {
    std::vector<rayk::ObjectRef<int>> refs;
    refs.reserve(1000);
    for (int i = 0; i < 1000; ++i) refs.push_back(actor.Task(&Echo::Call).Remote(i));
    rayk::Get(refs);
  });
  auto ref = rayk::Put(42);
  Report("single_client_get_calls", seconds, trials, 1000, [&ref] {
    for (int i = 0; i < 1000; ++i) rayk::Get(ref);
  });
  Report("actor_creations", seconds, trials, 1, [] {
    auto created = rayk::Actor(Echo::Create).Remote();
    rayk::Get(created.Task(&Echo::Call).Remote(1));
    created.Kill();
  });
  rayk::Shutdown();
  return 0;
}
