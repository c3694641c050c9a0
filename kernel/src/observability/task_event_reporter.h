// TaskEventReporter: a process's record of the tasks it runs and of those
// it submitted that have not reached a worker yet, sent to the GCS in
// batches for `rayk list tasks` and `rayk timeline`. One per process
// (WorkerContext::task_events).
//
// Started() notes an attempt in progress: a worker's RUNNING task, or an
// owner's task still waiting for its arguments (PENDING_ARGS_AVAIL) or for a
// worker (PENDING_NODE_ASSIGNMENT). Finished() moves a run's final event
// (FINISHED or FAILED, with every time) into a bounded buffer; Forget()
// drops an owner's pending attempt once it reached a worker, which reports
// it from then on. A thread of the reporter's own, started with the first
// attempt, sends what accumulated every `period` through `send`, together
// with the event of each attempt noted a period ago or more, once. So a short
// task costs one event, not two or three, and a long one shows as RUNNING
// while it runs, an unschedulable one as pending while it waits.
// When the buffer is full (the GCS unreachable, or tasks faster than the
// period drains them) new events are dropped and counted; the count travels
// with the next batch, so `rayk list tasks` says how much is missing.
// Thread-safe. Stop() (or destruction) sends what is left and joins the
// thread; call it while `send` still works.
//
// A reporter made with `enabled` false (RAYK_TASK_EVENTS=0, TaskEventsWanted)
// records nothing and starts no thread; callers test enabled() before they
// build an event, so a task then costs nothing here.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "rayk/status.h"
#include "rpc/task_event_messages.h"
#include "rpc/worker_messages.h"

namespace rayk::observability {

class TaskEventReporter {
 public:
  using Send = std::function<void(protocol::ReportTaskEvents batch)>;

  TaskEventReporter(size_t capacity, std::chrono::milliseconds period, Send send,
                    bool enabled = true);
  ~TaskEventReporter() { Stop(); }
  TaskEventReporter(const TaskEventReporter&) = delete;
  TaskEventReporter& operator=(const TaskEventReporter&) = delete;

  bool enabled() const { return enabled_; }
  void Started(const protocol::TaskEvent& event);
  void Finished(protocol::TaskEvent event);
  // True when the attempt was noted and its event went out already.
  bool Forget(const TaskId& task_id, int32_t attempt);
  void Stop();

  // Microseconds since the Unix epoch, the events' clock.
  static int64_t NowUs();

 private:
  void FlushLoop();
  // Sends what the buffer holds and the events of the attempts noted a
  // period ago (`all`: of every attempt noted), if any (with mu_ released).
  void Flush(std::unique_lock<std::mutex>& lock, bool all);

  const size_t capacity_;
  const std::chrono::milliseconds period_;
  const Send send_;
  const bool enabled_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<protocol::TaskEvent> buffer_;  // guarded by mu_
  struct Running {
    protocol::TaskEvent event;
    std::chrono::steady_clock::time_point noted;  // by Started
    bool reported = false;                        // its event went out
  };
  // Attempts that started and have not finished, by task and attempt.
  std::map<std::pair<TaskId, int32_t>, Running> running_;  // guarded by mu_
  uint64_t dropped_ = 0;                                   // guarded by mu_, since the last batch
  bool stopping_ = false;                                  // guarded by mu_
  std::thread thread_;                                     // started by the first Record
};

// Whether this process records task events: $RAYK_TASK_EVENTS, "1" (also
// when unset or empty) or "0"; anything else is an error naming the variable.
Result<bool> TaskEventsWanted();

// The name of `spec`'s call as events and log prefixes show it
// ("Counter::Incr", or the name SetName gave the call); points into `spec`.
std::string_view TaskDisplayName(const protocol::TaskSpec& spec);

// The event of `spec` in `state`, seen by process `pid` of node `node`, named
// as calls write it ("Counter::Incr", or the name SetName gave the call).
protocol::TaskEvent TaskEventOf(const protocol::TaskSpec& spec, const char* state,
                                const NodeId& node, int64_t pid, int64_t submitted_us,
                                int64_t start_us);

}  // namespace rayk::observability
