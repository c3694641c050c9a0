// The head's dashboard on a real three-node dev cluster: its JSON API
// (/api/cluster) shows the nodes, their object stores, an actor a driver
// created, the job and a task summary, and refuses bad paths and methods
// with JSON errors; the page, loaded in headless Chromium (Debian's
// `chromium`), renders the three nodes and the actor without logging a
// console message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "dev_cluster.h"
#include "functions/test_functions.h"
#include "headless_chromium.h"
#include "http_client.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

// Upper bound against hangs, not a performance check.
constexpr auto kPatience = std::chrono::seconds(60);

// The cluster's secret, as a user finds it: <session>/auth_token.
std::string Token(const testing::DevCluster& cluster) {
  std::ifstream file(cluster.session_dir() + "/auth_token");
  std::string token;
  std::getline(file, token);
  return token;
}

testing::HttpHeaders Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// GET /api/cluster with the cluster's secret, parsed; null when it fails.
nlohmann::json Cluster(const testing::DevCluster& cluster) {
  auto reply = testing::HttpGet(cluster.metrics_address(), "/api/cluster", Bearer(Token(cluster)));
  if (reply.status != 200) return nullptr;
  return nlohmann::json::parse(reply.body, nullptr, false);
}

// The element of `array` whose `key` is `value`; null if none.
nlohmann::json Find(const nlohmann::json& array, const std::string& key, const std::string& value) {
  for (const auto& item : array) {
    if (item.value(key, "") == value) return item;
  }
  return nullptr;
}

TEST(DashboardTest, TheJsonApiShowsTheCluster) {
  testing::DevCluster cluster({.nodes = 3, .node_timeout_ms = 2000});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string head = cluster.metrics_address();
  ASSERT_FALSE(head.empty()) << "no gcs_metrics_address in " << cluster.session_dir();
  EXPECT_THAT(cluster.up().output, HasSubstr("Dashboard:   http://" + head + "/\n"));
  EXPECT_THAT(cluster.Rayk("status").output, HasSubstr("Dashboard: http://" + head + "/\n"));

  testing::JoinedDriver driver(cluster);
  auto counter = rayk::Actor(test_functions::Counter::Create).SetName("on_the_page").Remote(5);
  ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), 6);
  ASSERT_EQ(*rayk::Get(rayk::Task(test_functions::Add).Remote(2, 3)), 5);

  auto reply = testing::HttpGet(head, "/api/cluster", Bearer(Token(cluster)));
  ASSERT_EQ(reply.status, 200) << reply.error << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  nlohmann::json state = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(state.is_object()) << reply.body;

  ASSERT_EQ(state["nodes"].size(), 3u) << state["nodes"].dump(2);
  ASSERT_EQ(state["object_stores"].size(), 3u) << state["object_stores"].dump(2);
  for (int i = 0; i < 3; ++i) {
    nlohmann::json node = Find(state["nodes"], "node_id", cluster.node_id(i));
    ASSERT_TRUE(node.is_object()) << cluster.node_id(i) << " not in " << state["nodes"].dump(2);
    EXPECT_EQ(node["state"], "ALIVE");
    EXPECT_EQ(node["address"], "tcp://" + cluster.node_address(i));
    EXPECT_EQ(node["total"]["CPU"], 1.0);
    EXPECT_EQ(node["labels"]["rayk.io/node-index"], std::to_string(i));
    nlohmann::json store = Find(state["object_stores"], "node_id", cluster.node_id(i));
    ASSERT_TRUE(store.is_object()) << state["object_stores"].dump(2);
    EXPECT_EQ(store["up"], true);
    EXPECT_GT(store["capacity_bytes"].get<uint64_t>(), 0u);
    for (const char* field : {"used_bytes", "pinned_bytes", "spilled_bytes", "num_objects"}) {
      EXPECT_TRUE(store[field].is_number_unsigned()) << field << " in " << store.dump();
    }
  }
  nlohmann::json actor = Find(state["actors"], "name", "on_the_page");
  ASSERT_TRUE(actor.is_object()) << state["actors"].dump(2);
  EXPECT_EQ(actor["actor_id"], counter.ID().Hex());
  EXPECT_EQ(actor["state"], "ALIVE");
  EXPECT_THAT(actor["class"].get<std::string>(), HasSubstr("Counter"));
  EXPECT_TRUE(Find(state["nodes"], "node_id", actor["node_id"]).is_object()) << actor.dump();
  EXPECT_EQ(actor["pending_reason"], "");
  ASSERT_EQ(state["jobs"].size(), 1u) << state["jobs"].dump(2);
  EXPECT_EQ(state["jobs"][0]["status"], "RUNNING");
  EXPECT_EQ(state["jobs"][0]["driver_pid"], getpid());

  // Workers report task events in batches: wait for the three tasks (the
  // actor's creation, its call, the plain task) to be summarized.
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline &&
         Cluster(cluster)["tasks"]["by_state"].value("FINISHED", 0) < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  nlohmann::json tasks = Cluster(cluster)["tasks"];
  EXPECT_EQ(tasks["by_state"]["FINISHED"], 3) << tasks.dump(2);
  EXPECT_EQ(tasks["total"], 3) << tasks.dump(2);
  nlohmann::json add = Find(tasks["by_name"], "name", "Add");
  ASSERT_TRUE(add.is_object()) << tasks.dump(2);
  EXPECT_EQ(add["total"], 1);
  EXPECT_EQ(add["by_state"]["FINISHED"], 1);
  EXPECT_TRUE(Find(tasks["by_name"], "name", "Counter::Incr").is_object()) << tasks.dump(2);

  // A node that dies shows as DEAD, and its store leaves the list.
  const std::string killed = cluster.node_id(2);
  cluster.KillNode(2);
  deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline &&
         Find(Cluster(cluster)["nodes"], "node_id", killed).value("state", "") != "DEAD") {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  state = Cluster(cluster);
  EXPECT_EQ(Find(state["nodes"], "node_id", killed)["state"], "DEAD") << state["nodes"].dump(2);
  EXPECT_TRUE(Find(state["object_stores"], "node_id", killed).is_null());
}

TEST(DashboardTest, ThePageAndItsFilesAreServed) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string head = cluster.metrics_address();
  for (const char* path : {"/", "/index.html"}) {
    auto page = testing::HttpGet(head, path);
    ASSERT_EQ(page.status, 200) << path << ": " << page.error;
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_THAT(page.body, HasSubstr("<script src=\"/dashboard.js\""));
    EXPECT_THAT(page.body, HasSubstr("<link rel=\"stylesheet\" href=\"/dashboard.css\">"));
    // No favicon request, whose 404 Chromium would log as an error.
    EXPECT_THAT(page.body, HasSubstr("<link rel=\"icon\" href=\"data:,\">"));
  }
  auto script = testing::HttpGet(head, "/dashboard.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_THAT(script.body, HasSubstr("fetch(\"/api/cluster\""));
  auto style = testing::HttpGet(head, "/dashboard.css");
  ASSERT_EQ(style.status, 200);
  EXPECT_EQ(style.content_type, "text/css; charset=utf-8");
  // The metrics are still there, on the same server.
  EXPECT_EQ(testing::HttpGet(head, "/metrics").status, 200);
}

TEST(DashboardTest, BadApiPathsAndMethodsGetJsonErrors) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string head = cluster.metrics_address();
  auto colon = head.rfind(':');
  const std::string host = head.substr(0, colon);
  const int port = std::stoi(head.substr(colon + 1));

  auto unknown = testing::HttpGet(head, "/api/nodes");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.content_type, "application/json");
  nlohmann::json error = nlohmann::json::parse(unknown.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << unknown.body;
  EXPECT_THAT(error["error"].get<std::string>(), HasSubstr("no such path: /api/nodes"));
  EXPECT_THAT(error["error"].get<std::string>(), HasSubstr("/api/cluster"));

  auto post = testing::HttpCall(host, port, "POST", "/api/cluster");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.allow, "GET");  // before, and without, the secret
  error = nlohmann::json::parse(post.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << post.body;
  EXPECT_EQ(error["error"], "POST is not allowed on /api/cluster; use GET");

  // Outside /api/ errors stay plain text.
  auto missing = testing::HttpGet(head, "/favicon.ico");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.content_type, HasSubstr("text/plain"));
}

TEST(DashboardTest, TheJsonApiNeedsTheClusterSecret) {
  testing::DevCluster cluster({.nodes = 1});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string head = cluster.metrics_address();
  const std::string token = Token(cluster);
  ASSERT_FALSE(token.empty()) << "no auth_token in " << cluster.session_dir();

  auto refused = testing::HttpGet(head, "/api/cluster");
  EXPECT_EQ(refused.status, 401);
  nlohmann::json error = nlohmann::json::parse(refused.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << refused.body;
  EXPECT_THAT(error["error"].get<std::string>(),
              HasSubstr("/api/cluster needs the cluster secret: send 'Authorization: Bearer "
                        "TOKEN', or open the dashboard once as /?token=TOKEN"));
  EXPECT_EQ(testing::HttpGet(head, "/api/cluster", Bearer(token + "x")).status, 401);
  EXPECT_EQ(testing::HttpGet(head, "/api/cluster", {{"Cookie", "rayk_token=nope"}}).status, 401);
  EXPECT_EQ(testing::HttpGet(head, "/api/cluster", Bearer(token)).status, 200);

  // A browser: ?token= once sets the cookie its later requests carry.
  auto wrong = testing::HttpGet(head, "/?token=not-the-secret");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("the ?token= given is not this cluster's secret"));
  EXPECT_EQ(wrong.set_cookie, "");
  auto opened = testing::HttpGet(head, "/?token=" + token);
  EXPECT_EQ(opened.status, 200);
  EXPECT_EQ(opened.set_cookie, "rayk_token=" + token + "; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(testing::HttpGet(head, "/api/cluster", {{"Cookie", "theme=dark; rayk_token=" + token}})
                .status,
            200);

  // What shows no names or addresses stays open: the page's files, and the
  // metrics Prometheus scrapes.
  for (const char* path : {"/", "/dashboard.js", "/dashboard.css", "/metrics"}) {
    EXPECT_EQ(testing::HttpGet(head, path).status, 200) << path;
  }
}

TEST(DashboardTest, AClusterWithoutASecretServesTheApiToAnyone) {
  // A head started with --insecure-no-auth (`rayk dev up` always makes a
  // secret), stopped, and anything left of it killed, when the test ends.
  struct InsecureHead {
    testing::TempDir root;
    std::string env = "RAYK_SESSION_ROOT=" + root.path() + " " + RAYK_CLI_PATH + " ";
    ~InsecureHead() {
      testing::RunCommand(env + "stop");
      for (pid_t pid : testing::ProcessesMentioning(root.path())) kill(pid, SIGKILL);
    }
  } head;
  auto start = testing::RunCommand(
      head.env + "start --head --insecure-no-auth --num-cpus 1 --port " +
      std::to_string(testing::FreePort()) + " --config " + testing::TestConfigFile());
  ASSERT_EQ(start.exit_code, 0) << start.output;
  std::ifstream file(head.root.path() + "/session_latest/gcs_metrics_address");
  std::string address;
  std::getline(file, address);
  ASSERT_FALSE(address.empty()) << start.output;
  auto reply = testing::HttpGet(address, "/api/cluster");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.set_cookie, "");
  nlohmann::json state = nlohmann::json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(state.is_object()) << reply.body;
  EXPECT_EQ(state["nodes"].size(), 1u);
}

TEST(DashboardTest, ChromiumShowsTheNodesAndAnActorWithoutConsoleMessages) {
  if (!testing::HeadlessChromium::Installed()) {
    GTEST_SKIP() << "no " << testing::HeadlessChromium::kBinary
                 << "; install Debian's chromium package (scripts/install-deps.sh)";
  }
  testing::DevCluster cluster({.nodes = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.up().output;
  const std::string url = "http://" + cluster.metrics_address() + "/?token=" + Token(cluster);
  testing::JoinedDriver driver(cluster);
  auto counter = rayk::Actor(test_functions::Counter::Create).SetName("in_chromium").Remote(1);
  ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), 2);

  testing::HeadlessChromium chromium;
  auto shows_everything = [&](const std::string& dom) {
    for (int i = 0; i < 3; ++i) {
      if (dom.find(cluster.node_id(i)) == std::string::npos) return false;
    }
    return dom.find(">in_chromium<") != std::string::npos;
  };
  // The page renders what its first poll returns; load it again until
  // that shows everything (on a loaded machine a node's report may lag).
  testing::HeadlessChromium::Page page;
  for (auto deadline = std::chrono::steady_clock::now() + kPatience;
       std::chrono::steady_clock::now() < deadline;) {
    page = chromium.DumpDom(url);
    if (shows_everything(page.dom)) break;
  }
  ASSERT_EQ(page.exit_code, 0) << page.log;
  EXPECT_TRUE(shows_everything(page.dom)) << page.dom;
  EXPECT_THAT(page.dom, HasSubstr("3 of 3 nodes alive"));
  EXPECT_THAT(page.dom, HasSubstr("class=\"state state-ALIVE\">ALIVE<"));
  EXPECT_THAT(page.dom, HasSubstr("<span id=\"status\" class=\"status\">Updated "));
  EXPECT_TRUE(page.console.empty()) << ::testing::PrintToString(page.console);

  // docs/dashboard.png is made here, of this cluster:
  //   RAYK_DASHBOARD_SCREENSHOT=$PWD/docs/dashboard.png build/bin/dashboard_test
  //   --gtest_filter='*Chromium*'
  if (const char* png = std::getenv("RAYK_DASHBOARD_SCREENSHOT")) {
    auto shot = chromium.Screenshot(url, png);
    EXPECT_EQ(shot.exit_code, 0) << shot.output;
  }

  // Without the secret the page says what is missing.
  testing::HeadlessChromium stranger;
  auto refused = stranger.DumpDom("http://" + cluster.metrics_address() + "/", 1000);
  EXPECT_THAT(refused.dom, HasSubstr("/api/cluster needs the cluster secret"));
  EXPECT_THAT(refused.dom, ::testing::Not(HasSubstr(cluster.node_id(0))));

  // The page's own check works: a script error shows up as a console line.
  testing::HeadlessChromium probe;
  testing::TempDir site;
  site.Write("broken.html", "<script>notDefined();</script>");
  auto broken = probe.DumpDom("file://" + site.path() + "/broken.html", 1000);
  ASSERT_EQ(broken.console.size(), 1u) << broken.log;
  EXPECT_THAT(broken.console[0], HasSubstr("Uncaught ReferenceError: notDefined is not defined"));
}

}  // namespace
}  // namespace rayk
