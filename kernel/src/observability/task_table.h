// TaskTable: the GCS's bounded table of task attempts, built from the
// events workers report (task_event_reporter.h), for `rayk list tasks` and
// `rayk timeline`.
//
// An attempt's events merge into one row: the latest state wins (a late
// RUNNING never undoes FINISHED) and every time reported is kept. Past
// `capacity` rows the oldest rows are evicted and counted. The table lives
// in memory only: a restarted GCS starts empty, as Ray's task events do.
// Not synchronized; the GCS holds its lock around it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "rpc/task_event_messages.h"

namespace rayk::observability {

// How many task attempts the table holds, by state and by name and state:
// the dashboard's task summary, counted in the GCS, and `rayk summary
// tasks`, counted by the CLI over the attempts ListTasks returns.
struct TaskSummary {
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_state;
  std::map<std::string, std::map<std::string, uint64_t>> by_name;  // name -> state -> count
  uint64_t dropped_by_workers = 0;
  uint64_t dropped_by_gcs = 0;

  // Counts one attempt. Inline, so that the CLI counts as the GCS does
  // without librayk exporting it.
  void Count(const protocol::TaskEvent& attempt) {
    ++total;
    ++by_state[attempt.state];
    ++by_name[attempt.name][attempt.state];
  }
};

class TaskTable {
 public:
  explicit TaskTable(size_t capacity) : capacity_(capacity) {}

  void Add(const protocol::ReportTaskEvents& batch);
  // The rows of job `job_id` (nil: all), oldest first, with the drop counts.
  protocol::TaskList List(const JobId& job_id) const;
  // Counts over every row, without copying them.
  TaskSummary Summarize() const;

 private:
  using Key = std::pair<TaskId, int32_t>;  // task, attempt
  void Merge(const protocol::TaskEvent& event);

  const size_t capacity_;
  std::map<Key, protocol::TaskEvent> rows_;
  std::deque<Key> order_;  // insertion order, for eviction and listing
  uint64_t dropped_by_workers_ = 0;
  uint64_t dropped_by_gcs_ = 0;
};

}  // namespace rayk::observability
