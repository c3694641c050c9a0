// GCS fault tolerance with real processes: a cluster started by `rayk start
// --head` (whose supervisor restarts the GCS server) runs a workload of tasks
// and actor calls while the GCS server is SIGKILLed several times at random
// points. With the durable sqlite gcs plugin every result is right and the
// named actor, the KV entries and the job record are all there afterwards;
// with the volatile memory plugin the work goes on and the loss is reported.
// Also: the health check marks a stopped raylet dead and publishes it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/cluster_secret.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {
namespace {

using test_functions::Add;
using test_functions::Counter;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class GcsFaultToleranceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    env_ = "RAYK_SESSION_ROOT=" + root_.path() + " ";
    port_ = testing::FreePort();
  }
  void TearDown() override {
    if (rayk::IsInitialized()) rayk::Shutdown();
    testing::RunCommand(env_ + RAYK_CLI_PATH + " stop");
  }

  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Session() const { return root_.path() + "/session_latest"; }

  void StartHead(const std::string& gcs_plugin, const std::string& extra = "") {
    auto start = Rayk("start --head --port " + std::to_string(port_) +
                      " --num-cpus 2 --set gcs.plugin=" + gcs_plugin + " " + extra);
    ASSERT_EQ(start.exit_code, 0) << start.output;
  }

  pid_t GcsServerPid() {
    auto text = ReadFile(Session() + "/gcs_server.pid");
    return text.ok() ? static_cast<pid_t>(std::stol(*text)) : 0;
  }

  // SIGKILLs the GCS server and waits for its supervisor to bring a new one
  // up and for it to answer; returns how long that took.
  std::chrono::milliseconds KillGcsAndWaitForRestart() {
    pid_t old_pid = GcsServerPid();
    EXPECT_GT(old_pid, 0);
    auto killed_at = Clock::now();
    kill(old_pid, SIGKILL);
    while (Clock::now() - killed_at < std::chrono::seconds(30)) {
      pid_t pid = GcsServerPid();
      if (pid != 0 && pid != old_pid && Rayk("status --address " + Address()).exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  }

  testing::TempDir root_;
  std::string env_;
  int port_ = 0;
};

// A workload that checks every result: tasks, and calls on one actor whose
// count it knows. Runs on its own thread until stopped.
struct Workload {
  std::atomic<bool> stop{false};
  std::atomic<int> tasks_done{0};
  std::atomic<int> calls_done{0};
  std::atomic<int> wrong{0};
  std::string first_error;
  std::thread thread;

  void Start(std::optional<rayk::ActorHandle<Counter>> counter) {
    thread = std::thread([this, counter] {
      int expected_count = 0;
      for (int i = 0; !stop; ++i) {
        try {
          std::vector<rayk::ObjectRef<int>> sums;
          for (int k = 0; k < 8; ++k) sums.push_back(rayk::Task(Add).Remote(i, k));
          std::optional<rayk::ObjectRef<int>> incr;
          if (counter) incr = counter->Task(&Counter::Incr).Remote(1);
          for (int k = 0; k < 8; ++k) {
            if (*rayk::Get(sums[k], std::chrono::seconds(60)) != i + k) ++wrong;
            ++tasks_done;
          }
          if (incr) {
            if (*rayk::Get(*incr, std::chrono::seconds(60)) != ++expected_count) ++wrong;
            ++calls_done;
          }
        } catch (const std::exception& error) {
          if (first_error.empty()) first_error = error.what();
          ++wrong;
          return;
        }
      }
    });
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

TEST_F(GcsFaultToleranceTest, SqliteGcsSurvivesRepeatedKillsUnderLoad) {
  StartHead("sqlite");
  InitOptions options;
  options.address = Address();
  rayk::Init(options);
  auto counter = rayk::Actor(Counter::Create).SetName("ft-counter").SetLifetimeDetached().Remote(0);
  ASSERT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(0)), 0);
  ASSERT_TRUE(rayk::KvPut("ft/model", "v7"));
  ASSERT_TRUE(rayk::KvPut("ft/other", "x", "team-b"));

  Workload workload;
  workload.Start(counter);
  std::mt19937 random(std::random_device{}());
  std::vector<std::chrono::milliseconds> recoveries;
  for (int kill_round = 0; kill_round < 3; ++kill_round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + random() % 600));
    int before = workload.tasks_done;
    recoveries.push_back(KillGcsAndWaitForRestart());
    // Work goes on (while the GCS is down, too).
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (workload.tasks_done < before + 16 && workload.wrong == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(workload.wrong, 0) << workload.first_error;
    ASSERT_GE(workload.tasks_done, before + 16) << "tasks stopped after GCS kill " << kill_round;
  }
  workload.Stop();
  EXPECT_EQ(workload.wrong, 0) << workload.first_error;
  for (auto recovery : recoveries) std::cout << "GCS back after " << recovery.count() << " ms\n";

  // Everything the GCS held is there after three restarts.
  auto same = rayk::GetActor<Counter>("ft-counter");
  EXPECT_EQ(*rayk::Get(same.Task(&Counter::Value).Remote()), workload.calls_done.load());
  EXPECT_EQ(rayk::KvGet("ft/model"), std::optional<std::string>("v7"));
  EXPECT_EQ(rayk::KvGet("ft/other", "team-b"), std::optional<std::string>("x"));
  EXPECT_EQ(rayk::KvList("ft/"), std::vector<std::string>{"ft/model"});
  auto jobs = Rayk("list jobs --format json --address " + Address());
  ASSERT_EQ(jobs.exit_code, 0) << jobs.output;
  auto parsed = nlohmann::json::parse(jobs.output);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0]["status"], "RUNNING");
  auto status = Rayk("status --format json --address " + Address());
  ASSERT_EQ(status.exit_code, 0) << status.output;
  auto gcs = nlohmann::json::parse(status.output)["gcs"];
  EXPECT_EQ(gcs["restarts"], 3);
  EXPECT_EQ(gcs["lost_state"], "");
  rayk::Shutdown();
  auto after = Rayk("list jobs --format json --address " + Address());
  EXPECT_EQ(nlohmann::json::parse(after.output)[0]["status"], "FINISHED");
}

TEST_F(GcsFaultToleranceTest, MemoryGcsKillIsReportedAndTasksGoOn) {
  StartHead("memory");
  InitOptions options;
  options.address = Address();
  rayk::Init(options);
  auto counter = rayk::Actor(Counter::Create).SetName("volatile").Remote(0);
  ASSERT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(1)), 1);
  ASSERT_TRUE(rayk::KvPut("k", "v"));

  Workload workload;
  workload.Start(std::nullopt);
  KillGcsAndWaitForRestart();
  int before = workload.tasks_done;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (workload.tasks_done < before + 16 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  workload.Stop();
  EXPECT_EQ(workload.wrong, 0) << workload.first_error;
  EXPECT_GE(workload.tasks_done, before + 16);

  // What was lost is said, not hidden.
  auto status = Rayk("status --address " + Address());
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("restarted 1 time(s)"));
  EXPECT_THAT(status.output,
              HasSubstr("kept nothing: jobs, actors (named ones too) and KV entries"));
  EXPECT_EQ(rayk::KvGet("k"), std::nullopt);
  try {
    rayk::GetActor<Counter>("volatile");
    ADD_FAILURE() << "the named actor should be gone with the memory GCS";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("volatile"));
  }
}

// The health check: a raylet that stops reporting (SIGSTOP) is marked dead
// within the node timeout, and subscribers hear of it on the "node" topic.
TEST_F(GcsFaultToleranceTest, StoppedRayletIsMarkedDeadAndPublished) {
  StartHead("memory", "--node-timeout-ms 1000");
  std::string session = Session();
  auto publisher = ReadFile(session + "/gcs_publisher_address");
  ASSERT_TRUE(publisher.ok());
  PluginLoader loader;
  PluginContext member;  // the cluster's token, as every subscriber needs
  member.cluster_secret = FindClusterSecret(session).value();
  auto transport = loader.CreateSlot<Transport>(Config::Defaults(), member);
  ASSERT_TRUE(transport.ok());
  std::mutex mu;
  std::vector<protocol::NodeInfo> published;
  auto subscription =
      (*transport)->Subscribe(*publisher, {"node"}, [&](const std::string&, std::string payload) {
        auto node = protocol::Decode<protocol::RegisterNode>(payload);
        if (!node.ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        published.push_back(node->node);
      });
  ASSERT_TRUE(subscription.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the subscription connect

  pid_t raylet = 0;
  std::istringstream pids(ReadFile(session + "/pids").value());
  for (std::string line; std::getline(pids, line);) {  // "PID ROLE start=... exe=..."
    std::istringstream fields(line);
    int64_t pid = 0;
    std::string name;
    if (fields >> pid >> name && name == "raylet") raylet = static_cast<pid_t>(pid);
  }
  ASSERT_GT(raylet, 0);
  auto stopped_at = Clock::now();
  kill(raylet, SIGSTOP);
  bool seen = false;
  while (!seen && Clock::now() - stopped_at < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& node : published) seen |= !node.alive;
  }
  auto detected = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at);
  ASSERT_TRUE(seen) << "no death was published";
  EXPECT_GE(detected.count(), 900);
  auto nodes = Rayk("list nodes --address " + Address());
  EXPECT_THAT(nodes.output, HasSubstr("DEAD"));
  EXPECT_THAT(nodes.output, HasSubstr("missed its resource reports for 1000 ms"));
  // Resumed, it learns it was declared dead (its work has moved on) and
  // stops, as Ray's raylet does; it never comes back as the same node.
  kill(raylet, SIGCONT);
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && testing::ProcessRunning(raylet)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(testing::ProcessRunning(raylet)) << "the fenced raylet still runs";
  EXPECT_THAT(Rayk("list nodes --address " + Address()).output, Not(HasSubstr("ALIVE")));
}

TEST_F(GcsFaultToleranceTest, BadNodeTimeoutIsOneLine) {
  auto start = Rayk("start --head --port " + std::to_string(port_) + " --node-timeout-ms 0");
  EXPECT_NE(start.exit_code, 0);
  EXPECT_THAT(start.output, HasSubstr("--node-timeout-ms must be positive"));
}

// A database the GCS cannot use stops `rayk start` at once, with one line
// that names the file and what to do (the supervisor does not retry a GCS
// that never came up).
TEST_F(GcsFaultToleranceTest, BadDatabaseFileStopsStartWithOneLine) {
  std::string corrupt = root_.path() + "/corrupt.sqlite";
  std::ofstream(corrupt) << std::string(8192, '\x5a');
  auto start = Rayk("start --head --port " + std::to_string(port_) +
                    " --set gcs.plugin=sqlite --set gcs.sqlite.path=" + corrupt);
  EXPECT_NE(start.exit_code, 0);
  EXPECT_EQ(testing::CountLines(start.output), 1) << start.output;
  EXPECT_THAT(start.output, HasSubstr(corrupt + " is not a valid rayk GCS database"));

  // The same file cannot serve two clusters.
  std::string shared = root_.path() + "/shared.sqlite";
  StartHead("sqlite", "--set gcs.sqlite.path=" + shared);
  auto second =
      testing::RunCommand("RAYK_SESSION_ROOT=" + root_.path() + "/other " + RAYK_CLI_PATH +
                          " start --head --port " + std::to_string(testing::FreePort()) +
                          " --set gcs.plugin=sqlite --set gcs.sqlite.path=" + shared);
  EXPECT_NE(second.exit_code, 0);
  EXPECT_EQ(testing::CountLines(second.output), 1) << second.output;
  EXPECT_THAT(second.output, HasSubstr("locked"));
  testing::RunCommand("RAYK_SESSION_ROOT=" + root_.path() + "/other " + RAYK_CLI_PATH + " stop");
}

// A plugin the GCS server cannot create fails the same way on every start:
// the supervisor stops at once with the plugin's message (exit code 78,
// EX_CONFIG) instead of restarting it; a crash is still restarted (above).
TEST_F(GcsFaultToleranceTest, AConfigurationErrorIsNotRestarted) {
  std::string session = root_.path() + "/session_config_error";
  std::filesystem::create_directories(session + "/logs");
  auto supervised = testing::RunCommand(
      std::string(RAYK_CLI_PATH) + " gcs-server --supervise --session-dir " + session + " --port " +
      std::to_string(port_) +
      " --node-ip-address 127.0.0.1 --set transport.zmq.auth=false --set scheduler.plugin=nosuch");
  EXPECT_EQ(supervised.exit_code, 78) << supervised.output;
  EXPECT_THAT(supervised.output, HasSubstr("cannot start with this configuration, so it is not "
                                           "restarted: gcs-server: "));
  EXPECT_THAT(supervised.output, HasSubstr("nosuch"));
  EXPECT_THAT(supervised.output, Not(HasSubstr("restarting it")));
  // The server ran once: its log has one failure.
  std::ifstream log(session + "/logs/gcs_server.log");
  int failures = 0;
  for (std::string line; std::getline(log, line);)
    failures += line.rfind("rayk gcs-server: ", 0) == 0;
  EXPECT_EQ(failures, 1);
}

}  // namespace
}  // namespace rayk
