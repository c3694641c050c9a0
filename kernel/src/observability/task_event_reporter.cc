#include "observability/task_event_reporter.h"

namespace rayk::observability {

TaskEventReporter::TaskEventReporter(size_t capacity, std::chrono::milliseconds period, Send send)
    : capacity_(capacity), period_(period), send_(std::move(send)) {}

int64_t TaskEventReporter::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void TaskEventReporter::Record(protocol::TaskEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  if (buffer_.size() >= capacity_) {
    ++dropped_;
    return;
  }
  buffer_.push_back(std::move(event));
  if (!thread_.joinable()) thread_ = std::thread([this] { FlushLoop(); });
}

void TaskEventReporter::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period_, [this] { return stopping_; });
    Flush(lock);
  }
}

void TaskEventReporter::Flush(std::unique_lock<std::mutex>& lock) {
  if (buffer_.empty() && dropped_ == 0) return;
  protocol::ReportTaskEvents batch;
  batch.events.swap(buffer_);
  batch.dropped = dropped_;
  dropped_ = 0;
  buffer_.reserve(std::min<size_t>(capacity_, batch.events.size()));
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
  Flush(lock);  // what arrived after the thread's last batch
}

}  // namespace rayk::observability
