// Remote functions the integration tests call. They live in a shared library
// (librayk_test_functions.so) because workers load code by library path, as
// they do a user's rayk_add_job() library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rayk/api.h>

namespace test_functions {

int Add(int a, int b);
std::string Echo(const std::string& text);
int64_t SleepMs(int64_t ms);
int Throws(const std::string& message);           // throws std::invalid_argument
int64_t WorkerPid();
int KillSelf();                                    // SIGKILLs its own worker
// Dies (SIGKILL) the first `deaths` times it runs, counting in `marker_dir`, then returns 42.
int DieTimesThen42(const std::string& marker_dir, int deaths);
std::vector<double> MakeVector(int64_t n);         // 0, 1, ..., n-1
double SumVector(const std::vector<double>& values);
int64_t SumViaNestedTasks(int n);                  // submits n Add tasks and sums them
int64_t Fib(int n);

struct Point {
  int x = 0;
  int y = 0;
  template <class A>
  void serialize(A& ar, unsigned) { ar& x& y; }
};
Point Mirror(const Point& p);

}  // namespace test_functions
