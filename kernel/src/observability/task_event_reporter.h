// TaskEventReporter: a worker's record of the tasks it runs, sent to the GCS
// in batches for `rayk list tasks` and `rayk timeline`.
//
// Started() notes a task attempt that began; Finished() moves its final
// event (FINISHED or FAILED, with every time) into a bounded buffer. A thread
// of the reporter's own, started with the first task (so drivers, which run
// no tasks, have none), sends what accumulated every `period` through
// `send`, together with a RUNNING event for each attempt that has run for a
// period without one. So a short task costs one event, not two, and a long
// one shows as RUNNING while it runs.
// When the buffer is full (the GCS unreachable, or tasks faster than the
// period drains them) new events are dropped and counted; the count travels
// with the next batch, so `rayk list tasks` says how much is missing.
// Thread-safe. Stop() (or destruction) sends what is left and joins the
// thread; call it while `send` still works.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "rpc/task_event_messages.h"

namespace rayk::observability {

class TaskEventReporter {
 public:
  using Send = std::function<void(protocol::ReportTaskEvents batch)>;

  TaskEventReporter(size_t capacity, std::chrono::milliseconds period, Send send);
  ~TaskEventReporter() { Stop(); }
  TaskEventReporter(const TaskEventReporter&) = delete;
  TaskEventReporter& operator=(const TaskEventReporter&) = delete;

  void Started(const protocol::TaskEvent& event);
  void Finished(protocol::TaskEvent event);
  void Stop();

  // Microseconds since the Unix epoch, the events' clock.
  static int64_t NowUs();

 private:
  void FlushLoop();
  // Sends what the buffer holds, if anything (with mu_ released).
  void Flush(std::unique_lock<std::mutex>& lock);

  const size_t capacity_;
  const std::chrono::milliseconds period_;
  const Send send_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<protocol::TaskEvent> buffer_;  // guarded by mu_
  struct Running {
    protocol::TaskEvent event;
    bool reported = false;  // its RUNNING event went out
  };
  // Attempts that started and have not finished, by task and attempt.
  std::map<std::pair<TaskId, int32_t>, Running> running_;  // guarded by mu_
  uint64_t dropped_ = 0;                                   // guarded by mu_, since the last batch
  bool stopping_ = false;                                  // guarded by mu_
  std::thread thread_;                                     // started by the first Record
};

}  // namespace rayk::observability
