#include "test_functions.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace test_functions {

int Add(int a, int b) { return a + b; }

std::string Echo(const std::string& text) { return text; }

int64_t SleepMs(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int Throws(const std::string& message) { throw std::invalid_argument(message); }

int64_t WorkerPid() { return getpid(); }

int KillSelf() {
  kill(getpid(), SIGKILL);
  return 0;
}

int DieTimesThen42(const std::string& marker_dir, int deaths) {
  int runs = 0;
  while (std::filesystem::exists(marker_dir + "/run" + std::to_string(runs))) ++runs;
  std::ofstream(marker_dir + "/run" + std::to_string(runs)) << getpid();
  if (runs < deaths) kill(getpid(), SIGKILL);
  return 42;
}

std::vector<double> MakeVector(int64_t n) {
  std::vector<double> values(n);
  std::iota(values.begin(), values.end(), 0.0);
  return values;
}

double SumVector(const std::vector<double>& values) { return std::accumulate(values.begin(), values.end(), 0.0); }

int64_t SumViaNestedTasks(int n) {
  std::vector<rayk::ObjectRef<int>> parts;
  for (int i = 0; i < n; ++i) parts.push_back(rayk::Task(Add).Remote(i, 1));
  int64_t sum = 0;
  for (const auto& part : rayk::Get(parts)) sum += *part;
  return sum;
}

int64_t Fib(int n) {
  if (n < 2) return n;
  auto a = rayk::Task(Fib).Remote(n - 1);
  auto b = rayk::Task(Fib).Remote(n - 2);
  return *rayk::Get(a) + *rayk::Get(b);
}

Point Mirror(const Point& p) { return Point{p.y, p.x}; }

}  // namespace test_functions

using namespace test_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(Add, Echo, SleepMs, Throws, WorkerPid, KillSelf, DieTimesThen42, MakeVector, SumVector,
            SumViaNestedTasks, Fib, Mirror);
