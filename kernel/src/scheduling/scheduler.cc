#include "rayk/plugin/scheduler.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "rayk/plugin/scheduling_util.h"
#include "scheduling/bundle_resources.h"

namespace rayk {

const NodeView* ClusterView::Find(const NodeId& id) const {
  for (const NodeView& node : nodes) {
    if (node.node_id == id) return &node;
  }
  return nullptr;
}

namespace {

const char* BundleStrategyName(BundleStrategy strategy) {
  switch (strategy) {
    case BundleStrategy::kPack:
      return "PACK";
    case BundleStrategy::kSpread:
      return "SPREAD";
    case BundleStrategy::kStrictPack:
      return "STRICT_PACK";
    case BundleStrategy::kStrictSpread:
      return "STRICT_SPREAD";
  }
  return "unknown strategy";
}

// Places bundles on a fixed set of alive nodes, against either their available
// or their total resources. Running the same placer against totals tells
// "wait" (it would fit an idle cluster) from "infeasible".
class BundlePlacer {
 public:
  BundlePlacer(const std::vector<ResourceSet>& bundles, const std::vector<const NodeView*>& nodes,
               bool use_total)
      : bundles_(bundles), nodes_(nodes) {
    // The bundle resources of groups placed already ("CPU_group_<id>", four
    // names a bundle) are no room for new bundles: leaving them out keeps
    // the sizes honest and the copies small (hundreds of names with many
    // groups placed), unless a bundle asks for such a name itself.
    auto counts = [&](const std::string& name) {
      if (!IsBundleResource(name)) return true;
      return std::any_of(bundles_.begin(), bundles_.end(),
                         [&](const ResourceSet& bundle) { return bundle.Get(name) > 0; });
    };
    for (const NodeView* node : nodes_) {
      const ResourceSet& capacity = use_total ? node->total : node->available;
      ResourceSet& left = left_.emplace_back();
      for (const auto& [name, amount] : capacity.amounts()) {
        if (counts(name)) left.Set(name, amount);
      }
      for (const auto& [name, amount] : node->total.amounts()) {
        if (counts(name)) scale_[name] = std::max(scale_[name], amount);
      }
    }
    count_.assign(nodes_.size(), 0);
  }

  // One node index per bundle, or nothing when the strategy cannot be met.
  std::optional<std::vector<size_t>> Place(BundleStrategy strategy) {
    switch (strategy) {
      case BundleStrategy::kStrictPack:
        return PlaceAllOnOne();
      case BundleStrategy::kPack: {
        // Ray's PACK: one node when one can take everything, else as few as possible.
        if (auto one = PlaceAllOnOne()) return one;
        return PlaceGreedy(/*spread=*/false);
      }
      case BundleStrategy::kSpread:
        return PlaceGreedy(/*spread=*/true);
      case BundleStrategy::kStrictSpread:
        return PlaceDistinct();
    }
    return std::nullopt;
  }

 private:
  // A resource set as one number, each resource scaled by the largest node's
  // amount so that bytes of memory do not drown out CPUs.
  double Size(const ResourceSet& set) const {
    double size = 0;
    for (const auto& [name, amount] : set.amounts()) {
      auto it = scale_.find(name);
      size += (it == scale_.end() || it->second <= 0) ? 1.0 : amount / it->second;
    }
    return size;
  }

  // Bundles largest first, so the big ones find room before the small ones fragment it.
  std::vector<size_t> LargestFirst() const {
    std::vector<size_t> order(bundles_.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return Size(bundles_[a]) > Size(bundles_[b]); });
    return order;
  }

  std::optional<std::vector<size_t>> PlaceAllOnOne() {
    ResourceSet sum;
    for (const ResourceSet& bundle : bundles_) sum.Add(bundle);
    // Best fit: the node left with the least, keeping big nodes free for big groups.
    std::optional<size_t> best;
    double best_left = 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!left_[i].Contains(sum)) continue;
      double left = Size(left_[i]) - Size(sum);
      if (!best || left < best_left) {
        best = i;
        best_left = left;
      }
    }
    if (!best) return std::nullopt;
    return std::vector<size_t>(bundles_.size(), *best);
  }

  // PACK (spread = false): reuse a node already chosen when the bundle fits
  // there, else open the roomiest new node. SPREAD: prefer a node not chosen
  // yet, else the least used one.
  std::optional<std::vector<size_t>> PlaceGreedy(bool spread) {
    std::vector<size_t> placement(bundles_.size());
    for (size_t b : LargestFirst()) {
      std::optional<size_t> best;
      auto better = [&](size_t i) {
        if (!best) return true;
        bool used_i = count_[i] > 0, used_best = count_[*best] > 0;
        if (used_i != used_best) return spread ? !used_i : used_i;
        if (spread && count_[i] != count_[*best]) return count_[i] < count_[*best];
        // Among used nodes, PACK fills the fullest; otherwise take the roomiest.
        if (!spread && used_i) return Size(left_[i]) < Size(left_[*best]);
        return Size(left_[i]) > Size(left_[*best]);
      };
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (left_[i].Contains(bundles_[b]) && better(i)) best = i;
      }
      if (!best) return std::nullopt;
      Assign(b, *best, &placement);
    }
    return placement;
  }

  // STRICT_SPREAD is a bipartite matching of bundles to distinct nodes; a
  // greedy pass can miss an assignment that exists when bundles differ, so
  // use augmenting paths (Kuhn). Sizes are small (tens of bundles and nodes).
  std::optional<std::vector<size_t>> PlaceDistinct() {
    if (bundles_.size() > nodes_.size()) return std::nullopt;
    // Try the roomiest nodes first so the matching leaves room on the cluster evenly.
    std::vector<size_t> node_order(nodes_.size());
    std::iota(node_order.begin(), node_order.end(), 0);
    std::stable_sort(node_order.begin(), node_order.end(),
                     [&](size_t a, size_t b) { return Size(left_[a]) > Size(left_[b]); });
    std::vector<std::optional<size_t>> bundle_of_node(nodes_.size());
    for (size_t b : LargestFirst()) {
      std::vector<bool> visited(nodes_.size(), false);
      if (!Augment(b, node_order, &visited, &bundle_of_node)) return std::nullopt;
    }
    std::vector<size_t> placement(bundles_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (bundle_of_node[i]) Assign(*bundle_of_node[i], i, &placement);
    }
    return placement;
  }

  bool Augment(size_t bundle, const std::vector<size_t>& node_order, std::vector<bool>* visited,
               std::vector<std::optional<size_t>>* bundle_of_node) const {
    for (size_t i : node_order) {
      if ((*visited)[i] || !left_[i].Contains(bundles_[bundle])) continue;
      (*visited)[i] = true;
      auto& holder = (*bundle_of_node)[i];
      if (!holder || Augment(*holder, node_order, visited, bundle_of_node)) {
        holder = bundle;
        return true;
      }
    }
    return false;
  }

  void Assign(size_t bundle, size_t node, std::vector<size_t>* placement) {
    (*placement)[bundle] = node;
    left_[node].Subtract(bundles_[bundle]);
    ++count_[node];
  }

  const std::vector<ResourceSet>& bundles_;
  const std::vector<const NodeView*>& nodes_;
  std::vector<ResourceSet> left_;  // what each node still has for this call's bundles
  std::vector<size_t> count_;      // bundles placed on each node so far
  std::map<std::string, double> scale_;
};

std::string DescribeInfeasibleBundles(const std::vector<ResourceSet>& bundles,
                                      BundleStrategy strategy, const ClusterView& view,
                                      const std::vector<const NodeView*>& alive) {
  const std::string prefix = std::string(BundleStrategyName(strategy)) + " placement group of " +
                             std::to_string(bundles.size()) + " bundle(s): ";
  // A bundle no node can hold is the most specific thing to report.
  for (size_t i = 0; i < bundles.size(); ++i) {
    bool fits = std::any_of(alive.begin(), alive.end(),
                            [&](const NodeView* node) { return node->total.Contains(bundles[i]); });
    if (!fits) {
      SchedulingRequest request;
      request.demand = bundles[i];
      return prefix + "bundle " + std::to_string(i) + ": " + DescribeInfeasible(request, view);
    }
  }
  ResourceSet sum;
  for (const ResourceSet& bundle : bundles) sum.Add(bundle);
  switch (strategy) {
    case BundleStrategy::kStrictPack: {
      SchedulingRequest request;
      request.demand = sum;
      return prefix + "all bundles must share one node, and " + DescribeInfeasible(request, view);
    }
    case BundleStrategy::kStrictSpread:
      if (bundles.size() > alive.size()) {
        return prefix + "each bundle needs its own node, but only " + std::to_string(alive.size()) +
               " node(s) are alive";
      }
      return prefix +
             "no assignment of the bundles to distinct alive nodes fits their total "
             "resources";
    case BundleStrategy::kPack:
    case BundleStrategy::kSpread:
      break;
  }
  ResourceSet cluster;
  for (const NodeView* node : alive) cluster.Add(node->total);
  if (!cluster.Contains(sum)) {
    return prefix + "together they need " + FormatResources(sum) + ", more than the " +
           std::to_string(alive.size()) + " alive node(s) have in total (" +
           FormatResources(cluster) + ")";
  }
  return prefix + "together they need " + FormatResources(sum) + ", which the " +
         std::to_string(alive.size()) + " alive node(s) have in total (" +
         FormatResources(cluster) + "), but not in pieces each bundle fits into";
}

}  // namespace

BundlePlacement Scheduler::PlaceBundles(const std::vector<ResourceSet>& bundles,
                                        BundleStrategy strategy, const ClusterView& view) {
  BundlePlacement out;
  if (bundles.empty()) {
    out.kind = SchedulingDecision::Kind::kNode;
    return out;
  }
  std::vector<const NodeView*> alive;
  for (const NodeView& node : view.nodes) {
    if (node.alive) alive.push_back(&node);
  }
  if (auto placed = BundlePlacer(bundles, alive, /*use_total=*/false).Place(strategy)) {
    out.kind = SchedulingDecision::Kind::kNode;
    for (size_t i : *placed) out.nodes.push_back(alive[i]->node_id);
    return out;
  }
  if (BundlePlacer(bundles, alive, /*use_total=*/true).Place(strategy)) {
    out.kind = SchedulingDecision::Kind::kWait;
    out.reason = std::string("waiting for resources: the ") + BundleStrategyName(strategy) +
                 " placement group of " + std::to_string(bundles.size()) +
                 " bundle(s) fits the cluster's total resources but not what is available now";
    return out;
  }
  out.kind = SchedulingDecision::Kind::kInfeasible;
  out.reason = DescribeInfeasibleBundles(bundles, strategy, view, alive);
  return out;
}

}  // namespace rayk
