// `rayk sim` against a real cluster: one small workload, run on a `rayk dev
// up` cluster and in the simulator with the same nodes (their real ids, so
// that ties break alike), the same policy and the same seed, must put the
// same number of tasks on each node.
//
// The workload is four one-CPU tasks submitted at once to three idle 4-CPU
// nodes, each running long enough that all four hold their leases together.
// The policies place it differently (binpack all on one node, hybrid two
// local then two on one other node, spread round robin), so agreement for
// each says the simulator's lease path and views are the cluster's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dev_cluster.h"
#include "functions/test_functions.h"
#include "rayk/api.h"
#include "test_util.h"

namespace rayk {
namespace {

using test_functions::NodeAfterMs;

constexpr int kTasks = 4;

// Tasks per node id on the cluster: the driver's node owns them, as in the trace.
std::map<std::string, int> OnTheCluster(const testing::DevCluster& cluster, std::string* owner) {
  testing::JoinedDriver driver(cluster);
  *owner = rayk::CurrentNodeId().Hex();
  std::vector<rayk::ObjectRef<std::string>> refs;
  for (int i = 0; i < kTasks; ++i) refs.push_back(rayk::Task(NodeAfterMs).Remote(int64_t{3000}));
  std::map<std::string, int> counts;
  for (auto& ref : refs) ++counts[*rayk::Get(ref)];
  return counts;
}

// Tasks per node id in the simulator, for the same nodes and owner.
std::map<std::string, int> InTheSimulator(const testing::DevCluster& cluster,
                                          const std::string& owner, const std::string& policy,
                                          const testing::TempDir& dir) {
  std::string trace;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    // Named by their ids, with the owner first (the trace's default owner).
    const std::string id = cluster.node_id(i);
    std::string line = "{\"type\": \"node\", \"name\": \"" + id + "\", \"id\": \"" + id +
                       "\", \"resources\": {\"CPU\": 4}}\n";
    trace = id == owner ? line + trace : trace + line;
  }
  for (int i = 0; i < kTasks; ++i) {
    trace += "{\"type\": \"task\", \"time\": 0, \"duration\": 3, \"resources\": {\"CPU\": 1}}\n";
  }
  std::string placements = dir.path() + "/placements-" + policy + ".jsonl";
  auto result =
      testing::RunRayk("sim " + dir.Write("trace-" + policy + ".jsonl", trace) + " --scheduler " +
                       policy + " --seed 7 --format json" + " --write-placements " + placements);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::map<std::string, int> counts;
  std::ifstream in(placements);
  for (std::string line; std::getline(in, line);) {
    auto placed = nlohmann::json::parse(line);
    EXPECT_FALSE(placed["node"].is_null()) << line;
    if (!placed["node"].is_null()) ++counts[placed["node"].get<std::string>()];
  }
  return counts;
}

class SimFidelityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SimFidelityTest, PlacementsAgreeWithADevCluster) {
  testing::TempDir dir;
  testing::DevCluster::Options options;
  options.nodes = 3;
  options.cpus_per_node = 4;
  // The same seed as the simulation's, for the policies that draw at random.
  options.extra_args =
      "--set scheduler.plugin=" + GetParam() + " --set scheduler." + GetParam() + ".seed=7";
  if (GetParam() == "spread") options.extra_args = "--set scheduler.plugin=spread";
  if (GetParam() == "binpack") options.extra_args = "--set scheduler.plugin=binpack";
  testing::DevCluster cluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  std::string owner;
  std::map<std::string, int> real = OnTheCluster(cluster, &owner);
  std::map<std::string, int> simulated = InTheSimulator(cluster, owner, GetParam(), dir);
  EXPECT_EQ(real, simulated) << "owner " << owner;
  int total = 0;
  for (const auto& [node, count] : real) total += count;
  EXPECT_EQ(total, kTasks);
}

INSTANTIATE_TEST_SUITE_P(Policies, SimFidelityTest,
                         ::testing::Values("binpack", "hybrid", "spread"));

}  // namespace
}  // namespace rayk
