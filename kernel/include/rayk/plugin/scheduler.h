// Scheduler: the slot that decides where a task, an actor or a placement-group
// bundle runs.
//
// The raylet (for task leases) and the GCS (for actors and placement groups)
// call Schedule() with a request and a read-only snapshot of the cluster. The
// plugin answers with a node, "wait" (something fits later, e.g. when running
// work finishes), or "infeasible" (no alive node could ever satisfy it, with
// the reason). A plugin holds no cluster state of its own beyond what it needs
// for its policy (a random generator, a round-robin cursor).
//
// Thread safety: the kernel serializes calls on one instance; a plugin needs no
// locks. Both calls must be fast (they are on the scheduling path) and must
// not block. Failure: a plugin reports problems through the decision's reason;
// it must not throw.
//
// Strategies follow Ray: DEFAULT is the plugin's own policy; SPREAD asks it to
// spread; NODE_AFFINITY pins to `affinity_node` (hard) or prefers it (soft).
// Label selectors narrow the candidates. Helpers in scheduling_util.h apply
// the affinity, label and feasibility rules so a policy only has to rank.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rayk/node.h"
#include "rayk/plugin/plugin.h"
#include "rayk/resources.h"

namespace rayk {

// A snapshot of the cluster as one process knows it.
struct ClusterView {
  NodeId local_node;  // the node asking; Nil when the GCS asks
  uint64_t version = 0;
  std::vector<NodeView> nodes;

  const NodeView* Find(const NodeId& id) const;
};

struct SchedulingRequest {
  ResourceSet demand;
  SchedulingStrategy strategy = SchedulingStrategy::kDefault;
  NodeId affinity_node;        // with kNodeAffinity
  bool affinity_soft = false;  // soft: fall back to the policy when that node cannot run it
  std::map<std::string, std::string> label_selector;  // key -> condition (label_selector.h)
  // Bytes of the request's arguments already present on each node, for
  // locality-aware policies.
  std::map<NodeId, uint64_t> argument_bytes;
};

struct SchedulingDecision {
  enum class Kind : uint32_t { kNode, kWait, kInfeasible };
  Kind kind = Kind::kWait;
  NodeId node;         // with kNode
  std::string reason;  // with kWait and kInfeasible: why, for status output and errors

  static SchedulingDecision OnNode(const NodeId& node) { return {Kind::kNode, node, {}}; }
  static SchedulingDecision Wait(std::string why) { return {Kind::kWait, {}, std::move(why)}; }
  static SchedulingDecision Infeasible(std::string why) {
    return {Kind::kInfeasible, {}, std::move(why)};
  }
};

enum class BundleStrategy : uint32_t { kPack = 0, kSpread, kStrictPack, kStrictSpread };

struct BundlePlacement {
  SchedulingDecision::Kind kind = SchedulingDecision::Kind::kWait;
  std::vector<NodeId> nodes;  // one per bundle, with kNode
  std::string reason;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Chooses where one request runs.
  virtual SchedulingDecision Schedule(const SchedulingRequest& request,
                                      const ClusterView& view) = 0;

  // Places all bundles of a placement group at once, or none of them. The
  // default implementation, shared by every plugin that does not override it,
  // follows Ray's PACK / SPREAD / STRICT_PACK / STRICT_SPREAD semantics.
  virtual BundlePlacement PlaceBundles(const std::vector<ResourceSet>& bundles,
                                       BundleStrategy strategy, const ClusterView& view);
};

}  // namespace rayk
