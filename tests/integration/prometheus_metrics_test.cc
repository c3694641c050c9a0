// The head's Prometheus metrics on a real dev cluster: the GCS serves
// /metrics on the port it records in the session folder (and in `rayk
// status`), the text passes Prometheus's own linter (promtool), and a real
// Prometheus server scraping it answers queries for rayk's metrics with the
// cluster's values. Bad paths and methods get 404 and 405; a bad
// --metrics-port is refused with one line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "dev_cluster.h"
#include "functions/test_functions.h"
#include "http_client.h"
#include "process/session.h"
#include "prometheus_server.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

// Upper bound against hangs, not a performance check.
constexpr auto kPatience = std::chrono::seconds(60);

TEST(PrometheusMetricsTest, ARealPrometheusScrapesTheHead) {
  if (!testing::PrometheusServer::Installed()) {
    GTEST_SKIP() << "no " << testing::PrometheusServer::kBinary
                 << "; install Debian's prometheus package (scripts/install-deps.sh)";
  }
  testing::DevCluster cluster({.nodes = 2});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string metrics = cluster.metrics_address();
  ASSERT_FALSE(metrics.empty()) << "no gcs_metrics_address in " << cluster.session_dir();
  EXPECT_THAT(cluster.up().output, HasSubstr("Metrics:     http://" + metrics + "/metrics"));
  nlohmann::json status = cluster.Status();
  EXPECT_EQ(status["gcs"]["metrics_address"], metrics);
  EXPECT_THAT(cluster.Rayk("status").output, HasSubstr("Metrics: http://" + metrics + "/metrics"));

  testing::JoinedDriver driver(cluster);
  auto counter = rayk::Actor(test_functions::Counter::Create).SetName("scraped").Remote(5);
  ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), 6);

  // The text itself, straight from the head.
  auto scrape = testing::HttpGet(metrics, "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.error;
  EXPECT_THAT(scrape.content_type, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(scrape.body, HasSubstr("\nrayk_nodes_alive 2\n"));
  EXPECT_THAT(scrape.body, HasSubstr("rayk_actors{state=\"ALIVE\"} 1\n"));
  EXPECT_THAT(scrape.body, HasSubstr("rayk_jobs{state=\"running\"} 1\n"));
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(scrape.body,
                HasSubstr("rayk_object_store_up{node_id=\"" + cluster.node_id(i) + "\"} 1\n"));
    EXPECT_THAT(scrape.body, HasSubstr("rayk_object_store_capacity_bytes{node_id=\"" +
                                       cluster.node_id(i) + "\"}"));
    EXPECT_THAT(scrape.body, HasSubstr("rayk_node_resource_capacity{node_id=\"" +
                                       cluster.node_id(i) + "\",resource=\"CPU\"} 1\n"));
  }
  EXPECT_THAT(scrape.body, HasSubstr("rayk_gcs_request_duration_seconds_bucket{message_type="
                                     "\"RegisterActor\",le=\"+Inf\"}"));
  // Prometheus's own linter accepts it.
  testing::TempDir dir;
  std::string file = dir.Write("metrics.txt", scrape.body);
  auto lint = testing::RunCommand("promtool check metrics < " + file);
  EXPECT_EQ(lint.exit_code, 0) << lint.output;

  // A real Prometheus server scraping the head every second.
  testing::PrometheusServer prometheus("rayk", {metrics});
  nlohmann::json up = prometheus.WaitForValue("up{job=\"rayk\"}", "1", kPatience);
  ASSERT_TRUE(up.is_array() && !up.empty()) << up.dump() << "\n" << prometheus.log();
  nlohmann::json nodes = prometheus.WaitForValue("rayk_nodes_alive", "2", kPatience);
  ASSERT_EQ(nodes.size(), 1u) << nodes.dump() << "\n" << prometheus.log();
  EXPECT_EQ(nodes[0]["metric"]["job"], "rayk");
  EXPECT_EQ(nodes[0]["metric"]["instance"], metrics);
  nlohmann::json actors = prometheus.WaitForValue("rayk_actors{state=\"ALIVE\"}", "1", kPatience);
  ASSERT_EQ(actors.size(), 1u) << actors.dump();
  EXPECT_EQ(actors[0]["value"][1], "1");
  nlohmann::json cpus =
      prometheus.WaitForValue("sum(rayk_node_resource_capacity{resource=\"CPU\"})", "2", kPatience);
  ASSERT_EQ(cpus.size(), 1u) << cpus.dump();
  EXPECT_EQ(cpus[0]["value"][1], "2");
  // The latency histogram works with histogram_quantile.
  nlohmann::json quantile = prometheus.Query(
      "histogram_quantile(0.5, rayk_gcs_request_duration_seconds_bucket{message_type="
      "\"RegisterNode\"})");
  ASSERT_TRUE(quantile.is_array() && quantile.size() == 1u) << quantile.dump();
  EXPECT_GT(std::stod(quantile[0]["value"][1].get<std::string>()), 0.0);

  // After a node dies, the scrape shows it.
  cluster.KillNode(1);
  nlohmann::json dead = prometheus.WaitForValue("rayk_nodes_dead", "1", kPatience);
  ASSERT_EQ(dead.size(), 1u) << dead.dump();
}

TEST(PrometheusMetricsTest, BadPathsAndMethodsAreRefused) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string metrics = cluster.metrics_address();
  ASSERT_FALSE(metrics.empty());
  auto missing = testing::HttpGet(metrics, "/metric");
  EXPECT_EQ(missing.status, 404) << missing.error;
  EXPECT_THAT(missing.body, HasSubstr("no such path: /metric (this server has /, /api/cluster, "
                                      "/dashboard.css, /dashboard.js, /index.html, /metrics, "
                                      "/api/jobs/...)"));
  auto colon = metrics.rfind(':');
  auto post = testing::HttpCall(metrics.substr(0, colon), std::stoi(metrics.substr(colon + 1)),
                                "POST", "/metrics");
  EXPECT_EQ(post.status, 405) << post.error;
  EXPECT_EQ(post.allow, "GET");
}

TEST(PrometheusMetricsTest, ARestartedGcsServesOnTheSamePort) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string metrics = cluster.metrics_address();
  ASSERT_THAT(testing::HttpGet(metrics, "/metrics").body, HasSubstr("\nrayk_gcs_restarts 0\n"));
  auto pid_text = ReadFile(cluster.session_dir() + "/gcs_server.pid");
  ASSERT_TRUE(pid_text.ok());
  pid_t old_pid = static_cast<pid_t>(std::stol(*pid_text));
  kill(old_pid, SIGKILL);
  // The supervisor starts a new server on the ports the first one chose.
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    body = testing::HttpGet(metrics, "/metrics").body;
    if (body.find("\nrayk_gcs_restarts 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(body, HasSubstr("\nrayk_gcs_restarts 1\n"));
  EXPECT_EQ(cluster.metrics_address(), metrics);
}

TEST(PrometheusMetricsTest, MetricsPortOptions) {
  // A fixed port is used as given.
  int port = testing::FreePort();
  testing::DevCluster fixed({.nodes = 1, .extra_args = "--metrics-port " + std::to_string(port)});
  ASSERT_TRUE(fixed.ok()) << fixed.up().output;
  EXPECT_EQ(fixed.metrics_address(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(testing::HttpGet(fixed.metrics_address(), "/metrics").status, 200);

  // -1: no metrics server, and none advertised.
  testing::DevCluster none({.nodes = 1, .extra_args = "--metrics-port -1"});
  ASSERT_TRUE(none.ok()) << none.up().output;
  EXPECT_EQ(none.metrics_address(), "");
  EXPECT_THAT(none.up().output, ::testing::Not(HasSubstr("Metrics:")));
  EXPECT_EQ(none.Status()["gcs"]["metrics_address"], "");

  // Not a port: one line, nothing started.
  auto bad = testing::RunRayk("dev up --nodes 1 --metrics-port 70000");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_EQ(testing::CountLines(bad.output), 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--metrics-port 70000 is not a port: use 1 to 65535, 0 for "
                                    "any free port or -1 for none"));
  auto bad_start = testing::RunRayk("start --head --metrics-port -5");
  EXPECT_EQ(bad_start.exit_code, 1) << bad_start.output;
  EXPECT_EQ(testing::CountLines(bad_start.output), 1) << bad_start.output;
  EXPECT_THAT(bad_start.output, HasSubstr("--metrics-port -5 is not a port"));
}

}  // namespace
}  // namespace rayk
