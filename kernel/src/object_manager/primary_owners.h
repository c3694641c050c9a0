// PrimaryOwners: the raylet's record of who owns the primary copies in its
// node's store, so that the copies of an owner that died are freed (Ray frees
// the objects of a dead owner; nobody else would, since only the owner frees
// a primary).
//
// The store knows which process wrote an object, not its owner: a task's
// result is written by the worker that ran it but owned by the caller, which
// may live on another node. So the writer tells its raylet the owner of each
// primary it is about to write (kRecordPrimaries, with the owner's pid when
// the owner is the writer itself), and the raylet frees an owner's primaries
// when it learns of its death: one of its workers exits, a local owner's pid
// is gone, or the GCS publishes the death (a remote owner, a driver).
//
// Owners free their objects without telling this table (a local free deletes
// from the shared store directly), so entries of objects no longer in the
// store are pruned as the table grows (amortized over the records), once they
// are older than kPruneGrace (a record comes before its object is sealed).
//
// Thread-safe: one mutex. The store is called without it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rayk/ids.h"

namespace rayk {

class PrimaryOwners {
 public:
  static constexpr std::chrono::seconds kPruneGrace{30};
  // Tables smaller than this are never pruned.
  static constexpr size_t kPruneFloor = 1024;
  using ContainsFn = std::function<bool(const ObjectId&)>;

  // `contains`: whether the store still holds an object (for pruning).
  explicit PrimaryOwners(ContainsFn contains,
                         std::chrono::steady_clock::duration prune_grace = kPruneGrace)
      : contains_(std::move(contains)), prune_grace_(prune_grace) {}

  // The primaries `ids` are (about to be) written for `owner`, whose pid on
  // this node is `owner_pid` (0: not known, or on another node).
  void Record(const std::string& owner, int64_t owner_pid, const std::vector<ObjectId>& ids);
  // The objects were freed.
  void Forget(const std::vector<ObjectId>& ids);
  // `owner` died: its objects, to free, and the owner forgotten.
  std::vector<ObjectId> TakeOwnedBy(const std::string& owner);
  // The owners with a pid on this node whose process is gone.
  std::vector<std::string> DeadLocalOwners();
  size_t size();

 private:
  struct Owner {
    int64_t pid = 0;
    std::unordered_set<ObjectId> objects;
  };
  struct Entry {
    std::string owner;
    std::chrono::steady_clock::time_point recorded;
  };
  // Drops entries whose object left the store (without mu_ for the store).
  void MaybePrune();
  void ForgetLocked(const ObjectId& id);

  const ContainsFn contains_;
  const std::chrono::steady_clock::duration prune_grace_;
  std::mutex mu_;
  std::unordered_map<ObjectId, Entry> entries_;
  std::unordered_map<std::string, Owner> owners_;
  size_t prune_at_ = kPruneFloor;
  bool pruning_ = false;  // a MaybePrune is checking the store
};

}  // namespace rayk
