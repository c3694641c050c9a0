// Streaming generators: a remote function written as a C++20 coroutine that
// `co_yield`s values returns them one by one, and its caller takes each as
// its own object while the producer runs on, as Ray's streaming generators
// (num_returns="streaming") do.
//
//   rayk::Generator<std::string> ReadChunks(int count) {
//     for (int i = 0; i < count; ++i) co_yield LoadChunk(i);
//   }
//   RAYK_REMOTE(ReadChunks);
//
//   rayk::ObjectRefGenerator<std::string> chunks = rayk::Task(ReadChunks).Remote(100);
//   for (rayk::ObjectRef<std::string> chunk : chunks) Consume(*rayk::Get(chunk));
//
// An actor method returning rayk::Generator<T> streams the same way:
// `reader.Task(&Reader::Chunks).Remote(100)` returns an ObjectRefGenerator,
// and the producer runs on the actor's instance (see "Actor methods" below).
//
// Semantics, exactly:
// - Items come in the order they were yielded; each is an object owned by the
//   caller, stored (inline or in the producer's node store) and freed on its
//   own, like any task result. An item's ref can be passed to other tasks.
// - Next() waits for the next item and returns its ref, or nothing once the
//   producer returned and every item was taken.
// - An exception that leaves the producer ends the stream at its position:
//   the next Next() returns a ref whose Get throws it (TaskError, or
//   WorkerCrashedError when its worker died for good), then the stream ends.
// - Backpressure (SetGeneratorBackpressure(n) on the call): when n items wait
//   untaken, the producer is paused inside its next co_yield until the caller
//   takes one, so at most n + 1 items are ever made ahead of the caller.
//   Without it the producer never waits.
// - Dropping the ObjectRefGenerator (or Close()) stops the producer at its
//   next co_yield (the coroutine is destroyed there, so its destructors run),
//   frees the items not taken, and cancels the call if it has not started.
//   Refs already taken stay valid.
// - When the producer's worker dies, the call is retried within
//   SetMaxRetries (3 by default), as Ray does: the new run yields the same
//   items again, the ones already received are skipped, so a producer must
//   yield the same items in the same order on every run.
// - Actor methods. Everything above holds, with the actor's rules for where
//   the producer runs and what a death does:
//   * A plain (threaded) actor runs the producer on one of its group's
//     threads from its first item to its end, as any long call: with
//     max_concurrency 1, calls submitted after it wait until the stream ends
//     or is closed. Give streams a concurrency group of their own to serve
//     other calls meanwhile.
//   * An async actor (rayk/async.h) makes each item in one step of its event
//     loop: between items, while the caller acknowledges one or holds the
//     producer back (backpressure), the loop runs the actor's other calls.
//     The stream holds one place of its group's limit until it ends. (The
//     producer itself cannot co_await: Generator is synchronous.)
//   * Closing the generator stops the producer only; the actor lives on and
//     serves later calls.
//   * When the actor's process dies, the call is retried on the restarted
//     actor within its SetMaxTaskRetries (0 by default), skipping the items
//     received as for a task; otherwise the stream ends with ActorDiedError
//     at its position.
// - A generator handle belongs to the process that made the call; it is
//   moved, not copied, and not sent to other processes.
//
// Thread-safety: a Generator is used by the one thread that runs it. An
// ObjectRefGenerator's Next may be called from any thread, one call at a
// time.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <utility>

#include "rayk/errors.h"
#include "rayk/object_ref.h"

namespace rayk {

namespace internal {

// A single-pass iterator over a source of values (a Generator, an
// ObjectRefGenerator): source->Pull() gives a pointer to the next value,
// valid until the next Pull, or null at the end.
template <class Source, class Value>
class PullIterator {
 public:
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  PullIterator() = default;
  explicit PullIterator(Source* source) : source_(source) { ++*this; }
  Value& operator*() const { return *current_; }
  PullIterator& operator++() {
    current_ = source_->Pull();
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return current_ == nullptr; }

 private:
  Source* source_ = nullptr;
  Value* current_ = nullptr;
};

}  // namespace internal

// The producer's return type: a synchronous coroutine generator. It also
// runs locally: `for (auto& v : ReadChunks(3))` iterates its items here.
template <class T>
class [[nodiscard]] Generator {
 public:
  using value_type = T;

  struct promise_type {
    std::optional<T> current;
    std::exception_ptr error;

    Generator get_return_object() {
      return Generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    template <class U = T>
    std::suspend_always yield_value(U&& value) {
      current.emplace(std::forward<U>(value));
      return {};
    }
    void return_void() {}
    void unhandled_exception() { error = std::current_exception(); }
  };

  Generator(Generator&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Generator& operator=(Generator&& other) noexcept {
    if (this != &other) {
      Destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;
  ~Generator() { Destroy(); }

  // Runs the producer to its next co_yield: true with Value() set, or false
  // at its end. Rethrows what the producer threw.
  bool Next() {
    if (!handle_ || handle_.done()) return false;
    handle_.promise().current.reset();
    handle_.resume();
    if (handle_.promise().error) std::rethrow_exception(std::exchange(handle_.promise().error, {}));
    return !handle_.done();
  }
  T& Value() { return *handle_.promise().current; }

  // Local iteration.
  using iterator = internal::PullIterator<Generator, T>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  friend iterator;
  T* Pull() { return Next() ? &Value() : nullptr; }
  explicit Generator(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  void Destroy() {
    if (handle_) std::exchange(handle_, {}).destroy();
  }
  std::coroutine_handle<promise_type> handle_;
};

namespace internal {

template <class T>
struct GeneratorTraits {
  static constexpr bool kIsGenerator = false;
};
template <class T>
struct GeneratorTraits<Generator<T>> {
  static constexpr bool kIsGenerator = true;
  using Item = T;
};

// The runtime's side of an ObjectRefGenerator (api.cc).
std::optional<ObjectId> NextStreamItem(const ObjectId& stream, std::chrono::milliseconds timeout);
void CloseStream(const ObjectId& stream);

}  // namespace internal

// The caller's side of a streaming generator call: the refs of its items, in
// order, as they come (see the top of this file).
template <class T>
class ObjectRefGenerator {
 public:
  // For rayk's own use (what Remote() returns); takes over a local reference
  // to the call's end object.
  explicit ObjectRefGenerator(ObjectId stream) : stream_(std::move(stream)) {}
  ObjectRefGenerator(ObjectRefGenerator&& other) noexcept
      : stream_(std::exchange(other.stream_, ObjectId())) {}
  ObjectRefGenerator& operator=(ObjectRefGenerator&& other) noexcept {
    if (this != &other) {
      Close();
      stream_ = std::exchange(other.stream_, ObjectId());
    }
    return *this;
  }
  ObjectRefGenerator(const ObjectRefGenerator&) = delete;
  ObjectRefGenerator& operator=(const ObjectRefGenerator&) = delete;
  ~ObjectRefGenerator() { Close(); }

  // The next item's ref, once the producer yields it; nothing once the
  // stream ended. Throws GetTimeoutError when `timeout` passes first (the
  // stream goes on), RuntimeError after Close().
  std::optional<ObjectRef<T>> Next() { return Next(std::chrono::milliseconds(-1)); }
  std::optional<ObjectRef<T>> Next(std::chrono::milliseconds timeout) {
    if (stream_.IsNil()) throw RuntimeError("ObjectRefGenerator::Next after Close or a move");
    std::optional<ObjectId> item = internal::NextStreamItem(stream_, timeout);
    if (!item) return std::nullopt;
    return ObjectRef<T>(std::move(*item), typename ObjectRef<T>::AdoptTag());
  }

  // Stops the producer and frees the items not taken (see the top of this
  // file); what the destructor does. Refs already taken stay valid.
  void Close() {
    if (!stream_.IsNil()) internal::CloseStream(std::exchange(stream_, ObjectId()));
  }

  // The id of the call's end object (its Get throws what ended the stream).
  const ObjectId& ID() const { return stream_; }

  using iterator = internal::PullIterator<ObjectRefGenerator, ObjectRef<T>>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  friend iterator;
  ObjectRef<T>* Pull() {
    pulled_ = Next();
    return pulled_ ? &*pulled_ : nullptr;
  }
  ObjectId stream_;
  std::optional<ObjectRef<T>> pulled_;  // the iterator's current item
};

}  // namespace rayk
