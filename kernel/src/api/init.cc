// rayk::Init and rayk::Shutdown: the process's runtime, and the embedded
// cluster a driver starts when it is given no address.
#include "rayk/init.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/host_address.h"
#include "core_worker/core_worker.h"
#include "gcs/gcs_client.h"
#include "observability/log_to_driver.h"
#include "observability/task_event_reporter.h"
#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "rayk/errors.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/internal/api_impl.h"
#include "rayk/internal/function_registry.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/plugin/transport.h"
#include "scheduling/accelerators.h"

namespace rayk {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);

struct ProcessRuntime {
  std::shared_ptr<Transport> transport;
  std::unique_ptr<CoreWorker> core_worker;
  std::unique_ptr<observability::LogToDriver> log_to_driver;
  // The embedded cluster, when this driver started one.
  pid_t gcs_pid = 0;
  pid_t raylet_pid = 0;
  std::string session_dir;
};

std::unique_ptr<ProcessRuntime>& State() {
  static std::unique_ptr<ProcessRuntime> state;
  return state;
}

[[noreturn]] void Throw(const std::string& message) {
  throw RuntimeError("rayk::Init: " + message);
}

// The embedded node's extra resources as the raylet's --resources JSON. Checked
// here, before anything starts, so that a bad entry fails Init with the rule
// rather than a raylet that will not start or a node no task can use.
std::string NodeResourcesJson(const std::map<std::string, double>& resources) {
  ResourceSet set;
  for (const auto& [name, amount] : resources) {
    if (amount == 0 && !name.empty()) {
      throw RuntimeError("rayk::InitOptions::resources: resource '" + name +
                         "' = 0: give the node a positive amount, or leave the resource out");
    }
    // Any amount of GPU passes here: a node's accelerators must be whole
    // devices, which the node checks with its own message.
    internal::CheckBundleResource("rayk::InitOptions::resources", name, amount);
    set.Set(name, amount);
  }
  return set.ToJson();
}

// The embedded node's accelerators as the raylet's --accelerators JSON,
// checked here as NodeResourcesJson checks the resources.
std::string NodeAcceleratorsJson(const InitOptions& options) {
  auto declared = CheckAcceleratorDeclarations(options.accelerators);
  if (!declared.ok()) Throw("rayk::InitOptions::accelerators: " + declared.status().message());
  auto resources = ResourceSet::FromJson(NodeResourcesJson(options.resources));
  if (auto node = NodeAccelerators::Make(*resources, *declared); !node.ok()) {
    Throw("rayk::InitOptions::resources: " + node.status().message());
  }
  return nlohmann::json(options.accelerators).dump();
}

void StopEmbeddedCluster(ProcessRuntime& runtime) {
  if (runtime.raylet_pid > 0) TerminateProcess(runtime.raylet_pid, std::chrono::milliseconds(3000));
  if (runtime.gcs_pid > 0) TerminateProcess(runtime.gcs_pid, std::chrono::milliseconds(3000));
  runtime.raylet_pid = runtime.gcs_pid = 0;
}

// Starts a GCS and one raylet as children of this driver, members of a
// cluster whose secret is `secret`; returns the GCS and raylet endpoints.
std::pair<std::string, std::string> StartEmbeddedCluster(const InitOptions& options,
                                                         const std::string& secret,
                                                         ProcessRuntime& runtime) {
  auto session = CreateSessionDir();
  if (!session.ok()) Throw(session.status().message());
  runtime.session_dir = *session;
  if (Status st = WriteClusterSecret(*session, secret); !st.ok()) Throw(st.message());
  // The children get the secret in their environment, never on a command line.
  const std::vector<std::string> env = {ClusterSecretEnvironmentEntry(secret)};
  auto executable = RaykExecutable();
  if (!executable.ok()) Throw(executable.status().message());
  std::vector<std::string> config_args;
  if (!options.config_file.empty()) config_args = {"--config", options.config_file};

  std::vector<std::string> gcs_argv = {
      *executable, "gcs-server", "--port", "0", "--session-dir", *session, "--exit-with-parent"};
  gcs_argv.insert(gcs_argv.end(), config_args.begin(), config_args.end());
  std::string gcs_log = *session + "/logs/gcs_server.log";
  auto gcs_pid = SpawnProcess(gcs_argv, gcs_log, /*new_session=*/false, env);
  if (!gcs_pid.ok()) Throw(gcs_pid.status().message());
  runtime.gcs_pid = *gcs_pid;
  auto gcs_address = WaitForFile(*session + "/gcs_address", kStartTimeout, *gcs_pid, gcs_log);
  if (!gcs_address.ok()) {
    StopEmbeddedCluster(runtime);
    Throw("the GCS server did not start: " + gcs_address.status().message());
  }

  int cpus = options.num_cpus > 0 ? options.num_cpus
                                  : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::string> raylet_argv = {
      *executable,         "raylet", "--gcs",      *gcs_address,
      "--session-dir",     *session, "--num-cpus", std::to_string(cpus),
      "--exit-with-parent"};
  if (!options.resources.empty()) {
    raylet_argv.push_back("--resources");
    raylet_argv.push_back(NodeResourcesJson(options.resources));
  }
  if (!options.accelerators.empty()) {
    raylet_argv.push_back("--accelerators");
    raylet_argv.push_back(NodeAcceleratorsJson(options));
  }
  raylet_argv.insert(raylet_argv.end(), config_args.begin(), config_args.end());
  std::string raylet_log = *session + "/logs/raylet.log";
  auto raylet_pid = SpawnProcess(raylet_argv, raylet_log, /*new_session=*/false, env);
  if (!raylet_pid.ok()) {
    StopEmbeddedCluster(runtime);
    Throw(raylet_pid.status().message());
  }
  runtime.raylet_pid = *raylet_pid;
  auto raylet_address =
      WaitForFile(*session + "/raylet_address", kStartTimeout, *raylet_pid, raylet_log);
  if (!raylet_address.ok()) {
    StopEmbeddedCluster(runtime);
    Throw("the raylet did not start: " + raylet_address.status().message());
  }
  return {EndpointFromAddress(*gcs_address), *raylet_address};
}

// Finds the raylet a driver joining `gcs` should use, and its id: the node of
// this session root's latest session, else an alive node on this host (its
// raylet serves on `node_ip`), else any alive node,
// whose store this process then cannot share (`same_host` false).
protocol::NodeInfo FindRaylet(Transport& transport, const std::string& gcs,
                              const std::string& node_ip, bool* same_host) {
  // A GcsClient, so that of several GCS addresses (failover) the one that is up answers.
  auto client = GcsClient::Connect(transport, gcs);
  if (!client.ok()) Throw(client.status().message());
  auto reply = (*client)->CallSync(
      protocol::Encode(protocol::MessageType::kGetClusterStatus, protocol::GetClusterStatus{}),
      std::chrono::milliseconds(10000));
  if (!reply.ok()) {
    Throw("cannot reach the GCS at " + AddressFromEndpoint(gcs) + " (" + reply.status().message() +
          "); check the address 'rayk start --head' printed, and that RAYK_AUTH_TOKEN holds that "
          "cluster's token");
  }
  auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
  if (!status.ok()) Throw(status.status().message());
  *same_host = true;
  // A raylet killed a moment ago is still listed alive until the GCS's node
  // timeout; on this host its process can be checked at once.
  auto local = [&](const protocol::NodeInfo& node) {
    return HostOfAddress(node.raylet_address) == node_ip;
  };
  auto running = [](const protocol::NodeInfo& node) {
    return node.pid <= 0 || ProcessAlive(static_cast<pid_t>(node.pid));
  };
  // Of several nodes on this host, the one this session root's latest
  // `rayk start` runs, when it is up: a driver run with that node's
  // RAYK_SESSION_ROOT joins that node (as Ray's address="auto" joins the
  // latest session's raylet), not whichever the GCS lists first.
  std::string own_raylet;
  if (auto latest = LatestSessionDir(); latest.ok()) {
    if (auto file = ReadFile(*latest + "/raylet_address"); file.ok()) own_raylet = *file;
  }
  for (const protocol::NodeInfo& node : status->nodes) {
    if (node.alive && !own_raylet.empty() && node.raylet_address == own_raylet && running(node)) {
      return node;
    }
  }
  for (const protocol::NodeInfo& node : status->nodes) {
    if (node.alive && local(node) && running(node)) return node;
  }
  *same_host = false;
  for (const protocol::NodeInfo& node : status->nodes) {
    if (node.alive && !local(node)) return node;
  }
  Throw("the cluster at " + AddressFromEndpoint(gcs) +
        " has no alive node; start one with 'rayk start --address'");
}

// The libraries that hold the job's code: the options', else those the
// RAYK_REMOTE lines were compiled into. Functions compiled into the
// executable are named in a warning: workers cannot load them.
// The job's namespace: the one asked for, else $RAYK_NAMESPACE, else an
// anonymous one of this job alone (as Ray's), whose names no other job sees.
std::string JobNamespace(const InitOptions& options, const JobId& job) {
  if (!options.namespace_name.empty()) {
    internal::CheckNamespaceOption("rayk::Init: InitOptions::namespace_name",
                                   options.namespace_name);
    return options.namespace_name;
  }
  if (const char* env = std::getenv("RAYK_NAMESPACE"); env != nullptr && *env != '\0') {
    internal::CheckNamespaceOption("rayk::Init: $RAYK_NAMESPACE", env);
    return env;
  }
  return "anonymous-" + job.Hex();
}

// InitOptions::log_to_driver, unless $RAYK_LOG_TO_DRIVER turns it off.
bool LogToDriverWanted(const InitOptions& options) {
  const char* env = std::getenv("RAYK_LOG_TO_DRIVER");
  if (env == nullptr || *env == '\0') return options.log_to_driver;
  const std::string value = env;
  if (value != "0" && value != "1") {
    Throw("$RAYK_LOG_TO_DRIVER is '" + value +
          "': set it to 0 (workers' output stays in their log files) or 1 (the default)");
  }
  return options.log_to_driver && value == "1";
}

std::vector<std::string> JobLibraries(const InitOptions& options) {
  std::vector<std::string> libraries = options.code_libraries;
  if (libraries.empty()) libraries = internal::FunctionRegistry::Instance().Libraries();
  for (const std::string& name : internal::FunctionRegistry::Instance().RegisteredInExecutable()) {
    spdlog::warn(
        "remote function {} is compiled into the executable, which workers cannot load; build it "
        "into a library with rayk_add_job() (see docs/jobs.md)",
        name);
  }
  return libraries;
}

// Where a driver stands in its cluster.
struct Attachment {
  std::string gcs;
  std::string raylet;
  NodeId node;
  std::string node_ip = kLoopbackAddress;  // where the driver serves
  bool same_host = true;                   // its raylet runs on this host
  PortRange ports;                         // that node's worker ports
};

// Starts an embedded cluster (no address) or joins the one at `address`.
Attachment AttachToCluster(const InitOptions& options, const std::string& address,
                           const std::string& secret, ProcessRuntime& runtime) {
  Attachment at;
  if (address.empty()) {
    std::tie(at.gcs, at.raylet) = StartEmbeddedCluster(options, secret, runtime);
    auto node_hex = ReadFile(runtime.session_dir + "/raylet_node_id");
    if (node_hex.ok()) at.node = NodeId::FromHex(*node_hex);
    return at;
  }
  at.gcs = EndpointFromAddress(address);
  // This host's address towards the head: where this driver serves its
  // objects and replies from, and how it recognises its own node.
  auto source = SourceAddressFor(HostOfAddress(at.gcs));
  if (!source.ok()) Throw("RAYK_ADDRESS " + address + ": " + source.status().message());
  at.node_ip = *source;
  protocol::NodeInfo found = FindRaylet(*runtime.transport, at.gcs, at.node_ip, &at.same_host);
  at.raylet = found.raylet_address;
  at.node = found.node_id;
  // On a node's host, the driver listens where that node's workers do (the
  // ports its firewall opens).
  if (at.same_host) at.ports = PortRange{found.min_worker_port, found.max_worker_port};
  return at;
}

// The node's object store, when this process can attach to it (same host).
std::shared_ptr<ObjectStore> NodeStore(PluginLoader& loader, const Config& config,
                                       PluginContext context, const Attachment& at) {
  if (at.node.IsNil() || !at.same_host) return nullptr;
  context.node_id = at.node;
  auto created = loader.CreateSlot<ObjectStore>(config, context);
  if (created.ok()) return *created;
  spdlog::info("the driver works without the node's object store (large values travel inline): {}",
               created.status().message());
  return nullptr;
}

}  // namespace

void Init(const InitOptions& options) {
  auto& state = State();
  if (state) throw RuntimeError("rayk::Init: already initialized; call rayk::Shutdown() first");
  if (internal::CurrentRuntime() != nullptr) {
    throw RuntimeError(
        "rayk::Init: this process is a rayk worker, already connected to its cluster; "
        "call rayk::Init() only in a driver");
  }
  NodeResourcesJson(options.resources);  // throws for a bad entry before anything starts
  NodeAcceleratorsJson(options);
  const bool log_to_driver = LogToDriverWanted(options);  // throws for a bad $RAYK_LOG_TO_DRIVER
  if (auto events = observability::TaskEventsWanted(); !events.ok()) {
    Throw(events.status().message());
  }
  const JobId job_id = JobId::FromRandom();
  const std::string namespace_name = JobNamespace(options, job_id);  // throws, as above
  auto runtime = std::make_unique<ProcessRuntime>();

  std::string address = options.address;
  if (address.empty()) {
    if (const char* env = std::getenv("RAYK_ADDRESS")) address = env;
  }
  auto config = Config::LoadDefault(options.config_file);
  if (!config.ok()) Throw(config.status().message());
  if (config->slot(PluginKind::kTransport).plugin == "inproc") {
    Throw(config->source() +
          " selects the 'inproc' transport, which cannot connect rayk's processes; set "
          "[transport] plugin = \"asio\" (or \"zmq\")");
  }
  PluginLoader loader(config->plugin_path());
  PluginContext context;
  context.role = ProcessRole::kDriver;
  // An embedded cluster gets a secret of its own; a driver joining a cluster
  // finds that cluster's in RAYK_AUTH_TOKEN or the local session.
  auto secret = address.empty() ? NewClusterSecret() : FindClusterSecret("");
  if (!secret.ok()) Throw(secret.status().message());
  context.cluster_secret = *secret;
  auto transport = loader.CreateSlot<Transport>(*config, context);
  if (!transport.ok()) Throw(transport.status().message());
  runtime->transport = *transport;

  Attachment at = AttachToCluster(options, address, *secret, *runtime);
  CoreWorker::Options core;
  core.is_driver = true;
  core.job_id = job_id;
  core.raylet_address = at.raylet;
  core.max_lineage_tasks = options.max_lineage_tasks;
  core.namespace_name = namespace_name;
  core.gcs_address = at.gcs;
  core.code_libraries = JobLibraries(options);
  core.node_id = at.node;
  core.store = NodeStore(loader, *config, context, at);
  core.endpoint = "tcp://" + at.node_ip + ":0";
  core.ports = at.ports;
  auto core_worker = CoreWorker::Start(core, runtime->transport);
  if (!core_worker.ok()) {
    StopEmbeddedCluster(*runtime);
    Throw(core_worker.status().message());
  }
  runtime->core_worker = std::move(*core_worker);
  if (log_to_driver) {
    auto logs = observability::LogToDriver::Start(*runtime->transport, at.gcs, job_id);
    if (logs.ok()) {
      runtime->log_to_driver = std::move(*logs);
    } else {
      spdlog::warn("workers' output will not be printed here ('rayk logs --job {}' shows it): {}",
                   job_id.Hex(), logs.status().message());
    }
  }
  internal::SetCurrentRuntime(runtime->core_worker.get());
  state = std::move(runtime);
}

void Shutdown() {
  auto& state = State();
  if (!state) return;
  internal::SetCurrentRuntime(nullptr);
  state->log_to_driver.reset();
  state->core_worker.reset();
  StopEmbeddedCluster(*state);
  state.reset();
}

// A worker has a runtime but no State(): its core worker was installed by the
// worker process rather than by Init(), and its tasks and actor methods are
// inside an initialized rayk all the same.
bool IsInitialized() { return internal::CurrentRuntime() != nullptr; }

}  // namespace rayk
