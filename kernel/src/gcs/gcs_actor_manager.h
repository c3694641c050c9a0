// GcsActorManager: the GCS's actor directory and the actors' lifecycle.
//
// Creating an actor: the GCS picks a node through the scheduler plugin (on
// its view of the cluster from the raylets' reports), leases a worker from
// that node's raylet as the lease's owner, and pushes the creation task (the
// actor's factory) to the worker. States: PENDING -> ALIVE -> (RESTARTING ->
// ALIVE)* -> DEAD. When the worker dies, the raylet tells the GCS; the actor
// is re-created through its factory while max_restarts allows, else DEAD
// with the cause. A lease request to a node that dies before answering is
// made again (elsewhere), and a grant of a worker whose death notice came
// first is dropped and asked for again. Callers learn of changes by
// long-polling GetActor; a poll is answered within kLongPollLimit even
// without a change, so that a caller whose GCS restarted finds out by asking
// again.
// Every record is written to the actors table on each change; Load() brings
// them back in a restarted GCS and resumes creations that were under way.
// Thread-safe: one mutex; transport calls happen outside it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gcs/channel_cache.h"
#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {

class GcsActorManager {
 public:
  using ViewFn = std::function<ClusterView()>;
  GcsActorManager(std::shared_ptr<Transport> transport, std::shared_ptr<Scheduler> scheduler,
                  std::shared_ptr<GcsStore> store, ViewFn view);
  ~GcsActorManager();

  static constexpr std::chrono::milliseconds kLongPollLimit{2000};

  // Reloads the actors a durable store kept. Call before Start().
  Status Load();
  // The GCS's own endpoint: the owner of the leases it takes for actors.
  void Start(const std::string& own_address);

  void HandleRegister(protocol::RegisterActor request, ReplyFn reply);
  void HandleGet(protocol::GetActor request, ReplyFn reply);
  void HandleKill(protocol::KillActor request, ReplyFn reply);
  void HandleList(ReplyFn reply);
  void HandleWorkerDied(const protocol::WorkerDied& died);
  void HandleJobFinished(const JobId& job_id);
  // The health check declared a node dead: its actors lost their processes.
  void HandleNodeDead(const NodeId& node_id);
  // The placement group was removed: its actors end, for good.
  void HandlePlacementGroupRemoved(const PlacementGroupId& group);

 private:
  struct Record {
    protocol::ActorSpec spec;
    protocol::ActorInfo info;
    bool needs_scheduling = false;
    bool scheduling = false;  // a lease or creation is in flight
    bool killed = false;      // no restart: killed with no_restart, ExitActor, or its job ended
    std::string kill_cause;
    WorkerId worker_id;
    uint64_t lease_id = 0;
    std::string raylet_address;
    // The lease request in flight (0: none) and the node it went to: if that
    // node dies, its raylet never answers, and the actor is placed again.
    uint64_t lease_request = 0;
    NodeId lease_node;
  };
  struct Waiter {
    protocol::GetActor request;
    ReplyFn reply;
    std::chrono::steady_clock::time_point since;
  };
  using Actions = GcsActions;

  void ScheduleLoop();
  void ScheduleLocked(Record& record, Actions& actions);
  void OnLease(const ActorId& id, uint64_t request_id, const std::string& raylet,
               Result<std::string> reply);
  void OnCreated(const ActorId& id, uint64_t epoch, Result<std::string> reply);
  // Gives a lease back to `raylet`, which ends its worker.
  void ReturnLeaseLocked(const std::string& raylet, uint64_t lease_id, Actions& actions);
  // Records a state change: bumps the epoch, persists, answers waiters.
  void SetStateLocked(Record& record, protocol::ActorState state, Actions& actions);
  void PersistLocked(const Record& record);
  // Answers polls that waited kLongPollLimit with the actor's current state.
  void ExpireWaitersLocked(Actions& actions);
  void DieLocked(Record& record, const std::string& cause, Actions& actions);
  void KillLocked(Record& record, bool no_restart, const std::string& cause, Actions& actions);
  // The actor's process is gone (died, or killed): restart it or declare it dead.
  void ProcessGoneLocked(Record& record, const std::string& reason, Actions& actions);
  bool Settles(const Waiter& waiter, const protocol::ActorInfo& info) const;
  std::shared_ptr<Channel> ChannelTo(const std::string& address) { return channels_.To(address); }
  static void Run(Actions& actions) { RunActions(actions); }

  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Scheduler> scheduler_;
  std::shared_ptr<GcsStore> store_;
  ViewFn view_;
  std::string own_address_;

  std::mutex mu_;
  std::map<ActorId, Record> actors_;
  // Named actors that are not dead, by (namespace, name).
  std::map<std::pair<std::string, std::string>, ActorId> names_;
  std::map<ActorId, std::vector<Waiter>> waiters_;
  // Workers whose death notice matched no actor: the notice travels on
  // another connection than the grant and may overtake it, so a grant of
  // such a worker is taken as lost when it comes. Forgotten after a minute.
  std::map<WorkerId, std::chrono::steady_clock::time_point> early_deaths_;
  ChannelCache channels_;
  uint64_t next_request_id_ = 1;

  std::atomic<bool> stopping_{false};
  std::thread scheduler_thread_;
};

}  // namespace rayk
