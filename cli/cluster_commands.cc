#include "cluster_commands.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli_common.h"
#include "common/byte_count.h"
#include "common/host_address.h"
#include "gcs/gcs_client.h"
#include "list_views.h"
#include "observability/log_to_driver.h"
#include "observability/state_json.h"
#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/label_selector.h"
#include "rayk/plugin/scheduling_util.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"
#include "scheduling/bundle_resources.h"
#include "state_views.h"
#include "task_views.h"

namespace rayk::cli {

namespace {

// Demands as text ({"CPU": 2}) and how often each occurs.
std::map<std::string, int> CountDemands(const std::vector<std::string>& demands) {
  std::map<std::string, int> counts;
  for (const std::string& demand : demands) ++counts[demand];
  return counts;
}

std::string FormatDemands(const std::vector<std::string>& demands) {
  std::string out;
  for (const auto& [demand, count] : CountDemands(demands)) {
    out += (out.empty() ? "" : ", ") + demand + (count > 1 ? " x" + std::to_string(count) : "");
  }
  return out;
}

std::string FormatAmount(double amount) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", amount);
  return text;
}

// The devices of one accelerator in use, for `rayk status`: "0, 1 (0.5 used)
// of 4 devices in use", or "none of 2 devices in use".
std::string FormatDevicesInUse(const protocol::AcceleratorUse& use) {
  std::string in_use;
  for (size_t device = 0; device < use.used.size(); ++device) {
    const double used = use.used[device];
    if (used <= 0) continue;
    in_use += (in_use.empty() ? "" : ", ") + std::to_string(device);
    if (used < 1) in_use += " (" + FormatAmount(used) + " used)";
  }
  return (in_use.empty() ? "none" : in_use) + " of " + std::to_string(use.used.size()) + " device" +
         (use.used.size() == 1 ? "" : "s") + " in use";
}

// The same as JSON: {"devices": 4, "in_use": [0, 1], "used": [1, 0.5, 0, 0]}.
nlohmann::json DevicesInUseJson(const std::vector<protocol::AcceleratorUse>& uses) {
  nlohmann::json out = nlohmann::json::object();
  for (const protocol::AcceleratorUse& use : uses) {
    nlohmann::json in_use = nlohmann::json::array();
    for (size_t device = 0; device < use.used.size(); ++device) {
      if (use.used[device] > 0) in_use.push_back(device);
    }
    out[use.resource] = {{"devices", use.used.size()}, {"in_use", in_use}, {"used", use.used}};
  }
  return out;
}

// What `rayk status` adds up from the nodes' reports.
struct StatusSummary {
  int alive = 0;
  int dead = 0;
  ResourceSet total;  // of the alive nodes, without bundle resources
  ResourceSet used;
  // Held by placement-group bundles (scheduling/bundle_resources.h), part of
  // `used`, and how much of that their tasks and actors use.
  ResourceSet reserved;
  ResourceSet reserved_used;
  // Queued demands some alive node could run once it has the resources free.
  std::vector<std::string> waiting;
  // Demands (queued, or rejected lately) that no alive node could run even
  // idle: they need a node that fits to join. A rejected demand that a node
  // which joined since could run is no longer listed.
  std::vector<std::string> infeasible;
};

StatusSummary Summarize(const protocol::ClusterStatus& status) {
  StatusSummary summary;
  std::vector<const protocol::NodeInfo*> alive;
  for (const auto& node : status.nodes) {
    if (!node.alive) {
      ++summary.dead;
      continue;
    }
    ++summary.alive;
    alive.push_back(&node);
    ResourceSet used = node.total;
    used.Subtract(node.available);
    summary.total.Add(WithoutBundleResources(node.total));
    summary.used.Add(WithoutBundleResources(used));
    summary.reserved.Add(ReservedInBundles(node.total));
    summary.reserved_used.Add(ReservedInBundles(used));
  }
  auto fits_some_node = [&alive](const std::string& text) {
    auto demand = ResourceSet::FromJson(text);
    if (!demand.ok()) return true;  // cannot judge it; do not call it infeasible
    for (const protocol::NodeInfo* node : alive) {
      if (node->total.Contains(*demand)) return true;
    }
    return false;
  };
  for (const protocol::NodeInfo* node : alive) {
    for (const std::string& demand : node->pending_demands) {
      (fits_some_node(demand) ? summary.waiting : summary.infeasible).push_back(demand);
    }
    for (const std::string& demand : node->infeasible_demands) {
      if (!fits_some_node(demand)) summary.infeasible.push_back(demand);
    }
  }
  return summary;
}

}  // namespace

struct ClusterCommands::Impl {
  std::string* format;
  // Shared by the commands that read plugins.toml.
  std::string config_file;
  std::vector<std::string> sets;
  std::string session_dir;

  CLI::App* start = nullptr;
  bool head = false;
  int port = 6379;
  GcsProcessOptions gcs;
  int num_cpus = 0;
  std::string resources;
  std::string labels;
  std::string accelerators;
  std::string address;
  std::string actor_namespace;  // rayk list actors --namespace
  bool block = false;
  std::string auth_token;
  bool insecure_no_auth = false;

  CLI::App* stop = nullptr;
  CLI::App* list = nullptr;
  CLI::App* list_actors = nullptr;
  CLI::App* list_nodes = nullptr;
  CLI::App* list_jobs = nullptr;
  CLI::App* list_tasks = nullptr;
  CLI::App* list_objects = nullptr;
  CLI::App* list_workers = nullptr;
  int summary_top = 10;  // `rayk summary objects --top N`
  CLI::App* summary = nullptr;
  CLI::App* summary_tasks = nullptr;
  CLI::App* summary_actors = nullptr;
  CLI::App* summary_objects = nullptr;
  CLI::App* get = nullptr;
  CLI::App* get_task = nullptr;
  CLI::App* get_actor = nullptr;
  std::string get_id;  // `rayk get task|actor ID`: an id or a unique prefix of one
  std::vector<std::string> list_filters;
  int list_limit = 100;
  CLI::App* timeline = nullptr;
  std::string timeline_job, timeline_output;
  CLI::App* logs = nullptr;
  std::string logs_node, logs_actor, logs_task, logs_job;
  std::string logs_stream = "all";
  bool logs_follow = false;
  CLI::App* list_placement_groups = nullptr;
  CLI::App* kv = nullptr;
  CLI::App* memory = nullptr;
  CLI::App* kv_get = nullptr;
  CLI::App* kv_put = nullptr;
  CLI::App* kv_delete = nullptr;
  CLI::App* kv_list = nullptr;
  std::string kv_namespace, kv_key, kv_value;
  bool kv_no_overwrite = false;
  std::shared_ptr<Transport> cli_transport;
  std::unique_ptr<GcsClient> cli_gcs;
  CLI::App* status = nullptr;
  CLI::App* run = nullptr;
  std::string job_library;
  std::vector<std::string> job_args;

  CLI::App* gcs_server = nullptr;
  CLI::App* raylet = nullptr;
  CLI::App* worker = nullptr;
  bool exit_with_parent = false;
  std::string raylet_address, node_id, worker_id, job_id;
  std::vector<std::string> code;
  std::string node_ip;  // --node-ip-address
  int node_manager_port = 0;
  PortRange worker_ports;

  // The ports a node listens on, for firewalls (docs/clusters.md).
  void AddPortOptions(CLI::App* command, bool with_node_manager) {
    if (with_node_manager) {
      command->add_option("--node-manager-port", node_manager_port,
                          "the raylet's port, which also serves the node's objects (default: any "
                          "free port)");
    }
    command->add_option("--min-worker-port", worker_ports.min,
                        "lowest port a worker (or a driver on this node) listens on");
    command->add_option("--max-worker-port", worker_ports.max,
                        "highest port a worker (or a driver on this node) listens on");
  }

  // One line and exit 2 for ports that cannot work together.
  void CheckPortsOrFail() const {
    auto check = [](const Status& st) {
      if (!st.ok()) Fail(st.message());
    };
    check(CheckPortRange(worker_ports, "--min-worker-port/--max-worker-port"));
    check(CheckPort(node_manager_port, "--node-manager-port"));
    check(CheckPort(gcs.publisher_port, "--gcs-publisher-port"));
    check(CheckOptionalPort(gcs.metrics_port, "--metrics-port"));
    auto inside = [this](int p) { return p > 0 && p >= worker_ports.min && p <= worker_ports.max; };
    if (inside(node_manager_port) || (head && (inside(port) || inside(gcs.publisher_port)))) {
      Fail("the worker port range " + worker_ports.ToString() +
           " holds the GCS, publisher or node manager port; keep those outside it");
    }
    if (head && node_manager_port > 0 &&
        (node_manager_port == port || node_manager_port == gcs.publisher_port)) {
      Fail("--node-manager-port " + std::to_string(node_manager_port) +
           " is taken by the GCS (--port or --gcs-publisher-port); choose another");
    }
  }

  void AddConfigOptions(CLI::App* command) {
    command->add_option("--config", config_file, "plugins.toml for the cluster's processes");
    command->add_option("--set", sets,
                        "override a setting: SLOT.PLUGIN.KEY=VALUE or SLOT.plugin=NAME");
  }

  void AddAuthOption(CLI::App* command) { AddAuthTokenOption(command, &auth_token); }

  ProcessOptions Process() const {
    ProcessOptions options;
    if (!config_file.empty()) options.config_file = std::filesystem::absolute(config_file).string();
    options.config_sets = sets;
    options.session_dir = session_dir;
    options.exit_with_parent = exit_with_parent;
    if (!node_ip.empty()) options.node_ip = node_ip;
    options.node_manager_port = node_manager_port;
    options.worker_ports = worker_ports;
    return options;
  }

  int Start() {
    if (head == !address.empty())
      Fail("start needs exactly one of --head (a new cluster) or --address HOST:PORT (join one)");
    if (insecure_no_auth) {
      sets.insert(sets.end(), kInsecureNoAuthSets.begin(), kInsecureNoAuthSets.end());
    }
    CheckConfigOrFail(config_file, sets);
    ParseAccelerators(accelerators, ParseResources(resources, num_cpus));
    ParseLabels(labels);
    if (gcs.node_timeout_ms <= 0) Fail("--node-timeout-ms must be positive, e.g. 10000 (10 s)");
    CheckPortsOrFail();
    umask(077);  // the session's files (pids, addresses) are for this user only
    // A joining node finds the token before its new session becomes the latest.
    if (!head && !insecure_no_auth) ExportExistingClusterSecret("");
    auto session = CreateSessionDir();
    if (!session.ok()) Fail(session.status().message());
    if (!insecure_no_auth) SetUpNewClusterSecret(*session);
    std::vector<std::string> config_args = ConfigArgs(config_file, sets);
    std::string gcs_address = address;
    std::string ip = ChooseNodeIp();
    if (head) {
      auto started = StartSupervisedGcs(*session, port, gcs.publisher_port, gcs.node_timeout_ms,
                                        config_args, ip, gcs.metrics_port);
      if (!started.ok()) Fail(started.status().message());
      gcs_address = *started;
    }
    RayletLaunch launch;
    launch.gcs_address = gcs_address;
    launch.session_dir = *session;
    launch.num_cpus = num_cpus;
    launch.resources = resources;
    launch.labels = labels;
    launch.accelerators = accelerators;
    launch.config_args = config_args;
    launch.node_ip = ip;
    launch.node_manager_port = node_manager_port;
    launch.worker_ports = worker_ports;
    auto pid = SpawnRaylet(launch);
    if (!pid.ok()) Fail(pid.status().message());
    RecordProcess(*session, *pid, "raylet");
    auto raylet = WaitForFile(*session + "/raylet_address", kStartTimeout, *pid,
                              *session + "/logs/raylet.log");
    if (!raylet.ok()) Fail("the raylet did not start: " + raylet.status().message());
    Status written = WriteFileAtomically(*session + "/gcs_address", gcs_address);
    if (!written.ok()) Fail("cannot record the GCS address: " + written.message());
    std::string token_file = insecure_no_auth ? "" : *session + "/" + kAuthTokenFileName;
    if (*format == "json") {
      std::cout << nlohmann::json{{"address", gcs_address},
                                  {"session_dir", *session},
                                  {"raylet", *raylet},
                                  {"auth", !insecure_no_auth},
                                  {"auth_token_file", token_file}}
                       .dump(2)
                << "\n";
      return 0;
    }
    PrintStarted(*session, gcs_address, *raylet, token_file);
    return 0;
  }

  // What to type next. The token itself is never printed (terminals get
  // logged); the commands read it from the 0600 file.
  void PrintStarted(const std::string& session, const std::string& gcs_address,
                    const std::string& raylet, const std::string& token_file) const {
    std::string token = token_file.empty() ? "" : "RAYK_AUTH_TOKEN=$(cat " + token_file + ") ";
    std::string insecure = token_file.empty() ? " --insecure-no-auth" : "";
    std::cout << (head ? "Started a rayk cluster" : "Joined the rayk cluster") << " (session "
              << session << ")\n"
              << "  GCS address: " << gcs_address << "\n"
              << "  raylet:      " << raylet << "\n";
    if (token_file.empty()) {
      std::cout << "  WARNING: authentication is OFF (--insecure-no-auth): anyone who can reach "
                   "these ports\n"
                << "  can read and change the cluster and run code on it. Drivers and tools need\n"
                << "  auth = false under [transport.asio] (or [transport.zmq]) in their "
                   "plugins.toml.\n\n";
    } else {
      std::cout << "  token:       " << token_file
                << " (mode 0600; every node and driver needs it)\n\n";
    }
    std::cout << "Run a driver against it:  " << token << "RAYK_ADDRESS=" << gcs_address
              << " ./my_driver\n"
              << "                      or  " << token << "rayk run libmy_job.so --address "
              << gcs_address << "\n"
              << "Add a node:               " << token << "rayk start --address " << gcs_address
              << insecure << "\n"
              << "                          (on another host, copy the token there first, e.g. "
                 "with scp)\n"
              << "See it:                   rayk status\n"
              << "Stop it:                  rayk stop\n";
  }

  // The node's address: --node-ip-address ("auto": this host's primary
  // address); else, joining, the address that routes to the head; else
  // loopback, a cluster that stays on this machine.
  std::string ChooseNodeIp() const {
    std::string ip = node_ip;
    if (ip == "auto") {
      auto primary = PrimaryAddress();
      if (!primary.ok()) Fail(primary.status().message());
      ip = *primary;
    } else if (ip.empty() && !address.empty()) {
      auto source = SourceAddressFor(HostOfAddress(address));
      if (!source.ok()) Fail("--address " + address + ": " + source.status().message());
      ip = *source;
    } else if (ip.empty()) {
      ip = kLoopbackAddress;
    }
    if (Status st = CheckLocalAddress(ip, "--node-ip-address"); !st.ok()) Fail(st.message());
    return ip;
  }

  int Stop() {
    auto session = LatestSessionDir();
    if (!session.ok()) {
      // A session root that is not safely ours is an error, not "nothing to stop".
      if (session.status().code() != StatusCode::kNotFound) Fail(session.status().message());
      std::cout << "No rayk session to stop.\n";
      return 0;
    }
    // Every session the root holds that recorded processes, dev clusters too.
    int stopped = StopRecordedProcesses(SessionsWithProcesses(), &std::cout);
    if (stopped == 0) std::cout << "No running rayk processes.\n";
    return 0;
  }

  // Sends one request to the GCS (found as `rayk status` finds it) and returns the reply.
  std::string AskGcs(const std::string& request, std::string* gcs_out = nullptr) {
    std::string gcs;
    auto reply = ConnectGcs(&gcs).CallSync(request, kCliGcsLimit);
    if (gcs_out) *gcs_out = gcs;
    if (!reply.ok()) Fail(reply.status().message() + " ('rayk start --head' starts a cluster)");
    return *reply;
  }

  // A client for the GCS of this command's cluster; it lives as long as the
  // command, and a command that asks several times asks through the same one
  // (replacing the transport under a live client would hang in its teardown).
  GcsClient& ConnectGcs(std::string* gcs_out = nullptr) {
    std::string gcs = EndpointFromAddress(GcsAddressOrFail(address));
    if (gcs_out) *gcs_out = gcs;
    if (cli_gcs) return *cli_gcs;
    GcsConnection connection = ConnectToGcs(gcs, config_file);
    cli_transport = connection.transport;
    cli_gcs = std::move(connection.client);
    return *cli_gcs;
  }

  protocol::ClusterStatus GetStatus(std::string* gcs_out = nullptr) {
    auto status = protocol::Decode<protocol::ClusterStatus>(AskGcs(
        protocol::Encode(protocol::MessageType::kGetClusterStatus, protocol::GetClusterStatus{}),
        gcs_out));
    if (!status.ok()) Fail(status.status().message());
    return std::move(*status);
  }

  // Each alive node's raylet's reply to `request` (or why there is none).
  struct RayletReply {
    protocol::NodeInfo node;
    Result<std::string> reply;
  };
  std::vector<RayletReply> AskRaylets(const protocol::ClusterStatus& status,
                                      const std::string& request) {
    std::vector<RayletReply> replies;
    for (const protocol::NodeInfo& node : status.nodes) {
      if (!node.alive) continue;
      auto raylet = cli_transport->Connect(node.raylet_address);
      if (!raylet.ok()) Fail(raylet.status().message());
      replies.push_back({node, (*raylet)->CallSync(request, std::chrono::milliseconds(5000))});
    }
    return replies;
  }

  // Each alive node's store statistics with its `limit` largest objects
  // (`rayk memory` and the dashboard show ten).
  std::vector<NodeStore> GatherStores(const protocol::ClusterStatus& status, uint32_t limit = 10) {
    std::vector<NodeStore> stores;
    for (RayletReply& answer : AskRaylets(
             status,
             protocol::Encode(protocol::MessageType::kListObjects, protocol::ListObjects{limit}))) {
      NodeStore& store = stores.emplace_back(NodeStore{answer.node, std::nullopt, ""});
      if (!answer.reply.ok()) {
        store.error = answer.reply.status().message();
        continue;
      }
      auto stats = protocol::Decode<protocol::StoreStats>(*answer.reply);
      if (!stats.ok()) Fail(stats.status().message());
      store.stats = std::move(*stats);
    }
    return stores;
  }
  std::vector<NodeStore> GatherStores() { return GatherStores(GetStatus()); }

  // The worker pools of the raylets that answered.
  std::vector<protocol::WorkerList> GatherWorkers(const protocol::ClusterStatus& status,
                                                  std::vector<std::string>* unanswered) {
    std::vector<protocol::WorkerList> pools;
    for (RayletReply& answer : AskRaylets(
             status,
             protocol::Encode(protocol::MessageType::kListWorkers, protocol::ListWorkers{}))) {
      auto pool = answer.reply.ok() ? protocol::Decode<protocol::WorkerList>(*answer.reply)
                                    : Result<protocol::WorkerList>(answer.reply.status());
      if (pool.ok()) {
        pools.push_back(std::move(*pool));
      } else if (unanswered) {
        unanswered->push_back(NoAnswer(answer.node, pool.status().message()));
      }
    }
    return pools;
  }

  static std::string NoAnswer(const protocol::NodeInfo& node, const std::string& error) {
    return "node " + node.node_id.Hex().substr(0, 8) + ": no answer from its raylet at " +
           node.raylet_address + " (" + error + ")";
  }

  // The largest objects of `stores`, largest first, as ObjectRow shows them.
  nlohmann::json ObjectRows(const std::vector<NodeStore>& stores,
                            const protocol::ClusterStatus& status) {
    // Owners from the pools of the raylets that answered for their stores: a
    // raylet that did not would keep the command waiting once more.
    protocol::ClusterStatus answered = status;
    std::erase_if(answered.nodes, [&](const protocol::NodeInfo& node) {
      return std::none_of(stores.begin(), stores.end(), [&](const NodeStore& store) {
        return store.stats && store.node.node_id == node.node_id;
      });
    });
    ProcessDirectory processes(GatherWorkers(answered, nullptr), GetActors(), status.jobs);
    nlohmann::json rows = nlohmann::json::array();
    for (const NodeStore& store : stores) {
      if (!store.stats) continue;
      for (const protocol::StoreObjectInfo& object : store.stats->largest)
        rows.push_back(ObjectRow(object, store.node.node_id, processes));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a["size"].template get<uint64_t>() > b["size"].template get<uint64_t>();
    });
    return rows;
  }

  // `rayk list objects|workers`: the rows after the filters, at most
  // --limit, with the raylets that did not answer; `what` names the rows.
  void PrintRows(const std::string& what, nlohmann::json rows,
                 const std::vector<std::string>& unanswered,
                 std::string (*format_rows)(const nlohmann::json&)) {
    size_t matched = rows.size();
    if (rows.size() > static_cast<size_t>(list_limit))
      rows.erase(rows.begin() + list_limit, rows.end());
    if (*format == "json") {
      std::cout << nlohmann::json{{what, rows}, {"total", matched}, {"errors", unanswered}}.dump(2)
                << "\n";
      return;
    }
    std::cout << format_rows(rows) << "Showing " << rows.size() << " of " << matched << " " << what
              << (rows.size() < matched ? " (--limit N shows more)" : "") << "\n";
    for (const std::string& line : unanswered) std::cout << "  " << line << "\n";
  }

  // Fails on a bad --limit or --filter before asking the cluster anything.
  void CheckListOptions(const FilterKeys& keys) {
    if (list_limit < 1) Fail("--limit must be at least 1, e.g. --limit 100");
    auto checked = FilterRows(nlohmann::json::array(), list_filters, keys);
    if (!checked.ok()) Fail(checked.status().message());
  }

  // `rayk list objects`: every store's objects, largest first.
  int ListObjects() {
    CheckListOptions(ObjectFilterKeys());
    protocol::ClusterStatus status = GetStatus();
    std::vector<NodeStore> stores = GatherStores(status, protocol::kMaxListedObjects);
    std::vector<std::string> unanswered;
    for (const NodeStore& store : stores)
      if (!store.stats) unanswered.push_back(NoAnswer(store.node, store.error));
    auto rows = FilterRows(ObjectRows(stores, status), list_filters, ObjectFilterKeys());
    if (!rows.ok()) Fail(rows.status().message());
    PrintRows("objects", std::move(*rows), unanswered, FormatObjects);
    return 0;
  }

  // `rayk list workers`: every raylet's pool, then the running jobs' drivers.
  int ListWorkers() {
    CheckListOptions(WorkerFilterKeys());
    protocol::ClusterStatus status = GetStatus();
    std::vector<std::string> unanswered;
    std::vector<protocol::WorkerList> pools = GatherWorkers(status, &unanswered);
    ProcessDirectory processes(pools, GetActors(), status.jobs);
    auto rows =
        FilterRows(WorkerRows(pools, status.jobs, processes), list_filters, WorkerFilterKeys());
    if (!rows.ok()) Fail(rows.status().message());
    PrintRows("workers", std::move(*rows), unanswered, FormatWorkers);
    return 0;
  }

  // Every running job's driver and every alive node's registered workers:
  // the processes that may own objects.
  std::vector<std::string> CoreWorkerAddresses() {
    protocol::ClusterStatus status = GetStatus();
    std::vector<std::string> addresses;
    for (const protocol::JobInfo& job : status.jobs) {
      if (!job.finished && !job.driver_address.empty()) addresses.push_back(job.driver_address);
    }
    for (const protocol::NodeInfo& node : status.nodes) {
      if (!node.alive) continue;
      auto raylet = cli_transport->Connect(node.raylet_address);
      if (!raylet.ok()) continue;
      auto reply = (*raylet)->CallSync(
          protocol::Encode(protocol::MessageType::kListWorkers, protocol::ListWorkers{}),
          std::chrono::milliseconds(5000));
      if (!reply.ok()) continue;  // an older raylet, or a busy one: its store still shows
      auto list = protocol::Decode<protocol::WorkerList>(*reply);
      if (!list.ok()) continue;
      for (const protocol::WorkerRow& row : list->workers) {
        if (!row.address.empty() && row.state != "DYING") addresses.push_back(row.address);
      }
    }
    return addresses;
  }

  // `rayk memory`'s owners: each process's owned objects, with their borrowers.
  std::vector<protocol::OwnedObjects> GatherOwners() {
    std::vector<protocol::OwnedObjects> owners;
    for (const std::string& address : CoreWorkerAddresses()) {
      auto worker = cli_transport->Connect(address);
      if (!worker.ok()) continue;
      auto reply = (*worker)->CallSync(protocol::Encode(protocol::MessageType::kListOwnedObjects,
                                                        protocol::ListOwnedObjects{100}),
                                       std::chrono::milliseconds(3000));
      if (!reply.ok()) continue;  // exited meanwhile, or stopped
      auto owned = protocol::Decode<protocol::OwnedObjects>(*reply);
      if (owned.ok() && owned->num_owned > 0) owners.push_back(std::move(*owned));
    }
    return owners;
  }

  int Memory() {
    nlohmann::json out = nlohmann::json::array();
    std::ostringstream text;
    for (const NodeStore& node_store : GatherStores()) {
      const protocol::NodeInfo& node = node_store.node;
      if (!node_store.stats) {
        text << "node " << node.node_id.Hex().substr(0, 8) << ": no answer from its raylet at "
             << node.raylet_address << " (" << node_store.error << ")\n";
        continue;
      }
      const protocol::StoreStats* stats = &*node_store.stats;
      nlohmann::json largest = nlohmann::json::array();
      for (const auto& o : stats->largest) {
        largest.push_back({{"object_id", o.object_id.Hex()},
                           {"size", o.size},
                           {"primary", o.primary},
                           {"pinned", o.pinned},
                           {"spilled", o.spilled},
                           {"in_memory", o.in_memory},
                           {"creator_pid", o.creator_pid}});
      }
      nlohmann::json store = observability::StoreStatsJson(*stats);
      store["node_id"] = node.node_id.Hex();
      store["largest"] = largest;
      out.push_back(std::move(store));
      text << "Node " << node.node_id.Hex().substr(0, 8) << " ("
           << AddressFromEndpoint(node.raylet_address) << "), store '" << stats->plugin << "'\n"
           << "  capacity " << FormatBytes(stats->capacity_bytes) << ", used "
           << FormatBytes(stats->used_bytes) << ", pinned " << FormatBytes(stats->pinned_bytes)
           << ", spilled " << FormatBytes(stats->spilled_bytes) << ", " << stats->num_objects
           << " objects (" << stats->num_evicted << " evicted, " << stats->num_spilled
           << " spilled so far)\n";
      if (!stats->largest.empty()) {
        std::vector<std::vector<std::string>> rows = {
            {"OBJECT", "SIZE", "COPY", "STATE", "CREATED BY PID"}};
        for (const auto& o : stats->largest) {
          std::string state = std::string(o.in_memory ? "in memory" : "on disk") +
                              (o.pinned ? ", pinned" : "") +
                              (o.spilled && o.in_memory ? ", spilled" : "");
          rows.push_back({o.object_id.Hex().substr(0, 16), FormatBytes(o.size),
                          o.primary ? "primary" : "secondary", state,
                          std::to_string(o.creator_pid)});
        }
        text << FormatTable(rows, "  ");
      }
    }
    nlohmann::json owners_json = nlohmann::json::array();
    for (const protocol::OwnedObjects& owner : GatherOwners()) {
      nlohmann::json objects = nlohmann::json::array();
      std::vector<std::vector<std::string>> rows = {
          {"OBJECT", "SIZE", "WHERE", "REFS", "TASKS", "BORROWERS"}};
      for (const protocol::OwnedObject& o : owner.objects) {
        objects.push_back({{"object_id", o.object_id.Hex()},
                           {"owner", owner.owner},
                           {"size", o.size},
                           {"in_store", o.in_store},
                           {"local_refs", o.local_refs},
                           {"task_refs", o.task_refs},
                           {"borrowers", o.borrowers}});
        rows.push_back({o.object_id.Hex().substr(0, 16), FormatBytes(o.size),
                        o.in_store ? "store" : "inline", std::to_string(o.local_refs),
                        std::to_string(o.task_refs), std::to_string(o.borrowers)});
      }
      owners_json.push_back({{"owner", owner.owner},
                             {"pid", owner.pid},
                             {"num_objects", owner.num_owned},
                             {"objects", objects}});
      text << "Owner " << owner.owner << " (pid " << owner.pid << "), " << owner.num_owned
           << " objects" << (owner.objects.size() < owner.num_owned ? ", most borrowed first" : "")
           << "\n"
           << FormatTable(rows, "  ");
    }
    if (*format == "json") {
      std::cout << nlohmann::json{{"nodes", out}, {"owners", owners_json}}.dump(2) << "\n";
    } else {
      std::cout << (out.empty() && text.str().empty() ? "(no alive nodes)\n" : text.str());
    }
    return 0;
  }

  int ListNodes() {
    protocol::ClusterStatus status = GetStatus();
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& n : status.nodes) {
        out.push_back(observability::NodeJson(n));
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-6s %-24s %-8s %-20s %s\n", "NODE", "STATE", "ADDRESS", "PID", "STARTED",
                "RESOURCES");
    for (const auto& n : status.nodes) {
      std::printf("%-10s %-6s %-24s %-8lld %-20s %s%s\n", n.node_id.Hex().substr(0, 8).c_str(),
                  n.alive ? "ALIVE" : "DEAD", AddressFromEndpoint(n.raylet_address).c_str(),
                  static_cast<long long>(n.pid), FormatTime(n.start_time_ms).c_str(),
                  n.total.ToJson().c_str(), n.alive ? "" : ("  (" + n.death_cause + ")").c_str());
    }
    if (status.nodes.empty()) std::printf("(no nodes)\n");
    return 0;
  }

  int ListJobs() {
    protocol::ClusterStatus status = GetStatus();
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& j : status.jobs) {
        out.push_back(observability::JobJson(j));
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-9s %-8s %-20s %-20s %s\n", "JOB", "STATUS", "DRIVER", "STARTED", "ENDED",
                "CODE");
    for (const auto& j : status.jobs) {
      std::string code;
      for (const protocol::CodeLibrary& lib : j.code_libraries)
        code += (code.empty() ? "" : ",") + lib.name + "@" + lib.sha256.substr(0, 12);
      std::printf("%-10s %-9s %-8lld %-20s %-20s %s\n", j.job_id.Hex().substr(0, 8).c_str(),
                  j.finished ? "FINISHED" : "RUNNING", static_cast<long long>(j.driver_pid),
                  FormatTime(j.start_time_ms).c_str(), FormatTime(j.end_time_ms).c_str(),
                  code.c_str());
    }
    if (status.jobs.empty()) std::printf("(no jobs)\n");
    return 0;
  }

  int Kv() {
    using protocol::MessageType;
    GcsClient& gcs = ConnectGcs();
    protocol::KvRequest request{kv_namespace, kv_key, kv_value, !kv_no_overwrite};
    auto call = [&](MessageType type) {
      auto reply = CallKv(gcs, type, request, kCliGcsLimit);
      if (!reply.ok()) Fail("kv: " + reply.status().message());
      return std::move(*reply);
    };
    std::string where =
        kv_namespace.empty() ? "the default namespace" : "namespace '" + kv_namespace + "'";
    if (kv_get->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvGet);
      if (!reply.found)
        Fail("kv get: no key '" + kv_key + "' in " + where + " ('rayk kv list' shows the keys)");
      if (*format == "json") {
        std::cout << nlohmann::json{{"key", kv_key},
                                    {"namespace", kv_namespace},
                                    {"value", reply.value}}
                         .dump()
                  << "\n";
      } else {
        std::cout << reply.value << "\n";
      }
    } else if (kv_put->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvPut);
      if (!reply.found)
        Fail("kv put: key '" + kv_key + "' already exists in " + where +
             "; drop --no-overwrite to replace it");
    } else if (kv_delete->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvDelete);
      if (!reply.found) Fail("kv delete: no key '" + kv_key + "' in " + where);
    } else if (kv_list->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvList);
      if (*format == "json") {
        std::cout << nlohmann::json(reply.keys).dump() << "\n";
      } else {
        for (const std::string& key : reply.keys) std::cout << key << "\n";
      }
    }
    return 0;
  }

  // The GCS's task table (task events the workers reported).
  protocol::TaskList GetTasks() {
    auto list = protocol::Decode<protocol::TaskList>(
        AskGcs(protocol::Encode(protocol::MessageType::kListTasks, protocol::ListTasks{})));
    if (!list.ok()) Fail(list.status().message());
    return std::move(*list);
  }

  // `rayk list tasks`: the latest first, after the filters, at most --limit.
  int ListTasks() {
    if (list_limit < 1) Fail("--limit must be at least 1, e.g. --limit 100");
    protocol::TaskList list = GetTasks();
    auto tasks = FilterTasks(std::move(list.tasks), list_filters);
    if (!tasks.ok()) Fail(tasks.status().message());
    std::reverse(tasks->begin(), tasks->end());
    size_t matched = tasks->size();
    if (tasks->size() > static_cast<size_t>(list_limit)) tasks->resize(list_limit);
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& task : *tasks) out.push_back(TaskToJson(task));
      std::cout << nlohmann::json{{"tasks", out},
                                  {"total", matched},
                                  {"dropped_by_workers", list.dropped_by_workers},
                                  {"dropped_by_gcs", list.dropped_by_gcs}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << FormatTasks(*tasks);
    std::cout << "Showing " << tasks->size() << " of " << matched << " task attempts"
              << (tasks->size() < matched ? " (--limit N shows more)" : "") << "\n";
    if (list.dropped_by_workers + list.dropped_by_gcs > 0) {
      std::cout << "Missing: " << list.dropped_by_workers
                << " events workers dropped (buffer full), " << list.dropped_by_gcs
                << " attempts the GCS evicted (table full)\n";
    }
    return 0;
  }

  // `rayk timeline`: Chrome trace events of the tasks that ran.
  int Timeline() {
    protocol::TaskList list = GetTasks();
    std::vector<std::string> filters;
    if (!timeline_job.empty()) filters.push_back("job_id=" + timeline_job);
    auto tasks = FilterTasks(std::move(list.tasks), filters);
    if (!tasks.ok()) Fail(tasks.status().message());
    nlohmann::json trace = ChromeTrace(*tasks);
    Status written = WriteFileAtomically(timeline_output, trace.dump());
    if (!written.ok()) Fail("cannot write the timeline: " + written.message());
    size_t slices = 0;
    for (const auto& event : trace["traceEvents"]) slices += event["ph"] == "X" ? 1 : 0;
    std::cout << "Wrote " << slices << " task slices to " << timeline_output
              << "; open it in https://ui.perfetto.dev or chrome://tracing\n";
    return 0;
  }

  // `rayk logs`: the workers' output, from each node's raylet (which reads
  // its workers' log files), prefixed as log to driver prints it.
  int Logs() {
    if (!logs_actor.empty() + !logs_task.empty() + !logs_job.empty() > 1) {
      Fail("logs: give at most one of --actor, --task and --job");
    }
    protocol::ClusterStatus status = GetStatus();
    protocol::ReadLogs request;
    request.streams = logs_stream == "stdout"   ? protocol::ReadLogs::kStdoutOnly
                      : logs_stream == "stderr" ? protocol::ReadLogs::kStderrOnly
                                                : protocol::ReadLogs::kBothStreams;
    auto resolved = [](Result<std::string> id, const std::string& option) {
      if (!id.ok()) Fail("logs " + option + ": " + id.status().message());
      return *id;
    };
    if (!logs_job.empty()) {
      std::set<std::string> jobs;
      for (const protocol::JobInfo& job : status.jobs) jobs.insert(job.job_id.Hex());
      request.job_id = JobId::FromHex(resolved(ResolvePrefix(jobs, logs_job, "job"), "--job"));
    }
    if (!logs_task.empty()) {
      auto attempts = FindTask(GetTasks().tasks, logs_task);
      if (!attempts.ok()) Fail("logs --task: " + attempts.status().message());
      request.task_id = attempts->front().task_id;
    }
    if (!logs_actor.empty()) {
      auto actor = FindActor(GetActors(), logs_actor);
      if (!actor.ok()) Fail("logs --actor: " + actor.status().message());
      request.actor_id = actor->actor_id;
    }
    std::vector<protocol::NodeInfo> nodes;
    if (!logs_node.empty()) {
      std::set<std::string> ids;
      for (const protocol::NodeInfo& node : status.nodes) ids.insert(node.node_id.Hex());
      NodeId id = NodeId::FromHex(resolved(ResolvePrefix(ids, logs_node, "node"), "--node"));
      for (const protocol::NodeInfo& node : status.nodes)
        if (node.node_id == id) nodes.push_back(node);
      if (!nodes.front().alive) {
        Fail("logs --node: node " + logs_node + " is dead, so its raylet cannot read its logs; " +
             "on its host they are the worker-*.log and worker-*.err files of its session folder");
      }
    } else {
      for (const protocol::NodeInfo& node : status.nodes)
        if (node.alive) nodes.push_back(node);
    }
    observability::LogPrinter printer(stdout, stderr);
    std::map<NodeId, std::map<std::string, uint64_t>> offsets;
    std::map<NodeId, std::unique_ptr<Channel>> raylets;
    for (const protocol::NodeInfo& node : nodes) {
      auto raylet = cli_transport->Connect(node.raylet_address);
      if (!raylet.ok()) Fail(raylet.status().message());
      raylets[node.node_id] = std::move(*raylet);
    }
    while (true) {
      for (const protocol::NodeInfo& node : nodes) {
        for (bool more = true; more;) {
          request.offsets = offsets[node.node_id];
          auto reply = raylets[node.node_id]->CallSync(
              protocol::Encode(protocol::MessageType::kReadLogs, request),
              std::chrono::milliseconds(10000));
          auto lines = reply.ok() ? protocol::Decode<protocol::LogLines>(*reply)
                                  : Result<protocol::LogLines>(reply.status());
          if (!lines.ok()) {
            if (logs_follow) break;  // a node that went away; the others go on
            Fail("logs: the raylet of node " + node.node_id.Hex().substr(0, 8) + " at " +
                 node.raylet_address + " did not answer: " + lines.status().message());
          }
          for (const protocol::LogBatch& batch : lines->batches) printer.Print(batch);
          offsets[node.node_id] = std::move(lines->offsets);
          more = lines->more;
        }
      }
      printer.Flush(/*all=*/!logs_follow);
      if (!logs_follow) return 0;
      std::this_thread::sleep_for(observability::LogPrinter::kFoldWindow / 2);
    }
  }

  // `rayk summary tasks`: counted over every attempt ListTasks returns (the
  // GCS keeps at most its table's capacity, 100k by default).
  int SummaryTasks() {
    observability::TaskSummary summary = SummarizeTasks(GetTasks());
    if (*format == "json") {
      std::cout << observability::TaskSummaryJson(summary).dump(2) << "\n";
    } else {
      std::cout << FormatTaskSummary(summary);
    }
    return 0;
  }

  std::vector<protocol::ActorInfo> GetActors() {
    auto list = protocol::Decode<protocol::ActorList>(
        AskGcs(protocol::Encode(protocol::MessageType::kListActors, protocol::Empty{})));
    if (!list.ok()) Fail(list.status().message());
    return std::move(list->actors);
  }

  int SummaryActors() {
    nlohmann::json summary = ActorSummaryJson(GetActors());
    std::cout << (*format == "json" ? summary.dump(2) + "\n" : FormatActorSummary(summary));
    return 0;
  }

  // `rayk summary objects`: the stores' totals and the --top largest
  // objects of the cluster (each node's largest, merged).
  int SummaryObjects() {
    if (summary_top < 0) Fail("--top must be 0 or more, e.g. --top 10");
    protocol::ClusterStatus status = GetStatus();
    std::vector<NodeStore> stores = GatherStores(status, static_cast<uint32_t>(summary_top));
    nlohmann::json largest = ObjectRows(stores, status);
    if (largest.size() > static_cast<size_t>(summary_top))
      largest.erase(largest.begin() + summary_top, largest.end());
    if (*format == "json") {
      nlohmann::json summary = ObjectSummaryJson(stores);
      summary["largest"] = largest;
      std::cout << summary.dump(2) << "\n";
      return 0;
    }
    std::cout << FormatObjectSummary(stores);
    if (!largest.empty()) std::cout << "\nLargest objects\n" << FormatObjects(largest);
    return 0;
  }

  // `rayk get task ID`: every attempt of the task, as `rayk list tasks
  // --format json` shows each.
  int GetTask() {
    auto attempts = FindTask(GetTasks().tasks, get_id);
    if (!attempts.ok()) Fail(attempts.status().message());
    nlohmann::json rows = nlohmann::json::array();
    for (const protocol::TaskEvent& attempt : *attempts) rows.push_back(TaskToJson(attempt));
    if (*format == "json") {
      std::cout << nlohmann::json{{"task_id", attempts->front().task_id.Hex()}, {"attempts", rows}}
                       .dump(2)
                << "\n";
      return 0;
    }
    for (size_t i = 0; i < rows.size(); ++i)
      std::cout << (i > 0 ? "\n" : "") << FormatRecord(rows[i], "task_id");
    return 0;
  }

  // `rayk get actor ID|NAME`: the actor's record, as `rayk list actors
  // --format json` shows it.
  int GetActor() {
    auto actor = FindActor(GetActors(), get_id);
    if (!actor.ok()) Fail(actor.status().message());
    nlohmann::json record = observability::ActorJson(*actor);
    std::cout << (*format == "json" ? record.dump(2) + "\n" : FormatRecord(record, "actor_id"));
    return 0;
  }

  int ListActors() {
    std::vector<protocol::ActorInfo> actors = GetActors();
    if (!actor_namespace.empty()) {
      // Named actors of that namespace (an anonymous actor has none).
      std::erase_if(actors, [&](const protocol::ActorInfo& a) {
        return a.name.empty() || a.namespace_name != actor_namespace;
      });
    }
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& a : actors) {
        out.push_back(observability::ActorJson(a));
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-24s %-12s %-11s %-10s %-8s %-16s %s\n", "ACTOR", "CLASS", "NAME", "STATE",
                "NODE", "PID", "GROUPS", "RESTARTS");
    for (const auto& a : actors) {
      // Named concurrency groups as name:limit ("io:4,admin:1").
      std::string groups;
      for (const auto& [group, limit] : a.concurrency_groups) {
        groups += (groups.empty() ? "" : ",") + group + ":" + std::to_string(limit);
      }
      std::printf("%-10s %-24s %-12s %-11s %-10s %-8lld %-16s %d%s\n",
                  a.actor_id.Hex().substr(0, 8).c_str(), a.class_name.c_str(),
                  a.name.empty() ? "-" : a.name.c_str(), protocol::ActorStateName(a.state),
                  a.node_id.IsNil() ? "-" : a.node_id.Hex().substr(0, 8).c_str(),
                  static_cast<long long>(a.pid), groups.empty() ? "-" : groups.c_str(), a.restarts,
                  !a.death_cause.empty()      ? ("  (" + a.death_cause + ")").c_str()
                  : !a.pending_reason.empty() ? ("  (waiting: " + a.pending_reason + ")").c_str()
                                              : "");
    }
    if (actors.empty()) std::printf("(no actors)\n");
    return 0;
  }

  int ListPlacementGroups() {
    auto list = protocol::Decode<protocol::PlacementGroupList>(AskGcs(protocol::Encode(
        protocol::MessageType::kListPlacementGroups, protocol::ListPlacementGroups{})));
    if (!list.ok()) Fail(list.status().message());
    auto node_of = [](const NodeId& node) { return node.IsNil() ? std::string("-") : node.Hex(); };
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& g : list->groups) {
        nlohmann::json bundles = nlohmann::json::array();
        for (size_t i = 0; i < g.spec.bundles.size(); ++i) {
          bundles.push_back({{"index", i},
                             {"resources", nlohmann::json::parse(g.spec.bundles[i].ToJson())},
                             {"node_id", g.bundle_nodes.size() > i && !g.bundle_nodes[i].IsNil()
                                             ? nlohmann::json(g.bundle_nodes[i].Hex())
                                             : nlohmann::json(nullptr)}});
        }
        out.push_back({{"placement_group_id", g.spec.group_id.Hex()},
                       {"name", g.spec.name},
                       {"namespace", g.spec.namespace_name},
                       {"strategy", PlacementStrategyName(g.spec.strategy)},
                       {"state", protocol::PlacementGroupStateName(g.state)},
                       {"bundles", bundles},
                       {"job_id", g.spec.job_id.Hex()},
                       {"detached", g.spec.detached},
                       {"pending_reason", g.pending_reason},
                       {"create_time_ms", g.create_time_ms},
                       {"placed_time_ms", g.placed_time_ms}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"PLACEMENT_GROUP", "NAME", "STRATEGY", "STATE", "BUNDLES (resources@node)"}};
    for (const auto& g : list->groups) {
      std::string bundles;
      for (size_t i = 0; i < g.spec.bundles.size(); ++i) {
        if (i > 0) bundles += " ";
        std::string node = i < g.bundle_nodes.size() ? node_of(g.bundle_nodes[i]) : "-";
        bundles += FormatResources(g.spec.bundles[i]) + "@" + node.substr(0, 8);
      }
      rows.push_back({g.spec.group_id.Hex().substr(0, 8), g.spec.name.empty() ? "-" : g.spec.name,
                      PlacementStrategyName(g.spec.strategy),
                      protocol::PlacementGroupStateName(g.state), bundles});
    }
    std::cout << FormatTable(rows);
    if (list->groups.empty()) std::cout << "(no placement groups)\n";
    for (const auto& g : list->groups) {
      if (g.state == protocol::PlacementGroupState::kPending && !g.pending_reason.empty())
        std::cout << "  " << g.spec.group_id.Hex().substr(0, 8) << " pending: " << g.pending_reason
                  << "\n";
    }
    return 0;
  }

  int ShowStatus() {
    std::string gcs;
    protocol::ClusterStatus status = GetStatus(&gcs);
    StatusSummary summary = Summarize(status);
    int running = 0;
    for (const auto& job : status.jobs) running += !job.finished;
    if (*format == "json") {
      nlohmann::json nodes = nlohmann::json::array();
      for (const auto& node : status.nodes) {
        ResourceSet used = node.total;
        used.Subtract(node.available);
        nodes.push_back(
            {{"node_id", node.node_id.Hex()},
             {"address", node.raylet_address},
             {"alive", node.alive},
             {"state", node.alive ? "ALIVE" : "DEAD"},
             {"pid", node.pid},
             {"total", nlohmann::json::parse(node.total.ToJson())},
             {"used", nlohmann::json::parse(used.ToJson())},
             {"available", nlohmann::json::parse(node.available.ToJson())},
             {"reserved", nlohmann::json::parse(ReservedInBundles(node.total).ToJson())},
             {"workers", node.num_workers},
             {"pending_demands", node.pending_demands},
             {"infeasible_demands", node.infeasible_demands},
             {"stopped_workers", node.stopped_workers},
             {"accelerators", DevicesInUseJson(node.accelerators)},
             {"labels", node.labels},
             {"death_cause", node.death_cause}});
      }
      ResourceSet available = summary.total;
      available.Subtract(summary.used);
      auto demand_json = [](const std::vector<std::string>& demands) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& [text, count] : CountDemands(demands)) {
          auto parsed = nlohmann::json::parse(text, nullptr, false);
          out.push_back({{"resources", parsed.is_discarded() ? nlohmann::json(text) : parsed},
                         {"count", count}});
        }
        return out;
      };
      std::cout << nlohmann::json{{"gcs_address", AddressFromEndpoint(gcs)},
                                  {"nodes", nodes},
                                  {"alive_nodes", summary.alive},
                                  {"dead_nodes", summary.dead},
                                  {"resources",
                                   {{"total", nlohmann::json::parse(summary.total.ToJson())},
                                    {"used", nlohmann::json::parse(summary.used.ToJson())},
                                    {"available", nlohmann::json::parse(available.ToJson())},
                                    {"reserved", nlohmann::json::parse(summary.reserved.ToJson())},
                                    {"reserved_used",
                                     nlohmann::json::parse(summary.reserved_used.ToJson())}}},
                                  {"demand",
                                   {{"waiting", demand_json(summary.waiting)},
                                    {"infeasible", demand_json(summary.infeasible)}}},
                                  {"jobs", {{"total", status.jobs.size()}, {"running", running}}},
                                  {"gcs",
                                   {{"restarts", status.gcs.restarts},
                                    {"start_time_ms", status.gcs.start_time_ms},
                                    {"lost_state", status.gcs.lost_state},
                                    {"store_error", status.gcs.store_error},
                                    {"store_error_since_ms", status.gcs.store_error_since_ms},
                                    {"metrics_address", status.gcs.metrics_address}}},
                                  {"plugins", status.gcs.plugins}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "rayk cluster at " << AddressFromEndpoint(gcs) << "\n";
    if (!status.gcs.plugins.empty())
      std::cout << "Plugins: " << FormatSelectedPlugins(status.gcs.plugins) << "\n";
    if (!status.gcs.metrics_address.empty()) {
      std::cout << "Metrics: http://" << status.gcs.metrics_address << "/metrics\n"
                << "Dashboard: http://" << status.gcs.metrics_address << "/\n";
    }
    std::cout << "\nNodes: " << summary.alive << " alive, " << summary.dead << " dead\n";
    // One column per resource any node has; each cell is used/total.
    std::set<std::string> names;
    for (const auto& node : status.nodes) {
      ResourceSet own = WithoutBundleResources(node.total);
      for (const auto& [name, amount] : own.amounts()) names.insert(name);
    }
    std::vector<std::vector<std::string>> rows = {{"NODE", "STATE", "ADDRESS", "PID", "WORKERS"}};
    rows[0].insert(rows[0].end(), names.begin(), names.end());
    rows[0].push_back("LABELS");
    for (const auto& node : status.nodes) {
      ResourceSet used = node.total;
      used.Subtract(node.available);
      std::vector<std::string> row = {
          node.node_id.Hex().substr(0, 8), node.alive ? "ALIVE" : "DEAD",
          AddressFromEndpoint(node.raylet_address), std::to_string(node.pid),
          node.alive ? std::to_string(node.num_workers) : "-"};
      for (const std::string& name : names) {
        double total = node.total.Get(name);
        row.push_back(total == 0 ? "-"
                                 : (node.alive ? FormatAmount(used.Get(name)) : "-") + "/" +
                                       FormatAmount(total));
      }
      // The labels every node has repeat the NODE and ADDRESS columns (and the
      // host name); --format json shows them.
      Labels shown = node.labels;
      for (const char* key : {kNodeIdLabel, kHostnameLabel, kNodeAddressLabel}) shown.erase(key);
      row.push_back(shown.empty() ? "-" : FormatLabels(shown));
      rows.push_back(std::move(row));
    }
    std::cout << FormatTable(rows);
    if (status.nodes.empty()) std::cout << "  (no nodes)\n";
    for (const auto& node : status.nodes) {
      if (!node.alive)
        std::cout << "  " << node.node_id.Hex().substr(0, 8) << " died: " << node.death_cause
                  << "\n";
      // A stopped worker is alive but makes no progress: its tasks hang.
      for (const std::string& stopped : node.stopped_workers) {
        if (node.alive)
          std::cout << "  " << node.node_id.Hex().substr(0, 8) << " warning: " << stopped
                    << " (its tasks make no progress; kill -CONT resumes it)\n";
      }
    }
    bool accelerators_shown = false;
    for (const auto& node : status.nodes) {
      if (!node.alive) continue;
      for (const protocol::AcceleratorUse& use : node.accelerators) {
        if (!accelerators_shown) std::cout << "\nAccelerator devices (ids in use per node)\n";
        accelerators_shown = true;
        std::cout << "  " << node.node_id.Hex().substr(0, 8) << " " << use.resource << ": "
                  << FormatDevicesInUse(use) << "\n";
      }
    }
    std::cout << "\nResources (alive nodes)\n";
    for (const auto& [name, amount] : summary.total.amounts()) {
      std::cout << "  " << FormatAmount(summary.used.Get(name)) << "/" << FormatAmount(amount)
                << " " << name << " used\n";
    }
    if (!summary.reserved.empty()) {
      std::cout << "\nReserved in placement groups (part of the used above)\n";
      for (const auto& [name, amount] : summary.reserved.amounts()) {
        std::cout << "  " << FormatAmount(summary.reserved_used.Get(name)) << "/"
                  << FormatAmount(amount) << " " << name << " reserved in use\n";
      }
    }
    std::cout << "\nPending demand\n";
    if (summary.waiting.empty() && summary.infeasible.empty()) std::cout << "  (none)\n";
    if (!summary.waiting.empty())
      std::cout << "  waiting for resources: " << FormatDemands(summary.waiting) << "\n";
    if (!summary.infeasible.empty()) {
      std::cout << "  infeasible (no alive node has this much in total): "
                << FormatDemands(summary.infeasible) << "\n";
    }
    std::cout << "\nJobs: " << running << " running, " << status.jobs.size() - running
              << " finished\n";
    if (status.gcs.restarts > 0) {
      std::cout << "\nGCS: restarted " << status.gcs.restarts << " time(s), last at "
                << FormatTime(status.gcs.start_time_ms) << "\n";
    }
    if (!status.gcs.lost_state.empty()) std::cout << "  warning: " << status.gcs.lost_state << "\n";
    if (!status.gcs.store_error.empty()) {
      std::cout << "\nGCS store failing since " << FormatTime(status.gcs.store_error_since_ms)
                << ": " << status.gcs.store_error << "\n";
    }
    return 0;
  }

  int Run() {
    if (!address.empty()) setenv("RAYK_ADDRESS", address.c_str(), 1);
    std::string path = std::filesystem::absolute(job_library).string();
    if (!std::filesystem::exists(path))
      Fail("job library " + path + " does not exist; build it with rayk_add_job()");
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) Fail(std::string("cannot load job library ") + path + ": " + dlerror());
    using Main = int (*)(int, char**);
    auto entry = reinterpret_cast<Main>(dlsym(handle, "main"));
    if (entry == nullptr) {
      Fail("job library " + path +
           " has no entry point; define int main(int, char**) in it (rayk_add_job does)");
    }
    std::vector<std::string> args = {path};
    args.insert(args.end(), job_args.begin(), job_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    return entry(static_cast<int>(args.size()), argv.data());
  }
};

ClusterCommands::ClusterCommands(CLI::App* app, std::string* format)
    : impl_(std::make_shared<Impl>()) {
  Impl& d = *impl_;
  d.format = format;
  auto add_format = [format](CLI::App* command) {
    command->add_option("--format", *format, "text (for people) or json (for programs)")
        ->check(CLI::IsMember({"text", "json"}));
  };

  d.start = app->add_subcommand("start", "start a cluster's head (--head) or join one (--address)");
  d.start->add_flag("--head", d.head, "start a new cluster: a GCS server and this node's raylet");
  d.start->add_option("--address", d.address, "join the cluster whose GCS is at HOST:PORT");
  d.start->add_option("--port", d.port, "the GCS port with --head")->capture_default_str();
  d.start->add_option(
      "--node-ip-address", d.node_ip,
      "this node's address, which other hosts reach (\"auto\": the primary one; "
      "default: loopback for --head, the address routing to the head when joining)");
  d.start->add_option("--num-cpus", d.num_cpus, "CPUs this node offers (default: all)");
  d.start->add_option("--resources", d.resources, "extra resources as JSON, e.g. '{\"GPU\": 1}'");
  d.start->add_option("--labels", d.labels, "node labels as JSON, e.g. '{\"zone\": \"a\"}'");
  d.start->add_option("--accelerators", d.accelerators,
                      "accelerator resources besides GPU, each with the environment variable its "
                      "device ids go in, as JSON, e.g. '{\"neuron_cores\": "
                      "\"NEURON_RT_VISIBLE_CORES\"}'");
  d.start
      ->add_option("--node-timeout-ms", d.gcs.node_timeout_ms,
                   "with --head: a node silent this long is marked dead")
      ->capture_default_str();
  d.start->add_option("--gcs-publisher-port", d.gcs.publisher_port,
                      "with --head: the port the GCS publishes node changes on (default: any "
                      "free port)");
  d.start
      ->add_option("--metrics-port", d.gcs.metrics_port,
                   "with --head: the port of the Prometheus metrics (http://IP:PORT/metrics; "
                   "0: any free port, -1: none)")
      ->capture_default_str();
  d.AddPortOptions(d.start, /*with_node_manager=*/true);
  d.AddConfigOptions(d.start);
  d.AddAuthOption(d.start);
  d.start->add_flag("--insecure-no-auth", d.insecure_no_auth,
                    "run without authentication or encryption: anyone who can reach the ports "
                    "controls the cluster");
  add_format(d.start);

  d.stop = app->add_subcommand(
      "stop", "stop the processes rayk start and rayk dev up recorded in their sessions");
  d.status = app->add_subcommand("status", "nodes, resources (total/used), pending demand");
  d.status->add_option("--address", d.address,
                       "the GCS (default: $RAYK_ADDRESS, else the latest session)");
  d.status->add_option("--config", d.config_file, "plugins.toml naming the transport");
  d.AddAuthOption(d.status);
  add_format(d.status);

  d.list = app->add_subcommand(
      "list",
      "list the cluster's actors, nodes, jobs, tasks, objects, workers or placement groups");
  d.list->require_subcommand(1);
  d.list_tasks = d.list->add_subcommand(
      "tasks", "task attempts workers ran: id, name, state, node, pid, duration, error");
  d.list_tasks->add_option("--filter", d.list_filters,
                           "KEY=VALUE, repeatable: task_id, job_id, actor_id, node_id (hex "
                           "prefixes), name, state, worker_pid");
  d.list_tasks->add_option("--limit", d.list_limit, "at most this many, the latest first")
      ->capture_default_str();
  d.list_objects = d.list->add_subcommand(
      "objects",
      "the objects in the nodes' stores, largest first: id, size, node, copy, state, "
      "owner");
  d.list_workers = d.list->add_subcommand(
      "workers", "worker processes and drivers: pid, node, state, job, actor, start time");
  for (auto [command, keys] : {std::pair{d.list_objects,
                                         "object_id, node_id (hex prefixes), copy "
                                         "(primary|secondary), pinned, spilled "
                                         "(true|false), owner_pid"},
                               std::pair{d.list_workers,
                                         "worker_id, node_id, job_id (hex "
                                         "prefixes), pid, state, actor_name"}}) {
    command->add_option("--filter", d.list_filters, std::string("KEY=VALUE, repeatable: ") + keys);
    command->add_option("--limit", d.list_limit, "at most this many")->capture_default_str();
  }
  d.timeline = app->add_subcommand(
      "timeline", "Chrome trace events of the tasks that ran (Perfetto, chrome://tracing)");
  d.timeline->add_option("--job", d.timeline_job, "only this job's tasks (a hex id prefix)");
  d.timeline->add_option("-o,--output", d.timeline_output, "the trace file to write")->required();
  d.logs = app->add_subcommand(
      "logs", "workers' output, each line prefixed with its task or actor, pid and node");
  d.logs->add_option("--node", d.logs_node, "only this node's workers (a hex id prefix)");
  d.logs->add_option("--actor", d.logs_actor, "only this actor's output (its name or id prefix)");
  d.logs->add_option("--task", d.logs_task, "only this task's output (a hex id prefix)");
  d.logs->add_option("--job", d.logs_job, "only this job's output (a hex id prefix)");
  d.logs->add_flag("-f,--follow", d.logs_follow, "keep printing new lines until interrupted");
  d.logs
      ->add_option("--stream", d.logs_stream,
                   "the workers' stdout, stderr or all (stderr lines go to this command's stderr)")
      ->check(CLI::IsMember({"stdout", "stderr", "all"}))
      ->capture_default_str();
  for (CLI::App* command : {d.list_tasks, d.list_objects, d.list_workers, d.timeline, d.logs}) {
    command->add_option("--address", d.address,
                        "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    d.AddAuthOption(command);
  }
  for (CLI::App* command : {d.list_tasks, d.list_objects, d.list_workers}) add_format(command);
  d.list_actors = d.list->add_subcommand("actors", "id, class, name, state, node, pid, restarts");
  d.list_nodes = d.list->add_subcommand("nodes", "id, state, address, pid, start time, resources");
  d.list_jobs = d.list->add_subcommand("jobs", "id, status, driver pid, start and end time, code");
  d.list_placement_groups = d.list->add_subcommand(
      "placement-groups", "id, name, strategy, state, bundles and the node of each, job");
  d.list_actors->add_option("--namespace", d.actor_namespace,
                            "only the named actors of this namespace");
  for (CLI::App* command : {d.list_actors, d.list_nodes, d.list_jobs, d.list_placement_groups}) {
    command->add_option("--address", d.address,
                        "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    d.AddAuthOption(command);
    add_format(command);
  }

  // Without require_subcommand: CLI11 would then call `rayk summary workers`
  // "A subcommand is required"; this way it names the stray word, and Run()
  // names the choices when none is given.
  d.summary = app->add_subcommand(
      "summary", "counts of the cluster's tasks (by name), actors (by class) or objects");
  d.summary_tasks = d.summary->add_subcommand(
      "tasks", "task attempts by function name and state, from the GCS's task table");
  d.summary_actors = d.summary->add_subcommand("actors", "actors by class and state");
  d.summary_objects = d.summary->add_subcommand(
      "objects",
      "objects and bytes used, pinned and spilled, per node and in total; the largest objects");
  d.summary_objects->add_option("--top", d.summary_top, "how many of the largest objects to list")
      ->capture_default_str();
  d.get = app->add_subcommand("get", "one task's or actor's whole record");
  d.get_task = d.get->add_subcommand("task", "every attempt of one task");
  d.get_task->add_option("ID", d.get_id, "the task's hex id or a unique prefix (rayk list tasks)")
      ->required();
  d.get_actor = d.get->add_subcommand("actor", "one actor");
  d.get_actor
      ->add_option("ID", d.get_id,
                   "the actor's hex id, a unique prefix (rayk list actors) or its name")
      ->required();
  for (CLI::App* command :
       {d.summary_tasks, d.summary_actors, d.summary_objects, d.get_task, d.get_actor}) {
    command->add_option("--address", d.address,
                        "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    d.AddAuthOption(command);
    add_format(command);
  }

  d.memory = app->add_subcommand(
      "memory",
      "each node's object store (capacity, used, pinned, spilled, largest objects) and each "
      "process's owned objects with their references and borrowers");
  d.memory->add_option("--address", d.address,
                       "the GCS (default: $RAYK_ADDRESS, else the latest session)");
  d.AddAuthOption(d.memory);
  add_format(d.memory);

  d.kv =
      app->add_subcommand("kv", "the cluster's internal key-value store (rayk::KvPut and friends)");
  d.kv->require_subcommand(1);
  d.kv_get = d.kv->add_subcommand("get", "print a key's value");
  d.kv_put = d.kv->add_subcommand("put", "store a value under a key");
  d.kv_delete = d.kv->add_subcommand("delete", "remove a key");
  d.kv_list = d.kv->add_subcommand("list", "list the keys that start with PREFIX");
  for (CLI::App* command : {d.kv_get, d.kv_put, d.kv_delete}) {
    command->add_option("KEY", d.kv_key, "the key")->required();
  }
  d.kv_put->add_option("VALUE", d.kv_value, "the value")->required();
  d.kv_put->add_flag("--no-overwrite", d.kv_no_overwrite, "fail if the key exists");
  d.kv_list->add_option("PREFIX", d.kv_key, "only keys starting with this");
  for (CLI::App* command : {d.kv_get, d.kv_put, d.kv_delete, d.kv_list}) {
    command->add_option("--namespace", d.kv_namespace, "the keys' namespace (default: \"\")");
    command->add_option("--address", d.address,
                        "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    d.AddAuthOption(command);
    add_format(command);
  }

  d.run = app->add_subcommand(
      "run", "run a job library's main() as the driver: rayk run libjob.so -- args");
  d.run->add_option("LIBRARY", d.job_library, "the job's shared library (built with rayk_add_job)")
      ->required();
  d.run->add_option("--address", d.address, "run against this cluster (default: an embedded one)");
  d.AddAuthOption(d.run);
  d.run->add_option("ARGS", d.job_args, "arguments for the job's main, after --");

  d.gcs_server =
      app->add_subcommand("gcs-server", "(internal) run a GCS server; rayk start launches it");
  d.gcs_server->add_option("--port", d.gcs.port, "port to serve on (0: any free port)");
  d.gcs_server->add_option("--publisher-port", d.gcs.publisher_port,
                           "port to publish on (0: any free port)");
  d.gcs_server->add_option("--metrics-port", d.gcs.metrics_port,
                           "port of the Prometheus metrics (0: any free port, -1: none)");
  d.gcs_server->add_option("--node-timeout-ms", d.gcs.node_timeout_ms,
                           "a node silent this long is marked dead");
  d.gcs_server->add_option("--restarts", d.gcs.restarts,
                           "how many times the supervisor restarted it");
  d.gcs_server->add_flag("--supervise", d.gcs.supervise,
                         "supervise a GCS server, restarting it when it dies");
  d.gcs_server->add_option("--session-dir", d.session_dir, "session folder")->required();
  d.gcs_server->add_option("--node-ip-address", d.node_ip, "the address to serve on");
  d.gcs_server->add_flag("--exit-with-parent", d.exit_with_parent,
                         "end when the starting process ends");
  d.AddConfigOptions(d.gcs_server);
  d.gcs_server->group("Internal");

  d.raylet = app->add_subcommand("raylet", "(internal) run a raylet; rayk start launches it");
  d.raylet->add_option("--gcs", d.address, "the GCS address")->required();
  d.raylet->add_option("--session-dir", d.session_dir, "session folder")->required();
  d.raylet->add_option("--node-ip-address", d.node_ip, "the address to serve on");
  d.raylet->add_option("--num-cpus", d.num_cpus, "CPUs this node offers");
  d.raylet->add_option("--resources", d.resources, "extra resources as JSON");
  d.raylet->add_option("--labels", d.labels, "node labels as JSON");
  d.raylet->add_option("--accelerators", d.accelerators, "accelerators besides GPU as JSON");
  d.raylet->add_flag("--exit-with-parent", d.exit_with_parent,
                     "end when the starting process ends");
  d.AddPortOptions(d.raylet, /*with_node_manager=*/true);
  d.AddConfigOptions(d.raylet);
  d.raylet->group("Internal");

  d.worker = app->add_subcommand("worker", "(internal) run a worker; the raylet launches it");
  d.worker->add_option("--raylet", d.raylet_address)->required();
  d.worker->add_option("--gcs", d.address)->required();
  d.worker->add_option("--node-id", d.node_id)->required();
  d.worker->add_option("--worker-id", d.worker_id)->required();
  d.worker->add_option("--job-id", d.job_id)->required();
  d.worker->add_option("--session-dir", d.session_dir)->required();
  d.worker->add_option("--code", d.code, "a job library to load");
  d.AddPortOptions(d.worker, /*with_node_manager=*/false);
  d.AddConfigOptions(d.worker);
  d.worker->group("Internal");
}

std::optional<int> ClusterCommands::Run() {
  Impl& d = *impl_;
  // Before anything starts a thread or a process: both read the environment.
  ExportAuthToken(d.auth_token);
  if (d.start->parsed()) return d.Start();
  if (d.stop->parsed()) return d.Stop();
  if (d.status->parsed()) return d.ShowStatus();
  if (d.run->parsed()) return d.Run();
  if (d.list_actors->parsed()) return d.ListActors();
  if (d.list_nodes->parsed()) return d.ListNodes();
  if (d.list_jobs->parsed()) return d.ListJobs();
  if (d.list_tasks->parsed()) return d.ListTasks();
  if (d.list_objects->parsed()) return d.ListObjects();
  if (d.list_workers->parsed()) return d.ListWorkers();
  if (d.timeline->parsed()) return d.Timeline();
  if (d.logs->parsed()) return d.Logs();
  if (d.summary_tasks->parsed()) return d.SummaryTasks();
  if (d.summary_actors->parsed()) return d.SummaryActors();
  if (d.summary_objects->parsed()) return d.SummaryObjects();
  if (d.get_task->parsed()) return d.GetTask();
  if (d.get_actor->parsed()) return d.GetActor();
  if (d.summary->parsed())
    Fail("summary: say what to summarize: rayk summary tasks|actors|objects");
  if (d.get->parsed()) Fail("get: say what to show: rayk get task ID or rayk get actor ID|NAME");
  if (d.list_placement_groups->parsed()) return d.ListPlacementGroups();
  if (d.memory->parsed()) return d.Memory();
  if (d.kv->parsed()) return d.Kv();
  if (d.gcs_server->parsed()) return RunGcsServerProcess(d.Process(), d.gcs);
  if (d.raylet->parsed()) {
    ResourceSet resources = ParseResources(d.resources, d.num_cpus);
    return RunRayletProcess(d.Process(), d.address, resources,
                            ParseLabels(d.labels, "--labels", /*allow_reserved=*/true),
                            ParseAccelerators(d.accelerators, resources));
  }
  if (d.worker->parsed()) {
    WorkerProcessOptions worker;
    worker.raylet_address = d.raylet_address;
    worker.gcs_address = d.address;
    worker.node_id = NodeId::FromHex(d.node_id);
    worker.worker_id = WorkerId::FromHex(d.worker_id);
    worker.job_id = JobId::FromHex(d.job_id);
    worker.code_libraries = d.code;
    return RunWorkerProcess(d.Process(), worker);
  }
  return std::nullopt;
}

}  // namespace rayk::cli
