// The caller's side of multiple returns (SetNumReturns on rayk::Task and on
// actor calls, rayk/api.h and rayk/actor.h): checking the count asked for,
// and handing out one ref per result. The worker's side is split_returns.h.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "rayk/errors.h"
#include "rayk/ids.h"
#include "rayk/internal/split_returns.h"
#include "rayk/object_ref.h"

namespace rayk::internal {

// Throws RuntimeError, starting with `where` ("SetNumReturns(2) on
// rayk::Task(f)"), for a count of 0, above kMaxNumReturns, or other than the
// size of a tuple result R.
template <class R>
void CheckNumReturns(const std::string& where, size_t count) {
  static_assert(SplitTraits<R>::kSplittable,
                "SetNumReturns splits a result that is a std::tuple or a std::vector");
  if (count == 0 || count > kMaxNumReturns) {
    throw RuntimeError(where + ": give 1 to " + std::to_string(kMaxNumReturns) + " results");
  }
  if constexpr (SplitTraits<R>::kFixedCount > 0) {
    if (count != SplitTraits<R>::kFixedCount) {
      throw RuntimeError(where + ": the function returns a tuple of " +
                         std::to_string(SplitTraits<R>::kFixedCount) + "; give that count");
    }
  }
}

// The refs of a split call's results, one local reference each adopted from
// `ids`: a tuple of refs for a tuple, a vector for a vector.
template <class R>
struct SplitRefs;
template <class... Ts>
struct SplitRefs<std::tuple<Ts...>> {
  using Type = std::tuple<ObjectRef<Ts>...>;
  static Type Adopt(const std::vector<ObjectId>& ids) {
    return Adopt(ids, std::index_sequence_for<Ts...>());
  }
  template <size_t... I>
  static Type Adopt(const std::vector<ObjectId>& ids, std::index_sequence<I...>) {
    return Type(ObjectRef<Ts>(ids[I], typename ObjectRef<Ts>::AdoptTag())...);
  }
};
template <class T, class Alloc>
struct SplitRefs<std::vector<T, Alloc>> {
  using Type = std::vector<ObjectRef<T>>;
  static Type Adopt(const std::vector<ObjectId>& ids) {
    Type refs;
    refs.reserve(ids.size());
    for (const ObjectId& id : ids) refs.emplace_back(id, typename ObjectRef<T>::AdoptTag());
    return refs;
  }
};

}  // namespace rayk::internal
