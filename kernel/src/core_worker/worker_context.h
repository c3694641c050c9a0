// WorkerContext: what the parts of one CoreWorker share (core_worker.h lists
// the parts): its options, its connections (transport, raylet, GCS, this
// node's object store, a pool of channels to other processes), its address
// and the one mutex that guards every part's tables.
//
// One mutex for all parts, rather than one each as in Ray, keeps a task's
// path to a single lock acquisition per step: submitting a task touches the
// object table, the pending tasks and a scheduling class at once. A function
// named *Locked expects WorkerContext::mu held; it appends the transport calls
// and callbacks it wants to an Actions list, which its caller runs once the
// mutex is released (RunActions). No part calls the transport while holding mu.
//
// Thread-safety: the members are set before the worker serves or runs
// anything (CoreWorker::Start) and read-only afterwards, except `stopping`
// (atomic) and the pool (its own lock). Created and owned by CoreWorker.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/port_range.h"
#include "gcs/gcs_client.h"
#include "object_manager/object_manager.h"
#include "observability/task_event_reporter.h"
#include "rayk/plugin/transport.h"

namespace rayk {

struct CoreWorkerOptions {
  bool is_driver = true;
  JobId job_id;
  WorkerId worker_id = WorkerId::FromRandom();
  NodeId node_id;
  std::string raylet_address;
  std::string gcs_address;
  std::vector<std::string> code_libraries;
  std::string endpoint = "tcp://127.0.0.1:0";
  // With a range, the process serves on a port of it (on the endpoint's host).
  PortRange ports;
  // This node's object store, when it is shared by the node's processes
  // (object_manager.h); null: every value travels inline.
  std::shared_ptr<ObjectStore> store;
  // Lineage reconstruction: at most this many finished tasks are kept to make
  // their results again (TaskManager).
  size_t max_lineage_tasks = 100000;
  // A driver's job namespace (InitOptions::namespace_name, resolved); a
  // worker learns its job's from the GCS when it first needs it.
  std::string namespace_name;
};

// Work decided under WorkerContext::mu and done after it is released.
using Actions = std::vector<std::function<void()>>;
void RunActions(Actions& actions);

// Leases, pushed tasks and fetches wait as long as their peer needs.
constexpr auto kForever = std::chrono::hours(24 * 365);
constexpr auto kControlTimeout = std::chrono::milliseconds(10000);

// Channels to other processes (owners, leased workers, actors, raylets), one
// per address. Thread-safe; Get connects without holding any lock, so two
// threads may race to connect to one address: the first to finish wins and the
// other's channel is closed.
class PeerPool {
 public:
  explicit PeerPool(Transport& transport) : transport_(transport) {}

  Result<std::shared_ptr<Channel>> Get(const std::string& address);
  // Closes every channel; their pending calls complete with kUnavailable.
  void Clear();

 private:
  Transport& transport_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Channel>> channels_;
};

// What this process did, as an owner, to get past faults: tasks run again
// (their worker died, they threw a retried exception), actor calls sent again
// to a restarted actor, and objects made again from their lineage when their
// node died. Counted since the process started; the chaos run (bench/chaos)
// prints them. Relaxed atomics: counts, read without WorkerContext::mu.
struct FaultCounters {
  std::atomic<uint64_t> task_retries{0};
  std::atomic<uint64_t> actor_call_retries{0};
  std::atomic<uint64_t> objects_reconstructed{0};
};

struct WorkerContext {
  WorkerContext(CoreWorkerOptions options, std::shared_ptr<Transport> transport);

  // The channel to `address`: the raylet's own, or one from the pool. Never
  // call it with mu held (it may connect).
  Result<std::shared_ptr<Channel>> Connect(const std::string& address);

  const CoreWorkerOptions options;
  const std::shared_ptr<Transport> transport;
  const std::string host_name;
  std::shared_ptr<Channel> raylet;
  std::unique_ptr<GcsClient> gcs;
  std::unique_ptr<NodeObjects> node_objects;  // null: no store shared by the node
  std::string address;                        // this worker's endpoint, once it serves
  PeerPool peers;
  // The process's task events: the tasks it runs (TaskExecutor) and those it
  // submitted that wait for arguments or a worker (TaskManager). Thread-safe.
  observability::TaskEventReporter task_events;
  FaultCounters faults;

  std::mutex mu;
  // Set first thing by ~CoreWorker: transport callbacks that see it return
  // without touching anything.
  std::atomic<bool> stopping{false};
};

}  // namespace rayk
