// Stopped workers: a worker process stopped with SIGSTOP (or held by a
// debugger) is alive, so nothing else notices it, and its tasks wait forever.
// The raylet reads each worker's process state on its report round; a worker
// stopped for kStoppedWarnAfter is listed in the node's report (`rayk status`
// shows it) and its lease's owner gets one warning per stop, naming the
// remedies. A task with a timeout (TaskCaller::SetTimeout) is killed and
// retried by its owner without help from here.
#include <spdlog/spdlog.h>

#include "process/session.h"
#include "raylet/raylet.h"

namespace rayk {

namespace {

using protocol::MessageType;

// Long enough that a debugger's short stop or a job-control ^Z ^fg is not
// reported; short enough that a stuck job is explained within seconds.
constexpr int64_t kStoppedWarnAfterMs = 2000;

}  // namespace

void Raylet::CheckStoppedWorkersLocked() {
  const int64_t now = NowMs();
  for (auto& [id, worker] : workers_) {
    if (worker.pid <= 0 || worker.dying) continue;
    char state = ProcessState(worker.pid);
    if (state != 'T' && state != 't') {
      if (worker.stopped_since_ms != 0) {
        spdlog::info("raylet: worker pid {} runs again", worker.pid);
      }
      worker.stopped_since_ms = 0;
      worker.stop_reported = false;
      continue;
    }
    if (worker.stopped_since_ms == 0) worker.stopped_since_ms = now;
    if (worker.stop_reported || now - worker.stopped_since_ms < kStoppedWarnAfterMs) continue;
    worker.stop_reported = true;
    auto lease = leases_.find(worker.lease_id);
    std::string message = "worker pid " + std::to_string(worker.pid) + " on node " +
                          options_.node_id.Hex().substr(0, 8) + " has been stopped (" +
                          (state == 'T' ? "SIGSTOP" : "a debugger") + ") for " +
                          std::to_string((now - worker.stopped_since_ms) / 1000) +
                          " s: its tasks make no progress until it is resumed (kill -CONT " +
                          std::to_string(worker.pid) +
                          ") or killed; a task given SetTimeout is killed and retried by itself";
    spdlog::warn("raylet: {}", message);
    // Actor workers' leases are owned by the GCS, which has no use for it;
    // `rayk status` shows the stop to whoever looks.
    if (lease != leases_.end() && lease->second.owner_address != gcs_->endpoint()) {
      NotifyOwner(lease->second.owner_address,
                  protocol::Encode(MessageType::kLeaseWarning, protocol::LeaseWarning{0, message}));
    }
  }
}

}  // namespace rayk
