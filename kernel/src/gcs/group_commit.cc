#include "gcs/group_commit.h"

#include <spdlog/spdlog.h>

#include <future>

namespace rayk {

GroupCommit::GroupCommit(std::shared_ptr<GcsStore> store)
    : store_(std::move(store)), thread_([this] { Loop(); }) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupCommit::Write(GcsWriteBatch batch, DoneFn done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (GcsWriteBatch::Op& op : batch.ops) {
      auto [at, fresh] = queued_at_.try_emplace({op.table, op.key}, queued_.ops.size());
      if (fresh) {
        queued_.ops.push_back(std::move(op));
      } else {
        queued_.ops[at->second].value = std::move(op.value);
        ++stats_.coalesced;
      }
    }
    waiting_.push_back(std::move(done));
  }
  wake_.notify_one();
}

void GroupCommit::Flush() {
  std::promise<void> written;
  std::future<void> done = written.get_future();
  Write({}, [&written](const Status&) { written.set_value(); });
  done.wait();
}

GroupCommit::Stats GroupCommit::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void GroupCommit::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, and everything is written
    GcsWriteBatch batch;
    std::swap(batch, queued_);
    queued_at_.clear();
    std::vector<DoneFn> done;
    std::swap(done, waiting_);
    ++stats_.commits;
    stats_.writes += done.size();
    lock.unlock();
    Status status = batch.ops.empty() ? Status::Ok() : store_->Write(batch);
    if (!status.ok())
      spdlog::error("gcs: a group of {} writes failed: {}", done.size(), status.message());
    for (DoneFn& fn : done) {
      if (fn) fn(status);
    }
    lock.lock();
  }
}

}  // namespace rayk
