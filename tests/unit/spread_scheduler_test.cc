// The `spread` scheduler's own policy: round robin by default, least loaded
// on request, and its `order` setting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "conformance/conformance.h"
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

std::shared_ptr<Scheduler> Spread(const std::string& order = "") {
  RawSettingTable table;
  if (!order.empty()) table["order"] = RawSetting{order, 1};
  return testing::CreatePlugin<Scheduler>("spread", table);
}

int PickIndex(Scheduler& scheduler, const SchedulingRequest& request, const ClusterView& view) {
  SchedulingDecision d = scheduler.Schedule(request, view);
  EXPECT_EQ(d.kind, SchedulingDecision::Kind::kNode) << d.reason;
  return IndexOf(view, d.node);
}

TEST(SpreadSchedulerTest, RoundRobinTakesEveryNodeInTurnEvenFromAStaleView) {
  auto spread = Spread();
  ClusterView view = View(testing::IdleNodes(4, 4));
  testing::SortById(&view);
  std::vector<int> order;
  for (int i = 0; i < 8; ++i) order.push_back(PickIndex(*spread, Demand({{"CPU", 1}}), view));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3}));
}

TEST(SpreadSchedulerTest, RoundRobinSkipsNodesWhereTheRequestDoesNotFitNow) {
  auto spread = Spread("round_robin");
  ClusterView view = View(testing::IdleNodes(3, 4));
  testing::SortById(&view);
  view.nodes[1].available = ResourceSet({{"CPU", 0.5}});
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) order.push_back(PickIndex(*spread, Demand({{"CPU", 1}}), view));
  EXPECT_EQ(order, (std::vector<int>{0, 2, 0, 2}));
}

TEST(SpreadSchedulerTest, LeastLoadedTakesTheLeastUtilisedAndRotatesAmongEquals) {
  auto spread = Spread("least_loaded");
  ClusterView view = View({Node({{"CPU", 4}}, {{"CPU", 1}}), Node({{"CPU", 8}}, {{"CPU", 6}}),
                           Node({{"CPU", 2}}, {{"CPU", 2}})});
  // Utilization 0.75, 0.25, 0: the idle node, as long as it stays idle.
  EXPECT_EQ(PickIndex(*spread, Demand({{"CPU", 1}}), view), 2);
  EXPECT_EQ(PickIndex(*spread, Demand({{"CPU", 1}}), view), 2);
  // Booked, the picks even the nodes out.
  ClusterView booked = View(testing::IdleNodes(3, 2));
  testing::SortById(&booked);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 6; ++i) {
    int index = PickIndex(*spread, Demand({{"CPU", 1}}), booked);
    ++counts[index];
    Book(&booked, booked.nodes[index].node_id, {{"CPU", 1}});
  }
  EXPECT_EQ(counts, (std::vector<int>{2, 2, 2}));
  // Equals from a stale view: every one in turn.
  ClusterView stale = View(testing::IdleNodes(3, 4));
  testing::SortById(&stale);
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) order.push_back(PickIndex(*spread, Demand({{"CPU", 1}}), stale));
  std::sort(order.begin(), order.end());  // the rotation starts wherever the cursor stands
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(SpreadSchedulerTest, UnknownOrderIsAOneLineErrorNamingTheChoices) {
  PluginLoader loader;
  auto created = loader.Create(PluginKind::kScheduler, "spread",
                               {{"order", RawSetting{std::string("fastest"), 4}}}, "p.toml", {});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(testing::CountLines(created.status().message()), 1) << created.status().message();
  EXPECT_THAT(created.status().message(),
              HasSubstr("p.toml:4: [scheduler.spread] order = \"fastest\" is not one of the "
                        "allowed values \"round_robin\", \"least_loaded\""));
}

}  // namespace
}  // namespace rayk
