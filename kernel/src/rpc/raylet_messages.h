// A raylet's messages: worker leases and the worker pool.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rpc/common_messages.h"

namespace rayk::protocol {

struct RequestWorkerLease {
  uint64_t request_id = 0;  // the owner's, echoed in the reply
  JobId job_id;
  ResourceSet resources;
  std::string owner_address;
  int64_t owner_pid = 0;  // with owner_host, lets the raylet notice a driver that died
  std::string owner_host;
  internal::Placement placement;
  uint32_t spillbacks = 0;  // raylets that forwarded it already
  // Bytes of the first queued task's arguments held in each node's store,
  // for locality-aware placement.
  std::map<NodeId, uint64_t> argument_bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& request_id& job_id& resources& owner_address& owner_pid& owner_host& placement& spillbacks&
        argument_bytes;
  }
};

struct LeaseReply {
  // kSpillback: ask the raylet at spillback_address (node node_id) instead.
  enum class Result : uint8_t { kGranted, kInfeasible, kFailed, kSpillback };
  Result result = Result::kFailed;
  uint64_t request_id = 0;
  uint64_t lease_id = 0;
  WorkerId worker_id;
  std::string worker_address;
  int64_t worker_pid = 0;
  NodeId node_id;
  std::string reason;  // with kInfeasible and kFailed
  std::string spillback_address;
  // With kGranted: false when the cluster runs with [scheduler] lease_reuse =
  // false; the owner then gives the lease back after one task.
  bool reusable = true;
  // With kGranted: every accelerator of the node, with the devices of it the
  // lease holds; the owner hands them on with each task (TaskSpec).
  std::vector<AcceleratorIds> accelerators;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& result& request_id& lease_id& worker_id& worker_address& worker_pid& node_id& reason&
        spillback_address& reusable& accelerators;
  }
};

struct ReturnWorker {
  uint64_t lease_id = 0;
  bool worker_exiting = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& lease_id& worker_exiting;
  }
};

struct RegisterWorker {
  WorkerId worker_id;
  std::string address;
  int64_t pid = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& worker_id& address& pid;
  }
};

struct WorkerBlockState {
  WorkerId worker_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& worker_id;
  }
};

// A driver on the raylet's host, at its start (one-way): the raylet ends its
// job (its leases, workers and actors) when the process is gone, even if it
// never leased a worker.
struct WatchDriver {
  JobId job_id;
  int64_t pid = 0;
  std::string host;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id& pid& host;
  }
};

// Asks the raylet's process to exit (shutdown_requested()).
struct ShutdownRaylet {
  template <class A>
  void serialize(A&, unsigned) {}
};

// `rayk list workers`: the raylet's worker pool.
struct ListWorkers {
  template <class A>
  void serialize(A&, unsigned) {}
};

// One process of a node's pool. `state`: STARTING (not registered yet),
// IDLE, LEASED, BLOCKED (leased, waiting in a Get) or DYING (killed, not yet
// reaped).
struct WorkerRow {
  WorkerId worker_id;
  int64_t pid = 0;
  JobId job_id;
  std::string state;
  std::string address;
  std::string owner_address;  // with a lease: who holds it
  int64_t start_time_ms = 0;  // ms since the epoch
  bool stopped = false;       // its process is stopped (SIGSTOP)
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& worker_id& pid& job_id& state& address& owner_address& start_time_ms& stopped;
  }
};

struct WorkerList {
  NodeId node_id;
  std::vector<WorkerRow> workers;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node_id& workers;
  }
};

RAYK_MESSAGE_BODY(kRequestWorkerLease, RequestWorkerLease);
RAYK_MESSAGE_BODY(kReturnWorker, ReturnWorker);
RAYK_MESSAGE_BODY(kRegisterWorker, RegisterWorker);
RAYK_MESSAGE_BODY(kWorkerBlocked, WorkerBlockState);
RAYK_MESSAGE_BODY(kWorkerUnblocked, WorkerBlockState);
RAYK_MESSAGE_BODY(kShutdownRaylet, ShutdownRaylet);
RAYK_MESSAGE_BODY(kWatchDriver, WatchDriver);
RAYK_MESSAGE_BODY(kLeaseReply, LeaseReply);
RAYK_MESSAGE_BODY(kListWorkers, ListWorkers);
RAYK_MESSAGE_BODY(kWorkerList, WorkerList);

}  // namespace rayk::protocol
