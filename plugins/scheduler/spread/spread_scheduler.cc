// The `spread` scheduler: every request is treated as Ray's SPREAD strategy,
// so work lands on as many nodes as possible (fault tolerance, aggregate
// memory bandwidth) rather than packing.
//
// "round_robin" (the default, as Ray's SPREAD) rotates over the nodes that
// can run the request now; it needs no fresh load figures, so a burst of
// requests scheduled from one stale view still fans out. "least_loaded"
// picks the lowest critical utilization and rotates among equals; it evens
// out uneven nodes when the view is current.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "rayk/plugin/scheduling_util.h"

namespace {

const rayk::SettingSpec kSpreadSettings[] = {
    {"order", rayk::SettingType::kString, "\"round_robin\"",
     "\"round_robin\" rotates over the nodes where the request fits now; \"least_loaded\" picks "
     "the least utilised of them, rotating among equals.",
     nullptr, nullptr, "round_robin|least_loaded"},
};

class SpreadScheduler : public rayk::Scheduler {
 public:
  explicit SpreadScheduler(const rayk::PluginContext& ctx) {
    // The loader accepts only the choices the SettingSpec array lists.
    least_loaded_ = ctx.settings().GetString("order") == "least_loaded";
  }

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    std::vector<const rayk::NodeView*> pool = candidates.feasible_now;
    if (least_loaded_) pool = LeastUtilised(pool, request.demand);
    return rayk::SchedulingDecision::OnNode(spread_.Next(pool)->node_id);
  }

 private:
  static std::vector<const rayk::NodeView*> LeastUtilised(
      const std::vector<const rayk::NodeView*>& nodes, const rayk::ResourceSet& demand) {
    std::vector<const rayk::NodeView*> least;
    double lowest = 2;  // above any utilization
    for (const rayk::NodeView* node : nodes) {
      double used = rayk::CriticalUtilization(*node, demand);
      if (used < lowest) {
        lowest = used;
        least.clear();
      }
      if (used == lowest) least.push_back(node);
    }
    return least;
  }

  bool least_loaded_ = false;
  rayk::SpreadCursor spread_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kScheduler, "spread", "1.0",
            "Spreads every request over the nodes where it fits (Ray's SPREAD)", SpreadScheduler,
            kSpreadSettings);
