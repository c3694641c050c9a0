#include "gcs/gcs_placement_group_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "process/session.h"

namespace rayk {

namespace {

using protocol::MessageType;
using protocol::PlacementGroupState;

constexpr char kGroupTable[] = "placement_groups";
constexpr auto kSchedulePeriod = std::chrono::milliseconds(20);
// A raylet that does not answer a prepare or commit in this time is taken
// as refusing; the attempt is released and tried again.
constexpr auto kReserveTimeout = std::chrono::milliseconds(5000);

BundleStrategy ToBundleStrategy(PlacementStrategy strategy) {
  switch (strategy) {
    case PlacementStrategy::kPack:
      return BundleStrategy::kPack;
    case PlacementStrategy::kSpread:
      return BundleStrategy::kSpread;
    case PlacementStrategy::kStrictPack:
      return BundleStrategy::kStrictPack;
    case PlacementStrategy::kStrictSpread:
      return BundleStrategy::kStrictSpread;
  }
  return BundleStrategy::kPack;
}

Status CheckSpec(const protocol::PlacementGroupSpec& spec) {
  if (spec.group_id.IsNil()) return Status::InvalidArgument("a placement group needs an id");
  if (spec.bundles.empty()) {
    return Status::InvalidArgument(
        "a placement group needs at least one bundle: pass bundles such as {{{\"CPU\", 1}}}");
  }
  for (size_t i = 0; i < spec.bundles.size(); ++i) {
    if (spec.bundles[i].empty()) {
      return Status::InvalidArgument(
          "bundle " + std::to_string(i) +
          " of the placement group has no resources: give every bundle at least one resource "
          "with a positive amount, such as {\"CPU\", 1}");
    }
  }
  if (static_cast<uint32_t>(spec.strategy) >
      static_cast<uint32_t>(PlacementStrategy::kStrictSpread))
    return Status::InvalidArgument("unknown placement strategy " +
                                   std::to_string(static_cast<uint32_t>(spec.strategy)));
  return Status::Ok();
}

// The reply to a create or a remove; Ok, the common one, is encoded once.
std::string StatusReplyOf(const Status& status) {
  static const std::string kOk =
      protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(Status::Ok()));
  return status.ok()
             ? kOk
             : protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(status));
}

}  // namespace

GcsPlacementGroupManager::GcsPlacementGroupManager(std::shared_ptr<Transport> transport,
                                                   std::shared_ptr<Scheduler> scheduler,
                                                   std::shared_ptr<GcsStore> store,
                                                   std::shared_ptr<GroupCommit> commits,
                                                   ViewFn view, AddressesFn addresses,
                                                   RemovedFn on_removed)
    : transport_(std::move(transport)),
      scheduler_(std::move(scheduler)),
      store_(std::move(store)),
      view_(std::move(view)),
      node_addresses_(std::move(addresses)),
      on_removed_(std::move(on_removed)),
      channels_(transport_),
      commits_(std::move(commits)) {}

GcsPlacementGroupManager::~GcsPlacementGroupManager() {
  stopping_ = true;
  if (scheduler_thread_.joinable()) scheduler_thread_.join();
  commits_->Flush();  // what is queued is written, and its replies sent
  std::map<std::string, std::shared_ptr<Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels = channels_.TakeAll();
  }
  channels.clear();  // pending callbacks see stopping_ and return
}

Status GcsPlacementGroupManager::Load() {
  auto stored = store_->GetAll(kGroupTable);
  if (!stored.ok()) return stored.status();
  std::shared_ptr<const ClusterView> view = view_();
  Actions actions;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, value] : *stored) {
    auto info = protocol::Decode<protocol::PlacementGroupInfo>(value);
    if (!info.ok()) {
      spdlog::error("gcs: skipped an unreadable placement group record: {}",
                    info.status().message());
      continue;
    }
    Record& record = groups_[info->spec.group_id];
    record.info = std::move(*info);
    if (!record.info.spec.name.empty()) {
      names_[{record.info.spec.namespace_name, record.info.spec.name}] = record.info.spec.group_id;
    }
    if (record.info.state != PlacementGroupState::kPending) continue;
    // A reservation may have been under way when the old GCS died: cancel,
    // on every node, the bundles not placed there (what the attempt
    // prepared or committed; the placed ones stay), and place them afresh.
    for (const NodeView& node : view->nodes) {
      std::vector<uint32_t> others;
      for (size_t i = 0; i < record.info.bundle_nodes.size(); ++i) {
        if (record.info.bundle_nodes[i] != node.node_id) others.push_back(static_cast<uint32_t>(i));
      }
      CancelOnLocked(record.info.spec.group_id, node.address, std::move(others), actions);
    }
  }
  spdlog::info("gcs: loaded {} placement group records", groups_.size());
  Run(actions);
  return Status::Ok();
}

void GcsPlacementGroupManager::Start() {
  scheduler_thread_ = std::thread([this] { ScheduleLoop(); });
}

void GcsPlacementGroupManager::PersistLocked(Record& record) {
  const PlacementGroupId id = record.info.spec.group_id;
  GcsWriteBatch write;
  if (record.info.state == PlacementGroupState::kRemoved) {
    write.Delete(kGroupTable, id.Binary());
  } else {
    write.Put(kGroupTable, id.Binary(),
              protocol::Encode(MessageType::kPlacementGroupInfo, record.info));
  }
  ++record.unsaved;
  commits_->Write(std::move(write), [this, id](const Status& st) {
    if (!st.ok()) {
      spdlog::error("gcs: cannot persist placement group {}: {}", id.Hex(), st.message());
    }
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = groups_.find(id);
      if (it != groups_.end() && --it->second.unsaved == 0) {
        AnswerWaitersLocked(it->second, /*expired_only=*/false, actions);
      }
    }
    Run(actions);
  });
}

void GcsPlacementGroupManager::ReplyWhenSaved(ReplyFn reply, std::string message) {
  if (!reply) return;
  commits_->Write({}, [reply = std::move(reply), message = std::move(message)](const Status&) {
    reply(message);
  });
}

void GcsPlacementGroupManager::AnswerWaitersLocked(const Record& record, bool expired_only,
                                                   Actions& actions) {
  auto it = waiters_.find(record.info.spec.group_id);
  if (it == waiters_.end()) return;
  // Created or removed is told once it is on disk.
  bool settled = record.info.state != PlacementGroupState::kPending && record.unsaved == 0;
  auto now = std::chrono::steady_clock::now();
  std::string encoded;
  for (auto w = it->second.begin(); w != it->second.end();) {
    if (!settled && (!expired_only || now < w->deadline)) {
      ++w;
      continue;
    }
    if (encoded.empty()) encoded = protocol::Encode(MessageType::kPlacementGroupInfo, record.info);
    actions.push_back([reply = std::move(w->reply), encoded] { reply(encoded); });
    w = it->second.erase(w);
  }
  if (it->second.empty()) waiters_.erase(it);
}

void GcsPlacementGroupManager::HandleCreate(protocol::CreatePlacementGroup request, ReplyFn reply) {
  Actions actions;
  Status status = CheckSpec(request.spec);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const protocol::PlacementGroupSpec& spec = request.spec;
    if (!status.ok() || groups_.count(spec.group_id)) {
      // Invalid, or a retried creation (its reply was lost): done already.
    } else if (!spec.name.empty() && names_.count({spec.namespace_name, spec.name})) {
      status = Status::AlreadyExists("a placement group named '" + spec.name +
                                     "' already exists in namespace '" + spec.namespace_name +
                                     "'; pick another name or use rayk::GetPlacementGroup(\"" +
                                     spec.name + "\")");
    } else {
      Record& record = groups_[spec.group_id];
      record.info.found = true;
      record.info.spec = spec;
      record.info.bundle_nodes.assign(spec.bundles.size(), NodeId::Nil());
      record.info.create_time_ms = NowMs();
      if (!spec.name.empty()) names_[{spec.namespace_name, spec.name}] = spec.group_id;
      PersistLocked(record);
      ScheduleLocked(record, actions);
    }
  }
  // After the record (or, for a repeated request, its first write) is on disk.
  ReplyWhenSaved(std::move(reply), StatusReplyOf(status));
  Run(actions);
}

void GcsPlacementGroupManager::HandleRemove(protocol::RemovePlacementGroup request, ReplyFn reply) {
  Actions actions;
  Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(request.group_id);
    if (it == groups_.end()) {
      status = Status::NotFound("no placement group " + request.group_id.Hex());
    } else {
      RemoveLocked(it->second, actions);
    }
  }
  // After the removal (or, for a repeated request, the first one) is on disk.
  ReplyWhenSaved(std::move(reply), StatusReplyOf(status));
  Run(actions);
}

void GcsPlacementGroupManager::HandleGet(protocol::GetPlacementGroup request, ReplyFn reply) {
  if (!reply) return;
  std::lock_guard<std::mutex> lock(mu_);
  PlacementGroupId id = request.group_id;
  if (id.IsNil()) {
    auto named = names_.find({request.namespace_name, request.name});
    if (named != names_.end()) id = named->second;
  }
  auto it = groups_.find(id);
  if (it == groups_.end()) {
    reply(protocol::Encode(MessageType::kPlacementGroupInfo, protocol::PlacementGroupInfo{}));
    return;
  }
  if (request.wait_ms <= 0 ||
      (it->second.info.state != PlacementGroupState::kPending && it->second.unsaved == 0)) {
    reply(protocol::Encode(MessageType::kPlacementGroupInfo, it->second.info));
    return;
  }
  auto wait = std::min(std::chrono::milliseconds(request.wait_ms), kLongPollLimit);
  waiters_[id].push_back({std::move(reply), std::chrono::steady_clock::now() + wait});
}

void GcsPlacementGroupManager::HandleList(ReplyFn reply) {
  if (!reply) return;
  protocol::PlacementGroupList list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, record] : groups_) list.groups.push_back(record.info);
  }
  reply(protocol::Encode(MessageType::kPlacementGroupList, list));
}

void GcsPlacementGroupManager::HandleNodeDead(const NodeId& node_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, record] : groups_) {
      if (record.info.state == PlacementGroupState::kRemoved) continue;
      size_t lost = 0;
      for (NodeId& node : record.info.bundle_nodes) {
        if (node == node_id) {
          node = NodeId::Nil();
          ++lost;
        }
      }
      // An attempt under way with that node cannot finish: undo it now.
      if (record.reserving && record.addresses.count(node_id)) {
        AbortLocked(record, "node " + node_id.Hex().substr(0, 8) + " died during it", actions);
      }
      if (lost == 0) continue;
      spdlog::warn(
          "placement group {}: {} bundle(s) were on node {}, which died; placing them again",
          id.Hex(), lost, node_id.Hex());
      record.info.state = PlacementGroupState::kPending;
      record.info.pending_reason = std::to_string(lost) + " bundle(s) lost with node " +
                                   node_id.Hex().substr(0, 8) + "; placing them again";
      PersistLocked(record);
      ScheduleLocked(record, actions);
    }
  }
  Run(actions);
}

void GcsPlacementGroupManager::HandleJobFinished(const JobId& job_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PlacementGroupId> ending;
    for (auto& [id, record] : groups_) {
      if (record.info.spec.job_id == job_id && !record.info.spec.detached &&
          record.info.state != PlacementGroupState::kRemoved) {
        ending.push_back(id);
      }
    }
    for (const PlacementGroupId& id : ending) {
      auto it = groups_.find(id);
      if (it != groups_.end()) RemoveLocked(it->second, actions);
    }
  }
  Run(actions);
}

void GcsPlacementGroupManager::RemoveLocked(Record& record, Actions& actions) {
  if (record.info.state == PlacementGroupState::kRemoved) return;
  const PlacementGroupId id = record.info.spec.group_id;
  record.info.state = PlacementGroupState::kRemoved;
  record.info.pending_reason.clear();
  if (!record.info.spec.name.empty()) {
    names_.erase({record.info.spec.namespace_name, record.info.spec.name});
  }
  PersistLocked(record);
  AnswerWaitersLocked(record, /*expired_only=*/false, actions);
  // Its actors first, so that their ends are deaths, not restarts; then
  // every node, so that queued leases of the group fail wherever they wait.
  actions.push_back([this, id] { on_removed_(id); });
  std::map<NodeId, std::string> nodes = node_addresses_();
  nodes.insert(record.addresses.begin(), record.addresses.end());
  ReleaseOnLocked(id, nodes, /*removed=*/true, actions);
  spdlog::info("placement group {} removed", id.Hex());
  removed_.push_back(id);
  while (removed_.size() > kRemovedKept) {
    groups_.erase(removed_.front());
    waiters_.erase(removed_.front());
    removed_.pop_front();
  }
}

void GcsPlacementGroupManager::ReleaseOnLocked(const PlacementGroupId& id,
                                               const std::map<NodeId, std::string>& nodes,
                                               bool removed, Actions& actions) {
  std::string message =
      protocol::Encode(MessageType::kReleaseBundles, protocol::ReleaseBundles{id, removed});
  for (const auto& [node, address] : nodes) TellRayletLocked(address, message, actions);
}

void GcsPlacementGroupManager::TellRayletLocked(const std::string& address, std::string message,
                                                Actions& actions) {
  std::shared_ptr<Channel> raylet = ChannelTo(address);
  if (!raylet) return;
  actions.push_back([raylet, message = std::move(message)] {
    raylet->Call(
        message, [](Result<std::string>) {}, kReserveTimeout);
  });
}

void GcsPlacementGroupManager::CancelOnLocked(const PlacementGroupId& id,
                                              const std::string& address,
                                              std::vector<uint32_t> indices, Actions& actions) {
  if (indices.empty()) return;
  protocol::BundleReservation cancel;
  cancel.group_id = id;
  cancel.indices = std::move(indices);
  TellRayletLocked(address, protocol::Encode(MessageType::kCancelBundles, cancel), actions);
}

void GcsPlacementGroupManager::ScheduleLoop() {
  while (!stopping_) {
    std::this_thread::sleep_for(kSchedulePeriod);
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, record] : groups_) {
        ScheduleLocked(record, actions);
        AnswerWaitersLocked(record, /*expired_only=*/true, actions);
      }
    }
    Run(actions);
  }
}

void GcsPlacementGroupManager::ScheduleLocked(Record& record, Actions& actions) {
  if (record.info.state != PlacementGroupState::kPending || record.reserving) return;
  const protocol::PlacementGroupSpec& spec = record.info.spec;
  std::vector<size_t> missing;
  std::set<NodeId> placed;
  for (size_t i = 0; i < record.info.bundle_nodes.size(); ++i) {
    if (record.info.bundle_nodes[i].IsNil()) {
      missing.push_back(i);
    } else {
      placed.insert(record.info.bundle_nodes[i]);
    }
  }
  std::shared_ptr<const ClusterView> shared_view = view_();
  const ClusterView* view = shared_view.get();
  ClusterView narrowed;
  // Bundles placed already (the others lost a node) bind the strict strategies.
  if (!placed.empty() && (spec.strategy == PlacementStrategy::kStrictSpread ||
                          spec.strategy == PlacementStrategy::kStrictPack)) {
    bool keep_placed = spec.strategy == PlacementStrategy::kStrictPack;
    narrowed = *view;
    std::erase_if(narrowed.nodes,
                  [&](const NodeView& node) { return placed.count(node.node_id) != keep_placed; });
    view = &narrowed;
  }
  std::vector<ResourceSet> bundles;
  for (size_t i : missing) bundles.push_back(spec.bundles[i]);
  BundlePlacement placement =
      scheduler_->PlaceBundles(bundles, ToBundleStrategy(spec.strategy), *view);
  if (placement.kind != SchedulingDecision::Kind::kNode) {
    record.info.pending_reason = placement.reason;
    return;  // the loop tries again
  }
  if (placement.nodes.size() != missing.size()) {
    record.info.pending_reason = "the scheduler plugin placed " +
                                 std::to_string(placement.nodes.size()) + " of " +
                                 std::to_string(missing.size()) + " bundles";
    return;
  }
  record.reserving = true;
  ++record.attempt;
  record.trying.assign(spec.bundles.size(), NodeId::Nil());
  record.addresses.clear();
  record.answers = 0;
  record.refusal.clear();
  for (size_t k = 0; k < missing.size(); ++k) {
    const NodeView* node = view->Find(placement.nodes[k]);
    if (node == nullptr) {
      record.reserving = false;
      record.info.pending_reason = "the scheduler plugin picked a node that is not in the view";
      return;
    }
    record.trying[missing[k]] = node->node_id;
    record.addresses[node->node_id] = node->address;
  }
  SendPhaseLocked(record, /*commit=*/false, actions);
}

void GcsPlacementGroupManager::SendPhaseLocked(Record& record, bool commit, Actions& actions) {
  const PlacementGroupId id = record.info.spec.group_id;
  const uint64_t attempt = record.attempt;
  for (const auto& [node, address] : record.addresses) {
    protocol::BundleReservation reservation;
    reservation.group_id = id;
    for (size_t i = 0; i < record.trying.size(); ++i) {
      if (record.trying[i] != node) continue;
      reservation.indices.push_back(static_cast<uint32_t>(i));
      if (!commit) reservation.bundles.push_back(record.info.spec.bundles[i]);
    }
    std::string message = protocol::Encode(
        commit ? MessageType::kCommitBundles : MessageType::kPrepareBundles, reservation);
    std::shared_ptr<Channel> raylet = ChannelTo(address);
    actions.push_back([this, raylet, message, id, attempt, commit, address] {
      if (!raylet) {
        OnReserveReply(id, attempt, commit,
                       Status::Unavailable("cannot connect to the raylet at " + address));
        return;
      }
      raylet->Call(
          message,
          [this, id, attempt, commit](Result<std::string> reply) {
            OnReserveReply(id, attempt, commit, std::move(reply));
          },
          kReserveTimeout);
    });
  }
}

void GcsPlacementGroupManager::OnReserveReply(const PlacementGroupId& id, uint64_t attempt,
                                              bool commit, Result<std::string> reply) {
  if (stopping_) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(id);
    if (it == groups_.end()) return;
    Record& record = it->second;
    if (!record.reserving || record.attempt != attempt) return;
    Status status =
        reply.ok() ? protocol::Decode<protocol::Empty>(*reply).status() : reply.status();
    if (!status.ok() && record.refusal.empty()) record.refusal = status.message();
    if (++record.answers < record.addresses.size()) return;
    record.answers = 0;
    if (record.info.state == PlacementGroupState::kRemoved) {
      record.reserving = false;  // RemoveLocked released every node already
    } else if (!record.refusal.empty()) {
      AbortLocked(record, record.refusal, actions);
    } else if (!commit) {
      SendPhaseLocked(record, /*commit=*/true, actions);
    } else {
      for (size_t i = 0; i < record.trying.size(); ++i) {
        if (!record.trying[i].IsNil()) record.info.bundle_nodes[i] = record.trying[i];
      }
      record.reserving = false;
      // A node of the group's other bundles may have died meanwhile: those
      // are placed next, and the group stays pending until they are.
      const bool whole =
          std::none_of(record.info.bundle_nodes.begin(), record.info.bundle_nodes.end(),
                       [](const NodeId& node) { return node.IsNil(); });
      if (whole) {
        record.info.state = PlacementGroupState::kCreated;
        record.info.pending_reason.clear();
        record.info.placed_time_ms = NowMs();
      }
      PersistLocked(record);
      if (whole) {
        AnswerWaitersLocked(record, /*expired_only=*/false, actions);
      } else {
        ScheduleLocked(record, actions);
      }
    }
  }
  Run(actions);
}

void GcsPlacementGroupManager::AbortLocked(Record& record, const std::string& why,
                                           Actions& actions) {
  spdlog::info("placement group {}: reserving its bundles failed ({}); releasing and retrying",
               record.info.spec.group_id.Hex(), why);
  // Every node of the attempt gives back exactly the attempt's bundles,
  // prepared or committed; bundles of the group placed earlier (on the same
  // nodes or others) stay, and the group stays pending for the rest.
  for (const auto& [node, address] : record.addresses) {
    std::vector<uint32_t> indices;
    for (size_t i = 0; i < record.trying.size(); ++i) {
      if (record.trying[i] == node) indices.push_back(static_cast<uint32_t>(i));
    }
    CancelOnLocked(record.info.spec.group_id, address, std::move(indices), actions);
  }
  ++record.attempt;  // late answers of the aborted attempt are ignored
  record.reserving = false;
  record.info.pending_reason = "reserving its bundles failed, trying again: " + why;
}

}  // namespace rayk
