#include "cli_common.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "progress.h"
#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/label_selector.h"
#include "scheduling/accelerators.h"

namespace rayk::cli {

void Fail(const std::string& message) {
  ClearShownProgress();
  std::cerr << "rayk: " << message << "\n";
  std::exit(1);
}

ResourceSet ParseResources(const std::string& json, int num_cpus, const std::string& option) {
  ResourceSet resources;
  if (!json.empty()) {
    auto parsed = ResourceSet::FromJson(json);
    if (!parsed.ok()) Fail(option + ": " + parsed.status().message());
    resources = *parsed;
  }
  int cpus = num_cpus > 0 ? num_cpus : static_cast<int>(std::thread::hardware_concurrency());
  if (resources.Get("CPU") == 0) resources.Set("CPU", cpus);
  return resources;
}

std::map<std::string, std::string> ParseLabels(const std::string& json, const std::string& option,
                                               bool allow_reserved) {
  std::map<std::string, std::string> labels;
  if (json.empty()) return labels;
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    Fail(option + " must be a JSON object, as in '{\"zone\": \"a\"}'");
  }
  for (const auto& [key, value] : parsed.items()) {
    if (!value.is_string()) Fail(option + ": the value of '" + key + "' must be a string");
    labels[key] = value.get<std::string>();
  }
  if (Status status = CheckNodeLabels(labels, option, allow_reserved); !status.ok()) {
    Fail(status.message());
  }
  return labels;
}

std::map<std::string, std::string> ParseAccelerators(const std::string& json,
                                                     const ResourceSet& resources,
                                                     const std::string& option,
                                                     const std::string& resources_option) {
  std::map<std::string, std::string> declared;
  if (!json.empty()) {
    auto parsed = nlohmann::json::parse(json, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      Fail(option +
           " must be a JSON object of resource names to environment variables, as in "
           "'{\"neuron_cores\": \"NEURON_RT_VISIBLE_CORES\"}'");
    }
    for (const auto& [name, env_var] : parsed.items()) {
      if (!env_var.is_string()) {
        Fail(option + ": the value of '" + name +
             "' must be the name of an environment variable, as a string");
      }
      declared[name] = env_var.get<std::string>();
    }
  }
  auto all = CheckAcceleratorDeclarations(declared);
  if (!all.ok()) Fail(option + ": " + all.status().message());
  if (auto node = NodeAccelerators::Make(resources, *all); !node.ok()) {
    Fail(resources_option + ": " + node.status().message());
  }
  return declared;
}

void AddPluginChoices(CLI::App* command, std::vector<std::string>* sets) {
  for (PluginKind kind : Config::kSlots) {
    std::string slot = PluginKindName(kind);
    command->add_option_function<std::string>(
        "--" + slot,
        [sets, slot](const std::string& plugin) {
          bool path = plugin.find('/') != std::string::npos;
          sets->push_back(
              slot + ".plugin=" + (path ? std::filesystem::absolute(plugin).string() : plugin));
        },
        "the " + slot + " plugin, a name or the path of its .so (as --set " + slot +
            ".plugin=...)");
  }
}

void CheckConfigOrFail(const std::string& config_file, const std::vector<std::string>& sets) {
  auto config = Config::LoadDefault(config_file);
  if (!config.ok()) Fail(config.status().message());
  for (const std::string& set : sets) {
    if (Status st = config->ApplySet(set); !st.ok()) Fail(st.message());
  }
  // Every selected plugin is found and its settings are valid, as `rayk config check` checks.
  PluginLoader loader(config->plugin_path());
  for (PluginKind kind : Config::kSlots) {
    auto info = loader.Find(kind, config->slot(kind).plugin);
    if (!info.ok()) Fail(info.status().message());
    auto settings =
        PluginLoader::ValidateSettings(*info, config->Table(kind, info->name), config->source());
    if (!settings.ok()) Fail(settings.status().message());
    if (Status st = CheckPluginStarts(loader, *config, kind); !st.ok()) Fail(st.message());
  }
}

Status CheckPluginStarts(const PluginLoader& loader, const Config& config, PluginKind kind) {
  if (kind != PluginKind::kScheduler) return Status::Ok();
  PluginContext context;
  context.role = ProcessRole::kTool;
  context.config_file = config.source();
  auto created = loader.CreateFromConfig(kind, config, context);
  if (!created.ok())
    return Status::InvalidArgument(config.source() + ": " + created.status().message());
  return Status::Ok();
}

std::vector<std::string> ConfigArgs(const std::string& config_file,
                                    const std::vector<std::string>& sets) {
  std::vector<std::string> args;
  if (!config_file.empty()) args = {"--config", std::filesystem::absolute(config_file).string()};
  for (const std::string& set : sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  return args;
}

Result<std::string> StartSupervisedGcs(const std::string& session_dir, int port, int publisher_port,
                                       int node_timeout_ms,
                                       const std::vector<std::string>& config_args,
                                       const std::string& node_ip, int metrics_port) {
  auto executable = RaykExecutable();
  if (!executable.ok()) return executable.status();
  // The supervisor restarts the GCS server if it dies; with a durable gcs
  // plugin (sqlite) the cluster carries on as if nothing happened.
  std::vector<std::string> argv = {*executable,
                                   "gcs-server",
                                   "--supervise",
                                   "--port",
                                   std::to_string(port),
                                   "--publisher-port",
                                   std::to_string(publisher_port),
                                   "--node-timeout-ms",
                                   std::to_string(node_timeout_ms),
                                   "--metrics-port",
                                   std::to_string(metrics_port),
                                   "--session-dir",
                                   session_dir,
                                   "--node-ip-address",
                                   node_ip};
  argv.insert(argv.end(), config_args.begin(), config_args.end());
  std::string log = session_dir + "/logs/gcs_server.log";
  auto pid = SpawnProcess(argv, log, /*new_session=*/true);
  if (!pid.ok()) return pid.status();
  RecordProcess(session_dir, *pid, "gcs-server");
  auto address = WaitForFile(session_dir + "/gcs_address", kStartTimeout, *pid, log);
  if (!address.ok()) {
    return Status::Unavailable("the GCS server did not start: " + address.status().message());
  }
  return address;
}

Result<pid_t> SpawnRaylet(const RayletLaunch& launch) {
  auto executable = RaykExecutable();
  if (!executable.ok()) return executable.status();
  std::error_code ec;
  std::filesystem::create_directories(launch.session_dir + "/logs", ec);
  if (ec) return Status::IoError("cannot create " + launch.session_dir + "/logs: " + ec.message());
  std::vector<std::string> argv = {*executable,        "raylet",        "--gcs",
                                   launch.gcs_address, "--session-dir", launch.session_dir};
  argv.insert(argv.end(), {"--node-ip-address", launch.node_ip});
  if (launch.node_manager_port > 0)
    argv.insert(argv.end(), {"--node-manager-port", std::to_string(launch.node_manager_port)});
  if (!launch.worker_ports.any()) {
    argv.insert(argv.end(), {"--min-worker-port", std::to_string(launch.worker_ports.min),
                             "--max-worker-port", std::to_string(launch.worker_ports.max)});
  }
  if (launch.num_cpus > 0) argv.insert(argv.end(), {"--num-cpus", std::to_string(launch.num_cpus)});
  if (!launch.resources.empty()) argv.insert(argv.end(), {"--resources", launch.resources});
  if (!launch.labels.empty()) argv.insert(argv.end(), {"--labels", launch.labels});
  if (!launch.accelerators.empty())
    argv.insert(argv.end(), {"--accelerators", launch.accelerators});
  argv.insert(argv.end(), launch.config_args.begin(), launch.config_args.end());
  return SpawnProcess(argv, launch.session_dir + "/logs/raylet.log", /*new_session=*/true);
}

void SetUpNewClusterSecret(const std::string& session_dir) {
  auto secret = FindClusterSecret(session_dir);  // only $RAYK_AUTH_TOKEN: the folder is new
  if (secret.ok() && secret->empty()) secret = NewClusterSecret();
  if (!secret.ok()) Fail(secret.status().message());
  Status st = WriteClusterSecret(session_dir, *secret);
  if (!st.ok()) Fail(st.message());
  setenv(kAuthTokenEnv, secret->c_str(), 1);
}

namespace {

// The session directory to act on: the latest one.
std::string SessionDirOrFail() {
  auto session = LatestSessionDir();
  if (!session.ok()) Fail(session.status().message());
  return *session;
}

}  // namespace

std::string GcsAddressOrFail(const std::string& address) {
  if (!address.empty()) return address;
  if (const char* env = std::getenv("RAYK_ADDRESS")) return env;
  std::string session = SessionDirOrFail();
  auto recorded = ReadFile(session + "/gcs_address");
  if (!recorded.ok()) Fail("no GCS address in " + session + "; pass --address HOST:PORT");
  return *recorded;
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t seconds = ms / 1000;
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::localtime(&seconds));
  return text;
}

void ExportAuthToken(const std::string& token) {
  if (token.empty()) return;
  Status st = ValidateClusterSecret(token, "--auth-token");
  if (!st.ok()) Fail(st.message());
  setenv(kAuthTokenEnv, token.c_str(), 1);
}

void AddAuthTokenOption(CLI::App* command, std::string* token) {
  command->add_option("--auth-token", *token,
                      "the cluster's token (default: $RAYK_AUTH_TOKEN, else the latest local "
                      "session's auth_token); visible to other local users, prefer the variable");
}

void ExportExistingClusterSecret(const std::string& session_dir) {
  auto secret = FindClusterSecret(session_dir);
  if (!secret.ok()) Fail(secret.status().message());
  if (secret->empty()) {
    Fail(
        "no token for the cluster: pass --auth-token or set RAYK_AUTH_TOKEN to the contents of "
        "<session>/auth_token on the head node (or --insecure-no-auth if the cluster runs without "
        "authentication)");
  }
  setenv(kAuthTokenEnv, secret->c_str(), 1);
}

GcsConnection ConnectToGcs(const std::string& address, const std::string& config_file,
                           const std::vector<std::string>& sets) {
  auto config = Config::LoadDefault(config_file);
  if (!config.ok()) Fail(config.status().message());
  for (const std::string& set : sets) {
    Status st = config->ApplySet(set);
    if (!st.ok()) Fail(st.message());
  }
  if (config->slot(PluginKind::kTransport).plugin == "inproc") {
    // inproc cannot reach another process: the default transport can.
    config->SelectPlugin(PluginKind::kTransport,
                         Config::Defaults().slot(PluginKind::kTransport).plugin);
  }
  PluginLoader loader(config->plugin_path());
  auto secret = FindClusterSecret("");
  if (!secret.ok()) Fail(secret.status().message());
  PluginContext context;
  context.cluster_secret = *secret;
  auto transport = loader.CreateSlot<Transport>(*config, context);
  if (!transport.ok()) Fail(transport.status().message());
  GcsConnection connection;
  connection.transport = *transport;
  auto client = GcsClient::Connect(*connection.transport, EndpointFromAddress(address));
  if (!client.ok()) Fail(client.status().message());
  connection.client = std::move(*client);
  return connection;
}

Result<protocol::ClusterStatus> FetchClusterStatus(GcsClient& gcs,
                                                   std::chrono::milliseconds limit) {
  auto reply = gcs.CallSync(
      protocol::Encode(protocol::MessageType::kGetClusterStatus, protocol::GetClusterStatus{}),
      limit);
  if (!reply.ok()) return reply.status();
  return protocol::Decode<protocol::ClusterStatus>(*reply);
}

void RecordProcess(const std::string& session_dir, pid_t pid, const std::string& role,
                   const std::string& note) {
  // Read now, while `pid` is surely ours: `rayk stop` compares before it signals.
  auto identity = ReadProcessIdentity(pid);
  std::string line = std::to_string(pid) + " " + role;
  if (identity.ok()) {
    line += " start=" + std::to_string(identity->start_time) + " exe=" + identity->executable;
  }
  AppendLine(session_dir + "/pids", line + (note.empty() ? "" : " " + note));
}

namespace {

// One line of a pids file: "PID ROLE start=TICKS exe=PATH [NOTE]".
struct RecordedProcess {
  pid_t pid = 0;
  std::string role;
  ProcessIdentity identity;
  bool has_identity = false;
  std::string note;
};

std::optional<RecordedProcess> ParseRecord(const std::string& line) {
  std::istringstream fields(line);
  RecordedProcess record;
  int64_t pid = 0;
  if (!(fields >> pid >> record.role) || pid <= 0) return std::nullopt;
  record.pid = static_cast<pid_t>(pid);
  std::string start, exe;
  std::streampos rest = fields.tellg();
  if (fields >> start >> exe && start.starts_with("start=") && exe.starts_with("exe=")) {
    record.identity.start_time = std::strtoull(start.c_str() + 6, nullptr, 10);
    record.identity.executable = exe.substr(4);
    record.has_identity = true;
  } else {
    fields.clear();
    fields.seekg(rest);
  }
  std::getline(fields >> std::ws, record.note);
  return record;
}

// Whether `record.pid` is still the process the file recorded, and if not, why.
std::string WhyNotRecorded(const RecordedProcess& record, const ProcessIdentity& now) {
  if (!record.has_identity) return "its line records no start time or executable to check";
  if (now.executable != record.identity.executable) return "it now runs " + now.executable;
  if (now.start_time != record.identity.start_time) return "it started after the recorded one";
  return "";
}

}  // namespace

int StopRecordedProcesses(const std::vector<std::string>& session_dirs, std::ostream* out) {
  int stopped = 0;
  // Jobs first, so that their drivers end while the cluster still answers.
  for (const char* role : {"job-supervisor", "raylet", "gcs-server"}) {
    for (const std::string& dir : session_dirs) {
      auto text = ReadFile(dir + "/pids");
      if (!text.ok()) continue;
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);) {
        auto record = ParseRecord(line);
        if (!record || record->role != role) continue;
        auto now = ReadProcessIdentity(record->pid);
        if (!now.ok() || !ProcessAlive(record->pid)) continue;
        std::string what = record->role + " (pid " + std::to_string(record->pid) +
                           (record->note.empty() ? "" : ", " + record->note) + ")";
        // A pid the kernel gave to another process since, or a line someone
        // planted: signalling it would end a process rayk never started.
        if (std::string why = WhyNotRecorded(*record, *now); !why.empty()) {
          if (out)
            *out << "Left pid " << record->pid << " alone: it is not the " << what << " that "
                 << dir << "/pids recorded (" << why << ")\n";
          continue;
        }
        TerminateProcess(record->pid, std::chrono::milliseconds(5000));
        if (out) *out << "Stopped " << what << "\n";
        ++stopped;
      }
    }
  }
  for (const std::string& dir : session_dirs) {
    std::error_code ec;
    std::filesystem::rename(dir + "/pids", dir + "/pids.stopped", ec);
  }
  return stopped;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::vector<std::string> SessionsWithProcesses() {
  std::vector<std::string> sessions;
  const std::string root = SessionRoot();
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return sessions;
  // Only a root that is ours: pids files in anyone else's are not to be trusted.
  if (Status st = EnsureSessionRoot(root); !st.ok()) Fail(st.message());
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (entry.is_directory() && !entry.is_symlink() &&
        std::filesystem::exists(entry.path() / "pids")) {
      sessions.push_back(entry.path().string());
    }
  }
  return sessions;
}

}  // namespace rayk::cli
