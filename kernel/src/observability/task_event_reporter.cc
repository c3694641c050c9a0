#include "observability/task_event_reporter.h"

#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

namespace rayk::observability {

TaskEventReporter::TaskEventReporter(size_t capacity, std::chrono::milliseconds period, Send send,
                                     bool enabled)
    : capacity_(capacity), period_(period), send_(std::move(send)), enabled_(enabled) {}

Result<bool> TaskEventsWanted() {
  const char* env = std::getenv("RAYK_TASK_EVENTS");
  if (env == nullptr || *env == '\0') return true;
  const std::string value = env;
  if (value != "0" && value != "1") {
    return Status::InvalidArgument("$RAYK_TASK_EVENTS is '" + value +
                                   "': set it to 1 (record task events, the default) or 0 (`rayk "
                                   "list tasks` and `rayk timeline` then show nothing)");
  }
  return value == "1";
}

int64_t TaskEventReporter::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void TaskEventReporter::Started(const protocol::TaskEvent& event) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  running_.insert_or_assign({event.task_id, event.attempt},
                            Running{event, std::chrono::steady_clock::now(), false});
  if (!thread_.joinable()) thread_ = std::thread([this] { FlushLoop(); });
}

void TaskEventReporter::Finished(protocol::TaskEvent event) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase({event.task_id, event.attempt});
  if (stopping_) return;
  if (buffer_.size() >= capacity_) {
    ++dropped_;
    return;
  }
  buffer_.push_back(std::move(event));
  if (!thread_.joinable()) thread_ = std::thread([this] { FlushLoop(); });
}

bool TaskEventReporter::Forget(const TaskId& task_id, int32_t attempt) {
  if (!enabled_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto noted = running_.find({task_id, attempt});
  if (noted == running_.end()) return false;
  bool reported = noted->second.reported;
  running_.erase(noted);
  return reported;
}

void TaskEventReporter::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  // Woken by Stop, it leaves the last batch to Stop, so that what was noted
  // before Stop goes out as one batch whatever the threads' timing.
  while (!cv_.wait_for(lock, period_, [this] { return stopping_; })) {
    Flush(lock, /*all=*/false);
  }
}

void TaskEventReporter::Flush(std::unique_lock<std::mutex>& lock, bool all) {
  protocol::ReportTaskEvents batch;
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, running] : running_) {
    if (running.reported || (!all && now - running.noted < period_)) continue;
    running.reported = true;
    batch.events.push_back(running.event);
  }
  if (buffer_.empty() && dropped_ == 0 && batch.events.empty()) return;
  batch.events.insert(batch.events.end(), std::make_move_iterator(buffer_.begin()),
                      std::make_move_iterator(buffer_.end()));
  buffer_.clear();
  batch.dropped = dropped_;
  dropped_ = 0;
  lock.unlock();
  send_(std::move(batch));
  lock.lock();
}

void TaskEventReporter::Stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock<std::mutex> lock(mu_);
  Flush(lock, /*all=*/true);  // what arrived after the thread's last batch, every attempt noted
}

std::string_view TaskDisplayName(const protocol::TaskSpec& spec) {
  // Methods are registered as "&Counter::Incr"; events name them as written
  // in calls, unless the caller named the call (SetName).
  std::string_view name = spec.name.empty() ? std::string_view(spec.function) : spec.name;
  if (spec.name.empty() && name.starts_with('&')) name.remove_prefix(1);
  return name;
}

protocol::TaskEvent TaskEventOf(const protocol::TaskSpec& spec, const char* state,
                                const NodeId& node, int64_t pid, int64_t submitted_us,
                                int64_t start_us) {
  return {spec.task_id,
          spec.attempt,
          spec.job_id,
          spec.actor_id,
          std::string(TaskDisplayName(spec)),
          state,
          node,
          pid,
          submitted_us,
          start_us,
          0,
          ""};
}

}  // namespace rayk::observability
