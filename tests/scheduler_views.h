// Cluster views for scheduler tests: nodes with given resources and labels,
// requests, and booking a decision the way the raylet and the GCS do.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rayk/plugin/scheduler.h"

namespace rayk::testing {

inline NodeView Node(ResourceSet total, ResourceSet available,
                     std::map<std::string, std::string> labels = {}, bool alive = true) {
  NodeView node;
  node.node_id = NodeId::FromRandom();
  node.address = "127.0.0.1:0";
  node.total = std::move(total);
  node.available = std::move(available);
  node.labels = std::move(labels);
  node.alive = alive;
  return node;
}

// `count` equal idle nodes with `cpus` CPUs each.
inline std::vector<NodeView> IdleNodes(int count, double cpus) {
  std::vector<NodeView> nodes;
  for (int i = 0; i < count; ++i) nodes.push_back(Node({{"CPU", cpus}}, {{"CPU", cpus}}));
  return nodes;
}

inline SchedulingRequest Demand(ResourceSet demand) {
  SchedulingRequest request;
  request.demand = std::move(demand);
  return request;
}

// A raylet's view: the first node asks.
inline ClusterView View(std::vector<NodeView> nodes) {
  ClusterView view;
  view.local_node = nodes.empty() ? NodeId::Nil() : nodes.front().node_id;
  view.version = 1;
  view.nodes = std::move(nodes);
  return view;
}

// Node order by id, which policies use to break ties: tests that expect a
// tie to go one way sort their view first.
inline void SortById(ClusterView* view) {
  std::sort(view->nodes.begin(), view->nodes.end(),
            [](const NodeView& a, const NodeView& b) { return a.node_id < b.node_id; });
}

// Takes `demand` from the available resources of `node`, as a granted lease does.
inline void Book(ClusterView* view, const NodeId& node, const ResourceSet& demand) {
  for (NodeView& n : view->nodes) {
    if (n.node_id == node) n.available.Subtract(demand);
  }
}

inline int IndexOf(const ClusterView& view, const NodeId& node) {
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    if (view.nodes[i].node_id == node) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace rayk::testing
