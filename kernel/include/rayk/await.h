// Awaiting objects inside an Async actor method (rayk/async.h): `co_await
// ref` for an ObjectRef<T> suspends the call until the object is ready and
// then gives its value, or throws what rayk::Get(ref) would; `co_await refs`
// for a std::vector of them waits for all and gives their values. The call keeps a
// reference to the object while it waits. Included by rayk/api.h.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>
#include <vector>

#include "rayk/async.h"
#include "rayk/errors.h"
#include "rayk/internal/actor_impl.h"
#include "rayk/internal/api_impl.h"
#include "rayk/object_ref.h"

namespace rayk {

namespace internal {

// `co_await ref`: suspends until the object is ready, unless it already is.
template <class T>
class ObjectAwaiter {
 public:
  explicit ObjectAwaiter(ObjectRef<T> ref) : ref_(std::move(ref)) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> self) {
    // The loop may resume `self` (on this thread, later) as soon as this is
    // registered, so nothing here touches the frame after the call.
    return RequireActorRuntime().ResumeWhenReady({ref_.ID()}, [self] { self.resume(); });
  }
  T await_resume() {
    // Ready now: Get does not wait.
    std::vector<ObjectValue> values = GetValues(RequireRuntime(), {ref_.ID()}, kForever);
    if constexpr (!std::is_void_v<T>) return std::move(*DecodeValue<T>(values[0], ref_.ID()));
  }

 private:
  ObjectRef<T> ref_;  // keeps the object while the call waits for it
};

// `co_await refs`: suspends until every object is ready, unless all are.
template <class T>
class ObjectsAwaiter {
 public:
  explicit ObjectsAwaiter(std::vector<ObjectRef<T>> refs) : refs_(std::move(refs)) {
    ids_.reserve(refs_.size());
    for (const ObjectRef<T>& ref : refs_) ids_.push_back(ref.ID());
  }
  bool await_ready() const noexcept { return ids_.empty(); }
  bool await_suspend(std::coroutine_handle<> self) {
    return RequireActorRuntime().ResumeWhenReady(ids_, [self] { self.resume(); });
  }
  auto await_resume() {
    std::vector<ObjectValue> values =
        ids_.empty() ? std::vector<ObjectValue>() : GetValues(RequireRuntime(), ids_, kForever);
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      std::vector<T> out;
      out.reserve(values.size());
      for (size_t i = 0; i < values.size(); ++i) {
        out.push_back(std::move(*DecodeValue<T>(values[i], ids_[i])));
      }
      return out;
    }
  }

 private:
  std::vector<ObjectRef<T>> refs_;  // keep the objects while the call waits
  std::vector<ObjectId> ids_;
};

}  // namespace internal

// `co_await refs` inside an Async method, for a std::vector of refs: their
// values, in order (a std::vector<T>; nothing for ObjectRef<void>), once all
// are ready, as asyncio.gather does for Ray's refs. Throws RuntimeError for an
// empty ref among them, and what rayk::Get(refs) would throw (the first
// failed object's error).
template <class T>
internal::ObjectsAwaiter<T> operator co_await(std::vector<ObjectRef<T>> refs) {
  for (const ObjectRef<T>& ref : refs) {
    if (ref.IsNil()) throw RuntimeError("co_await of a vector holding an empty ObjectRef");
  }
  return internal::ObjectsAwaiter<T>(std::move(refs));
}

// `co_await ref` inside an Async method: the object's value. Throws
// RuntimeError for an empty ref, and whatever rayk::Get(ref) would throw.
template <class T>
internal::ObjectAwaiter<T> operator co_await(ObjectRef<T> ref) {
  if (ref.IsNil()) throw RuntimeError("co_await of an empty ObjectRef");
  return internal::ObjectAwaiter<T>(std::move(ref));
}

}  // namespace rayk
