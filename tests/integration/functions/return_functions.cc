#include "return_functions.h"

#include <numeric>
#include <stdexcept>

namespace return_functions {

std::tuple<int, std::string, std::vector<double>> Describe(int n) {
  std::vector<double> values(n);
  for (int i = 0; i < n; ++i) values[i] = i + 0.5;
  return {n, "n=" + std::to_string(n), values};
}

std::vector<int> Range(int n) {
  std::vector<int> values(n);
  std::iota(values.begin(), values.end(), 0);
  return values;
}

std::vector<std::string> Chunks(int count, int64_t bytes) {
  std::vector<std::string> chunks;
  for (int i = 0; i < count; ++i) chunks.emplace_back(bytes, static_cast<char>('a' + i % 26));
  return chunks;
}

std::vector<int> ThrowsInstead() { throw std::invalid_argument("no values today"); }

int64_t LengthOf(const std::string& chunk) { return static_cast<int64_t>(chunk.size()); }

std::tuple<int, std::string> Splitter::Pair(int n) {
  ++calls_;
  return {base_ + n, "base+" + std::to_string(n)};
}

std::vector<int> Splitter::Range(int n) {
  ++calls_;
  std::vector<int> values(n);
  std::iota(values.begin(), values.end(), base_);
  return values;
}

}  // namespace return_functions

using namespace return_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(Describe, Range, Chunks, ThrowsInstead, LengthOf, Splitter::Create, &Splitter::Pair,
            &Splitter::Range, &Splitter::Calls);
