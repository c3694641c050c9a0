// The chaos run's killer (after the node killer of Ray's chaos tests): on a
// dev cluster (`rayk dev up`), from a thread of its own, it SIGKILLs
//   - a random worker process every worker_period,
//   - a random raylet every raylet_period, and starts a fresh node in its
//     place (`rayk dev add-node`), so the cluster keeps its size,
//   - the GCS server every gcs_period, gcs_kills times; its supervisor
//     restarts it from its sqlite file, and the killer waits for the new
//     server before it kills anything else.
// The raylet the driver uses is spared, as Ray's killer spares the head node:
// a driver whose raylet dies fails its waiting work by design
// (docs/clusters.md), which is not what a chaos run is about.
//
// Also here: Watchdog, which ends a run that hangs past its deadline by
// killing the cluster's processes, so that nothing outlives a stuck run.
//
// Thread-safety: a Killer is started and stopped by one thread; its thread
// only reads the session's files and signals processes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rayk::chaos {

struct KillerOptions {
  // The dev cluster's session folder: its processes' command lines name it,
  // and it holds gcs_server.pid and nodes/<i>/node.json.
  std::string session_dir;
  // Starts one more node in the cluster (`rayk dev add-node`); "" on
  // success, else what went wrong.
  std::function<std::string()> add_node;
  std::string spare_node_id;  // hex id of the node never killed (the driver's)
  std::chrono::milliseconds worker_period{1000};
  std::chrono::milliseconds raylet_period{10000};
  std::chrono::milliseconds gcs_period{15000};
  // Limits, after which that kind stops (-1: none). The CI test stops the
  // killer once each kind has reached its limit.
  int max_worker_kills = -1;
  int max_raylet_kills = -1;
  int gcs_kills = 3;
  uint64_t seed = 0;  // 0: from the clock
};

struct KillCounts {
  int workers = 0;
  int raylets = 0;
  int gcs = 0;
  int nodes_added = 0;
  // What the killer could not do (no worker to kill is not an error).
  std::vector<std::string> errors;
};

class Killer {
 public:
  explicit Killer(KillerOptions options);
  ~Killer();  // stops it
  Killer(const Killer&) = delete;
  Killer& operator=(const Killer&) = delete;

  void Start();
  // Stops the thread (after the kill it is in, if any) and returns the counts.
  KillCounts Stop();
  // Whether every kind with a limit has reached it (never, without limits).
  bool Done() const { return done_; }
  KillCounts Counts();

 private:
  void Run();
  void KillWorker();
  void KillRaylet();
  void KillGcs();
  bool Sleep(std::chrono::milliseconds how_long);  // false once stopping

  const KillerOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> done_{false};
  KillCounts counts_;  // with mu_
  uint64_t random_ = 0;
};

// The pids of the running processes whose command line names `text`, for
// `role` ("worker", "raylet", ...) as its first argument; any role when "".
std::vector<pid_t> ProcessesOf(const std::string& text, const std::string& role = "");
// Whether `pid` runs (exists, and is not a zombie).
bool Running(pid_t pid);

// Ends the process with a message (exit code 3) when `after` passes before it
// is destroyed, killing first every process whose command line names
// `session_root` and removing the store segments they leave: a run that hangs
// fails loudly and leaves nothing behind.
class Watchdog {
 public:
  Watchdog(std::string session_root, std::chrono::milliseconds after, std::string what);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace rayk::chaos
