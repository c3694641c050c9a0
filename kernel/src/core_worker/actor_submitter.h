// ActorSubmitter: the caller's side of actors, as Ray's ActorTaskSubmitter
// and actor manager are: creating, naming and killing actors through the GCS,
// and sending calls to them.
//
// Calls to one actor leave in submission order, whatever order their
// arguments resolve in, over one channel to the actor's process, pipelined,
// several to a message when they come in a burst (protocol::PushTasks; the
// actor answers each as soon as it can, push_streams.h).
// The caller learns where an actor lives by asking the GCS (a GetActor that
// waits until the actor is settled), then watches it (a GetActor that waits
// for the next change of that incarnation). When the actor dies or restarts,
// the calls it was running are retried in order while max_task_retries
// allows, else fail with the cause; a death notice is held for
// kDeathNoticeGrace first, as the actor's last replies travel on another
// connection and may still be on their way.
//
// An actor's creation arguments are kept by the GCS, which runs the factory
// with them again on each restart: the references inside them (and top-level
// ones) are held by the creating process until the actor dies for good, which
// it watches for from the creation on (the actor's process, decoding them,
// registers as their borrower as any decoder does).
//
// Thread-safety: the callers' actor table is guarded by WorkerContext::mu;
// methods without a suffix take it and *Locked ones expect it held. Sends to
// one actor are serialized by that actor's send lock, the only lock held
// across a transport call (to keep two threads' batches from interleaving on
// the wire; no callback takes it). GCS replies arrive on transport threads;
// HandleDeferredActorInfos and FlushHeldCalls run on the CoreWorker's reaper
// thread. Callers: CoreWorker (the user API's ActorRuntime), TaskManager's
// ready callback (SendActorTasksLocked).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core_worker/reference_counter.h"
#include "core_worker/task_manager.h"
#include "core_worker/worker_context.h"
#include "rpc/protocol.h"

namespace rayk {

class ActorSubmitter {
 public:
  ActorSubmitter(WorkerContext& context, ReferenceCounter& references, TaskManager& tasks);

  // A named actor's name lives in creation.options.namespace_name, which
  // the caller sets (the job's when the user gave none).
  Result<ActorId> CreateActor(internal::ActorCreation creation);
  // Returns the ids of the call's results: one, or call.num_returns when it
  // is above 0 (the result split, SetNumReturns). `on_added` runs (with mu
  // held) once the call is recorded, before it can be sent: a streaming
  // call's stream is made there, as for a task (TaskSubmitter::SubmitTask).
  std::vector<ObjectId> SubmitActorTask(
      internal::ActorCall call, const std::function<void(const PendingTask&)>& on_added = {});
  Result<internal::NamedActor> GetNamedActor(const std::string& name, const std::string& ns);
  // The actor's named groups, for the check of its calls' groups.
  void RememberConcurrencyGroups(const ActorId& actor, const std::map<std::string, int>& groups);
  Status KillActor(const ActorId& actor, bool no_restart);
  Result<std::vector<protocol::ActorInfo>> ListActors();

  // Sends the actor's calls whose arguments are ready, in order (or fails
  // them if it is dead, or first finds out where it is).
  void SendActorTasksLocked(const ActorId& actor, Actions& actions);
  // rayk::Cancel of an actor call this process submitted: dropped if not
  // yet sent, else the actor's worker is told (it drops the call if it has
  // not started, else marks it for rayk::IsCancelled).
  void CancelLocked(const TaskId& task_id, bool recursive, Actions& actions);
  // Acts on the death notices whose grace is over (the reaper's round).
  void HandleDeferredActorInfos();
  // Each actor with calls queued or in flight: what is known of it
  // (CoreWorker::DescribeWaits).
  std::string DescribeWaitsLocked() const;
  // Sends the calls held while requests to their actors were out (the
  // reaper's round).
  void FlushHeldCalls();

 private:
  // What a caller knows of one actor it calls.
  struct ActorClient {
    enum class State { kUnknown, kResolving, kAlive, kDead };
    State state = State::kUnknown;
    uint64_t epoch = 0;
    int max_task_retries = 0;
    std::string death_cause;
    std::string warned_pending;  // the GCS's pending reason the owner last warned of
    // Its named concurrency groups, when this process created it or got it
    // by name: a call naming another group fails at submission.
    std::optional<std::vector<std::string>> concurrency_groups;
    std::shared_ptr<Channel> channel;
    std::deque<TaskId> queue;      // submitted, not yet sent, in submission order
    std::deque<TaskId> in_flight;  // sent, in submission order
    // Pushes wait here (under mu) and leave in this order, together, as one
    // PushTasks request of `stream` (a new one per incarnation): whoever
    // flushes holds send_mu, so two threads' batches cannot interleave on
    // the wire. One request stays out while a call in flight is unanswered.
    std::vector<protocol::TaskSpec> outbox;
    std::shared_ptr<std::mutex> send_mu = std::make_shared<std::mutex>();
    uint64_t stream = 0;
    int requests_out = 0;  // of `stream`
    // Created here: the references in its creation arguments, each holding
    // one task reference until it dies for good (its restarts decode them).
    std::vector<ObjectId> creation_refs;
  };
  struct DeferredActorInfo {
    std::chrono::steady_clock::time_point due;
    ActorId actor;
    std::string reply;
  };

  Result<protocol::ActorInfo> QueryActor(const protocol::GetActor& request);
  // CreateActor's registration with the GCS (the arguments' holds taken).
  Result<ActorId> RegisterActor(internal::ActorCreation creation);
  // The actor died for good: the references in its creation arguments go.
  void ReleaseCreationRefsLocked(ActorClient& client, Actions& actions);
  void FlushActorOutbox(const ActorId& actor);
  void OnActorReplies(const ActorId& actor, uint64_t stream, Result<std::string> answer);
  void OnActorReplyLocked(const ActorId& actor, const TaskId& task_id, int attempt,
                          const std::string& reply, Actions& actions);

  // Where the actor is: asks the GCS, which answers once it is settled.
  void ResolveActorLocked(const ActorId& actor, Actions& actions);
  void OnResolveReply(const ActorId& actor, Result<std::string> reply);
  // Watches the actor's incarnation `epoch` for its next change.
  void WatchActorLocked(const ActorId& actor, uint64_t epoch, Actions& actions);
  void OnWatchReply(const ActorId& actor, Result<std::string> reply);
  // A watch's answer, once the grace for replies in flight is over.
  void OnActorChanged(const ActorId& actor, Result<std::string> reply);
  // The GCS did not answer, or does not know the actor: it is dead to us.
  void MarkUnreachableLocked(const ActorId& actor, ActorClient& client,
                             const std::optional<protocol::ActorInfo>& info,
                             const Result<std::string>& reply, Actions& actions);
  // Calls the dead process was running: retried (in order) while
  // max_task_retries allows, else failed with `why`.
  void FailInFlightLocked(ActorClient& client, const std::string& why, Actions& actions);

  WorkerContext& context_;
  ReferenceCounter& references_;
  TaskManager& tasks_;
  std::unordered_map<ActorId, ActorClient> clients_;
  std::vector<DeferredActorInfo> deferred_infos_;
};

}  // namespace rayk
