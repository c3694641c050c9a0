// A cluster as a user drives it from the shell: rayk start --head, a job
// run against it (an example executable, and `rayk run` of its library),
// rayk status, rayk stop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_fixture.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class CliClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = "RAYK_SESSION_ROOT=" + root_.path() + " ";
    port_ = testing::FreePort();
  }
  void TearDown() override { testing::RunCommand(env_ + RAYK_CLI_PATH + " stop"); }

  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  testing::TempDir root_;
  std::string env_;
  int port_ = 0;
};

TEST_F(CliClusterTest, StartRunStatusStop) {
  auto start = Rayk("start --head --port " + std::to_string(port_) + " --num-cpus 2 --config " +
                    testing::TestConfigFile());
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_THAT(start.output, HasSubstr("GCS address: " + Address()));

  auto pi = testing::RunCommand(env_ + "RAYK_ADDRESS=" + Address() + " " + RAYK_BINARY_DIR +
                                "/bin/pi 8 20000");
  ASSERT_EQ(pi.exit_code, 0) << pi.output;
  EXPECT_THAT(pi.output, HasSubstr("pi ~= 3.1"));

  auto run = Rayk("run " + std::string(RAYK_BINARY_DIR) + "/lib/libfibonacci_job.so --address " +
                  Address() + " -- 10");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("fibonacci(10) = 55"));

  auto status = Rayk("status");
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("ALIVE"));
  EXPECT_THAT(status.output, HasSubstr("/2 CPU used"));
  EXPECT_THAT(status.output, HasSubstr("Jobs: 0 running, 2 finished"));

  auto json = Rayk("status --format json --address " + Address());
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto parsed = nlohmann::json::parse(json.output);
  ASSERT_EQ(parsed["nodes"].size(), 1u);
  EXPECT_EQ(parsed["nodes"][0]["total"]["CPU"], 2);

  auto stop = Rayk("stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_THAT(stop.output, HasSubstr("Stopped raylet"));
  EXPECT_THAT(stop.output, HasSubstr("Stopped gcs-server"));
  auto after = Rayk("status --address " + Address());
  EXPECT_NE(after.exit_code, 0);
  EXPECT_THAT(after.output, HasSubstr("no answer from the GCS"));
}

TEST_F(CliClusterTest, PortInUseIsReported) {
  auto first = Rayk("start --head --port " + std::to_string(port_) + " --num-cpus 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto second = Rayk("start --head --port " + std::to_string(port_) + " --num-cpus 1");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.output, HasSubstr("the GCS server did not start"));
}

TEST_F(CliClusterTest, BadStartArguments) {
  auto neither = Rayk("start");
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_THAT(neither.output, HasSubstr("exactly one of --head"));
  auto resources = Rayk("start --head --resources '{\"GPU\": \"many\"}'");
  EXPECT_NE(resources.exit_code, 0);
  EXPECT_THAT(resources.output, HasSubstr("resource 'GPU'"));
  auto run = Rayk("run /nonexistent/libjob.so");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr("/nonexistent/libjob.so does not exist"));
}

TEST_F(CliClusterTest, EmbeddedClusterEndsWithAKilledDriver) {
  pid_t driver = fork();
  if (driver == 0) {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    execl((std::string(RAYK_BINARY_DIR) + "/bin/pi").c_str(), "pi", "100000", "1000000", nullptr);
    _exit(127);
  }
  // Wait until its cluster runs a worker, then kill the driver outright.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (testing::CountProcessesMentioning(root_.path(), "--worker-id") == 0 ||
         testing::CountProcessesMentioning(root_.path()) < 3) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int started = testing::CountProcessesMentioning(root_.path());
  kill(driver, SIGKILL);
  waitpid(driver, nullptr, 0);
  ASSERT_GT(started, 2) << "the embedded cluster did not start";
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (testing::CountProcessesMentioning(root_.path()) > 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "GCS, raylet or workers outlived their driver";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_F(CliClusterTest, KilledDriverReleasesWhatItHeld) {
  auto start = Rayk("start --head --port " + std::to_string(port_) + " --num-cpus 2");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  pid_t driver = fork();
  if (driver == 0) {
    setenv("RAYK_ADDRESS", Address().c_str(), 1);
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);  // where the driver finds the token
    execl((std::string(RAYK_BINARY_DIR) + "/bin/pi").c_str(), "pi", "100000", "1000000", nullptr);
    _exit(127);
  }
  auto status = [this] {
    auto json = Rayk("status --format json --address " + Address());
    return json.exit_code == 0 ? nlohmann::json::parse(json.output) : nlohmann::json();
  };
  // Wait until the driver's tasks hold both CPUs, then kill it outright.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    auto now = status();
    if (!now.is_null() && now["nodes"][0]["available"].value("CPU", 0.0) == 0.0)
      break;  // absent: none free
    if (std::chrono::steady_clock::now() > deadline) {
      kill(driver, SIGKILL);
      waitpid(driver, nullptr, 0);
      FAIL() << "the driver's tasks never took the CPUs";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(driver, SIGKILL);
  waitpid(driver, nullptr, 0);
  // The raylet notices, ends the job, and frees its CPUs and workers.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    auto now = status();
    if (!now.is_null() && now["nodes"][0]["available"].value("CPU", 0.0) == 2.0 &&
        now["nodes"][0]["workers"] == 0 && now["jobs"]["running"] == 0) {
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "a killed driver's job kept its resources: " << now.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_F(CliClusterTest, StatusWithoutAClusterSaysHowToStartOne) {
  auto status = Rayk("status");
  EXPECT_NE(status.exit_code, 0);
  EXPECT_THAT(status.output, HasSubstr("rayk start --head"));
}

}  // namespace
}  // namespace rayk
