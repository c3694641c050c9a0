// `least_loaded`: run each task on the node with the most free CPU, breaking
// ties by the shorter queue. A complete scheduler plugin: one class, one
// registration line. See docs/plugins.md.
#include <algorithm>

#include <rayk/plugin.h>
#include <rayk/scheduler.h>
#include <rayk/scheduling_util.h>

namespace {

const rayk::SettingSpec kSettings[] = {
    {"resource", rayk::SettingType::kString, "\"CPU\"", "The resource whose free amount ranks the nodes."},
};

class LeastLoaded : public rayk::Scheduler {
 public:
  explicit LeastLoaded(const rayk::PluginContext& ctx) : resource_(ctx.settings->GetString("resource")) {}

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    // The shared rules (liveness, labels, affinity, feasibility) come from
    // scheduling_util.h; this policy only ranks.
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    auto best = std::max_element(candidates.feasible_now.begin(), candidates.feasible_now.end(),
                                 [this](const rayk::NodeView* a, const rayk::NodeView* b) {
                                   double free_a = a->available.Get(resource_);
                                   double free_b = b->available.Get(resource_);
                                   if (free_a != free_b) return free_a < free_b;
                                   return a->queue_length > b->queue_length;
                                 });
    return rayk::SchedulingDecision::OnNode((*best)->node_id);
  }

 private:
  std::string resource_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kScheduler, "least_loaded", "1.0",
            "Runs each task on the node with the most free CPU", LeastLoaded, kSettings)
