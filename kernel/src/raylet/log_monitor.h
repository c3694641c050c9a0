// LogMonitor: the raylet's half of log to driver (Ray's log monitor). Every
// kPollPeriod it reads what this node's workers added to their log files
// (stdout and stderr, observability/worker_log.h) and sends it to the GCS in
// one PublishLogs, which the GCS publishes to the drivers of each job. A
// worker is watched from its start (Watch), and one gone from the list gets a
// last read, so that its final lines are not lost, even for a worker that
// lived less than a poll period.
//
// Thread safety: its own thread calls `list_workers` and `send`; both must
// be callable from there. Destruction stops the thread after a last poll.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observability/worker_log.h"
#include "rayk/ids.h"

namespace rayk {

class LogMonitor {
 public:
  static constexpr std::chrono::milliseconds kPollPeriod{100};
  // Bytes read from one worker's log per poll: a worker printing faster than
  // this is read on the next polls.
  static constexpr uint64_t kMaxBytesPerWorker = 1 << 20;

  // The log file of each of the node's workers now.
  using ListWorkers = std::function<std::map<WorkerId, std::string>()>;
  using Send = std::function<void(std::string message)>;

  LogMonitor(ListWorkers list_workers, Send send);
  ~LogMonitor();
  LogMonitor(const LogMonitor&) = delete;

  // A worker started with its stdout in `log_path`: watch it until it is
  // gone from the list (the monitor sleeps while it has none).
  void Watch(const WorkerId& id, const std::string& log_path);

  LogMonitor& operator=(const LogMonitor&) = delete;

 private:
  void Loop();
  void Poll();

  const ListWorkers list_workers_;
  const Send send_;
  struct Readers {
    explicit Readers(const std::string& log_path)
        : out(log_path), err(observability::WorkerErrPath(log_path), /*from_stderr=*/true) {}
    observability::WorkerLogReader out, err;
  };
  std::map<WorkerId, Readers> readers_;  // the thread's own
  std::mutex mu_;
  std::condition_variable wakeup_;
  bool stopping_ = false;                    // with mu_
  std::map<WorkerId, std::string> started_;  // with mu_: Watch's, for the next poll
  std::thread thread_;                       // last: starts once the rest is made
};

}  // namespace rayk
