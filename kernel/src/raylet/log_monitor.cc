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

void LogMonitor::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void LogMonitor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // With no worker to watch it sleeps until one starts: an idle node
    // (a dev cluster of hundreds) costs no wakeups.
    if (readers_.empty()) {
      wakeup_.wait(lock, [this] { return stopping_ || woken_; });
    } else {
      wakeup_.wait_for(lock, kPollPeriod, [this] { return stopping_; });
    }
    woken_ = false;
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void LogMonitor::Poll() {
  std::map<WorkerId, std::string> workers = list_workers_();
  for (const auto& [id, path] : workers) readers_.try_emplace(id, path);
  protocol::PublishLogs message;
  for (auto it = readers_.begin(); it != readers_.end();) {
    for (protocol::LogBatch& batch : it->second.ReadNew(kMaxBytesPerWorker)) {
      message.batches.push_back(std::move(batch));
    }
    // A worker gone from the list has just had its last read.
    it = workers.count(it->first) ? std::next(it) : readers_.erase(it);
  }
  if (!message.batches.empty())
    send_(protocol::Encode(protocol::MessageType::kPublishLogs, message));
}

}  // namespace rayk
