// The shared scheduling rules (scheduling_util.h) and the default bundle
// placement (Scheduler::PlaceBundles), without any plugin.
#include "rayk/plugin/scheduling_util.h"

#include <gtest/gtest.h>

#include <set>

#include "scheduler_views.h"

namespace rayk {
namespace {

using testing::Demand;
using testing::Node;

std::set<NodeId> Ids(const std::vector<const NodeView*>& nodes) {
  std::set<NodeId> ids;
  for (const NodeView* node : nodes) ids.insert(node->node_id);
  return ids;
}

// A scheduler with only the default PlaceBundles.
class NoPolicy : public Scheduler {
 public:
  SchedulingDecision Schedule(const SchedulingRequest&, const ClusterView&) override {
    return SchedulingDecision::Wait("unused");
  }
};

TEST(ClusterViewTest, FindsNodesById) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 1}}, {{"CPU", 1}}), Node({{"CPU", 2}}, {{"CPU", 2}})};
  ASSERT_NE(view.Find(view.nodes[1].node_id), nullptr);
  EXPECT_EQ(view.Find(view.nodes[1].node_id), &view.nodes[1]);
  EXPECT_EQ(view.Find(NodeId::FromRandom()), nullptr);
}

TEST(SchedulingUtilTest, SplitsNowFromEverAndSkipsDeadNodes) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}),              // fits now
                Node({{"CPU", 4}}, {{"CPU", 1}}),              // fits later
                Node({{"CPU", 1}}, {{"CPU", 1}}),              // never
                Node({{"CPU", 8}}, {{"CPU", 8}}, {}, false)};  // dead
  CandidateSet c = CandidateNodes(Demand({{"CPU", 2}}), view);
  EXPECT_EQ(Ids(c.feasible_now), std::set<NodeId>{view.nodes[0].node_id});
  EXPECT_EQ(Ids(c.feasible_ever), (std::set<NodeId>{view.nodes[0].node_id, view.nodes[1].node_id}));
  EXPECT_TRUE(c.infeasible_reason.empty());
}

TEST(SchedulingUtilTest, LabelSelectorNarrowsCandidates) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "a"}}),
                Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}, {"disk", "ssd"}}),
                Node({{"CPU", 4}}, {{"CPU", 4}})};
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.label_selector = {{"zone", "b"}};
  EXPECT_EQ(Ids(CandidateNodes(request, view).feasible_now),
            std::set<NodeId>{view.nodes[1].node_id});
  request.label_selector = {{"zone", "c"}};
  CandidateSet none = CandidateNodes(request, view);
  EXPECT_TRUE(none.feasible_ever.empty());
  SchedulingDecision d = WaitOrInfeasible(request, view, none);
  EXPECT_EQ(d.kind, SchedulingDecision::Kind::kInfeasible);
  EXPECT_NE(d.reason.find("zone=c"), std::string::npos) << d.reason;
}

TEST(SchedulingUtilTest, HardAffinityToDeadOrUnknownNodeIsInfeasibleNamingIt) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}, {}, false)};
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  for (NodeId target : {view.nodes[1].node_id, NodeId::FromRandom()}) {
    request.affinity_node = target;
    CandidateSet c = CandidateNodes(request, view);
    EXPECT_TRUE(c.feasible_ever.empty());
    SchedulingDecision d = WaitOrInfeasible(request, view, c);
    EXPECT_EQ(d.kind, SchedulingDecision::Kind::kInfeasible);
    EXPECT_NE(d.reason.find(target.Hex()), std::string::npos) << d.reason;
  }
}

TEST(SchedulingUtilTest, HardAffinityWaitsForABusyTarget) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 0}})};
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_node = view.nodes[1].node_id;
  CandidateSet c = CandidateNodes(request, view);
  EXPECT_TRUE(c.feasible_now.empty());
  EXPECT_EQ(Ids(c.feasible_ever), std::set<NodeId>{view.nodes[1].node_id});
  EXPECT_EQ(WaitOrInfeasible(request, view, c).kind, SchedulingDecision::Kind::kWait);
}

TEST(SchedulingUtilTest, SoftAffinityPrefersTargetAndFallsBack) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                Node({{"CPU", 4}}, {{"CPU", 0}})};
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_soft = true;
  request.affinity_node = view.nodes[1].node_id;
  CandidateSet c = CandidateNodes(request, view);
  EXPECT_TRUE(c.soft_affinity_applied);
  EXPECT_EQ(Ids(c.feasible_now), std::set<NodeId>{view.nodes[1].node_id});

  request.affinity_node = view.nodes[2].node_id;  // busy: every node competes
  c = CandidateNodes(request, view);
  EXPECT_FALSE(c.soft_affinity_applied);
  EXPECT_EQ(Ids(c.feasible_now), (std::set<NodeId>{view.nodes[0].node_id, view.nodes[1].node_id}));

  request.affinity_node = NodeId::FromRandom();  // unknown: same
  EXPECT_EQ(CandidateNodes(request, view).feasible_now.size(), 2u);
}

TEST(SchedulingUtilTest, InfeasibleReasonNamesDemandAndClosestNode) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 8}}, {{"CPU", 8}}), Node({{"CPU", 2}, {"GPU", 0.5}}, {{"CPU", 2}})};
  SchedulingRequest request = Demand({{"GPU", 1}});
  std::string reason = DescribeInfeasible(request, view);
  EXPECT_NE(reason.find("{\"GPU\": 1}"), std::string::npos) << reason;
  EXPECT_NE(reason.find(ShortNodeName(view.nodes[1].node_id)), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos);
}

TEST(SchedulingUtilTest, InfeasibleReasonNamesAResourceNoNodeHas) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 8}}, {{"CPU", 8}})};
  std::string reason = DescribeInfeasible(Demand({{"CPU", 1}, {"TPU", 2}}), view);
  EXPECT_NE(reason.find("{\"CPU\": 1, \"TPU\": 2}"), std::string::npos) << reason;
  EXPECT_NE(reason.find("none has any \"TPU\""), std::string::npos) << reason;
}

TEST(SchedulingUtilTest, EmptyClusterIsInfeasible) {
  ClusterView view;
  SchedulingRequest request = Demand({{"CPU", 1}});
  SchedulingDecision d = WaitOrInfeasible(request, view, CandidateNodes(request, view));
  EXPECT_EQ(d.kind, SchedulingDecision::Kind::kInfeasible);
  EXPECT_NE(d.reason.find("no alive node"), std::string::npos) << d.reason;
}

TEST(SchedulingUtilTest, FormatsResourcesAndLabels) {
  EXPECT_EQ(FormatResources({}), "{}");
  EXPECT_EQ(FormatResources({{"CPU", 2}, {"GPU", 0.5}}), "{\"CPU\": 2, \"GPU\": 0.5}");
  EXPECT_EQ(FormatLabels({{"zone", "a"}, {"disk", "ssd"}}), "{disk=ssd, zone=a}");
}

TEST(CriticalUtilizationTest, TheBusiestOfCpuMemoryAndObjectStore) {
  NodeView node = Node({{"CPU", 8}, {"memory", 100}, {"object_store_memory", 10}, {"GPU", 4}},
                       {{"CPU", 6}, {"memory", 40}, {"object_store_memory", 9}, {"GPU", 0}});
  // memory is 60% used; the GPUs are all busy, but a CPU request does not need them.
  EXPECT_DOUBLE_EQ(CriticalUtilization(node, {{"CPU", 1}}), 0.6);
  // A GPU request is ranked by the GPUs too.
  EXPECT_DOUBLE_EQ(CriticalUtilization(node, {{"GPU", 1}}), 1.0);
}

TEST(CriticalUtilizationTest, SkipsMissingResourcesAndClampsInconsistentViews) {
  NodeView accel = Node({{"accel_x", 2}}, {{"accel_x", 0.5}});
  EXPECT_DOUBLE_EQ(CriticalUtilization(accel, {{"CPU", 1}}), 0.0)
      << "a CPU request on a CPU-less node";
  EXPECT_DOUBLE_EQ(CriticalUtilization(accel, {{"accel_x", 1}}), 0.75);
  // More free than total (available reported before total): not negative.
  EXPECT_DOUBLE_EQ(CriticalUtilization(Node({{"CPU", 2}}, {{"CPU", 4}}), {}), 0.0);
  EXPECT_DOUBLE_EQ(CriticalUtilization(Node({}, {}), {{"CPU", 1}}), 0.0);
}

TEST(CriticalUtilizationTest, AfterCountsTheDemandAsPlaced) {
  NodeView node =
      Node({{"CPU", 8}, {"memory", 100}, {"GPU", 4}}, {{"CPU", 6}, {"memory", 80}, {"GPU", 1}});
  // CPU 2 of 8 used, plus 4 placed: 75%.
  EXPECT_DOUBLE_EQ(CriticalUtilizationAfter(node, {{"CPU", 4}}), 0.75);
  // More than is free counts as full, never above 1.
  EXPECT_DOUBLE_EQ(CriticalUtilizationAfter(node, {{"GPU", 2}}), 1.0);
  // The node itself is unchanged, and an empty demand is the plain measure.
  EXPECT_DOUBLE_EQ(CriticalUtilizationAfter(node, {}), CriticalUtilization(node, {}));
  EXPECT_DOUBLE_EQ(node.available.Get("CPU"), 6);
}

TEST(MostArgumentBytesTest, PicksTheLargestHolderAmongTheGivenNodes) {
  std::vector<NodeView> nodes = {Node({{"CPU", 1}}, {{"CPU", 1}}), Node({{"CPU", 1}}, {{"CPU", 1}}),
                                 Node({{"CPU", 1}}, {{"CPU", 1}})};
  std::vector<const NodeView*> pool = {&nodes[0], &nodes[1]};
  SchedulingRequest request = Demand({{"CPU", 1}});
  EXPECT_EQ(MostArgumentBytes(request, pool), nullptr) << "no arguments anywhere";
  // nodes[2] holds the most but is not in the pool (it cannot run the request).
  request.argument_bytes = {
      {nodes[0].node_id, 10}, {nodes[1].node_id, 300}, {nodes[2].node_id, 900}};
  EXPECT_EQ(MostArgumentBytes(request, pool), &nodes[1]);
  request.argument_bytes = {{nodes[0].node_id, 0}, {NodeId::FromRandom(), 5}};
  EXPECT_EQ(MostArgumentBytes(request, pool), nullptr) << "zero bytes is no locality";
  // Ties go to the lower id, whatever the pool's order.
  request.argument_bytes = {{nodes[0].node_id, 7}, {nodes[1].node_id, 7}};
  const NodeView* lower = nodes[0].node_id < nodes[1].node_id ? &nodes[0] : &nodes[1];
  EXPECT_EQ(MostArgumentBytes(request, pool), lower);
  std::vector<const NodeView*> reversed = {&nodes[1], &nodes[0]};
  EXPECT_EQ(MostArgumentBytes(request, reversed), lower);
}

TEST(SpreadCursorTest, RotatesInIdOrderWhateverTheViewOrder) {
  ClusterView view;
  view.nodes = testing::IdleNodes(3, 1);
  testing::SortById(&view);
  std::vector<const NodeView*> pool = {&view.nodes[2], &view.nodes[0], &view.nodes[1]};
  SpreadCursor cursor;
  std::vector<int> order;
  for (int i = 0; i < 6; ++i) order.push_back(testing::IndexOf(view, cursor.Next(pool)->node_id));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(cursor.Next({}), nullptr);
}

TEST(SpreadCursorTest, KeepsItsPlaceWhenNodesDropOutOrJoin) {
  ClusterView view;
  view.nodes = testing::IdleNodes(4, 1);
  testing::SortById(&view);
  SpreadCursor cursor;
  std::vector<const NodeView*> all;
  for (const NodeView& node : view.nodes) all.push_back(&node);
  EXPECT_EQ(cursor.Next(all), &view.nodes[0]);
  // Node 1 is busy for this request: the rotation moves on to node 2.
  EXPECT_EQ(cursor.Next({&view.nodes[0], &view.nodes[2], &view.nodes[3]}), &view.nodes[2]);
  // Node 1 is back; it comes up again only after the rotation wraps.
  EXPECT_EQ(cursor.Next(all), &view.nodes[3]);
  EXPECT_EQ(cursor.Next(all), &view.nodes[0]);
  EXPECT_EQ(cursor.Next(all), &view.nodes[1]);
}

TEST(PlaceBundlesTest, StrictSpreadFindsAMatchingGreedyWouldMiss) {
  // Taking the roomiest node for the first bundle would put {"CPU": 4} on the
  // GPU node and leave the GPU bundle nowhere to go.
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}, {"GPU", 1}}, {{"CPU", 4}, {"GPU", 1}}),
                Node({{"CPU", 4}}, {{"CPU", 4}})};
  NoPolicy scheduler;
  BundlePlacement p =
      scheduler.PlaceBundles({{{"CPU", 4}}, {{"GPU", 1}}}, BundleStrategy::kStrictSpread, view);
  ASSERT_EQ(p.kind, SchedulingDecision::Kind::kNode) << p.reason;
  EXPECT_EQ(p.nodes[0], view.nodes[1].node_id);
  EXPECT_EQ(p.nodes[1], view.nodes[0].node_id);
}

TEST(PlaceBundlesTest, PackUsesFewestNodesWhenOneCannotHoldAll) {
  ClusterView view;
  view.nodes = {Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                Node({{"CPU", 4}}, {{"CPU", 4}})};
  NoPolicy scheduler;
  BundlePlacement p = scheduler.PlaceBundles(
      {{{"CPU", 2}}, {{"CPU", 2}}, {{"CPU", 2}}, {{"CPU", 2}}}, BundleStrategy::kPack, view);
  ASSERT_EQ(p.kind, SchedulingDecision::Kind::kNode) << p.reason;
  EXPECT_EQ(std::set<NodeId>(p.nodes.begin(), p.nodes.end()).size(), 2u);
}

TEST(PlaceBundlesTest, EmptyGroupIsPlaced) {
  NoPolicy scheduler;
  BundlePlacement p = scheduler.PlaceBundles({}, BundleStrategy::kStrictSpread, ClusterView());
  EXPECT_EQ(p.kind, SchedulingDecision::Kind::kNode);
  EXPECT_TRUE(p.nodes.empty());
}

}  // namespace
}  // namespace rayk
