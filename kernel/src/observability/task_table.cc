#include "observability/task_table.h"

namespace rayk::observability {

namespace {

// Later states rank higher; an event of a lower rank never replaces the
// state. An owner's pending states (PENDING_ARGS_AVAIL, then
// PENDING_NODE_ASSIGNMENT) rank lowest: its worker's events win whatever
// order they arrive in.
int Rank(const std::string& state) {
  if (state == "FINISHED" || state == "FAILED") return 2;
  if (state == "RUNNING") return 1;
  return 0;
}

}  // namespace

void TaskTable::Add(const protocol::ReportTaskEvents& batch) {
  dropped_by_workers_ += batch.dropped;
  for (const auto& event : batch.events) Merge(event);
}

void TaskTable::Merge(const protocol::TaskEvent& event) {
  Key key{event.task_id, event.attempt};
  auto [it, inserted] = rows_.try_emplace(key, event);
  if (inserted) {
    order_.push_back(key);
    while (rows_.size() > capacity_) {
      rows_.erase(order_.front());
      order_.pop_front();
      ++dropped_by_gcs_;
    }
    return;
  }
  protocol::TaskEvent& row = it->second;
  if (Rank(event.state) >= Rank(row.state)) {
    row.state = event.state;
    row.error = event.error;
  }
  // The owner's events know no worker; the worker's do.
  if (!event.node_id.IsNil()) row.node_id = event.node_id;
  if (event.worker_pid != 0) row.worker_pid = event.worker_pid;
  // Submitted: the owner's time when it reported one, the earliest.
  if (event.submitted_us != 0 && (row.submitted_us == 0 || event.submitted_us < row.submitted_us))
    row.submitted_us = event.submitted_us;
  for (auto [mine, theirs] :
       {std::pair{&row.start_us, event.start_us}, std::pair{&row.end_us, event.end_us}}) {
    if (theirs != 0) *mine = theirs;
  }
}

protocol::TaskList TaskTable::List(const JobId& job_id) const {
  protocol::TaskList list;
  list.dropped_by_workers = dropped_by_workers_;
  list.dropped_by_gcs = dropped_by_gcs_;
  for (const Key& key : order_) {
    const protocol::TaskEvent& row = rows_.at(key);
    if (job_id.IsNil() || row.job_id == job_id) list.tasks.push_back(row);
  }
  return list;
}

TaskSummary TaskTable::Summarize() const {
  TaskSummary summary;
  summary.dropped_by_workers = dropped_by_workers_;
  summary.dropped_by_gcs = dropped_by_gcs_;
  for (const auto& [key, row] : rows_) summary.Count(row);
  return summary;
}

}  // namespace rayk::observability
