// The cluster view is pushed, and an idle cluster is quiet: on a dev cluster
// of real raylets, the GCS's own request counters (its Prometheus metrics)
// show that idle raylets send only heartbeats sized to the node timeout and
// ask for the view only every refresh period, and that a node joining and a
// node dying still reach the other raylets' schedulers (a task spills to the
// new node; hard affinity to the dead one fails) without each raylet asking
// for the view. Bounds are counts scaled by the measured wall time, with a
// generous margin; nothing here asserts a duration.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/lease_policy.h"
#include "dev_cluster.h"
#include "functions/test_functions.h"
#include "http_client.h"

namespace rayk {
namespace {

using Clock = std::chrono::steady_clock;
using test_functions::NodeAfterMs;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// How many requests of `type` the GCS has handled, from its metrics.
double GcsRequests(const std::string& metrics, const std::string& type) {
  auto scrape = testing::HttpGet(metrics, "/metrics");
  if (scrape.status != 200) {
    ADD_FAILURE() << "cannot scrape " << metrics << ": " << scrape.error;
    return 0;
  }
  const std::string key = "rayk_gcs_request_duration_seconds_count{message_type=\"" + type + "\"} ";
  size_t at = scrape.body.find(key);
  return at == std::string::npos ? 0 : std::stod(scrape.body.substr(at + key.size()));
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Before pushes, every raylet reported and asked for the view every
// kReportPeriod: 40 of each per node in these 4 s. Now a node sends one
// heartbeat per node timeout / kHeartbeatsPerNodeTimeout and asks for the
// view once per kViewRefreshPeriod (plus one at a tick boundary either way).
TEST(DevClusterViewTest, IdleRayletsSendHeartbeatsAndRarelyAskForTheView) {
  constexpr int kNodes = 3;
  constexpr int kNodeTimeoutMs = 10000;
  testing::DevCluster cluster({.nodes = kNodes, .node_timeout_ms = kNodeTimeoutMs});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string metrics = cluster.metrics_address();
  ASSERT_FALSE(metrics.empty()) << "no gcs_metrics_address in " << cluster.session_dir();
  // Let the start settle: the first reports and view requests are not idle ones.
  std::this_thread::sleep_for(std::chrono::seconds(1));

  const auto start = Clock::now();
  const double reports_before = GcsRequests(metrics, "ReportResources");
  const double views_before = GcsRequests(metrics, "GetClusterView");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const double reports = GcsRequests(metrics, "ReportResources") - reports_before;
  const double views = GcsRequests(metrics, "GetClusterView") - views_before;
  const double elapsed = Seconds(Clock::now() - start);

  const double heartbeat_s = kNodeTimeoutMs / 1000.0 / kHeartbeatsPerNodeTimeout;
  const double refresh_s = Seconds(kViewRefreshPeriod);
  EXPECT_LE(reports, kNodes * (elapsed / heartbeat_s + 2))
      << "idle raylets report more often than their heartbeat, over " << elapsed << " s";
  EXPECT_LE(views, kNodes * (elapsed / refresh_s + 2))
      << "idle raylets ask for the view more often than its refresh period, over " << elapsed
      << " s";
  // The heartbeats do arrive: a node that sent none would be declared dead.
  EXPECT_GE(reports, 1) << "no heartbeat reached the GCS in " << elapsed << " s";
  EXPECT_EQ(cluster.Status()["alive_nodes"], kNodes);
}

// A node that joins and a node that dies change the driver's raylet's
// decisions (a demand only the new node fits spills there; hard affinity to
// the dead node fails), although the existing raylets ask for the view at
// most at their refresh period: the GCS pushed the changes.
TEST(DevClusterViewTest, JoinsAndDeathsReachTheSchedulersWithoutViewRequests) {
  testing::DevCluster cluster({.nodes = 2, .node_timeout_ms = 1000});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string metrics = cluster.metrics_address();
  ASSERT_FALSE(metrics.empty()) << "no gcs_metrics_address in " << cluster.session_dir();
  testing::JoinedDriver driver(cluster);
  // A first task: the driver's raylet has its view and a worker of the job.
  ASSERT_FALSE(rayk::Get(rayk::Task(NodeAfterMs).Remote(int64_t{0}))->empty());

  const auto start = Clock::now();
  const double views_before = GcsRequests(metrics, "GetClusterView");
  auto added = cluster.AddNode("--cpus 1 --resources '{\"accel_y\": 1}'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  ASSERT_EQ(cluster.num_nodes(), 3);
  std::string ran = *rayk::Get(
      rayk::Task(NodeAfterMs).SetResource("CPU", 0).SetResource("accel_y", 1).Remote(int64_t{0}),
      std::chrono::seconds(60));
  EXPECT_EQ(ran, cluster.node_id(2)) << "the new node's resource should draw the task there";

  NodeId dead = NodeId::FromHex(cluster.node_id(2));
  cluster.KillNode(2);
  auto hard = rayk::Task(NodeAfterMs).SetNodeAffinity(dead).Remote(int64_t{0});
  EXPECT_THAT([&] { rayk::Get(hard, std::chrono::seconds(60)); },
              ThrowsMessage<rayk::UnschedulableError>(HasSubstr(dead.Hex().substr(0, 8))))
      << "hard affinity to a dead node should fail once its death is pushed";
  const double views = GcsRequests(metrics, "GetClusterView") - views_before;
  const double elapsed = Seconds(Clock::now() - start);
  // The new raylet asks for the whole view when it starts (a few times at
  // most, if a publication overtakes its first answer); the two others only
  // at their refresh period, or after a publication they missed.
  const double refresh_s = Seconds(kViewRefreshPeriod);
  EXPECT_LE(views, 3 + 2 * (elapsed / refresh_s + 2))
      << "the raylets asked for the view " << views << " times in " << elapsed << " s";
}

}  // namespace
}  // namespace rayk
