// The chaos run, short (issue 15 item 7; bench/chaos runs the full one): on
// a 3-node dev cluster, rounds of the chaos workload (a map and tree reduce
// of about 500 tasks, every result in a node's store, 4 actors taking 500
// calls, every task and actor with unlimited retries and restarts) run while
// the killer SIGKILLs a worker every second, a raylet (not the driver's)
// every few seconds with a fresh node added back, and the GCS twice. Rounds
// go on until the killer has done all its kills. Every result of every round
// must be right and in time (a hang fails the round at its deadline, and a
// watchdog kills everything if even that hangs); afterwards no process of
// the cluster and no store segment of its nodes is left. Timing is not
// checked: bench/chaos.sh measures it.
#include <gtest/gtest.h>
#include <rayk/api.h>
#include <rayk/cluster.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core_worker/core_worker.h"
#include "dev_cluster.h"
#include "killer.h"
#include "shm_layout.h"
#include "workload.h"

namespace rayk {
namespace {

// The /dev/shm files of every node the session ever had (node.json of each).
std::set<std::string> SegmentFiles(const std::string& session_dir) {
  std::set<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(session_dir + "/nodes", ec)) {
    std::ifstream file(entry.path() / "node.json");
    auto json = nlohmann::json::parse(file, nullptr, false);
    if (!json.is_object() || !json.contains("node_id")) continue;
    files.insert("/dev/shm" +
                 shm::SegmentName("", NodeId::FromHex(json["node_id"].get<std::string>())));
  }
  return files;
}

TEST(ChaosTest, EveryResultIsRightWhileWorkersRayletsAndTheGcsAreKilled) {
  chaos::WorkloadOptions workload;
  workload.tasks = 500;
  workload.map_bytes = 128 * 1024;  // in the stores too: node deaths lose them
  workload.actors = 4;
  workload.calls = 500;
  workload.task_work_us = 2000;
  workload.call_work_us = 2000;
  workload.deadline = std::chrono::seconds(90);

  std::string session_root, session_dir;
  std::set<std::string> segments;
  chaos::KillCounts kills;
  int rounds = 0;
  uint64_t retries = 0, reconstructed = 0, call_retries = 0;
  int restarts = 0;
  {
    // The node timeout of the full run: a shorter one, on a machine busy with
    // other tests, had the GCS declare the driver's own (spared) node dead.
    testing::DevCluster cluster({.nodes = 3, .node_timeout_ms = 4000});
    ASSERT_TRUE(cluster.ok()) << cluster.up().output;
    session_root = cluster.session_root();
    session_dir = cluster.session_dir();
    // Far past every round's deadline: Shutdown or the cluster's stop hangs.
    chaos::Watchdog watchdog(session_root, std::chrono::seconds(240), "ChaosTest");
    InitOptions init;
    init.log_to_driver = false;
    testing::JoinedDriver driver(cluster, init);

    chaos::KillerOptions options;
    options.session_dir = session_dir;
    options.add_node = [&cluster] {
      auto added = cluster.Rayk("dev add-node");
      return added.exit_code == 0 ? std::string() : added.output;
    };
    options.spare_node_id = CurrentNodeId().Hex();
    options.worker_period = std::chrono::milliseconds(1000);
    options.raylet_period = std::chrono::milliseconds(5000);
    options.gcs_period = std::chrono::milliseconds(4000);
    options.max_worker_kills = 10;
    options.max_raylet_kills = 2;
    options.gcs_kills = 2;
    chaos::Killer killer(options);
    killer.Start();
    do {
      chaos::WorkloadResult result = chaos::RunWorkload(workload);
      ++rounds;
      retries += result.task_retries;
      reconstructed += result.objects_reconstructed;
      call_retries += result.actor_call_retries;
      restarts += result.actor_restarts;
      if (!result.ok) {
        // What the cluster says, while it still runs: which tasks wait where.
        const std::string at = " --address " + cluster.address();
        auto* core = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
        ADD_FAILURE() << "round " << rounds << ": " << result.error << "\n"
                      << cluster.Rayk("status" + at).output
                      << cluster.Rayk("summary tasks" + at).output
                      << cluster.Rayk("list actors" + at).output
                      << (core != nullptr ? core->DescribeWaits() : std::string());
        // RAYK_TEST_KEEP_DIR: the session's logs are copied there for a look.
        if (const char* keep = std::getenv("RAYK_TEST_KEEP_DIR"); keep != nullptr && *keep) {
          std::error_code ec;
          std::filesystem::copy(session_dir, keep, std::filesystem::copy_options::recursive, ec);
          std::cout << "the session is kept in " << keep << (ec ? ": " + ec.message() : "") << "\n";
        }
        break;
      }
      EXPECT_TRUE(result.root_right);
      EXPECT_EQ(result.calls_checked, workload.calls);
      EXPECT_EQ(result.calls_wrong, 0);
    } while (!killer.Done() && rounds < 50);
    kills = killer.Stop();
    segments = SegmentFiles(session_dir);
  }
  std::cout << rounds << " rounds; killed " << kills.workers << " workers, " << kills.raylets
            << " raylets (" << kills.nodes_added << " nodes added), the GCS " << kills.gcs
            << " times; the driver retried " << retries << " tasks and " << call_retries
            << " actor calls and made " << reconstructed << " objects again; " << restarts
            << " actor restarts\n";
  // The killer did what the test is about.
  EXPECT_GE(kills.workers, 10);
  EXPECT_EQ(kills.raylets, 2);
  EXPECT_EQ(kills.nodes_added, 2);
  EXPECT_EQ(kills.gcs, 2);
  for (const std::string& error : kills.errors) ADD_FAILURE() << "killer: " << error;

  // Nothing is left: no process of the cluster, no segment of its nodes
  // (those of the killed raylets included).
  EXPECT_TRUE(chaos::ProcessesOf(session_root).empty());
  EXPECT_EQ(segments.size(), 5u);  // 3 nodes, 2 added
  for (const std::string& file : segments) {
    EXPECT_FALSE(std::filesystem::exists(file)) << file << " is left in /dev/shm";
  }
}

}  // namespace
}  // namespace rayk
