// GroupCommit: the GCS's durable writes, committed in groups.
//
// On a durable store each write is a transaction and an fsync (about 1 ms on
// the project's virtual disk), and a writer that waits for each one before
// the next serializes the whole control plane behind the disk. GroupCommit
// queues writes instead: one thread takes everything queued while the
// previous commit ran and writes it as one GcsStore::Write (one transaction,
// one fsync), in the order queued, then runs each write's `done`. Callers
// answer their requests from `done`, so a reply still means "on disk"
// (durability is what the store gives a single write); what changes is that
// writes arriving together share the fsync.
//
// The memory a caller keeps may run ahead of the disk by the writes in
// flight: a reader of that memory can see a change shortly before it is
// durable. Thread-safe. Destroying it commits what is queued, then stops.
//
// A write to a key that a queued (not yet committing) write also sets takes
// that write's place: the store gets the key's last value once, and both
// callers' `done` run after it (a record written on each step of its life,
// created then placed, costs one row write when the steps queue together).
// One transaction carries all queued writes, so no reader of the store can
// tell the order apart.
//
// One GroupCommit serves the whole GCS (GcsServer makes it and hands it to
// the placement group manager): node and group records written together
// share one fsync.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rayk/plugin/gcs_store.h"

namespace rayk {

class GroupCommit {
 public:
  using DoneFn = std::function<void(const Status&)>;

  explicit GroupCommit(std::shared_ptr<GcsStore> store);
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `batch`; `done` (may be empty) runs on the commit thread once it
  // is written, with the status of the write that carried it.
  void Write(GcsWriteBatch batch, DoneFn done);

  // Returns once everything queued before the call is written and its
  // `done` has run: a user whose callbacks use its own state calls it
  // before that state goes.
  void Flush();

  // How many GcsStore::Write calls carried how many queued writes, so far.
  struct Stats {
    uint64_t commits = 0;
    uint64_t writes = 0;
    uint64_t coalesced = 0;  // ops that replaced a queued op on the same key
  };
  Stats stats() const;

 private:
  void Loop();

  std::shared_ptr<GcsStore> store_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  GcsWriteBatch queued_;
  // Where each (table, key) of queued_ is, to overwrite it in place.
  std::map<std::pair<std::string, std::string>, size_t> queued_at_;
  std::vector<DoneFn> waiting_;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace rayk
