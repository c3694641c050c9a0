// Ports for firewalls: `rayk start --node-manager-port N --min-worker-port A
// --max-worker-port B` puts the raylet on N and every worker, and every
// driver on that node's host, on a port of A..B (common/port_range.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cluster_fixture.h"
#include "common/host_address.h"
#include "core_worker/core_worker.h"
#include "functions/test_functions.h"
#include "process/session.h"
#include "rayk/internal/runtime.h"

namespace rayk {
namespace {

using test_functions::Add;
using test_functions::Counter;
using ::testing::HasSubstr;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class NodePortsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    unsetenv("RAYK_AUTH_TOKEN");
    env_ = "RAYK_SESSION_ROOT=" + root_.path() + " ";
    gcs_port_ = testing::FreePort();
    node_manager_port_ = testing::FreePort();
    // A block of ports nobody uses a moment ago is likely free still.
    min_ = testing::FreePort();
    if (min_ > 65000) min_ = 40000;
    max_ = min_ + 40;
  }
  void TearDown() override {
    if (rayk::IsInitialized()) rayk::Shutdown();
    Rayk("stop");
  }
  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  std::string Ports() const {
    return " --min-worker-port " + std::to_string(min_) + " --max-worker-port " +
           std::to_string(max_);
  }
  bool InRange(int port) const { return port >= min_ && port <= max_; }

  testing::TempDir root_;
  std::string env_;
  int gcs_port_ = 0, node_manager_port_ = 0, min_ = 0, max_ = 0;
};

TEST_F(NodePortsTest, RayletWorkersAndLocalDriversListenOnTheGivenPorts) {
  auto start = Rayk("start --head --num-cpus 2 --port " + std::to_string(gcs_port_) +
                    " --node-manager-port " + std::to_string(node_manager_port_) + Ports() +
                    " --config " + testing::TestConfigFile());
  ASSERT_EQ(start.exit_code, 0) << start.output;
  auto raylet = ReadFile(root_.path() + "/session_latest/raylet_address");
  ASSERT_TRUE(raylet.ok());
  EXPECT_EQ(PortOf(*raylet), node_manager_port_) << *raylet;

  InitOptions options;
  options.address = "127.0.0.1:" + std::to_string(gcs_port_);
  rayk::Init(options);
  auto* core = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
  ASSERT_NE(core, nullptr);
  EXPECT_TRUE(InRange(PortOf(core->address()))) << "driver at " << core->address();

  EXPECT_EQ(*rayk::Get(rayk::Task(Add).Remote(2, 3)), 5);
  auto a = rayk::Actor(Counter::Create).Remote(0);
  auto b = rayk::Actor(Counter::Create).Remote(10);
  EXPECT_EQ(*rayk::Get(a.Task(&Counter::Incr).Remote(1)), 1);
  EXPECT_EQ(*rayk::Get(b.Task(&Counter::Incr).Remote(1)), 11);
  auto actors = Rayk("list actors --format json --address 127.0.0.1:" + std::to_string(gcs_port_));
  auto json = nlohmann::json::parse(actors.output, nullptr, false);
  ASSERT_TRUE(json.is_array()) << actors.output;
  ASSERT_EQ(json.size(), 2u) << actors.output;
  for (const auto& actor : json) {
    std::string address = actor.value("address", "");
    ASSERT_FALSE(address.empty()) << actors.output;
    EXPECT_TRUE(InRange(PortOf(address))) << "actor worker at " << address;
  }
}

TEST_F(NodePortsTest, PortsThatCannotWorkAreRefusedInOneLine) {
  struct Case {
    std::string args;
    std::string says;
  };
  const std::string port = " --port " + std::to_string(gcs_port_);
  for (const Case& bad : {
           Case{" --min-worker-port 20000 --max-worker-port 10000",
                "--min-worker-port/--max-worker-port 20000-10000 is not a port range"},
           Case{" --min-worker-port 20000", "give both"},
           Case{" --node-manager-port 70000", "--node-manager-port 70000 is not a port"},
           Case{" --min-worker-port " + std::to_string(gcs_port_ - 5) + " --max-worker-port " +
                    std::to_string(gcs_port_ + 5),
                "holds the GCS, publisher or node manager port"},
           Case{" --node-manager-port " + std::to_string(gcs_port_), "is taken by the GCS"},
       }) {
    auto start = Rayk("start --head" + port + bad.args);
    EXPECT_NE(start.exit_code, 0) << bad.args;
    EXPECT_THAT(start.output, HasSubstr(bad.says)) << bad.args;
    EXPECT_EQ(testing::CountLines(start.output), 1) << start.output;
  }
}

TEST_F(NodePortsTest, AFullRangeFailsTheWorkerWithAClearReason) {
  // A one-port range that the raylet itself holds: no worker can listen.
  auto start = Rayk("start --head --num-cpus 1 --port " + std::to_string(gcs_port_) +
                    " --node-manager-port " + std::to_string(node_manager_port_) +
                    " --min-worker-port " + std::to_string(min_) + " --max-worker-port " +
                    std::to_string(min_) + " --config " + testing::TestConfigFile());
  ASSERT_EQ(start.exit_code, 0) << start.output;
  InitOptions options;
  options.address = "127.0.0.1:" + std::to_string(gcs_port_);
  rayk::Init(options);  // the driver takes the only port
  try {
    rayk::Get(rayk::Task(Add).Remote(1, 1), std::chrono::milliseconds(60000));
    FAIL() << "no worker can start";
  } catch (const RaykError& error) {
    EXPECT_THAT(error.what(), HasSubstr("no free port in " + std::to_string(min_)));
  }
}

}  // namespace
}  // namespace rayk
