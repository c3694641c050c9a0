// CoreWorker: the part of rayk inside every driver and worker process.
//
// As an owner it submits tasks (leasing workers from its raylet and pushing
// tasks to them directly), keeps the values of the objects it owns in an
// in-process memory store, counts their references and frees them when the
// count reaches zero, and answers other processes' requests for them. As an
// executor (in a worker) it runs the tasks pushed to it, one at a time, on the
// thread that calls RunTaskLoop().
//
// It is made of parts, as Ray's core worker is, each in its own files here:
//   WorkerContext     what the parts share: options, connections, one mutex
//   ReferenceCounter  the object table: references, values (memory store)
//   TaskManager       submitted tasks until they end: arguments, results
//   GeneratorStreams  the items of streaming generator calls, as they come
//   TaskSubmitter     tasks: leases, pushes, pipelining, retries
//   ActorSubmitter    actors: creation, calls in order, deaths and restarts
//   TaskExecutor      running the tasks pushed to this worker
//   worker_service.cc the requests other processes send this one (Handle)
// This class composes them and implements the interfaces the user API calls
// (internal::Runtime, ActorRuntime, ClusterRuntime).
//
// Thread-safe: one mutex (WorkerContext::mu) guards the parts' tables;
// transport callbacks, the API's callers and the reaper thread (idle leases,
// actor death notices) take it briefly and never call the transport while
// holding it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core_worker/actor_submitter.h"
#include "core_worker/generator_streams.h"
#include "core_worker/placement_group_calls.h"
#include "core_worker/push_streams.h"
#include "core_worker/reference_counter.h"
#include "core_worker/task_executor.h"
#include "core_worker/task_manager.h"
#include "core_worker/task_submitter.h"
#include "core_worker/worker_context.h"
#include "rayk/internal/runtime.h"
#include "rpc/protocol.h"

namespace rayk {

class CoreWorker : public internal::Runtime,
                   public internal::ActorRuntime,
                   public internal::ClusterRuntime {
 public:
  using Options = CoreWorkerOptions;

  static Result<std::unique_ptr<CoreWorker>> Start(Options options,
                                                   std::shared_ptr<Transport> transport);
  ~CoreWorker() override;

  const std::string& address() const { return context_.address; }
  // The transport it talks through (tests serve fake peers on it).
  Transport& transport() const { return *context_.transport; }
  const Options& options() const { return context_.options; }

  // Worker mode: runs pushed tasks on this thread until told to exit or the
  // raylet goes away.
  void RunTaskLoop() { executor_.RunTaskLoop(); }
  void RequestExit() { executor_.RequestExit(); }

  // internal::Runtime
  ObjectId SubmitTask(internal::TaskCall call) override;
  std::vector<ObjectId> SubmitSplitTask(internal::TaskCall call) override;
  ObjectId SubmitStreamingTask(internal::TaskCall call) override;
  Result<std::optional<ObjectId>> NextStreamItem(const ObjectId& stream,
                                                 std::chrono::milliseconds timeout) override;
  void CloseStream(const ObjectId& stream) override;
  ObjectId Put(std::string data) override;
  std::unique_ptr<internal::ObjectSpace> CreateObject(size_t size) override;
  ObjectId SealObject(std::unique_ptr<internal::ObjectSpace> space) override;
  Result<std::vector<internal::ObjectValue>> Get(const std::vector<ObjectId>& ids,
                                                 std::chrono::milliseconds timeout) override;
  std::vector<bool> Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                         std::chrono::milliseconds timeout) override;
  void AddLocalReference(const ObjectId& id) override;
  void RemoveLocalReference(const ObjectId& id) override;
  std::string OwnerAddress(const ObjectId& id) override;
  void AddBorrowedReference(const ObjectId& id, const std::string& owner_address) override;
  void BeginDecoding() override { references_.BeginDecoding(); }
  void EndDecoding() override { references_.EndDecoding(); }
  Status Cancel(const ObjectId& id, bool force, bool recursive) override;
  bool IsCancelled() override { return TaskExecutor::CurrentTaskCancelled(); }

  // internal::ActorRuntime
  Result<ActorId> CreateActor(internal::ActorCreation creation) override;
  ObjectId SubmitActorTask(internal::ActorCall call) override;
  std::vector<ObjectId> SubmitSplitActorTask(internal::ActorCall call) override;
  ObjectId SubmitStreamingActorTask(internal::ActorCall call) override;
  Result<internal::NamedActor> GetNamedActor(const std::string& name,
                                             const std::string& ns) override;
  Status KillActor(const ActorId& actor, bool no_restart) override;
  void ExitActor() override;
  bool WasCurrentActorRestarted() override { return executor_.actor_restarted(); }
  bool ResumeWhenReady(const std::vector<ObjectId>& ids, std::function<void()> resume) override;

  // internal::ClusterRuntime
  Result<std::vector<NodeView>> Nodes() override;
  NodeId CurrentNodeId() override { return context_.options.node_id; }
  Result<bool> KvPut(const std::string& key, const std::string& value, const std::string& ns,
                     bool overwrite) override;
  Result<std::optional<std::string>> KvGet(const std::string& key, const std::string& ns) override;
  Result<bool> KvDelete(const std::string& key, const std::string& ns) override;
  Result<std::vector<std::string>> KvList(const std::string& prefix,
                                          const std::string& ns) override;
  Result<PlacementGroup> CreatePlacementGroup(const std::vector<ResourceSet>& bundles,
                                              PlacementStrategy strategy, const std::string& name,
                                              bool detached) override;
  Status RemovePlacementGroup(const PlacementGroupId& id) override;
  Result<bool> WaitPlacementGroup(const PlacementGroupId& id,
                                  std::chrono::milliseconds timeout) override;
  Result<PlacementGroup> GetPlacementGroup(const std::string& name, const std::string& ns) override;
  // The job's namespace (a worker asks the GCS once).
  Result<std::string> JobNamespace();
  // Every actor the GCS knows (for `rayk list actors`).
  Result<std::vector<protocol::ActorInfo>> ListActors();

  // How many objects this process holds values or entries for (tests and
  // `rayk memory` use it to show that freed objects are gone).
  size_t NumObjects();
  // How many processes borrow object `id`, which this one owns (0 otherwise).
  size_t NumBorrowers(const ObjectId& id);
  // What this process, as an owner, re-ran to get past faults.
  const FaultCounters& faults() const { return context_.faults; }
  // What this process, as an owner, waits for, one line per thing: tasks
  // waiting for arguments, queued, leased out or parked; lease requests and
  // the nodes they went to; actors' calls and what is known of each actor.
  // For a hang's report (the chaos run prints it): what no raylet lists.
  std::string DescribeWaits();

 private:
  CoreWorker(Options options, std::shared_ptr<Transport> transport);
  // Connects to the raylet, the GCS and the node's store, and serves.
  Status Connect();
  // A driver registers its job with the GCS, a worker itself with its raylet.
  Status Register();
  // The worker service (worker_service.cc): requests from other processes,
  // on the server's thread.
  void Handle(std::string message, ReplyFn reply);
  // A streaming call (of a task or an actor method) is being submitted:
  // `submit` records it, calling its argument (with mu held) before the call
  // can be sent, which makes the call's stream with `window`. Returns the
  // stream's end id, whose value wakes Next once the call ends.
  using SubmitFn =
      std::function<std::vector<ObjectId>(const std::function<void(const PendingTask&)>&)>;
  ObjectId SubmitStreaming(uint64_t window, const SubmitFn& submit);
  // Cancels a pending task this process submitted (a task or actor call).
  Status CancelOwnedLocked(const TaskId& task_id, bool force, bool recursive, Actions& actions);
  // The tasks a cancelled task of this worker submitted (recursive Cancel).
  void CancelChildren(const TaskId& parent, bool force);

  WorkerContext context_;
  ReferenceCounter references_;
  TaskManager tasks_;
  GeneratorStreams streams_;
  TaskSubmitter task_submitter_;
  ActorSubmitter actor_submitter_;
  TaskExecutor executor_;
  PushStreams push_streams_{executor_};
  std::string job_namespace_;  // a worker's, once asked of the GCS (with mu)
  PlacementGroupCalls group_calls_{context_};
  std::thread reaper_;              // returns idle leases, acts on actor death notices
  std::unique_ptr<Server> server_;  // last: stops first
};

}  // namespace rayk
