// rayk::Async<T> (rayk/async.h) without a cluster: how the executor starts a
// coroutine and learns of its end (internal::StartAsync), helpers awaited
// from coroutines, exceptions, a coroutine suspended until something resumes
// it, its frame freed once it has ended; and a coroutine method registered
// with RAYK_REMOTE, run through its registry entry as a worker runs it.
#include "rayk/async.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <coroutine>
#include <stdexcept>
#include <string>

#include "rayk/api.h"
#include "rayk/internal/serialization.h"

namespace async_test {

// Counts its live instances, to tell when a coroutine's frame is freed.
struct Tracked {
  static inline int alive = 0;
  Tracked() { ++alive; }
  Tracked(const Tracked&) { ++alive; }
  ~Tracked() { --alive; }
};

// Suspends the coroutine and keeps its handle, for the test to resume.
struct Parked {
  static inline std::coroutine_handle<> handle;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) noexcept { handle = self; }
  int await_resume() const noexcept { return 40; }
};

rayk::Async<int> Seven() { co_return 7; }
rayk::Async<void> Fails() {
  throw std::logic_error("helper failed");
  co_return;
}
rayk::Async<int> SevenPlus(int x) { co_return co_await Seven() + x; }
rayk::Async<std::string> CatchesHelper() {
  try {
    co_await Fails();
  } catch (const std::logic_error& e) {
    co_return std::string("caught: ") + e.what();
  }
  co_return "nothing thrown";
}
rayk::Async<int> WaitsForTheTest() {
  Tracked in_frame;
  int parked = co_await Parked{};
  co_return parked + 2;
}

class Greeter {
 public:
  static Greeter* Create() { return new Greeter(); }
  rayk::Async<std::string> Greet(const std::string& name) {
    co_return "hello " + name + (co_await SevenPlus(0) == 7 ? "" : "?");
  }
  rayk::Async<int> Fail() {
    throw std::out_of_range("greeter failed");
    co_return 0;
  }
};

}  // namespace async_test

using namespace async_test;  // NOLINT: the registered names read as in user code
RAYK_REMOTE(Greeter::Create, &Greeter::Greet, &Greeter::Fail);

namespace rayk {
namespace {

template <class T>
T RunToEnd(Async<T> task) {
  std::optional<T> value;
  internal::StartAsync(std::move(task), [&](Async<T>& done) { value = done.Take(); });
  EXPECT_TRUE(value.has_value()) << "the coroutine did not end";
  return *value;
}

TEST(AsyncTest, RunsToItsEndThroughHelpers) { EXPECT_EQ(RunToEnd(SevenPlus(3)), 10); }

TEST(AsyncTest, AHelpersExceptionReachesTheAwaitingCoroutine) {
  EXPECT_EQ(RunToEnd(CatchesHelper()), "caught: helper failed");
}

TEST(AsyncTest, AnUncaughtExceptionComesOutOfTake) {
  bool ended = false;
  internal::StartAsync(Fails(), [&](Async<void>& done) {
    ended = true;
    EXPECT_THROW(done.Take(), std::logic_error);
  });
  EXPECT_TRUE(ended);
}

TEST(AsyncTest, SuspendedUntilResumedThenItsFrameIsFreed) {
  std::optional<int> value;
  internal::StartAsync(WaitsForTheTest(), [&](Async<int>& done) { value = done.Take(); });
  EXPECT_FALSE(value.has_value()) << "ended while suspended";
  EXPECT_EQ(Tracked::alive, 1) << "the suspended frame must be kept";
  Parked::handle.resume();
  EXPECT_EQ(value, 42);
  EXPECT_EQ(Tracked::alive, 0) << "the frame outlived the coroutine's end";
}

TEST(AsyncTest, ACallOfAnAsyncMethodMakesItsValue) {
  // ActorTaskCaller::Return: the object a call makes holds T, not Async<T>.
  static_assert(
      std::is_same_v<ActorTaskCaller<Greeter, decltype(&Greeter::Greet)>::Return, std::string>);
}

TEST(AsyncTest, RegisteredCoroutineMethodRunsThroughStartMethod) {
  const internal::RegisteredFunction* greet =
      internal::FunctionRegistry::Instance().Find("&Greeter::Greet");
  ASSERT_NE(greet, nullptr);
  EXPECT_TRUE(greet->is_async);
  EXPECT_TRUE(internal::FunctionRegistry::Instance().HasAsyncMethods(typeid(Greeter)));
  Greeter greeter;
  std::string arg = internal::Serialize<std::string>("ray");
  std::optional<internal::InvokeResult> result;
  greet->start_method(&greeter, {arg}, 0, [&](internal::InvokeResult r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->error) << result->error->message;
  EXPECT_EQ(internal::Deserialize<std::string>(result->value), "hello ray");

  // Run as a plain method, it says why it cannot be.
  internal::InvokeResult plain = greet->invoke_method(&greeter, {arg}, 0);
  ASSERT_TRUE(plain.error);
  EXPECT_THAT(plain.error->message, ::testing::HasSubstr("is a coroutine"));
}

TEST(AsyncTest, ACoroutineMethodsExceptionIsItsCallsError) {
  const internal::RegisteredFunction* fail =
      internal::FunctionRegistry::Instance().Find("&Greeter::Fail");
  ASSERT_NE(fail, nullptr);
  Greeter greeter;
  std::optional<internal::InvokeResult> result;
  fail->start_method(&greeter, {}, 0, [&](internal::InvokeResult r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->remote_type, "std::out_of_range");
  EXPECT_EQ(result->error->message, "greeter failed");

  result.reset();
  fail->start_method(&greeter, {"extra"}, 0,
                     [&](internal::InvokeResult r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value() && result->error);
  EXPECT_THAT(result->error->message, ::testing::HasSubstr("takes 0 arguments"));
}

}  // namespace
}  // namespace rayk
