#include "dev_commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_common.h"
#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "progress.h"
#include "rayk/plugin/scheduling_util.h"

namespace rayk::cli {

namespace {

namespace fs = std::filesystem;

// The label every dev node carries, so that tests and users can target node i.
constexpr char kNodeIndexLabel[] = "rayk.io/node-index";

// One raylet of a dev cluster, as node.json in its folder records it.
struct DevNode {
  int index = 0;
  std::string dir;
  pid_t pid = 0;
  std::string endpoint;  // tcp://127.0.0.1:PORT, as the GCS lists it
  std::string node_id;
  std::string resources;  // JSON
  std::map<std::string, std::string> labels;

  nlohmann::json ToJson() const {
    return {
        {"index", index},  {"node_id", node_id}, {"address", AddressFromEndpoint(endpoint)},
        {"pid", pid},      {"session_dir", dir}, {"resources", nlohmann::json::parse(resources)},
        {"labels", labels}};
  }
};

bool IsActiveDevSession(const fs::path& dir) {
  return fs::exists(dir / "dev.json") && fs::exists(dir / "pids");
}

// The dev clusters under the session root that have not been stopped, the
// most recently started last.
std::vector<std::string> ActiveDevSessions() {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const std::string& dir : SessionsWithProcesses()) {
    if (!IsActiveDevSession(dir)) continue;
    auto text = ReadFile(dir + "/dev.json");
    auto json = nlohmann::json::parse(text.ok() ? *text : "", nullptr, false);
    int64_t started = json.is_object() ? json.value("started_ms", int64_t{0}) : 0;
    found.emplace_back(started, dir);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> sessions;
  for (auto& [started, dir] : found) sessions.push_back(std::move(dir));
  return sessions;
}

// The dev cluster a command acts on: the latest session if it is a running
// dev cluster, else the most recently started running one.
std::string DevSessionOrFail() {
  auto latest = LatestSessionDir();
  if (latest.ok() && IsActiveDevSession(*latest)) return *latest;
  std::vector<std::string> sessions = ActiveDevSessions();
  if (sessions.empty()) {
    Fail("no running dev cluster under " + SessionRoot() +
         "; start one with 'rayk dev up --nodes N'");
  }
  return sessions.back();
}

// The per-node resource JSON for `nodes` nodes from --resources-per-node: one
// object for every node, or an array with one object per node.
std::vector<std::string> PerNodeResources(const std::string& text, int nodes) {
  std::vector<std::string> out(nodes);
  if (text.empty()) return out;
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  const std::string hint =
      "--resources-per-node must be a JSON object such as '{\"GPU\": 1}' (every node) or an "
      "array of " +
      std::to_string(nodes) + " such objects (one per node)";
  if (parsed.is_object()) {
    std::fill(out.begin(), out.end(), parsed.dump());
  } else if (parsed.is_array()) {
    if (static_cast<int>(parsed.size()) != nodes) {
      Fail("--resources-per-node has " + std::to_string(parsed.size()) + " entries for " +
           std::to_string(nodes) + " nodes; give one object per node, or one object for all");
    }
    for (int i = 0; i < nodes; ++i) {
      if (!parsed[i].is_object()) Fail(hint);
      out[i] = parsed[i].dump();
    }
  } else {
    Fail(hint);
  }
  for (int i = 0; i < nodes; ++i)
    ParseResources(out[i], 1, "--resources-per-node (node " + std::to_string(i) + ")");
  return out;
}

}  // namespace

struct DevCommands::Impl {
  std::string* format;

  CLI::App* dev = nullptr;
  CLI::App* up = nullptr;
  CLI::App* add_node = nullptr;
  CLI::App* down = nullptr;

  int nodes = 0;
  int cpus = 1;
  std::string resources;
  std::string labels;
  std::string accelerators;  // JSON, for every node started
  std::string config_file;
  std::vector<std::string> sets;
  int port = 6379;
  int node_timeout_ms = 10000;
  int metrics_port = 0;

  // Starts node `index`'s raylet in <session>/nodes/<index>/ and records it
  // in the pids file; the caller waits for it with WaitForNodes().
  DevNode StartNode(const std::string& session, const std::string& gcs_address, int index,
                    int num_cpus, const std::string& node_resources,
                    std::map<std::string, std::string> node_labels,
                    const std::vector<std::string>& config_args) {
    DevNode node;
    node.index = index;
    node.dir = session + "/nodes/" + std::to_string(index);
    node_labels[kNodeIndexLabel] = std::to_string(index);
    node.labels = node_labels;
    node.resources = ParseResources(node_resources, num_cpus).ToJson();
    RayletLaunch launch;
    launch.gcs_address = gcs_address;
    launch.session_dir = node.dir;
    launch.num_cpus = num_cpus;
    launch.resources = node_resources;
    launch.labels = nlohmann::json(node_labels).dump();
    launch.accelerators = accelerators;
    launch.config_args = config_args;
    auto pid = SpawnRaylet(launch);
    if (!pid.ok()) FailAndUndo(pid.status().message());
    node.pid = *pid;
    RecordProcess(session, *pid, "raylet", "node " + std::to_string(index));
    return node;
  }

  // Waits until each node's raylet has written its address and the GCS lists
  // it alive; fills in their endpoints and ids, and writes their node.json.
  // On a terminal, a line counts them: "raylets started 12/200", then
  // "nodes up 57/200".
  void WaitForNodes(const std::string& gcs_address, std::vector<DevNode>& started) {
    auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    const std::string of = "/" + std::to_string(started.size());
    Progress progress;
    int ready = 0;
    for (DevNode& node : started) {
      progress.Show("raylets started " + std::to_string(ready++) + of);
      std::string log = node.dir + "/logs/raylet.log";
      auto endpoint = WaitForFile(node.dir + "/raylet_address", kStartTimeout, node.pid, log);
      if (!endpoint.ok()) {
        FailAndUndo("the raylet of node " + std::to_string(node.index) +
                    " did not start: " + endpoint.status().message());
      }
      node.endpoint = *endpoint;
    }
    GcsConnection gcs = ConnectToGcs(gcs_address, config_file, sets);
    while (true) {
      auto status = FetchClusterStatus(*gcs.client);
      int registered = 0;
      if (status.ok()) {
        for (DevNode& node : started) {
          for (const protocol::NodeInfo& info : status->nodes) {
            if (info.alive && info.raylet_address == node.endpoint) {
              node.node_id = info.node_id.Hex();
              ++registered;
            }
          }
        }
      }
      progress.Show("nodes up " + std::to_string(registered) + of);
      if (registered == static_cast<int>(started.size())) break;
      if (std::chrono::steady_clock::now() > deadline) {
        FailAndUndo("only " + std::to_string(registered) + " of " + std::to_string(started.size()) +
                    " raylets registered with the GCS at " + gcs_address + " within " +
                    std::to_string(kStartTimeout.count()) + " s" +
                    (status.ok() ? "" : " (" + status.status().message() + ")") +
                    "; see the raylet.log of each node");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const DevNode& node : started) {
      (void)WriteFileAtomically(node.dir + "/node.json", node.ToJson().dump(2));
    }
  }

  // What a failing command stops before it exits: a dev cluster that failed
  // to start leaves nothing running, a node that failed to join only itself.
  std::function<void()> undo_ = [] {};

  [[noreturn]] void FailAndUndo(const std::string& message) {
    undo_();
    Fail(message);
  }

  void PrintNodes(const std::vector<DevNode>& started) {
    std::vector<std::vector<std::string>> rows = {
        {"INDEX", "NODE", "ADDRESS", "PID", "RESOURCES", "LABELS"}};
    for (const DevNode& node : started) {
      auto parsed = ResourceSet::FromJson(node.resources);
      rows.push_back({std::to_string(node.index), node.node_id.substr(0, 8),
                      AddressFromEndpoint(node.endpoint), std::to_string(node.pid),
                      parsed.ok() ? FormatResources(*parsed) : node.resources,
                      FormatLabels(node.labels)});
    }
    std::cout << FormatTable(rows);
  }

  int Up() {
    if (nodes < 1) Fail("--nodes must be at least 1, e.g. --nodes 3");
    if (cpus < 1) Fail("--cpus-per-node must be at least 1, e.g. --cpus-per-node 2");
    if (node_timeout_ms <= 0) Fail("--node-timeout-ms must be positive, e.g. 10000 (10 s)");
    if (Status st = CheckOptionalPort(metrics_port, "--metrics-port"); !st.ok()) Fail(st.message());
    if (port < 0 || port > 65535) Fail("--port must be between 0 (any free port) and 65535");
    std::vector<std::string> node_resources = PerNodeResources(resources, nodes);
    for (const std::string& node : node_resources) {
      ParseAccelerators(accelerators, ParseResources(node, cpus), "--accelerators",
                        "--resources-per-node");
    }
    std::map<std::string, std::string> user_labels = ParseLabels(labels);
    CheckConfigOrFail(config_file, sets);
    umask(077);  // the session's files (pids, dev.json, nodes/) are for this user only
    auto session = CreateSessionDir();
    if (!session.ok()) Fail(session.status().message());
    std::vector<std::string> config_args = ConfigArgs(config_file, sets);
    SetUpNewClusterSecret(*session);
    undo_ = [session = *session] { StopRecordedProcesses({session}, nullptr); };
    // Written first, so that `rayk dev down` finds a cluster whose start was interrupted.
    (void)WriteFileAtomically(
        *session + "/dev.json",
        nlohmann::json{{"started_ms", NowMs()}, {"config_args", config_args}}.dump(2));
    auto started_gcs = StartSupervisedGcs(*session, port, /*publisher_port=*/0, node_timeout_ms,
                                          config_args, "127.0.0.1", metrics_port);
    if (!started_gcs.ok()) FailAndUndo(started_gcs.status().message());
    std::string gcs_address = *started_gcs;
    std::vector<DevNode> started;
    for (int i = 0; i < nodes; ++i) {
      fs::create_directories(*session + "/nodes/" + std::to_string(i));
      started.push_back(
          StartNode(*session, gcs_address, i, cpus, node_resources[i], user_labels, config_args));
    }
    WaitForNodes(gcs_address, started);
    auto metrics = ReadFile(*session + "/gcs_metrics_address");  // none with --metrics-port -1
    std::string metrics_url = metrics.ok() ? "http://" + *metrics + "/metrics" : "";
    std::string dashboard_url = metrics.ok() ? "http://" + *metrics + "/" : "";  // same server
    if (*format == "json") {
      nlohmann::json out_nodes = nlohmann::json::array();
      for (const DevNode& node : started) out_nodes.push_back(node.ToJson());
      std::cout << nlohmann::json{{"address", gcs_address},
                                  {"session_dir", *session},
                                  {"metrics_url", metrics_url},
                                  {"dashboard_url", dashboard_url},
                                  {"nodes", out_nodes}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "Started a rayk dev cluster of " << nodes << " node" << (nodes == 1 ? "" : "s")
              << " (session " << *session << ")\n"
              << "  GCS address: " << gcs_address << "\n"
              << (metrics_url.empty() ? "" : "  Metrics:     " + metrics_url + "\n")
              << (dashboard_url.empty() ? "" : "  Dashboard:   " + dashboard_url + "\n") << "\n";
    PrintNodes(started);
    std::cout << "\nRun a driver against it:  RAYK_ADDRESS=" << gcs_address << " ./my_driver\n"
              << "                      or  rayk run libmy_job.so --address " << gcs_address << "\n"
              << "Target node i:            its label " << kNodeIndexLabel << "=i\n"
              << "Add a node:               rayk dev add-node [--cpus K] [--resources JSON] "
                 "[--labels JSON]\n"
              << "See it:                   rayk status\n"
              << "Stop it:                  rayk dev down\n";
    return 0;
  }

  int AddNode() {
    if (cpus < 1) Fail("--cpus must be at least 1, e.g. --cpus 2");
    ParseAccelerators(accelerators, ParseResources(resources, cpus));
    std::map<std::string, std::string> user_labels = ParseLabels(labels);
    std::string session = DevSessionOrFail();
    umask(077);
    auto gcs_address = ReadFile(session + "/gcs_address");
    if (!gcs_address.ok())
      Fail("the dev cluster in " + session + " has no gcs_address; restart it with 'rayk dev up'");
    auto dev_text = ReadFile(session + "/dev.json");
    auto dev = nlohmann::json::parse(dev_text.ok() ? *dev_text : "", nullptr, false);
    if (!dev.is_object())
      Fail(session + "/dev.json is not JSON; restart the dev cluster with 'rayk dev up'");
    std::vector<std::string> config_args = dev.value("config_args", std::vector<std::string>{});
    // This command talks to the GCS through the transport the cluster uses.
    for (size_t i = 0; i + 1 < config_args.size(); ++i) {
      if (config_args[i] == "--config") config_file = config_args[i + 1];
      if (config_args[i] == "--set") sets.push_back(config_args[i + 1]);
    }
    // The new raylet and this command join with the dev cluster's own token
    // (a cluster without authentication has none).
    auto secret = FindClusterSecret(session);
    if (!secret.ok()) Fail(secret.status().message());
    if (!secret->empty()) setenv(kAuthTokenEnv, secret->c_str(), 1);
    // create_directory fails for an index taken already, even by a concurrent add-node.
    int index = 0;
    while (!fs::create_directories(session + "/nodes/" + std::to_string(index))) ++index;
    // A node that does not come up is stopped, not the whole cluster.
    std::vector<DevNode> started;
    undo_ = [&started] {
      for (const DevNode& node : started)
        TerminateProcess(node.pid, std::chrono::milliseconds(3000));
    };
    started.push_back(
        StartNode(session, *gcs_address, index, cpus, resources, user_labels, config_args));
    WaitForNodes(*gcs_address, started);
    const DevNode& node = started[0];
    if (*format == "json") {
      std::cout << node.ToJson().dump(2) << "\n";
      return 0;
    }
    std::cout << "Added node " << index << " to the dev cluster at " << *gcs_address << "\n\n";
    PrintNodes(started);
    return 0;
  }

  int Down() {
    std::vector<std::string> sessions = ActiveDevSessions();
    if (sessions.empty()) {
      std::cout << "No running dev cluster under " << SessionRoot() << ".\n";
      return 0;
    }
    int stopped = StopRecordedProcesses(sessions, &std::cout);
    std::cout << "Stopped " << stopped << " process" << (stopped == 1 ? "" : "es") << " of "
              << sessions.size() << " dev cluster" << (sessions.size() == 1 ? "" : "s") << "\n";
    return 0;
  }
};

DevCommands::DevCommands(CLI::App* app, std::string* format) : impl_(std::make_shared<Impl>()) {
  Impl& d = *impl_;
  d.format = format;
  auto add_format = [format](CLI::App* command) {
    command->add_option("--format", *format, "text (for people) or json (for programs)")
        ->check(CLI::IsMember({"text", "json"}));
  };
  d.dev =
      app->add_subcommand("dev", "a multi-node cluster on this machine, for development and tests");
  d.dev->require_subcommand(1);

  d.up = d.dev->add_subcommand("up", "start a GCS and N raylets on loopback in one new session");
  d.up->add_option("--nodes", d.nodes, "how many raylets (nodes) to start")->required();
  d.up->add_option("--cpus-per-node", d.cpus, "CPUs each node offers")->capture_default_str();
  d.up->add_option("--resources-per-node", d.resources,
                   "extra resources as JSON: one object for every node ('{\"GPU\": 1}') or an "
                   "array, one per node");
  d.up->add_option("--labels", d.labels,
                   "labels for every node as JSON; each also gets rayk.io/node-index");
  d.up->add_option("--accelerators", d.accelerators,
                   "accelerators besides GPU on every node, each with the environment variable "
                   "its device ids go in, as JSON ('{\"TPU\": \"TPU_VISIBLE_CHIPS\"}')");
  d.up->add_option("--port", d.port, "the GCS port (0: any free port)")->capture_default_str();
  d.up->add_option("--node-timeout-ms", d.node_timeout_ms, "a node silent this long is marked dead")
      ->capture_default_str();
  d.up->add_option("--metrics-port", d.metrics_port,
                   "the port of the GCS's Prometheus metrics (0: any free port, -1: none)")
      ->capture_default_str();
  d.up->add_option("--config", d.config_file, "plugins.toml for the cluster's processes");
  d.up->add_option("--set", d.sets,
                   "override a setting: SLOT.PLUGIN.KEY=VALUE or SLOT.plugin=NAME");
  AddPluginChoices(d.up, &d.sets);
  add_format(d.up);

  d.add_node =
      d.dev->add_subcommand("add-node", "start one more raylet in the running dev cluster");
  d.add_node->add_option("--cpus", d.cpus, "CPUs the node offers")->capture_default_str();
  d.add_node->add_option("--resources", d.resources,
                         "extra resources as JSON, e.g. '{\"GPU\": 1}'");
  d.add_node->add_option("--labels", d.labels,
                         "node labels as JSON; it also gets rayk.io/node-index");
  d.add_node->add_option("--accelerators", d.accelerators,
                         "accelerators besides GPU as JSON, as for 'rayk dev up'");
  add_format(d.add_node);

  d.down = d.dev->add_subcommand("down", "stop the dev cluster's raylets, then its GCS");
}

std::optional<int> DevCommands::Run() {
  Impl& d = *impl_;
  if (d.up->parsed()) return d.Up();
  if (d.add_node->parsed()) return d.AddNode();
  if (d.down->parsed()) return d.Down();
  return std::nullopt;
}

}  // namespace rayk::cli
