#include "rpc/protocol.h"

namespace rayk::protocol {

Result<MessageType> PeekType(std::string_view message) {
  if (message.size() < kHeaderSize || message[0] != 'R' || message[1] != 'K') {
    return Status::InvalidArgument("not a rayk message (" + std::to_string(message.size()) +
                                   " bytes without the 'RK' header)");
  }
  if (static_cast<uint8_t>(message[2]) != kProtocolVersion) {
    return Status::InvalidArgument("rayk protocol version " + std::to_string(static_cast<uint8_t>(message[2])) +
                                   " but this process speaks " + std::to_string(kProtocolVersion) +
                                   "; run the same rayk version on every node");
  }
  return static_cast<MessageType>(message[2 + 1]);
}

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
    case ActorState::kPending: return "PENDING";
    case ActorState::kAlive: return "ALIVE";
    case ActorState::kRestarting: return "RESTARTING";
    case ActorState::kDead: return "DEAD";
  }
  return "UNKNOWN";
}

}  // namespace rayk::protocol

namespace rayk::internal {

std::string Placement::Key() const {
  std::string key = std::to_string(static_cast<uint32_t>(strategy));
  if (strategy == SchedulingStrategy::kNodeAffinity) key += (affinity_soft ? "~" : "=") + affinity_node.Hex();
  for (const auto& [name, value] : label_selector) key += ";" + name + "=" + value;
  return key;
}

}  // namespace rayk::internal
