// Starting and stopping rayk in a process.
//
// rayk::Init() with no address (and no RAYK_ADDRESS in the environment)
// starts a private local cluster (a GCS server, one raylet and its workers as
// child processes in a fresh session directory) and rayk::Shutdown() stops
// it, as ray.init() does. With an address ("127.0.0.1:6379", what
// `rayk start --head` prints) it joins that cluster instead.
// Init and Shutdown are not thread-safe with each other; call them from main.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace rayk {

struct InitOptions {
  std::string address;      // the GCS of a running cluster; empty: $RAYK_ADDRESS, else embedded
  std::string config_file;  // plugins.toml of the embedded cluster; empty: $RAYK_CONFIG, the
                            // installed one, or defaults
  int num_cpus = 0;         // CPUs of the embedded node; 0: the machine's
  // Extra resources of the embedded node, as for SetResources: {{"GPU", 1}}.
  // Names and amounts follow the rule of TaskCaller::SetResource (0 is refused).
  std::map<std::string, double> resources;
  // Accelerator resources of the embedded node besides GPU, each with the
  // environment variable its device ids go in (rayk/accelerators.h):
  // {{"neuron_cores", "NEURON_RT_VISIBLE_CORES"}}.
  std::map<std::string, std::string> accelerators;
  // Shared libraries the workers load to find the job's remote functions.
  // Empty: every library that registered functions with RAYK_REMOTE in this process.
  std::vector<std::string> code_libraries;
  // Lineage reconstruction: the driver keeps the finished tasks whose results
  // sit in a node's store (while the results are referenced) to run them
  // again if that node dies; at most this many. Results beyond it cannot be
  // made again (their error says so). Workers keep the default.
  size_t max_lineage_tasks = 100000;
  // The job's namespace: names of the actors and placement groups it
  // creates live there, and GetActor(name) looks there. Jobs that give the
  // same namespace share names. Empty: $RAYK_NAMESPACE, else an anonymous
  // namespace of this job alone (as in Ray). A name of letters, digits and
  // "._-", at most 64 characters.
  std::string namespace_name;
  // Log to driver (as Ray's): the job's workers' stdout and stderr are
  // printed on this process's stdout as they happen, each line prefixed
  // "(NAME pid=PID, node=NODE) ", repeated lines folded. Off when false or
  // when $RAYK_LOG_TO_DRIVER is 0; `rayk logs` reads the same output later.
  bool log_to_driver = true;
};

// Throws rayk::RuntimeError (errors.h) with a one-line reason when it cannot start.
void Init(const InitOptions& options = {});
void Shutdown();
bool IsInitialized();

}  // namespace rayk
