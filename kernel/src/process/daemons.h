// The entry points of rayk's processes: `rayk gcs-server`, `rayk raylet` and
// `rayk worker` call these. Each loads plugins.toml (with --set overrides),
// creates its plugins, serves, announces its address in the session
// directory, and runs until SIGTERM/SIGINT (or, for a worker, until its
// raylet goes). Each returns the process exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/port_range.h"
#include "rayk/ids.h"
#include "rayk/resources.h"

namespace rayk {

struct ProcessOptions {
  std::string config_file;
  std::vector<std::string> config_sets;
  std::string session_dir;
  // Embedded clusters: end when the driver that started this process dies,
  // however it dies.
  bool exit_with_parent = false;
  // The node's address (Ray's node IP): every server of the process binds
  // to it and advertises it. Loopback keeps a cluster on this machine.
  std::string node_ip = "127.0.0.1";
  // Ports for firewalls (common/port_range.h): the raylet's (its object
  // service shares it; 0: any free port) and its workers'.
  int node_manager_port = 0;
  PortRange worker_ports;
};

struct GcsProcessOptions {
  int port = 0;            // 0: any free port
  int publisher_port = 0;  // node-change publications; 0: any free port
  int node_timeout_ms = 10000;
  // Prometheus metrics over HTTP (http://IP:PORT/metrics); 0: any free
  // port, -1: none. The chosen address goes to the session's
  // gcs_metrics_address file and to `rayk status`.
  int metrics_port = 0;
  uint32_t restarts = 0;  // set by the supervisor on each restart
  // Run as the GCS's supervisor: start the GCS server as a child and start
  // it again, on the same ports, whenever it dies.
  bool supervise = false;
};

// The exit code of a daemon whose configuration or plugins cannot work
// (sysexits' EX_CONFIG): starting it again would fail the same way, so the
// GCS supervisor stops at once instead of restarting it.
constexpr int kConfigErrorExit = 78;

int RunGcsServerProcess(const ProcessOptions& options, const GcsProcessOptions& gcs);

int RunRayletProcess(const ProcessOptions& options, const std::string& gcs_address,
                     const ResourceSet& resources, const std::map<std::string, std::string>& labels,
                     const std::map<std::string, std::string>& accelerators);

struct WorkerProcessOptions {
  std::string raylet_address;
  std::string gcs_address;
  NodeId node_id;
  WorkerId worker_id;
  JobId job_id;
  std::vector<std::string> code_libraries;
};
int RunWorkerProcess(const ProcessOptions& options, const WorkerProcessOptions& worker);

// "127.0.0.1:6379" -> "tcp://127.0.0.1:6379"; URLs pass through. Each of a
// comma-separated list of GCS addresses (failover, gcs_client.h) likewise.
std::string EndpointFromAddress(const std::string& address);
// "tcp://127.0.0.1:6379" -> "127.0.0.1:6379", what users type; lists too.
std::string AddressFromEndpoint(const std::string& endpoint);

}  // namespace rayk
