// The scheduler contract (scheduler.h), run against every scheduler plugin on
// the search path. Policies differ in how they rank nodes, so the cases check
// only what every policy must honour: fit, liveness, wait vs infeasible,
// affinity, labels and the placement-group strategies. Randomised policies are
// asked many times so that a rare wrong pick shows up.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conformance/conformance.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/scheduling_util.h"
#include "scheduler_views.h"

namespace rayk {
namespace {

using Kind = SchedulingDecision::Kind;

constexpr int kTrials = 200;

using testing::Demand;
using testing::Node;
using testing::View;

std::string Describe(const SchedulingDecision& d) {
  switch (d.kind) {
    case Kind::kNode:
      return "node " + d.node.Hex();
    case Kind::kWait:
      return "wait: " + d.reason;
    case Kind::kInfeasible:
      return "infeasible: " + d.reason;
  }
  return "?";
}

class SchedulerConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    scheduler_ = testing::CreatePlugin<Scheduler>(GetParam());
    ASSERT_NE(scheduler_, nullptr);
  }

  // Checks that a group placement uses alive nodes only and never hands a
  // node more than it has available.
  void ExpectPlacementFits(const BundlePlacement& p, const std::vector<ResourceSet>& bundles,
                           const ClusterView& view) {
    ASSERT_EQ(p.kind, Kind::kNode) << p.reason;
    ASSERT_EQ(p.nodes.size(), bundles.size());
    std::map<NodeId, ResourceSet> used;
    for (size_t i = 0; i < bundles.size(); ++i) {
      const NodeView* node = view.Find(p.nodes[i]);
      ASSERT_NE(node, nullptr) << "bundle " << i << " on an unknown node";
      EXPECT_TRUE(node->alive) << "bundle " << i << " on a dead node";
      used[p.nodes[i]].Add(bundles[i]);
    }
    for (const auto& [id, demand] : used) {
      EXPECT_TRUE(view.Find(id)->available.Contains(demand)) << "a node got more than it has";
    }
  }

  std::shared_ptr<Scheduler> scheduler_;
};

TEST_P(SchedulerConformance, FeasiblePickAlwaysFitsNow) {
  ClusterView view = View({Node({{"CPU", 8}}, {{"CPU", 1}}), Node({{"CPU", 8}}, {{"CPU", 2}}),
                           Node({{"CPU", 8}}, {{"CPU", 8}}), Node({{"CPU", 1}}, {{"CPU", 1}}),
                           Node({{"CPU", 4}, {"GPU", 1}}, {{"CPU", 0.5}, {"GPU", 1}})});
  std::set<NodeId> fitting = {view.nodes[1].node_id, view.nodes[2].node_id};
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 2}}), view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_TRUE(fitting.count(d.node)) << "picked a node without 2 free CPUs";
  }
}

TEST_P(SchedulerConformance, FractionalAndMultiResourceDemands) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}),
                           Node({{"CPU", 4}, {"GPU", 2}}, {{"CPU", 0.5}, {"GPU", 2}}),
                           Node({{"CPU", 4}, {"GPU", 2}}, {{"CPU", 4}, {"GPU", 0.25}})});
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 0.5}, {"GPU", 0.5}}), view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[1].node_id);
  }
}

TEST_P(SchedulerConformance, NeverPicksDeadNodes) {
  ClusterView view =
      View({Node({{"CPU", 64}}, {{"CPU", 64}}, {}, false), Node({{"CPU", 2}}, {{"CPU", 2}}),
            Node({{"CPU", 64}}, {{"CPU", 64}}, {}, false)});
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 1}}), view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[1].node_id);
  }
  // Only dead nodes could run it: nothing alive ever can.
  SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 16}}), view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
}

TEST_P(SchedulerConformance, WaitsWhenDemandFitsTotalButNotNow) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 1}}), Node({{"CPU", 2}}, {{"CPU", 0}})});
  SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 3}}), view);
  EXPECT_EQ(d.kind, Kind::kWait) << Describe(d);
  EXPECT_FALSE(d.reason.empty());
}

TEST_P(SchedulerConformance, InfeasibleWhenNoNodeEverFitsAndReasonNamesDemand) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 8}}, {{"CPU", 8}})});
  SchedulingDecision d = scheduler_->Schedule(Demand({{"accel_x", 1}}), view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
  EXPECT_NE(d.reason.find("accel_x"), std::string::npos) << d.reason;
  d = scheduler_->Schedule(Demand({{"CPU", 9}}), view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
  EXPECT_NE(d.reason.find("CPU"), std::string::npos) << d.reason;
}

TEST_P(SchedulerConformance, EmptyClusterIsInfeasible) {
  SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 1}}), ClusterView());
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
  EXPECT_FALSE(d.reason.empty());
}

TEST_P(SchedulerConformance, EmptyDemandRunsOnAnyAliveNode) {
  ClusterView view = View({Node({{"CPU", 1}}, {{"CPU", 0}}), Node({}, {}, {}, false)});
  SchedulingDecision d = scheduler_->Schedule(Demand({}), view);
  ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
  EXPECT_EQ(d.node, view.nodes[0].node_id);
}

TEST_P(SchedulerConformance, SpreadStrategyStillFits) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 0}}), Node({{"CPU", 4}}, {{"CPU", 2}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}})});
  SchedulingRequest request = Demand({{"CPU", 2}});
  request.strategy = SchedulingStrategy::kSpread;
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_NE(d.node, view.nodes[0].node_id);
  }
}

TEST_P(SchedulerConformance, HardAffinityPinsToTheNode) {
  ClusterView view = View({Node({{"CPU", 64}}, {{"CPU", 64}}), Node({{"CPU", 2}}, {{"CPU", 1}}),
                           Node({{"CPU", 64}}, {{"CPU", 64}})});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_node = view.nodes[1].node_id;
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[1].node_id);
  }
  // Busy target: wait for it rather than go elsewhere.
  request.demand = ResourceSet({{"CPU", 2}});
  EXPECT_EQ(scheduler_->Schedule(request, view).kind, Kind::kWait);
  // Target too small ever: infeasible, even though other nodes could run it.
  request.demand = ResourceSet({{"CPU", 3}});
  EXPECT_EQ(scheduler_->Schedule(request, view).kind, Kind::kInfeasible);
}

TEST_P(SchedulerConformance, HardAffinityToDeadOrUnknownNodeIsInfeasibleNamingIt) {
  ClusterView view =
      View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}, {}, false)});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  for (NodeId target : {view.nodes[1].node_id, NodeId::FromRandom()}) {
    request.affinity_node = target;
    SchedulingDecision d = scheduler_->Schedule(request, view);
    EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
    EXPECT_NE(d.reason.find(target.Hex()), std::string::npos) << d.reason;
  }
}

TEST_P(SchedulerConformance, SoftAffinityPrefersTheNodeAndFallsBack) {
  ClusterView view =
      View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
            Node({{"CPU", 4}}, {{"CPU", 0}}), Node({{"CPU", 4}}, {{"CPU", 4}}, {}, false)});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_soft = true;
  request.affinity_node = view.nodes[1].node_id;
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[1].node_id) << "soft affinity ignored while its node was free";
  }
  // Busy, dead or unknown target: another node that fits now.
  for (NodeId target : {view.nodes[2].node_id, view.nodes[3].node_id, NodeId::FromRandom()}) {
    request.affinity_node = target;
    for (int i = 0; i < kTrials / 4; ++i) {
      SchedulingDecision d = scheduler_->Schedule(request, view);
      ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
      ASSERT_TRUE(d.node == view.nodes[0].node_id || d.node == view.nodes[1].node_id)
          << "soft affinity fell back to a node that cannot run it now";
    }
  }
}

TEST_P(SchedulerConformance, LabelSelectorNarrowsTheChoice) {
  ClusterView view =
      View({Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "a"}}),
            Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}, {"disk", "ssd"}}),
            Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}}), Node({{"CPU", 4}}, {{"CPU", 4}})});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.label_selector = {{"zone", "b"}, {"disk", "ssd"}};
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[1].node_id);
  }
  request.label_selector = {{"zone", "c"}};
  SchedulingDecision d = scheduler_->Schedule(request, view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
}

TEST_P(SchedulerConformance, SpreadTouchesEveryNodeAsResourcesFill) {
  // The caller books each pick before the next call, as the raylet and the
  // GCS do: N SPREAD requests over N equal nodes use every node once.
  constexpr int kNodes = 5;
  ClusterView view = View(testing::IdleNodes(kNodes, 4));
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kSpread;
  std::set<NodeId> used;
  for (int i = 0; i < kNodes; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    used.insert(d.node);
    testing::Book(&view, d.node, request.demand);
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(kNodes)) << "SPREAD left a node unused";
}

TEST_P(SchedulerConformance, SpreadFromAStaleViewStillTouchesEveryNode) {
  // The GCS may place a burst of SPREAD actors before any node reports its
  // new load: the view does not change between calls.
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}})});
  view.local_node = NodeId::Nil();
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kSpread;
  std::set<NodeId> used;
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    used.insert(d.node);
  }
  EXPECT_EQ(used.size(), view.nodes.size()) << "SPREAD repeated a node from an unchanged view";
}

TEST_P(SchedulerConformance, CustomResourceRoutesToTheOnlyNodeWithIt) {
  ClusterView view = View({Node({{"CPU", 16}}, {{"CPU", 16}}),
                           Node({{"CPU", 2}, {"accel_x", 2}}, {{"CPU", 2}, {"accel_x", 2}}),
                           Node({{"CPU", 16}}, {{"CPU", 16}})});
  for (SchedulingStrategy strategy : {SchedulingStrategy::kDefault, SchedulingStrategy::kSpread}) {
    SchedulingRequest request = Demand({{"CPU", 1}, {"accel_x", 1}});
    request.strategy = strategy;
    for (int i = 0; i < kTrials / 4; ++i) {
      SchedulingDecision d = scheduler_->Schedule(request, view);
      ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
      ASSERT_EQ(d.node, view.nodes[1].node_id) << "a node without accel_x was picked";
    }
  }
  // Its accel_x all in use: wait for it, though other nodes are idle.
  view.nodes[1].available = ResourceSet({{"CPU", 2}});
  SchedulingDecision d = scheduler_->Schedule(Demand({{"accel_x", 1}}), view);
  EXPECT_EQ(d.kind, Kind::kWait) << Describe(d);
  // More than it has in total: infeasible, naming the resource.
  d = scheduler_->Schedule(Demand({{"accel_x", 3}}), view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
  EXPECT_NE(d.reason.find("accel_x"), std::string::npos) << d.reason;
}

TEST_P(SchedulerConformance, WaitsWhenEveryFittingNodeIsBusy) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 0}}, {{"zone", "a"}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "a"}}, false)});
  for (SchedulingStrategy strategy : {SchedulingStrategy::kDefault, SchedulingStrategy::kSpread}) {
    // Only busy zone-a nodes match (the idle one is dead): wait, never zone b.
    SchedulingRequest request = Demand({{"CPU", 1}});
    request.strategy = strategy;
    request.label_selector = {{"zone", "a"}};
    SchedulingDecision d = scheduler_->Schedule(request, view);
    EXPECT_EQ(d.kind, Kind::kWait) << Describe(d);
    EXPECT_FALSE(d.reason.empty());
  }
  // The whole cluster busy.
  view.nodes[1].available = ResourceSet({{"CPU", 0.5}});
  SchedulingDecision d = scheduler_->Schedule(Demand({{"CPU", 1}}), view);
  EXPECT_EQ(d.kind, Kind::kWait) << Describe(d);
  EXPECT_NE(d.reason.find("CPU"), std::string::npos) << d.reason;
}

TEST_P(SchedulerConformance, InfeasibleReasonNamesTheLabelSelector) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "a"}}),
                           Node({{"CPU", 1}}, {{"CPU", 1}}, {{"zone", "b"}})});
  SchedulingRequest request = Demand({{"CPU", 2}});
  request.label_selector = {{"zone", "b"}};
  SchedulingDecision d = scheduler_->Schedule(request, view);
  EXPECT_EQ(d.kind, Kind::kInfeasible) << Describe(d);
  EXPECT_NE(d.reason.find("zone=b"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("CPU"), std::string::npos) << d.reason;
}

TEST_P(SchedulerConformance, HardAffinityIgnoresFreeNodesElsewhere) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 0}}), Node({{"CPU", 64}}, {{"CPU", 64}})});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_node = view.nodes[0].node_id;
  SchedulingDecision d = scheduler_->Schedule(request, view);
  EXPECT_EQ(d.kind, Kind::kWait) << Describe(d);
  EXPECT_NE(d.reason.find(ShortNodeName(view.nodes[0].node_id)), std::string::npos) << d.reason;
  view.nodes[0].available = ResourceSet({{"CPU", 4}});
  for (int i = 0; i < kTrials; ++i) {
    d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_EQ(d.node, view.nodes[0].node_id);
  }
}

TEST_P(SchedulerConformance, SoftAffinityWithLabelsFallsBackWithinTheSelector) {
  // The preferred node does not match the selector: the fallback must.
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "a"}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}}, {{"zone", "b"}})});
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kNodeAffinity;
  request.affinity_soft = true;
  request.affinity_node = view.nodes[0].node_id;
  request.label_selector = {{"zone", "b"}};
  for (int i = 0; i < kTrials / 4; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_NE(d.node, view.nodes[0].node_id) << "soft affinity overrode the label selector";
  }
}

TEST_P(SchedulerConformance, GcsViewWithoutLocalNodeAndArgumentsElsewhere) {
  // The GCS asks with a Nil local node; argument locations may name nodes
  // that cannot run the request or are not in the view at all.
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 0}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                           Node({{"CPU", 4}}, {{"CPU", 3}})});
  view.local_node = NodeId::Nil();
  SchedulingRequest request = Demand({{"CPU", 2}});
  request.argument_bytes = {{view.nodes[0].node_id, 1 << 20}, {NodeId::FromRandom(), 1 << 30}};
  for (int i = 0; i < kTrials; ++i) {
    SchedulingDecision d = scheduler_->Schedule(request, view);
    ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
    ASSERT_NE(d.node, view.nodes[0].node_id) << "picked the busy node for its data";
  }
  // A local node id that is not in the view is no node to prefer.
  view.local_node = NodeId::FromRandom();
  SchedulingDecision d = scheduler_->Schedule(request, view);
  ASSERT_EQ(d.kind, Kind::kNode) << Describe(d);
  EXPECT_NE(view.Find(d.node), nullptr);
}

// Placement groups.

TEST_P(SchedulerConformance, PackPutsAGroupOnOneNodeWhenItFits) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}})});
  std::vector<ResourceSet> bundles = {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 2}}};
  BundlePlacement p = scheduler_->PlaceBundles(bundles, BundleStrategy::kPack, view);
  ExpectPlacementFits(p, bundles, view);
  EXPECT_EQ(std::set<NodeId>(p.nodes.begin(), p.nodes.end()).size(), 1u);
}

TEST_P(SchedulerConformance, PackSpillsOverBestEffort) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 3}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}}, {}, false)});
  std::vector<ResourceSet> bundles = {{{"CPU", 3}}, {{"CPU", 3}}};
  BundlePlacement p = scheduler_->PlaceBundles(bundles, BundleStrategy::kPack, view);
  ExpectPlacementFits(p, bundles, view);
}

TEST_P(SchedulerConformance, SpreadUsesDistinctNodesWhenItCan) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
                           Node({{"CPU", 4}}, {{"CPU", 4}})});
  std::vector<ResourceSet> bundles = {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}};
  BundlePlacement p = scheduler_->PlaceBundles(bundles, BundleStrategy::kSpread, view);
  ExpectPlacementFits(p, bundles, view);
  EXPECT_EQ(std::set<NodeId>(p.nodes.begin(), p.nodes.end()).size(), 3u);
  // More bundles than nodes: best effort still places them all.
  bundles.assign(5, ResourceSet({{"CPU", 1}}));
  p = scheduler_->PlaceBundles(bundles, BundleStrategy::kSpread, view);
  ExpectPlacementFits(p, bundles, view);
  EXPECT_EQ(std::set<NodeId>(p.nodes.begin(), p.nodes.end()).size(), 3u);
}

TEST_P(SchedulerConformance, StrictPackNeedsOneNode) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 2}}), Node({{"CPU", 4}}, {{"CPU", 4}})});
  std::vector<ResourceSet> bundles = {{{"CPU", 2}}, {{"CPU", 2}}};
  BundlePlacement p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictPack, view);
  ExpectPlacementFits(p, bundles, view);
  EXPECT_EQ(p.nodes[0], view.nodes[1].node_id);
  EXPECT_EQ(p.nodes[1], view.nodes[1].node_id);

  // Fits a node's total, not what is free: wait.
  view.nodes[1].available = ResourceSet({{"CPU", 1}});
  p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictPack, view);
  EXPECT_EQ(p.kind, Kind::kWait) << p.reason;

  // Fits the cluster but no single node: infeasible.
  bundles = {{{"CPU", 3}}, {{"CPU", 3}}};
  p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictPack, view);
  EXPECT_EQ(p.kind, Kind::kInfeasible) << p.reason;
  EXPECT_FALSE(p.reason.empty());
}

TEST_P(SchedulerConformance, StrictSpreadNeedsDistinctNodes) {
  ClusterView view =
      View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}),
            Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}}, {}, false)});
  std::vector<ResourceSet> bundles = {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}};
  BundlePlacement p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictSpread, view);
  ExpectPlacementFits(p, bundles, view);
  EXPECT_EQ(std::set<NodeId>(p.nodes.begin(), p.nodes.end()).size(), 3u);

  // One node busy: wait for it.
  view.nodes[2].available = ResourceSet();
  p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictSpread, view);
  EXPECT_EQ(p.kind, Kind::kWait) << p.reason;

  // Four bundles, three alive nodes: impossible (the dead one does not count).
  bundles.assign(4, ResourceSet({{"CPU", 1}}));
  p = scheduler_->PlaceBundles(bundles, BundleStrategy::kStrictSpread, view);
  EXPECT_EQ(p.kind, Kind::kInfeasible) << p.reason;
  EXPECT_FALSE(p.reason.empty());
}

TEST_P(SchedulerConformance, GroupWithAnImpossibleBundleIsInfeasible) {
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 4}}), Node({{"CPU", 4}}, {{"CPU", 4}})});
  std::vector<ResourceSet> bundles = {{{"CPU", 1}}, {{"accel_x", 1}}};
  for (BundleStrategy s : {BundleStrategy::kPack, BundleStrategy::kSpread,
                           BundleStrategy::kStrictPack, BundleStrategy::kStrictSpread}) {
    BundlePlacement p = scheduler_->PlaceBundles(bundles, s, view);
    EXPECT_EQ(p.kind, Kind::kInfeasible) << "strategy " << static_cast<int>(s) << ": " << p.reason;
    EXPECT_FALSE(p.reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(AllSchedulers, SchedulerConformance,
                         ::testing::ValuesIn(testing::PluginsOfKind(PluginKind::kScheduler)),
                         testing::ParamName);

}  // namespace
}  // namespace rayk
