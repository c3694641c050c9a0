// Owner death: a process holding a reference whose owner died gets
// OwnerDiedError from Get at once, naming the owner, instead of waiting on an
// owner that will never answer. The owner is a second driver process; the
// borrower is an actor that got the reference inside a value, and this
// driver, which gets it back from the actor. And the primary copies a dead
// owner (a SIGKILLed driver or worker) had in the node's store are freed by
// the raylet, so `rayk memory` shows no bytes pinned for it. A driver killed
// before it ran any task still has its job (and its actors) ended.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_fixture.h"
#include "functions/borrow_functions.h"
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
  struct StoreUse {
    uint64_t objects = 0;
    uint64_t used = 0;
    uint64_t pinned = 0;
    bool operator==(const StoreUse&) const = default;
  };
  // The node's store, from `rayk memory --format json`.
  StoreUse Store() {
    std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
    auto run = testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " +
                                   RAYK_CLI_PATH + " memory --format json --address " + address);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    if (run.exit_code != 0) return {};
    auto node = nlohmann::json::parse(run.output)["nodes"][0];
    return {node["num_objects"].get<uint64_t>(), node["used_bytes"].get<uint64_t>(),
            node["pinned_bytes"].get<uint64_t>()};
  }
  // Waits (bounded by kPatience) until the store is back to `before`.
  bool StoreBackTo(const StoreUse& before) {
    auto deadline = std::chrono::steady_clock::now() + testing::kPatience;
    while (!(Store() == before)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }
  // Starts `rayk_second_driver args` in the background (its output in
  // `out`) and waits until it printed `marker`; returns its pid (0 if not).
  pid_t StartSecondDriver(const std::string& args, const std::string& marker,
                          const testing::TempDir& out) {
    auto started =
        testing::RunCommand(SecondDriver(args) + " > " + out.path() + "/log 2>&1 & echo $!");
    pid_t pid = std::atoi(started.output.c_str());
    EXPECT_GT(pid, 0) << started.output;
    std::string log;
    for (int i = 0; pid > 0 && i < 6000 && log.find(marker) == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto read = ReadFile(out.path() + "/log");
      log = read.ok() ? *read : "";
    }
    EXPECT_THAT(log, HasSubstr(marker));
    return log.find(marker) == std::string::npos ? 0 : pid;
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
  pid_t owner = StartSecondDriver("lend holder 7 wait", "lent", out);
  ASSERT_GT(owner, 0);
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

TEST_F(OwnerDeathTest, AJobWhoseDriverIsKilledBeforeItsFirstTaskEnds) {
  testing::TempDir out;
  pid_t driver = StartSecondDriver("hold held wait", "created 1", out);
  ASSERT_GT(driver, 0);
  ASSERT_EQ(kill(driver, SIGKILL), 0);
  // Its raylet watches it from its start, not from its first lease: it sees
  // the driver gone and ends its job, and the GCS ends the job's actor.
  EXPECT_TRUE(testing::PollUntil([] {
    return !testing::ErrorOf([] { rayk::GetActor<test_functions::Counter>("held"); }).empty();
  })) << "the actor of the killed driver's job still lives";
}

TEST_F(OwnerDeathTest, PrimariesOfAKilledDriverAreFreed) {
  const StoreUse before = Store();
  testing::TempDir out;
  pid_t owner = StartSecondDriver("putbig 3000000 wait", "put ", out);
  ASSERT_GT(owner, 0);
  const StoreUse held = Store();
  EXPECT_EQ(held.objects, before.objects + 1);
  EXPECT_GE(held.pinned, before.pinned + 3000000);
  ASSERT_EQ(kill(owner, SIGKILL), 0);
  // The raylet sees the owner's pid gone and frees its primary copy.
  EXPECT_TRUE(StoreBackTo(before))
      << Store().objects << " objects, " << Store().pinned << " bytes pinned; before "
      << before.objects << ", " << before.pinned;
}

TEST_F(OwnerDeathTest, PrimariesOfAKilledWorkerAreFreed) {
  using borrow_functions::Keeper;
  const StoreUse before = Store();
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  const auto pid =
      static_cast<pid_t>(*rayk::Get(keeper.Task(&Keeper::Pid).Remote(), testing::kPatience));
  // The actor owns the blob and keeps it; this driver lets go of its result.
  ASSERT_EQ(
      rayk::Get(keeper.Task(&Keeper::MakeAndKeep).Remote(int64_t{3000000}), testing::kPatience)
          ->refs.size(),
      1u);
  EXPECT_EQ(Store().objects, before.objects + 1);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Its raylet frees what the dead worker owned.
  EXPECT_TRUE(StoreBackTo(before))
      << Store().objects << " objects, " << Store().pinned << " bytes pinned; before "
      << before.objects << ", " << before.pinned;
}

}  // namespace
}  // namespace rayk
