// The `hybrid` scheduler's own policy, beyond the shared contract the
// conformance suite checks: local packing under spread_threshold, spreading
// over the top k above it, locality, and its settings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "conformance/conformance.h"
#include "rayk/plugin/scheduling_util.h"
#include "scheduler_views.h"
#include "test_util.h"

namespace rayk {
namespace {

using testing::Book;
using testing::Demand;
using ::testing::HasSubstr;
using testing::IndexOf;
using testing::Node;
using testing::View;
using Kind = SchedulingDecision::Kind;

constexpr int kTrials = 200;

std::shared_ptr<Scheduler> Hybrid(RawSettingTable table = {}) {
  if (!table.count("seed")) table["seed"] = RawSetting{int64_t{42}, 1};
  return testing::CreatePlugin<Scheduler>("hybrid", table);
}

NodeId Pick(Scheduler& scheduler, const SchedulingRequest& request, const ClusterView& view) {
  SchedulingDecision d = scheduler.Schedule(request, view);
  EXPECT_EQ(d.kind, Kind::kNode) << d.reason;
  return d.node;
}

// Four CPUs, `free` of them available.
NodeView Cpus4(double free) { return Node({{"CPU", 4}}, {{"CPU", free}}); }

TEST(HybridSchedulerTest, PacksTheLocalNodeBelowTheThresholdThenSpreads) {
  auto hybrid = Hybrid();
  ClusterView view = View(testing::IdleNodes(3, 4));
  const NodeId local = view.local_node;
  SchedulingRequest request = Demand({{"CPU", 1}});
  // Utilization 0 and 0.25 are under 0.5: the local node takes both.
  for (int i = 0; i < 2; ++i) {
    NodeId node = Pick(*hybrid, request, view);
    ASSERT_EQ(node, local) << "call " << i << " left the local node below the threshold";
    Book(&view, node, request.demand);
  }
  // At 0.5 it is no longer idle and idle nodes exist: spill to one of them.
  EXPECT_NE(Pick(*hybrid, request, view), local);
}

TEST(HybridSchedulerTest, AboveTheThresholdTakesTheLeastUtilisedNode) {
  auto hybrid = Hybrid();
  ClusterView view = View({Cpus4(1), Cpus4(2), Cpus4(3)});  // 0.75 (local), 0.5, 0.25
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_EQ(Pick(*hybrid, Demand({{"CPU", 1}}), view), view.nodes[2].node_id);
  }
}

TEST(HybridSchedulerTest, ABusyLocalNodeStaysWhenNoNodeIsLessBusy) {
  // As in Ray: the local node loses only to a node that scores lower.
  auto hybrid = Hybrid();
  ClusterView view = View({Cpus4(1), Cpus4(1), Cpus4(1)});
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_EQ(Pick(*hybrid, Demand({{"CPU", 1}}), view), view.local_node);
  }
}

TEST(HybridSchedulerTest, ThresholdZeroAndOne) {
  ClusterView view = View({Cpus4(1), Cpus4(4)});  // local at 0.75, the other idle
  auto pack = Hybrid({{"spread_threshold", {1.0, 1}}});
  EXPECT_EQ(Pick(*pack, Demand({{"CPU", 1}}), view), view.local_node) << "1 packs until full";
  view.nodes[0].available = ResourceSet({{"CPU", 3.5}});  // local at 0.125
  auto spread = Hybrid({{"spread_threshold", {0.0, 1}}});
  EXPECT_EQ(Pick(*spread, Demand({{"CPU", 1}}), view), view.nodes[1].node_id)
      << "0 takes the least utilised node";
}

TEST(HybridSchedulerTest, UtilizationCountsMemoryAndTheDemandedResources) {
  auto hybrid = Hybrid();
  // The local node's CPUs are idle but 80% of its memory is taken.
  ClusterView view = View({Node({{"CPU", 4}, {"memory", 100}}, {{"CPU", 4}, {"memory", 20}}),
                           Node({{"CPU", 4}, {"memory", 100}}, {{"CPU", 4}, {"memory", 100}})});
  EXPECT_EQ(Pick(*hybrid, Demand({{"CPU", 1}}), view), view.nodes[1].node_id);
  // Three of the local node's four GPUs are busy: a GPU request goes elsewhere...
  view = View({Node({{"CPU", 4}, {"GPU", 4}}, {{"CPU", 4}, {"GPU", 1}}),
               Node({{"CPU", 4}, {"GPU", 4}}, {{"CPU", 4}, {"GPU", 4}})});
  EXPECT_EQ(Pick(*hybrid, Demand({{"GPU", 1}}), view), view.nodes[1].node_id);
  // ...but a CPU request does not care about GPUs.
  EXPECT_EQ(Pick(*hybrid, Demand({{"CPU", 1}}), view), view.local_node);
}

TEST(HybridSchedulerTest, AnIdleClusterFillsNodesInIdOrderWhenTheGcsAsks) {
  auto hybrid = Hybrid();
  ClusterView view = View(testing::IdleNodes(3, 4));
  view.local_node = NodeId::Nil();
  testing::SortById(&view);
  SchedulingRequest request = Demand({{"CPU", 1}});
  std::vector<int> order;
  for (int i = 0; i < 7; ++i) {
    NodeId node = Pick(*hybrid, request, view);
    order.push_back(IndexOf(view, node));
    Book(&view, node, request.demand);
  }
  // Each node to the threshold (2 of 4 CPUs), then the least utilised again.
  EXPECT_EQ(order, (std::vector<int>{0, 0, 1, 1, 2, 2, 0}));
}

// Ten nodes of ten CPUs, node i with i CPUs in use; `alive` of them alive.
ClusterView Graded(int alive = 10) {
  std::vector<NodeView> nodes;
  for (int i = 0; i < 10; ++i)
    nodes.push_back(Node({{"CPU", 10}}, {{"CPU", 10.0 - i}}, {}, i < alive));
  ClusterView view = View(std::move(nodes));
  view.local_node = NodeId::Nil();
  return view;
}

std::set<int> PicksOver(Scheduler& scheduler, const ClusterView& view, int trials) {
  std::set<int> picked;
  for (int i = 0; i < trials; ++i)
    picked.insert(IndexOf(view, Pick(scheduler, Demand({{"CPU", 1}}), view)));
  return picked;
}

TEST(HybridSchedulerTest, PicksAtRandomAmongTheTopKAbsolute) {
  auto hybrid = Hybrid({{"spread_threshold", {0.0, 1}},
                        {"top_k_absolute", {int64_t{3}, 1}},
                        {"top_k_fraction", {0.0, 1}}});
  EXPECT_EQ(PicksOver(*hybrid, Graded(), kTrials), (std::set<int>{0, 1, 2}));
}

TEST(HybridSchedulerTest, TopKFractionCountsAliveNodes) {
  auto hybrid = Hybrid({{"spread_threshold", {0.0, 1}}, {"top_k_fraction", {0.5, 1}}});
  EXPECT_EQ(PicksOver(*hybrid, Graded(), kTrials), (std::set<int>{0, 1, 2, 3, 4}));
  // Five alive: k = max(1, floor(0.5 * 5)) = 2.
  EXPECT_EQ(PicksOver(*hybrid, Graded(5), kTrials), (std::set<int>{0, 1}));
}

TEST(HybridSchedulerTest, TheSameSeedMakesTheSamePicks) {
  RawSettingTable table = {{"spread_threshold", {0.0, 1}},
                           {"top_k_absolute", {int64_t{5}, 1}},
                           {"seed", {int64_t{7}, 1}}};
  auto a = Hybrid(table);
  auto b = Hybrid(table);
  ClusterView view = Graded();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(Pick(*a, Demand({{"CPU", 1}}), view), Pick(*b, Demand({{"CPU", 1}}), view));
  }
}

TEST(HybridSchedulerTest, PrefersTheNodeHoldingMostArgumentBytes) {
  auto hybrid = Hybrid();
  ClusterView view = View(testing::IdleNodes(3, 4));
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.argument_bytes = {{view.nodes[1].node_id, 1 << 10}, {view.nodes[2].node_id, 1 << 20}};
  for (int i = 0; i < kTrials; ++i) ASSERT_EQ(Pick(*hybrid, request, view), view.nodes[2].node_id);
  // The same rule when the GCS asks.
  ClusterView gcs = view;
  gcs.local_node = NodeId::Nil();
  EXPECT_EQ(Pick(*hybrid, request, gcs), view.nodes[2].node_id);
  // The local node holding as much needs no transfer either: it wins.
  request.argument_bytes[view.local_node] = 1 << 20;
  EXPECT_EQ(Pick(*hybrid, request, view), view.local_node);
}

TEST(HybridSchedulerTest, LocalityGivesWayToLoadAndToSpread) {
  auto hybrid = Hybrid();
  ClusterView view = View(testing::IdleNodes(3, 4));
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.argument_bytes = {{view.nodes[2].node_id, 1 << 20}};
  // The data's node past the threshold while others idle: load wins.
  view.nodes[2].available = ResourceSet({{"CPU", 1}});
  for (int i = 0; i < kTrials; ++i) ASSERT_NE(Pick(*hybrid, request, view), view.nodes[2].node_id);
  // The data's node full: the local node, which is idle.
  view.nodes[2].available = ResourceSet();
  EXPECT_EQ(Pick(*hybrid, request, view), view.local_node);
  // SPREAD ignores locality: every node in turn.
  view.nodes[2].available = ResourceSet({{"CPU", 4}});
  request.strategy = SchedulingStrategy::kSpread;
  std::set<NodeId> used;
  for (int i = 0; i < 3; ++i) used.insert(Pick(*hybrid, request, view));
  EXPECT_EQ(used.size(), 3u);
}

TEST(HybridSchedulerTest, SoftAffinityBeatsLocalityAndTheLocalNode) {
  auto hybrid = Hybrid();
  ClusterView view = View(testing::IdleNodes(3, 4));
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_soft = true;
  request.affinity_node = view.nodes[1].node_id;
  request.argument_bytes = {{view.nodes[2].node_id, 1 << 20}};
  EXPECT_EQ(Pick(*hybrid, request, view), view.nodes[1].node_id);
}

Status CreateError(const RawSettingTable& table) {
  PluginLoader loader;
  auto created = loader.Create(PluginKind::kScheduler, "hybrid", table, "p.toml", {});
  EXPECT_FALSE(created.ok()) << "hybrid accepted a bad setting";
  EXPECT_EQ(testing::CountLines(created.status().message()), 1) << created.status().message();
  return created.status();
}

TEST(HybridSchedulerTest, BadSettingsAreOneLineErrorsNamingTheKey) {
  // The loader checks the ranges of the plugin's SettingSpec before it runs.
  EXPECT_THAT(CreateError({{"spread_threshold", {1.5, 3}}}).message(),
              HasSubstr("p.toml:3: [scheduler.hybrid] spread_threshold = 1.5 is out of range; the "
                        "allowed values are from 0 to 1"));
  EXPECT_THAT(CreateError({{"spread_threshold", {-0.1, 3}}}).message(),
              HasSubstr("[scheduler.hybrid] spread_threshold = -0.1 is out of range"));
  EXPECT_THAT(CreateError({{"top_k_absolute", {int64_t{0}, 3}}}).message(),
              HasSubstr("[scheduler.hybrid] top_k_absolute = 0 is out of range; the allowed "
                        "values are from 1 to 100000"));
  EXPECT_THAT(CreateError({{"top_k_fraction", {2.0, 3}}}).message(),
              HasSubstr("[scheduler.hybrid] top_k_fraction = 2 is out of range"));
  // The loader's own checks still apply: types and unknown keys.
  EXPECT_THAT(CreateError({{"spread_threshold", {std::string("half"), 3}}}).message(),
              HasSubstr("spread_threshold"));
  EXPECT_THAT(CreateError({{"spread_treshold", {0.3, 3}}}).message(),
              HasSubstr("did you mean 'spread_threshold'?"));
}

TEST(HybridSchedulerTest, BoundaryValuesAreAccepted) {
  EXPECT_NE(Hybrid({{"spread_threshold", {0.0, 1}}, {"top_k_fraction", {0.0, 1}}}), nullptr);
  EXPECT_NE(Hybrid({{"spread_threshold", {1.0, 1}},
                    {"top_k_fraction", {1.0, 1}},
                    {"top_k_absolute", {int64_t{1}, 1}},
                    {"seed", {int64_t{0}, 1}}}),
            nullptr);
}

}  // namespace
}  // namespace rayk
