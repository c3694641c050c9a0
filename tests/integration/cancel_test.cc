// rayk::Cancel end to end on an embedded two-CPU cluster: real workers, the
// public API (rayk/cancel.h). Tasks report what they saw in the KV store
// (namespace "cancel"), since a cancelled task's own result is discarded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster_fixture.h"
#include "functions/cancel_functions.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using namespace cancel_functions;

// Long enough never to end on its own while a test runs.
constexpr int64_t kLong = 120000;

class CancelTest : public testing::ClusterTest {
 protected:
  // Waits until a task wrote `key` (what it saw), for at most a minute.
  static bool Saw(const std::string& key) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (rayk::KvGet(key, "cancel")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  static bool Has(const std::string& key) { return rayk::KvGet(key, "cancel").has_value(); }

  // Get(ref) must throw TaskCancelledError; returns its message.
  template <class T>
  static std::string CancelledMessage(const rayk::ObjectRef<T>& ref) {
    try {
      rayk::Get(ref);
    } catch (const rayk::TaskCancelledError& error) {
      return error.what();
    } catch (const std::exception& error) {
      ADD_FAILURE() << "expected TaskCancelledError, got " << error.what();
      return "";
    }
    ADD_FAILURE() << "expected TaskCancelledError, got a value";
    return "";
  }
};

TEST_F(CancelTest, ARunningTaskSeesIsCancelledAndGetThrows) {
  auto ref = rayk::Task(WaitForCancel).Remote(std::string("run"), kLong);
  ASSERT_TRUE(Saw("run/started"));
  rayk::Cancel(ref);
  EXPECT_THAT(CancelledMessage(ref),
              HasSubstr("task cancel_functions::WaitForCancel was cancelled"));
  EXPECT_TRUE(Saw("run/cancelled"));  // the function saw rayk::IsCancelled() turn true
}

TEST_F(CancelTest, ATaskThatIgnoresCancelHasItsResultDiscarded) {
  auto ref = rayk::Task(test_functions::SleepMs).Remote(int64_t{300});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  rayk::Cancel(ref);
  EXPECT_THAT(CancelledMessage(ref), HasSubstr("was cancelled"));
}

TEST_F(CancelTest, ForceKillsTheWorkerAndOtherTasksGoOn) {
  auto ref = rayk::Task(WaitForCancel).Remote(std::string("force"), kLong);
  ASSERT_TRUE(Saw("force/started"));
  rayk::Cancel(ref, {.force = true});
  std::string message = CancelledMessage(ref);
  EXPECT_THAT(message, HasSubstr("was cancelled"));
  EXPECT_THAT(message, HasSubstr("worker pid"));
  EXPECT_FALSE(Has("force/cancelled"));  // killed, not asked
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::Add).Remote(2, 3)), 5);
}

TEST_F(CancelTest, AQueuedTaskNeverRuns) {
  // Both CPUs busy: the third task waits for a worker.
  auto first = rayk::Task(WaitForCancel).Remote(std::string("busy1"), kLong);
  auto second = rayk::Task(WaitForCancel).Remote(std::string("busy2"), kLong);
  ASSERT_TRUE(Saw("busy1/started"));
  ASSERT_TRUE(Saw("busy2/started"));
  auto queued = rayk::Task(MarkRan).Remote(std::string("queued"));
  rayk::Cancel(queued);
  EXPECT_THAT(CancelledMessage(queued), HasSubstr("before it ran"));
  rayk::Cancel(first);
  rayk::Cancel(second);
  CancelledMessage(first);
  CancelledMessage(second);
  // The CPUs are free again, and the cancelled task still has not run.
  EXPECT_EQ(*rayk::Get(rayk::Task(MarkRan).Remote(std::string("after"))), 7);
  EXPECT_FALSE(Has("queued/ran"));
}

TEST_F(CancelTest, ATaskPipelinedBehindAnotherIsDroppedByItsWorker) {
  // Short tasks of a class turn pipelining on: a worker is sent the next
  // tasks while it runs one. Two CPUs, two waiters and a third task: the
  // third waits at a worker, behind a waiter.
  // (Add is in the same class: one CPU, no placement.)
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(*rayk::Get(rayk::Task(test_functions::Add).Remote(i, 1)), i + 1);
  auto first = rayk::Task(WaitForCancel).Remote(std::string("pipe1"), kLong);
  auto second = rayk::Task(WaitForCancel).Remote(std::string("pipe2"), kLong);
  auto behind = rayk::Task(MarkRan).Remote(std::string("pipelined"));
  ASSERT_TRUE(Saw("pipe1/started"));
  rayk::Cancel(behind);
  EXPECT_THAT(CancelledMessage(behind), HasSubstr("before it started"));
  rayk::Cancel(first);
  rayk::Cancel(second);
  CancelledMessage(first);
  CancelledMessage(second);
  EXPECT_EQ(*rayk::Get(rayk::Task(MarkRan).Remote(std::string("after"))), 7);
  EXPECT_FALSE(Has("pipelined/ran"));
}

TEST_F(CancelTest, ATaskWaitingForItsArgumentsIsCancelledAtOnce) {
  auto blocker = rayk::Task(WaitForCancel).Remote(std::string("arg"), kLong);
  auto dependent = rayk::Task(test_functions::Add).Remote(blocker, 1);
  rayk::Cancel(dependent);
  EXPECT_THAT(CancelledMessage(dependent), HasSubstr("before it ran"));
  rayk::Cancel(blocker);
  CancelledMessage(blocker);
}

TEST_F(CancelTest, RecursiveCancelReachesTheTasksATaskSubmitted) {
  auto parent = rayk::Task(ParentOfWaiter).Remote(std::string("tree"), kLong, kLong);
  ASSERT_TRUE(Saw("tree/started"));
  ASSERT_TRUE(Saw("tree/child/started"));
  rayk::Cancel(parent);  // recursive by default
  CancelledMessage(parent);
  EXPECT_TRUE(Saw("tree/cancelled"));
  EXPECT_TRUE(Saw("tree/child/cancelled"));
}

TEST_F(CancelTest, NonRecursiveCancelLeavesTheChildrenRunning) {
  auto parent = rayk::Task(ParentOfWaiter).Remote(std::string("flat"), kLong, int64_t{1000});
  ASSERT_TRUE(Saw("flat/started"));
  ASSERT_TRUE(Saw("flat/child/started"));
  rayk::Cancel(parent, {.recursive = false});
  CancelledMessage(parent);
  EXPECT_TRUE(Saw("flat/cancelled"));
  // The child is never told: it runs out its second (or is still running).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(Has("flat/child/cancelled"));
}

TEST_F(CancelTest, ABorrowerCancelsThroughTheOwner) {
  auto target = rayk::Task(WaitForCancel).Remote(std::string("borrowed"), kLong);
  ASSERT_TRUE(Saw("borrowed/started"));
  // A task holding the ref (inside a vector, so not resolved) cancels it.
  EXPECT_TRUE(*rayk::Get(
      rayk::Task(CancelBorrowed).Remote(std::vector<rayk::ObjectRef<int>>{target}, false)));
  CancelledMessage(target);
  EXPECT_TRUE(Saw("borrowed/cancelled"));
}

TEST_F(CancelTest, CancellingAFinishedTaskOrAPutDoesNothing) {
  auto done = rayk::Task(test_functions::Add).Remote(1, 2);
  EXPECT_EQ(*rayk::Get(done), 3);
  rayk::Cancel(done);
  EXPECT_EQ(*rayk::Get(done), 3);
  auto put = rayk::Put(5);
  rayk::Cancel(put);
  EXPECT_EQ(*rayk::Get(put), 5);
}

TEST_F(CancelTest, BadCancelsGetOneLineErrors) {
  rayk::ObjectRef<int> empty;
  try {
    rayk::Cancel(empty);
    FAIL() << "expected RuntimeError";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_STREQ(error.what(), "rayk::Cancel of an empty ObjectRef");
  }
  EXPECT_FALSE(rayk::IsCancelled());  // the driver runs no task
  EXPECT_FALSE(*rayk::Get(rayk::Task(IsCancelledInTask).Remote()));
}

TEST_F(CancelTest, QueuedActorCallsAreDroppedAndRunningOnesMarked) {
  auto waiter = rayk::Actor(Waiter::Create).Remote();
  auto running = waiter.Task(&Waiter::WaitForCancel).Remote(std::string("actor"), kLong);
  auto queued = waiter.Task(&Waiter::MarkRan).Remote(std::string("actor-queued"));
  ASSERT_TRUE(Saw("actor/started"));
  rayk::Cancel(queued);
  CancelledMessage(queued);
  rayk::Cancel(running);
  EXPECT_THAT(CancelledMessage(running), HasSubstr("actor call"));
  EXPECT_TRUE(Saw("actor/cancelled"));
  // The actor goes on; the dropped call never ran.
  EXPECT_EQ(*rayk::Get(waiter.Task(&Waiter::MarkRan).Remote(std::string("actor-after"))), 7);
  EXPECT_FALSE(Has("actor-queued/ran"));
}

TEST_F(CancelTest, ForceIsRefusedForActorCalls) {
  auto waiter = rayk::Actor(Waiter::Create).Remote();
  auto running = waiter.Task(&Waiter::WaitForCancel).Remote(std::string("actorforce"), kLong);
  ASSERT_TRUE(Saw("actorforce/started"));
  try {
    rayk::Cancel(running, {.force = true});
    FAIL() << "expected RuntimeError";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("force is not supported for actor calls"));
    EXPECT_THAT(error.what(), HasSubstr("ActorHandle::Kill()"));
  }
  rayk::Cancel(running);
  CancelledMessage(running);
}

}  // namespace
}  // namespace rayk
