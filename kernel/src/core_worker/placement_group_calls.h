// PlacementGroupCalls: a process's requests that create and remove placement
// groups, pipelined to the GCS.
//
// rayk::CreatePlacementGroup (of a group without a name) and
// rayk::RemovePlacementGroup return once their request is on its way, as
// Ray's remove_placement_group does, instead of waiting for the GCS to have
// the change on disk: a driver that creates a hundred groups and then waits
// for them lets the GCS write them in a few group commits
// (gcs/group_commit.h) instead of paying an fsync per call. The GCS still
// answers each request only once its change is on disk. A group's calls stay
// in order: the next call on a group (Wait, Remove) first waits for the
// answer to the one before it, and fails with that answer's error if it
// failed. Calls still in flight when the process ends are waited for, within
// a bound, before it tells the GCS its job finished. A named group is created
// synchronously instead, so that a taken name fails the call itself.
//
// Thread-safe; answers arrive on the GCS client's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <string>

#include "core_worker/worker_context.h"
#include "rayk/ids.h"

namespace rayk {

class PlacementGroupCalls {
 public:
  explicit PlacementGroupCalls(WorkerContext& context) : context_(context) {}

  // Sends `request` (a kCreatePlacementGroup or kRemovePlacementGroup for
  // group `id`) once the group's previous call is answered, and returns
  // without waiting for this one. `what` names it in errors ("removing
  // placement group 3f2a1b0c"). Fails with the previous call's error, and
  // then sends nothing.
  Status Send(const PlacementGroupId& id, std::string request, std::string what);
  // Waits for the answer to the group's last call; Ok when none is pending.
  Status Settle(const PlacementGroupId& id);
  // Waits up to `limit` for the answers of every call in flight.
  void SettleAll(std::chrono::milliseconds limit);

 private:
  struct Call {
    uint64_t serial = 0;
    std::shared_future<Status> answer;
  };

  WorkerContext& context_;
  std::mutex mu_;
  std::map<PlacementGroupId, Call> calls_;  // in flight, or failed
  uint64_t next_serial_ = 0;
};

}  // namespace rayk
