#include "gcs/gcs_worker_table.h"

namespace rayk {

bool GcsWorkerTable::Report(const protocol::WorkerLife& life) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!life.dead) {
    causes_.erase(life.address);  // its entry in order_ goes when it comes up
    return false;
  }
  auto [it, inserted] = causes_.try_emplace(life.address, life.cause);
  if (!inserted) return false;  // told twice (a driver's death and its job's end)
  order_.push_back(life.address);
  while (order_.size() > kMaxRecords) {
    causes_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

protocol::WorkerLife GcsWorkerTable::Get(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  protocol::WorkerLife life;
  life.address = address;
  auto it = causes_.find(address);
  if (it != causes_.end()) {
    life.dead = true;
    life.cause = it->second;
  }
  return life;
}

}  // namespace rayk
