// The vocabulary that user code and scheduler plugins share about nodes: what
// one node looks like (NodeView, from rayk::Nodes() or a scheduler's cluster
// view) and the placement strategies a task or actor can ask for.
//
// Strategies follow Ray: DEFAULT is the scheduler plugin's own policy; SPREAD
// asks it to spread; NODE_AFFINITY pins to one node (hard) or prefers it (soft).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "rayk/ids.h"
#include "rayk/resources.h"

namespace rayk {

// What the scheduler sees of one node.
struct NodeView {
  NodeId node_id;
  std::string address;  // the raylet's endpoint, for spillback
  ResourceSet total;
  ResourceSet available;
  std::map<std::string, std::string> labels;
  uint32_t queue_length = 0;  // leases waiting for resources on that node
  bool alive = true;
};

enum class SchedulingStrategy : uint32_t { kDefault = 0, kSpread, kNodeAffinity };

}  // namespace rayk
