#include "test_functions.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <system_error>
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

std::string NodeOfVector(const std::vector<double>&) { return rayk::CurrentNodeId().Hex(); }

std::vector<double> ShiftVector(const std::vector<double>& values, double by) {
  std::vector<double> shifted(values);
  for (double& value : shifted) value += by;
  return shifted;
}

std::string NodeAfterMs(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return rayk::CurrentNodeId().Hex();
}

std::string NodeWhenReleased(const std::string& key) {
  std::string node = rayk::CurrentNodeId().Hex();
  rayk::KvPut(key + "/started/" + std::to_string(getpid()), node, "tests");
  // Bounded: a test that never releases must not leave a worker behind for long.
  for (int i = 0; i < 1200 && !rayk::KvGet(key, "tests"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return node;
}

int KillSelf() {
  kill(getpid(), SIGKILL);
  return 0;
}

namespace {

// How many runs `marker_dir` records before this one, recording this one.
int RecordRun(const std::string& marker_dir) {
  int runs = 0;
  while (std::filesystem::exists(marker_dir + "/run" + std::to_string(runs))) ++runs;
  std::ofstream(marker_dir + "/run" + std::to_string(runs)) << getpid();
  return runs;
}

}  // namespace

int DieTimesThen42(const std::string& marker_dir, int deaths) {
  if (RecordRun(marker_dir) < deaths) kill(getpid(), SIGKILL);
  return 42;
}

int StallTimesThen42(const std::string& marker_dir, int stalls, int64_t ms) {
  if (RecordRun(marker_dir) < stalls) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return 42;
}

int ThrowTimesThen42(const std::string& marker_dir, int throws, const std::string& type) {
  int run = RecordRun(marker_dir);
  if (run >= throws) return 42;
  if (type == "system_error") throw std::system_error(EIO, std::generic_category(), "flaky disk");
  throw std::logic_error("bug in run " + std::to_string(run));
}

std::vector<double> MakeVector(int64_t n) {
  std::vector<double> values(n);
  std::iota(values.begin(), values.end(), 0.0);
  return values;
}

double SumVector(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0);
}

rayk::Buffer MakeBytes(int64_t n) {
  rayk::Buffer bytes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) bytes.data()[i] = static_cast<uint8_t>(i % 251);
  return bytes;
}

int64_t FirstWrongByte(const rayk::Buffer& bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes.data()[i] != static_cast<uint8_t>(i % 251)) return static_cast<int64_t>(i);
  }
  return static_cast<int64_t>(bytes.size());
}

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

Counter* Counter::Create(int start) {
  auto* counter = new Counter(start);
  counter->restarted_in_factory_ = rayk::WasCurrentActorRestarted();
  return counter;
}
std::string Counter::Restarted() {
  return "factory=" + std::to_string(restarted_in_factory_) +
         " method=" + std::to_string(rayk::WasCurrentActorRestarted());
}
Counter* Counter::CreateFailing(int) { throw std::runtime_error("no counter today"); }
int Counter::Incr(int by) { return n_ += by; }
int Counter::Value() { return n_; }
std::vector<double> Counter::Vector(int64_t n) { return std::vector<double>(n, n_); }
int64_t Counter::Pid() { return getpid(); }
std::string Counter::Node() { return rayk::CurrentNodeId().Hex(); }
int Counter::Die() {
  kill(getpid(), SIGKILL);
  return 0;
}
int Counter::Exit() {
  rayk::ExitActor();
  return n_;
}
int Counter::SlowIncr(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return n_ += 1;
}
RefHolder* RefHolder::Create() { return new RefHolder(); }

std::vector<rayk::ObjectRef<int>> PutInside(int value, const std::string& pid_file) {
  std::ofstream(pid_file) << getpid();
  return {rayk::Put(value)};
}

int Counter::FlakyIncr(int by, int failures) {
  if (flaky_calls_++ < failures) {
    throw std::runtime_error("flaky call " + std::to_string(flaky_calls_));
  }
  return n_ += by;
}
bool Counter::Rendezvous(int parties) {
  ++inside_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (inside_.load() < parties && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return inside_.load() >= parties;
}

int IncrThroughHandle(rayk::ActorHandle<Counter> counter, int by) {
  return *rayk::Get(counter.Task(&Counter::Incr).Remote(by));
}

int IncrNamedCounter(const std::string& name, int by) {
  return *rayk::Get(rayk::GetActor<Counter>(name).Task(&Counter::Incr).Remote(by));
}

}  // namespace test_functions

using namespace test_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(Add, Echo, SleepMs, Throws, WorkerPid, NodeAfterMs, NodeWhenReleased, NodeOfVector,
            ShiftVector, KillSelf, DieTimesThen42, ThrowTimesThen42, StallTimesThen42, PutInside,
            MakeVector, SumVector, MakeBytes, FirstWrongByte, SumViaNestedTasks, Fib, Mirror,
            IncrThroughHandle, IncrNamedCounter);
RAYK_REMOTE(Counter::Create, Counter::CreateFailing, &Counter::Incr, &Counter::Value,
            &Counter::Vector, &Counter::Pid, &Counter::Node, &Counter::Die, &Counter::Exit,
            &Counter::SlowIncr, &Counter::FlakyIncr, &Counter::Rendezvous, &Counter::Restarted,
            RefHolder::Create, &RefHolder::Store, &RefHolder::Refs);
