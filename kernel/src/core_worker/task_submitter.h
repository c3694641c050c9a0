// TaskSubmitter: sends this process's tasks (not actor calls) to workers, as
// Ray's NormalTaskSubmitter does.
//
// Tasks with the same resources and placement form a scheduling class, which
// leases workers from raylets (the local one, or the one a spillback names)
// and pushes its ready tasks to them directly. Short tasks are pipelined, up
// to about two milliseconds of them per worker, and those one dispatch gives
// a worker leave in one message (protocol::PushTasks, whose replies come back
// several to a message, push_streams.h); others go one per worker, spread
// over every worker granted.
// A lease idle for kLeaseIdleTime goes back to its raylet. A task whose worker
// dies (the raylet's notice, or its node's death from the GCS) is retried up
// to max_retries, else fails with the cause (a notice may overtake the grant
// of its worker, which is then dropped when it comes and the lease asked for
// again); a class no node can run fails its queued tasks with the raylet's
// reason. A task whose worker could not read
// an argument (its node died) is retried too, once this process has heard of
// that death and is making the argument again (or after kArgumentLossPatience
// without news), so that it does not spin through its retries meanwhile.
//
// Thread-safety: the classes are guarded by WorkerContext::mu; methods without
// a suffix take it and *Locked ones expect it held. Transport replies and
// node-death notices arrive on transport threads; ReturnIdleLeases runs on the
// CoreWorker's reaper thread. Callers: CoreWorker (SubmitTask, leases at
// shutdown), TaskManager's ready callback (TaskReadyLocked), the worker service
// (OnWorkerDied).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "core_worker/task_manager.h"
#include "core_worker/worker_context.h"
#include "gcs/gcs_subscription.h"
#include "rpc/protocol.h"

namespace rayk {

class TaskSubmitter {
 public:
  TaskSubmitter(WorkerContext& context, TaskManager& tasks);

  // Returns the ids of the task's results: one, or call.options.num_returns.
  // `on_added` runs (with mu held) once the task is recorded, before it can
  // be sent: a streaming call's stream is made there.
  std::vector<ObjectId> SubmitTask(internal::TaskCall call,
                                   const std::function<void(const PendingTask&)>& on_added = {});
  // Every argument of `task` is resolved: queue it on its class.
  void TaskReadyLocked(const TaskId& task_id, const PendingTask& task, Actions& actions);
  // rayk::Cancel of a task this process submitted (marked cancelled by
  // the caller): dropped if it has not reached a worker, else its worker is
  // told (which ends it, or marks it, or with `force` exits).
  void CancelLocked(const TaskId& task_id, bool force, bool recursive, Actions& actions);
  // The raylet says a leased worker died: its tasks are retried or fail.
  void OnWorkerDied(const protocol::WorkerDied& died);
  // Gives back leases idle longer than kLeaseIdleTime, sends the tasks held
  // while requests to their workers were out, and kills the workers of runs
  // past their timeout (the reaper's round).
  void ReturnIdleLeases();
  // Keeps the node-death subscription on the GCS wherever it publishes (the
  // reaper's round; cheap unless the GCS went silent).
  void FollowGcs();
  // Gives back every lease and stops watching node deaths (at shutdown,
  // after `stopping` is set).
  void ReturnAllLeases();
  // Each class's queue, leases, tasks in flight and lease requests, and the
  // parked tasks (CoreWorker::DescribeWaits).
  std::string DescribeWaitsLocked() const;

 private:
  struct LeasedWorker {
    uint64_t lease_id = 0;
    WorkerId worker_id;
    std::string address;
    int64_t pid = 0;
    NodeId node_id;
    std::shared_ptr<Channel> channel;
    std::shared_ptr<Channel> raylet;       // the raylet that granted it, to give it back
    std::unordered_set<TaskId> in_flight;  // hashed: a std::set's id compares showed in profiles
    // Its pushes go as PushTasks requests of this stream: the tasks one
    // dispatch gives it leave together, and one request stays out while
    // any of its tasks is unanswered, for their replies.
    uint64_t stream = 0;
    std::vector<protocol::TaskSpec> batch;
    int requests_out = 0;
    std::chrono::steady_clock::time_point idle_since;
    // The raylet granted it for one task ([scheduler] lease_reuse = false):
    // it goes back as soon as that task is done.
    bool single_task = false;
    bool used = false;  // a task was pushed to it
    // Its accelerator devices (LeaseReply): sent with each task.
    std::vector<protocol::AcceleratorIds> accelerators;
  };
  struct SchedulingClass {
    ResourceSet resources;
    internal::Placement placement;
    // Average run time of its tasks (microseconds, moving average; < 0:
    // none seen yet). Short tasks are pipelined to each leased worker.
    double avg_run_us = -1;
    std::deque<TaskId> queue;
    std::map<uint64_t, LeasedWorker> workers;
    int lease_requests = 0;
    // Its tasks have a timeout (time queued must not count) or stream items
    // (a paused producer must not hold up others): never pipelined.
    bool one_at_a_time = false;
  };
  // A run with a timeout, in deadline order: the task, its attempt, its class.
  struct RunDeadline {
    TaskId task_id;
    int attempt = 0;
    std::string class_key;
  };
  // A lease request out at a remote raylet (a spillback sent it there): if
  // that node dies, it is asked again locally.
  struct RemoteLeaseRequest {
    std::string class_key;
    NodeId node;
    uint32_t spillbacks = 0;  // how often raylets forwarded it so far
  };
  // What a lease reply brought, with the channels it needs (connected
  // before mu is taken).
  struct LeaseOutcome {
    std::optional<protocol::LeaseReply> lease;
    bool granted = false;
    uint32_t spillbacks = 0;  // of the request answered
    std::shared_ptr<Channel> raylet;
    std::shared_ptr<Channel> worker;
  };

  // Pushes queued tasks to leased workers and asks for more leases.
  void DispatchLocked(const std::string& class_key, Actions& actions);
  void PushLocked(LeasedWorker& worker, const TaskId& task_id, const protocol::TaskSpec& spec);
  // Sends the worker's batch (none: a request for the replies still due).
  void SendBatchLocked(const std::string& class_key, LeasedWorker& worker, Actions& actions);
  void RequestLeaseLocked(const std::string& class_key, Actions& actions);
  protocol::RequestWorkerLease LeaseRequestLocked(const SchedulingClass& cls);
  // Sends a lease request to a raylet: the local one, or where a spillback points.
  void SendLeaseRequestLocked(const std::string& class_key, protocol::RequestWorkerLease request,
                              const NodeId& node, const std::string& raylet_address,
                              Actions& actions);
  void SendLeaseRequest(const std::string& class_key, uint64_t request_id,
                        const std::string& raylet_address, std::string message);
  void OnLeaseReply(const std::string& class_key, uint64_t request_id,
                    const std::string& raylet_address, Result<std::string> reply);
  void HandleLeaseReplyLocked(const std::string& class_key, const LeaseOutcome& outcome,
                              const std::string& raylet_address, const Result<std::string>& reply,
                              Actions& actions);
  void AddWorkerLocked(const std::string& class_key, const LeaseOutcome& outcome, Actions& actions);
  // No worker for this class: its queued tasks fail with the reason.
  void FailQueueLocked(SchedulingClass& cls, const LeaseOutcome& outcome,
                       const std::string& raylet_address, const Result<std::string>& reply,
                       Actions& actions);
  void PushReturnLocked(const std::shared_ptr<Channel>& raylet, uint64_t lease_id,
                        Actions& actions);
  void OnPushReplies(const std::string& class_key, uint64_t lease_id, const std::string& address,
                     Result<std::string> answer);
  void OnPushReplyLocked(const TaskId& task_id, int attempt, uint64_t lease_id,
                         const std::string& reply, Actions& actions);
  // Node deaths, from the GCS's "node" topic: leases there are gone.
  void WatchNodesLocked(Actions& actions);
  void SubscribeToNodeDeaths();
  void OnNodeDead(const NodeId& node, const std::string& cause);
  // Fails the queue of a class whose lease request cannot be made.
  void FailClassLocked(const std::string& class_key, const std::string& reason, Actions& actions);
  // The worker of `lease_id` is gone: its runs are retried or fail (with
  // kWorkerCrashed, or `kind` when given).
  void LoseWorkerLocked(const std::string& class_key, uint64_t lease_id, const std::string& reason,
                        Actions& actions,
                        internal::ErrorInfo::Kind kind = internal::ErrorInfo::Kind::kWorkerCrashed);
  // Whether the task reads an argument from a node known dead here.
  bool ReadsFromDeadNodeLocked(const PendingTask& task) const;
  // Tasks parked after a lost argument: resolved anew (and run again), or
  // ended if they were cancelled meanwhile.
  void UnparkLocked(const std::vector<TaskId>& task_ids, Actions& actions);
  // Kills the workers of runs past their deadline (SetTimeout).
  void ExpireRunsLocked(std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>>& kills,
                        Actions& actions);

  WorkerContext& context_;
  TaskManager& tasks_;
  std::map<std::string, SchedulingClass> classes_;
  std::multimap<std::chrono::steady_clock::time_point, RunDeadline> run_deadlines_;
  std::map<uint64_t, RemoteLeaseRequest> remote_lease_requests_;
  std::set<uint64_t> abandoned_lease_requests_;
  // Set when this process's own node is declared dead: its raylet is gone,
  // so every lease request fails at once with this reason instead of waiting.
  std::string home_node_dead_;
  std::set<NodeId> dead_nodes_;  // heard of by OnNodeDead
  // Workers whose raylet said they died while no lease of theirs was held
  // here: the notice travels on another connection than the grant and may
  // overtake it. A grant of such a worker is taken as lost when it comes.
  // Each is forgotten after kEarlyDeathMemory.
  std::map<WorkerId, std::chrono::steady_clock::time_point> early_deaths_;
  // Tasks whose worker could not read an argument, until this process hears
  // that the argument's node died (OnNodeDead) or their time is up.
  std::multimap<std::chrono::steady_clock::time_point, TaskId> parked_;
  std::shared_ptr<GcsSubscription> node_subscription_;  // with mu
  bool watching_nodes_ = false;
  uint64_t next_request_id_ = 1;
};

}  // namespace rayk
