// Awaiting objects inside an Async actor method (rayk/async.h): `co_await
// ref` for an ObjectRef<T> suspends the call until the object is ready and
// then gives its value, or throws what rayk::Get(ref) would. The call keeps a
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

}  // namespace internal

// `co_await ref` inside an Async method: the object's value. Throws
// RuntimeError for an empty ref, and whatever rayk::Get(ref) would throw.
template <class T>
internal::ObjectAwaiter<T> operator co_await(ObjectRef<T> ref) {
  if (ref.IsNil()) throw RuntimeError("co_await of an empty ObjectRef");
  return internal::ObjectAwaiter<T>(std::move(ref));
}

}  // namespace rayk
