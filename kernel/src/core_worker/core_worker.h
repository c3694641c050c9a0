// CoreWorker: the part of rayk inside every driver and worker process.
//
// As an owner it submits tasks (leasing workers from its raylet and pushing
// tasks to them directly), keeps the values of the objects it owns in an
// in-process memory store, counts their references and frees them when the
// count reaches zero, and answers other processes' requests for them. As an
// executor (in a worker) it runs the tasks pushed to it, one at a time, on the
// thread that calls RunTaskLoop().
//
// It implements internal::Runtime, which the typed API in api.h calls.
// Thread-safe: one mutex guards the object and task tables; transport
// callbacks, the API's callers and the lease reaper take it briefly and never
// call the transport while holding it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gcs/gcs_client.h"
#include "object_manager/object_manager.h"
#include "rpc/protocol.h"
#include "rayk/internal/runtime.h"
#include "rayk/plugin/transport.h"

namespace rayk {

class CoreWorker : public internal::Runtime, public internal::ActorRuntime, public internal::ClusterRuntime {
 public:
  struct Options {
    bool is_driver = true;
    JobId job_id;
    WorkerId worker_id = WorkerId::FromRandom();
    NodeId node_id;
    std::string raylet_address;
    std::string gcs_address;
    std::vector<std::string> code_libraries;
    std::string endpoint = "tcp://127.0.0.1:0";
    // This node's object store, when it is shared by the node's processes
    // (object_manager.h); null: every value travels inline.
    std::shared_ptr<ObjectStore> store;
  };

  static Result<std::unique_ptr<CoreWorker>> Start(Options options, std::shared_ptr<Transport> transport);
  ~CoreWorker() override;

  std::string address() const { return server_->endpoint(); }
  const Options& options() const { return options_; }

  // Worker mode: runs pushed tasks on this thread until told to exit or the
  // raylet goes away.
  void RunTaskLoop();
  void RequestExit();

  // internal::Runtime
  ObjectId SubmitTask(internal::TaskCall call) override;
  ObjectId Put(std::string data) override;
  Result<std::vector<internal::ObjectValue>> Get(const std::vector<ObjectId>& ids,
                                                 std::chrono::milliseconds timeout) override;
  std::vector<bool> Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                         std::chrono::milliseconds timeout) override;
  void AddLocalReference(const ObjectId& id) override;
  void RemoveLocalReference(const ObjectId& id) override;
  std::string OwnerAddress(const ObjectId& id) override;
  void AddBorrowedReference(const ObjectId& id, const std::string& owner_address) override;

  // internal::ActorRuntime
  Result<ActorId> CreateActor(internal::ActorCreation creation) override;
  ObjectId SubmitActorTask(const ActorId& actor, std::string method, std::vector<internal::TaskArg> args) override;
  Result<internal::NamedActor> GetNamedActor(const std::string& name) override;
  Status KillActor(const ActorId& actor, bool no_restart) override;
  void ExitActor() override;

  // internal::ClusterRuntime
  Result<std::vector<NodeView>> Nodes() override;
  NodeId CurrentNodeId() override { return options_.node_id; }
  Result<bool> KvPut(const std::string& key, const std::string& value, const std::string& ns,
                     bool overwrite) override;
  Result<std::optional<std::string>> KvGet(const std::string& key, const std::string& ns) override;
  Result<bool> KvDelete(const std::string& key, const std::string& ns) override;
  Result<std::vector<std::string>> KvList(const std::string& prefix,
                                          const std::string& ns) override;
  // Every actor the GCS knows (for `rayk list actors`).
  Result<std::vector<protocol::ActorInfo>> ListActors();

  // How many objects this process holds values or entries for (tests and
  // `rayk memory` use it to show that freed objects are gone).
  size_t NumObjects();

 private:
  struct ObjectEntry {
    std::optional<internal::ObjectValue> value;
    bool owned = false;
    bool escaped = false;  // a reference left this process inside a value: never freed early
    std::string owner_address;
    int local_refs = 0;
    int task_refs = 0;
    bool fetching = false;
    std::vector<std::function<void()>> on_ready;  // run (without mu_) once the value is in
    // Valid: the value is in that node's object store, and `value` holds
    // neither bytes nor error (InStore()): Get reads it there each time, so
    // the store may spill it while nobody looks at it.
    internal::StoreLocation location;
  };
  struct PendingTask {
    protocol::TaskSpec spec;
    std::vector<ObjectId> arg_refs;  // top-level refs, held until the task ends
    size_t unresolved = 0;
    std::string class_key;
    internal::Placement placement;
  };
  struct LeasedWorker {
    uint64_t lease_id = 0;
    WorkerId worker_id;
    std::string address;
    int64_t pid = 0;
    NodeId node_id;
    std::shared_ptr<Channel> channel;
    std::shared_ptr<Channel> raylet;  // the raylet that granted it, to give it back
    std::set<TaskId> in_flight;
    std::chrono::steady_clock::time_point idle_since;
  };
  struct SchedulingClass {
    ResourceSet resources;
    internal::Placement placement;
    bool warned = false;  // a raylet said no node can run it (logged once)
    // Average run time of its tasks (microseconds, moving average; < 0:
    // none seen yet). Short tasks are pipelined to each leased worker.
    double avg_run_us = -1;
    std::deque<TaskId> queue;
    std::map<uint64_t, LeasedWorker> workers;
    int lease_requests = 0;
  };
  // What a caller knows of one actor it calls.
  struct ActorClient {
    enum class State { kUnknown, kResolving, kAlive, kDead };
    State state = State::kUnknown;
    uint64_t epoch = 0;
    int max_task_retries = 0;
    std::string death_cause;
    std::shared_ptr<Channel> channel;
    std::deque<TaskId> queue;     // submitted, not yet sent, in submission order
    std::deque<TaskId> in_flight;  // sent, in submission order
    // Pushes wait here (under mu_) and leave in this order: whoever flushes
    // holds send_mu, so two threads' batches cannot interleave on the wire.
    std::deque<std::pair<TaskId, std::pair<int, std::string>>> outbox;
    std::shared_ptr<std::mutex> send_mu = std::make_shared<std::mutex>();
  };
  using Actions = std::vector<std::function<void()>>;

  CoreWorker(Options options, std::shared_ptr<Transport> transport);
  void Handle(std::string message, ReplyFn reply);
  // Registers a task or actor call (its result object and argument refs) and
  // starts resolving its arguments. Fills in the ids and the owner.
  ObjectId Submit(PendingTask task);

  // Owner side. Each *Locked function runs with mu_ held and appends the
  // transport calls it wants to `actions`, which run after mu_ is released.
  void ResolveArgLocked(const TaskId& task_id, size_t arg_index, Actions& actions);
  void TaskReadyLocked(const TaskId& task_id, Actions& actions);
  void DispatchLocked(const std::string& class_key, Actions& actions);
  void RequestLeaseLocked(const std::string& class_key, Actions& actions);
  protocol::RequestWorkerLease LeaseRequestLocked(const SchedulingClass& cls);
  // Sends a lease request to a raylet: the local one, or where a spillback points.
  void SendLeaseRequestLocked(const std::string& class_key, protocol::RequestWorkerLease request,
                              const NodeId& node, const std::string& raylet_address, Actions& actions);
  void OnLeaseReply(const std::string& class_key, uint64_t request_id, const std::string& raylet_address,
                    Result<std::string> reply);
  void HandleLeaseReplyLocked(const std::string& class_key, const std::optional<protocol::LeaseReply>& lease,
                              const std::shared_ptr<Channel>& raylet, const std::string& raylet_address,
                              const Result<std::string>& reply, Actions& actions);
  std::shared_ptr<Channel> PeerLocked(const std::string& address);
  // Node deaths, from the GCS's "node" topic: leases there are gone.
  void WatchNodesLocked(Actions& actions);
  void OnNodeDead(const NodeId& node, const std::string& cause);
  void LoseWorkerLocked(const std::string& class_key, uint64_t lease_id, const std::string& reason, Actions& actions);
  void OnPushReply(const TaskId& task_id, int attempt, uint64_t lease_id, Result<std::string> reply);
  void OnWorkerDied(const protocol::WorkerDied& died);
  // The value a task's reply stands for; a result in a store is recorded as such.
  internal::ObjectValue ReplyValueLocked(Result<protocol::PushTaskReply>& body, const ObjectId& return_id);
  void CompleteTaskLocked(const TaskId& task_id, internal::ObjectValue value, Actions& actions);
  void SetValueLocked(const ObjectId& id, internal::ObjectValue value, Actions& actions);
  void FetchLocked(const ObjectId& id, Actions& actions);
  void MaybeFreeLocked(const ObjectId& id);
  void ReturnIdleLeases();
  static void Run(Actions& actions);

  // Actor calls (caller side).
  void SendActorTasksLocked(const ActorId& actor, Actions& actions);
  void ResolveActorLocked(const ActorId& actor, Actions& actions);
  void FlushActorOutbox(const ActorId& actor);
  static std::string WatchActorMessage(const ActorId& actor, uint64_t epoch);
  void OnActorInfo(const ActorId& actor, bool watch, Result<std::string> reply, bool deferred = false);
  void HandleDeferredActorInfos();
  void OnActorReply(const ActorId& actor, const TaskId& task_id, int attempt, Result<std::string> reply);
  Result<protocol::ActorInfo> QueryActor(const protocol::GetActor& request);

  // Executor side.
  void ExecuteLoop();
  void Execute(protocol::TaskSpec spec, ReplyFn reply);
  // A large result goes into this node's store; the reply carries its location.
  void StoreLargeResult(const ObjectId& return_id, protocol::PushTaskReply& out);
  void SetBlocked(bool blocked);

  const Options options_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Channel> raylet_;
  std::unique_ptr<GcsClient> gcs_;
  std::unique_ptr<NodeObjects> node_objects_;
  const std::string host_name_;

  std::mutex mu_;
  std::condition_variable ready_cv_;
  std::unordered_map<ObjectId, ObjectEntry> objects_;
  std::unordered_map<TaskId, PendingTask> tasks_;
  std::map<std::string, SchedulingClass> classes_;
  std::unordered_map<ActorId, ActorClient> actor_clients_;
  struct DeferredActorInfo {
    std::chrono::steady_clock::time_point due;
    ActorId actor;
    std::string reply;
  };
  std::vector<DeferredActorInfo> deferred_actor_infos_;
  std::map<std::string, std::shared_ptr<Channel>> peers_;  // owners, workers and raylets by address
  // Lease requests out at remote raylets (a spillback sent them there): if
  // that node dies, they are asked again locally.
  struct RemoteLeaseRequest {
    std::string class_key;
    NodeId node;
  };
  std::map<uint64_t, RemoteLeaseRequest> remote_lease_requests_;
  std::set<uint64_t> abandoned_lease_requests_;
  std::unique_ptr<Subscription> node_subscription_;
  bool watching_nodes_ = false;
  uint64_t next_request_id_ = 1;

  // Executor state: pushed tasks waiting for the task loop.
  std::mutex exec_mu_;
  std::condition_variable exec_cv_;
  std::deque<std::pair<protocol::TaskSpec, ReplyFn>> exec_queue_;
  bool exit_requested_ = false;
  std::atomic<bool> executing_{false};
  std::atomic<int> blocked_depth_{0};
  // The actor this worker hosts, once its creation task ran.
  std::shared_ptr<void> actor_instance_;
  ActorId actor_id_;
  std::atomic<int> concurrency_{1};
  std::atomic<bool> exit_after_task_{false};
  std::vector<std::thread> extra_executors_;

  std::atomic<bool> stopping_{false};
  std::thread reaper_;
  std::unique_ptr<Server> server_;  // last: stops first
};

}  // namespace rayk
