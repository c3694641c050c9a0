// GcsPlacementGroupManager: the GCS's table of placement groups and the
// reservation of their bundles.
//
// Placing a group: the scheduler plugin's PlaceBundles picks a node per
// bundle on the GCS's view of the cluster; the manager then reserves the
// bundles atomically across those raylets, in two phases: PrepareBundles on
// every chosen raylet (each holds its bundles' resources, all or none), and
// only when every one agreed, CommitBundles on each. When a prepare fails
// (the view was stale, a raylet is gone) every raylet of the attempt is told
// to release, and the group stays PENDING and is tried again, as is a group
// that does not fit now. States: PENDING -> CREATED -> (PENDING again while a
// bundle whose node died is placed elsewhere) -> REMOVED.
// Removing a group releases its bundles on every node (their leases end,
// queued leases fail) and ends its actors through `on_removed`; a group that
// is not detached is removed when its job finishes.
// Every record is written to the placement_groups table on each change, so a
// restarted GCS reloads them: created groups keep their reservations (the
// raylets hold them), and an attempt cut short is cancelled and tried again.
// The writes go through GroupCommit (gcs/group_commit.h): writes made
// together share one transaction and fsync, and whatever is told of a change
// waits until it is on disk: the reply to a create or a remove, and a Wait's
// answer that the group is created or removed. A plain Get or list shows
// the table in memory, which may be ahead of the disk by the writes in flight.
// Thread-safe: one mutex; transport calls happen outside it.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gcs/channel_cache.h"
#include "gcs/group_commit.h"
#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {

class GcsPlacementGroupManager {
 public:
  // The nodes to place bundles on, with their own resources only (bundle
  // resources of placed groups are no room for new bundles).
  using ViewFn = std::function<std::shared_ptr<const ClusterView>()>;
  // The raylet address of every alive node: what a removal tells, without
  // copying the nodes' resources as a view does.
  using AddressesFn = std::function<std::map<NodeId, std::string>()>;
  using RemovedFn = std::function<void(const PlacementGroupId&)>;
  // `scheduler` must be safe to call beside the actor manager's calls
  // (GcsServer hands both a serialized one).
  // `commits` is the GCS's one GroupCommit over `store`.
  GcsPlacementGroupManager(std::shared_ptr<Transport> transport,
                           std::shared_ptr<Scheduler> scheduler, std::shared_ptr<GcsStore> store,
                           std::shared_ptr<GroupCommit> commits, ViewFn view, AddressesFn addresses,
                           RemovedFn on_removed);
  ~GcsPlacementGroupManager();

  // Reloads the groups a durable store kept. Call before Start().
  Status Load();
  void Start();

  void HandleCreate(protocol::CreatePlacementGroup request, ReplyFn reply);
  void HandleRemove(protocol::RemovePlacementGroup request, ReplyFn reply);
  void HandleGet(protocol::GetPlacementGroup request, ReplyFn reply);
  void HandleList(ReplyFn reply);
  // The health check declared a node dead: its bundles are placed again.
  void HandleNodeDead(const NodeId& node_id);
  void HandleJobFinished(const JobId& job_id);

  static constexpr std::chrono::milliseconds kLongPollLimit{protocol::kPlacementGroupLongPollMs};
  // Removed groups kept for `rayk list placement-groups`.
  static constexpr size_t kRemovedKept = 100;

 private:
  struct Record {
    protocol::PlacementGroupInfo info;
    // The reservation under way: one node per bundle being placed (Nil for
    // bundles already placed), and the raylets' answers so far.
    bool reserving = false;
    uint64_t attempt = 0;
    std::vector<NodeId> trying;
    std::map<NodeId, std::string> addresses;
    size_t answers = 0;
    std::string refusal;  // the first raylet's refusal in this phase
    int unsaved = 0;      // writes of this record queued, not yet on disk
  };
  struct Waiter {
    ReplyFn reply;
    std::chrono::steady_clock::time_point deadline;
  };
  using Actions = GcsActions;

  void ScheduleLoop();
  void ScheduleLocked(Record& record, Actions& actions);
  // A raylet answered a prepare (commit = false) or a commit of an attempt.
  void OnReserveReply(const PlacementGroupId& id, uint64_t attempt, bool commit,
                      Result<std::string> reply);
  void SendPhaseLocked(Record& record, bool commit, Actions& actions);
  void AbortLocked(Record& record, const std::string& why, Actions& actions);
  void ReleaseOnLocked(const PlacementGroupId& id, const std::map<NodeId, std::string>& nodes,
                       bool removed, Actions& actions);
  // Sends `message` to the raylet at `address`; its answer is not awaited
  // (a raylet that misses it is released again when the group moves or goes).
  void TellRayletLocked(const std::string& address, std::string message, Actions& actions);
  // Cancels bundles `indices` of group `id` on the raylet at `address`
  // (kCancelBundles): what an aborted attempt prepared or committed there.
  void CancelOnLocked(const PlacementGroupId& id, const std::string& address,
                      std::vector<uint32_t> indices, Actions& actions);
  void RemoveLocked(Record& record, Actions& actions);
  // Queues the record's write (GroupCommit); waiters are answered once it
  // and the record's other queued writes are on disk.
  void PersistLocked(Record& record);
  // Runs `reply` once every write queued so far is on disk.
  void ReplyWhenSaved(ReplyFn reply, std::string message);
  void AnswerWaitersLocked(const Record& record, bool expired_only, Actions& actions);
  std::shared_ptr<Channel> ChannelTo(const std::string& address) { return channels_.To(address); }
  static void Run(Actions& actions) { RunActions(actions); }

  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Scheduler> scheduler_;
  std::shared_ptr<GcsStore> store_;
  ViewFn view_;
  AddressesFn node_addresses_;
  RemovedFn on_removed_;

  std::mutex mu_;
  std::map<PlacementGroupId, Record> groups_;
  // Named groups, by (namespace, name).
  std::map<std::pair<std::string, std::string>, PlacementGroupId> names_;
  std::deque<PlacementGroupId> removed_;  // oldest first, at most kRemovedKept
  std::map<PlacementGroupId, std::vector<Waiter>> waiters_;
  ChannelCache channels_;
  std::shared_ptr<GroupCommit> commits_;

  std::atomic<bool> stopping_{false};
  std::thread scheduler_thread_;
};

}  // namespace rayk
