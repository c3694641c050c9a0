// A core worker's messages (worker or driver): tasks pushed to it, objects
// asked of it as their owner, and notices from raylets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rpc/common_messages.h"

namespace rayk::protocol {

struct TaskSpec {
  // An actor call (actor_id set), an actor's creation (creates_actor), or a
  // plain task (neither).
  ActorId actor_id;
  bool creates_actor = false;
  int max_concurrency = 0;  // with creates_actor; 0: the default (1, or 1000 when async)
  // With creates_actor: the actor's named concurrency groups and their limits.
  std::map<std::string, int> concurrency_groups;
  // An actor call's group when its caller chose one (SetConcurrencyGroup);
  // empty: its method's.
  std::string concurrency_group;
  TaskId task_id;
  JobId job_id;
  std::string function;
  std::vector<internal::TaskArg> args;  // refs are resolved to values before the push
  ResourceSet resources;
  int max_retries = 0;
  int attempt = 0;
  ObjectId return_id;
  // SetNumReturns: the result is split into num_returns objects, return_id
  // and then more_return_ids (num_returns - 1 of them); 0: one object, the
  // whole result.
  uint32_t num_returns = 0;
  std::vector<ObjectId> more_return_ids;
  std::string owner_address;
  std::string name;  // SetName: shown in task listings instead of the function's name
  // The accelerator devices of the lease it runs on (LeaseReply), set by
  // whoever pushes it; empty for actor calls, which keep their creation's.
  std::vector<AcceleratorIds> accelerators;
  // Every result's id, in order: return_id, then more_return_ids.
  std::vector<ObjectId> ReturnIds() const {
    std::vector<ObjectId> ids{return_id};
    ids.insert(ids.end(), more_return_ids.begin(), more_return_ids.end());
    return ids;
  }
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& creates_actor& max_concurrency& concurrency_groups& concurrency_group& task_id&
        job_id& function& args& resources& max_retries& attempt& return_id& num_returns&
            more_return_ids& owner_address& name& accelerators;
  }
};

struct PushTask {
  TaskSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& spec;
  }
};

// One result of a call split into several (TaskSpec::more_return_ids).
struct ReturnValue {
  std::string value;
  internal::StoreLocation location;  // valid: the value is in that node's store, not here
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& value& location;
  }
};

struct PushTaskReply {
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store, not here
  uint32_t run_us = 0;               // how long the function ran, for the owner's pipelining choice
  // Without error, for a split call: the results of more_return_ids, in order.
  std::vector<ReturnValue> more_returns;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& value& error& location& run_us& more_returns;
  }
};

struct GetObject {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id;
  }
};

struct GetObjectReply {
  bool found = false;
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& value& error& location;
  }
};

struct WorkerDied {
  WorkerId worker_id;
  uint64_t lease_id = 0;
  std::string reason;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& worker_id& lease_id& reason;
  }
};

struct RemoveBorrower {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id;
  }
};

// Raylet -> owner, one-way: a lease request waits for something no node has.
struct LeaseWarning {
  uint64_t request_id = 0;
  std::string message;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& request_id& message;
  }
};

// rayk::Cancel. To the owner (to_executor false): cancel the task whose
// result is `return_id` (a borrower forwards its Cancel this way; the reply
// is a StatusReply). To the worker running it (to_executor true): drop the
// task if it has not started, else mark it cancelled (rayk::IsCancelled) or,
// with `force`, end the worker; one-way.
struct CancelTask {
  ObjectId return_id;
  TaskId task_id;
  bool force = false;
  bool recursive = true;
  bool to_executor = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& return_id& task_id& force& recursive& to_executor;
  }
};

struct ExitWorker {
  template <class A>
  void serialize(A&, unsigned) {}
};

RAYK_MESSAGE_BODY(kPushTask, PushTask);
RAYK_MESSAGE_BODY(kGetObject, GetObject);
RAYK_MESSAGE_BODY(kWorkerDied, WorkerDied);
RAYK_MESSAGE_BODY(kRemoveBorrower, RemoveBorrower);
RAYK_MESSAGE_BODY(kExitWorker, ExitWorker);
RAYK_MESSAGE_BODY(kLeaseWarning, LeaseWarning);
RAYK_MESSAGE_BODY(kCancelTask, CancelTask);
RAYK_MESSAGE_BODY(kPushTaskReply, PushTaskReply);
RAYK_MESSAGE_BODY(kGetObjectReply, GetObjectReply);

}  // namespace rayk::protocol
