// Placement groups on dev clusters of real raylets (`rayk dev up`): PACK and
// STRICT_SPREAD land as specified and tasks and actors pinned to a bundle run
// on its node; a STRICT_SPREAD group with more bundles than nodes stays
// pending until a node joins; removal frees the reservation, ends the group's
// actors and fails its queued tasks; a group survives a GCS restart; an
// aborted re-placement gives back what it prepared; bad input gets a
// one-line error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "dev_cluster.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using test_functions::Counter;
using test_functions::NodeAfterMs;
using test_functions::NodeWhenReleased;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using testing::ErrorOf;
constexpr auto kLong = std::chrono::seconds(60);

testing::DevCluster::Options Nodes(int nodes, int cpus) {
  testing::DevCluster::Options options;
  options.nodes = nodes;
  options.cpus_per_node = cpus;
  return options;
}

// `rayk list placement-groups --format json`, the group with this id.
nlohmann::json Listed(const testing::DevCluster& cluster, const PlacementGroup& group) {
  auto list = cluster.Rayk("list placement-groups --format json --address " + cluster.address());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  auto json = nlohmann::json::parse(list.output, nullptr, false);
  if (!json.is_array()) return nullptr;
  for (const auto& g : json) {
    if (g["placement_group_id"] == group.ID().Hex()) return g;
  }
  return nullptr;
}

// `rayk status --format json` once `holds` is true of it (raylets report
// every 100 ms, so a change shows a report later), or the last one after a minute.
template <class P>
nlohmann::json StatusWhen(const testing::DevCluster& cluster, P holds) {
  nlohmann::json status;
  for (auto start = Clock::now(); Clock::now() - start < kLong;) {
    status = cluster.Status();
    if (status.is_object() && holds(status)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status;
}

double ReservedCpus(const nlohmann::json& status, const char* which = "reserved") {
  const nlohmann::json& resources = status["resources"];
  return resources.contains(which) && resources[which].contains("CPU")
             ? resources[which]["CPU"].get<double>()
             : 0.0;
}

std::vector<std::string> BundleNodes(const nlohmann::json& listed) {
  std::vector<std::string> nodes;
  for (const auto& bundle : listed["bundles"]) {
    nodes.push_back(bundle["node_id"].is_string() ? bundle["node_id"].get<std::string>() : "");
  }
  return nodes;
}

TEST(PlacementGroupTest, PackAndStrictSpreadLandAsSpecifiedAndPinnedWorkRunsThere) {
  // 3 CPUs a node: PACK takes 2 of one node's, leaving room for STRICT_SPREAD's 1 on each.
  testing::DevCluster cluster(Nodes(3, 3));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);

  auto pack = rayk::CreatePlacementGroup(
      {.bundles = {{{"CPU", 1}}, {{"CPU", 1}}}, .strategy = PlacementStrategy::kPack});
  ASSERT_TRUE(pack.Wait(kLong));
  std::vector<std::string> packed = BundleNodes(Listed(cluster, pack));
  ASSERT_EQ(packed.size(), 2u);
  EXPECT_FALSE(packed[0].empty());
  EXPECT_EQ(packed[0], packed[1]) << "PACK puts both bundles on the one node that fits them";
  EXPECT_EQ(Listed(cluster, pack)["state"], "CREATED");

  auto spread = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}},
                                            .strategy = PlacementStrategy::kStrictSpread});
  ASSERT_TRUE(spread.Wait(kLong));
  std::vector<std::string> spread_nodes = BundleNodes(Listed(cluster, spread));
  ASSERT_EQ(spread_nodes.size(), 3u);
  EXPECT_EQ(std::set<std::string>(spread_nodes.begin(), spread_nodes.end()).size(), 3u)
      << "STRICT_SPREAD puts each bundle on its own node";

  // A task pinned to each bundle runs on that bundle's node, and one in
  // "any bundle" on one of the group's nodes.
  for (int i = 0; i < 3; ++i) {
    auto node = rayk::Task(NodeAfterMs).SetPlacementGroup(spread, i).Remote(int64_t{0});
    EXPECT_EQ(*rayk::Get(node, kLong), spread_nodes[i]) << "bundle " << i;
  }
  auto any = rayk::Task(NodeAfterMs).SetPlacementGroup(pack).Remote(int64_t{0});
  EXPECT_EQ(*rayk::Get(any, kLong), packed[0]);

  // An actor pinned to a bundle lives on that bundle's node.
  auto actor =
      rayk::Actor(Counter::Create).SetResource("CPU", 1).SetPlacementGroup(spread, 2).Remote(0);
  EXPECT_EQ(*rayk::Get(actor.Task(&Counter::Node).Remote(), kLong), spread_nodes[2]);

  // `rayk status` shows what the bundles hold: 5 CPUs in all, 1 in use by the actor.
  nlohmann::json status = StatusWhen(
      cluster, [](const nlohmann::json& s) { return ReservedCpus(s, "reserved_used") == 1; });
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(ReservedCpus(status), 5);
  EXPECT_EQ(ReservedCpus(status, "reserved_used"), 1);
  auto text = cluster.Rayk("status --address " + cluster.address());
  EXPECT_THAT(text.output, HasSubstr("1/5 CPU reserved in use"));
  EXPECT_THAT(text.output, Not(HasSubstr("_group_")));
  auto table = cluster.Rayk("list placement-groups --address " + cluster.address());
  EXPECT_THAT(table.output, HasSubstr("STRICT_SPREAD"));
  EXPECT_THAT(table.output, HasSubstr("CREATED"));
}

TEST(PlacementGroupTest, InfeasibleStrictSpreadWaitsUntilANodeJoins) {
  testing::DevCluster cluster(Nodes(2, 1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto group = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}},
                                           .strategy = PlacementStrategy::kStrictSpread,
                                           .name = "three"});
  EXPECT_FALSE(group.Wait(std::chrono::milliseconds(1500)));
  nlohmann::json listed = Listed(cluster, group);
  EXPECT_EQ(listed["state"], "PENDING");
  EXPECT_THAT(listed["pending_reason"].get<std::string>(), HasSubstr("its own node"));
  // A task waiting for the group runs once it is placed.
  auto node = rayk::Task(NodeAfterMs).SetPlacementGroup(group, 2).Remote(int64_t{0});

  auto added = cluster.AddNode("--cpus 1");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  ASSERT_TRUE(group.Wait(kLong));
  std::vector<std::string> nodes = BundleNodes(Listed(cluster, group));
  EXPECT_EQ(std::set<std::string>(nodes.begin(), nodes.end()).size(), 3u);
  EXPECT_EQ(*rayk::Get(node, kLong), nodes[2]);
  EXPECT_EQ(rayk::GetPlacementGroup("three").ID(), group.ID());
}

TEST(PlacementGroupTest, RemovalFreesResourcesEndsActorsAndFailsQueuedTasks) {
  testing::DevCluster cluster(Nodes(1, 2));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto group = rayk::CreatePlacementGroup(
      {.bundles = {{{"CPU", 1}}, {{"CPU", 1}}}, .strategy = PlacementStrategy::kStrictPack});
  ASSERT_TRUE(group.Wait(kLong));

  auto actor =
      rayk::Actor(Counter::Create).SetResource("CPU", 1).SetPlacementGroup(group, 0).Remote(0);
  ASSERT_EQ(*rayk::Get(actor.Task(&Counter::Incr).Remote(1), kLong), 1);
  // Bundle 1 runs one task at a time: one blocks, the next queues behind it.
  auto running = rayk::Task(NodeWhenReleased)
                     .SetPlacementGroup(group, 1)
                     .SetMaxRetries(0)
                     .Remote(std::string("never"));
  auto queued = rayk::Task(NodeAfterMs).SetPlacementGroup(group, 1).Remote(int64_t{0});
  // The node's 2 CPUs are all reserved: a plain 2-CPU task waits.
  auto outside = rayk::Task(NodeAfterMs).SetResource("CPU", 2).Remote(int64_t{0});
  EXPECT_TRUE(rayk::Wait(std::vector{outside}, 1, std::chrono::milliseconds(1500)).ready.empty());

  rayk::RemovePlacementGroup(group);
  EXPECT_EQ(*rayk::Get(outside, kLong), cluster.node_id(0)) << "removal frees the bundles";
  EXPECT_THAT(ErrorOf([&] { rayk::Get(actor.Task(&Counter::Incr).Remote(1), kLong); }),
              HasSubstr("placement group"));
  EXPECT_THAT(ErrorOf([&] { rayk::Get(queued, kLong); }), HasSubstr("placement group"));
  EXPECT_NE(ErrorOf([&] { rayk::Get(running, kLong); }), "");
  EXPECT_EQ(Listed(cluster, group)["state"], "REMOVED");
  EXPECT_THAT(ErrorOf([&] { group.Wait(std::chrono::seconds(1)); }), HasSubstr("removed"));
  // New work in the removed group fails at once instead of waiting.
  auto late = rayk::Task(NodeAfterMs).SetPlacementGroup(group, 0).Remote(int64_t{0});
  EXPECT_THAT(ErrorOf([&] { rayk::Get(late, kLong); }), HasSubstr("was removed"));
  nlohmann::json status =
      StatusWhen(cluster, [](const nlohmann::json& s) { return ReservedCpus(s) == 0; });
  EXPECT_EQ(ReservedCpus(status), 0);
}

// Two groups that each need the whole node, created back to back: the second
// is placed on a view that may not show the first yet, so its prepare is
// refused by the raylet (and released); either way it stays pending, and it
// is placed once the first is removed.
TEST(PlacementGroupTest, AGroupThatDoesNotFitNowWaitsForTheResources) {
  testing::DevCluster cluster(Nodes(1, 2));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto first = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 2}}}});
  auto second = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}, {{"CPU", 1}}}});
  ASSERT_TRUE(first.Wait(kLong));
  EXPECT_FALSE(second.Wait(std::chrono::milliseconds(1500)));
  EXPECT_EQ(Listed(cluster, second)["state"], "PENDING");
  rayk::RemovePlacementGroup(first);
  ASSERT_TRUE(second.Wait(kLong));
  std::vector<std::string> nodes = BundleNodes(Listed(cluster, second));
  EXPECT_EQ(nodes, (std::vector<std::string>{cluster.node_id(0), cluster.node_id(0)}));
  nlohmann::json status =
      StatusWhen(cluster, [](const nlohmann::json& s) { return ReservedCpus(s) == 2; });
  EXPECT_EQ(ReservedCpus(status), 2);
}

TEST(PlacementGroupTest, SurvivesAGcsRestart) {
  testing::DevCluster cluster(Nodes(2, 1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto group = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}, {{"CPU", 1}}},
                                           .strategy = PlacementStrategy::kStrictSpread,
                                           .name = "kept",
                                           .detached = true});
  ASSERT_TRUE(group.Wait(kLong));
  std::vector<std::string> before = BundleNodes(Listed(cluster, group));

  auto gcs_pid = [&] {
    std::ifstream pid_file(cluster.session_dir() + "/gcs_server.pid");
    pid_t pid = 0;
    pid_file >> pid;
    return pid;
  };
  pid_t old_pid = gcs_pid();
  ASSERT_GT(old_pid, 0);
  kill(old_pid, SIGKILL);
  nlohmann::json listed;
  for (auto start = Clock::now(); Clock::now() - start < kLong;) {
    pid_t pid = gcs_pid();
    if (pid != 0 && pid != old_pid) listed = Listed(cluster, group);
    if (listed.is_object()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(gcs_pid(), old_pid) << "the supervisor did not restart the GCS";
  ASSERT_TRUE(listed.is_object()) << "the restarted GCS does not list the group";
  EXPECT_EQ(listed["state"], "CREATED");
  EXPECT_EQ(BundleNodes(listed), before);
  PlacementGroup found = rayk::GetPlacementGroup("kept");
  EXPECT_EQ(found.ID(), group.ID());
  EXPECT_EQ(found.BundleCount(), 2u);
  EXPECT_TRUE(found.Wait(kLong));
  auto node = rayk::Task(NodeAfterMs).SetPlacementGroup(found, 1).Remote(int64_t{0});
  EXPECT_EQ(*rayk::Get(node, kLong), before[1]);
  rayk::RemovePlacementGroup(found);
}

TEST(PlacementGroupTest, BundlesOfADeadNodeArePlacedAgain) {
  testing::DevCluster::Options options = Nodes(3, 1);
  options.node_timeout_ms = 1000;
  testing::DevCluster cluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  // Two bundles of STRICT_SPREAD on three nodes: one node is left free.
  auto group = rayk::CreatePlacementGroup(
      {.bundles = {{{"CPU", 1}}, {{"CPU", 1}}}, .strategy = PlacementStrategy::kStrictSpread});
  ASSERT_TRUE(group.Wait(kLong));
  std::vector<std::string> before = BundleNodes(Listed(cluster, group));
  // Kill the node of bundle 1, unless the driver is attached to it, then bundle 0's.
  const std::string driver_node = rayk::CurrentNodeId().Hex();
  int victim_bundle = before[1] == driver_node ? 0 : 1;
  int victim = -1;
  for (int i = 0; i < 3; ++i) {
    if (cluster.node_id(i) == before[victim_bundle]) victim = i;
  }
  ASSERT_GE(victim, 0);
  cluster.KillNode(victim);
  std::vector<std::string> after;
  for (auto start = Clock::now(); Clock::now() - start < kLong;) {
    nlohmann::json listed = Listed(cluster, group);
    after = BundleNodes(listed);
    if (listed["state"] == "CREATED" && after[victim_bundle] != before[victim_bundle]) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[victim_bundle], before[victim_bundle]) << "the lost bundle moved";
  EXPECT_FALSE(after[victim_bundle].empty());
  EXPECT_EQ(after[1 - victim_bundle], before[1 - victim_bundle]) << "the other one stayed";
  EXPECT_NE(after[0], after[1]) << "still STRICT_SPREAD";
  auto node = rayk::Task(NodeAfterMs).SetPlacementGroup(group, victim_bundle).Remote(int64_t{0});
  EXPECT_EQ(*rayk::Get(node, kLong), after[victim_bundle]);
}

// The node of `id`'s free amount of `resource` in a `rayk status` JSON.
double NodeAvailable(const nlohmann::json& status, const std::string& id,
                     const std::string& resource) {
  for (const auto& node : status["nodes"]) {
    if (node["node_id"] == id && node["alive"] == true) {
      return node["available"].contains(resource) ? node["available"][resource].get<double>() : 0;
    }
  }
  return -1;
}

// Re-placing the bundles of dead nodes (B, C), the attempt picks a node that
// holds another bundle of the group (A) and a node that stops answering (D):
// the attempt aborts, A gives back the bundle it prepared (keeping its own),
// the group waits pending, and it is placed once a node that fits joins. The
// deaths may be seen in another order; either way no node may reserve more
// than the bundles the GCS lists on it.
TEST(PlacementGroupTest, AnAbortedReplacementGivesBackWhatItPreparedAndTheGroupWaits) {
  testing::DevCluster::Options options = Nodes(1, 1);
  options.node_timeout_ms = 2000;
  testing::DevCluster cluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto add = [&](int slots) {
    auto added =
        cluster.AddNode("--cpus 1 --resources '{\"slot\": " + std::to_string(slots) + "}'");
    EXPECT_EQ(added.exit_code, 0) << added.output;
    return cluster.num_nodes() - 1;
  };
  const int a = add(2), b = add(1), c = add(1);
  auto group = rayk::CreatePlacementGroup({.bundles = {{{"slot", 1}}, {{"slot", 1}}, {{"slot", 1}}},
                                           .strategy = PlacementStrategy::kSpread});
  ASSERT_TRUE(group.Wait(kLong));
  std::vector<std::string> before = BundleNodes(Listed(cluster, group));
  ASSERT_EQ((std::set<std::string>(before.begin(), before.end())),
            (std::set<std::string>{cluster.node_id(a), cluster.node_id(b), cluster.node_id(c)}));
  const int d = add(1);
  cluster.KillNode(b);
  cluster.KillNode(c);
  // D stops answering before it misses its reports: the GCS still counts it
  // alive when it re-places the two bundles (on A and D, SPREAD).
  std::this_thread::sleep_for(std::chrono::milliseconds(options.node_timeout_ms / 2));
  ASSERT_EQ(kill(cluster.raylet_pid(d), SIGSTOP), 0);
  const std::string a_id = cluster.node_id(a);
  // Whichever way the deaths were seen (B and C at once: the attempt on A
  // and D aborts; one after the other: a bundle may have moved to A or D
  // first), A ends up reserving exactly the bundles the GCS lists on it.
  nlohmann::json listed;
  auto settled = [&](const nlohmann::json& s) {
    listed = Listed(cluster, group);
    std::vector<std::string> nodes = BundleNodes(listed);
    const double on_a = static_cast<double>(std::count(nodes.begin(), nodes.end(), a_id));
    return listed["state"] == "PENDING" && NodeAvailable(s, cluster.node_id(d), "slot") < 0 &&
           NodeAvailable(s, a_id, "slot") == 2 - on_a;
  };
  nlohmann::json status = StatusWhen(cluster, settled);
  EXPECT_TRUE(settled(status)) << "A reserves more than its listed bundles: " << listed.dump()
                               << "\n"
                               << status.dump();
  // A node that fits joins: the group is placed, two bundles on A, one on it.
  const int e = add(1);
  std::vector<std::string> after;
  for (auto start = Clock::now(); Clock::now() - start < kLong;) {
    listed = Listed(cluster, group);
    if (listed["state"] == "CREATED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(listed["state"], "CREATED") << listed.dump();
  after = BundleNodes(listed);
  std::multiset<std::string> nodes(after.begin(), after.end());
  EXPECT_EQ(nodes.count(a_id), 2u);
  EXPECT_EQ(nodes.count(cluster.node_id(e)), 1u);
  rayk::RemovePlacementGroup(group);
}

TEST(PlacementGroupTest, BadInputGetsAOneLineError) {
  testing::DevCluster cluster(Nodes(1, 1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto one_line = [](const std::string& message) {
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  EXPECT_THAT(one_line(ErrorOf([] { rayk::CreatePlacementGroup({}); })), HasSubstr("no bundles"));
  EXPECT_THAT(one_line(ErrorOf([] { rayk::CreatePlacementGroup({.bundles = {{}}}); })),
              HasSubstr("bundle 0 has no resources"));
  EXPECT_THAT(one_line(ErrorOf([] {
                rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}, {{"CPU", 0}}}});
              })),
              HasSubstr("bundle 1: resource 'CPU' has amount 0"));
  EXPECT_THAT(one_line(ErrorOf([] {
                rayk::CreatePlacementGroup({.bundles = {{{"CPU", -1}}}});
              })),
              HasSubstr("CPU"));
  EXPECT_THAT(one_line(ErrorOf([] { rayk::GetPlacementGroup("nope"); })),
              HasSubstr("no placement group named 'nope'"));

  auto group = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}}, .name = "taken"});
  EXPECT_THAT(one_line(ErrorOf([] {
                rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}}, .name = "taken"});
              })),
              HasSubstr("'taken' is taken"));
  EXPECT_THAT(one_line(ErrorOf([&] { rayk::Task(NodeAfterMs).SetPlacementGroup(group, 1); })),
              HasSubstr("bundle_index 1 is out of range; the group has 1 bundle(s)"));
  EXPECT_THAT(one_line(ErrorOf([&] { rayk::Actor(Counter::Create).SetPlacementGroup(group, -2); })),
              HasSubstr("out of range"));
  EXPECT_THAT(
      one_line(ErrorOf([] { rayk::Task(NodeAfterMs).SetPlacementGroup(PlacementGroup()); })),
      HasSubstr("the handle is empty"));
  EXPECT_THAT(one_line(ErrorOf([] { rayk::RemovePlacementGroup(PlacementGroup()); })),
              HasSubstr("empty PlacementGroup"));
  rayk::RemovePlacementGroup(group);
  rayk::RemovePlacementGroup(group);  // removing twice does nothing
}

}  // namespace
}  // namespace rayk
