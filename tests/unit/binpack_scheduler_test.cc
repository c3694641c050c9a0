// The `binpack` scheduler's own policy: fill the fullest node that fits.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "conformance/conformance.h"
#include "scheduler_views.h"

namespace rayk {
namespace {

using testing::Book;
using testing::Demand;
using testing::IndexOf;
using testing::Node;
using testing::View;

std::shared_ptr<Scheduler> Binpack() { return testing::CreatePlugin<Scheduler>("binpack"); }

int PickIndex(Scheduler& scheduler, const SchedulingRequest& request, const ClusterView& view) {
  SchedulingDecision d = scheduler.Schedule(request, view);
  EXPECT_EQ(d.kind, SchedulingDecision::Kind::kNode) << d.reason;
  return IndexOf(view, d.node);
}

TEST(BinpackSchedulerTest, FillsOneNodeBeforeTheNextUsingFewestNodes) {
  auto binpack = Binpack();
  ClusterView view = View(testing::IdleNodes(4, 4));
  testing::SortById(&view);
  SchedulingRequest request = Demand({{"CPU", 1}});
  std::vector<int> order;
  for (int i = 0; i < 6; ++i) {
    int index = PickIndex(*binpack, request, view);
    order.push_back(index);
    Book(&view, view.nodes[index].node_id, request.demand);
  }
  // Idle nodes are equal: the lowest id first, filled before the next one.
  EXPECT_EQ(order, (std::vector<int>{0, 0, 0, 0, 1, 1}));
}

TEST(BinpackSchedulerTest, PicksTheNodeLeftFullest) {
  auto binpack = Binpack();
  // After one more CPU: 0.5, 1.0 (a perfect fit), 0.75; the last cannot fit.
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 3}}), Node({{"CPU", 2}}, {{"CPU", 1}}),
                           Node({{"CPU", 8}}, {{"CPU", 3}}), Node({{"CPU", 4}}, {{"CPU", 0.5}})});
  EXPECT_EQ(PickIndex(*binpack, Demand({{"CPU", 1}}), view), 1);
  // Two CPUs do not fit node 1: node 2 ends at 7/8 used, node 0 at 3/4.
  EXPECT_EQ(PickIndex(*binpack, Demand({{"CPU", 2}}), view), 2);
}

TEST(BinpackSchedulerTest, ABusyNodeThatFitsBeatsAnIdleOne) {
  auto binpack = Binpack();
  ClusterView view = View({Node({{"CPU", 16}}, {{"CPU", 16}}),
                           Node({{"CPU", 16}, {"memory", 100}}, {{"CPU", 15}, {"memory", 10}})});
  // A CPU request on node 1 leaves memory as its critical resource (0.9).
  EXPECT_EQ(PickIndex(*binpack, Demand({{"CPU", 1}}), view), 1);
}

TEST(BinpackSchedulerTest, SpreadRequestsStillSpread) {
  auto binpack = Binpack();
  ClusterView view = View(testing::IdleNodes(3, 4));
  SchedulingRequest request = Demand({{"CPU", 1}});
  request.strategy = SchedulingStrategy::kSpread;
  std::set<int> used;
  for (int i = 0; i < 3; ++i) used.insert(PickIndex(*binpack, request, view));
  EXPECT_EQ(used.size(), 3u);
}

}  // namespace
}  // namespace rayk
