// The `hybrid` scheduler, Ray's default policy. It packs work onto the node
// that asks (a warm worker pool, no data to move) until that node gets busy,
// then spreads: a node past `spread_threshold` is where objects start to spill
// and neighbours get noisy, so the next request goes to one of the k least
// utilised nodes, chosen at random so that many schedulers working from the
// same stale view do not all pile onto the same "best" node.
//
// Each feasible node gets a score, its critical utilization truncated to 0
// below the threshold. The preferred node (the one holding most of the
// arguments, else the local node) wins when no node scores lower; otherwise
// the pick is uniform among the k lowest scores, ties in node-id order.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "rayk/plugin/scheduling_util.h"

namespace {

const rayk::SettingSpec kHybridSettings[] = {
    {"spread_threshold", rayk::SettingType::kFloat, "0.5",
     "Utilization in [0, 1] below which a node counts as idle: the local node keeps work until it "
     "passes this. 0 always takes the least utilised node; 1 packs a node until it is full.",
     "0", "1"},
    {"top_k_absolute", rayk::SettingType::kInteger, "1",
     "Pick among at least this many of the least utilised nodes.", "1", "100000"},
    {"top_k_fraction", rayk::SettingType::kFloat, "0.2",
     "Pick among at least this fraction, in [0, 1], of the alive nodes.", "0", "1"},
    {"seed", rayk::SettingType::kInteger, "0",
     "Seed of the random pick among the top k; 0 seeds from the clock."},
};

class HybridScheduler : public rayk::Scheduler {
 public:
  explicit HybridScheduler(const rayk::PluginContext& ctx) {
    // The loader has checked the ranges the SettingSpec array declares.
    const rayk::PluginSettings& settings = ctx.settings();
    spread_threshold_ = settings.GetFloat("spread_threshold");
    top_k_absolute_ = settings.GetInteger("top_k_absolute");
    top_k_fraction_ = settings.GetFloat("top_k_fraction");
    int64_t seed = settings.GetInteger("seed");
    if (seed == 0) {
      seed = static_cast<int64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    rng_.seed(static_cast<uint64_t>(seed));
  }

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    if (request.strategy == rayk::SchedulingStrategy::kSpread) {
      return rayk::SchedulingDecision::OnNode(spread_.Next(candidates.feasible_now)->node_id);
    }
    return rayk::SchedulingDecision::OnNode(Pick(request, view, candidates.feasible_now)->node_id);
  }

 private:
  struct Scored {
    const rayk::NodeView* node;
    double score;
  };

  double Score(const rayk::NodeView& node, const rayk::ResourceSet& demand) const {
    double used = rayk::CriticalUtilization(node, demand);
    return used < spread_threshold_ ? 0 : used;
  }

  // The node the request leans towards before load is considered: where its
  // arguments are (Ray's locality-aware leasing), else the node asking.
  const rayk::NodeView* Preferred(const rayk::SchedulingRequest& request,
                                  const rayk::ClusterView& view,
                                  const std::vector<const rayk::NodeView*>& nodes) const {
    const rayk::NodeView* local = nullptr;
    if (!view.local_node.IsNil()) {
      for (const rayk::NodeView* node : nodes) {
        if (node->node_id == view.local_node) local = node;
      }
    }
    if (request.strategy != rayk::SchedulingStrategy::kDefault) return local;
    const rayk::NodeView* data = rayk::MostArgumentBytes(request, nodes);
    if (data == nullptr) return local;
    // The local node holding as much as the best needs no transfer either.
    if (local != nullptr && Bytes(request, *local) == Bytes(request, *data)) return local;
    return data;
  }

  static uint64_t Bytes(const rayk::SchedulingRequest& request, const rayk::NodeView& node) {
    auto it = request.argument_bytes.find(node.node_id);
    return it == request.argument_bytes.end() ? 0 : it->second;
  }

  const rayk::NodeView* Pick(const rayk::SchedulingRequest& request, const rayk::ClusterView& view,
                             const std::vector<const rayk::NodeView*>& nodes) {
    if (nodes.size() == 1) return nodes.front();
    std::vector<Scored> scored;
    scored.reserve(nodes.size());
    for (const rayk::NodeView* node : nodes) scored.push_back({node, Score(*node, request.demand)});
    // Equal scores keep node-id order, so with the default k = 1 an idle
    // cluster fills one node to the threshold before it starts the next.
    auto ranks_before = [](const Scored& a, const Scored& b) {
      if (a.score != b.score) return a.score < b.score;
      return a.node->node_id < b.node->node_id;
    };
    if (const rayk::NodeView* preferred = Preferred(request, view, nodes)) {
      double best = scored.front().score;
      for (const Scored& s : scored) best = std::min(best, s.score);
      if (Score(*preferred, request.demand) <= best) return preferred;
    }
    size_t alive = 0;
    for (const rayk::NodeView& node : view.nodes) alive += node.alive ? 1 : 0;
    size_t k = std::max<size_t>(static_cast<size_t>(top_k_absolute_),
                                static_cast<size_t>(std::floor(top_k_fraction_ * alive)));
    k = std::min(k, scored.size());
    // Only which k nodes rank first matters, since the pick among them is
    // uniform: a partition finds them in linear time where a sort took
    // n log n (most of a decision at 1,000 nodes).
    std::nth_element(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(k - 1),
                     scored.end(), ranks_before);
    std::uniform_int_distribution<size_t> pick(0, k - 1);
    return scored[pick(rng_)].node;
  }

  double spread_threshold_ = 0.5;
  int64_t top_k_absolute_ = 1;
  double top_k_fraction_ = 0.2;
  std::mt19937_64 rng_;
  rayk::SpreadCursor spread_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kScheduler, "hybrid", "1.0",
            "Ray's default: keeps work local until the node is busy, then spreads over the least "
            "utilised nodes",
            HybridScheduler, kHybridSettings);
