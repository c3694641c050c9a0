// NetworkHosts: separate network hosts on this machine, for tests of clusters
// that span machines.
//
// Each host is a Linux network namespace with its own loopback and one
// interface, eth0, cabled (a veth pair) to a bridge in a switch namespace of
// its own; host i has the private address 10.91.0.(i + 1)/24, which exists
// only inside these namespaces. Processes run on a host with `ip netns exec`.
// The test breaks and mends links (`ip link set ... down|up` on the switch
// side) and adds latency (`tc qdisc ... netem`). The destructor kills every
// process left on the hosts and deletes the namespaces, even when the test
// failed; namespaces left by a test binary that was killed are removed by the
// next fixture (their names carry the creating pid).
//
// Needs root (CI runs as root); Supported() says why not when it cannot be
// made, so that a test can skip with that reason.
//
//   testing::NetworkHosts hosts(4);
//   ASSERT_TRUE(hosts.ok()) << hosts.error();
//   hosts.Run(0, "rayk start --head --node-ip-address " + hosts.address(0));
//
// Not thread-safe; one test thread drives it.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace rayk::testing {

class NetworkHosts {
 public:
  explicit NetworkHosts(int count) : prefix_("rkt" + std::to_string(getpid()) + "-") {
    RemoveOrphans();
    error_ = Make(count);
  }
  ~NetworkHosts() { Remove(); }
  NetworkHosts(const NetworkHosts&) = delete;
  NetworkHosts& operator=(const NetworkHosts&) = delete;

  // Whether this machine can make network namespaces (root, iproute2); why not.
  static bool Supported(std::string* why) {
    if (geteuid() != 0) {
      *why = "network namespaces need root (CI runs as root)";
      return false;
    }
    CommandResult ip = RunCommand("ip netns list");
    if (ip.exit_code != 0) {
      *why = "'ip netns' does not work here (install iproute2): " + ip.output;
      return false;
    }
    return true;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int size() const { return static_cast<int>(hosts_.size()); }
  const std::string& ns(int i) const { return hosts_[i]; }
  std::string address(int i) const { return "10.91.0." + std::to_string(i + 1); }

  // Runs a shell command on host i and waits for it.
  CommandResult Run(int i, const std::string& command) const {
    return RunCommand("ip netns exec " + hosts_[i] + " sh -c " + Quote(command));
  }
  // The prefix that runs a command on host i, for fixtures that start their own.
  std::string On(int i) const { return "ip netns exec " + hosts_[i] + " "; }

  // Cuts host i off the network, or mends its link.
  bool Disconnect(int i) { return Sw("ip link set h" + std::to_string(i) + " down"); }
  bool Reconnect(int i) { return Sw("ip link set h" + std::to_string(i) + " up"); }

  // Adds `delay` (e.g. "1ms") to every packet host i sends; "" on success,
  // else tc's error (a kernel built without sch_netem says "Specified qdisc
  // kind is unknown").
  std::string AddLatency(int i, const std::string& delay) {
    CommandResult tc = Run(i, "tc qdisc replace dev eth0 root netem delay " + delay);
    return tc.exit_code == 0 ? "" : "tc netem: " + tc.output;
  }

 private:
  static std::string Quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  bool Sw(const std::string& command) const {
    return RunCommand("ip netns exec " + switch_ + " " + command).exit_code == 0;
  }

  std::string Make(int count) {
    std::string why;
    if (!Supported(&why)) return why;
    switch_ = prefix_ + "sw";
    std::vector<std::string> steps = {
        "ip netns add " + switch_, "ip -n " + switch_ + " link add br0 type bridge",
        "ip -n " + switch_ + " link set br0 up", "ip -n " + switch_ + " link set lo up"};
    for (int i = 0; i < count; ++i) {
      std::string host = prefix_ + "h" + std::to_string(i);
      std::string a = prefix_ + "a" + std::to_string(i);  // temporary names in this namespace
      std::string b = prefix_ + "b" + std::to_string(i);
      hosts_.push_back(host);
      steps.insert(steps.end(),
                   {"ip netns add " + host, "ip link add " + a + " type veth peer name " + b,
                    "ip link set " + a + " netns " + host, "ip link set " + b + " netns " + switch_,
                    "ip -n " + host + " link set " + a + " name eth0",
                    "ip -n " + switch_ + " link set " + b + " name h" + std::to_string(i),
                    "ip -n " + switch_ + " link set h" + std::to_string(i) + " master br0",
                    "ip -n " + switch_ + " link set h" + std::to_string(i) + " up",
                    "ip -n " + host + " addr add " + address(i) + "/24 dev eth0",
                    "ip -n " + host + " link set eth0 up", "ip -n " + host + " link set lo up"});
    }
    for (const std::string& step : steps) {
      CommandResult result = RunCommand(step);
      if (result.exit_code != 0) return "'" + step + "' failed: " + result.output;
    }
    return "";
  }

  // Kills what runs on the hosts, then deletes them and the switch.
  void Remove() {
    for (int round = 0; round < 50; ++round) {
      bool any = false;
      for (const std::string& host : hosts_) {
        std::istringstream pids(RunCommand("ip netns pids " + host).output);
        for (long pid = 0; pids >> pid;) {
          any = true;
          kill(static_cast<pid_t>(pid), SIGKILL);
        }
      }
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (const std::string& host : hosts_) RunCommand("ip netns del " + host);
    if (!switch_.empty()) RunCommand("ip netns del " + switch_);
    hosts_.clear();
    switch_.clear();
  }

  // Namespaces "rkt<pid>-..." whose test process is gone.
  static void RemoveOrphans() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("rkt", 0) != 0) continue;
      size_t dash = name.find('-');
      if (dash == std::string::npos) continue;
      long pid = std::atol(name.substr(3, dash - 3).c_str());
      if (pid <= 0 || kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;
      std::istringstream pids(RunCommand("ip netns pids " + name).output);
      for (long p = 0; pids >> p;) kill(static_cast<pid_t>(p), SIGKILL);
      RunCommand("ip netns del " + name);
    }
  }

  std::string prefix_;
  std::string switch_;
  std::vector<std::string> hosts_;
  std::string error_;
};

}  // namespace rayk::testing
