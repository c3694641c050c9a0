// GcsWorkerTable: which object owners have died, so that their borrowers
// learn it at once (Ray's worker-failure channel).
//
// An object owned by a process dies with it: its value lived there, or its
// owner alone knew where it was. A borrower (a process holding a reference
// that came inside a value) fetching such an object would otherwise wait on a
// connection nobody answers. Raylets report each worker that exits and each
// driver that dies (kReportWorkerLife); the GCS also records the driver of a
// job that finishes. Each death is published on the "worker" topic and kept
// here, bounded (the oldest records go first), for borrowers that ask about
// an owner after it died (kGetWorkerLife). A process that registers at an
// address where one died clears the record.
//
// In memory only: after a GCS restart the records start empty (a borrower
// subscribed before the restart still hears later deaths). Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "rpc/protocol.h"

namespace rayk {

class GcsWorkerTable {
 public:
  static constexpr size_t kMaxRecords = 100000;

  // Records a death, or clears one when `life.dead` is false. Returns true
  // when it is news to publish.
  bool Report(const protocol::WorkerLife& life);
  protocol::WorkerLife Get(const std::string& address);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::string> causes_;  // dead owners' addresses
  std::deque<std::string> order_;                        // oldest first, for the bound
};

}  // namespace rayk
