// TaskManager: the tasks and actor calls this process submitted and that have
// not finished, as Ray's TaskManager keeps them.
//
// A pending task holds a reference on each of its top-level argument objects
// until it ends. Its arguments are resolved first (an owned value is copied
// into the spec, a borrowed one fetched from its owner, one in an object store
// passed by location); once all are, the task is handed to its submitter
// (TaskSubmitter for tasks, ActorSubmitter for actor calls) through the ready
// callback. A failed argument fails the task without running it, as in Ray.
// Completing a task sets its result's value and drops its argument references.
//
// Lineage (Ray's lineage reconstruction): a finished task whose result sits
// in a node's object store and that has retries left is kept, with its
// argument references, for as long as its result is referenced (at most
// CoreWorkerOptions::max_lineage_tasks of them). When that node dies (the
// owner hears of it, or cannot read the object there), the result is made
// again by running the task once more, as a retry: its arguments are resolved
// anew, so one lost with the same node is made again first. Results of Put,
// of actor calls and of tasks without retries left cannot be made again; the
// error of such an object says which (ReferenceCounter::LineageText).
//
// Thread-safety: guarded by WorkerContext::mu; every method but AssignIds
// expects it held (*Locked). Callers: the two submitters, which own retries
// and decide when a task ends.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core_worker/reference_counter.h"
#include "core_worker/worker_context.h"
#include "rpc/protocol.h"

namespace rayk {

struct PendingTask {
  protocol::TaskSpec spec;
  std::vector<ObjectId> arg_refs;  // refs in the arguments, held until the task ends
  size_t unresolved = 0;
  std::string class_key;  // tasks: resources and placement, which share leases
  internal::Placement placement;
  internal::RetryExceptions retry_exceptions;  // which throws are retried (owner only)
  std::chrono::milliseconds timeout{0};        // > 0: a run longer than this is killed
  // The task of this process that was running when this one was submitted
  // (nil for a driver's): a recursive Cancel of it cancels this one too.
  TaskId parent;
  // rayk::Cancel reached it before it ended: it ends as TaskCancelledError,
  // whatever its worker replies, and is never retried.
  bool cancelled = false;
};

// The value of a cancelled task's result; `how` says how it was stopped.
internal::ObjectValue CancelledValue(const PendingTask& task, const std::string& how);
// Tells the worker running `task` (over `worker`) that it is cancelled.
void SendCancelToWorker(const std::shared_ptr<Channel>& worker, const PendingTask& task, bool force,
                        bool recursive, Actions& actions);
// A new stream of batched pushes from this process (protocol::PushTasks,
// push_streams.h): a worker tells one caller's streams apart by it.
uint64_t NewPushStream();
// The task replies in a PushTasks answer, each with its task and attempt
// (nothing for a failed call; a malformed answer is logged).
std::vector<protocol::PushedTaskReply> PushedReplies(Result<std::string> answer,
                                                     const std::string& worker);

class TaskManager {
 public:
  // Every argument of the task is resolved: the submitter may send it.
  using ReadyFn = std::function<void(const TaskId&, const PendingTask&, Actions&)>;

  TaskManager(WorkerContext& context, ReferenceCounter& references, ReadyFn on_ready);

  // Gives a new task its ids (its result's, or with spec.num_returns > 0,
  // that many results'), this process as its owner and, in a worker, the
  // task running on the calling thread as its parent (no lock needed).
  void AssignIds(PendingTask& task) const;
  // How AssignIds learns the calling thread's running task (the executor's).
  void SetCurrentTaskFn(TaskId (*current_task)()) { current_task_ = current_task; }
  // Records the task, its result objects and its argument references. The
  // caller then queues it with its submitter and calls ResolveArgsLocked.
  PendingTask& AddLocked(PendingTask task);
  void ResolveArgsLocked(const TaskId& task_id, Actions& actions);
  // Null once the task has ended.
  PendingTask* FindLocked(const TaskId& task_id);
  // The pending task whose result (any of them) is `return_id`; nil when
  // none is (it ended, or the object was Put).
  TaskId TaskMakingLocked(const ObjectId& return_id) const;
  // The pending tasks submitted while `parent` ran here.
  std::vector<TaskId> ChildrenLocked(const TaskId& parent) const;
  // Ends the task: its result gets `value` (each of its results, when it has
  // several: `value` is then an error), its argument references go.
  void CompleteLocked(const TaskId& task_id, internal::ObjectValue value, Actions& actions);
  // Ends the task with its worker's reply to a push: each result gets its
  // value, or all of them the error.
  void CompleteWithReplyLocked(const TaskId& task_id, Result<protocol::PushTaskReply>& body,
                               Actions& actions);
  // Resolves the task's reference arguments anew and hands it to its
  // submitter again once each has a value: one lost with its node (its worker
  // could not read it) waits for the value being made again.
  void ResolveArgsAgainLocked(const TaskId& task_id, Actions& actions);
  // Makes again the kept results that were in node `node`'s store and that
  // something needs (a reference here, a borrower, a task still to run);
  // true when there was one. Those only kept tasks need are left, to be made
  // again when such a task runs again (lazily, as in Ray). With `node_dead`
  // (the GCS said so; not a failed read), later reads of it rebuild too.
  bool RebuildObjectsOnNodeLocked(const NodeId& node, bool node_dead, Actions& actions);
  size_t NumLineageLocked() const { return lineage_.size(); }
  // The tasks still waiting for arguments, each with what it waits for
  // (CoreWorker::DescribeWaits).
  std::string DescribeWaitsLocked();
  ReferenceCounter& references() { return references_; }
  // The references a worker serialized into a task's results
  // (PushTaskReply::contained): held by each result still held when
  // `results_kept`, else let go of at once.
  void AdoptContainedLocked(const protocol::TaskSpec& spec,
                            const std::vector<protocol::ContainedRef>& contained, bool results_kept,
                            Actions& actions);
  // The value for the reply to a push of a task cancelled meanwhile: the
  // worker's own cancellation error, or, when it ran to its end, a
  // cancellation error in place of its result (a stored one is freed with
  // the reference, as are the other results of a split call).
  internal::ObjectValue CancelledReplyValueLocked(const PendingTask& task,
                                                  Result<protocol::PushTaskReply>& body,
                                                  Actions& actions);

 private:
  void ResolveArgLocked(const TaskId& task_id, size_t arg_index, Actions& actions);
  // Notes the task as waiting (`state`) in the process's task events, until
  // it reaches a worker (the submitters call Forget) or ends.
  void NotePendingLocked(const protocol::TaskSpec& spec, const char* state);
  // Ends the task: its results get `values` (one per result, in order).
  void CompleteEachLocked(const TaskId& task_id, std::vector<internal::ObjectValue> values,
                          Actions& actions);
  // The value a result of a worker's reply stands for.
  internal::ObjectValue ResultValueLocked(const ObjectId& id, std::string& value,
                                          const internal::StoreLocation& location,
                                          Actions& actions);
  // Runs the kept task of `id` (lost with `node`) again; its value is unset
  // until then.
  void RebuildLocked(const ObjectId& id, NodeId node, Actions& actions);
  // Keeps a finished task whose result is in a store, when it can be re-run;
  // true when kept (it then holds the argument references).
  bool KeepLineageLocked(PendingTask& task);
  // The result of a kept task was freed: the task and its argument
  // references go (iteratively: freeing them may free more).
  void ForgetLineageLocked(const ObjectId& return_id, Actions& actions);

  WorkerContext& context_;
  ReferenceCounter& references_;
  const ReadyFn on_ready_;
  TaskId (*current_task_)() = nullptr;
  std::unordered_map<TaskId, PendingTask> tasks_;
  std::unordered_map<ObjectId, TaskId> by_return_;     // of tasks_
  std::unordered_map<ObjectId, PendingTask> lineage_;  // by result
  std::set<NodeId> dead_nodes_;                        // the GCS declared them dead
  std::vector<ObjectId> forget_queue_;
  bool forgetting_ = false;
};

}  // namespace rayk
