// The exceptions rayk's user API throws (and only the user API: inside rayk,
// errors travel as Status values).
//
// Get() rethrows what went wrong with the task that made an object:
// TaskError for an exception in remote code (with its type, message and where
// it ran), WorkerCrashedError when the worker process died and the retries are
// spent, UnschedulableError when no node can ever run the task, and
// GetTimeoutError when the object did not become ready in time.
#pragma once

#include <stdexcept>
#include <string>

namespace rayk {

class RaykError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Remote code threw. what() reads "<type>: <message> (in task F on node N, worker pid P)".
class TaskError : public RaykError {
 public:
  TaskError(std::string remote_type, std::string remote_message, std::string where)
      : RaykError(remote_type + ": " + remote_message + " (" + where + ")"),
        remote_type_(std::move(remote_type)),
        remote_message_(std::move(remote_message)),
        where_(std::move(where)) {}
  const std::string& remote_type() const { return remote_type_; }
  const std::string& remote_message() const { return remote_message_; }
  const std::string& where() const { return where_; }

 private:
  std::string remote_type_;
  std::string remote_message_;
  std::string where_;
};

// The worker running the task died (killed, crashed, out of memory) and
// max_retries retries are spent.
class WorkerCrashedError : public RaykError {
 public:
  using RaykError::RaykError;
};

// No node of the cluster can ever satisfy the task's resource demand.
class UnschedulableError : public RaykError {
 public:
  using RaykError::RaykError;
};

// Get() or Wait() ran out of time.
class GetTimeoutError : public RaykError {
 public:
  using RaykError::RaykError;
};

// The object's value is gone and cannot be rebuilt (its owner died, or the
// node that held it).
class ObjectLostError : public RaykError {
 public:
  using RaykError::RaykError;
};

// The object's owner (the process that created it with Put or submitted the
// task that made it) died, so its value is gone with it; what() names the
// owner and how it died. As Ray's OwnerDiedError, it is an ObjectLostError.
class OwnerDiedError : public ObjectLostError {
 public:
  using ObjectLostError::ObjectLostError;
};

// Anything else the runtime reports (not initialized, cannot reach the
// cluster, a function that is not registered, arguments that do not decode).
class RuntimeError : public RaykError {
 public:
  using RaykError::RaykError;
};

}  // namespace rayk

namespace rayk {

// The actor is dead (its process died with no restarts left, it was killed,
// or it could not be created); what() names the cause.
class ActorDiedError : public RaykError {
 public:
  using RaykError::RaykError;
};

// The node's object store could not take an object even after evicting and
// spilling what it could (everything else is pinned); the message says how
// much was asked, how much is pinned and which setting to raise. Thrown by
// Put, and by Get for a task whose result could not be stored.
class ObjectStoreFullError : public RaykError {
 public:
  using RaykError::RaykError;
};

// A task given TaskCaller::SetTimeout did not finish in time on its last
// attempt (its worker was killed); what() names the task and the limit.
class TaskTimedOutError : public RaykError {
 public:
  using RaykError::RaykError;
};

// The task or actor call was cancelled with rayk::Cancel (rayk/cancel.h)
// before it finished; what() names it and how it was stopped.
class TaskCancelledError : public RaykError {
 public:
  using RaykError::RaykError;
};

}  // namespace rayk
