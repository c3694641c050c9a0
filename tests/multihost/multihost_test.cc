// Clusters across machines, on separate network hosts made of Linux network
// namespaces (network_hosts.h): a head on host 0, nodes joining it from hosts
// 1 and 2 by its address alone, and drivers on host 3, which has no node.
// Each host has its own session root, as separate machines would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "multihost/host_cluster.h"
#include "multihost/network_hosts.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class MultiHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!testing::NetworkHosts::Supported(&why)) GTEST_SKIP() << why;
  }
};

TEST_F(MultiHostTest, NodesJoinFromOtherHostsAndDriversRunJobsFromAHostWithoutANode) {
  testing::NetworkHosts hosts(4);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 3);
  ASSERT_EQ(cluster.Start(), "");

  // Every host's view: three alive nodes, each with its own host's address.
  auto status = cluster.Rayk(3, "status --format json --address " + cluster.head());
  ASSERT_EQ(status.exit_code, 0) << status.output;
  auto json = nlohmann::json::parse(status.output, nullptr, false);
  ASSERT_TRUE(json.is_object()) << status.output;
  std::set<std::string> addresses;
  for (const auto& node : json["nodes"]) addresses.insert(node.value("address", ""));
  EXPECT_EQ(addresses.size(), 3u) << status.output;
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(status.output, HasSubstr(hosts.address(i) + ":")) << status.output;

  auto pi = cluster.Driver(3, std::string(RAYK_BINARY_DIR) + "/bin/pi 8 20000");
  ASSERT_EQ(pi.exit_code, 0) << pi.output;
  EXPECT_THAT(pi.output, HasSubstr("pi ~= 3.1"));

  auto words = cluster.Driver(
      3, std::string(RAYK_BINARY_DIR) + "/bin/wordcount " + RAYK_SOURCE_DIR + "/README.md");
  ASSERT_EQ(words.exit_code, 0) << words.output;
  EXPECT_THAT(words.output, HasSubstr("words"));
}

TEST_F(MultiHostTest, SpreadReachesEveryHostAndObjectsMoveBetweenHosts) {
  testing::NetworkHosts hosts(4);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 3);
  ASSERT_EQ(cluster.Start(), "");
  const std::string driver = std::string(RAYK_BINARY_DIR) + "/bin/rayk_multihost_driver";

  auto spread = cluster.Driver(3, driver + " spread");
  ASSERT_EQ(spread.exit_code, 0) << spread.output;
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(spread.output, HasSubstr("node tcp://" + hosts.address(i) + ":"));

  // A 64 MiB object made on host 1, used by a task on host 2, with a driver on host 0.
  auto moved = cluster.Driver(0, driver + " object " + hosts.address(1) + " " + hosts.address(2));
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_THAT(moved.output, HasSubstr("sum 35184367894528 expected 35184367894528"));
  EXPECT_THAT(moved.output, HasSubstr("made tcp://" + hosts.address(1)));
  EXPECT_THAT(moved.output, HasSubstr("used tcp://" + hosts.address(2)));
}

TEST_F(MultiHostTest, AJobWhoseLibraryExistsOnlyOnTheDriversHostRunsOnEveryHost) {
  testing::NetworkHosts hosts(4);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 3);
  ASSERT_EQ(cluster.Start(), "");
  // The driver's host mounts a folder of its own (ip netns exec gives each
  // command a mount namespace of its own) and loads the job library from
  // there: no other host can see that file, so the code must travel.
  testing::TempDir private_dir;
  const std::string library = private_dir.path() + "/librayk_test_functions.so";
  auto run =
      cluster.Driver(3, "sh -c 'mount -t tmpfs rayk-private " + private_dir.path() + " && cp " +
                            RAYK_BINARY_DIR + "/lib/librayk_test_functions.so " +
                            private_dir.path() + "/ && LD_LIBRARY_PATH=" + private_dir.path() +
                            " " + RAYK_BINARY_DIR + "/bin/rayk_multihost_driver spread'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("code " + library));
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(run.output, HasSubstr("node tcp://" + hosts.address(i) + ":")) << run.output;
  EXPECT_FALSE(std::filesystem::exists(library)) << "the file must exist on the driver's host only";
}

TEST_F(MultiHostTest, JobsRunOverLinksWithAddedLatency) {
  testing::NetworkHosts hosts(3);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  for (int i = 0; i < 3; ++i) {
    std::string error = hosts.AddLatency(i, "1ms");
    if (error.find("qdisc kind is unknown") != std::string::npos) {
      GTEST_SKIP() << "this kernel has no netem qdisc (sch_netem), so no latency can be added: "
                   << error;
    }
    ASSERT_EQ(error, "");
  }
  testing::HostCluster cluster(hosts, 2);
  ASSERT_EQ(cluster.Start(), "");
  auto pi = cluster.Driver(2, std::string(RAYK_BINARY_DIR) + "/bin/pi 8 20000");
  ASSERT_EQ(pi.exit_code, 0) << pi.output;
  EXPECT_THAT(pi.output, HasSubstr("pi ~= 3.1"));
}

// The pid a driver line "pid P" names, or 0.
pid_t PidIn(const std::string& output) {
  size_t at = output.find("pid ");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::atol(output.c_str() + at + 4));
}

bool ProcessGone(pid_t pid) { return !testing::ProcessRunning(pid); }

// How many nodes `rayk status` on host i lists as alive, or -1.
int AliveNodes(const testing::HostCluster& cluster, int i) {
  auto status = cluster.Rayk(i, "status --format json --address " + cluster.head());
  auto json = nlohmann::json::parse(status.output, nullptr, false);
  if (status.exit_code != 0 || !json.is_object()) return -1;
  int alive = 0;
  for (const auto& node : json["nodes"]) alive += node.value("alive", false) ? 1 : 0;
  return alive;
}

template <typename Condition>
bool Eventually(Condition condition, std::chrono::seconds limit = std::chrono::seconds(60)) {
  for (auto deadline = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < deadline;) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

TEST_F(MultiHostTest, APartitionedNodeIsDeclaredDeadAndOnHealingStopsItsOldActors) {
  testing::NetworkHosts hosts(2);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 2);
  ASSERT_EQ(cluster.Start("--node-timeout-ms 2000"), "");
  const std::string driver = std::string(RAYK_BINARY_DIR) + "/bin/rayk_multihost_driver";
  auto created = cluster.Driver(0, driver + " actor-on " + hosts.address(1) + " survivor");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  pid_t old_actor = PidIn(created.output);
  ASSERT_GT(old_actor, 0) << created.output;

  ASSERT_TRUE(hosts.Disconnect(1));
  ASSERT_TRUE(Eventually([&] { return AliveNodes(cluster, 0) == 1; }))
      << "host 1 was never declared dead";
  // Its actor is restarted on the head's node, the only one left.
  auto restarted = cluster.Driver(0, driver + " actor-pid survivor");
  ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
  pid_t new_actor = PidIn(restarted.output);
  EXPECT_GT(new_actor, 0);
  EXPECT_NE(new_actor, old_actor);

  // Healed: the fenced node learns it was declared dead and stops its workers
  // instead of running the old actor beside its replacement.
  ASSERT_TRUE(hosts.Reconnect(1));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(old_actor); }))
      << "the old actor still runs after healing";
  EXPECT_EQ(AliveNodes(cluster, 0), 1) << "the fenced node came back as alive";
  auto again = cluster.Driver(0, driver + " actor-pid survivor");
  EXPECT_EQ(PidIn(again.output), new_actor) << again.output;
}

// Across hosts, over tcp, only the cluster's token gets in (docs/security.md):
// a host that holds another one cannot join, and says so in one line.
TEST_F(MultiHostTest, AHostWithAnotherTokenCannotJoin) {
  testing::NetworkHosts hosts(2);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 1);
  ASSERT_EQ(cluster.Start(), "");
  auto refused = cluster.Rayk(
      1, "start --address " + cluster.head() + " --auth-token not-the-cluster-token-0123456789");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(testing::CountLines(refused.output), 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("another cluster secret"));
  EXPECT_EQ(AliveNodes(cluster, 0), 1) << "no node may have joined";
  cluster.Rayk(1, "stop");
}

TEST_F(MultiHostTest, ANodeAddressThatIsNotThisHostsIsRefusedWithOneLine) {
  testing::NetworkHosts hosts(2);
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  testing::HostCluster cluster(hosts, 1);
  auto refused = cluster.Rayk(0, "start --head --node-ip-address " + hosts.address(1));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("--node-ip-address " + hosts.address(1) +
                                        " is not an address of this host"));
  auto unreachable = cluster.Rayk(
      1, "start --address 10.92.0.1:6379 --auth-token multihost-test-token-0123456789");
  EXPECT_NE(unreachable.exit_code, 0);
  EXPECT_THAT(unreachable.output, HasSubstr("no route"));
}

}  // namespace
}  // namespace rayk
