// Multiple returns (SetNumReturns, rayk/api.h): a task whose result is a
// std::tuple or a std::vector can store each element as its own object, with
// its own ref, as Ray's num_returns does. The worker encodes the elements one
// by one (EncodeEach); the caller gets a tuple or a vector of refs.
//
// The number of objects is fixed when the call is submitted, since the refs
// exist before the task runs: a tuple's is its size, a vector's is what the
// caller asked for, and a vector of another length fails every ref with an
// error that says both numbers.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "rayk/internal/serialization.h"

namespace rayk::internal {

// Whether results of type T can be split, and into how many objects (0: any
// number, chosen per call).
template <class T>
struct SplitTraits {
  static constexpr bool kSplittable = false;
};
template <class... Ts>
struct SplitTraits<std::tuple<Ts...>> {
  static constexpr bool kSplittable = true;
  static constexpr size_t kFixedCount = sizeof...(Ts);
};
template <class T, class Alloc>
struct SplitTraits<std::vector<T, Alloc>> {
  static constexpr bool kSplittable = true;
  static constexpr size_t kFixedCount = 0;
};

// The most objects one call may return: each is a ref the owner tracks and
// an id in the task's spec.
inline constexpr size_t kMaxNumReturns = 1 << 20;

// Encodes each element of `value`, which the caller asked to split into
// `count` objects: the first into `first`, the others into `rest`. False,
// with `error` set, when it cannot be split so.
template <class R>
bool EncodeEach(const std::string& name, const R& value, size_t count, std::string& first,
                std::vector<std::string>& rest, std::string& error) {
  if constexpr (!SplitTraits<R>::kSplittable) {
    (void)value;
    (void)first;
    (void)rest;
    error = name + " returns " + TypeName<R>() + ", which SetNumReturns(" + std::to_string(count) +
            ") cannot split: return a std::tuple or a std::vector";
    return false;
  } else {
    size_t size = 0;
    if constexpr (SplitTraits<R>::kFixedCount > 0) {
      size = SplitTraits<R>::kFixedCount;
    } else {
      size = value.size();
    }
    if (size != count) {
      error = name + " returned " + std::to_string(size) + " values where SetNumReturns(" +
              std::to_string(count) + ") promised " + std::to_string(count) +
              ": return exactly as many as the call asks for";
      return false;
    }
    rest.reserve(count - 1);
    size_t index = 0;
    auto emit = [&](std::string bytes) {
      if (index++ == 0) {
        first = std::move(bytes);
      } else {
        rest.push_back(std::move(bytes));
      }
    };
    if constexpr (SplitTraits<R>::kFixedCount > 0) {
      std::apply(
          [&emit](const auto&... element) {
            (emit(Serialize<std::decay_t<decltype(element)>>(element)), ...);
          },
          value);
    } else {
      using Element = typename R::value_type;
      for (size_t i = 0; i < size; ++i) {
        const Element& element = value[i];  // a copy for std::vector<bool>'s proxies
        emit(Serialize<Element>(element));
      }
    }
    return true;
  }
}

}  // namespace rayk::internal
