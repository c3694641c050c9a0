// TaskExecutor: a worker's side of tasks, as Ray's TaskReceiver and executor
// are: runs the tasks and actor calls pushed to this worker.
//
// Pushed tasks wait in a queue for the task loop, which runs them on the
// thread that called RunTaskLoop(). An actor's calls queue by concurrency
// group (rayk/concurrency_group.h; a task worker has the default group only),
// each group with its own limit: a threaded actor runs each group on as many
// loops (threads) of its own as its limit, the default group's first loop
// being RunTaskLoop's; an async actor runs every group on its one loop. Running a task looks its
// function up in the registry the job's libraries filled, hands it its arguments (inline bytes, or
// pinned pages of this node's object store), and replies with its result: inline, or, when large,
// as its location in this node's store. An actor creation task keeps the actor's instance here for
// its method calls. A worker blocked in Get tells its raylet, which lends the CPU to other work
// meanwhile.
//
// A streaming generator's call (rayk/generator.h) sends its items one by one
// to its owner: a task worker or a plain actor waits for each ack on the
// call's thread; an async actor makes each item in one step of its loop and
// serves other calls while the ack is on its way.
//
// The loop is also an async actor's event loop (rayk/async.h). A call of a
// coroutine method is started like any call and replied when the coroutine
// ends; while it waits for objects (ResumeOnLoop), the loop starts the next
// calls in the queues, in arrival order, as their groups' limits (the default
// group's is max_concurrency) allow, and runs
// the continuations of waiting calls as their objects come in (before new
// calls, in the order they became ready). Nothing spins: the loop sleeps on
// its condition variable between steps.
//
// Thread-safety: Enqueue, ResumeOnLoop's functions and RequestExit may be
// called from any thread (the worker service's, the API's, the transport's);
// the queue has its own mutex (not WorkerContext::mu, which no executor step
// takes). The actor instance is set by the creation task, before any method
// call can be pushed. Callers: the worker service (Enqueue, RequestExit),
// CoreWorker (RunTaskLoop, ExitActor, ResumeOnLoop), ReferenceCounter::Get
// (SetBlocked).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
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
  // rayk::Cancel reached the task here (rayk/cancel.h): one not started is
  // dropped (its reply says cancelled); a running one is marked for
  // IsCancelled(), or with `force` the process exits at once. With
  // `recursive`, `cancel_children` (set by the CoreWorker) cancels what a
  // running one submitted.
  void Cancel(const TaskId& task_id, bool force, bool recursive);
  void SetCancelChildren(std::function<void(const TaskId&, bool force)> cancel_children) {
    cancel_children_ = std::move(cancel_children);
  }
  // Hands the references serialized into a call's results or a generator's
  // items to its caller (ReferenceCounter::HandOverSerializedReferences), and
  // lets go of those serialized for an item that is not sent
  // (DropSerializedReferences); set by the CoreWorker.
  using HandOverFn = std::function<std::vector<protocol::ContainedRef>(const std::string& caller)>;
  void SetHandOverResults(HandOverFn hand_over, std::function<void()> drop) {
    hand_over_ = std::move(hand_over);
    drop_serialized_ = std::move(drop);
  }
  // On a thread running a task or call: its id, and whether it was
  // cancelled (nil and false elsewhere).
  static TaskId CurrentTaskId();
  static bool CurrentTaskCancelled();
  // Runs pushed tasks on this thread until told to exit or the raylet goes away.
  void RunTaskLoop();
  void RequestExit();
  // rayk::ExitActor(): the process ends once the call that asked has replied.
  void ExitActor();
  // For a call suspended in co_await (on the loop's thread, during that call):
  // a function that, called from any thread, queues `resume` to run on the
  // loop as a step of the same call.
  std::function<void()> ResumeOnLoop(std::function<void()> resume);
  // Whether the actor this worker hosts is a restart (its creation task's
  // attempt, which the GCS sets to its restart count).
  bool actor_restarted() const { return actor_restarted_; }
  // A task's Get starts (true) or stops (false) waiting: nested waits count once.
  void SetBlocked(bool blocked);

 private:
  struct Pushed {
    protocol::TaskSpec spec;
    ReplyFn reply;
    int64_t received_us = 0;  // for its task events
    uint64_t arrival = 0;     // orders calls across groups
  };
  // A concurrency group: its calls wait in `queue` in arrival order, and at
  // most `limit` of them run at once.
  struct Group {
    std::string name;  // "default" for the first
    int limit = 1;
    int running = 0;  // started, not yet replied
    std::deque<Pushed> queue;
    std::condition_variable wake;  // where a threaded actor's loops of this group wait
    bool CanStart() const { return !queue.empty() && running < limit; }
  };
  // A task or call from its start to its reply, which for a coroutine
  // method comes after steps of the loop that resumed it.
  struct RunningCall {
    protocol::TaskSpec spec;
    Group* group = nullptr;  // whose place it holds
    ReplyFn reply;
    protocol::TaskEvent event;
    std::string marker;  // its log marker (observability/worker_log.h), taken back if silent
    std::string where;
    std::vector<std::shared_ptr<const ObjectBuffer>> held;  // its arguments, read in place
    bool exit_after = false;                                // it called rayk::ExitActor()
    std::atomic<bool> cancelled{false};                     // rayk::Cancel reached it
  };
  struct Resumption {
    std::shared_ptr<RunningCall> call;
    std::function<void()> resume;
  };

  // Runs calls of `serves` (null: of every group, as the only loop of a task
  // worker or an async actor, or the default group's once the actor is
  // threaded).
  void ExecuteLoop(Group* serves);
  // The group whose next call the loop serving `serves` may start now: for
  // every group, the one whose startable call arrived first. Null if none.
  Group* NextStartLocked(Group* serves);
  // Where the loops that may start `group`'s calls wait.
  std::condition_variable& WakerLocked(Group& group) { return threaded_ ? group.wake : cv_; }
  // The group a pushed call runs in: the caller's choice, else its method's
  // (RAYK_CONCURRENCY_GROUP), else the default. Null for a group the actor
  // does not have.
  Group* GroupOfLocked(const protocol::TaskSpec& spec);
  // Starts a call taken from the queue (and entered in running_).
  void Execute(const std::shared_ptr<RunningCall>& call, int64_t received_us);
  // Sends the call's reply and frees its place.
  void Finish(const std::shared_ptr<RunningCall>& call, protocol::PushTaskReply out);
  // Completes the call's RUNNING event from its reply and hands it to the
  // reporter (only while task events are on).
  void NoteFinished(RunningCall& call, const protocol::PushTaskReply& out);
  // rayk::ExitActor() was called and its call has replied: tell the GCS, end the loops.
  void ExitNow();
  // The actor's name, else its class, asked of the GCS at its creation.
  std::string ActorLabel(const protocol::TaskSpec& creation);
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
  // False (with `out.error` set) unless this worker hosts the call's actor
  // and `function` is a method.
  bool CheckHostsMethod(const internal::RegisteredFunction& function,
                        const protocol::TaskSpec& spec, const std::string& where,
                        protocol::PushTaskReply& out);
  // A coroutine method: replied (Finish) when it ends, now or after resumptions.
  void StartMethod(const internal::RegisteredFunction& function,
                   const std::shared_ptr<RunningCall>& call,
                   const std::vector<std::string_view>& args);
  // Runs a task's function, or a plain method of the actor hosted here, and
  // puts its result into `out`. False when the reply comes later: an async
  // actor's streaming call, which goes on in steps of the loop.
  bool Call(const internal::RegisteredFunction& function, const std::shared_ptr<RunningCall>& call,
            const std::vector<std::string_view>& args, protocol::PushTaskReply& out);

  // A streaming generator's run (rayk/generator.h): each item goes to the
  // call's owner as it is yielded (stored in this node's store when large),
  // and the producer goes on once the owner acknowledges it, until the
  // producer ends, throws, or the owner says stop; the reply's value is then
  // the number of items sent. The owner holds an ack while the caller is
  // behind (backpressure): the item is asked again every kItemAckWait, so
  // that a cancel is seen.
  static constexpr std::chrono::milliseconds kItemAckWait{1000};
  struct ItemStream {
    std::shared_ptr<RunningCall> call;
    internal::InvokeResult result;   // its next_item runs the producer
    std::shared_ptr<Channel> owner;  // the caller, which takes the items
    uint64_t sent = 0;               // items acknowledged so far
    protocol::PushTaskReply out;     // the call's reply, once the stream ends
  };
  // On this thread, waiting for each ack (a task worker, a plain actor).
  void StreamItems(ItemStream& stream);
  // On an async actor's loop: each item is made in one step, and the loop
  // runs other calls while its ack is on its way; Finish replies at the end
  // (in the step where MakeItem finds none, or `go_on` is false).
  void StreamStep(const std::shared_ptr<ItemStream>& stream, bool go_on = true);
  void SendItemAsync(const std::shared_ptr<ItemStream>& stream, protocol::ReportGeneratorItem item);
  // The steps both share. BeginStream: false (with `out.error`) when the
  // call cannot stream. MakeItem: runs the producer to its next item,
  // nothing at its end (with `out.error` when it failed). ItemSent: the
  // owner's answer to `item`; false when the stream ends there. EndStream:
  // destroys the producer (its destructors run on this thread) and sets
  // the reply's value.
  bool BeginStream(ItemStream& stream);
  std::optional<protocol::ReportGeneratorItem> MakeItem(ItemStream& stream);
  bool ItemSent(ItemStream& stream, const protocol::ReportGeneratorItem& item,
                const Result<bool>& stop);
  static void EndStream(ItemStream& stream);
  // What the owner's answer to an item says: stop (true) or go on.
  // kTimedOut when the owner holds the ack and the call is not cancelled:
  // the item is to be asked again.
  static Result<bool> AckOf(const RunningCall& call, const Result<std::string>& reply);
  // Queues `step` to run on the loop as a step of `call`, from any thread.
  void QueueStep(std::shared_ptr<RunningCall> call, std::function<void()> step);
  // The function's result (or error) into the reply.
  void SetResult(internal::InvokeResult result, const protocol::TaskSpec& spec,
                 const std::string& where, protocol::PushTaskReply& out);
  // A large result `value` of object `id` (owned by the caller at `owner`),
  // or the array `raw` when the function left it unencoded, goes into this
  // node's store: then `location` says where, and `value` is cleared; a
  // small `raw` is encoded into `value`. An error when the store is full.
  std::optional<internal::ErrorInfo> StoreLargeResult(const ObjectId& id, const std::string& owner,
                                                      std::string& value,
                                                      internal::StoreLocation& location,
                                                      const internal::UnencodedRaw& raw = {});

  // hand_over_ and drop_serialized_, or without them (no reference table
  // here) the holds are kept for good.
  std::vector<protocol::ContainedRef> HandOverSerialized(const std::string& caller);
  void DropSerialized();

  WorkerContext& context_;
  // " on node <id>, worker pid <pid>": where every call runs, made once
  // (a getpid and an id's hex per call were a visible part of a short call).
  const std::string where_suffix_;

  std::mutex mu_;               // guards the groups, their queues and counts, and exit_requested_
  std::condition_variable cv_;  // where the loop of every group waits (not threaded_)
  // [0] is the default group, whose limit is the actor's max_concurrency (1
  // for a task worker); the actor's named groups follow once it is created.
  std::vector<std::unique_ptr<Group>> groups_;
  uint64_t next_arrival_ = 0;
  // A plain actor: each loop serves one group and waits on its `wake`.
  bool threaded_ = false;
  std::deque<Resumption> resumptions_;  // waiting calls whose objects came in
  std::unordered_map<TaskId, std::shared_ptr<RunningCall>> running_;  // started, not replied
  bool exit_requested_ = false;

  std::atomic<bool> executing_{false};
  std::atomic<int> blocked_depth_{0};
  // The actor this worker hosts, once its creation task ran.
  std::shared_ptr<void> actor_instance_;
  ActorId actor_id_;
  // What the worker's log calls the actor it hosts: its name, else its class
  // (set at its creation, before the factory runs).
  std::string actor_label_;
  std::atomic<bool> exit_after_task_{false};  // ExitActor() outside any call
  std::atomic<bool> exit_now_{false};         // the call that asked has replied
  std::atomic<bool> actor_restarted_{false};
  std::vector<std::thread> extra_executors_;
  std::function<void(const TaskId&, bool)> cancel_children_;
  HandOverFn hand_over_;
  std::function<void()> drop_serialized_;
};

}  // namespace rayk
