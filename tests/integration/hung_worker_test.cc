// Hung workers: a worker stopped with SIGSTOP is reported by its raylet (in
// `rayk status` and to its lease's owner), and a task given SetTimeout has a
// hung or stopped run killed and retried. Real processes on an embedded
// one-node cluster.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cluster_fixture.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using namespace test_functions;

class HungWorkerTest : public testing::ClusterTest {};

// The pid a run of StallTimesThen42 wrote in its marker file, once it has.
pid_t WaitForRun(const std::string& marker_dir, int run) {
  const std::string marker = marker_dir + "/run" + std::to_string(run);
  for (int i = 0; i < 3000; ++i) {
    pid_t pid = 0;
    std::ifstream(marker) >> pid;
    if (pid > 0) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

// Whether process `pid` is gone within 5 s.
bool EndsSoon(pid_t pid) {
  for (int i = 0; i < 500 && testing::ProcessRunning(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !testing::ProcessRunning(pid);
}

TEST_F(HungWorkerTest, AStoppedWorkerIsReportedAndRunsOnWhenResumed) {
  testing::TempDir markers;
  ::testing::internal::CaptureStderr();
  auto ref = rayk::Task(StallTimesThen42).Remote(markers.path(), 1, int64_t{5000});
  pid_t worker = WaitForRun(markers.path(), 0);
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(worker, SIGSTOP), 0);

  std::string status;
  for (int i = 0; i < 300 && status.find("stopped for") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = testing::RunRayk("status").output;
  }
  EXPECT_THAT(status, HasSubstr("worker pid " + std::to_string(worker) + " stopped for"));
  EXPECT_THAT(status, HasSubstr("kill -CONT resumes it"));
  // The owner (this driver) was told too, with the remedies.
  std::string warned;
  for (int i = 0; i < 300 && warned.find("has been stopped") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (i % 50 == 49) {
      warned = ::testing::internal::GetCapturedStderr();
      ::testing::internal::CaptureStderr();
    }
  }
  warned += ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(warned, HasSubstr("worker pid " + std::to_string(worker) + " on node"));
  EXPECT_THAT(warned, HasSubstr("SetTimeout"));

  ASSERT_EQ(kill(worker, SIGCONT), 0);
  EXPECT_EQ(*rayk::Get(ref), 42);
  EXPECT_FALSE(std::filesystem::exists(markers.path() + "/run1"));  // not rerun
  for (int i = 0; i < 300 && status.find("stopped for") != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = testing::RunRayk("status").output;
  }
  EXPECT_THAT(status, ::testing::Not(HasSubstr("stopped for")));
}

TEST_F(HungWorkerTest, AStoppedRunPastItsTimeoutIsKilledAndRetried) {
  testing::TempDir markers;
  auto ref = rayk::Task(StallTimesThen42)
                 .SetTimeout(std::chrono::seconds(3))
                 .SetMaxRetries(1)
                 .Remote(markers.path(), 1, int64_t{20000});
  pid_t first = WaitForRun(markers.path(), 0);
  ASSERT_GT(first, 0);
  ASSERT_EQ(kill(first, SIGSTOP), 0);  // SIGKILL still ends a stopped process
  EXPECT_EQ(*rayk::Get(ref, std::chrono::seconds(120)), 42);
  EXPECT_TRUE(std::filesystem::exists(markers.path() + "/run1"));
  EXPECT_TRUE(EndsSoon(first));  // killed
}

TEST_F(HungWorkerTest, AHungRunIsKilledAndRetriedWithinItsRetries) {
  testing::TempDir markers;
  auto ref = rayk::Task(StallTimesThen42)
                 .SetTimeout(std::chrono::seconds(2))
                 .SetMaxRetries(2)
                 .Remote(markers.path(), 2, int64_t{600000});
  EXPECT_EQ(*rayk::Get(ref, std::chrono::seconds(120)), 42);
  pid_t first = WaitForRun(markers.path(), 0);
  EXPECT_TRUE(std::filesystem::exists(markers.path() + "/run2"));  // third run answered
  EXPECT_TRUE(EndsSoon(first));                                    // killed
}

TEST_F(HungWorkerTest, TimeoutWithNoRetriesLeftThrowsTaskTimedOutError) {
  testing::TempDir markers;
  auto ref = rayk::Task(StallTimesThen42)
                 .SetTimeout(std::chrono::milliseconds(1500))
                 .SetMaxRetries(1)
                 .Remote(markers.path(), 5, int64_t{600000});
  try {
    rayk::Get(ref, std::chrono::seconds(120));
    FAIL() << "expected TaskTimedOutError";
  } catch (const rayk::TaskTimedOutError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("task StallTimesThen42 did not finish within its 1500 ms timeout"));
    EXPECT_THAT(error.what(), HasSubstr("after 1 retries"));
  }
  EXPECT_FALSE(std::filesystem::exists(markers.path() + "/run2"));
  // The node is usable afterwards: the killed workers' CPUs came back.
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 2)), 4);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(3, 2)), 5);
}

TEST_F(HungWorkerTest, ATimeoutMustBePositive) {
  try {
    rayk::Task(Add).SetTimeout(std::chrono::milliseconds(0));
    FAIL() << "expected RuntimeError";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetTimeout(0 ms): give a positive duration"));
  }
}

}  // namespace
}  // namespace rayk
