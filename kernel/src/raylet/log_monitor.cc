#include "raylet/log_monitor.h"

#include "rpc/protocol.h"

namespace rayk {

LogMonitor::LogMonitor(ListWorkers list_workers, Send send)
    : list_workers_(std::move(list_workers)), send_(std::move(send)), thread_([this] { Loop(); }) {}

LogMonitor::~LogMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  thread_.join();
}

void LogMonitor::Watch(const WorkerId& id, const std::string& log_path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_[id] = log_path;
  }
  wakeup_.notify_all();
}

void LogMonitor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // With no worker to watch it sleeps until one starts: an idle node
    // (a dev cluster of hundreds) costs no wakeups.
    if (readers_.empty()) {
      wakeup_.wait(lock, [this] { return stopping_ || !started_.empty(); });
    } else {
      wakeup_.wait_for(lock, kPollPeriod, [this] { return stopping_; });
    }
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void LogMonitor::Poll() {
  // The workers started since the last poll first, then the list: a worker
  // that started and ended between two polls is read once, not missed.
  std::map<WorkerId, std::string> started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    started.swap(started_);
  }
  for (const auto& [id, path] : started) readers_.try_emplace(id, path);
  std::map<WorkerId, std::string> workers = list_workers_();
  for (const auto& [id, path] : workers) readers_.try_emplace(id, path);
  protocol::PublishLogs message;
  for (auto it = readers_.begin(); it != readers_.end();) {
    for (observability::WorkerLogReader* reader : {&it->second.out, &it->second.err}) {
      for (protocol::LogBatch& batch : reader->ReadNew(kMaxBytesPerWorker)) {
        message.batches.push_back(std::move(batch));
      }
    }
    // A worker gone from the list has just had its last read.
    it = workers.count(it->first) ? std::next(it) : readers_.erase(it);
  }
  if (!message.batches.empty())
    send_(protocol::Encode(protocol::MessageType::kPublishLogs, message));
}

}  // namespace rayk
