// A workload for `rayk sim`: the nodes of a simulated cluster, the tasks and
// actors that arrive at it, and the node failures that happen to it. It comes
// from a JSON-lines trace (docs/scheduler-plugins.md, "Trace format") or from
// the built-in generator.
//
// Tasks are stored compactly (a million of them take ~50 MB): what the
// scheduler sees of a task, its demand and placement, is interned once per
// distinct value as a DemandClass, which is also the task's scheduling class
// in Ray's sense (tasks of one class share leases). A plain value; not
// synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rayk/node.h"
#include "rayk/resources.h"
#include "rayk/status.h"

namespace rayk::sim {

struct NodeSpec {
  std::string name;  // as the trace names it, for affinity and argument locations
  NodeId id;         // a real node's id (32 hex digits in the trace); Nil: one is made up
  ResourceSet resources;
  std::map<std::string, std::string> labels;
};

// Demand and placement: what decides a request's scheduling class.
struct DemandClass {
  ResourceSet demand;
  SchedulingStrategy strategy = SchedulingStrategy::kDefault;
  int32_t affinity_node = -1;  // index into Workload::nodes, with kNodeAffinity
  bool affinity_soft = false;
  std::map<std::string, std::string> label_selector;
};

struct Argument {
  int32_t node;  // where the argument's object lives
  uint64_t bytes;
};

struct Task {
  double arrival = 0;   // seconds of simulated time
  double duration = 0;  // seconds of run time once its arguments are local
  uint32_t demand_class = 0;
  int32_t owner = 0;       // the node of the process that submits it
  uint32_t first_arg = 0;  // into Workload::args
  uint32_t arg_count = 0;
  bool actor = false;  // placed by the GCS, holds its resources for `duration`
};

struct NodeFailure {
  double time = 0;
  int32_t node = 0;
};

struct Workload {
  std::vector<NodeSpec> nodes;
  std::vector<DemandClass> classes;
  std::vector<Task> tasks;  // by arrival time
  std::vector<Argument> args;
  std::vector<NodeFailure> failures;  // by time

  // The index of `demand` in `classes`, adding it when new.
  uint32_t Intern(const DemandClass& demand);
  // Sorts tasks and failures by time (stable: equal times keep trace order).
  void SortByTime();

 private:
  std::map<std::string, uint32_t> class_index_;
};

// Reads a JSON-lines trace. Every error is one line naming the file, the line
// and the field: "trace.jsonl:12: task: 'duration' must be a number >= 0".
Result<Workload> ReadTrace(const std::string& path);

// Writes `workload` as a trace that ReadTrace reads back to the same workload.
Status WriteTrace(const Workload& workload, const std::string& path);

// What `rayk sim --generate` makes. Arrivals are a Poisson process; durations
// are exponential (or lognormal with sigma `duration_sigma` > 0) with the
// given mean; each task's demand is drawn from `demands` by weight; a task has
// one argument with probability `arg_fraction`, of exponential size with mean
// `arg_bytes_mean`, on a uniformly chosen node.
struct GenerateOptions {
  int nodes = 1000;
  std::string node_resources = R"({"CPU": 16, "memory": 64e9})";
  int64_t tasks = 1000000;
  double arrival_rate = 9000;  // tasks per simulated second
  double duration_mean = 1.0;
  double duration_sigma = 0;  // 0: exponential
  // JSON array of [weight, demand]: [[0.8, {"CPU": 1}], [0.2, {"CPU": 4, "memory": 8e9}]]
  std::string demands =
      R"([[0.7, {"CPU": 1}], [0.2, {"CPU": 2, "memory": 4e9}], [0.1, {"CPU": 4}]])";
  double spread_fraction = 0;  // tasks with the SPREAD strategy
  double arg_fraction = 0.5;
  double arg_bytes_mean = 8e6;
  int owners = 1;      // driver nodes submitting the tasks, round robin
  int64_t actors = 0;  // long-lived actors among the arrivals
  int failures = 0;    // nodes failing at uniform times (never an owner's node)
  uint64_t seed = 1;
};

Result<Workload> Generate(const GenerateOptions& options);

}  // namespace rayk::sim
