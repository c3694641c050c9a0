// Helpers of the message structs.
#include "rpc/gcs_messages.h"

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

}  // namespace rayk::protocol

namespace rayk::internal {

std::string Placement::Key() const {
  std::string key = std::to_string(static_cast<uint32_t>(strategy));
  if (strategy == SchedulingStrategy::kNodeAffinity)
    key += (affinity_soft ? "~" : "=") + affinity_node.Hex();
  for (const auto& [name, value] : label_selector) key += ";" + name + "=" + value;
  return key;
}

}  // namespace rayk::internal
