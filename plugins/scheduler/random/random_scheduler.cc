// The `random` scheduler: a uniform pick among the nodes where the demand fits
// now. With no state beyond its generator it is the simplest correct policy,
// and a baseline the smarter ones are measured against.
#include <chrono>
#include <cstdint>
#include <random>

#include "rayk/plugin/plugin.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/scheduling_util.h"

namespace {

const rayk::SettingSpec kRandomSettings[] = {
    {"seed", rayk::SettingType::kInteger, "0",
     "Seed of the random generator; 0 seeds from the clock. Fix it to replay a placement."},
};

class RandomScheduler : public rayk::Scheduler {
 public:
  explicit RandomScheduler(const rayk::PluginContext& ctx) {
    int64_t seed = ctx.settings().GetInteger("seed");
    if (seed == 0) {
      seed = static_cast<int64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    rng_.seed(static_cast<uint64_t>(seed));
  }

  rayk::SchedulingDecision Schedule(const rayk::SchedulingRequest& request,
                                    const rayk::ClusterView& view) override {
    rayk::CandidateSet candidates = rayk::CandidateNodes(request, view);
    if (candidates.feasible_now.empty()) return rayk::WaitOrInfeasible(request, view, candidates);
    // A random pick spreads only on average; SPREAD promises every node a turn.
    if (request.strategy == rayk::SchedulingStrategy::kSpread) {
      return rayk::SchedulingDecision::OnNode(spread_.Next(candidates.feasible_now)->node_id);
    }
    std::uniform_int_distribution<size_t> pick(0, candidates.feasible_now.size() - 1);
    return rayk::SchedulingDecision::OnNode(candidates.feasible_now[pick(rng_)]->node_id);
  }

 private:
  std::mt19937_64 rng_;
  rayk::SpreadCursor spread_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kScheduler, "random", "1.0",
            "Picks uniformly among the nodes where the demand fits now", RandomScheduler,
            kRandomSettings);
