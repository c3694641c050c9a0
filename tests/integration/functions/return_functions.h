// Remote functions for the multiple-returns tests (multiple_returns_test.cc),
// in the same test library as test_functions.h.
#pragma once

#include <rayk/api.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace return_functions {

// (n, "n=<n>", n doubles 0.5, 1.5, ...).
std::tuple<int, std::string, std::vector<double>> Describe(int n);
// 0, 1, ..., n - 1.
std::vector<int> Range(int n);
// `count` strings of `bytes` bytes each, string i filled with 'a' + i % 26:
// large ones go to the object store, one object each.
std::vector<std::string> Chunks(int count, int64_t bytes);
// Throws std::invalid_argument("no values today") instead of returning.
std::vector<int> ThrowsInstead();
// The length of `chunk`.
int64_t LengthOf(const std::string& chunk);

// An actor whose methods return several values (SetNumReturns on actor calls).
class Splitter {
 public:
  static Splitter* Create(int base) { return new Splitter(base); }
  // (base + n, "base+<n>"); counts the call.
  std::tuple<int, std::string> Pair(int n);
  // base, base + 1, ..., base + n - 1; counts the call.
  std::vector<int> Range(int n);
  // How many calls ran: the actor's state lives on between split calls.
  int Calls() const { return calls_; }

 private:
  explicit Splitter(int base) : base_(base) {}
  int base_;
  int calls_ = 0;
};

}  // namespace return_functions
