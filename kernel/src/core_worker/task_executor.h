// TaskExecutor: a worker's side of tasks, as Ray's TaskReceiver and executor
// are: runs the tasks and actor calls pushed to this worker.
//
// Pushed tasks wait in a queue for the task loop, which runs them one at a
// time on the thread that called RunTaskLoop() (a threaded actor adds
// max_concurrency - 1 more loops on the same queue). Running a task looks its
// function up in the registry the job's libraries filled, hands it its
// arguments (inline bytes, or pinned pages of this node's object store),
// and replies with its result: inline, or, when large, as its location in
// this node's store. An actor creation task keeps the actor's instance here
// for its method calls. A worker blocked in Get tells its raylet, which lends
// the CPU to other work meanwhile.
//
// Thread-safety: Enqueue and RequestExit may be called from any thread (the
// worker service's, the API's); the queue has its own mutex (not
// WorkerContext::mu, which no executor step takes). The actor instance is set
// by the creation task, before any method call can be pushed. Callers: the
// worker service (Enqueue, RequestExit), CoreWorker (RunTaskLoop, ExitActor),
// ReferenceCounter::Get (SetBlocked).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core_worker/worker_context.h"
#include "observability/task_event_reporter.h"
#include "rayk/internal/function_registry.h"
#include "rpc/protocol.h"

namespace rayk {

class TaskExecutor {
 public:
  explicit TaskExecutor(WorkerContext& context);

  // A task pushed to this worker; `reply` gets its PushTaskReply.
  void Enqueue(protocol::TaskSpec spec, ReplyFn reply);
  // Runs pushed tasks on this thread until told to exit or the raylet goes away.
  void RunTaskLoop();
  void RequestExit();
  // rayk::ExitActor(): the process ends once the current call has replied.
  void ExitActor() { exit_after_task_ = true; }
  // Whether the actor this worker hosts is a restart (its creation task's
  // attempt, which the GCS sets to its restart count).
  bool actor_restarted() const { return actor_restarted_; }
  // A task's Get starts (true) or stops (false) waiting: nested waits count once.
  void SetBlocked(bool blocked);
  // Sends the last task events to the GCS; before the GCS client goes.
  void StopTaskEvents() { task_events_.Stop(); }

 private:
  void ExecuteLoop();
  void Execute(protocol::TaskSpec spec, ReplyFn reply, int64_t received_us);
  // A task event (task_event_reporter.h) of `spec` in `state`.
  protocol::TaskEvent MakeEvent(const protocol::TaskSpec& spec, const char* state,
                                int64_t received_us, int64_t start_us);
  // The task's arguments as views; store-resident ones are pinned in `held`.
  // False (with `out.error` set) if one is lost.
  bool ReadArgs(const protocol::TaskSpec& spec, const std::string& where,
                std::vector<std::string_view>& args,
                std::vector<std::shared_ptr<const ObjectBuffer>>& held,
                protocol::PushTaskReply& out);
  void CreateActor(const internal::RegisteredFunction& function, const protocol::TaskSpec& spec,
                   const std::vector<std::string_view>& args, const std::string& where,
                   protocol::PushTaskReply& out);
  void CallMethod(const internal::RegisteredFunction& function, const protocol::TaskSpec& spec,
                  const std::vector<std::string_view>& args, const std::string& where,
                  protocol::PushTaskReply& out);
  void CallFunction(const internal::RegisteredFunction& function, const protocol::TaskSpec& spec,
                    const std::vector<std::string_view>& args, const std::string& where,
                    protocol::PushTaskReply& out);
  // The function's result (or error) into the reply.
  void SetResult(internal::InvokeResult result, const protocol::TaskSpec& spec,
                 const std::string& where, protocol::PushTaskReply& out);
  // A large result goes into this node's store; the reply carries its location.
  void StoreLargeResult(const ObjectId& return_id, protocol::PushTaskReply& out);

  WorkerContext& context_;

  std::mutex mu_;  // guards the queue and exit_requested_
  std::condition_variable cv_;
  struct Pushed {
    protocol::TaskSpec spec;
    ReplyFn reply;
    int64_t received_us = 0;  // for its task events
  };
  std::deque<Pushed> queue_;
  bool exit_requested_ = false;

  std::atomic<bool> executing_{false};
  std::atomic<int> blocked_depth_{0};
  // The actor this worker hosts, once its creation task ran.
  std::shared_ptr<void> actor_instance_;
  ActorId actor_id_;
  std::atomic<bool> exit_after_task_{false};
  std::atomic<bool> actor_restarted_{false};
  std::vector<std::thread> extra_executors_;
  observability::TaskEventReporter task_events_;
};

}  // namespace rayk
