// Tasks and objects end to end on an embedded one-node cluster: real
// processes, real ZeroMQ sockets, the public API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <thread>

#include "cluster_fixture.h"
#include "core_worker/core_worker.h"
#include "functions/test_functions.h"
#include "process/session.h"
#include "rayk/internal/runtime.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using namespace test_functions;

// Registered only in this test executable, which workers cannot load.
int OnlyInTheDriver(int x) { return x; }
RAYK_REMOTE(OnlyInTheDriver);

class TasksTest : public testing::ClusterTest {};

TEST_F(TasksTest, TaskReturnsItsResult) { EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(1, 2)), 3); }

TEST_F(TasksTest, RefsAsArgumentsAreResolvedFirst) {
  auto three = rayk::Task(Add).Remote(1, 2);
  auto five = rayk::Task(Add).SetResource("CPU", 1).Remote(three, 2);
  auto ten = rayk::Task(Add).Remote(five, five);
  EXPECT_EQ(*rayk::Get(ten), 10);
}

TEST_F(TasksTest, ManyAsyncTasks) {
  std::vector<rayk::ObjectRef<int>> refs;
  for (int i = 0; i < 2000; ++i) refs.push_back(rayk::Task(Add).Remote(i, i));
  auto values = rayk::Get(refs);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(*values[i], 2 * i);
}

// Short tasks leave for their worker several to a message (PushTasks), and
// each reply comes back once its own task is done: quick tasks pushed with a
// task that blocks until the test opens its gate return while it blocks.
TEST_F(TasksTest, RepliesDoNotWaitForTasksPushedWithThem) {
  std::vector<rayk::ObjectRef<int>> warm_up;  // the class's run time is known: it pipelines
  for (int i = 0; i < 200; ++i) warm_up.push_back(rayk::Task(Add).Remote(i, i));
  rayk::Get(warm_up);
  std::vector<rayk::ObjectRef<int>> quick;
  for (int i = 0; i < 200; ++i) quick.push_back(rayk::Task(Add).Remote(i, 1));
  auto gated = rayk::Task(NodeWhenReleased).Remote(std::string("tasks/pushed-with"));
  auto values = rayk::Get(quick, testing::kPatience);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(*values[i], i + 1);
  rayk::KvPut("tasks/pushed-with", "open", "tests");
  EXPECT_FALSE(rayk::Get(gated, testing::kPatience)->empty());
}

TEST_F(TasksTest, PutAndGetAndPassToATask) {
  std::vector<double> values(100000);
  std::iota(values.begin(), values.end(), 1.0);
  auto ref = rayk::Put(values);
  EXPECT_EQ(*rayk::Get(ref), values);
  EXPECT_DOUBLE_EQ(*rayk::Get(rayk::Task(SumVector).Remote(ref)), 100000.0 * 100001.0 / 2);
}

TEST_F(TasksTest, UserTypesAndStrings) {
  Point p = *rayk::Get(rayk::Task(Mirror).Remote(Point{1, 2}));
  EXPECT_EQ(p.x, 2);
  EXPECT_EQ(p.y, 1);
  std::string big(300000, 'x');
  EXPECT_EQ(*rayk::Get(rayk::Task(Echo).Remote(big)), big);
}

TEST_F(TasksTest, LargeResultsComeBackWhole) {
  auto values = *rayk::Get(rayk::Task(MakeVector).Remote(int64_t{1} << 20));
  ASSERT_EQ(values.size(), size_t{1} << 20);
  EXPECT_EQ(values.back(), (1 << 20) - 1);
}

TEST_F(TasksTest, GetViewReadsInPlace) {
  auto ref = rayk::Put(std::vector<double>(1 << 20, 2.5));
  auto first = rayk::GetView(ref);
  auto second = rayk::GetView(ref);
  ASSERT_EQ(first.size(), size_t{1} << 20);
  EXPECT_EQ(first[12345], 2.5);
  EXPECT_EQ(first.data(), second.data());  // one copy in the store, viewed twice
}

TEST_F(TasksTest, ExceptionBecomesTaskError) {
  auto ref = rayk::Task(Throws).Remote(std::string("boom"));
  try {
    rayk::Get(ref);
    FAIL() << "expected TaskError";
  } catch (const rayk::TaskError& error) {
    EXPECT_EQ(error.remote_type(), "std::invalid_argument");
    EXPECT_EQ(error.remote_message(), "boom");
    EXPECT_THAT(error.where(), HasSubstr("task Throws on node"));
    EXPECT_THAT(error.where(), HasSubstr("worker pid"));
  }
}

TEST_F(TasksTest, ErrorsPropagateThroughDependencies) {
  auto bad = rayk::Task(Throws).Remote(std::string("first"));
  auto dependent = rayk::Task(Add).Remote(bad, 1);
  EXPECT_THROW(rayk::Get(dependent), rayk::TaskError);
}

TEST_F(TasksTest, CrashedWorkerIsRetried) {
  testing::TempDir markers;
  auto ref = rayk::Task(DieTimesThen42).SetMaxRetries(3).Remote(markers.path(), 2);
  EXPECT_EQ(*rayk::Get(ref), 42);
  EXPECT_TRUE(std::filesystem::exists(markers.path() + "/run2"));  // ran three times
}

// -1 retries without limit, as in Ray: five deaths outlast any count below.
TEST_F(TasksTest, UnlimitedRetriesOutlastManyDeaths) {
  testing::TempDir markers;
  auto ref = rayk::Task(DieTimesThen42).SetMaxRetries(-1).Remote(markers.path(), 5);
  EXPECT_EQ(*rayk::Get(ref, std::chrono::seconds(120)), 42);
  EXPECT_TRUE(std::filesystem::exists(markers.path() + "/run5"));  // ran six times
}

// SetRetryExceptions, as Ray's retry_exceptions: a throw is retried within
// max_retries; without it, it is not.
TEST_F(TasksTest, ExceptionsAreRetriedOnlyWhenAsked) {
  testing::TempDir once, retried, spent;
  EXPECT_THROW(rayk::Get(rayk::Task(ThrowTimesThen42).Remote(once.path(), 2, std::string("logic"))),
               rayk::TaskError);
  EXPECT_FALSE(std::filesystem::exists(once.path() + "/run1"));  // ran once

  auto ref = rayk::Task(ThrowTimesThen42)
                 .SetMaxRetries(3)
                 .SetRetryExceptions()
                 .Remote(retried.path(), 2, std::string("logic"));
  EXPECT_EQ(*rayk::Get(ref), 42);
  EXPECT_TRUE(std::filesystem::exists(retried.path() + "/run2"));  // ran three times

  // The retries spent, Get throws the last attempt's exception.
  try {
    rayk::Get(rayk::Task(ThrowTimesThen42)
                  .SetMaxRetries(1)
                  .SetRetryExceptions()
                  .Remote(spent.path(), 5, std::string("logic")));
    FAIL() << "expected TaskError";
  } catch (const rayk::TaskError& error) {
    EXPECT_EQ(error.remote_type(), "std::logic_error");
    EXPECT_THAT(error.remote_message(), HasSubstr("bug in run 1"));
  }
  EXPECT_FALSE(std::filesystem::exists(spent.path() + "/run2"));  // two runs only
}

// A list of types retries those and types derived from them, nothing else:
// std::system_error derives from std::runtime_error; std::logic_error does not.
TEST_F(TasksTest, RetryExceptionTypesMatchDerivedTypesOnly) {
  testing::TempDir derived, other;
  auto ref = rayk::Task(ThrowTimesThen42)
                 .SetMaxRetries(-1)
                 .SetRetryExceptions<std::runtime_error>()
                 .Remote(derived.path(), 3, std::string("system_error"));
  EXPECT_EQ(*rayk::Get(ref), 42);
  EXPECT_TRUE(std::filesystem::exists(derived.path() + "/run3"));

  try {
    rayk::Get(rayk::Task(ThrowTimesThen42)
                  .SetMaxRetries(-1)
                  .SetRetryExceptions<std::runtime_error, std::bad_alloc>()
                  .Remote(other.path(), 3, std::string("logic")));
    FAIL() << "expected TaskError";
  } catch (const rayk::TaskError& error) {
    EXPECT_EQ(error.remote_type(), "std::logic_error");
  }
  EXPECT_FALSE(std::filesystem::exists(other.path() + "/run1"));
}

TEST_F(TasksTest, RetryCountsBelowMinusOneAreRefusedWhereTheyAreSet) {
  try {
    rayk::Task(Add).SetMaxRetries(-2);
    FAIL() << "SetMaxRetries(-2) should throw";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetMaxRetries(-2): give 0 or more, or -1 for no limit"));
  }
  EXPECT_THROW(rayk::Actor(test_functions::Counter::Create).SetMaxRestarts(-3), rayk::RuntimeError);
  EXPECT_THROW(rayk::Actor(test_functions::Counter::Create).SetMaxTaskRetries(-7),
               rayk::RuntimeError);
}

TEST_F(TasksTest, CrashedWorkerAfterRetriesIsReported) {
  auto ref = rayk::Task(KillSelf).SetMaxRetries(1).Remote();
  try {
    rayk::Get(ref);
    FAIL() << "expected WorkerCrashedError";
  } catch (const rayk::WorkerCrashedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("KillSelf"));
    EXPECT_THAT(error.what(), HasSubstr("signal 9"));
    EXPECT_THAT(error.what(), HasSubstr("1 retries"));
  }
  // The node is still usable afterwards.
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 2)), 4);
}

// As in Ray, a task no node can run waits for a node that fits (it may
// join) and is shown as infeasible demand; Get with a timeout says so.
TEST_F(TasksTest, InfeasibleDemandWaitsAndIsReported) {
  auto gpu = rayk::Task(Add).SetResource("GPU", 1).Remote(1, 1);
  EXPECT_THROW(rayk::Get(gpu, std::chrono::milliseconds(500)), rayk::GetTimeoutError);
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  std::string status;
  for (int i = 0; i < 50 && status.find("GPU") == std::string::npos; ++i) {
    status = testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " + RAYK_CLI_PATH +
                                 " status --format json --address " + address)
                 .output;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(status,
              HasSubstr("\"infeasible_demands\": [\n        \"{\\\"CPU\\\": 1, \\\"GPU\\\": 1}"));
  // Work that fits still runs beside it.
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(1, 2)), 3);
}

TEST_F(TasksTest, GetTimesOut) {
  auto slow = rayk::Task(SleepMs).Remote(int64_t{3000});
  EXPECT_THROW(rayk::Get(slow, std::chrono::milliseconds(100)), rayk::GetTimeoutError);
}

TEST_F(TasksTest, WaitReturnsTheReadyOnes) {
  std::vector<rayk::ObjectRef<int64_t>> refs = {rayk::Task(SleepMs).Remote(int64_t{0}),
                                                rayk::Task(SleepMs).Remote(int64_t{0}),
                                                rayk::Task(SleepMs).Remote(int64_t{4000})};
  auto result = rayk::Wait(refs, 2, std::chrono::milliseconds(3000));
  EXPECT_EQ(result.ready.size(), 2u);
  EXPECT_EQ(result.unready.size(), 1u);
}

TEST_F(TasksTest, TasksSubmitTasks) {
  EXPECT_EQ(*rayk::Get(rayk::Task(SumViaNestedTasks).Remote(10)), 55);
  // Deep nesting on 2 CPUs: blocked workers lend their CPU back.
  EXPECT_EQ(*rayk::Get(rayk::Task(Fib).Remote(8)), 21);
}

TEST_F(TasksTest, FunctionMissingInTheJobLibraries) {
  try {
    rayk::Get(rayk::Task(OnlyInTheDriver).Remote(1));
    FAIL() << "expected an error";
  } catch (const rayk::RaykError& error) {
    EXPECT_THAT(error.what(), HasSubstr("'OnlyInTheDriver' is not registered"));
  }
}

TEST_F(TasksTest, UndecodableArgument) {
  internal::TaskCall call;
  call.function = "Add";
  call.args.push_back({false, {}, "", "not an int", {}});
  call.args.push_back({false, {}, "", "x", {}});
  ObjectId id = internal::CurrentRuntime()->SubmitTask(call);
  auto values = internal::CurrentRuntime()->Get({id}, std::chrono::milliseconds(20000));
  ASSERT_TRUE(values.ok());
  ASSERT_TRUE((*values)[0].error.has_value());
  EXPECT_THAT((*values)[0].error->message, HasSubstr("Add"));
  internal::CurrentRuntime()->RemoveLocalReference(id);
}

// A borrowed reference is fetched from its owner. One whose owner cannot be
// reached, or that has no owner at all, is lost with the reason rather than
// waited for; a task that takes it as an argument fails without running.
TEST_F(TasksTest, BorrowedRefWhoseOwnerCannotBeReachedIsLost) {
  internal::Runtime* runtime = internal::CurrentRuntime();
  ObjectId id = ObjectId::FromRandom();
  runtime->AddBorrowedReference(id, "nowhere:1");
  auto values = runtime->Get({id}, std::chrono::milliseconds(20000));
  ASSERT_TRUE(values.ok()) << values.status().message();
  ASSERT_TRUE((*values)[0].error.has_value());
  EXPECT_EQ((*values)[0].error->kind, internal::ErrorInfo::Kind::kObjectLost);
  EXPECT_THAT((*values)[0].error->message, HasSubstr("'nowhere:1'"));
  runtime->RemoveLocalReference(id);
}

TEST_F(TasksTest, TaskWhoseArgumentsOwnerCannotBeReachedFailsWithoutRunning) {
  internal::Runtime* runtime = internal::CurrentRuntime();
  internal::TaskCall call;
  call.function = "Add";
  call.args.push_back({true, ObjectId::FromRandom(), "nowhere:2", "", {}});
  call.args.push_back({false, {}, "", "x", {}});
  ObjectId id = runtime->SubmitTask(call);
  auto values = runtime->Get({id}, std::chrono::milliseconds(20000));
  ASSERT_TRUE(values.ok()) << values.status().message();
  ASSERT_TRUE((*values)[0].error.has_value());
  EXPECT_EQ((*values)[0].error->kind, internal::ErrorInfo::Kind::kObjectLost);
  EXPECT_THAT((*values)[0].error->message, HasSubstr("'nowhere:2'"));
  runtime->RemoveLocalReference(id);
}

TEST_F(TasksTest, RefWithoutAnOwnerIsLost) {
  internal::Runtime* runtime = internal::CurrentRuntime();
  ObjectId id = ObjectId::FromRandom();
  runtime->AddLocalReference(id);
  auto values = runtime->Get({id}, std::chrono::milliseconds(20000));
  ASSERT_TRUE(values.ok()) << values.status().message();
  ASSERT_TRUE((*values)[0].error.has_value());
  EXPECT_EQ((*values)[0].error->kind, internal::ErrorInfo::Kind::kObjectLost);
  EXPECT_THAT((*values)[0].error->message, HasSubstr("has no owner"));
  runtime->RemoveLocalReference(id);
}

TEST_F(TasksTest, PutAndDropLoopRunsInConstantMemory) {
  auto* core = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
  ASSERT_NE(core, nullptr);
  size_t before = core->NumObjects();
  std::vector<double> payload(1 << 17);  // 1 MiB
  for (int i = 0; i < 2000; ++i) {
    auto ref = rayk::Put(payload);
    auto sum = rayk::Task(SumVector).Remote(ref);
    ASSERT_EQ(*rayk::Get(sum), 0.0);
  }
  EXPECT_LE(core->NumObjects(), before + 2);  // 2 GiB went through; nothing stayed
}

}  // namespace
}  // namespace rayk
