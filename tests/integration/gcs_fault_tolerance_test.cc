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
#include <set>
#include <thread>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/cluster_secret.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"
#include "redis_server.h"
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

// The redis store, with Redis itself failing: SIGKILLed while the cluster
// runs and restarted from its append-only file. A KV write made meanwhile
// waits for it (the store retries with backoff) and nothing acknowledged is
// lost; tasks never needed Redis; the GCS carries on afterwards.
TEST_F(GcsFaultToleranceTest, RedisGcsRidesOutARedisRestartFromItsAppendOnlyFile) {
  testing::RedisServer redis;
  StartHead("redis", "--set gcs.redis.address=" + redis.address());
  InitOptions options;
  options.address = Address();
  rayk::Init(options);
  auto counter =
      rayk::Actor(Counter::Create).SetName("redis-counter").SetLifetimeDetached().Remote(0);
  ASSERT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(0)), 0);
  ASSERT_TRUE(rayk::KvPut("redis/model", "v1"));
  EXPECT_THAT(redis.Cli("HLEN rayk:table:kv"), Not(HasSubstr("0")));

  Workload workload;
  workload.Start(counter);
  redis.Kill();
  // Made while Redis is down: acknowledged only once Redis has it.
  bool put_during_outage = false;
  std::thread during([&] { put_during_outage = rayk::KvPut("redis/during", "outage"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  redis.Restart();
  during.join();
  EXPECT_TRUE(put_during_outage);
  int before = workload.tasks_done;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (workload.tasks_done < before + 16 && workload.wrong == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  workload.Stop();
  EXPECT_EQ(workload.wrong, 0) << workload.first_error;

  EXPECT_EQ(rayk::KvGet("redis/model"), std::optional<std::string>("v1"));
  EXPECT_EQ(rayk::KvGet("redis/during"), std::optional<std::string>("outage"));
  ASSERT_TRUE(rayk::KvPut("redis/after", "v2"));
  EXPECT_EQ(rayk::KvGet("redis/after"), std::optional<std::string>("v2"));
  auto same = rayk::GetActor<Counter>("redis-counter");
  EXPECT_EQ(*rayk::Get(same.Task(&Counter::Value).Remote()), workload.calls_done.load());
  // And once more with the GCS itself restarted by its supervisor: it takes
  // its own lease back and reloads the tables from Redis.
  KillGcsAndWaitForRestart();
  EXPECT_EQ(rayk::KvGet("redis/during"), std::optional<std::string>("outage"));
  auto status = Rayk("status --format json --address " + Address());
  ASSERT_EQ(status.exit_code, 0) << status.output;
  auto gcs = nlohmann::json::parse(status.output)["gcs"];
  EXPECT_EQ(gcs["restarts"], 1);
  EXPECT_EQ(gcs["lost_state"], "");
}

// Runs `rayk stop` for a session root when it goes, so that a cluster a test
// starts beside the fixture's is stopped even when the test fails.
struct StopsSessionRoot {
  std::string root;
  ~StopsSessionRoot() {
    testing::RunCommand("RAYK_SESSION_ROOT=" + root + " " + RAYK_CLI_PATH + " stop");
  }
};

// SIGKILLs every process a session recorded (the GCS, its supervisor and the
// head's raylet): the head machine is lost.
void KillSession(const std::string& session) {
  auto recorded = ReadFile(session + "/pids");
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  std::istringstream pids(*recorded);
  for (std::string line; std::getline(pids, line);) {  // "PID ROLE start=... exe=..."
    int64_t pid = 0;
    if (std::istringstream(line) >> pid && pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

// What the failover test's second driver printed.
std::string DriverLog(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : "(no log: " + text.status().message() + ")";
}

// Failover: the head (GCS, supervisor, raylet) is lost; a new head on another
// port, on the same Redis and key prefix, takes over. A node that was given
// both heads' addresses re-registers with the new one by itself; a driver
// given both finds the one that is up; the detached named actor on that node
// answers by name with its state, and the KV entries and the job table are
// those the old head wrote.
TEST_F(GcsFaultToleranceTest, NewHeadOnTheSameRedisTakesOverFromALostHead) {
  testing::RedisServer redis;
  const std::string token(64, 'f');
  const char* had_token = getenv("RAYK_AUTH_TOKEN");
  setenv("RAYK_AUTH_TOKEN", token.c_str(), 1);
  struct RestoreToken {
    std::optional<std::string> old;
    ~RestoreToken() {
      old ? setenv("RAYK_AUTH_TOKEN", old->c_str(), 1) : unsetenv("RAYK_AUTH_TOKEN");
    }
  } restore{had_token ? std::optional<std::string>(had_token) : std::nullopt};
  const std::string redis_gcs =
      " --set gcs.redis.address=" + redis.address() + " --set gcs.redis.lease_ms=1000";
  StartHead("redis", redis_gcs);
  const int new_port = testing::FreePort();
  const std::string both_heads = Address() + ",127.0.0.1:" + std::to_string(new_port);

  // A second node, which knows both heads' addresses, with a resource the
  // head lacks: one unit for the actor, one for the driver's task.
  StopsSessionRoot node_root{root_.path() + "/node"};
  StopsSessionRoot new_head_root{root_.path() + "/new-head"};
  auto node = testing::RunCommand("RAYK_SESSION_ROOT=" + node_root.root + " " + RAYK_CLI_PATH +
                                  " start --address " + both_heads +
                                  " --num-cpus 2 --resources '{\"survivor\": 2}'");
  ASSERT_EQ(node.exit_code, 0) << node.output;

  InitOptions options;
  options.address = Address();
  // The later driver (the same options) finds the actor by name in this namespace.
  options.namespace_name = "failover";
  rayk::Init(options);
  auto counter = rayk::Actor(Counter::Create)
                     .SetName("failover-counter")
                     .SetLifetimeDetached()
                     .SetResource("survivor", 1)
                     .Remote(0);
  ASSERT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(41)), 41);
  ASSERT_TRUE(rayk::KvPut("failover/model", "v9"));
  rayk::Shutdown();

  // A driver on the surviving node, given both heads and connected
  // throughout, whose task is running there when the head is lost.
  const std::string markers = root_.path() + "/stall-markers";
  std::filesystem::create_directories(markers);
  const std::string driver_log = root_.path() + "/stall-driver.log";
  auto spawned = SpawnProcess(
      {std::string(RAYK_BINARY_DIR) + "/bin/rayk_second_driver", "stall", markers, "6000"},
      driver_log, false, {"RAYK_ADDRESS=" + both_heads, "RAYK_SESSION_ROOT=" + node_root.root});
  ASSERT_TRUE(spawned.ok()) << spawned.status().ToString();
  struct ReapDriver {
    pid_t pid;
    int status = -1;
    bool Exited(std::chrono::seconds patience) {
      for (auto end = Clock::now() + patience; pid > 0 && Clock::now() < end;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
          pid = 0;
        else
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return pid == 0;
    }
    ~ReapDriver() {
      if (pid > 0 && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
    }
  } driver{*spawned};
  auto runs = [&] {
    return std::distance(std::filesystem::directory_iterator(markers),
                         std::filesystem::directory_iterator{});
  };
  for (auto end = Clock::now() + std::chrono::seconds(60); runs() == 0 && Clock::now() < end;) {
    ASSERT_FALSE(driver.Exited(std::chrono::seconds(0))) << DriverLog(driver_log);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(runs(), 1) << "the driver's task did not start: " << DriverLog(driver_log);

  ASSERT_NO_FATAL_FAILURE(KillSession(Session()));
  auto start = testing::RunCommand("RAYK_SESSION_ROOT=" + new_head_root.root + " " + RAYK_CLI_PATH +
                                   " start --head --num-cpus 1 --port " + std::to_string(new_port) +
                                   " --set gcs.plugin=redis" + redis_gcs);
  ASSERT_EQ(start.exit_code, 0) << start.output;

  // The surviving node reports to the new head by itself: when the new GCS
  // declares the lost head's node dead (both were loaded alive from Redis and
  // given one node timeout to report), the survivor is still alive.
  const std::string new_address = "127.0.0.1:" + std::to_string(new_port);
  nlohmann::json nodes;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  auto lost_head_dead = [&] {
    for (const auto& n : nodes) {
      if (n["alive"] == false && !n["total"].contains("survivor")) return true;
    }
    return false;
  };
  while (!lost_head_dead() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto listed = Rayk("list nodes --format json --address " + new_address);
    if (listed.exit_code == 0) nodes = nlohmann::json::parse(listed.output);
  }
  ASSERT_TRUE(lost_head_dead()) << nodes.dump();
  int survivors = 0;
  for (const auto& n : nodes) survivors += n["alive"] == true && n["total"].contains("survivor");
  ASSERT_EQ(survivors, 1) << "the surviving node did not re-register: " << nodes.dump();

  auto actors = Rayk("list actors --address " + new_address);
  EXPECT_THAT(actors.output, HasSubstr("failover-counter")) << actors.output;
  EXPECT_THAT(actors.output, HasSubstr("ALIVE")) << actors.output;

  options.address = both_heads;  // the old head first: it does not answer
  rayk::Init(options);
  auto same = rayk::GetActor<Counter>("failover-counter");
  EXPECT_EQ(*rayk::Get(same.Task(&Counter::Incr).Remote(1)), 42) << "the actor lost its state";
  EXPECT_EQ(rayk::KvGet("failover/model"), std::optional<std::string>("v9"));
  EXPECT_TRUE(rayk::KvPut("failover/after", "x"));
  auto sum = rayk::Task(Add).Remote(2, 3);
  EXPECT_EQ(*rayk::Get(sum, std::chrono::seconds(60)), 5);
  auto jobs = Rayk("list jobs --format json --address " + new_address);
  ASSERT_EQ(jobs.exit_code, 0) << jobs.output;
  auto parsed = nlohmann::json::parse(jobs.output);
  ASSERT_EQ(parsed.size(), 3u) << jobs.output;  // listed by job id, not by age
  std::multiset<std::string> statuses = {parsed[0]["status"], parsed[1]["status"],
                                         parsed[2]["status"]};
  EXPECT_GE(statuses.count("FINISHED"), 1u) << "the old head's job: " << jobs.output;
  EXPECT_GE(statuses.count("RUNNING"), 1u) << "this job: " << jobs.output;
  rayk::Shutdown();

  // The task that ran through the loss finished once, not retried, and the
  // driver went on with the new head.
  ASSERT_TRUE(driver.Exited(std::chrono::seconds(120))) << DriverLog(driver_log);
  std::string said = DriverLog(driver_log);
  EXPECT_TRUE(WIFEXITED(driver.status) && WEXITSTATUS(driver.status) == 0) << said;
  EXPECT_THAT(said, HasSubstr("stalled 42 then 5"));
  EXPECT_EQ(runs(), 1) << "the running task was run again";
  // Each driver ended its job at the new head.
  jobs = Rayk("list jobs --format json --address " + new_address);
  ASSERT_EQ(jobs.exit_code, 0) << jobs.output;
  for (const auto& job : nlohmann::json::parse(jobs.output)) {
    EXPECT_EQ(job["status"], "FINISHED") << jobs.output;
  }
}

// Redis down for longer than the store's retry window: the call that needed
// it fails (it was never acknowledged), `rayk status` says the store is
// failing and why, and the warning goes once Redis is back.
TEST_F(GcsFaultToleranceTest, RedisOutagePastTheRetryWindowFailsTheCallAndShowsInStatus) {
  testing::RedisServer redis;
  StartHead("redis",
            "--set gcs.redis.address=" + redis.address() + " --set gcs.redis.retry_timeout_ms=300");
  InitOptions options;
  options.address = Address();
  rayk::Init(options);
  ASSERT_TRUE(rayk::KvPut("kept", "1"));
  redis.Kill();
  try {
    rayk::KvPut("refused", "x");
    ADD_FAILURE() << "a KV put was acknowledged while Redis was down";
  } catch (const std::exception& error) {
    EXPECT_THAT(error.what(), HasSubstr("Redis at " + redis.address()));
  }
  auto status = Rayk("status --address " + Address());
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("GCS store failing since "));
  EXPECT_THAT(status.output, HasSubstr("Redis at " + redis.address()));
  auto json = Rayk("status --format json --address " + Address());
  EXPECT_THAT(nlohmann::json::parse(json.output)["gcs"]["store_error"].get<std::string>(),
              HasSubstr("Redis at " + redis.address()));

  redis.Restart();
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline &&
         Rayk("status --address " + Address()).output.find("GCS store failing") !=
             std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(Rayk("status --address " + Address()).output, Not(HasSubstr("GCS store failing")));
  EXPECT_EQ(rayk::KvGet("kept"), std::optional<std::string>("1"));
  EXPECT_EQ(rayk::KvGet("refused"), std::nullopt);
}

// A request stuck on a failing Redis for longer than the node timeout keeps
// the node reports waiting behind it; the GCS does not blame the nodes: no
// node is declared dead, and tasks run once Redis is back.
TEST_F(GcsFaultToleranceTest, ARequestStuckOnRedisMakesNoNodeDead) {
  testing::RedisServer redis;
  StartHead("redis", "--node-timeout-ms 1000 --set gcs.redis.address=" + redis.address() +
                         " --set gcs.redis.retry_timeout_ms=4000");
  InitOptions options;
  options.address = Address();
  rayk::Init(options);
  ASSERT_TRUE(rayk::KvPut("kept", "1"));
  redis.Kill();
  // Four seconds on the GCS's request thread: four node timeouts without a report read.
  EXPECT_THROW(rayk::KvPut("refused", "x"), std::exception);
  redis.Restart();
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline &&
         Rayk("status --address " + Address()).output.find("GCS store failing") !=
             std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto nodes = Rayk("list nodes --format json --address " + Address());
  ASSERT_EQ(nodes.exit_code, 0) << nodes.output;
  for (const auto& node : nlohmann::json::parse(nodes.output)) {
    EXPECT_EQ(node["alive"], true) << nodes.output;
  }
  std::ifstream log(Session() + "/logs/gcs_server.log");
  std::string text(std::istreambuf_iterator<char>(log), {});
  EXPECT_THAT(text, Not(HasSubstr("marking it dead")));
  EXPECT_THAT(text, HasSubstr("could not read node reports for a while"));
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 3), std::chrono::seconds(60)), 5);
  rayk::Shutdown();
}

// A head cannot be started on a Redis it cannot use; the reason is one line.
TEST_F(GcsFaultToleranceTest, UnusableRedisStopsStartWithOneLine) {
  std::string nowhere = "127.0.0.1:" + std::to_string(testing::FreePort());
  auto start = Rayk("start --head --port " + std::to_string(port_) +
                    " --set gcs.plugin=redis --set gcs.redis.address=" + nowhere);
  EXPECT_NE(start.exit_code, 0);
  EXPECT_EQ(testing::CountLines(start.output), 1) << start.output;
  EXPECT_THAT(start.output, HasSubstr("cannot reach Redis at " + nowhere));

  // Its key prefix already belongs to a live cluster.
  testing::RedisServer redis;
  StartHead("redis", "--set gcs.redis.address=" + redis.address());
  auto second =
      testing::RunCommand("RAYK_SESSION_ROOT=" + root_.path() + "/other " + RAYK_CLI_PATH +
                          " start --head --port " + std::to_string(testing::FreePort()) +
                          " --set gcs.plugin=redis --set gcs.redis.address=" + redis.address() +
                          " --set gcs.redis.lease_ms=1000");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_EQ(testing::CountLines(second.output), 1) << second.output;
  EXPECT_THAT(second.output, HasSubstr("key prefix 'rayk:' on Redis at " + redis.address() +
                                       " is held by a live cluster"));
  testing::RunCommand("RAYK_SESSION_ROOT=" + root_.path() + "/other " + RAYK_CLI_PATH + " stop");
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
  auto transport = loader.CreateSlot<Transport>(testing::TestConfig(), member);
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
      std::to_string(port_) + " --node-ip-address 127.0.0.1 --set transport." +
      testing::TestTransport() + ".auth=false --set scheduler.plugin=nosuch");
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
