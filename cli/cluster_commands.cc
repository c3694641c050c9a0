#include "cluster_commands.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "daemons.h"
#include "gcs_client.h"
#include "protocol.h"
#include "rayk/plugin_loader.h"
#include "rayk/scheduling_util.h"
#include "rayk/transport.h"
#include "session.h"

namespace rayk::cli {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);
// A command waits this long for a GCS that does not answer (it may be
// restarting) before it says so.
constexpr auto kCliGcsLimit = std::chrono::milliseconds(8000);

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "rayk: " << message << "\n";
  std::exit(1);
}

ResourceSet ParseResources(const std::string& json, int num_cpus) {
  ResourceSet resources;
  if (!json.empty()) {
    auto parsed = ResourceSet::FromJson(json);
    if (!parsed.ok()) Fail("--resources: " + parsed.status().message());
    resources = *parsed;
  }
  int cpus = num_cpus > 0 ? num_cpus : static_cast<int>(std::thread::hardware_concurrency());
  if (resources.Get("CPU") == 0) resources.Set("CPU", cpus);
  return resources;
}

std::map<std::string, std::string> ParseLabels(const std::string& json) {
  std::map<std::string, std::string> labels;
  if (json.empty()) return labels;
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) Fail("--labels must be a JSON object, as in '{\"zone\": \"a\"}'");
  for (const auto& [key, value] : parsed.items()) {
    if (!value.is_string()) Fail("--labels: the value of '" + key + "' must be a string");
    labels[key] = value.get<std::string>();
  }
  return labels;
}

// The session directory to act on: the latest one.
std::string SessionDirOrFail() {
  auto session = LatestSessionDir();
  if (!session.ok()) Fail(session.status().message());
  return *session;
}

std::string GcsAddressOrFail(const std::string& address) {
  if (!address.empty()) return address;
  if (const char* env = std::getenv("RAYK_ADDRESS")) return env;
  std::string session = SessionDirOrFail();
  auto recorded = ReadFile(session + "/gcs_address");
  if (!recorded.ok()) Fail("no GCS address in " + session + "; pass --address HOST:PORT");
  return *recorded;
}

std::string FormatDemands(const std::vector<std::string>& demands) {
  std::map<std::string, int> counts;
  for (const std::string& demand : demands) ++counts[demand];
  std::string out;
  for (const auto& [demand, count] : counts) {
    out += (out.empty() ? "" : ", ") + demand + (count > 1 ? " x" + std::to_string(count) : "");
  }
  return out;
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
  std::string address;
  bool block = false;

  CLI::App* stop = nullptr;
  CLI::App* list = nullptr;
  CLI::App* list_actors = nullptr;
  CLI::App* list_nodes = nullptr;
  CLI::App* list_jobs = nullptr;
  CLI::App* kv = nullptr;
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

  void AddConfigOptions(CLI::App* command) {
    command->add_option("--config", config_file, "plugins.toml for the cluster's processes");
    command->add_option("--set", sets, "override a setting: SLOT.PLUGIN.KEY=VALUE or SLOT.plugin=NAME");
  }

  ProcessOptions Process() const {
    ProcessOptions options;
    if (!config_file.empty()) options.config_file = std::filesystem::absolute(config_file).string();
    options.config_sets = sets;
    options.session_dir = session_dir;
    options.exit_with_parent = exit_with_parent;
    return options;
  }

  std::vector<std::string> ConfigArgs() const {
    std::vector<std::string> args;
    if (!config_file.empty()) args = {"--config", std::filesystem::absolute(config_file).string()};
    for (const std::string& set : sets) {
      args.push_back("--set");
      args.push_back(set);
    }
    return args;
  }

  int Start() {
    if (head == !address.empty()) Fail("start needs exactly one of --head (a new cluster) or --address HOST:PORT (join one)");
    {
      // Check the configuration here, where the user sees the error, not in a daemon's log.
      auto config = Config::LoadDefault(config_file);
      if (!config.ok()) Fail(config.status().message());
      for (const std::string& set : sets) {
        if (Status st = config->ApplySet(set); !st.ok()) Fail(st.message());
      }
    }
    ParseResources(resources, num_cpus);
    ParseLabels(labels);
    if (gcs.node_timeout_ms <= 0) Fail("--node-timeout-ms must be positive, e.g. 10000 (10 s)");
    auto executable = RaykExecutable();
    if (!executable.ok()) Fail(executable.status().message());
    auto session = CreateSessionDir();
    if (!session.ok()) Fail(session.status().message());
    std::string pids = *session + "/pids";
    std::string gcs_address = address;
    if (head) {
      // The supervisor restarts the GCS server if it dies; with a durable gcs
      // plugin (sqlite) the cluster carries on as if nothing happened.
      std::vector<std::string> argv = {*executable, "gcs-server", "--supervise", "--port", std::to_string(port),
                                       "--node-timeout-ms", std::to_string(gcs.node_timeout_ms), "--session-dir",
                                       *session};
      for (const std::string& arg : ConfigArgs()) argv.push_back(arg);
      std::string log = *session + "/logs/gcs_server.log";
      auto pid = SpawnProcess(argv, log, /*new_session=*/true);
      if (!pid.ok()) Fail(pid.status().message());
      AppendLine(pids, std::to_string(*pid) + " gcs-server");
      auto written = WaitForFile(*session + "/gcs_address", kStartTimeout, *pid, log);
      if (!written.ok()) Fail("the GCS server did not start: " + written.status().message());
      gcs_address = *written;
    }
    std::vector<std::string> argv = {*executable, "raylet", "--gcs", gcs_address, "--session-dir", *session};
    if (num_cpus > 0) {
      argv.push_back("--num-cpus");
      argv.push_back(std::to_string(num_cpus));
    }
    if (!resources.empty()) {
      argv.push_back("--resources");
      argv.push_back(resources);
    }
    if (!labels.empty()) {
      argv.push_back("--labels");
      argv.push_back(labels);
    }
    for (const std::string& arg : ConfigArgs()) argv.push_back(arg);
    std::string log = *session + "/logs/raylet.log";
    auto pid = SpawnProcess(argv, log, /*new_session=*/true);
    if (!pid.ok()) Fail(pid.status().message());
    AppendLine(pids, std::to_string(*pid) + " raylet");
    auto raylet = WaitForFile(*session + "/raylet_address", kStartTimeout, *pid, log);
    if (!raylet.ok()) Fail("the raylet did not start: " + raylet.status().message());
    WriteFileAtomically(*session + "/gcs_address", gcs_address);
    if (*format == "json") {
      std::cout << nlohmann::json{{"address", gcs_address}, {"session_dir", *session}, {"raylet", *raylet}}.dump(2)
                << "\n";
      return 0;
    }
    std::cout << (head ? "Started a rayk cluster" : "Joined the rayk cluster") << " (session " << *session << ")\n"
              << "  GCS address: " << gcs_address << "\n"
              << "  raylet:      " << *raylet << "\n\n"
              << "Run a driver against it:  RAYK_ADDRESS=" << gcs_address << " ./my_driver\n"
              << "                      or  rayk run libmy_job.so --address " << gcs_address << "\n"
              << "Add a node:               rayk start --address " << gcs_address << "\n"
              << "See it:                   rayk status\n"
              << "Stop it:                  rayk stop\n";
    return 0;
  }

  int Stop() {
    auto session = LatestSessionDir();
    if (!session.ok()) {
      std::cout << "No rayk session to stop.\n";
      return 0;
    }
    // Every session the root holds that recorded processes: raylets first,
    // so their workers go with them, then the GCS.
    std::vector<std::string> sessions;
    for (const auto& entry : std::filesystem::directory_iterator(SessionRoot())) {
      if (entry.is_directory() && !entry.is_symlink() && std::filesystem::exists(entry.path() / "pids")) {
        sessions.push_back(entry.path().string());
      }
    }
    int stopped = 0;
    for (const char* role : {"raylet", "gcs-server"}) {
      for (const std::string& dir : sessions) {
        std::istringstream lines(ReadFile(dir + "/pids").value());
        int64_t pid;
        std::string name;
        while (lines >> pid >> name) {
          if (name != role || !ProcessAlive(static_cast<pid_t>(pid))) continue;
          TerminateProcess(static_cast<pid_t>(pid), std::chrono::milliseconds(5000));
          std::cout << "Stopped " << name << " (pid " << pid << ")\n";
          ++stopped;
        }
      }
    }
    for (const std::string& dir : sessions) std::filesystem::rename(dir + "/pids", dir + "/pids.stopped");
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

  // A client for the GCS of this command's cluster; it lives as long as the command.
  GcsClient& ConnectGcs(std::string* gcs_out = nullptr) {
    std::string gcs = EndpointFromAddress(GcsAddressOrFail(address));
    if (gcs_out) *gcs_out = gcs;
    auto config = Config::LoadDefault(config_file);
    if (!config.ok()) Fail(config.status().message());
    if (config->slot(PluginKind::kTransport).plugin == "inproc") config->SelectPlugin(PluginKind::kTransport, "zmq");
    PluginLoader loader(config->plugin_path());
    auto transport = loader.CreateSlot<Transport>(*config, {});
    if (!transport.ok()) Fail(transport.status().message());
    cli_transport = *transport;
    auto client = GcsClient::Connect(*cli_transport, gcs);
    if (!client.ok()) Fail(client.status().message());
    cli_gcs = std::move(*client);
    return *cli_gcs;
  }

  protocol::ClusterStatus GetStatus(std::string* gcs_out = nullptr) {
    auto status = protocol::Decode<protocol::ClusterStatus>(
        AskGcs(protocol::Encode(protocol::MessageType::kGetClusterStatus, protocol::GetClusterStatus{}), gcs_out));
    if (!status.ok()) Fail(status.status().message());
    return std::move(*status);
  }

  static std::string FormatTime(int64_t ms) {
    if (ms <= 0) return "-";
    std::time_t seconds = ms / 1000;
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::localtime(&seconds));
    return text;
  }

  int ListNodes() {
    protocol::ClusterStatus status = GetStatus();
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& n : status.nodes) {
        out.push_back({{"node_id", n.node_id.Hex()}, {"address", n.raylet_address}, {"alive", n.alive},
                       {"pid", n.pid}, {"total", nlohmann::json::parse(n.total.ToJson())},
                       {"available", nlohmann::json::parse(n.available.ToJson())}, {"labels", n.labels},
                       {"start_time_ms", n.start_time_ms}, {"death_time_ms", n.death_time_ms},
                       {"death_cause", n.death_cause}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-6s %-24s %-8s %-20s %s\n", "NODE", "STATE", "ADDRESS", "PID", "STARTED", "RESOURCES");
    for (const auto& n : status.nodes) {
      std::printf("%-10s %-6s %-24s %-8lld %-20s %s%s\n", n.node_id.Hex().substr(0, 8).c_str(),
                  n.alive ? "ALIVE" : "DEAD", AddressFromEndpoint(n.raylet_address).c_str(),
                  static_cast<long long>(n.pid), FormatTime(n.start_time_ms).c_str(), n.total.ToJson().c_str(),
                  n.alive ? "" : ("  (" + n.death_cause + ")").c_str());
    }
    if (status.nodes.empty()) std::printf("(no nodes)\n");
    return 0;
  }

  int ListJobs() {
    protocol::ClusterStatus status = GetStatus();
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& j : status.jobs) {
        out.push_back({{"job_id", j.job_id.Hex()}, {"status", j.finished ? "FINISHED" : "RUNNING"},
                       {"driver_pid", j.driver_pid}, {"driver_address", j.driver_address},
                       {"start_time_ms", j.start_time_ms}, {"end_time_ms", j.end_time_ms},
                       {"code_libraries", j.code_libraries}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-9s %-8s %-20s %-20s %s\n", "JOB", "STATUS", "DRIVER", "STARTED", "ENDED", "CODE");
    for (const auto& j : status.jobs) {
      std::string code;
      for (const std::string& lib : j.code_libraries) code += (code.empty() ? "" : ",") + std::filesystem::path(lib).filename().string();
      std::printf("%-10s %-9s %-8lld %-20s %-20s %s\n", j.job_id.Hex().substr(0, 8).c_str(),
                  j.finished ? "FINISHED" : "RUNNING", static_cast<long long>(j.driver_pid),
                  FormatTime(j.start_time_ms).c_str(), FormatTime(j.end_time_ms).c_str(), code.c_str());
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
    std::string where = kv_namespace.empty() ? "the default namespace" : "namespace '" + kv_namespace + "'";
    if (kv_get->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvGet);
      if (!reply.found) Fail("kv get: no key '" + kv_key + "' in " + where + " ('rayk kv list' shows the keys)");
      if (*format == "json") {
        std::cout << nlohmann::json{{"key", kv_key}, {"namespace", kv_namespace}, {"value", reply.value}}.dump() << "\n";
      } else {
        std::cout << reply.value << "\n";
      }
    } else if (kv_put->parsed()) {
      protocol::KvReply reply = call(MessageType::kKvPut);
      if (!reply.found) Fail("kv put: key '" + kv_key + "' already exists in " + where + "; drop --no-overwrite to replace it");
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

  int ListActors() {
    auto list = protocol::Decode<protocol::ActorList>(
        AskGcs(protocol::Encode(protocol::MessageType::kListActors, protocol::Empty{})));
    if (!list.ok()) Fail(list.status().message());
    if (*format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& a : list->actors) {
        out.push_back({{"actor_id", a.actor_id.Hex()}, {"class", a.class_name}, {"name", a.name},
                       {"state", protocol::ActorStateName(a.state)}, {"node_id", a.node_id.Hex()}, {"pid", a.pid},
                       {"restarts", a.restarts}, {"job_id", a.job_id.Hex()}, {"detached", a.detached},
                       {"death_cause", a.death_cause}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-10s %-24s %-12s %-11s %-10s %-8s %s\n", "ACTOR", "CLASS", "NAME", "STATE", "NODE", "PID",
                "RESTARTS");
    for (const auto& a : list->actors) {
      std::printf("%-10s %-24s %-12s %-11s %-10s %-8lld %d%s\n", a.actor_id.Hex().substr(0, 8).c_str(),
                  a.class_name.c_str(), a.name.empty() ? "-" : a.name.c_str(), protocol::ActorStateName(a.state),
                  a.node_id.IsNil() ? "-" : a.node_id.Hex().substr(0, 8).c_str(), static_cast<long long>(a.pid),
                  a.restarts, a.death_cause.empty() ? "" : ("  (" + a.death_cause + ")").c_str());
    }
    if (list->actors.empty()) std::printf("(no actors)\n");
    return 0;
  }

  int ShowStatus() {
    std::string gcs;
    std::string reply = AskGcs(
        protocol::Encode(protocol::MessageType::kGetClusterStatus, protocol::GetClusterStatus{}), &gcs);
    auto status = protocol::Decode<protocol::ClusterStatus>(reply);
    if (!status.ok()) Fail(status.status().message());
    if (*format == "json") {
      nlohmann::json nodes = nlohmann::json::array();
      for (const auto& node : status->nodes) {
        nodes.push_back({{"node_id", node.node_id.Hex()}, {"address", node.raylet_address}, {"alive", node.alive},
                         {"total", nlohmann::json::parse(node.total.ToJson())},
                         {"available", nlohmann::json::parse(node.available.ToJson())}, {"workers", node.num_workers},
                         {"pending_demands", node.pending_demands}, {"infeasible_demands", node.infeasible_demands},
                         {"labels", node.labels}});
      }
      int running = 0;
      for (const auto& job : status->jobs) running += !job.finished;
      std::cout << nlohmann::json{{"gcs_address", AddressFromEndpoint(gcs)}, {"nodes", nodes},
                                  {"jobs", {{"total", status->jobs.size()}, {"running", running}}},
                                  {"gcs", {{"restarts", status->gcs.restarts},
                                           {"start_time_ms", status->gcs.start_time_ms},
                                           {"lost_state", status->gcs.lost_state}}}}.dump(2)
                << "\n";
      return 0;
    }
    std::cout << "rayk cluster at " << AddressFromEndpoint(gcs) << "\n\nNodes\n";
    ResourceSet total, used;
    std::vector<std::string> pending, infeasible;
    for (const auto& node : status->nodes) {
      ResourceSet node_used = node.total;
      node_used.Subtract(node.available);
      std::cout << "  " << node.node_id.Hex().substr(0, 8) << "  " << (node.alive ? "ALIVE" : "DEAD ") << "  "
                << node.raylet_address << "  workers " << node.num_workers << "\n";
      for (const auto& [name, amount] : node.total.amounts()) {
        char line[160];
        std::snprintf(line, sizeof(line), "            %g/%g %s used\n", node_used.Get(name), amount, name.c_str());
        std::cout << line;
      }
      if (!node.alive) continue;
      total.Add(node.total);
      used.Add(node_used);
      pending.insert(pending.end(), node.pending_demands.begin(), node.pending_demands.end());
      infeasible.insert(infeasible.end(), node.infeasible_demands.begin(), node.infeasible_demands.end());
    }
    std::cout << "\nResources (alive nodes)\n";
    for (const auto& [name, amount] : total.amounts()) {
      char line[160];
      std::snprintf(line, sizeof(line), "  %g/%g %s used\n", used.Get(name), amount, name.c_str());
      std::cout << line;
    }
    std::cout << "\nPending demand\n  " << (pending.empty() ? "(none)" : FormatDemands(pending)) << "\n";
    if (!infeasible.empty()) std::cout << "Recently infeasible (no node can ever fit)\n  " << FormatDemands(infeasible) << "\n";
    int running = 0;
    for (const auto& job : status->jobs) running += !job.finished;
    std::cout << "\nJobs: " << running << " running, " << status->jobs.size() - running << " finished\n";
    if (status->gcs.restarts > 0) {
      std::cout << "\nGCS: restarted " << status->gcs.restarts << " time(s), last at "
                << FormatTime(status->gcs.start_time_ms) << "\n";
    }
    if (!status->gcs.lost_state.empty()) std::cout << "  warning: " << status->gcs.lost_state << "\n";
    return 0;
  }

  int Run() {
    if (!address.empty()) setenv("RAYK_ADDRESS", address.c_str(), 1);
    std::string path = std::filesystem::absolute(job_library).string();
    if (!std::filesystem::exists(path)) Fail("job library " + path + " does not exist; build it with rayk_add_job()");
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) Fail(std::string("cannot load job library ") + path + ": " + dlerror());
    using Main = int (*)(int, char**);
    auto entry = reinterpret_cast<Main>(dlsym(handle, "main"));
    if (entry == nullptr) {
      Fail("job library " + path + " has no entry point; define int main(int, char**) in it (rayk_add_job does)");
    }
    std::vector<std::string> args = {path};
    args.insert(args.end(), job_args.begin(), job_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    return entry(static_cast<int>(args.size()), argv.data());
  }
};

ClusterCommands::ClusterCommands(CLI::App* app, std::string* format) : impl_(std::make_shared<Impl>()) {
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
  d.start->add_option("--num-cpus", d.num_cpus, "CPUs this node offers (default: all)");
  d.start->add_option("--resources", d.resources, "extra resources as JSON, e.g. '{\"GPU\": 1}'");
  d.start->add_option("--labels", d.labels, "node labels as JSON, e.g. '{\"zone\": \"a\"}'");
  d.start->add_option("--node-timeout-ms", d.gcs.node_timeout_ms,
                      "with --head: a node silent this long is marked dead")->capture_default_str();
  d.AddConfigOptions(d.start);
  add_format(d.start);

  d.stop = app->add_subcommand("stop", "stop the processes rayk start recorded in its sessions");
  d.status = app->add_subcommand("status", "nodes, resources (total/used), pending demand");
  d.status->add_option("--address", d.address, "the GCS (default: $RAYK_ADDRESS, else the latest session)");
  d.status->add_option("--config", d.config_file, "plugins.toml naming the transport");
  add_format(d.status);

  d.list = app->add_subcommand("list", "list the cluster's actors, nodes or jobs");
  d.list->require_subcommand(1);
  d.list_actors = d.list->add_subcommand("actors", "id, class, name, state, node, pid, restarts");
  d.list_nodes = d.list->add_subcommand("nodes", "id, state, address, pid, start time, resources");
  d.list_jobs = d.list->add_subcommand("jobs", "id, status, driver pid, start and end time, code");
  for (CLI::App* command : {d.list_actors, d.list_nodes, d.list_jobs}) {
    command->add_option("--address", d.address, "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    add_format(command);
  }

  d.kv = app->add_subcommand("kv", "the cluster's internal key-value store (rayk::KvPut and friends)");
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
    command->add_option("--address", d.address, "the GCS (default: $RAYK_ADDRESS, else the latest session)");
    add_format(command);
  }

  d.run = app->add_subcommand("run", "run a job library's main() as the driver: rayk run libjob.so -- args");
  d.run->add_option("LIBRARY", d.job_library, "the job's shared library (built with rayk_add_job)")->required();
  d.run->add_option("--address", d.address, "run against this cluster (default: an embedded one)");
  d.run->add_option("ARGS", d.job_args, "arguments for the job's main, after --");

  d.gcs_server = app->add_subcommand("gcs-server", "(internal) run a GCS server; rayk start launches it");
  d.gcs_server->add_option("--port", d.gcs.port, "port to serve on (0: any free port)");
  d.gcs_server->add_option("--publisher-port", d.gcs.publisher_port, "port to publish on (0: any free port)");
  d.gcs_server->add_option("--node-timeout-ms", d.gcs.node_timeout_ms, "a node silent this long is marked dead");
  d.gcs_server->add_option("--restarts", d.gcs.restarts, "how many times the supervisor restarted it");
  d.gcs_server->add_flag("--supervise", d.gcs.supervise, "supervise a GCS server, restarting it when it dies");
  d.gcs_server->add_option("--session-dir", d.session_dir, "session folder")->required();
  d.gcs_server->add_flag("--exit-with-parent", d.exit_with_parent, "end when the starting process ends");
  d.AddConfigOptions(d.gcs_server);
  d.gcs_server->group("Internal");

  d.raylet = app->add_subcommand("raylet", "(internal) run a raylet; rayk start launches it");
  d.raylet->add_option("--gcs", d.address, "the GCS address")->required();
  d.raylet->add_option("--session-dir", d.session_dir, "session folder")->required();
  d.raylet->add_option("--num-cpus", d.num_cpus, "CPUs this node offers");
  d.raylet->add_option("--resources", d.resources, "extra resources as JSON");
  d.raylet->add_option("--labels", d.labels, "node labels as JSON");
  d.raylet->add_flag("--exit-with-parent", d.exit_with_parent, "end when the starting process ends");
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
  d.AddConfigOptions(d.worker);
  d.worker->group("Internal");
}

std::optional<int> ClusterCommands::Run() {
  Impl& d = *impl_;
  if (d.start->parsed()) return d.Start();
  if (d.stop->parsed()) return d.Stop();
  if (d.status->parsed()) return d.ShowStatus();
  if (d.run->parsed()) return d.Run();
  if (d.list_actors->parsed()) return d.ListActors();
  if (d.list_nodes->parsed()) return d.ListNodes();
  if (d.list_jobs->parsed()) return d.ListJobs();
  if (d.kv->parsed()) return d.Kv();
  if (d.gcs_server->parsed()) return RunGcsServerProcess(d.Process(), d.gcs);
  if (d.raylet->parsed()) {
    return RunRayletProcess(d.Process(), d.address, ParseResources(d.resources, d.num_cpus), ParseLabels(d.labels));
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
