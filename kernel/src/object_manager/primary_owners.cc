#include "object_manager/primary_owners.h"

#include <algorithm>

#include "process/session.h"  // ProcessAlive

namespace rayk {

void PrimaryOwners::Record(const std::string& owner, int64_t owner_pid,
                           const std::vector<ObjectId>& ids) {
  if (owner.empty() || ids.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    Owner& record = owners_[owner];
    if (owner_pid > 0) record.pid = owner_pid;
    for (const ObjectId& id : ids) {
      auto [it, added] = entries_.try_emplace(id, Entry{owner, now});
      if (!added && it->second.owner != owner) {
        ForgetLocked(id);  // another owner's copy went, and this id came back
        it = entries_.try_emplace(id, Entry{owner, now}).first;
      }
      it->second.recorded = now;
      record.objects.insert(id);
    }
  }
  MaybePrune();
}

void PrimaryOwners::Forget(const std::vector<ObjectId>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ObjectId& id : ids) ForgetLocked(id);
}

void PrimaryOwners::ForgetLocked(const ObjectId& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto owner = owners_.find(it->second.owner);
  if (owner != owners_.end()) {
    owner->second.objects.erase(id);
    if (owner->second.objects.empty()) owners_.erase(owner);
  }
  entries_.erase(it);
}

std::vector<ObjectId> PrimaryOwners::TakeOwnedBy(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owners_.find(owner);
  if (it == owners_.end()) return {};
  std::vector<ObjectId> ids(it->second.objects.begin(), it->second.objects.end());
  for (const ObjectId& id : ids) entries_.erase(id);
  owners_.erase(it);
  return ids;
}

std::vector<std::string> PrimaryOwners::DeadLocalOwners() {
  std::vector<std::pair<std::string, int64_t>> local;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [address, owner] : owners_) {
      if (owner.pid > 0) local.emplace_back(address, owner.pid);
    }
  }
  std::vector<std::string> dead;
  for (const auto& [address, pid] : local) {
    if (!ProcessAlive(static_cast<pid_t>(pid))) dead.push_back(address);
  }
  return dead;
}

size_t PrimaryOwners::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void PrimaryOwners::MaybePrune() {
  std::vector<ObjectId> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pruning_ || entries_.size() < prune_at_) return;
    pruning_ = true;
    const auto before = std::chrono::steady_clock::now() - prune_grace_;
    for (const auto& [id, entry] : entries_) {
      if (entry.recorded <= before) old.push_back(id);
    }
  }
  std::vector<ObjectId> gone;
  for (const ObjectId& id : old) {
    if (!contains_(id)) gone.push_back(id);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const ObjectId& id : gone) ForgetLocked(id);
  // The next round comes when the table has doubled again, so each record
  // pays for O(1) of the scans.
  prune_at_ = std::max(kPruneFloor, 2 * entries_.size());
  pruning_ = false;
}

}  // namespace rayk
