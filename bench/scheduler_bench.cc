// Decision time of every scheduler plugin at 100, 1,000 and 10,000 nodes
// (issue 19 item 9; goal: under 10 us per request at 1,000 nodes).
//
// Each case asks a plugin, loaded from the plugin search path as the raylet
// and the GCS load it, to place one request on a cluster view of N nodes. The
// view looks like a busy heterogeneous cluster: 16 CPUs per node with a random
// part in use, every eighth node with 4 GPUs, labels on every node, queues on
// some. The cases:
//   Schedule/default   CPU:1, the plugin's own policy (what a task lease asks)
//   Schedule/spread    CPU:1 with SPREAD
//   Schedule/labels    CPU:1 with a label selector matching a quarter of the nodes
//   Schedule/gpu       CPU:1 GPU:1 (only every eighth node fits)
//   PlaceBundles/pack  4 bundles of CPU:2, PACK (the GCS placing a group)
//   PlaceBundles/strict_spread  4 bundles of CPU:2, STRICT_SPREAD
// Views are built once per case; the timed loop calls the plugin only (the
// raylet and GCS also only call it: they keep their view between requests).
//
//   build/bin/scheduler_bench [--benchmark_filter=REGEX]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rayk/host/plugin_loader.h"
#include "rayk/label_selector.h"
#include "rayk/plugin/scheduler.h"

namespace rayk {
namespace {

ClusterView BusyCluster(int nodes) {
  std::mt19937 random(42);
  std::uniform_int_distribution<int> used_cpus(0, 16);
  std::uniform_int_distribution<int> queued(0, 3);
  ClusterView view;
  view.version = 1;
  view.nodes.reserve(nodes);
  for (int i = 0; i < nodes; ++i) {
    NodeView node;
    node.node_id = NodeId::FromRandom();
    node.address = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":7000";
    node.total = {{"CPU", 16}, {"memory", 64e9}};
    if (i % 8 == 0) node.total.Set("GPU", 4);
    node.available = node.total;
    node.available.Set("CPU", 16 - used_cpus(random));
    node.labels = {{kNodeIdLabel, node.node_id.Hex()},
                   {kHostnameLabel, "host-" + std::to_string(i)},
                   {kNodeAddressLabel, node.address},
                   {"zone", "zone-" + std::to_string(i % 4)}};
    node.queue_length = node.available.Get("CPU") == 0 ? queued(random) : 0;
    view.nodes.push_back(std::move(node));
  }
  // The raylet's view names itself; the GCS's names no node. The raylet's is
  // the common case (every task lease), so the cases use it.
  view.local_node = view.nodes.front().node_id;
  return view;
}

SchedulingRequest Request(ResourceSet demand, SchedulingStrategy strategy = {}) {
  SchedulingRequest request;
  request.demand = std::move(demand);
  request.strategy = strategy;
  return request;
}

void RunSchedule(benchmark::State& state, std::shared_ptr<Scheduler> scheduler,
                 SchedulingRequest request) {
  ClusterView view = BusyCluster(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    SchedulingDecision decision = scheduler->Schedule(request, view);
    benchmark::DoNotOptimize(decision);
  }
}

void RunPlaceBundles(benchmark::State& state, std::shared_ptr<Scheduler> scheduler,
                     BundleStrategy strategy) {
  ClusterView view = BusyCluster(static_cast<int>(state.range(0)));
  std::vector<ResourceSet> bundles(4, ResourceSet{{"CPU", 2}});
  for (auto _ : state) {
    BundlePlacement placement = scheduler->PlaceBundles(bundles, strategy, view);
    benchmark::DoNotOptimize(placement);
  }
}

// Registers every case for every scheduler plugin on the search path.
int RegisterCases() {
  PluginLoader loader;
  int plugins = 0;
  for (const PluginInfo& info : loader.List()) {
    if (info.kind != PluginKind::kScheduler) continue;
    auto created = loader.Create(PluginKind::kScheduler, info.name, {}, "<bench>", {});
    if (!created.ok()) {
      std::fprintf(stderr, "scheduler_bench: %s\n", created.status().ToString().c_str());
      continue;
    }
    auto scheduler = std::shared_ptr<Scheduler>(*created, static_cast<Scheduler*>(created->get()));
    ++plugins;
    SchedulingRequest labels = Request({{"CPU", 1}});
    labels.label_selector = {{"zone", "zone-1"}};
    const std::pair<const char*, SchedulingRequest> schedule_cases[] = {
        {"default", Request({{"CPU", 1}})},
        {"spread", Request({{"CPU", 1}}, SchedulingStrategy::kSpread)},
        {"labels", labels},
        {"gpu", Request({{"CPU", 1}, {"GPU", 1}})},
    };
    for (const auto& [name, request] : schedule_cases) {
      benchmark::RegisterBenchmark(("Schedule/" + info.name + "/" + name).c_str(), RunSchedule,
                                   scheduler, request)
          ->Arg(100)
          ->Arg(1000)
          ->Arg(10000)
          ->Unit(benchmark::kMicrosecond);
    }
    const std::pair<const char*, BundleStrategy> bundle_cases[] = {
        {"pack", BundleStrategy::kPack}, {"strict_spread", BundleStrategy::kStrictSpread}};
    for (const auto& [name, strategy] : bundle_cases) {
      benchmark::RegisterBenchmark(("PlaceBundles/" + info.name + "/" + name).c_str(),
                                   RunPlaceBundles, scheduler, strategy)
          ->Arg(100)
          ->Arg(1000)
          ->Arg(10000)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return plugins;
}

}  // namespace
}  // namespace rayk

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (rayk::RegisterCases() == 0) {
    std::fprintf(stderr,
                 "scheduler_bench: no scheduler plugin on the search path; build the plugins "
                 "(cmake --build build) or set RAYK_PLUGIN_PATH\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
