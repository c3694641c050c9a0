// A test fixture that starts an embedded cluster (a real GCS server, raylet
// and worker processes on loopback, the default transport or $RAYK_CONFIG's)
// in a private session root for each test, and stops it afterwards even when
// the test fails.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "rayk/api.h"
#include "rayk/host/config.h"
#include "test_util.h"

namespace rayk::testing {

// A TCP port that was free a moment ago.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// That file, loaded: for a test that makes a transport (or a GCS, a raylet)
// of its own to talk to its cluster, which must use the cluster's plugins.
inline Config TestConfig() {
  auto config = Config::LoadFile(TestConfigFile());
  if (!config.ok()) {
    ADD_FAILURE() << config.status().ToString();
    return Config::Defaults();
  }
  return *config;
}

// The transport the tests' clusters use ("zmq", "asio"), for the settings
// that name it (--set transport.<name>.auth=false).
inline std::string TestTransport() { return TestConfig().slot(PluginKind::kTransport).plugin; }

// Bounds a test's wait for work on its cluster, so that a broken runtime fails
// the test instead of hanging it; never a performance check.
inline constexpr std::chrono::milliseconds kPatience{60000};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", session_root_.path().c_str(), 1);
    InitOptions options;
    options.num_cpus = 2;
    options.config_file = TestConfigFile();
    Customize(options);
    rayk::Init(options);
  }
  void TearDown() override { rayk::Shutdown(); }
  virtual void Customize(InitOptions& /*options*/) {}

  // How many objects the (first) node's store holds, from `rayk memory`.
  uint64_t StoredObjects() {
    std::string address;
    std::ifstream(session_root_.path() + "/session_latest/gcs_address") >> address;
    auto json = RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " + RAYK_CLI_PATH +
                           " memory --format json --address " + address);
    EXPECT_EQ(json.exit_code, 0) << json.output;
    if (json.exit_code != 0) return 0;
    return nlohmann::json::parse(json.output)["nodes"][0]["num_objects"].get<uint64_t>();
  }

  TempDir session_root_;
};

}  // namespace rayk::testing
