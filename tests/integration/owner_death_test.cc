// Owner death: a process holding a reference whose owner died gets
// OwnerDiedError from Get at once, naming the owner, instead of waiting on an
// owner that will never answer. The owner is a second driver process; the
// borrower is an actor that got the reference inside a value, and this
// driver, which gets it back from the actor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using test_functions::RefHolder;
using ::testing::HasSubstr;

class OwnerDeathTest : public testing::ClusterTest {
 protected:
  // In rayk_second_driver's namespace, to share named actors with it.
  void Customize(InitOptions& options) override { options.namespace_name = "second-driver"; }
  std::string SecondDriver(const std::string& args) {
    std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
    return "RAYK_ADDRESS=" + address + " " + RAYK_BINARY_DIR + "/bin/rayk_second_driver " + args;
  }
  // Gets the borrowed reference back from the holder and expects its Get to
  // fail with OwnerDiedError naming `cause`.
  void ExpectOwnerDied(const rayk::ActorHandle<RefHolder>& holder, const std::string& cause) {
    auto refs = *rayk::Get(holder.Task(&RefHolder::Refs).Remote());
    ASSERT_EQ(refs.size(), 1u);
    try {
      rayk::Get(refs[0], std::chrono::seconds(60));
      FAIL() << "expected OwnerDiedError";
    } catch (const rayk::OwnerDiedError& error) {
      EXPECT_THAT(error.what(), HasSubstr("its owner at tcp://"));
      EXPECT_THAT(error.what(), HasSubstr(cause));
    }
  }
};

TEST_F(OwnerDeathTest, ABorrowerOfAnOwnerThatEndedGetsOwnerDiedError) {
  auto holder = rayk::Actor(RefHolder::Create).SetName("holder").Remote();
  auto lent = testing::RunCommand(SecondDriver("lend holder 7 exit"));
  ASSERT_EQ(lent.exit_code, 0) << lent.output;
  ASSERT_THAT(lent.output, HasSubstr("lent"));
  ExpectOwnerDied(holder, "the driver of job");
  // An OwnerDiedError is an ObjectLostError, as in Ray.
  auto refs = *rayk::Get(holder.Task(&RefHolder::Refs).Remote());
  EXPECT_THROW(rayk::Get(refs[0], std::chrono::seconds(60)), rayk::ObjectLostError);
}

TEST_F(OwnerDeathTest, ABorrowerOfAKilledOwnerGetsOwnerDiedError) {
  auto holder = rayk::Actor(RefHolder::Create).SetName("holder").Remote();
  testing::TempDir out;
  auto started = testing::RunCommand(SecondDriver("lend holder 7 wait") + " > " + out.path() +
                                     "/log 2>&1 & echo $!");
  pid_t owner = std::atoi(started.output.c_str());
  ASSERT_GT(owner, 0) << started.output;
  std::string log;
  for (int i = 0; i < 6000 && log.find("lent") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto read = ReadFile(out.path() + "/log");
    log = read.ok() ? *read : "";
  }
  ASSERT_THAT(log, HasSubstr("lent"));
  ASSERT_EQ(kill(owner, SIGKILL), 0);
  // Its raylet sees the driver gone and ends its job; the GCS tells borrowers.
  ExpectOwnerDied(holder, "the driver of job");
}

TEST_F(OwnerDeathTest, ARefOwnedByAKilledWorkerFailsWithOwnerDiedError) {
  testing::TempDir dir;
  auto refs = *rayk::Get(rayk::Task(test_functions::PutInside).Remote(7, dir.path() + "/pid"));
  ASSERT_EQ(refs.size(), 1u);
  pid_t worker = 0;
  std::ifstream(dir.path() + "/pid") >> worker;
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  try {
    rayk::Get(refs[0], std::chrono::seconds(60));
    FAIL() << "expected OwnerDiedError";
  } catch (const rayk::OwnerDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("worker pid " + std::to_string(worker) + " on node"));
    EXPECT_THAT(error.what(), HasSubstr("killed by signal 9"));
  }
}

}  // namespace
}  // namespace rayk
