// What the `rayk` subcommands share: one-line failures, parsing the resource
// and label options, asking a cluster's GCS for its status, and stopping the
// processes a session recorded in its `pids` file.
//
// A `pids` file has one line per process a command started:
// "PID ROLE start=TICKS exe=PATH" with ROLE "gcs-server" or "raylet", the
// process's start time and executable (from /proc when it was started),
// optionally followed by a note for people ("node 2"). `rayk stop` and
// `rayk dev down` read it, signal only a process whose start time and
// executable still match (a pid may have been reused, or the line planted),
// and rename the file to `pids.stopped` once they have ended what it lists.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/port_range.h"
#include "gcs/gcs_client.h"
#include "rayk/host/config.h"

namespace CLI {
class App;
}
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"
#include "rayk/resources.h"
#include "rpc/protocol.h"

namespace rayk::cli {

// A command waits this long for a GCS that does not answer (it may be
// restarting) before it says so.
constexpr auto kCliGcsLimit = std::chrono::milliseconds(8000);
// How long a command waits for a daemon it started to be ready.
constexpr auto kStartTimeout = std::chrono::seconds(30);

// Prints "rayk: <message>" to stderr and exits with status 1.
[[noreturn]] void Fail(const std::string& message);

// The GCS a command talks to: `address` if given, else $RAYK_ADDRESS, else
// the latest local session's.
std::string GcsAddressOrFail(const std::string& address);

// Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS"; "-" for 0.
std::string FormatTime(int64_t ms);

// A node's resources from `json` (`option` names the flag in errors), with
// `num_cpus` CPUs unless the JSON sets CPU; num_cpus <= 0 means all cores.
ResourceSet ParseResources(const std::string& json, int num_cpus,
                           const std::string& option = "--resources");

// Node labels from a JSON object of strings; "" gives none. Fails on a key
// or value that is not valid (rayk/label_selector.h), and on a key with the
// prefix rayk sets itself unless `allow_reserved` (the labels a launcher
// passes to the raylet process it starts).
std::map<std::string, std::string> ParseLabels(const std::string& json,
                                               const std::string& option = "--labels",
                                               bool allow_reserved = false);

// A node's accelerators besides GPU (scheduling/accelerators.h) from a JSON
// object of resource names to environment variables; "" gives none. Fails on
// a bad variable name, and when `resources` (from `resources_option`) holds a
// fraction of a device.
std::map<std::string, std::string> ParseAccelerators(
    const std::string& json, const ResourceSet& resources,
    const std::string& option = "--accelerators",
    const std::string& resources_option = "--resources");

// Loads `config_file` (or the default plugins.toml) with the --set
// overrides, so that a bad configuration fails the command the user typed
// rather than a daemon whose log they would have to read.
// `--scheduler NAME|PATH` (and --store, --transport, --gcs): the same as
// `--set SLOT.plugin=...`, added to `sets` in order; a relative path (one
// with a '/') is made absolute, as the configuration requires.
void AddPluginChoices(CLI::App* command, std::vector<std::string>* sets);

void CheckConfigOrFail(const std::string& config_file, const std::vector<std::string>& sets);

// Runs the checks a plugin makes of its own settings beyond what its
// SettingSpec declares (a range that depends on another key, say), which run
// when it is created: creates the selected scheduler once and drops it. Only
// the scheduler: by its slot's contract it holds no state outside itself,
// whereas creating a store, transport or GCS store would map memory, bind
// sockets or open files. Errors name the config file.
Status CheckPluginStarts(const PluginLoader& loader, const Config& config, PluginKind kind);

// The --config/--set arguments that hand the same configuration to a daemon
// (the file made absolute, as daemons outlive the current directory).
std::vector<std::string> ConfigArgs(const std::string& config_file,
                                    const std::vector<std::string>& sets);

// Starts `rayk gcs-server --supervise` for `session_dir` on `port` (0: any
// free port), records it in the session's `pids` file and waits until it
// serves; returns its address (HOST:PORT). Its Prometheus metrics are on
// `metrics_port` (0: any free port, -1: none).
Result<std::string> StartSupervisedGcs(const std::string& session_dir, int port, int publisher_port,
                                       int node_timeout_ms,
                                       const std::vector<std::string>& config_args,
                                       const std::string& node_ip = "127.0.0.1",
                                       int metrics_port = 0);

// What a `rayk raylet` process is started with. Its session folder gets its
// raylet_address file and, under logs/, its log and its workers' logs.
struct RayletLaunch {
  std::string gcs_address;
  std::string session_dir;
  int num_cpus = 0;       // 0: all cores
  std::string resources;  // JSON, "" for CPUs only
  std::string labels;     // JSON, "" for none
  // JSON, "" for GPU alone (scheduling/accelerators.h).
  std::string accelerators;
  std::vector<std::string> config_args;
  std::string node_ip = "127.0.0.1";  // the node's address, which the raylet binds and advertises
  int node_manager_port = 0;          // 0: any free port
  PortRange worker_ports;
};

// Starts a raylet as its own process group (it outlives the command), with
// its output in <session_dir>/logs/raylet.log; returns its pid.
Result<pid_t> SpawnRaylet(const RayletLaunch& launch);

// The cluster secret for a cluster this command creates in `session_dir`:
// $RAYK_AUTH_TOKEN (which --auth-token sets) when given, else a new random
// one. Writes it to <session_dir>/auth_token (0600) and exports it as
// RAYK_AUTH_TOKEN, so that every process the command starts inherits it and
// no command line carries it. Fails the command on error.
void SetUpNewClusterSecret(const std::string& session_dir);

// Exports `token` (from --auth-token) as RAYK_AUTH_TOKEN for this command and
// the processes it starts; nothing when empty. Fails on a malformed token.
void ExportAuthToken(const std::string& token);

// Adds --auth-token to `command`, into `token` (then give it to ExportAuthToken).
void AddAuthTokenOption(CLI::App* command, std::string* token);

// Exports the secret of the cluster this command joins: $RAYK_AUTH_TOKEN, else
// `session_dir`'s auth_token (the latest session's when empty). Fails, saying
// how to pass the token, when there is none.
void ExportExistingClusterSecret(const std::string& session_dir);

// The --set overrides that turn authentication off, for --insecure-no-auth:
// one for each transport that authenticates (only the selected one's applies).
inline const std::vector<std::string> kInsecureNoAuthSets = {"transport.zmq.auth=false",
                                                             "transport.asio.auth=false"};

// A CLI command's connection to a GCS; it lives as long as the command.
struct GcsConnection {
  std::shared_ptr<Transport> transport;
  std::unique_ptr<GcsClient> client;
};

// Connects to the GCS at `address` (HOST:PORT or an endpoint) through the
// transport `config_file` (with `sets`) selects (zmq when it selects inproc,
// which cannot reach another process), authenticated with the cluster secret
// (FindClusterSecret). Fails the command on error.
GcsConnection ConnectToGcs(const std::string& address, const std::string& config_file,
                           const std::vector<std::string>& sets = {});

// The GCS's view of the cluster: nodes, jobs, the GCS itself.
Result<protocol::ClusterStatus> FetchClusterStatus(GcsClient& gcs,
                                                   std::chrono::milliseconds limit = kCliGcsLimit);

// Appends `pid` (just started by this command) to <session_dir>/pids with
// its start time and executable.
void RecordProcess(const std::string& session_dir, pid_t pid, const std::string& role,
                   const std::string& note = "");

// Ends the processes listed in each session's `pids` file, submitted jobs'
// supervisors first (each ends its driver), then raylets (so their workers go
// with them), then the GCS, printing one line per process
// it stopped, or left alone as not the recorded one, to `out` (when given);
// then renames each file to `pids.stopped`.
// Returns how many it stopped.
int StopRecordedProcesses(const std::vector<std::string>& session_dirs, std::ostream* out);

// Lays out `rows` (the first is the header) in left-aligned columns two
// spaces apart, each line starting with `indent`.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        const std::string& indent = "  ");

// The session folders under the session root that have a `pids` file, that
// is, whose processes have not been stopped.
std::vector<std::string> SessionsWithProcesses();

}  // namespace rayk::cli
