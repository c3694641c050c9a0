// The raylet's side of placement groups: bundles reserved by the GCS in two
// phases, and leases that ask for them.
#include <spdlog/spdlog.h>

#include "rayk/plugin/scheduling_util.h"
#include "raylet/raylet.h"
#include "scheduling/bundle_resources.h"

namespace rayk {

using protocol::MessageType;

namespace {

std::string ShortId(const PlacementGroupId& group) { return group.Hex().substr(0, 8); }

}  // namespace

bool Raylet::PrepareBundleLeaseLocked(protocol::RequestWorkerLease& request, const ReplyFn& reply) {
  const PlacementGroupId& group = request.placement.placement_group;
  if (removed_groups_.count(group)) {
    protocol::LeaseReply refused;
    refused.result = protocol::LeaseReply::Result::kFailed;
    refused.request_id = request.request_id;
    refused.reason = "its placement group " + ShortId(group) + " was removed";
    reply(protocol::Encode(MessageType::kLeaseReply, refused));
    return false;
  }
  request.resources = BundleDemand(request.resources, group, request.placement.bundle_index);
  return true;
}

void Raylet::OnPrepareBundles(protocol::BundleReservation request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  if (request.indices.size() != request.bundles.size()) {
    protocol::Service::ReplyError(
        reply, Status::InvalidArgument("PrepareBundles: " + std::to_string(request.indices.size()) +
                                       " indices for " + std::to_string(request.bundles.size()) +
                                       " bundles"));
    return;
  }
  if (removed_groups_.count(request.group_id)) {
    protocol::Service::ReplyError(
        reply, Status::NotFound("placement group " + ShortId(request.group_id) + " was removed"));
    return;
  }
  // All or nothing: a bundle this node holds already (a repeated prepare)
  // costs nothing again.
  auto& held = bundles_[request.group_id];
  ResourceSet needed;
  for (size_t i = 0; i < request.indices.size(); ++i) {
    if (!held.count(request.indices[i])) needed.Add(request.bundles[i]);
  }
  if (!available_.Contains(needed)) {
    if (held.empty()) bundles_.erase(request.group_id);
    protocol::Service::ReplyError(
        reply, Status::Unavailable("node " + options_.node_id.Hex().substr(0, 8) + " has " +
                                   FormatResources(available_) + " free, not the " +
                                   FormatResources(needed) + " its bundles need"));
    return;
  }
  AcquireResources(needed);
  for (size_t i = 0; i < request.indices.size(); ++i) {
    held.try_emplace(request.indices[i], Bundle{request.bundles[i], false});
  }
  protocol::Service::ReplyAck(reply);
}

void Raylet::OnCommitBundles(protocol::BundleReservation request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto group = bundles_.find(request.group_id);
  for (uint32_t index : request.indices) {
    if (group == bundles_.end() || !group->second.count(index)) {
      protocol::Service::ReplyError(
          reply, Status::NotFound("bundle " + std::to_string(index) + " of placement group " +
                                  ShortId(request.group_id) + " was not prepared on this node"));
      return;
    }
  }
  for (uint32_t index : request.indices) {
    Bundle& bundle = group->second[index];
    if (bundle.committed) continue;
    bundle.committed = true;
    ResourceSet scoped = BundleResources(request.group_id, index, bundle.resources);
    total_.Add(scoped);
    available_.Add(scoped);
  }
  spdlog::info("raylet: reserved bundle(s) of placement group {} here", request.group_id.Hex());
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

void Raylet::OnReleaseBundles(protocol::ReleaseBundles request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  const PlacementGroupId& id = request.group_id;
  if (request.removed) removed_groups_.insert(id);
  // Queued leases of a group whose reservation is only moving wait for it.
  EndGroupLeasesLocked(id,
                       request.removed ? "its placement group " + ShortId(id) + " was removed"
                                       : "its placement group's bundle left this node",
                       /*fail_queued=*/request.removed);
  auto group = bundles_.find(id);
  if (group != bundles_.end()) {
    for (const auto& [index, bundle] : group->second) {
      if (bundle.committed) {
        ResourceSet scoped = BundleResources(id, index, bundle.resources);
        total_.Subtract(scoped);
        available_.Subtract(scoped);
      }
      available_.Add(bundle.resources);
    }
    bundles_.erase(group);
    spdlog::info("raylet: released the bundle(s) of placement group {}", id.Hex());
  }
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

void Raylet::OnCancelBundles(protocol::BundleReservation request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  const PlacementGroupId& id = request.group_id;
  auto group = bundles_.find(id);
  if (group != bundles_.end()) {
    for (uint32_t index : request.indices) {
      auto bundle = group->second.find(index);
      if (bundle == group->second.end()) continue;
      if (bundle->second.committed) {
        EndGroupLeasesLocked(id, "its placement group's bundle left this node",
                             /*fail_queued=*/false, index);
        ResourceSet scoped = BundleResources(id, index, bundle->second.resources);
        total_.Subtract(scoped);
        available_.Subtract(scoped);
      }
      available_.Add(bundle->second.resources);
      group->second.erase(bundle);
    }
    if (group->second.empty()) bundles_.erase(group);
    NoteChangeLocked();
    spdlog::info("raylet: cancelled bundle(s) of placement group {} here", id.Hex());
  }
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

void Raylet::EndGroupLeasesLocked(const PlacementGroupId& group, const std::string& why,
                                  bool fail_queued, std::optional<uint32_t> index) {
  const std::string hex = group.Hex();
  const std::string bundle_suffix = index ? "_group_" + std::to_string(*index) + "_" + hex : hex;
  auto holds = [&](const ResourceSet& resources) {
    for (const auto& [name, amount] : resources.amounts()) {
      if (name.ends_with(bundle_suffix) && IsBundleResource(name)) return true;
    }
    return false;
  };
  for (auto lease = leases_.begin(); lease != leases_.end();) {
    if (!holds(lease->second.resources)) {
      ++lease;
      continue;
    }
    // Its bundle resources vanish with the bundle (for one bundle of several,
    // once they are back, as the bundle then takes them); anything else goes back.
    ReleaseResources(index ? lease->second.resources
                           : WithoutBundleResources(lease->second.resources));
    auto worker = workers_.find(lease->second.worker_id);
    if (worker != workers_.end()) {
      worker->second.lease_id = 0;
      worker->second.blocked = false;
      KillWorker(worker->second);
      protocol::WorkerDied died{
          worker->second.id, lease->first,
          "worker pid " + std::to_string(worker->second.pid) + " was ended: " + why};
      NotifyOwner(lease->second.owner_address, protocol::Encode(MessageType::kWorkerDied, died));
    }
    lease = leases_.erase(lease);
  }
  if (!fail_queued) return;
  for (auto pending = pending_.begin(); pending != pending_.end();) {
    if (pending->request.placement.placement_group != group) {
      ++pending;
      continue;
    }
    if (pending->resources_acquired) {
      ReleaseResources(WithoutBundleResources(pending->request.resources));
    }
    protocol::LeaseReply failed;
    failed.result = protocol::LeaseReply::Result::kFailed;
    failed.reason = why;
    AnswerLease(*pending, std::move(failed));
    pending = pending_.erase(pending);
  }
}

}  // namespace rayk
