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

}  // namespace return_functions
