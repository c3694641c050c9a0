#include "process/daemons.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/host_address.h"
#include "core_worker/core_worker.h"
#include "gcs/gcs_client.h"
#include "gcs/gcs_server.h"
#include "job_submission/job_record.h"
#include "observability/worker_log.h"
#include "process/cluster_secret.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/internal/function_registry.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/object_store.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/transport.h"
#include "raylet/raylet.h"

namespace rayk {

namespace {

// Every failure a daemon reports before it serves goes to its log (stderr)
// as one line, and the process exits non-zero: with kConfigErrorExit when
// starting again cannot help (a bad setting, a plugin that is missing or
// refuses its settings), so that a supervisor does not retry it.
int Fail(const std::string& what, const Status& status) {
  std::cerr << "rayk " << what << ": " << status.message() << std::endl;
  bool lasting =
      status.code() == StatusCode::kInvalidArgument || status.code() == StatusCode::kNotFound;
  return lasting ? kConfigErrorExit : 1;
}

// The last line of `log` that starts with `prefix`, or "" when none does.
std::string LastLineStartingWith(const std::string& log, const std::string& prefix) {
  auto text = ReadFile(log);
  if (!text.ok()) return "";
  std::istringstream lines(*text);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) found = line;
  }
  return found;
}

Result<Config> LoadConfig(const ProcessOptions& options) {
  auto config = Config::LoadDefault(options.config_file);
  if (!config.ok()) return config.status();
  for (const std::string& set : options.config_sets) RAYK_RETURN_IF_ERROR(config->ApplySet(set));
  return config;
}

// Blocks the termination signals in every thread (call before starting
// threads), so that WaitForTermination() can take them synchronously.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits for SIGTERM/SIGINT, without waking before: a daemon that must stop
// for its own reasons (a raylet asked to, or fenced) signals itself.
void WaitForTermination(const sigset_t& signals) {
  while (sigwaitinfo(&signals, nullptr) < 0) {
    // EINTR: another signal's handler ran; keep waiting.
  }
}

void ExitWithParentIfAsked(const ProcessOptions& options) {
  if (!options.exit_with_parent) return;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) std::exit(0);  // the parent died before prctl
}

// Every daemon starts here: its files (logs, the GCS database and its WAL,
// spill files, address files) are for this user only.
void SetUpDaemon(const std::string& name) {
  umask(077);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [" + name + " %P] [%l] %v");
}

Status CheckCrossProcessTransport(const Config& config) {
  if (config.slot(PluginKind::kTransport).plugin == "inproc") {
    return Status::InvalidArgument(
        config.source() +
        ": the 'inproc' transport cannot connect rayk's processes; set [transport] "
        "plugin = \"asio\" (or \"zmq\")");
  }
  return Status::Ok();
}

// A daemon's starter hands it the cluster secret in RAYK_AUTH_TOKEN (or, for
// a daemon started by hand, the session folder holds it).
Status FillClusterSecret(const ProcessOptions& options, PluginContext* context) {
  auto secret = FindClusterSecret(options.session_dir);
  if (!secret.ok()) return secret.status();
  context->cluster_secret = std::move(*secret);
  return Status::Ok();
}

}  // namespace

namespace {

// Applies `one` to each address of a comma-separated list (several GCS
// addresses, for failover), keeping the commas.
std::string EachOfList(const std::string& list, std::string (*one)(const std::string&)) {
  std::string out;
  for (const std::string& address : SplitGcsEndpoints(list)) {
    if (!out.empty()) out += ',';
    out += one(address);
  }
  return out;
}

std::string EndpointFromOneAddress(const std::string& address) {
  if (address.find("://") != std::string::npos) return address;
  return "tcp://" + address;
}

std::string AddressFromOneEndpoint(const std::string& endpoint) {
  const std::string prefix = "tcp://";
  return endpoint.starts_with(prefix) ? endpoint.substr(prefix.size()) : endpoint;
}

}  // namespace

std::string EndpointFromAddress(const std::string& address) {
  return EachOfList(address, EndpointFromOneAddress);
}

std::string AddressFromEndpoint(const std::string& endpoint) {
  return EachOfList(endpoint, AddressFromOneEndpoint);
}

namespace {

// The supervisor: restarts the GCS server whenever it dies, on the ports its
// first run chose, so that every client's address stays valid. It ends the
// server and itself on SIGTERM. A server that keeps dying at once (bad
// configuration, a locked database) is not restarted forever.
int SuperviseGcsServer(const ProcessOptions& options, GcsProcessOptions gcs,
                       const sigset_t& signals) {
  auto executable = RaykExecutable();
  if (!executable.ok()) return Fail("gcs-server", executable.status());
  std::string log = options.session_dir + "/logs/gcs_server.log";
  int quick_failures = 0;
  while (true) {
    std::vector<std::string> argv = {*executable,
                                     "gcs-server",
                                     "--session-dir",
                                     options.session_dir,
                                     "--port",
                                     std::to_string(gcs.port),
                                     "--publisher-port",
                                     std::to_string(gcs.publisher_port),
                                     "--node-timeout-ms",
                                     std::to_string(gcs.node_timeout_ms),
                                     "--metrics-port",
                                     std::to_string(gcs.metrics_port),
                                     "--restarts",
                                     std::to_string(gcs.restarts),
                                     "--exit-with-parent",
                                     "--node-ip-address",
                                     options.node_ip};
    if (!options.config_file.empty()) argv.insert(argv.end(), {"--config", options.config_file});
    for (const std::string& set : options.config_sets) argv.insert(argv.end(), {"--set", set});
    auto started_at = std::chrono::steady_clock::now();
    auto pid = SpawnProcess(argv, log, /*new_session=*/false);
    if (!pid.ok()) return Fail("gcs-server", pid.status());
    (void)WriteFileAtomically(options.session_dir + "/gcs_server.pid", std::to_string(*pid));
    int status = 0;
    while (true) {
      timespec period{0, 50 * 1000 * 1000};
      if (sigtimedwait(&signals, nullptr, &period) > 0) {
        TerminateProcess(*pid, std::chrono::milliseconds(3000));
        return 0;
      }
      if (waitpid(*pid, &status, WNOHANG) == *pid) break;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;  // stopped on purpose
    if (WIFEXITED(status) && WEXITSTATUS(status) == kConfigErrorExit) {
      std::string why = LastLineStartingWith(log, "rayk gcs-server: ");
      spdlog::error(
          "the GCS server cannot start with this configuration, so it is not "
          "restarted: {}",
          why.empty() ? "see " + log : why.substr(std::string("rayk ").size()));
      return kConfigErrorExit;
    }
    // Learn the ports the first run chose, from the files it wrote.
    auto address = ReadFile(options.session_dir + "/gcs_address");
    auto publisher = ReadFile(options.session_dir + "/gcs_publisher_address");
    if (address.ok() && gcs.port == 0)
      gcs.port = std::stoi(address->substr(address->rfind(':') + 1));
    if (publisher.ok() && gcs.publisher_port == 0) {
      gcs.publisher_port = std::stoi(publisher->substr(publisher->rfind(':') + 1));
    }
    auto metrics = ReadFile(options.session_dir + "/gcs_metrics_address");
    if (metrics.ok() && gcs.metrics_port == 0) {
      gcs.metrics_port = std::stoi(metrics->substr(metrics->rfind(':') + 1));
    }
    bool quick = std::chrono::steady_clock::now() - started_at < std::chrono::seconds(2);
    quick_failures = quick ? quick_failures + 1 : 0;
    std::string how = WIFSIGNALED(status)
                          ? "was killed by signal " + std::to_string(WTERMSIG(status))
                          : "exited with code " + std::to_string(WEXITSTATUS(status));
    if (quick_failures >= 5 || gcs.port == 0) {
      spdlog::error("the GCS server {} {} times in a row right after starting; giving up (see {})",
                    how, quick_failures, log);
      return 1;
    }
    ++gcs.restarts;
    spdlog::warn("the GCS server (pid {}) {}; restarting it on port {} (restart {})", *pid, how,
                 gcs.port, gcs.restarts);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * quick_failures));
  }
}

}  // namespace

int RunGcsServerProcess(const ProcessOptions& options, const GcsProcessOptions& gcs_options) {
  SetUpDaemon(gcs_options.supervise ? "gcs-supervisor" : "gcs");
  sigset_t signals = BlockTerminationSignals();
  ExitWithParentIfAsked(options);
  auto config = LoadConfig(options);
  if (!config.ok()) return Fail("gcs-server", config.status());
  if (Status st = CheckCrossProcessTransport(*config); !st.ok()) return Fail("gcs-server", st);
  if (Status st = CheckLocalAddress(options.node_ip, "--node-ip-address"); !st.ok())
    return Fail("gcs-server", st);
  if (gcs_options.node_timeout_ms <= 0) {
    return Fail("gcs-server",
                Status::InvalidArgument("--node-timeout-ms must be positive, e.g. 10000"));
  }
  if (Status st = CheckOptionalPort(gcs_options.metrics_port, "--metrics-port"); !st.ok())
    return Fail("gcs-server", st);
  if (gcs_options.supervise) {
    if (options.session_dir.empty()) {
      return Fail("gcs-server", Status::InvalidArgument("--supervise needs --session-dir"));
    }
    return SuperviseGcsServer(options, gcs_options, signals);
  }
  PluginLoader loader(config->plugin_path());
  PluginContext context;
  context.role = ProcessRole::kGcs;
  context.session_dir = options.session_dir;
  if (Status st = FillClusterSecret(options, &context); !st.ok()) return Fail("gcs-server", st);
  auto transport = loader.CreateSlot<Transport>(*config, context);
  if (!transport.ok()) return Fail("gcs-server", transport.status());
  auto store = loader.CreateSlot<GcsStore>(*config, context);
  if (!store.ok()) return Fail("gcs-server", store.status());
  auto scheduler = loader.CreateSlot<Scheduler>(*config, context);
  if (!scheduler.ok()) return Fail("gcs-server", scheduler.status());
  GcsServer::Options server;
  server.endpoint = "tcp://" + options.node_ip + ":" + std::to_string(gcs_options.port);
  server.publisher_endpoint =
      "tcp://" + options.node_ip + ":" + std::to_string(gcs_options.publisher_port);
  server.node_timeout = std::chrono::milliseconds(gcs_options.node_timeout_ms);
  server.restarts = gcs_options.restarts;
  server.store_plugin = config->slot(PluginKind::kGcs).plugin;
  server.plugins = config->SelectedPlugins();
  server.metrics_host = options.node_ip;
  server.metrics_port = gcs_options.metrics_port;
  server.http_secret = context.cluster_secret;  // "" with --insecure-no-auth
  if (!options.session_dir.empty()) {
    server.jobs_dir = options.session_dir + "/" + jobs::kJobsFolder;
  }
  auto gcs = GcsServer::Start(server, *transport, *store, *scheduler);
  if (!gcs.ok()) return Fail("gcs-server", gcs.status());
  std::string address = AddressFromEndpoint((*gcs)->endpoint());
  spdlog::info("GCS serving at {} (publishing at {}){}", address, (*gcs)->publisher_endpoint(),
               gcs_options.restarts > 0 ? ", restart " + std::to_string(gcs_options.restarts) : "");
  spdlog::info("GCS plugins: {} (from {})", FormatSelectedPlugins(server.plugins),
               config->source());
  if (!(*gcs)->metrics_address().empty())
    spdlog::info("GCS metrics at http://{}/metrics", (*gcs)->metrics_address());
  if (!options.session_dir.empty()) {
    Status st = WriteFileAtomically(options.session_dir + "/gcs_publisher_address",
                                    (*gcs)->publisher_endpoint());
    if (st.ok() && !(*gcs)->metrics_address().empty()) {
      st = WriteFileAtomically(options.session_dir + "/gcs_metrics_address",
                               (*gcs)->metrics_address());
    }
    if (st.ok()) st = WriteFileAtomically(options.session_dir + "/gcs_address", address);
    if (!st.ok()) return Fail("gcs-server", st);
  }
  WaitForTermination(signals);
  spdlog::info("GCS stopping");
  gcs->reset();
  return 0;
}

int RunRayletProcess(const ProcessOptions& options, const std::string& gcs_address,
                     const ResourceSet& resources, const std::map<std::string, std::string>& labels,
                     const std::map<std::string, std::string>& accelerators) {
  SetUpDaemon("raylet");
  sigset_t signals = BlockTerminationSignals();
  ExitWithParentIfAsked(options);
  auto config = LoadConfig(options);
  if (!config.ok()) return Fail("raylet", config.status());
  if (Status st = CheckCrossProcessTransport(*config); !st.ok()) return Fail("raylet", st);
  if (Status st = CheckLocalAddress(options.node_ip, "--node-ip-address"); !st.ok())
    return Fail("raylet", st);
  PluginLoader loader(config->plugin_path());
  PluginContext context;
  context.role = ProcessRole::kRaylet;
  context.session_dir = options.session_dir;
  if (Status st = FillClusterSecret(options, &context); !st.ok()) return Fail("raylet", st);
  auto transport = loader.CreateSlot<Transport>(*config, context);
  if (!transport.ok()) return Fail("raylet", transport.status());
  auto scheduler = loader.CreateSlot<Scheduler>(*config, context);
  if (!scheduler.ok()) return Fail("raylet", scheduler.status());
  Raylet::Options raylet_options;
  // The raylet creates the node's object store; its workers and local
  // drivers attach to it by the node's id.
  context.node_id = raylet_options.node_id;
  auto store = loader.CreateSlot<ObjectStore>(*config, context);
  if (!store.ok()) return Fail("raylet", store.status());
  raylet_options.resources = resources;
  raylet_options.labels = labels;
  raylet_options.accelerators = accelerators;
  raylet_options.gcs_address = EndpointFromAddress(gcs_address);
  raylet_options.endpoint =
      "tcp://" + options.node_ip + ":" + std::to_string(options.node_manager_port);
  raylet_options.worker_ports = options.worker_ports;
  raylet_options.session_dir = options.session_dir;
  // Beside the sessions, so that a host fetches a library once for all of them.
  raylet_options.code_cache_dir =
      std::filesystem::path(options.session_dir).parent_path().string() + "/code";
  raylet_options.config_file = options.config_file;
  raylet_options.config_sets = options.config_sets;
  raylet_options.lease_reuse = config->lease_reuse();
  // SIGTERM is blocked in every thread, so it waits for WaitForTermination.
  raylet_options.on_shutdown = [] { kill(getpid(), SIGTERM); };
  auto raylet = Raylet::Start(raylet_options, *transport, *scheduler, *store,
                              config->slot(PluginKind::kStore).plugin);
  if (!raylet.ok()) return Fail("raylet", raylet.status());
  spdlog::info("raylet plugins: {} (from {})", FormatSelectedPlugins(config->SelectedPlugins()),
               config->source());
  if (!options.session_dir.empty()) {
    Status st =
        WriteFileAtomically(options.session_dir + "/raylet_node_id", (*raylet)->node_id().Hex());
    if (st.ok())
      st = WriteFileAtomically(options.session_dir + "/raylet_address", (*raylet)->endpoint());
    if (!st.ok()) return Fail("raylet", st);
  }
  WaitForTermination(signals);
  spdlog::info("raylet stopping");
  raylet->reset();
  return 0;
}

int RunWorkerProcess(const ProcessOptions& options, const WorkerProcessOptions& worker) {
  SetUpDaemon("worker");
  // Its stdout and stderr are log files, which stdio would buffer in blocks
  // (stdout) or not at all (stderr): line by line, user output reaches
  // drivers (and `rayk logs`) as it is printed, and a task marker waits in
  // the buffer for the task's first line (observability/worker_log.h). Then
  // the line that tells readers whose output follows.
  const std::string header =
      observability::WorkerLogHeader(worker.job_id, worker.node_id, getpid());
  for (std::FILE* stream : {stdout, stderr}) {
    std::setvbuf(stream, nullptr, _IOLBF, BUFSIZ);
    std::fputs(header.c_str(), stream);
  }
  // A worker never outlives its raylet.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto config = LoadConfig(options);
  if (!config.ok()) return Fail("worker", config.status());
  // The job's code: every library stays loaded for the worker's life.
  std::vector<boost::dll::shared_library> libraries;
  for (const std::string& path : worker.code_libraries) {
    try {
      libraries.emplace_back(path,
                             boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_global);
    } catch (const std::exception& error) {
      return Fail(
          "worker",
          Status::InvalidArgument(
              "cannot load the job library " + path + ": " + error.what() +
              "; the raylet fetched it by digest, so its dependencies must resolve on this node"));
    }
  }
  PluginLoader loader(config->plugin_path());
  PluginContext context;
  context.role = ProcessRole::kWorker;
  context.session_dir = options.session_dir;
  if (Status st = FillClusterSecret(options, &context); !st.ok()) return Fail("worker", st);
  context.node_id = worker.node_id;
  auto transport = loader.CreateSlot<Transport>(*config, context);
  if (!transport.ok()) return Fail("worker", transport.status());
  // The node's store, when its raylet made one to attach to; without it,
  // values travel inline.
  auto store = loader.CreateSlot<ObjectStore>(*config, context);
  if (!store.ok()) spdlog::info("worker without an object store: {}", store.status().message());
  CoreWorker::Options core;
  core.is_driver = false;
  core.job_id = worker.job_id;
  core.worker_id = worker.worker_id;
  core.node_id = worker.node_id;
  core.raylet_address = worker.raylet_address;
  // A worker serves on its node's address, which its raylet's address names.
  core.endpoint = "tcp://" + HostOfAddress(worker.raylet_address) + ":0";
  core.gcs_address = EndpointFromAddress(worker.gcs_address);
  core.code_libraries = worker.code_libraries;
  core.ports = options.worker_ports;
  if (store.ok()) core.store = *store;
  auto core_worker = CoreWorker::Start(core, *transport);
  if (!core_worker.ok()) return Fail("worker", core_worker.status());
  internal::SetCurrentRuntime(core_worker->get());
  (*core_worker)->RunTaskLoop();
  internal::SetCurrentRuntime(nullptr);
  core_worker->reset();
  return 0;
}

}  // namespace rayk
