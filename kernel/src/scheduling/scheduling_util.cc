#include "rayk/plugin/scheduling_util.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <string>

#include "rayk/label_selector.h"

namespace rayk {

namespace {

std::string FormatAmount(double amount) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", amount);
  return buf;
}

bool IsHardAffinity(const SchedulingRequest& request) {
  return request.strategy == SchedulingStrategy::kNodeAffinity && !request.affinity_soft;
}

bool IsSoftAffinity(const SchedulingRequest& request) {
  return request.strategy == SchedulingStrategy::kNodeAffinity && request.affinity_soft;
}

// How much of `demand` a node's total covers, in [0, 1]: the mean over the
// demanded resources of min(total / demand, 1). Ranks "the closest node" in
// reasons, so that the user sees the node they most likely meant.
double Coverage(const ResourceSet& total, const ResourceSet& demand) {
  if (demand.empty()) return 1;
  double sum = 0;
  for (const auto& [name, amount] : demand.amounts())
    sum += std::min(total.Get(name) / amount, 1.0);
  return sum / static_cast<double>(demand.amounts().size());
}

// The hard-affinity target's problem, or "" when that node could run the
// request some day.
std::string DescribeHardAffinity(const SchedulingRequest& request, const ClusterView& view) {
  const std::string who = "node " + request.affinity_node.Hex() + " named by hard node affinity";
  const NodeView* node = view.Find(request.affinity_node);
  if (node == nullptr) {
    return who + " is not in the cluster, so " + FormatResources(request.demand) +
           " cannot run; use soft affinity to fall back to other nodes";
  }
  if (!node->alive) {
    return who + " is dead, so " + FormatResources(request.demand) +
           " cannot run; use soft affinity to fall back to other nodes";
  }
  if (!MatchesLabels(*node, request.label_selector)) {
    return who + " does not match label selector " + FormatLabels(request.label_selector) +
           " (its labels are " + FormatLabels(node->labels) + ")";
  }
  if (!node->total.Contains(request.demand)) {
    return who + " has " + FormatResources(node->total) + " in total, less than the demand " +
           FormatResources(request.demand);
  }
  return "";
}

}  // namespace

std::string FormatResources(const ResourceSet& resources) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, amount] : resources.amounts()) {
    if (!first) out += ", ";
    first = false;
    out += "\"" + name + "\": " + FormatAmount(amount);
  }
  return out + "}";
}

std::string FormatLabels(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ", ";
    first = false;
    out += key + "=" + value;
  }
  return out + "}";
}

std::string ShortNodeName(const NodeId& node) { return node.Hex().substr(0, 8); }

bool MatchesLabels(const NodeView& node, const std::map<std::string, std::string>& selector) {
  return LabelsMatch(node.labels, selector);
}

namespace {

// CriticalUtilization, and with `placed` set the same as if `demand` already
// ran on the node. One walk over the node's few resources (sorted by name)
// beside its available ones, rather than two string-keyed lookups per ranked
// name and no copy of the node: policies call this for every candidate node
// of every request, and those lookups and copies were most of a decision's
// time (bench/scheduler_bench.cc).
double Utilization(const NodeView& node, const ResourceSet& demand, bool placed) {
  static const std::string kAlwaysRanked[] = {"CPU", "memory", "object_store_memory"};
  const std::map<std::string, double>& available = node.available.amounts();
  auto free = available.begin();
  double highest = 0;
  for (const auto& [name, total] : node.total.amounts()) {
    if (total <= 0) continue;
    auto wanted = demand.amounts().find(name);
    bool ranked = wanted != demand.amounts().end() ||
                  std::find(std::begin(kAlwaysRanked), std::end(kAlwaysRanked), name) !=
                      std::end(kAlwaysRanked);
    if (!ranked) continue;
    while (free != available.end() && free->first < name) ++free;
    double free_amount = free != available.end() && free->first == name ? free->second : 0;
    if (placed && wanted != demand.amounts().end()) {
      free_amount = std::max(0.0, free_amount - wanted->second);
    }
    // A momentarily inconsistent view can report more free than total.
    highest = std::max(highest, std::clamp(1 - free_amount / total, 0.0, 1.0));
  }
  return highest;
}

}  // namespace

double CriticalUtilization(const NodeView& node, const ResourceSet& demand) {
  return Utilization(node, demand, /*placed=*/false);
}

double CriticalUtilizationAfter(const NodeView& node, const ResourceSet& demand) {
  return Utilization(node, demand, /*placed=*/true);
}

const NodeView* MostArgumentBytes(const SchedulingRequest& request,
                                  const std::vector<const NodeView*>& nodes) {
  const NodeView* best = nullptr;
  uint64_t best_bytes = 0;
  for (const NodeView* node : nodes) {
    auto it = request.argument_bytes.find(node->node_id);
    if (it == request.argument_bytes.end() || it->second == 0) continue;
    if (best == nullptr || it->second > best_bytes ||
        (it->second == best_bytes && node->node_id < best->node_id)) {
      best = node;
      best_bytes = it->second;
    }
  }
  return best;
}

const NodeView* SpreadCursor::Next(const std::vector<const NodeView*>& nodes) {
  // The smallest id after last_, else the smallest id overall (wrap around).
  const NodeView* after = nullptr;
  const NodeView* first = nullptr;
  for (const NodeView* node : nodes) {
    if (first == nullptr || node->node_id < first->node_id) first = node;
    if (last_ < node->node_id && (after == nullptr || node->node_id < after->node_id)) after = node;
  }
  const NodeView* pick = after != nullptr ? after : first;
  if (pick != nullptr) last_ = pick->node_id;
  return pick;
}

CandidateSet CandidateNodes(const SchedulingRequest& request, const ClusterView& view) {
  CandidateSet out;
  if (IsHardAffinity(request)) {
    out.infeasible_reason = DescribeHardAffinity(request, view);
    if (!out.infeasible_reason.empty()) return out;
    const NodeView* node = view.Find(request.affinity_node);
    out.feasible_ever.push_back(node);
    if (node->available.Contains(request.demand)) out.feasible_now.push_back(node);
    return out;
  }
  if (IsSoftAffinity(request)) {
    const NodeView* node = view.Find(request.affinity_node);
    if (node != nullptr && node->alive && MatchesLabels(*node, request.label_selector) &&
        node->available.Contains(request.demand)) {
      out.feasible_now.push_back(node);
      out.feasible_ever.push_back(node);
      out.soft_affinity_applied = true;
      return out;
    }
    // Otherwise the preferred node cannot run it now: the policy chooses freely.
  }
  out.feasible_now.reserve(view.nodes.size());
  out.feasible_ever.reserve(view.nodes.size());
  for (const NodeView& node : view.nodes) {
    if (!node.alive || !MatchesLabels(node, request.label_selector)) continue;
    // A view can be momentarily inconsistent (available reported before
    // total); a node that has the demand free can run it, whatever its total.
    if (node.available.Contains(request.demand)) {
      out.feasible_now.push_back(&node);
      out.feasible_ever.push_back(&node);
    } else if (node.total.Contains(request.demand)) {
      out.feasible_ever.push_back(&node);
    }
  }
  return out;
}

std::string DescribeInfeasible(const SchedulingRequest& request, const ClusterView& view) {
  if (IsHardAffinity(request)) {
    std::string reason = DescribeHardAffinity(request, view);
    if (!reason.empty()) return reason;
  }
  const std::string demand = FormatResources(request.demand);
  size_t alive = 0;
  std::vector<const NodeView*> pool;
  for (const NodeView& node : view.nodes) {
    if (!node.alive) continue;
    ++alive;
    if (MatchesLabels(node, request.label_selector)) pool.push_back(&node);
  }
  if (alive == 0) {
    std::string reason = "no alive node in the cluster to run " + demand;
    if (!view.nodes.empty())
      reason += " (" + std::to_string(view.nodes.size()) + " known, all dead)";
    return reason;
  }
  const std::string with_labels =
      request.label_selector.empty() ? "" : " with labels " + FormatLabels(request.label_selector);
  if (pool.empty()) {
    return "no alive node matches label selector " + FormatLabels(request.label_selector) +
           " to run " + demand + " (" + std::to_string(alive) + " alive nodes checked)";
  }
  const NodeView* closest = nullptr;
  double best = -1;
  size_t fitting = 0;
  for (const NodeView* node : pool) {
    if (node->total.Contains(request.demand)) ++fitting;
    double coverage = Coverage(node->total, request.demand);
    if (coverage > best) {
      best = coverage;
      closest = node;
    }
  }
  if (fitting > 0) {
    // Not actually infeasible; say what is true rather than invent a reason.
    return demand + " fits the total resources of " + std::to_string(fitting) + " alive node(s)" +
           with_labels;
  }
  // A resource no node has at all is usually a typo or a missing node type:
  // name it rather than a "closest" node that is not close.
  std::string missing;
  for (const auto& [name, amount] : request.demand.amounts()) {
    bool anywhere = std::any_of(pool.begin(), pool.end(),
                                [&](const NodeView* node) { return node->total.Get(name) > 0; });
    if (!anywhere) missing += (missing.empty() ? "\"" : ", \"") + name + "\"";
  }
  if (!missing.empty()) {
    return "no alive node" + with_labels + " has " + demand + " in total; none has any " + missing +
           " (" + std::to_string(pool.size()) + " node(s) checked)";
  }
  return "no alive node" + with_labels + " has " + demand + " in total; the closest is node " +
         ShortNodeName(closest->node_id) + " with " + FormatResources(closest->total);
}

std::string DescribeWait(const SchedulingRequest& request, const CandidateSet& candidates) {
  if (IsHardAffinity(request) && !candidates.feasible_ever.empty()) {
    const NodeView* node = candidates.feasible_ever.front();
    return "waiting for node " + ShortNodeName(node->node_id) + " (hard node affinity) to free " +
           FormatResources(request.demand) + "; it has " + FormatResources(node->available) +
           " available now";
  }
  return "waiting for " + FormatResources(request.demand) + ": " +
         std::to_string(candidates.feasible_ever.size()) +
         " node(s) have it in total but none has it available now";
}

SchedulingDecision WaitOrInfeasible(const SchedulingRequest& request, const ClusterView& view,
                                    const CandidateSet& candidates) {
  if (!candidates.feasible_now.empty()) {
    return SchedulingDecision::OnNode(candidates.feasible_now.front()->node_id);
  }
  if (!candidates.feasible_ever.empty()) {
    return SchedulingDecision::Wait(DescribeWait(request, candidates));
  }
  if (!candidates.infeasible_reason.empty()) {
    return SchedulingDecision::Infeasible(candidates.infeasible_reason);
  }
  return SchedulingDecision::Infeasible(DescribeInfeasible(request, view));
}

}  // namespace rayk
