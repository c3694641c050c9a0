// Helpers of the message structs.
#include "rpc/gcs_messages.h"
#include "rpc/placement_group_messages.h"

namespace rayk::protocol {

NodeView ToNodeView(const NodeInfo& node) {
  NodeView view;
  view.node_id = node.node_id;
  view.address = node.raylet_address;
  view.total = node.total;
  view.available = node.available;
  view.labels = node.labels;
  view.queue_length = node.pending_leases;
  view.alive = node.alive;
  return view;
}

const char* ActorStateName(ActorState state) {
  switch (state) {
    case ActorState::kPending:
      return "PENDING";
    case ActorState::kAlive:
      return "ALIVE";
    case ActorState::kRestarting:
      return "RESTARTING";
    case ActorState::kDead:
      return "DEAD";
  }
  return "UNKNOWN";
}

const char* PlacementGroupStateName(PlacementGroupState state) {
  switch (state) {
    case PlacementGroupState::kPending:
      return "PENDING";
    case PlacementGroupState::kCreated:
      return "CREATED";
    case PlacementGroupState::kRemoved:
      return "REMOVED";
  }
  return "UNKNOWN";
}

}  // namespace rayk::protocol

namespace rayk::internal {

std::string Placement::Key() const {
  std::string key = std::to_string(static_cast<uint32_t>(strategy));
  if (strategy == SchedulingStrategy::kNodeAffinity)
    key += (affinity_soft ? "~" : "=") + affinity_node.Hex();
  for (const auto& [name, value] : label_selector) key += ";" + name + "=" + value;
  if (!placement_group.IsNil())
    key += "@" + placement_group.Hex() + "#" + std::to_string(bundle_index);
  return key;
}

}  // namespace rayk::internal
