// A driver for the multi-host tests, joining the cluster at $RAYK_ADDRESS
// from whichever network host it runs on:
//   rayk_multihost_driver spread       runs SPREAD tasks; prints "node <raylet address>" per node
//                                      and "code <path>" per library the driver loaded its
//                                      functions from
//   used rayk_multihost_driver object B C   makes a 64 MiB vector on the node at address B and sums
//                                      it on the node at C; prints "sum S expected E made R used R"
//   rayk_multihost_driver actor-on IP NAME   creates a detached named Counter (max_restarts 1) that
//                                            prefers the node at IP; prints "pid P"
//   rayk_multihost_driver actor-pid NAME     prints "pid P" of the named Counter's process
//   rayk_multihost_driver transfer B C ROUNDS   times summing a fresh 64 MiB object made on B,
//                                      on B itself and on C (which pulls it first); prints
//                                      "local_s L remote_s R" (medians of ROUNDS)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "functions/test_functions.h"
#include "rayk/internal/function_registry.h"

namespace {

std::string RayletOf(const std::string& node_hex) {
  for (const rayk::NodeView& node : rayk::Nodes()) {
    if (node.node_id.Hex() == node_hex) return node.address;
  }
  return "?";
}

rayk::NodeId NodeAt(const std::string& ip) {
  for (const rayk::NodeView& node : rayk::Nodes()) {
    if (node.alive && node.address.find("//" + ip + ":") != std::string::npos) return node.node_id;
  }
  std::fprintf(stderr, "no alive node at %s\n", ip.c_str());
  std::exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string command = argv[1];
  // One namespace for every run, so that one run finds the actor another named.
  rayk::InitOptions options;
  options.namespace_name = "multihost";
  rayk::Init(options);
  if (command == "spread") {
    std::set<std::string> nodes;
    for (int round = 0; round < 20 && nodes.size() < 3; ++round) {
      std::vector<rayk::ObjectRef<std::string>> refs;
      for (int i = 0; i < 6; ++i) {
        refs.push_back(rayk::Task(test_functions::NodeAfterMs).SetSpread().Remote(int64_t{100}));
      }
      for (auto& ref : refs) nodes.insert(*rayk::Get(ref));
    }
    for (const std::string& node : nodes) std::printf("node %s\n", RayletOf(node).c_str());
    for (const std::string& library : rayk::internal::FunctionRegistry::Instance().Libraries())
      std::printf("code %s\n", library.c_str());
  } else if (command == "actor-on" && argc >= 4) {
    auto counter = rayk::Actor(test_functions::Counter::Create)
                       .SetName(argv[3])
                       .SetLifetimeDetached()
                       .SetMaxRestarts(1)
                       .SetNodeAffinity(NodeAt(argv[2]), /*soft=*/true)
                       .Remote(0);
    std::printf(
        "pid %lld\n",
        static_cast<long long>(*rayk::Get(counter.Task(&test_functions::Counter::Pid).Remote())));
  } else if (command == "actor-pid" && argc >= 3) {
    auto counter = rayk::GetActor<test_functions::Counter>(argv[2]);
    std::printf(
        "pid %lld\n",
        static_cast<long long>(*rayk::Get(counter.Task(&test_functions::Counter::Pid).Remote())));
  } else if (command == "object" && argc >= 4) {
    // 8 Mi doubles: a 64 MiB object, made on one host and pulled to another.
    const int64_t n = 8 << 20;
    rayk::NodeId made_on = NodeAt(argv[2]);
    rayk::NodeId used_on = NodeAt(argv[3]);
    auto made = rayk::Task(test_functions::MakeVector).SetNodeAffinity(made_on).Remote(n);
    auto sum = rayk::Task(test_functions::SumVector).SetNodeAffinity(used_on).Remote(made);
    std::printf("sum %.0f expected %.0f made %s used %s\n", *rayk::Get(sum),
                static_cast<double>(n) * (n - 1) / 2, RayletOf(made_on.Hex()).c_str(),
                RayletOf(used_on.Hex()).c_str());
  } else if (command == "transfer" && argc >= 5) {
    const int64_t n = 8 << 20;  // 64 MiB of doubles
    rayk::NodeId made_on = NodeAt(argv[2]);
    rayk::NodeId used_on = NodeAt(argv[3]);
    std::vector<double> local, remote;
    for (int round = 0; round < std::atoi(argv[4]); ++round) {
      for (auto* where : {&made_on, &used_on}) {
        auto made = rayk::Task(test_functions::MakeVector).SetNodeAffinity(made_on).Remote(n);
        std::vector<decltype(made)> refs{made};
        rayk::Wait(refs, 1, std::chrono::milliseconds(60000));
        auto start = std::chrono::steady_clock::now();
        auto sum = rayk::Task(test_functions::SumVector).SetNodeAffinity(*where).Remote(made);
        rayk::Get(sum);
        std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        (where == &made_on ? local : remote).push_back(took.count());
      }
    }
    std::sort(local.begin(), local.end());
    std::sort(remote.begin(), remote.end());
    std::printf("local_s %.6f remote_s %.6f\n", local[local.size() / 2], remote[remote.size() / 2]);
  }
  rayk::Shutdown();
  return 0;
}
