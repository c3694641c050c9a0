// The shared scheduling rules (scheduling_util.h) and the default bundle
// placement (Scheduler::PlaceBundles), without any plugin.
#include "rayk/scheduling_util.h"

#include <gtest/gtest.h>

#include <set>

namespace rayk {
namespace {

NodeView Node(ResourceSet total, ResourceSet available,
              std::map<std::string, std::string> labels = {}, bool alive = true) {
  NodeView node;
  node.node_id = NodeId::FromRandom();
  node.total = std::move(total);
  node.available = std::move(available);
  node.labels = std::move(labels);
  node.alive = alive;
  return node;
}

std::set<NodeId> Ids(const std::vector<const NodeView*>& nodes) {
  std::set<NodeId> ids;
  for (const NodeView* node : nodes) ids.insert(node->node_id);
  return ids;
}

SchedulingRequest Demand(ResourceSet demand) {
  SchedulingRequest request;
  request.demand = std::move(demand);
  return request;
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
