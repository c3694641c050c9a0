// `rayk dev up|add-node|down` and `rayk status` on several nodes, through the
// DevCluster fixture: real GCS and raylet processes on loopback, a driver
// joining them, a node SIGKILLed, bad input refused with one line.
#include "dev_cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using test_functions::Add;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

// Upper bound against hangs, not a performance check.
constexpr auto kPatience = std::chrono::seconds(30);

// The node of `status` (rayk status --format json) with this id, or null.
nlohmann::json FindNode(const nlohmann::json& status, const std::string& node_id) {
  for (const auto& node : status["nodes"]) {
    if (node["node_id"] == node_id) return node;
  }
  return nullptr;
}

TEST(DevClusterTest, UpStartsNodesThatStatusShows) {
  testing::DevCluster cluster(
      {.nodes = 3, .cpus_per_node = 2, .resources_per_node = R"([{"A": 1}, {"B": 2}, {}])"});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  EXPECT_THAT(cluster.up().output, HasSubstr("Started a rayk dev cluster of 3 nodes"));
  EXPECT_THAT(cluster.up().output, HasSubstr("GCS address: " + cluster.address()));
  EXPECT_THAT(cluster.up().output, HasSubstr("RAYK_ADDRESS=" + cluster.address()));
  std::set<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(cluster.up().output, HasSubstr(cluster.node_id(i).substr(0, 8)));
    EXPECT_EQ(cluster.node(i).labels["rayk.io/node-index"], std::to_string(i));
    EXPECT_TRUE(ProcessAlive(cluster.raylet_pid(i)));
    addresses.insert(cluster.node_address(i));
  }
  EXPECT_EQ(addresses.size(), 3u) << "every raylet has its own port";

  nlohmann::json status = cluster.Status();
  ASSERT_FALSE(status.is_null());
  EXPECT_EQ(status["alive_nodes"], 3);
  EXPECT_EQ(status["dead_nodes"], 0);
  EXPECT_EQ(status["resources"]["total"]["CPU"], 6);
  EXPECT_EQ(status["resources"]["total"]["A"], 1);
  EXPECT_EQ(status["resources"]["total"]["B"], 2);
  ASSERT_EQ(status["nodes"].size(), 3u);
  nlohmann::json node0 = FindNode(status, cluster.node_id(0));
  nlohmann::json node1 = FindNode(status, cluster.node_id(1));
  nlohmann::json node2 = FindNode(status, cluster.node_id(2));
  ASSERT_FALSE(node0.is_null() || node1.is_null() || node2.is_null()) << status.dump();
  EXPECT_EQ(node0["total"], nlohmann::json::parse(R"({"A": 1, "CPU": 2})"));
  EXPECT_EQ(node1["total"], nlohmann::json::parse(R"({"B": 2, "CPU": 2})"));
  EXPECT_EQ(node2["total"], nlohmann::json::parse(R"({"CPU": 2})"));
  EXPECT_EQ(node1["state"], "ALIVE");
  EXPECT_EQ(node1["pid"], cluster.raylet_pid(1));
  EXPECT_EQ(node1["labels"]["rayk.io/node-index"], "1");

  // Without --address: the session the dev cluster made is the latest one.
  auto text = cluster.Rayk("status");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("rayk cluster at " + cluster.address()));
  EXPECT_THAT(text.output, HasSubstr("Nodes: 3 alive, 0 dead"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(text.output,
                HasSubstr(cluster.node_id(i).substr(0, 8) + "  ALIVE  " + cluster.node_address(i)));
  }
  EXPECT_THAT(text.output, HasSubstr("0/6 CPU used"));
  EXPECT_THAT(text.output, HasSubstr("0/2 B used"));
  EXPECT_THAT(text.output, HasSubstr("{rayk.io/node-index=2}"));
}

TEST(DevClusterTest, UpPrintsJson) {
  testing::DevCluster cluster(
      {.nodes = 2, .extra_args = "--format json --labels '{\"zone\": \"z1\"}'"});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  auto up = nlohmann::json::parse(cluster.up().output);
  EXPECT_EQ(up["address"], cluster.address());
  ASSERT_EQ(up["nodes"].size(), 2u);
  EXPECT_EQ(up["nodes"][1]["node_id"], cluster.node_id(1));
  EXPECT_EQ(up["nodes"][1]["address"], cluster.node_address(1));
  EXPECT_EQ(up["nodes"][1]["labels"],
            nlohmann::json::parse(R"({"rayk.io/node-index": "1", "zone": "z1"})"));
  EXPECT_EQ(up["nodes"][0]["resources"]["CPU"], 1);
}

TEST(DevClusterTest, DriverRunsTasksOnIt) {
  testing::DevCluster cluster({.nodes = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  {
    testing::JoinedDriver driver(cluster);
    std::vector<rayk::ObjectRef<int>> sums;
    for (int i = 0; i < 12; ++i) sums.push_back(rayk::Task(Add).Remote(i, 100));
    for (int i = 0; i < 12; ++i) EXPECT_EQ(*rayk::Get(sums[i], std::chrono::seconds(60)), i + 100);
  }
  auto jobs = cluster.Rayk("list jobs --format json --address " + cluster.address());
  ASSERT_EQ(jobs.exit_code, 0) << jobs.output;
  EXPECT_EQ(nlohmann::json::parse(jobs.output).size(), 1u);
}

TEST(DevClusterTest, AddNodeJoinsTheRunningCluster) {
  testing::DevCluster cluster({.nodes = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  auto added = cluster.AddNode("--cpus 2 --resources '{\"GPU\": 1}' --labels '{\"zone\": \"b\"}'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  ASSERT_EQ(cluster.num_nodes(), 4);
  const auto& node = cluster.node(3);
  EXPECT_EQ(nlohmann::json::parse(added.output)["node_id"], node.node_id);
  EXPECT_EQ(node.labels, nlohmann::json::parse(R"({"rayk.io/node-index": "3", "zone": "b"})"));

  nlohmann::json status = cluster.Status();
  EXPECT_EQ(status["alive_nodes"], 4);
  EXPECT_EQ(status["resources"]["total"]["CPU"], 5);
  nlohmann::json fourth = FindNode(status, node.node_id);
  ASSERT_FALSE(fourth.is_null()) << status.dump();
  EXPECT_EQ(fourth["total"], nlohmann::json::parse(R"({"CPU": 2, "GPU": 1})"));
  EXPECT_EQ(fourth["labels"]["zone"], "b");
  auto text = cluster.Rayk("status");
  EXPECT_THAT(text.output, HasSubstr("Nodes: 4 alive, 0 dead"));
  EXPECT_THAT(text.output, HasSubstr("0/1 GPU used"));
}

// A node that cannot join (here: the GCS is gone) fails add-node with one
// line and is not left running; the rest of the cluster is not touched.
TEST(DevClusterTest, AddNodeThatCannotJoinFailsWithOneLine) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  // The supervisor first, so that it does not restart the server.
  std::ifstream pids(cluster.session_dir() + "/pids");
  for (std::string pid, role; pids >> pid >> role;) {
    if (role == "gcs-server") kill(std::stoi(pid), SIGKILL);
    pids.ignore(1000, '\n');
  }
  kill(std::stoi(*ReadFile(cluster.session_dir() + "/gcs_server.pid")), SIGKILL);
  auto added = cluster.AddNode();
  EXPECT_NE(added.exit_code, 0);
  EXPECT_THAT(added.output, HasSubstr("the raylet of node 1 did not start"));
  EXPECT_THAT(added.output, HasSubstr("cannot register with the GCS"));
  EXPECT_EQ(testing::CountLines(added.output), 1) << added.output;
  EXPECT_EQ(testing::CountProcessesMentioning(cluster.session_dir() + "/nodes/1"), 0);
  EXPECT_TRUE(ProcessAlive(cluster.raylet_pid(0)));
}

TEST(DevClusterTest, KilledNodeIsMarkedDead) {
  testing::DevCluster cluster({.nodes = 3, .node_timeout_ms = 1000});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  cluster.KillNode(1);
  auto deadline = Clock::now() + kPatience;
  nlohmann::json killed;
  while (true) {
    auto nodes = cluster.Rayk("list nodes --format json --address " + cluster.address());
    ASSERT_EQ(nodes.exit_code, 0) << nodes.output;
    for (const auto& node : nlohmann::json::parse(nodes.output)) {
      if (node["node_id"] == cluster.node_id(1)) killed = node;
    }
    if (!killed.is_null() && killed["alive"] == false) break;
    ASSERT_LT(Clock::now(), deadline)
        << "node 1 was SIGKILLed but is still listed alive: " << nodes.output;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(killed["death_cause"].get<std::string>(),
              HasSubstr("missed its resource reports for 1000 ms"));
  auto list = cluster.Rayk("list nodes");
  EXPECT_THAT(list.output, HasSubstr(cluster.node_id(1).substr(0, 8) + "   DEAD"));
  nlohmann::json status = cluster.Status();
  EXPECT_EQ(status["alive_nodes"], 2);
  EXPECT_EQ(status["dead_nodes"], 1);
  EXPECT_EQ(status["resources"]["total"]["CPU"], 2)
      << "a dead node's resources are not the cluster's";
  EXPECT_EQ(FindNode(status, cluster.node_id(0))["state"], "ALIVE");
  EXPECT_EQ(FindNode(status, cluster.node_id(1))["state"], "DEAD");
  auto text = cluster.Rayk("status");
  EXPECT_THAT(text.output, HasSubstr("Nodes: 2 alive, 1 dead"));
  EXPECT_THAT(text.output,
              HasSubstr(cluster.node_id(1).substr(0, 8) + " died: missed its resource reports"));
  // A driver still finds a live node to join.
  testing::JoinedDriver driver(cluster);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 3), std::chrono::seconds(60)), 5);
}

TEST(DevClusterTest, StatusReportsDemandWaitingForBusyNodes) {
  testing::DevCluster cluster({.nodes = 2});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  std::vector<rayk::ObjectRef<int64_t>> sleeps;
  for (int i = 0; i < 6; ++i)
    sleeps.push_back(rayk::Task(test_functions::SleepMs).Remote(int64_t{400}));
  auto deadline = Clock::now() + kPatience;
  nlohmann::json status;
  while (true) {
    status = cluster.Status();
    if (!status.is_null() && !status["demand"]["waiting"].empty()) break;
    ASSERT_LT(Clock::now(), deadline) << "no waiting demand reported: " << status.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status["demand"]["waiting"][0]["resources"]["CPU"], 1) << status.dump();
  EXPECT_GE(status["resources"]["used"]["CPU"], 1) << status.dump();
  EXPECT_TRUE(status["demand"]["infeasible"].empty()) << status.dump();
  for (auto& sleep : sleeps) EXPECT_EQ(*rayk::Get(sleep, std::chrono::seconds(60)), 400);
}

TEST(DevClusterTest, StatusReportsDemandNoNodeCanMeetUntilAFittingNodeJoins) {
  testing::DevCluster cluster({.nodes = 2});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  testing::JoinedDriver driver(cluster);
  auto needs_gpu = rayk::Task(Add).SetResources({{"GPU", 1}}).Remote(1, 2);
  // The demand shows as infeasible whether the cluster keeps it queued or
  // turned it down: no alive node has a GPU.
  auto deadline = Clock::now() + kPatience;
  nlohmann::json status;
  while (true) {
    status = cluster.Status();
    if (!status.is_null() && !status["demand"]["infeasible"].empty()) break;
    ASSERT_LT(Clock::now(), deadline) << "no infeasible demand reported: " << status.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status["demand"]["infeasible"][0]["resources"]["GPU"], 1) << status.dump();
  EXPECT_TRUE(status["demand"]["waiting"].empty()) << status.dump();
  auto text = cluster.Rayk("status");
  EXPECT_THAT(text.output, HasSubstr("infeasible (no alive node has this much in total): {"));
  EXPECT_THAT(text.output, HasSubstr("\"GPU\": 1}"));

  // Once a node that fits joins, that demand is not infeasible any more.
  auto added = cluster.AddNode("--resources '{\"GPU\": 1}'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  status = cluster.Status();
  EXPECT_TRUE(status["demand"]["infeasible"].empty()) << status.dump();
  EXPECT_THAT(cluster.Rayk("status").output, Not(HasSubstr("infeasible")));
  // Today the raylet turns such a task down at once and Get says why; a
  // cluster that keeps it queued runs it on the new node. Either way it ends.
  try {
    EXPECT_EQ(*rayk::Get(needs_gpu, std::chrono::seconds(60)), 3);
  } catch (const std::exception& error) {
    EXPECT_THAT(std::string(error.what()), HasSubstr("GPU"));
  }
}

TEST(DevClusterTest, DownStopsEveryProcess) {
  testing::DevCluster cluster({.nodes = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  {
    // Workers too: a driver's tasks start some on the nodes.
    testing::JoinedDriver driver(cluster);
    EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(1, 1), std::chrono::seconds(60)), 2);
  }
  std::vector<pid_t> recorded = cluster.RecordedPids();
  ASSERT_GE(recorded.size(), 5u) << "a GCS supervisor, its server and 3 raylets";
  auto down = cluster.Down();
  ASSERT_EQ(down.exit_code, 0) << down.output;
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(down.output,
                HasSubstr("Stopped raylet (pid " + std::to_string(cluster.raylet_pid(i)) +
                          ", node " + std::to_string(i) + ")"));
  }
  EXPECT_THAT(down.output, HasSubstr("Stopped gcs-server"));
  EXPECT_THAT(down.output, HasSubstr("Stopped 4 processes of 1 dev cluster"));
  // Raylets come before the GCS, so that they do not outlive it.
  EXPECT_LT(down.output.rfind("Stopped raylet"), down.output.find("Stopped gcs-server"));
  for (pid_t pid : recorded)
    EXPECT_FALSE(ProcessAlive(pid)) << "pid " << pid << " outlived rayk dev down";
  // Workers end with their raylet (a moment later: the kernel tells them).
  auto deadline = Clock::now() + kPatience;
  while (testing::CountProcessesMentioning(cluster.session_root()) > 0) {
    ASSERT_LT(Clock::now(), deadline) << "a worker outlived rayk dev down";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto again = cluster.Down();
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("No running dev cluster"));
}

TEST(DevClusterTest, RayStopAlsoStopsADevCluster) {
  testing::DevCluster cluster({.nodes = 2});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  auto stop = cluster.Rayk("stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_THAT(stop.output, HasSubstr("Stopped raylet (pid " +
                                     std::to_string(cluster.raylet_pid(1)) + ", node 1)"));
  EXPECT_THAT(stop.output, HasSubstr("Stopped gcs-server"));
  EXPECT_FALSE(ProcessAlive(cluster.raylet_pid(0)));
  EXPECT_THAT(cluster.Down().output, HasSubstr("No running dev cluster"));
}

// A test that fails before `dev down` leaves nothing running: the fixture's
// destructor stops the GCS, the raylets and their workers.
TEST(DevClusterTest, FixtureCleansUpAfterAnAbandonedTest) {
  std::string root;
  {
    testing::DevCluster cluster({.nodes = 2});
    ASSERT_TRUE(cluster.ok()) << cluster.up().output;
    root = cluster.session_root();
    testing::JoinedDriver driver(cluster);
    EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(4, 5), std::chrono::seconds(60)), 9);
    ASSERT_GE(testing::CountProcessesMentioning(root), 4);
  }
  auto deadline = Clock::now() + kPatience;
  while (testing::CountProcessesMentioning(root) > 0) {
    ASSERT_LT(Clock::now(), deadline) << "processes of " << root << " outlived their DevCluster";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST(DevClusterTest, GcsPortInUseFailsWithOneLine) {
  testing::DevCluster first({.nodes = 1});
  ASSERT_TRUE(first.ok()) << first.up().output;
  testing::TempDir root;
  auto second = testing::RunCommand("RAYK_SESSION_ROOT=" + root.path() + " " + RAYK_CLI_PATH +
                                    " dev up --nodes 2 --port " +
                                    first.address().substr(first.address().rfind(':') + 1));
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.output, HasSubstr("the GCS server did not start"));
  EXPECT_EQ(testing::CountLines(second.output), 1) << second.output;
  EXPECT_EQ(testing::CountProcessesMentioning(root.path()), 0);
  EXPECT_THAT(
      testing::RunCommand("RAYK_SESSION_ROOT=" + root.path() + " " + RAYK_CLI_PATH + " dev down")
          .output,
      HasSubstr("No running dev cluster"));
  EXPECT_EQ(first.Status()["alive_nodes"], 1) << "the first cluster is untouched";
}

// Each bad argument is refused before anything starts, with one line that
// names the option and what to give instead.
// The text of every log file under `dir`, one after another.
std::string AllLogs(const std::string& dir) {
  std::string text;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    text += std::string(std::istreambuf_iterator<char>(in), {}) + "\n";
  }
  return text;
}

TEST(DevClusterTest, SchedulerChosenByNameIsShownByStatusAndTheLogs) {
  testing::DevCluster cluster({.nodes = 2, .extra_args = "--scheduler spread"});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  nlohmann::json status = cluster.Status();
  EXPECT_EQ(status["plugins"]["scheduler"], "spread");
  EXPECT_EQ(status["plugins"]["store"], "shm");
  const std::string transport = testing::TestTransport();
  EXPECT_EQ(status["plugins"]["transport"], transport);
  EXPECT_EQ(status["plugins"]["gcs"], "sqlite");
  EXPECT_THAT(
      cluster.Rayk("status").output,
      HasSubstr("Plugins: scheduler spread, store shm, transport " + transport + ", gcs sqlite"));
  std::string logs = AllLogs(cluster.session_dir());
  EXPECT_THAT(logs, HasSubstr("GCS plugins: scheduler spread, store shm"));
  EXPECT_THAT(logs, HasSubstr("raylet plugins: scheduler spread, store shm"));
}

TEST(DevClusterTest, SchedulerChosenByPathRunsTasks) {
  std::string plugin = std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_scheduler_binpack.so";
  testing::DevCluster cluster({.nodes = 2, .extra_args = "--scheduler " + plugin});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  EXPECT_EQ(cluster.Status()["plugins"]["scheduler"], plugin);
  testing::JoinedDriver driver(cluster);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 3), kPatience), 5);
}

// Runs `tasks` calls of Add one after another on a one-node dev cluster whose
// scheduler is the counting fixture, plus `extra_args` for `rayk dev up`;
// returns how often the raylet consulted the policy.
int ScheduleCallsForSequentialTasks(int tasks, const std::string& extra_args) {
  testing::TempDir dir;
  std::string count_file = dir.path() + "/calls";
  std::string plugin = std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_counting.so";
  testing::DevCluster cluster({.nodes = 1,
                               .extra_args = "--scheduler " + plugin +
                                             " --set scheduler.counting.count_file=" + count_file +
                                             " " + extra_args});
  EXPECT_TRUE(cluster.ok()) << cluster.up().output;
  if (!cluster.ok()) return -1;
  testing::JoinedDriver driver(cluster);
  for (int i = 0; i < tasks; ++i) {
    EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(i, 1), kPatience), i + 1);
  }
  std::ifstream in(count_file);
  return testing::CountLines(std::string(std::istreambuf_iterator<char>(in), {}));
}

TEST(DevClusterTest, LeasesAreReusedAcrossTasksByDefault) {
  // One lease runs the loop's calls back to back: the policy is asked for
  // the lease, not for each task (it would take every gap between two calls
  // being longer than the lease's idle time to reach one call per task).
  int calls = ScheduleCallsForSequentialTasks(20, "");
  EXPECT_GE(calls, 1);
  EXPECT_LT(calls, 20);
}

TEST(DevClusterTest, WithoutLeaseReuseThePolicyDecidesEveryTask) {
  // [scheduler] lease_reuse = false: the owner gives each lease back after
  // its task, so every task is one more lease request and one more call.
  EXPECT_GE(ScheduleCallsForSequentialTasks(20, "--set scheduler.lease_reuse=false"), 20);
}

TEST(DevClusterTest, BadInputIsRefusedWithOneLine) {
  testing::TempDir root;
  auto rayk_cmd = [&root](const std::string& args) {
    return testing::RunCommand("RAYK_SESSION_ROOT=" + root.path() + " " + RAYK_CLI_PATH + " " +
                               args);
  };
  struct Case {
    std::string args;
    std::string says;
  };
  std::vector<Case> cases = {
      {"dev up --nodes 0", "--nodes must be at least 1"},
      {"dev up --nodes 2 --cpus-per-node 0", "--cpus-per-node must be at least 1"},
      {"dev up --nodes 2 --node-timeout-ms 0", "--node-timeout-ms must be positive"},
      {"dev up --nodes 2 --resources-per-node 'GPU=1'",
       "--resources-per-node must be a JSON object"},
      {"dev up --nodes 2 --resources-per-node '{\"GPU\": \"many\"}'",
       "--resources-per-node (node 0): "},
      {"dev up --nodes 2 --resources-per-node '[{\"GPU\": 1}]'",
       "--resources-per-node has 1 entries for 2 nodes"},
      {"dev up --nodes 2 --labels '[1]'", "--labels must be a JSON object"},
      {"dev up --nodes 2 --labels '{\"rayk.io/node-id\": \"x\"}'",
       "--labels: label 'rayk.io/node-id' uses the prefix rayk.io/, which rayk sets itself"},
      {"dev up --nodes 2 --labels '{\"zone\": \"in(a)\"}'",
       "--labels: the value 'in(a)' of label 'zone' is not valid"},
      {"dev up --nodes 2 --set store.plugin=nosuch", "nosuch"},
      {"dev up --nodes 2 --scheduler nosuch", "nosuch"},
      {"dev up --nodes 2 --scheduler ./nosuch.so", "nosuch.so"},
      {"dev add-node",
       "no running dev cluster under " + root.path() + "; start one with 'rayk dev up --nodes N'"},
      {"dev add-node --cpus 0", "--cpus must be at least 1"},
      {"dev add-node --resources '{\"GPU\": -1}'", "--resources: "},
  };
  for (const Case& c : cases) {
    auto result = rayk_cmd(c.args);
    EXPECT_NE(result.exit_code, 0) << c.args;
    EXPECT_THAT(result.output, HasSubstr(c.says)) << c.args;
    EXPECT_EQ(testing::CountLines(result.output), 1) << c.args << ": " << result.output;
  }
  // Nothing was started, so nothing is left running.
  EXPECT_EQ(testing::CountProcessesMentioning(root.path()), 0);
  EXPECT_THAT(rayk_cmd("dev down").output, HasSubstr("No running dev cluster"));
}

}  // namespace
}  // namespace rayk
