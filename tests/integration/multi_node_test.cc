// Scheduling across nodes, with a dev cluster of real raylets (`rayk dev up`):
// SPREAD, hard and soft node affinity, custom resources, infeasible demand
// that runs once a node that fits joins, hybrid's local packing below its
// threshold, a large argument made on one node and used on another, and a
// raylet SIGKILLed in the middle of a workload.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "core_worker/core_worker.h"
#include "dev_cluster.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using test_functions::MakeVector;
using test_functions::NodeAfterMs;
using test_functions::NodeWhenReleased;
using test_functions::SumVector;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

testing::DevCluster::Options ThreeNodes(int cpus = 2, std::string resources = "",
                                        int timeout_ms = 10000) {
  testing::DevCluster::Options options;
  options.nodes = 3;
  options.cpus_per_node = cpus;
  options.resources_per_node = std::move(resources);
  options.node_timeout_ms = timeout_ms;
  return options;
}

std::vector<std::string> Values(const std::vector<rayk::ObjectRef<std::string>>& refs) {
  std::vector<std::string> out;
  for (const auto& ref : refs) out.push_back(*rayk::Get(ref, std::chrono::seconds(60)));
  return out;
}

TEST(MultiNodeTest, SpreadUsesEveryNodeAndAffinityPinsToOne) {
  testing::DevCluster cluster(ThreeNodes());
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  // The raylets learn of each other from their view pulls (every 100 ms, later
  // on a loaded machine): rounds of SPREAD tasks until every node has run one.
  std::set<std::string> nodes;
  for (int round = 0; round < 20 && nodes.size() < 3; ++round) {
    std::vector<rayk::ObjectRef<std::string>> spread;
    for (int i = 0; i < 6; ++i)
      spread.push_back(rayk::Task(NodeAfterMs).SetSpread().Remote(int64_t{100}));
    for (const std::string& node : Values(spread)) nodes.insert(node);
  }
  EXPECT_EQ(nodes.size(), 3u) << "SPREAD should reach every node";

  NodeId target = NodeId::FromHex(cluster.node_id(2));
  std::vector<rayk::ObjectRef<std::string>> pinned;
  for (int i = 0; i < 6; ++i)
    pinned.push_back(rayk::Task(NodeAfterMs).SetNodeAffinity(target).Remote(int64_t{20}));
  for (const std::string& node : Values(pinned)) EXPECT_EQ(node, target.Hex());
}

TEST(MultiNodeTest, HybridPacksLocallyBelowItsThresholdAndSpreadsAbove) {
  testing::DevCluster cluster(ThreeNodes(4));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::string local = rayk::CurrentNodeId().Hex();
  // One at a time, the local node stays under half busy: every call runs here.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(*rayk::Get(rayk::Task(NodeAfterMs).Remote(int64_t{0})), local);
  // Tasks that each hold half the local node and block until released: once
  // one runs here the node is at its threshold, so hybrid must place the rest
  // elsewhere. Waiting for them to start (not for a duration) keeps this true
  // on a loaded machine.
  std::vector<rayk::ObjectRef<std::string>> burst;
  for (int i = 0; i < 6; ++i) {
    burst.push_back(
        rayk::Task(NodeWhenReleased).SetResource("CPU", 2).Remote(std::string("hybrid")));
  }
  std::set<std::string> started;
  for (auto deadline = Clock::now() + std::chrono::seconds(60);
       started.size() < 2 && Clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    started.clear();
    for (const std::string& key : rayk::KvList("hybrid/started/", "tests")) {
      if (auto node = rayk::KvGet(key, "tests")) started.insert(*node);
    }
  }
  rayk::KvPut("hybrid", "go", "tests");
  std::set<std::string> nodes;
  for (const std::string& node : Values(burst)) nodes.insert(node);
  EXPECT_GE(nodes.size(), 2u) << "above its threshold, hybrid should place work on other nodes";
}

// binpack ranks nodes the same way on every raylet, so one report period's
// lease requests all spill to the same node. Once that node is full, the
// ones it cannot grant must move on to the free nodes its next view shows,
// not wait there with a view of their own node only (issue 21).
TEST(MultiNodeTest, BinpackRequestsForwardedToAFullNodeMoveOnToFreeNodes) {
  testing::DevCluster::Options options = ThreeNodes(2);
  options.extra_args = "--set scheduler.plugin=binpack";
  testing::DevCluster cluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  // Six one-CPU tasks that block until released fit the cluster only with
  // two on every node; stranded requests would leave some never started.
  std::vector<rayk::ObjectRef<std::string>> burst;
  for (int i = 0; i < 6; ++i)
    burst.push_back(rayk::Task(NodeWhenReleased).Remote(std::string("binpack")));
  std::map<std::string, int> started;  // worker -> node, counted by node
  for (auto deadline = Clock::now() + std::chrono::seconds(60); Clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    started.clear();
    int workers = 0;
    for (const std::string& key : rayk::KvList("binpack/started/", "tests")) {
      if (auto node = rayk::KvGet(key, "tests")) ++started[*node], ++workers;
    }
    if (workers == 6) break;
  }
  rayk::KvPut("binpack", "go", "tests");
  std::map<std::string, int> ran;
  for (const std::string& node : Values(burst)) ++ran[node];
  std::map<std::string, int> two_each;
  for (int i = 0; i < 3; ++i) two_each[cluster.node_id(i)] = 2;
  EXPECT_EQ(started, two_each) << "every node should have started two tasks at once";
  EXPECT_EQ(ran, two_each);
}

TEST(MultiNodeTest, CustomResourcesRouteToTheOnlyNodeThatHasThem) {
  testing::DevCluster cluster(ThreeNodes(1, R"([{}, {}, {"accel_x": 2}])"));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::vector<rayk::ObjectRef<std::string>> refs;
  for (int i = 0; i < 4; ++i) {
    refs.push_back(rayk::Task(NodeAfterMs)
                       .SetResource("CPU", 0)
                       .SetResource("accel_x", 1)
                       .Remote(int64_t{10}));
  }
  for (const std::string& node : Values(refs)) EXPECT_EQ(node, cluster.node_id(2));
}

TEST(MultiNodeTest, LabelSelectorsChooseNodesByTheirConditions) {
  testing::DevCluster cluster(ThreeNodes());
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  // Each condition's set of nodes; rayk.io/node-index is the dev cluster's
  // label, rayk.io/node-id and rayk.io/node-address every node's own.
  auto nodes_of = [&](std::map<std::string, std::string> selector) {
    std::vector<rayk::ObjectRef<std::string>> refs;
    for (int i = 0; i < 6; ++i) {
      refs.push_back(
          rayk::Task(NodeAfterMs).SetSpread().SetLabelSelector(selector).Remote(int64_t{10}));
    }
    std::set<std::string> nodes;
    for (const std::string& node : Values(refs)) nodes.insert(node);
    return nodes;
  };
  const std::string n0 = cluster.node_id(0), n1 = cluster.node_id(1), n2 = cluster.node_id(2);
  auto in_0_2 = nodes_of({{"rayk.io/node-index", "in(0,2)"}});
  EXPECT_TRUE(in_0_2.count(n1) == 0 && !in_0_2.empty());
  auto not_1 = nodes_of({{"rayk.io/node-index", "!1"}});
  EXPECT_TRUE(not_1.count(n1) == 0 && !not_1.empty());
  auto not_in = nodes_of({{"rayk.io/node-index", "!in(0,1)"}});
  EXPECT_EQ(not_in, std::set<std::string>{n2});
  EXPECT_EQ(nodes_of({{"rayk.io/node-id", n1}}), std::set<std::string>{n1});
  auto anywhere =
      nodes_of({{"rayk.io/node-address", "127.0.0.1"}, {"rayk.io/hostname", "exists()"}});
  EXPECT_FALSE(anywhere.empty());
  for (const std::string& node : anywhere) EXPECT_TRUE(node == n0 || node == n1 || node == n2);

  // No node lacks a host name: the task waits, as any task no node can run.
  auto never = rayk::Task(NodeAfterMs)
                   .SetLabelSelector({{"rayk.io/hostname", "!exists()"}})
                   .Remote(int64_t{0});
  EXPECT_THROW(rayk::Get(never, std::chrono::milliseconds(500)), rayk::GetTimeoutError);

  // A condition that is not valid fails where it is set, with the syntax.
  try {
    rayk::Task(NodeAfterMs).SetLabelSelector({{"zone", "in(a,"}});
    ADD_FAILURE() << "a bad selector was accepted";
  } catch (const rayk::RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rayk::Task(NodeAfterMs).SetLabelSelector: the condition "
                                    "'in(a,' on label 'zone' is not valid"));
  }
  EXPECT_THROW(rayk::Actor(test_functions::Counter::Create).SetLabelSelector({{"zone", "!"}}),
               rayk::RuntimeError);

  // `rayk status` leaves the labels every node has to --format json.
  auto status = cluster.Rayk("status");
  EXPECT_THAT(status.output, HasSubstr("rayk.io/node-index=2"));
  EXPECT_THAT(status.output, ::testing::Not(HasSubstr("rayk.io/node-id")));
  auto json = cluster.Rayk("status --format json");
  EXPECT_THAT(json.output, HasSubstr("\"rayk.io/node-id\": \"" + n2 + "\""));
}

TEST(MultiNodeTest, InfeasibleDemandRunsOnceANodeThatFitsJoins) {
  testing::DevCluster cluster(ThreeNodes(1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto gpu = rayk::Task(NodeAfterMs).SetResource("GPU", 1).Remote(int64_t{0});
  EXPECT_THROW(rayk::Get(gpu, std::chrono::milliseconds(1000)), rayk::GetTimeoutError);
  auto status = cluster.Rayk("status");
  EXPECT_THAT(status.output, HasSubstr("GPU"));
  auto added = cluster.AddNode("--cpus 1 --resources '{\"GPU\": 1}'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  std::string node = *rayk::Get(gpu, std::chrono::seconds(30));
  EXPECT_EQ(cluster.num_nodes(), 4);
  EXPECT_EQ(node, cluster.node_id(3));
}

TEST(MultiNodeTest, InfeasibleActorIsCreatedOnceANodeThatFitsJoins) {
  testing::DevCluster cluster(ThreeNodes(1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto gpu = rayk::Actor(test_functions::Counter::Create).SetResource("GPU", 1).Remote(5);
  auto value = gpu.Task(&test_functions::Counter::Incr).Remote(1);
  EXPECT_THROW(rayk::Get(value, std::chrono::milliseconds(1000)), rayk::GetTimeoutError);
  auto added = cluster.AddNode("--cpus 1 --resources '{\"GPU\": 1}'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_EQ(*rayk::Get(value, std::chrono::seconds(60)), 6);
  auto actors = cluster.Rayk("list actors --format json");
  ASSERT_EQ(actors.exit_code, 0) << actors.output;
  auto listed = nlohmann::json::parse(actors.output);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["node_id"], cluster.node_id(3));
  EXPECT_EQ(listed[0]["pending_reason"], "");
}

TEST(MultiNodeTest, LargeArgumentMadeOnOneNodeIsUsedOnAnother) {
  testing::DevCluster cluster(ThreeNodes(1));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  NodeId a = NodeId::FromHex(cluster.node_id(1));
  NodeId b = NodeId::FromHex(cluster.node_id(2));
  const int64_t n = 4 << 20;  // 32 MiB: pulled in chunks by node b's raylet
  auto made = rayk::Task(MakeVector).SetNodeAffinity(a).Remote(n);
  auto sum = rayk::Task(SumVector).SetNodeAffinity(b).Remote(made);
  EXPECT_DOUBLE_EQ(*rayk::Get(sum, std::chrono::seconds(60)), static_cast<double>(n) * (n - 1) / 2);
  // With the default policy, a task goes where its large argument is.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        *rayk::Get(rayk::Task(test_functions::NodeOfVector).Remote(made), std::chrono::seconds(60)),
        a.Hex());
  }
  // The driver reads it too, wherever it runs.
  auto values = rayk::Get(made);
  ASSERT_EQ(values->size(), static_cast<size_t>(n));
  EXPECT_EQ((*values)[n - 1], static_cast<double>(n - 1));
  // Bytes written in place on node b, read whole on node a and here.
  const int64_t size = (8 << 20) + 3;
  auto bytes = rayk::Task(test_functions::MakeBytes).SetNodeAffinity(b).Remote(size);
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::FirstWrongByte).SetNodeAffinity(a).Remote(bytes),
                       std::chrono::seconds(60)),
            size);
  EXPECT_EQ(rayk::Get(bytes, std::chrono::seconds(60))->size(), static_cast<size_t>(size));
}

TEST(MultiNodeTest, DeadNodeFailsHardAffinityAndSoftAffinityFallsBack) {
  testing::DevCluster cluster(ThreeNodes(1, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::string local = rayk::CurrentNodeId().Hex();
  int victim = cluster.node_id(1) == local ? 2 : 1;
  NodeId dead = NodeId::FromHex(cluster.node_id(victim));
  cluster.KillNode(victim);
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    bool gone = false;
    for (const NodeView& node : rayk::Nodes()) gone |= node.node_id == dead && !node.alive;
    if (gone) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the raylets' views catch up
  auto hard = rayk::Task(NodeAfterMs).SetNodeAffinity(dead).Remote(int64_t{0});
  try {
    rayk::Get(hard, std::chrono::seconds(30));
    ADD_FAILURE() << "hard affinity to a dead node should fail";
  } catch (const rayk::UnschedulableError& error) {
    EXPECT_THAT(error.what(), HasSubstr(dead.Hex().substr(0, 8)));
  }
  std::string ran =
      *rayk::Get(rayk::Task(NodeAfterMs).SetNodeAffinity(dead, /*soft=*/true).Remote(int64_t{0}),
                 std::chrono::seconds(30));
  EXPECT_NE(ran, dead.Hex());
}

TEST(MultiNodeTest, KilledRayletsTasksFinishElsewhere) {
  testing::DevCluster cluster(ThreeNodes(1, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::string local = rayk::CurrentNodeId().Hex();
  int victim = cluster.node_id(1) == local ? 2 : 1;
  std::vector<rayk::ObjectRef<std::string>> refs;
  for (int i = 0; i < 12; ++i) {
    refs.push_back(rayk::Task(NodeAfterMs).SetSpread().SetMaxRetries(3).Remote(int64_t{600}));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every node is running some
  auto killed_at = Clock::now();
  cluster.KillNode(victim);
  for (const auto& ref : refs) {
    std::string node = *rayk::Get(ref, std::chrono::seconds(60));
    EXPECT_EQ(node.size(), 32u);
  }
  auto finished = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  std::cout << "every task finished " << finished.count() << " ms after the raylet's SIGKILL\n";
}

// Waits until the driver's view shows `node` dead.
void WaitUntilDead(const NodeId& node) {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    for (const NodeView& view : rayk::Nodes()) {
      if (view.node_id == node && !view.alive) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "node " << node.Hex() << " was not declared dead";
}

// Lineage reconstruction: a chain of large results made on a node that is
// then killed (never read before) comes back right at the driver: the
// driver runs the tasks again, the first before the second that needs it.
// A result whose task may not be retried says why it cannot come back.
TEST(MultiNodeTest, LostResultsAreMadeAgainByTheirTasks) {
  testing::DevCluster cluster(ThreeNodes(4, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::string local = rayk::CurrentNodeId().Hex();
  NodeId victim = NodeId::FromHex(cluster.node_id(cluster.node_id(1) == local ? 2 : 1));
  const int64_t n = 1 << 20;  // 8 MiB: kept in the victim's store, not inline
  auto first = rayk::Task(MakeVector).SetNodeAffinity(victim, /*soft=*/true).Remote(n);
  auto second = rayk::Task(test_functions::ShiftVector)
                    .SetNodeAffinity(victim, /*soft=*/true)
                    .Remote(first, 1.0);
  auto once = rayk::Task(MakeVector).SetNodeAffinity(victim).SetMaxRetries(0).Remote(n);
  // Done there, and never read anywhere else.
  EXPECT_EQ(rayk::Wait(std::vector{first, second, once}, 3, std::chrono::seconds(60)).ready.size(),
            3u);
  cluster.KillNode(cluster.node_id(1) == victim.Hex() ? 1 : 2);
  WaitUntilDead(victim);

  auto shifted = rayk::Get(second, std::chrono::seconds(60));
  ASSERT_EQ(shifted->size(), static_cast<size_t>(n));
  EXPECT_EQ((*shifted)[0], 1.0);
  EXPECT_EQ((*shifted)[n - 1], static_cast<double>(n));
  auto made = rayk::Get(first, std::chrono::seconds(60));
  EXPECT_EQ((*made)[n - 1], static_cast<double>(n - 1));
  try {
    rayk::Get(once, std::chrono::seconds(60));
    ADD_FAILURE() << "a result of a task without retries came back from a dead node";
  } catch (const rayk::ObjectLostError& error) {
    EXPECT_THAT(error.what(), HasSubstr("its task has no retries left"));
  }
}

// The indexes of the cluster's nodes but the one this driver uses.
std::vector<int> NodesOtherThanTheDrivers(const testing::DevCluster& cluster) {
  const std::string local = rayk::CurrentNodeId().Hex();
  std::vector<int> others;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    if (cluster.node_id(i) != local) others.push_back(i);
  }
  return others;
}

// A task sent to read its argument from a node that died a moment before
// (its raylet's read of the dead node waits out the chunk timeout, then
// fails) runs again once its owner has made the argument again, rather than
// failing with ObjectLostError. Found by the chaos run (bench/chaos), where
// it failed a whole job.
TEST(MultiNodeTest, ATaskThatCouldNotReadItsArgumentFromADeadNodeRunsAgain) {
  testing::DevCluster cluster(ThreeNodes(2, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  const std::vector<int> others = NodesOtherThanTheDrivers(cluster);
  ASSERT_EQ(others.size(), 2u);
  const NodeId victim = NodeId::FromHex(cluster.node_id(others[0]));
  const NodeId reader = NodeId::FromHex(cluster.node_id(others[1]));
  const int64_t n = 1 << 17;  // 1 MiB: kept in the victim's store, not inline
  auto made = rayk::Task(MakeVector).SetNodeAffinity(victim, /*soft=*/true).Remote(n);
  ASSERT_EQ(rayk::Wait(std::vector{made}, 1, std::chrono::seconds(60)).ready.size(), 1u);
  cluster.KillNode(others[0]);
  // Resolved at once to the victim's store (its death is not known yet),
  // and pushed to a worker on the reader node, which cannot pull it.
  auto shifted = rayk::Task(test_functions::ShiftVector)
                     .SetNodeAffinity(reader)
                     .SetMaxRetries(2)
                     .Remote(made, 1.0);
  auto values = rayk::Get(shifted, std::chrono::seconds(120));
  ASSERT_EQ(values->size(), static_cast<size_t>(n));
  EXPECT_EQ((*values)[0], 1.0);
  EXPECT_EQ((*values)[n - 1], static_cast<double>(n));
}

// Lineage reconstruction is lazy, as in Ray: a lost result that only the
// kept task of another result needs (an input already consumed) is not made
// again when its node dies, only once that other result must be made again
// and its task needs it. Eagerly, each node death re-ran every finished task
// whose result the node held (found by the chaos run, bench/chaos).
TEST(MultiNodeTest, ALostInputIsMadeAgainOnlyWhenATaskNeedsIt) {
  testing::DevCluster cluster(ThreeNodes(2, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto* core = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
  ASSERT_NE(core, nullptr);
  const std::vector<int> others = NodesOtherThanTheDrivers(cluster);
  ASSERT_EQ(others.size(), 2u);
  const NodeId input_node = NodeId::FromHex(cluster.node_id(others[0]));
  const NodeId output_node = NodeId::FromHex(cluster.node_id(others[1]));
  const int64_t n = 1 << 17;  // 1 MiB: kept in a node's store, not inline
  std::optional<rayk::ObjectRef<std::vector<double>>> input =
      rayk::Task(MakeVector).SetNodeAffinity(input_node, /*soft=*/true).Remote(n);
  auto output = rayk::Task(test_functions::ShiftVector)
                    .SetNodeAffinity(output_node, /*soft=*/true)
                    .Remote(*input, 1.0);
  ASSERT_EQ(rayk::Wait(std::vector{output}, 1, std::chrono::seconds(60)).ready.size(), 1u);
  input.reset();  // held by the output's kept task alone

  cluster.KillNode(others[0]);
  WaitUntilDead(input_node);
  // The driver hears of the death within its GCS subscription's latency.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(core->faults().objects_reconstructed, 0u)
      << "the consumed input was made again although nothing needed it";

  cluster.KillNode(others[1]);
  WaitUntilDead(output_node);
  auto values = rayk::Get(output, std::chrono::seconds(60));
  ASSERT_EQ(values->size(), static_cast<size_t>(n));
  EXPECT_EQ((*values)[n - 1], static_cast<double>(n));
  // The output (held here), then its input (its task needed it).
  EXPECT_EQ(core->faults().objects_reconstructed, 2u);
}

TEST(MultiNodeTest, ActorOfADeadNodeRestartsElsewhere) {
  testing::DevCluster cluster(ThreeNodes(1, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string local = rayk::CurrentNodeId().Hex();
  int victim = cluster.node_id(1) == local ? 2 : 1;
  NodeId doomed = NodeId::FromHex(cluster.node_id(victim));
  auto counter = rayk::Actor(test_functions::Counter::Create)
                     .SetNodeAffinity(doomed, /*soft=*/true)
                     .SetMaxRestarts(1)
                     .Remote(5);
  auto pid =
      *rayk::Get(counter.Task(&test_functions::Counter::Pid).Remote(), std::chrono::seconds(30));
  cluster.KillNode(victim);
  // Once the GCS has declared the node dead it re-creates the actor on
  // another node (with fresh state: its factory runs again).
  auto deadline = Clock::now() + std::chrono::seconds(30);
  int64_t new_pid = 0;
  while (Clock::now() < deadline) {
    try {
      new_pid = *rayk::Get(counter.Task(&test_functions::Counter::Pid).Remote(),
                           std::chrono::seconds(10));
      if (new_pid != pid) break;
    } catch (const rayk::ActorDiedError&) {
      // a call that was sent to the dead process
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(new_pid, 0);
  EXPECT_NE(new_pid, pid);
  EXPECT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), 6);
  auto actors = cluster.Rayk("list actors --format json");
  EXPECT_THAT(actors.output, HasSubstr("\"restarts\": 1"));
}

// Issue 15's hang: a driver started right after the raylets it would pick
// were SIGKILLed (still listed alive until the node timeout) attaches to the
// live one instead of waiting forever on a dead one.
TEST(MultiNodeTest, ADriverStartedAfterRayletsDiedAttachesToALiveOne) {
  testing::DevCluster cluster(ThreeNodes(1, "", 10000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  cluster.KillNode(0);
  cluster.KillNode(1);
  testing::JoinedDriver driver(cluster);
  EXPECT_EQ(rayk::CurrentNodeId().Hex(), cluster.node_id(2));
  EXPECT_EQ(*rayk::Get(rayk::Task(NodeAfterMs).Remote(int64_t{0}), std::chrono::seconds(60)),
            cluster.node_id(2));
}

// A driver whose own raylet dies under it fails its waiting tasks with one
// clear reason once the GCS declares the node dead, instead of hanging.
TEST(MultiNodeTest, ADriverWhoseRayletDiesFailsItsTasksClearly) {
  testing::DevCluster cluster(ThreeNodes(1, "", 1000));
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::string home = rayk::CurrentNodeId().Hex();
  ASSERT_EQ(rayk::Get(rayk::Task(NodeAfterMs).Remote(int64_t{0}), std::chrono::seconds(60))->size(),
            32u);
  for (int i = 0; i < 3; ++i) {
    if (cluster.node_id(i) == home) cluster.KillNode(i);
  }
  // A demand only the dead node's raylet would be asked for: a new class.
  auto ref = rayk::Task(NodeAfterMs).SetResource("CPU", 0.5).Remote(int64_t{0});
  try {
    rayk::Get(ref, std::chrono::seconds(60));
    FAIL() << "the task should fail: its driver's raylet is dead";
  } catch (const RaykError& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("died"));
    EXPECT_THAT(error.what(), ::testing::HasSubstr("start the driver again"));
  }
}

}  // namespace
}  // namespace rayk
