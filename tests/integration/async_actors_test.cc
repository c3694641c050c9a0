// Async actors end to end on an embedded cluster: methods written as
// coroutines (rayk::Async) await a task's result, another actor's call, Put
// refs and helper coroutines; calls interleave on the actor's one thread up to
// SetMaxConcurrency and start in submission order; errors cross awaits; bad
// input fails clearly. Gates are tasks (test_functions::NodeWhenReleased)
// that finish only when the test writes their KV key, so every assertion is
// about what ran while a gate was closed, never about time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "functions/async_functions.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using async_functions::AsyncWorker;
using async_functions::DerivedAsyncWorker;
using test_functions::Counter;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::kPatience;

class AsyncActorsTest : public testing::ClusterTest {
 protected:
  // A ref that becomes ready once Release(key) runs.
  rayk::ObjectRef<std::string> Gate(const std::string& key) {
    return rayk::Task(test_functions::NodeWhenReleased).Remote(key);
  }
  void Release(const std::string& key) { rayk::KvPut(key, "open", "tests"); }
  // n PassGate calls, call i behind gate "<prefix>/<i>".
  std::vector<rayk::ObjectRef<int>> GatedCalls(const rayk::ActorHandle<AsyncWorker>& worker,
                                               const std::string& prefix, int n) {
    std::vector<rayk::ObjectRef<int>> calls;
    for (int i = 0; i < n; ++i) {
      calls.push_back(
          worker.Task(&AsyncWorker::PassGate).Remote(Gate(prefix + "/" + std::to_string(i)), i));
    }
    return calls;
  }
};

TEST_F(AsyncActorsTest, AwaitsATaskResult) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::AddByTask).Remote(2, 3), kPatience), 5);
}

TEST_F(AsyncActorsTest, AwaitsAVectorOfRefsAtOnce) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::SumOfTasks).Remote(6), kPatience), 30);
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::SumOfTasks).Remote(0), kPatience), 0);
}

TEST_F(AsyncActorsTest, AwaitsAnotherActorsCall) {
  auto counter = rayk::Actor(Counter::Create).Remote(10);
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::IncrThrough).Remote(counter, 5), kPatience), 15);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Value).Remote(), kPatience), 15);
}

TEST_F(AsyncActorsTest, AwaitsItsOwnPutAndTheCallersPut) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  rayk::ObjectRef<int> theirs = rayk::Put(7);
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::AddPuts).Remote(5, theirs), kPatience), 12);
}

TEST_F(AsyncActorsTest, AwaitsAHelperCoroutine) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  // (0+1) + (1+1) + (2+1) + (3+1)
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::SumThroughHelper).Remote(4), kPatience), 10);
}

TEST_F(AsyncActorsTest, CallsStartInSubmissionOrder) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  std::vector<rayk::ObjectRef<int>> refs;
  for (int i = 0; i < 1000; ++i) refs.push_back(worker.Task(&AsyncWorker::Next).Remote());
  auto values = rayk::Get(refs, kPatience);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(*values[i], i + 1) << "call " << i << " started late";
}

// Four calls wait on one closed gate at the same time, on the actor's one
// thread, and a plain method queued after them runs meanwhile.
TEST_F(AsyncActorsTest, CallsInterleaveWhileTheyAwait) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  auto gate = Gate("interleave");
  std::vector<rayk::ObjectRef<int>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(worker.Task(&AsyncWorker::PassGate).Remote(gate, i));
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::Entered).Remote(), kPatience), 4)
      << "the calls did not all start while the gate was closed";
  Release("interleave");
  for (const auto& value : rayk::Get(calls, kPatience)) EXPECT_EQ(*value, 4);
  auto log = *rayk::Get(worker.Task(&AsyncWorker::Log).Remote(), kPatience);
  ASSERT_EQ(log.size(), 8u);
  EXPECT_THAT(std::vector<std::string>(log.begin(), log.begin() + 4),
              ElementsAre("enter 0", "enter 1", "enter 2", "enter 3"));
}

TEST_F(AsyncActorsTest, AClassWhoseCoroutineMethodsAreInheritedIsAsync) {
  auto worker = rayk::Actor(DerivedAsyncWorker::Create).Remote();
  auto gate = Gate("inherited");
  std::vector<rayk::ObjectRef<int>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(worker.Task(&AsyncWorker::PassGate).Remote(gate, i));
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::Entered).Remote(), kPatience), 3)
      << "the inherited coroutine calls did not interleave: the actor was not made async";
  Release("inherited");
  for (const auto& value : rayk::Get(calls, kPatience)) EXPECT_EQ(*value, 3);
}

// With SetMaxConcurrency(1) a call that awaits holds the actor's only place:
// the next starts when it has finished, even when the next one's gate opens
// first.
TEST_F(AsyncActorsTest, MaxConcurrencyOneRunsCallsOneAfterAnother) {
  auto worker = rayk::Actor(AsyncWorker::Create).SetMaxConcurrency(1).Remote();
  std::vector<rayk::ObjectRef<int>> calls = GatedCalls(worker, "one", 3);
  for (int i = 2; i >= 0; --i) Release("one/" + std::to_string(i));
  auto values = rayk::Get(calls, kPatience);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*values[i], i + 1) << "call " << i;
  EXPECT_THAT(*rayk::Get(worker.Task(&AsyncWorker::Log).Remote(), kPatience),
              ElementsAre("enter 0", "leave 0", "enter 1", "leave 1", "enter 2", "leave 2"));
}

// With SetMaxConcurrency(2) the third call starts only once one of the first
// two has finished.
TEST_F(AsyncActorsTest, MaxConcurrencyBoundsCallsInFlight) {
  auto worker = rayk::Actor(AsyncWorker::Create).SetMaxConcurrency(2).Remote();
  std::vector<rayk::ObjectRef<int>> calls = GatedCalls(worker, "two", 3);
  Release("two/1");
  EXPECT_EQ(*rayk::Get(calls[1], kPatience), 2) << "a third call entered while two were waiting";
  Release("two/0");
  EXPECT_EQ(*rayk::Get(calls[0], kPatience), 3);
  Release("two/2");
  EXPECT_EQ(*rayk::Get(calls[2], kPatience), 3);
  EXPECT_THAT(*rayk::Get(worker.Task(&AsyncWorker::Log).Remote(), kPatience),
              ElementsAre("enter 0", "enter 1", "leave 1", "enter 2", "leave 0", "leave 2"));
}

TEST_F(AsyncActorsTest, ATaskErrorIsRethrownInsideTheCoroutine) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  std::string caught =
      *rayk::Get(worker.Task(&AsyncWorker::CatchTaskError).Remote("bad input"), kPatience);
  EXPECT_THAT(caught, HasSubstr("std::invalid_argument|"));
  EXPECT_THAT(caught, HasSubstr("bad input"));
}

TEST_F(AsyncActorsTest, AnUncaughtErrorFailsThatCallOnly) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  auto through = worker.Task(&AsyncWorker::LetTaskErrorThrough).Remote("worse input");
  auto thrown = worker.Task(&AsyncWorker::ThrowAfterAwait).Remote();
  auto after = worker.Task(&AsyncWorker::AddByTask).Remote(1, 1);
  try {
    rayk::Get(through, kPatience);
    FAIL() << "no exception";
  } catch (const rayk::TaskError& error) {
    EXPECT_THAT(error.what(), HasSubstr("worse input"));
    EXPECT_THAT(error.what(), HasSubstr("AsyncWorker::LetTaskErrorThrough"));
  }
  try {
    rayk::Get(thrown, kPatience);
    FAIL() << "no exception";
  } catch (const rayk::TaskError& error) {
    EXPECT_EQ(error.remote_type(), "std::out_of_range");
    EXPECT_THAT(error.what(), HasSubstr("thrown after an await"));
  }
  EXPECT_EQ(*rayk::Get(after, kPatience), 2) << "the actor stopped serving";
}

TEST_F(AsyncActorsTest, AwaitingAnEmptyRefFailsTheCall) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  try {
    rayk::Get(worker.Task(&AsyncWorker::AwaitEmptyRef).Remote(), kPatience);
    FAIL() << "no exception";
  } catch (const rayk::TaskError& error) {
    EXPECT_THAT(error.what(), HasSubstr("co_await of an empty ObjectRef"));
  }
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::AddByTask).Remote(2, 2), kPatience), 4);
}

// rayk::ExitActor() after an await ends the actor once that call has replied.
TEST_F(AsyncActorsTest, ExitActorAfterAnAwaitRepliesThenEnds) {
  auto worker = rayk::Actor(AsyncWorker::Create).Remote();
  EXPECT_EQ(*rayk::Get(worker.Task(&AsyncWorker::ExitAfterAwait).Remote(), kPatience), 7);
  EXPECT_THROW(rayk::Get(worker.Task(&AsyncWorker::AddByTask).Remote(1, 1), kPatience),
               rayk::ActorDiedError);
}

TEST_F(AsyncActorsTest, MaxConcurrencyBelowOneIsRefused) {
  try {
    rayk::Actor(AsyncWorker::Create).SetMaxConcurrency(0);
    FAIL() << "no exception";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_STREQ(error.what(),
                 "SetMaxConcurrency(0) on rayk::Actor(AsyncWorker::Create): give 1 or more "
                 "calls at once");
  }
  EXPECT_THROW(rayk::Actor(Counter::Create).SetMaxConcurrency(-5), rayk::RuntimeError);
}

}  // namespace
}  // namespace rayk
