// The head's Prometheus metrics without a cluster: the exposition writer
// (escaping, number formats, cumulative histogram buckets), the per-type
// latency histograms, the rendering of a cluster snapshot, and the HTTP
// server's answers (200, 404, 405, 400) on a real loopback socket.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <vector>

#include "cluster_fixture.h"
#include "http_client.h"
#include "observability/cluster_metrics.h"
#include "observability/exposition.h"
#include "observability/http_server.h"
#include "observability/latency_histograms.h"

namespace rayk::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nthen"), "say \"hi\"\\\\\\nthen");

  ExpositionWriter out;
  out.Family("rayk_x", MetricType::kGauge, "Two\nlines.");
  out.Sample("rayk_x", {{"path", "C:\\tmp"}, {"name", "say \"hi\""}}, 1);
  EXPECT_EQ(out.Take(),
            "# HELP rayk_x Two\\nlines.\n"
            "# TYPE rayk_x gauge\n"
            "rayk_x{path=\"C:\\\\tmp\",name=\"say \\\"hi\\\"\"} 1\n");
  EXPECT_EQ(out.Take(), "") << "Take empties the writer";
}

TEST(ExpositionTest, FormatsValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(3), "3");
  EXPECT_EQ(FormatSampleValue(-2), "-2");
  EXPECT_EQ(FormatSampleValue(17179869184.0), "17179869184") << "bytes without an exponent";
  EXPECT_EQ(FormatSampleValue(0.25), "0.25");
  EXPECT_EQ(FormatSampleValue(0.0001), "0.0001");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  ExpositionWriter out;
  out.Family("rayk_d_seconds", MetricType::kHistogram, "Durations.");
  out.Histogram("rayk_d_seconds", {{"message_type", "KvGet"}},
                HistogramData{{0.1, 0.5, 1}, {1, 2, 0, 3}, 7.5});
  EXPECT_EQ(out.Take(),
            "# HELP rayk_d_seconds Durations.\n"
            "# TYPE rayk_d_seconds histogram\n"
            "rayk_d_seconds_bucket{message_type=\"KvGet\",le=\"0.1\"} 1\n"
            "rayk_d_seconds_bucket{message_type=\"KvGet\",le=\"0.5\"} 3\n"
            "rayk_d_seconds_bucket{message_type=\"KvGet\",le=\"1\"} 3\n"
            "rayk_d_seconds_bucket{message_type=\"KvGet\",le=\"+Inf\"} 6\n"
            "rayk_d_seconds_sum{message_type=\"KvGet\"} 7.5\n"
            "rayk_d_seconds_count{message_type=\"KvGet\"} 6\n");
}

TEST(ExpositionTest, HistogramWithoutLabels) {
  ExpositionWriter out;
  out.Histogram("h", {}, HistogramData{{1}, {0, 2}, 4});
  EXPECT_EQ(out.Take(), "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 2\nh_sum 4\nh_count 2\n");
}

TEST(LatencyHistogramsTest, CountsEachTypeInItsBucket) {
  LatencyHistograms histograms;
  EXPECT_TRUE(histograms.Snapshot().empty()) << "types never seen are left out";
  using std::chrono::microseconds;
  histograms.Record(protocol::MessageType::kKvGet, microseconds(50));          // <= 100 us
  histograms.Record(protocol::MessageType::kKvGet, microseconds(100));         // <= 100 us (le)
  histograms.Record(protocol::MessageType::kKvGet, microseconds(3000));        // <= 5 ms
  histograms.Record(protocol::MessageType::kKvGet, std::chrono::seconds(20));  // above 10 s
  histograms.Record(protocol::MessageType::kRegisterNode, microseconds(200));
  auto snapshot = histograms.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].type, protocol::MessageType::kRegisterNode) << "by type number";
  const HistogramData& kv = snapshot[1].data;
  ASSERT_EQ(kv.counts.size(), LatencyHistograms::kBucketBounds.size() + 1);
  EXPECT_EQ(kv.counts[0], 2u);
  EXPECT_EQ(kv.counts[5], 1u) << "bucket le=0.005";
  EXPECT_EQ(kv.counts.back(), 1u) << "the +Inf overflow";
  EXPECT_DOUBLE_EQ(kv.sum, 20.00315);
}

// Every sample line's metric belongs to a family announced before it with
// both # HELP and # TYPE; returns the families.
std::set<std::string> CheckStructure(const std::string& text) {
  std::set<std::string> help, type;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      help.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      type.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    bool known = false;
    for (const char* suffix : {"", "_bucket", "_sum", "_count"}) {
      std::string base = name;
      if (*suffix && base.ends_with(suffix)) base.resize(base.size() - std::strlen(suffix));
      known = known || (help.count(base) && type.count(base));
    }
    EXPECT_TRUE(known) << "sample of an unannounced family: " << line;
    EXPECT_EQ(name.rfind("rayk_", 0), 0u) << line;
  }
  EXPECT_EQ(help, type);
  return type;
}

TEST(ClusterMetricsTest, RendersNodesActorsJobsStoresAndLatency) {
  ClusterSnapshot snapshot;
  protocol::NodeInfo alive;
  alive.node_id = NodeId::FromRandom();
  alive.raylet_address = "tcp://127.0.0.1:7001";
  alive.total = ResourceSet{{"CPU", 2}, {"GPU", 1}};
  alive.available = ResourceSet{{"CPU", 0.5}, {"GPU", 1}};
  alive.num_workers = 3;
  alive.pending_leases = 4;
  protocol::NodeInfo dead = alive;
  dead.node_id = NodeId::FromRandom();
  dead.alive = false;
  snapshot.nodes = {alive, dead};
  protocol::ActorInfo actor;
  actor.state = protocol::ActorState::kAlive;
  snapshot.actors = {actor, actor};
  protocol::JobInfo job;
  protocol::JobInfo finished;
  finished.finished = true;
  snapshot.jobs = {job, finished, finished};
  protocol::StoreStats stats;
  stats.capacity_bytes = 1 << 30;
  stats.used_bytes = 4096;
  stats.pinned_bytes = 1024;
  stats.spilled_bytes = 8192;
  stats.num_spilled = 2;
  snapshot.stores[alive.node_id] = stats;
  LatencyHistograms latency;
  latency.Record(protocol::MessageType::kRegisterNode, std::chrono::microseconds(300));
  snapshot.gcs_latency = latency.Snapshot();

  std::string text = RenderClusterMetrics(snapshot);
  std::set<std::string> families = CheckStructure(text);
  EXPECT_TRUE(families.count("rayk_gcs_request_duration_seconds"));
  const std::string id = alive.node_id.Hex();
  EXPECT_THAT(text, HasSubstr("\nrayk_nodes_alive 1\n"));
  EXPECT_THAT(text, HasSubstr("\nrayk_nodes_dead 1\n"));
  EXPECT_THAT(text, HasSubstr("rayk_node_info{node_id=\"" + dead.node_id.Hex() +
                              "\",address=\"tcp://127.0.0.1:7001\",state=\"dead\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("rayk_node_resource_available{node_id=\"" + id + "\",resource=\"CPU\"} 0.5"));
  EXPECT_THAT(text, HasSubstr("rayk_cluster_resource_capacity{resource=\"CPU\"} 2\n"))
      << "dead nodes do not count";
  EXPECT_THAT(text, HasSubstr("rayk_node_workers{node_id=\"" + id + "\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("rayk_node_leases_pending{node_id=\"" + id + "\"} 4\n"));
  EXPECT_THAT(text, Not(HasSubstr("rayk_node_workers{node_id=\"" + dead.node_id.Hex())));
  EXPECT_THAT(text, HasSubstr("rayk_actors{state=\"ALIVE\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("rayk_actors{state=\"RESTARTING\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("rayk_jobs{state=\"running\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rayk_jobs{state=\"finished\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("rayk_object_store_up{node_id=\"" + id + "\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rayk_object_store_used_bytes{node_id=\"" + id + "\"} 4096\n"));
  EXPECT_THAT(text, HasSubstr("rayk_object_store_pinned_bytes{node_id=\"" + id + "\"} 1024\n"));
  EXPECT_THAT(text, HasSubstr("rayk_object_store_spilled_bytes{node_id=\"" + id + "\"} 8192\n"));
  EXPECT_THAT(text, HasSubstr("rayk_object_store_spills_total{node_id=\"" + id + "\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("rayk_gcs_request_duration_seconds_bucket{message_type=\"RegisterNode\","
                        "le=\"0.0005\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("rayk_gcs_request_duration_seconds_count{message_type=\"RegisterNode\"} 1\n"));
}

TEST(ClusterMetricsTest, AStoreThatDidNotAnswerShowsDown) {
  ClusterSnapshot snapshot;
  protocol::NodeInfo node;
  node.node_id = NodeId::FromRandom();
  snapshot.nodes = {node};
  std::string text = RenderClusterMetrics(snapshot);
  EXPECT_THAT(text, HasSubstr("rayk_object_store_up{node_id=\"" + node.node_id.Hex() + "\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("rayk_object_store_used_bytes{")));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = HttpServer::Start("127.0.0.1", 0, {{"/metrics", [this] {
                                                        ++calls_;
                                                        return HttpResponse{"text/plain", "x 1\n"};
                                                      }}});
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
  }
  int calls_ = 0;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesARouteOnGet) {
  auto result = testing::HttpCall("127.0.0.1", server_->port(), "GET", "/metrics");
  ASSERT_EQ(result.status, 200) << result.error;
  EXPECT_EQ(result.body, "x 1\n");
  EXPECT_EQ(result.content_type, "text/plain");
  // Prometheus may add query parameters.
  EXPECT_EQ(testing::HttpCall("127.0.0.1", server_->port(), "GET", "/metrics?x=1").status, 200);
  EXPECT_EQ(calls_, 2);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  auto result = testing::HttpCall("127.0.0.1", server_->port(), "GET", "/nope");
  EXPECT_EQ(result.status, 404) << result.error;
  EXPECT_THAT(result.body, HasSubstr("no such path: /nope (this server has /metrics)"));
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto result = testing::HttpCall("127.0.0.1", server_->port(), method, "/metrics");
    EXPECT_EQ(result.status, 405) << method << ": " << result.error;
    EXPECT_EQ(result.allow, "GET");
    EXPECT_THAT(result.body,
                HasSubstr(std::string(method) + " is not allowed on /metrics; use GET"));
  }
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, GarbageIs400AndTheServerCarriesOn) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string garbage = "\x01\x02 not http at all\r\n\r\n";
  ASSERT_EQ(send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(garbage.size()));
  std::string reply;
  char buffer[512];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) reply.append(buffer, n);
  close(fd);
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 400 Bad Request"));
  EXPECT_EQ(testing::HttpCall("127.0.0.1", server_->port(), "GET", "/metrics").status, 200);
}

TEST(HttpServerApiTest, AnApiGetsEveryMethodBelowItsPrefixAndAlwaysNeedsTheSecret) {
  const std::string secret = "the-cluster-secret-0123456789";
  std::vector<HttpRequest> seen;
  auto server = HttpServer::Start(
      "127.0.0.1", 0,
      {{"/metrics",
        [] {
          return HttpResponse{"text/plain", "x 1\n"};
        }}},
      {.secret = secret, .guarded = {}},
      {{"/api/things", [&seen](const HttpRequest& request) {
          seen.push_back(request);
          return HttpResponse{"application/json", "{}", request.method == "POST" ? 201 : 200};
        }}});
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = (*server)->port();
  const testing::HttpHeaders bearer = {{"Authorization", "Bearer " + secret}};
  auto posted = testing::HttpCall("127.0.0.1", port, "POST", "/api/things/7/stop?now=1", bearer,
                                  "{\"why\": 1}");
  EXPECT_EQ(posted.status, 201) << posted.error;
  EXPECT_EQ(posted.content_type, "application/json");
  EXPECT_EQ(testing::HttpCall("127.0.0.1", port, "GET", "/api/things", bearer).status, 200);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/api/things/7/stop");
  EXPECT_EQ(seen[0].query, "now=1");
  EXPECT_EQ(seen[0].body, "{\"why\": 1}");
  EXPECT_EQ(seen[1].path, "/api/things");
  // Without the secret, or with another, the API never runs; /metrics stays open.
  auto refused = testing::HttpCall("127.0.0.1", port, "POST", "/api/things/", {}, "{}");
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.body, HasSubstr("/api/things/ needs the cluster secret"));
  EXPECT_EQ(testing::HttpCall("127.0.0.1", port, "GET", "/api/things",
                              {{"Authorization", "Bearer not-the-secret-0123456789"}})
                .status,
            401);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(testing::HttpCall("127.0.0.1", port, "GET", "/metrics").status, 200);
  // A path that only starts like the prefix is not the API's.
  EXPECT_EQ(testing::HttpCall("127.0.0.1", port, "GET", "/api/thingsx", bearer).status, 404);
}

TEST(HttpServerStartTest, ATakenPortIsAClearError) {
  auto first = HttpServer::Start("127.0.0.1", 0, {});
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::Start("127.0.0.1", (*first)->port(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string((*first)->port())));
  EXPECT_THAT(second.status().message(), HasSubstr("choose another port, or 0 for any free one"));
  auto bad = HttpServer::Start("not-an-ip", 0, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'not-an-ip' is not an IP address"));
}

}  // namespace
}  // namespace rayk::observability
