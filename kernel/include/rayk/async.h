// Async<T>: the return type of an actor method written as a C++20 coroutine.
// Such a method may `co_await` an ObjectRef (a task's result, a Put, another
// actor's call) without holding its actor's thread: the call is suspended and
// the actor runs other calls until the object is ready.
//
//   class Service {
//    public:
//     static Service* Create() { return new Service(); }
//     rayk::Async<int> Sum(int n) {
//       int sum = 0;
//       for (int i = 0; i < n; ++i) sum += co_await rayk::Task(Square).Remote(i);
//       co_return sum;
//     }
//   };
//   RAYK_REMOTE(Service::Create, &Service::Sum);
//
// An actor whose class declares a method returning Async<T> (registered with
// RAYK_REMOTE) is an async actor: its calls run interleaved on one thread,
// its event loop, up to SetMaxConcurrency of them at once (1000 by default,
// as in Ray). Calls start in the order they arrive (for one caller, the order
// it submitted them); a call runs without interruption until it awaits an
// object that is not ready yet, and then other calls run until that object
// is in and the loop resumes it. Its other (plain) methods run on the same
// loop, each to its end. docs/actors.md, "Async actors", says the rest.
//
// `co_await ref` (rayk/await.h) returns the value (a T, not a shared_ptr) or throws what
// rayk::Get would throw (rayk::TaskError for a task that threw, ...), inside
// the coroutine. An exception that leaves the coroutine fails that call only:
// its caller's Get throws rayk::TaskError, and the actor keeps serving.
// A coroutine may also `co_await` another Async<U> (a helper coroutine), once.
// Awaiting is only possible inside an actor's call; a blocking rayk::Get
// inside a coroutine holds the loop (and every other call) until it returns.
//
// Thread-safety: an async actor's coroutines all run on its loop's thread, so
// they share the actor's state without locks.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace rayk {

template <class T = void>
class [[nodiscard]] Async;

namespace internal {

// What the promise of every Async<T> shares: who waits for the coroutine's
// end (an awaiting coroutine, or the actor's executor), and what it threw.
class AsyncPromiseBase {
 public:
  std::suspend_always initial_suspend() noexcept { return {}; }

  // At the end, control passes to the awaiting coroutine, or the executor is
  // told (it may destroy the coroutine from there: nothing touches the frame
  // after `done` is moved out of it).
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      AsyncPromiseBase& promise = self.promise();
      if (promise.continuation_) return promise.continuation_;
      std::function<void()> done = std::move(promise.on_done_);
      if (done) done();
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  std::coroutine_handle<> continuation_;
  std::function<void()> on_done_;
  std::exception_ptr error_;
};

template <class T>
class AsyncPromise : public AsyncPromiseBase {
 public:
  Async<T> get_return_object();
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) { value_.emplace(std::forward<U>(value)); }
  T Take() {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class AsyncPromise<void> : public AsyncPromiseBase {
 public:
  Async<void> get_return_object();
  void return_void() {}
  void Take() {
    if (error_) std::rethrow_exception(error_);
  }
};

template <class T>
struct IsAsync : std::false_type {};
template <class T>
struct IsAsync<Async<T>> : std::true_type {};

// The type of the object a call of a method returning R makes: R without
// reference or const, and T for an Async<T> (the value it co_returns).
template <class R>
struct CallValue {
  using type = std::decay_t<R>;
};
template <class T>
struct CallValue<Async<T>> {
  using type = T;
};

// Starts `task` on this thread; `done(task)` runs when it has finished
// (before this returns if it never suspends), with its result or exception
// ready for Take(). The coroutine is destroyed after `done`.
template <class T, class Done>
void StartAsync(Async<T> task, Done done) {
  auto owned = std::make_shared<Async<T>>(std::move(task));
  std::coroutine_handle<typename Async<T>::promise_type> handle = owned->handle_;
  // A cycle (frame -> on_done_ -> owned -> frame), broken at the end when
  // FinalAwaiter moves on_done_ out of the frame and runs it.
  handle.promise().on_done_ = [owned, done = std::move(done)]() mutable { done(*owned); };
  handle.resume();
}

}  // namespace internal

template <class T>
class [[nodiscard]] Async {
 public:
  using promise_type = internal::AsyncPromise<T>;
  using ValueType = T;

  Async(Async&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Async& operator=(Async&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Async(const Async&) = delete;
  Async& operator=(const Async&) = delete;
  ~Async() {
    if (handle_) handle_.destroy();
  }

  // Awaiting from another coroutine runs this one to its end first, then
  // returns its value or rethrows its exception.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    handle_.promise().continuation_ = awaiting;
    return handle_;
  }
  T await_resume() { return handle_.promise().Take(); }

  // For the executor, after StartAsync's `done`: the value, or the exception.
  T Take() { return handle_.promise().Take(); }

 private:
  friend promise_type;
  template <class U, class Done>
  friend void internal::StartAsync(Async<U> task, Done done);

  explicit Async(std::coroutine_handle<promise_type> handle) : handle_(handle) {}

  std::coroutine_handle<promise_type> handle_;
};

namespace internal {
template <class T>
Async<T> AsyncPromise<T>::get_return_object() {
  return Async<T>(std::coroutine_handle<AsyncPromise<T>>::from_promise(*this));
}
inline Async<void> AsyncPromise<void>::get_return_object() {
  return Async<void>(std::coroutine_handle<AsyncPromise<void>>::from_promise(*this));
}
}  // namespace internal

}  // namespace rayk
