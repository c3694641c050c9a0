// The chaos run (issue 15 item 7, after Ray's chaos_many_tasks_kill_raylet
// and chaos_many_actors_kill_raylet): the workload of workload.h, once on a
// fresh 3-node dev cluster left alone (the fault-free time), then once on
// another while the Killer of killer.h SIGKILLs a random worker every second,
// a random raylet (not the driver's) every 10 s with a fresh node added back,
// and the GCS three times. Prints what was killed, what the driver re-ran,
// both times and their ratio (goal: chaos at most 3x fault-free). Exits 0
// when every result of both runs was right, 1 otherwise, 2 on a bad flag;
// a run that hangs past its deadline is killed by a watchdog (exit 3).
//
//   build/bin/chaos_bench [--tasks=10000] [--actors=20] [--calls=10000]
//       [--map-bytes=8192] [--reduce-bytes=131072] [--task-work-us=0]
//       [--call-work-us=0] [--deadline-s=600] [--node-timeout-ms=4000]
//       [--worker-period-ms=1000] [--raylet-period-ms=10000]
//       [--gcs-period-ms=15000] [--gcs-kills=3] [--seed=0]
#include <rayk/api.h>
#include <rayk/cluster.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "dev_cluster.h"
#include "killer.h"
#include "workload.h"

namespace {

using rayk::chaos::KillCounts;
using rayk::chaos::WorkloadResult;

struct Flags {
  rayk::chaos::WorkloadOptions workload;
  int node_timeout_ms = 4000;
  int64_t worker_period_ms = 1000;
  int64_t raylet_period_ms = 10000;
  int64_t gcs_period_ms = 15000;
  int gcs_kills = 3;
  uint64_t seed = 0;
};

// --name=value flags into `flags`; false (having printed why) on a bad one.
bool ParseFlags(int argc, char** argv, Flags& flags) {
  std::map<std::string, int64_t*> numbers = {{"--map-bytes", &flags.workload.map_bytes},
                                             {"--reduce-bytes", &flags.workload.reduce_bytes},
                                             {"--task-work-us", &flags.workload.task_work_us},
                                             {"--call-work-us", &flags.workload.call_work_us},
                                             {"--worker-period-ms", &flags.worker_period_ms},
                                             {"--raylet-period-ms", &flags.raylet_period_ms},
                                             {"--gcs-period-ms", &flags.gcs_period_ms}};
  std::map<std::string, int*> counts = {{"--tasks", &flags.workload.tasks},
                                        {"--actors", &flags.workload.actors},
                                        {"--calls", &flags.workload.calls},
                                        {"--node-timeout-ms", &flags.node_timeout_ms},
                                        {"--gcs-kills", &flags.gcs_kills}};
  int64_t deadline_s = flags.workload.deadline.count() / 1000;
  int64_t seed = 0;
  numbers["--deadline-s"] = &deadline_s;
  numbers["--seed"] = &seed;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    char* end = nullptr;
    const long long value =
        equals == std::string::npos ? 0 : std::strtoll(arg.c_str() + equals + 1, &end, 10);
    const bool numeric = equals != std::string::npos && end != nullptr && *end == '\0' &&
                         end != arg.c_str() + equals + 1 && value >= 0;
    if (numbers.count(name) == 0 && counts.count(name) == 0) {
      std::fprintf(stderr,
                   "chaos_bench: unknown flag '%s'; the flags are listed atop "
                   "bench/chaos/chaos_bench.cc\n",
                   arg.c_str());
      return false;
    }
    if (!numeric) {
      std::fprintf(stderr, "chaos_bench: %s needs a number of 0 or more, as %s=N\n", name.c_str(),
                   name.c_str());
      return false;
    }
    if (numbers.count(name) != 0) *numbers[name] = value;
    if (counts.count(name) != 0) *counts[name] = static_cast<int>(value);
  }
  flags.workload.deadline = std::chrono::seconds(deadline_s);
  flags.seed = static_cast<uint64_t>(seed);
  return true;
}

struct Run {
  WorkloadResult result;
  KillCounts kills;
  std::string cluster_error;  // the dev cluster did not start
};

// One run on a fresh dev cluster, with the killer when `chaos`.
Run RunOnce(const Flags& flags, bool chaos) {
  Run run;
  rayk::testing::DevCluster cluster({.nodes = 3, .node_timeout_ms = flags.node_timeout_ms});
  if (!cluster.ok()) {
    run.cluster_error = "rayk dev up failed: " + cluster.up().output;
    return run;
  }
  // Past the workload's own deadline, something (Shutdown, the cluster's
  // stop) hangs: end it all rather than wait.
  rayk::chaos::Watchdog watchdog(cluster.session_root(),
                                 flags.workload.deadline + std::chrono::minutes(2),
                                 chaos ? "the chaos run" : "the fault-free run");
  rayk::InitOptions init;
  init.log_to_driver = false;  // the retries' warnings are enough noise
  rayk::testing::JoinedDriver driver(cluster, init);
  std::unique_ptr<rayk::chaos::Killer> killer;
  if (chaos) {
    rayk::chaos::KillerOptions options;
    options.session_dir = cluster.session_dir();
    options.add_node = [&cluster] {
      auto added = cluster.Rayk("dev add-node");
      return added.exit_code == 0 ? std::string() : added.output;
    };
    options.spare_node_id = rayk::CurrentNodeId().Hex();
    options.worker_period = std::chrono::milliseconds(flags.worker_period_ms);
    options.raylet_period = std::chrono::milliseconds(flags.raylet_period_ms);
    options.gcs_period = std::chrono::milliseconds(flags.gcs_period_ms);
    options.gcs_kills = flags.gcs_kills;
    options.seed = flags.seed;
    killer = std::make_unique<rayk::chaos::Killer>(std::move(options));
    killer->Start();
  }
  run.result = rayk::chaos::RunWorkload(flags.workload);
  if (killer) run.kills = killer->Stop();
  return run;
}

std::string Verdict(const Run& run) {
  if (!run.cluster_error.empty()) return "no cluster";
  return run.result.ok ? "all right" : "FAILED";
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  const int map_tasks = rayk::chaos::MapTasksFor(flags.workload.tasks);
  std::printf("chaos run: 3-node dev cluster (1 CPU each, node timeout %d ms)\n",
              flags.node_timeout_ms);
  std::fflush(stdout);

  Run calm = RunOnce(flags, false);
  std::printf("fault-free run: %.1f s, %s%s%s\n", calm.result.seconds, Verdict(calm).c_str(),
              calm.result.ok ? "" : ": ", (calm.cluster_error + calm.result.error).c_str());
  std::fflush(stdout);
  Run chaos = RunOnce(flags, true);
  std::printf("chaos run: %.1f s, %s%s%s\n", chaos.result.seconds, Verdict(chaos).c_str(),
              chaos.result.ok ? "" : ": ", (chaos.cluster_error + chaos.result.error).c_str());

  const WorkloadResult& c = chaos.result;
  std::printf(
      "\nworkload: %d tasks (%d map of %lld B, %d reduce of %lld B, fan-in 4), "
      "%d actors taking %d calls\n",
      c.map_tasks + c.reduce_tasks, map_tasks, static_cast<long long>(flags.workload.map_bytes),
      c.reduce_tasks, static_cast<long long>(flags.workload.reduce_bytes), flags.workload.actors,
      flags.workload.calls);
  std::printf(
      "killer: a worker every %lld ms, a raylet every %lld ms (a node added back), the "
      "GCS every %lld ms up to %d times\n\n",
      static_cast<long long>(flags.worker_period_ms),
      static_cast<long long>(flags.raylet_period_ms), static_cast<long long>(flags.gcs_period_ms),
      flags.gcs_kills);
  auto row = [](const char* what, const std::string& calm, const std::string& chaos) {
    std::printf("| %-34s | %12s | %12s |\n", what, calm.c_str(), chaos.c_str());
  };
  auto number = [](double value) { return std::to_string(static_cast<long long>(value)); };
  row("", "fault-free", "chaos");
  std::printf("|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str());
  row("results", Verdict(calm), Verdict(chaos));
  row("tree root right", calm.result.root_right ? "yes" : "no", c.root_right ? "yes" : "no");
  row("actor calls answered right", number(calm.result.calls_checked), number(c.calls_checked));
  row("workers killed", "0", number(chaos.kills.workers));
  row("raylets killed (nodes added back)", "0",
      number(chaos.kills.raylets) + " (" + number(chaos.kills.nodes_added) + ")");
  row("GCS servers killed", "0", number(chaos.kills.gcs));
  row("task retries", number(calm.result.task_retries), number(c.task_retries));
  row("objects reconstructed", number(calm.result.objects_reconstructed),
      number(c.objects_reconstructed));
  row("actor call retries", number(calm.result.actor_call_retries), number(c.actor_call_retries));
  row("actor restarts", number(calm.result.actor_restarts), number(c.actor_restarts));
  char seconds[2][32];
  std::snprintf(seconds[0], sizeof(seconds[0]), "%.1f", calm.result.seconds);
  std::snprintf(seconds[1], sizeof(seconds[1]), "%.1f", c.seconds);
  row("time (s)", seconds[0], seconds[1]);
  const double ratio = calm.result.seconds > 0 ? c.seconds / calm.result.seconds : 0;
  std::printf("\nchaos / fault-free time: %.2fx (goal: at most 3x)\n", ratio);
  for (const std::string& error : chaos.kills.errors) std::printf("killer: %s\n", error.c_str());
  return calm.result.ok && chaos.result.ok ? 0 : 1;
}
