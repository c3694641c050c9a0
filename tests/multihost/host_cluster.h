// HostCluster: a rayk cluster over NetworkHosts (network_hosts.h), started
// as a user would on separate machines: `rayk start --head` on host 0,
// `rayk start --address` on the next hosts, each with its own session root;
// the hosts after the nodes are left for drivers. Stops its nodes when it
// goes. Used by the multi-host tests and the cross-host benchmark.
#pragma once

#include <fstream>
#include <string>

#include "multihost/network_hosts.h"
#include "test_util.h"

namespace rayk::testing {

constexpr int kGcsPort = 6379;  // each host has its own network stack: no clash

// A cluster of `nodes` rayk nodes over NetworkHosts: node i on host i, the
// head on host 0; the hosts after the nodes are left for drivers.
class HostCluster {
 public:
  HostCluster(NetworkHosts& hosts, int nodes) : hosts_(hosts), nodes_(nodes) {}
  ~HostCluster() {
    for (int i = 0; i < nodes_; ++i) Rayk(i, "stop");
  }

  std::string head() const { return hosts_.address(0) + ":" + std::to_string(kGcsPort); }

  // `rayk ARGS` on host i, with that host's own session root.
  CommandResult Rayk(int i, const std::string& args) const {
    return hosts_.Run(i, Env(i) + RAYK_CLI_PATH + " " + args);
  }

  // Starts the head and the nodes; the error output of the first that fails.
  std::string Start(const std::string& head_args = "") {
    const std::string config = " --num-cpus 2 --config " + TestConfigFile();
    auto started =
        Rayk(0, "start --head --port " + std::to_string(kGcsPort) + " --node-ip-address " +
                    hosts_.address(0) + config + " " + head_args);
    if (started.exit_code != 0) return "head: " + started.output;
    // The cluster's token, which the other hosts are given as the head's
    // output says: RAYK_AUTH_TOKEN=$(cat .../auth_token).
    std::ifstream token_file(root_.path() + "/host0/session_latest/auth_token");
    if (!std::getline(token_file, token_) || token_.empty())
      return "head: no auth_token in its session";
    for (int i = 1; i < nodes_; ++i) {
      started = Rayk(i, "start --address " + head() + config);  // its address found by route
      if (started.exit_code != 0) return "node " + std::to_string(i) + ": " + started.output;
    }
    return "";
  }

  // A program on host i run as a driver of this cluster.
  CommandResult Driver(int i, const std::string& program) const {
    return hosts_.Run(i, Env(i) + "RAYK_ADDRESS=" + head() + " " + program);
  }

 private:
  // Drivers read the nodes' plugins.toml too: $RAYK_CONFIG (cluster_fixture.h).
  std::string Env(int i) const {
    return "RAYK_SESSION_ROOT=" + root_.path() + "/host" + std::to_string(i) + " " +
           "RAYK_CONFIG=" + TestConfigFile() + " " +
           (token_.empty() ? "" : "RAYK_AUTH_TOKEN=" + token_ + " ");
  }

  NetworkHosts& hosts_;
  int nodes_;
  TempDir root_;
  std::string token_;
};

}  // namespace rayk::testing
