// Scheduling helpers: the rules every scheduler policy shares, so that a
// policy only has to rank nodes.
//
// CandidateNodes() applies, in order: liveness, the label selector, and node
// affinity. Hard affinity narrows the candidates to the named node (and is
// infeasible when that node is dead or unknown); soft affinity narrows them to
// the named node only when it can run the request now, and otherwise leaves
// the policy to choose among every node. The survivors are split into the
// nodes where the demand fits now (available resources) and the nodes where it
// could ever fit (total resources).
//
// A policy typically reads:
//
//   CandidateSet c = CandidateNodes(request, view);
//   if (c.feasible_now.empty()) return WaitOrInfeasible(request, view, c);
//   if (request.strategy == SchedulingStrategy::kSpread)
//     return SchedulingDecision::OnNode(spread_.Next(c.feasible_now)->node_id);
//   return SchedulingDecision::OnNode(Rank(c.feasible_now)->node_id);
//
// CriticalUtilization() and MostArgumentBytes() are the measures policies rank
// by; SpreadCursor is the shared SPREAD rule.
//
// Every function here is pure: it reads its arguments only and is safe to
// call from any thread. A SpreadCursor holds state and belongs to one
// scheduler instance, whose calls the kernel serializes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rayk/plugin/scheduler.h"
#include "rayk/resources.h"

namespace rayk {

struct CandidateSet {
  // Nodes whose available resources contain the demand, in view order.
  std::vector<const NodeView*> feasible_now;
  // Nodes whose total resources contain the demand, in view order; a superset
  // of feasible_now.
  std::vector<const NodeView*> feasible_ever;
  // Why nothing can ever run the request when the rules themselves exclude
  // every node (hard affinity to a dead or unknown node); empty otherwise.
  std::string infeasible_reason;
  // True when soft affinity picked its node: feasible_now holds only that node.
  bool soft_affinity_applied = false;
};

// The nodes of `view` that may run `request`, split by when the demand fits.
// The pointers point into `view`.
CandidateSet CandidateNodes(const SchedulingRequest& request, const ClusterView& view);

// A one-line reason why no alive node can ever run `request`, naming the
// demand and the node that comes closest:
//   no alive node has {"GPU": 1} in total; the closest is node 3f2a1b0c with {"CPU": 8}
std::string DescribeInfeasible(const SchedulingRequest& request, const ClusterView& view);

// A one-line reason why `request` must wait: the demand and how many nodes
// could run it once their running work finishes.
std::string DescribeWait(const SchedulingRequest& request, const CandidateSet& candidates);

// The decision for a request with no node where it fits now: Wait when some
// candidate could run it later, Infeasible (with DescribeInfeasible's reason)
// otherwise.
SchedulingDecision WaitOrInfeasible(const SchedulingRequest& request, const ClusterView& view,
                                    const CandidateSet& candidates);

// {"CPU": 2, "GPU": 0.5}: resources as people read them in reasons.
std::string FormatResources(const ResourceSet& resources);

// {zone=us-east, disk=ssd}: a label selector for reasons.
std::string FormatLabels(const std::map<std::string, std::string>& labels);

// The first 8 hex digits of a node id: enough to tell nodes apart in a reason.
std::string ShortNodeName(const NodeId& node);

// True when every condition of `selector` holds for the node's labels
// (rayk/label_selector.h has the syntax: "a", "!a", "in(a,b)", "exists()", ...).
bool MatchesLabels(const NodeView& node, const std::map<std::string, std::string>& selector);

// How busy `node` is, in [0, 1], as Ray's "critical resource utilization":
// the largest fraction in use, 1 - available / total, over "CPU", "memory"
// and "object_store_memory", and here also over every resource `demand`
// names, so that a GPU or custom-resource request is ranked by what it needs.
// Resources the node does not have are skipped; a node with none of them is 0.
double CriticalUtilization(const NodeView& node, const ResourceSet& demand);

// CriticalUtilization as if `demand` already ran on `node`: how busy placing
// it there would make the node (binpack ranks by this).
double CriticalUtilizationAfter(const NodeView& node, const ResourceSet& demand);

// The node of `nodes` that already holds the most bytes of the request's
// arguments (SchedulingRequest::argument_bytes), or null when none holds any.
// Ties go to the lower node id, so the choice does not depend on view order.
const NodeView* MostArgumentBytes(const SchedulingRequest& request,
                                  const std::vector<const NodeView*>& nodes);

// Ray's SPREAD rule: round robin over the nodes that can run a request now.
// Each call returns the node that follows, in node-id order, the one it
// returned last (wrapping around), so consecutive requests land on different
// nodes even when the view is stale and every node looks alike, and nodes
// joining or leaving do not reset the rotation.
class SpreadCursor {
 public:
  // Null only when `nodes` is empty.
  const NodeView* Next(const std::vector<const NodeView*>& nodes);

 private:
  NodeId last_;  // Nil before the first call
};

}  // namespace rayk
