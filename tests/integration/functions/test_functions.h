// Remote functions the integration tests call. They live in a shared library
// (librayk_test_functions.so) because workers load code by library path, as
// they do a user's rayk_add_job() library.
#pragma once

#include <rayk/api.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace test_functions {

int Add(int a, int b);
std::string Echo(const std::string& text);
int64_t SleepMs(int64_t ms);
int Throws(const std::string& message);  // throws std::invalid_argument
int64_t WorkerPid();
// The hex id of the node it ran on, after sleeping `ms` (so calls overlap).
std::string NodeAfterMs(int64_t ms);
// Records its node under KV key "<key>/started/<pid>" (namespace "tests"),
// then blocks until key `key` exists (at most 60 s); returns its node.
std::string NodeWhenReleased(const std::string& key);
// The hex id of the node it ran on, given a (large) vector.
std::string NodeOfVector(const std::vector<double>& values);
// `values` with `by` added to each (a large result made from a large argument).
std::vector<double> ShiftVector(const std::vector<double>& values, double by);
int KillSelf();  // SIGKILLs its own worker
// Dies (SIGKILL) the first `deaths` times it runs, counting in `marker_dir`, then returns 42.
int DieTimesThen42(const std::string& marker_dir, int deaths);
// Throws the first `throws` times it runs (a std::system_error for type
// "system_error", else a std::logic_error), counting in `marker_dir`, then returns 42.
int ThrowTimesThen42(const std::string& marker_dir, int throws, const std::string& type);
// Sleeps `ms` on the first `stalls` runs (each run's marker file holds its
// worker's pid), then returns 42.
int StallTimesThen42(const std::string& marker_dir, int stalls, int64_t ms);
std::vector<double> MakeVector(int64_t n);  // 0, 1, ..., n-1
double SumVector(const std::vector<double>& values);
// `n` bytes, byte i being i % 251; and the index of the first byte of `bytes`
// that breaks that pattern (its size when none does).
rayk::Buffer MakeBytes(int64_t n);
int64_t FirstWrongByte(const rayk::Buffer& bytes);
int64_t SumViaNestedTasks(int n);  // submits n Add tasks and sums them
int64_t Fib(int n);

struct Point {
  int x = 0;
  int y = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& x& y;
  }
};
Point Mirror(const Point& p);

// An actor with a counter, and ways to end its process.
class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  static Counter* Create(int start);
  static Counter* CreateFailing(int start);  // throws std::runtime_error
  int Incr(int by);
  int Value();
  std::vector<double> Vector(int64_t n);  // n copies of the counter's value
  int64_t Pid();
  std::string Node();  // the hex id of the node it runs on
  int Die();           // SIGKILLs its own process
  int Exit();          // rayk::ExitActor()
  int SlowIncr(int64_t ms);
  // Throws std::runtime_error on the first `failures` calls of its life, then
  // adds `by`.
  int FlakyIncr(int by, int failures);
  // Returns true once `parties` calls are inside it at the same time (false
  // after 10 s): proves calls run concurrently.
  bool Rendezvous(int parties);
  // "factory=B method=B": rayk::WasCurrentActorRestarted() as its factory and
  // as this method saw it (0 or 1).
  std::string Restarted();

 private:
  int n_;
  bool restarted_in_factory_ = false;
  int flaky_calls_ = 0;
  std::atomic<int> inside_{0};
};

// Keeps references handed to it inside a value (so it borrows them) and
// hands them back the same way.
class RefHolder {
 public:
  static RefHolder* Create();  // out of line: a test calling only it still links the library
  bool Store(std::vector<rayk::ObjectRef<int>> refs) {
    refs_ = std::move(refs);
    return true;
  }
  std::vector<rayk::ObjectRef<int>> Refs() { return refs_; }

 private:
  std::vector<rayk::ObjectRef<int>> refs_;
};

// Puts `value` in its worker (which owns it) and returns the ref inside a
// vector; writes the worker's pid to `pid_file`.
std::vector<rayk::ObjectRef<int>> PutInside(int value, const std::string& pid_file);

// Calls the actor through a handle passed as an argument.
int IncrThroughHandle(rayk::ActorHandle<Counter> counter, int by);
// Finds the Counter by name (in the job's namespace) and calls Incr(by).
int IncrNamedCounter(const std::string& name, int by);

}  // namespace test_functions
