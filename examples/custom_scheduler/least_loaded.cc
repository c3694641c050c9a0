// `least_loaded`: run each request on the node with the most of one resource
// free (CPU unless configured), breaking ties by the shorter queue.
//
// A complete scheduler plugin: one header, one class, one registration macro.
// It is the worked example of rayk's docs/scheduler-plugins.md, and the
// policy `rayk plugins new scheduler NAME` starts a project from.
// The rules every policy shares (liveness, label selectors, node affinity,
// wait vs infeasible, SPREAD) come from the helpers; the class only ranks.
#include <rayk/plugin/scheduling_util.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace {

// The settings of [scheduler.least_loaded]: `rayk config check` and
// `rayk plugins info` read this array without creating the plugin.
const rayk::SettingSpec kSettings[] = {
    {"resource", rayk::SettingType::kString, "\"CPU\"",
     "The resource whose free amount ranks the nodes."},
};

class LeastLoaded : public rayk::Scheduler {
 public:
  // The loader has checked the types and filled in defaults; values are the
  // plugin's to check. Throwing here fails the start with this one line.
  explicit LeastLoaded(const rayk::PluginContext& ctx)
      : resource_(ctx.settings().GetString("resource")) {
    if (resource_.empty()) {
      throw std::invalid_argument(ctx.config_file +
                                  ": [scheduler.least_loaded] resource is empty; "
                                  "name the resource to rank nodes by, as in resource = \"CPU\"");
    }
  }

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    // Alive nodes that pass the label selector and node affinity, split into
    // those where the demand fits now and those where it fits some day.
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    // Nowhere now: wait (it fits later) or infeasible (never), with a reason.
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    // SPREAD asks for every node in turn, whatever the policy ranks best.
    if (request.strategy == rayk::SchedulingStrategy::kSpread) {
      return rayk::SchedulingDecision::OnNode(spread_.Next(candidates.feasible_now)->node_id);
    }
    // The policy itself.
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
  rayk::SpreadCursor spread_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kScheduler, "least_loaded", "1.0",
            "Runs each request on the node with the most free CPU", LeastLoaded, kSettings);
