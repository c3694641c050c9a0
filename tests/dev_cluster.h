// DevCluster: a multi-node cluster for a test, started the way a user starts
// one (`rayk dev up --nodes N`) in a private session root on a free port.
//
// It exposes what tests need to aim at and hurt single nodes: the GCS
// address, and each node's id, raylet address and raylet pid by index (read
// from the nodes/<i>/node.json files `rayk dev up` and `rayk dev add-node`
// write). Its destructor runs `rayk dev down` and then SIGKILLs whatever the
// session recorded that still runs, so a failing test leaves nothing behind.
//
//   DevCluster cluster({.nodes = 3, .node_timeout_ms = 1000});
//   ASSERT_TRUE(cluster.ok()) << cluster.up().output;
//   testing::JoinedDriver driver(cluster);  // rayk::Init with its address
//   cluster.KillNode(1);
//
// Not thread-safe; one test thread drives it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "segment.h"  // plugins/store/shm: ReapOrphanedSegments
#include "test_util.h"

namespace rayk::testing {

class DevCluster {
 public:
  struct Options {
    int nodes = 3;
    int cpus_per_node = 1;
    // Initialized, so that {.nodes = 3} leaves them out without a
    // -Wmissing-field-initializers warning.
    std::string resources_per_node = "";  // JSON for --resources-per-node; "" for CPUs only
    int node_timeout_ms = 10000;
    std::string extra_args = "";  // more `rayk dev up` arguments
  };

  // One node, as its node.json records it.
  struct Node {
    int index = 0;
    std::string node_id;  // hex, as `rayk status --format json` shows it
    std::string address;  // HOST:PORT of its raylet
    pid_t pid = 0;        // its raylet
    nlohmann::json resources;
    nlohmann::json labels;
  };

  explicit DevCluster(Options options) : options_(std::move(options)) {
    port_ = FreePort();
    up_ = Rayk("dev up --nodes " + std::to_string(options_.nodes) + " --cpus-per-node " +
               std::to_string(options_.cpus_per_node) + " --port " + std::to_string(port_) +
               " --node-timeout-ms " + std::to_string(options_.node_timeout_ms) + " --config " +
               TestConfigFile() +
               (options_.resources_per_node.empty()
                    ? ""
                    : " --resources-per-node '" + options_.resources_per_node + "'") +
               " " + options_.extra_args);
    ReadNodes();
  }
  DevCluster() : DevCluster(Options{}) {}
  DevCluster(const DevCluster&) = delete;
  DevCluster& operator=(const DevCluster&) = delete;

  ~DevCluster() {
    // Every raylet the session ever had (those the test killed too), read
    // before `dev down` renames the pids file.
    std::vector<pid_t> raylets = RayletPids();
    Rayk("dev down");
    // Whatever `dev down` missed (it failed, or the test broke the session):
    // every process started for this session root.
    for (pid_t pid : ProcessesMentioning(root_.path())) kill(pid, SIGKILL);
    // Raylets the test SIGKILLed could not remove their store segments; once
    // they are gone, remove those the way the next raylet on a host would.
    // A killed process drops its command line (ProcessesMentioning no longer
    // sees it) well before it is gone, and while it exits its segment still
    // counts as in use: each raylet is waited for until it is gone.
    for (int i = 0; i < 600 && !ProcessesMentioning(root_.path()).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (pid_t pid : raylets) {
      for (int i = 0; i < 600 && ProcessRunning(pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    rayk::shm::ReapOrphanedSegments();
  }

  // Whether `rayk dev up` succeeded (and its nodes were found), and its output.
  bool ok() const {
    return up_.exit_code == 0 && static_cast<int>(nodes_.size()) == options_.nodes;
  }
  const CommandResult& up() const { return up_; }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& session_root() const { return root_.path(); }
  // The session folder itself (not the session_latest link), as the
  // processes' command lines name it.
  std::string session_dir() const {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(root_.path() + "/session_latest", ec);
    return ec ? root_.path() + "/session_latest" : target.string();
  }

  // HOST:PORT of the head's Prometheus metrics, as the GCS records it; "" without.
  std::string metrics_address() const {
    std::ifstream file(session_dir() + "/gcs_metrics_address");
    std::string address;
    std::getline(file, address);
    return address;
  }

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  // Node i (by its rayk.io/node-index); throws std::out_of_range if there is none.
  const Node& node(int i) const {
    for (const Node& n : nodes_) {
      if (n.index == i) return n;
    }
    throw std::out_of_range("the dev cluster has no node " + std::to_string(i));
  }
  const std::string& node_id(int i) const { return node(i).node_id; }
  const std::string& node_address(int i) const { return node(i).address; }
  pid_t raylet_pid(int i) const { return node(i).pid; }

  // Runs `rayk ARGS` against this cluster's session root.
  CommandResult Rayk(const std::string& args) const {
    return RunCommand("RAYK_SESSION_ROOT=" + root_.path() + " " + RAYK_CLI_PATH + " " + args);
  }

  // `rayk status --format json`, or null when it fails.
  nlohmann::json Status() const {
    CommandResult status = Rayk("status --format json --address " + address());
    return status.exit_code == 0 ? nlohmann::json::parse(status.output, nullptr, false)
                                 : nlohmann::json();
  }

  // `rayk dev add-node ARGS`; on success the new node is node(num_nodes() - 1).
  CommandResult AddNode(const std::string& args = "") {
    CommandResult result = Rayk("dev add-node --format json " + args);
    ReadNodes();
    return result;
  }

  // SIGKILLs node i's raylet (its workers follow it) and returns once it is
  // dead, not still exiting: a driver started next checks raylets' processes
  // (rayk::Init skips dead ones), and on a loaded machine a killed process
  // can take a while to finish exiting.
  void KillNode(int i) {
    const pid_t pid = raylet_pid(i);
    kill(pid, SIGKILL);
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         ProcessRunning(pid) && std::chrono::steady_clock::now() < deadline;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // `rayk dev down`.
  CommandResult Down() const { return Rayk("dev down"); }

  // Every process the session recorded: the pids file (or pids.stopped) and
  // the supervised GCS server.
  std::vector<pid_t> RecordedPids() const {
    std::vector<pid_t> pids;
    for (const char* name : {"/pids", "/pids.stopped", "/gcs_server.pid"}) {
      std::ifstream file(session_dir() + name);
      for (std::string line; std::getline(file, line);) {
        std::istringstream fields(line);
        long pid = 0;
        if (fields >> pid && pid > 0) pids.push_back(static_cast<pid_t>(pid));
      }
    }
    return pids;
  }

 private:
  // The raylet pid of every node.json of the session (killed nodes' too).
  std::vector<pid_t> RayletPids() const {
    std::vector<pid_t> pids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(session_dir() + "/nodes", ec)) {
      std::ifstream file(entry.path() / "node.json");
      auto json = nlohmann::json::parse(file, nullptr, false);
      if (json.is_object() && json.contains("pid")) pids.push_back(json["pid"].get<pid_t>());
    }
    return pids;
  }

  void ReadNodes() {
    nodes_.clear();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(session_dir() + "/nodes", ec)) {
      std::ifstream file(entry.path() / "node.json");
      auto json = nlohmann::json::parse(file, nullptr, false);
      if (!json.is_object()) continue;  // a node that did not come up
      Node node;
      node.index = json["index"];
      node.node_id = json["node_id"];
      node.address = json["address"];
      node.pid = json["pid"];
      node.resources = json["resources"];
      node.labels = json["labels"];
      nodes_.push_back(std::move(node));
    }
    std::sort(nodes_.begin(), nodes_.end(),
              [](const Node& a, const Node& b) { return a.index < b.index; });
  }

  Options options_;
  TempDir root_;
  int port_ = 0;
  CommandResult up_;
  std::vector<Node> nodes_;
};

// This process as a driver of `cluster` (rayk::Init with its address) for a
// scope. Declare it after the DevCluster, so that the driver shuts down while
// the cluster still runs (a driver whose cluster is gone waits for it in vain).
class JoinedDriver {
 public:
  // `options` with the cluster's address.
  explicit JoinedDriver(const DevCluster& cluster, InitOptions options = {}) {
    // The cluster's token, as a user passes it: RAYK_AUTH_TOKEN=$(cat <session>/auth_token).
    std::ifstream token_file(cluster.session_dir() + "/auth_token");
    std::string token;
    std::getline(token_file, token);
    setenv("RAYK_AUTH_TOKEN", token.c_str(), 1);
    options.address = cluster.address();
    rayk::Init(options);
  }
  ~JoinedDriver() {
    if (rayk::IsInitialized()) rayk::Shutdown();
    unsetenv("RAYK_AUTH_TOKEN");
  }
  JoinedDriver(const JoinedDriver&) = delete;
  JoinedDriver& operator=(const JoinedDriver&) = delete;
};

}  // namespace rayk::testing
