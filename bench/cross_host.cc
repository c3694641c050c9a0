// Same host against across hosts, on a cluster spanning network namespaces
// (tests/multihost/network_hosts.h): a head on host 0, nodes on hosts 1 and
// 2, host 3 without a node. It runs `rayk microbenchmark` cases from host 0
// (tasks run on the driver's own node) and from host 3 (every task and object
// crosses a link), and times a 64 MiB object pulled from host 1 to host 2.
// Prints a markdown table for bench/README.md. Needs root (namespaces).
//
//   sudo build/bin/cross_host_bench [--duration S] [--trials N]
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "multihost/host_cluster.h"

namespace {

using rayk::testing::HostCluster;
using rayk::testing::NetworkHosts;

const char* kCases = "^(single_client_tasks_sync|single_client_tasks_async|1_1_actor_calls_sync)$";

// case name -> "mean +- std" per second, from one microbenchmark run.
nlohmann::json Microbenchmark(HostCluster& cluster, int host, const std::string& args) {
  auto run = cluster.Rayk(host, "microbenchmark --address " + cluster.head() + " --filter '" +
                                    kCases + "' --format json " + args);
  auto json = nlohmann::json::parse(run.output.substr(run.output.find('{')), nullptr, false);
  if (run.exit_code != 0 || json.is_discarded()) {
    std::fprintf(stderr, "microbenchmark on host %d failed:\n%s\n", host, run.output.c_str());
    std::exit(1);
  }
  return json;
}

std::string Figure(const nlohmann::json& run, const std::string& name) {
  for (const auto& c : run.value("cases", nlohmann::json::array())) {
    if (c.value("name", "") == name) {
      char text[64];
      std::snprintf(text, sizeof(text), "%.0f +- %.0f", c.value("mean", 0.0), c.value("std", 0.0));
      return text;
    }
  }
  return "-";
}

}  // namespace

int main(int argc, char** argv) {
  std::string args = "--duration 2 --trials 4";
  if (argc == 5) args = std::string(argv[1]) + " " + argv[2] + " " + argv[3] + " " + argv[4];
  std::string why;
  if (!NetworkHosts::Supported(&why)) {
    std::fprintf(stderr, "cross_host_bench: %s\n", why.c_str());
    return 2;
  }
  NetworkHosts hosts(4);
  if (!hosts.ok()) {
    std::fprintf(stderr, "cross_host_bench: %s\n", hosts.error().c_str());
    return 2;
  }
  HostCluster cluster(hosts, 3);
  std::string failed = cluster.Start();
  if (!failed.empty()) {
    std::fprintf(stderr, "cross_host_bench: %s\n", failed.c_str());
    return 1;
  }
  nlohmann::json same = Microbenchmark(cluster, 0, args);
  nlohmann::json cross = Microbenchmark(cluster, 3, args);
  std::printf(
      "| case (per second) | driver on a node's host | driver on a host without a node |\n");
  std::printf("| --- | ---: | ---: |\n");
  for (const char* name :
       {"single_client_tasks_sync", "single_client_tasks_async", "1_1_actor_calls_sync"}) {
    std::printf("| %s | %s | %s |\n", name, Figure(same, name).c_str(),
                Figure(cross, name).c_str());
  }
  auto transfer =
      cluster.Driver(0, std::string(RAYK_BINARY_DIR) + "/bin/rayk_multihost_driver transfer " +
                            hosts.address(1) + " " + hosts.address(2) + " 5");
  double local = 0, remote = 0;
  if (transfer.exit_code != 0 ||
      std::sscanf(transfer.output.substr(transfer.output.find("local_s")).c_str(),
                  "local_s %lf remote_s %lf", &local, &remote) != 2) {
    std::fprintf(stderr, "transfer failed:\n%s\n", transfer.output.c_str());
    return 1;
  }
  const double gib = 64.0 / 1024;
  std::printf(
      "\n64 MiB object, summed on its own host: %.1f ms; on another host (pulled first): %.1f ms; "
      "the pull at %.2f GB/s\n",
      local * 1e3, remote * 1e3, gib * 1.073741824 / (remote - local));
  return 0;
}
