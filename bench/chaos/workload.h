// The chaos run's workload (issue 15 item 7, after Ray's release tests
// chaos_many_tasks_kill_raylet and chaos_many_actors_kill_raylet): a tree of
// tasks and a set of actors taking calls, every result of which the driver
// can check, run by the calling process as the driver of a joined cluster.
//
// The tree: a map stage (Map(i) makes a vector from i alone), then a tree
// reduce of fan-in 4 (Reduce4 sums its inputs element-wise into a vector of
// reduce_bytes) down to one root. Reduce results are large enough to live in
// a node's object store, so a node's death loses the ones it held and the
// driver must make them again from their lineage (recursively, when their
// inputs went with them). Every function is pure, so the driver knows the
// root's value by running the same functions locally.
//
// The actors: each is made from a seed and builds a table from it in its
// factory; Call(x) is a pure function of the seed, the table and x. A
// restarted actor rebuilds the table, so every answer is checkable across
// restarts. The calls are sent all at once, from a thread of their own, so
// that each actor works through its share while the tree runs.
//
// Every task has max_retries -1 and every actor max_restarts -1 and
// max_task_retries -1 (no limit, as in Ray's chaos tests): a result is never
// allowed to fail, only to take longer; a deadline bounds the whole run, and
// running past it is reported as a hang, never waited out.
//
// Thread-safety: RunWorkload is called by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rayk::chaos {

// The remote functions and actor (registered with RAYK_REMOTE in workload.cc).
using Values = std::vector<uint64_t>;
uint64_t Mix(uint64_t x);  // SplitMix64's finalizer
// `bytes` / 8 numbers made from i; sleeps work_us first (the task's "work").
Values Map(int64_t i, int64_t bytes, int64_t work_us);
// out[k] = sum over the non-empty inputs v of v[k % v.size()], for `bytes` / 8 values of k.
Values Reduce4(const Values& a, const Values& b, const Values& c, const Values& d, int64_t bytes);

class ChaosActor {
 public:
  explicit ChaosActor(uint64_t seed);
  static ChaosActor* Create(uint64_t seed);
  // A function of the seed (through the table) and x alone; sleeps work_us first.
  uint64_t Call(uint64_t x, int64_t work_us);

 private:
  uint64_t seed_;
  std::vector<uint64_t> table_;  // made from the seed: the state a restart rebuilds
};

struct WorkloadOptions {
  int tasks = 10000;  // map and reduce tasks together (the tree is cut to at most this many)
  int64_t map_bytes = 8 * 1024;
  int64_t reduce_bytes = 128 * 1024;  // over the inline limit: results live in a node's store
  int64_t task_work_us = 0;
  int actors = 20;
  int calls = 10000;  // in total, spread evenly over the actors
  int64_t call_work_us = 0;
  // The whole run, from the first submission to the last result checked.
  std::chrono::milliseconds deadline{std::chrono::minutes(10)};
};

struct WorkloadResult {
  bool ok = false;    // every result was there in time and right
  std::string error;  // else the first thing that went wrong, in one line
  double seconds = 0;
  int map_tasks = 0;
  int reduce_tasks = 0;
  int calls_checked = 0;  // actor calls whose answers were right
  int calls_wrong = 0;
  bool root_right = false;
  // The driver's own counts (it owns every task and call): re-runs to get past faults.
  uint64_t task_retries = 0;
  uint64_t actor_call_retries = 0;
  uint64_t objects_reconstructed = 0;
  int actor_restarts = 0;  // summed over the run's actors, as the GCS counts them
};

// The number of map tasks of a tree with at most `tasks` tasks in all.
int MapTasksFor(int tasks);

// Runs the workload on the cluster this process is a driver of (rayk::Init
// done) and checks every result. Never throws; never waits past the deadline.
WorkloadResult RunWorkload(const WorkloadOptions& options);

}  // namespace rayk::chaos
