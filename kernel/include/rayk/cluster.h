// The cluster's nodes, as the GCS knows them: for node affinity
// (rayk::Task(f).SetNodeAffinity(node)) and for tools.
//
//   for (const rayk::NodeView& node : rayk::Nodes())
//     if (node.alive && node.total.Get("GPU") > 0) use(node.node_id);
//
// Throws rayk::RuntimeError when the GCS cannot be reached, and outside
// Init()/Shutdown(). Thread-safe.
#pragma once

#include <vector>

#include "rayk/ids.h"
#include "rayk/node.h"

namespace rayk {

// Every node that joined the cluster, dead ones too (alive = false).
std::vector<NodeView> Nodes();
// The node this process runs on.
NodeId CurrentNodeId();

}  // namespace rayk
