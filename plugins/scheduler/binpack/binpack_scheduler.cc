// The `binpack` scheduler: each request goes to the node that would be the
// most utilised once it runs there (best fit), so work fills as few nodes as
// possible and the rest stay idle: free for a large request later, or for an
// autoscaler to remove. Equal nodes are taken in node-id order, so an idle
// cluster fills one node before it starts the next.
//
// SPREAD requests still spread (round robin); node affinity and label
// selectors narrow the candidates first, as for every policy.
#include <vector>

#include "rayk/plugin/scheduling_util.h"

namespace {

class BinpackScheduler : public rayk::Scheduler {
 public:
  explicit BinpackScheduler(const rayk::PluginContext&) {}

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    if (request.strategy == rayk::SchedulingStrategy::kSpread) {
      return rayk::SchedulingDecision::OnNode(spread_.Next(candidates.feasible_now)->node_id);
    }
    const rayk::NodeView* best = nullptr;
    double best_used = -1;
    for (const rayk::NodeView* node : candidates.feasible_now) {
      double used = rayk::CriticalUtilizationAfter(*node, request.demand);
      if (used > best_used || (used == best_used && node->node_id < best->node_id)) {
        best = node;
        best_used = used;
      }
    }
    return rayk::SchedulingDecision::OnNode(best->node_id);
  }

 private:
  rayk::SpreadCursor spread_;
};

}  // namespace

RAYK_PLUGIN(
    rayk::PluginKind::kScheduler, "binpack", "1.0",
    "Packs each request onto the fullest node where it fits, using as few nodes as possible",
    BinpackScheduler, RAYK_NO_SETTINGS);
