// The scheduler simulator behind `rayk sim`: a discrete-event simulation of a
// cluster running a Workload, in simulated time, that asks a real scheduler
// plugin (created by the same PluginLoader, through the same Scheduler slot)
// every question a cluster's raylets and GCS would ask it.
//
// What it models, as the kernel does it (common/lease_policy.h):
//  - Tasks: each owner (the node a task names) queues its tasks per scheduling
//    class (demand + placement) and asks its local raylet for worker leases,
//    at most kMaxLeaseRequests at a time; a granted lease runs the class's
//    queued tasks one after another without asking the scheduler again, and
//    is returned after kLeaseIdleTime idle. So most tasks never reach the
//    policy: `lease requests` and `scheduler calls` in the results say how
//    many did. With lease_reuse off, a lease goes back after one task.
//  - The raylet asks the plugin with its view of the cluster: its own node
//    first and exact, every other node as of the last report (every
//    kReportPeriod). A request the policy sends elsewhere spills back to that
//    raylet, which runs it if its own node can ever fit it (asking with a
//    view of its own node only, as a forwarded request does), at most
//    kMaxSpillbacks hops. A waiting request is asked again when resources
//    free up on its raylet's node and at every report.
//  - Actors are placed by the GCS (a view with no local node, as of the last
//    report) and hold their resources for their duration.
//  - Arguments not on the chosen node are pulled before the task runs, at
//    `bandwidth` bytes per second: `bytes moved` in the results.
//  - A node failure kills its leases and actors; their tasks are retried and
//    actors restarted, the node leaves the view at once.
// Not modelled: message latency, worker start-up, object spilling, and the
// raylet asking about every queued request on each new one (it asks about the
// new one only).
//
// The whole cluster view lives in one ClusterView that the simulator updates
// in place; a request costs a copy of the asking node only, never of the
// whole view. Not thread-safe: one simulation per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rayk/plugin/scheduler.h"
#include "sim/workload.h"

namespace rayk::sim {

struct SimOptions {
  double bandwidth = 1.25e9;  // bytes per second for pulling arguments (10 Gbit/s)
  uint64_t seed = 1;  // derives the node ids the trace does not give, so ties break alike each run
  // [scheduler] lease_reuse: false gives each lease back after one task, so
  // every task reaches the policy (as the cluster's owners then do).
  bool lease_reuse = true;
};

// One point of the time series the plot draws.
struct Sample {
  double time = 0;
  std::vector<double> utilization;  // per SimResult::resources, in [0, 1]
  uint64_t queued = 0;              // tasks and actors waiting for a worker
};

struct SimResult {
  double makespan = 0;   // simulated seconds until the last task or actor finished
  double mean_wait = 0;  // arrival to start, over started tasks and actors
  double p99_wait = 0;
  std::vector<std::string> resources;  // by name
  std::vector<double> utilization;     // time average over the makespan, per resource
  uint64_t finished = 0;               // tasks and actors
  uint64_t unfinished = 0;             // never started: infeasible, or their owner died
  uint64_t infeasible_requests = 0;    // requests the policy called infeasible
  uint64_t retried = 0;                // restarts after node failures
  uint64_t lease_requests = 0;         // requests that reached a raylet (and actor placements)
  uint64_t scheduler_calls = 0;        // Schedule() calls, forwarded requests ask twice
  uint64_t spillbacks = 0;
  uint64_t bad_decisions = 0;       // a node that was not in the view or could not fit the demand
  uint64_t bytes_moved = 0;         // argument bytes pulled from another node
  double decision_seconds = 0;      // wall time inside Schedule()
  double wall_seconds = 0;          // wall time of the whole simulation
  std::vector<Sample> samples;      // every kReportPeriod of simulated time
  std::vector<int32_t> placements;  // per task of the workload: the node it last started on, or -1
};

// Makes one scheduler instance, as a raylet or the GCS creates its own.
using SchedulerFactory = std::function<Result<std::shared_ptr<Scheduler>>()>;

// Runs `workload` with schedulers from `factory` making every decision: one
// instance per raylet and one for the GCS, as in a cluster, so that state a
// policy keeps (a SPREAD cursor, a random generator) is per process there too.
// Fails only when the factory does.
Result<SimResult> Simulate(const Workload& workload, const SchedulerFactory& factory,
                           const SimOptions& options);

}  // namespace rayk::sim
