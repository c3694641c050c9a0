#include "observability/task_table.h"

namespace rayk::observability {

namespace {

// Later states rank higher; an event of a lower rank never replaces the state.
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
  for (auto [mine, theirs] :
       {std::pair{&row.submitted_us, event.submitted_us}, std::pair{&row.start_us, event.start_us},
        std::pair{&row.end_us, event.end_us}}) {
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
