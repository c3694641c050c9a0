// Log to driver (Ray's log_to_driver): a driver prints its job's worker
// output as it happens, what workers wrote to stdout on its own stdout and
// what they wrote to stderr on its stderr, each line prefixed with where it
// came from:
//
//   (Counter pid=4242, node=3f9a01c2) hello from the actor
//
// The name is the task's function, or the actor's name (else its class).
// A line repeated by the same worker is printed once; the repeats are
// counted and printed once as "LINE [repeated Nx]" when another line comes
// from that worker, when it has been quiet for kFoldWindow, or at the end.
//
// LogPrinter does the formatting and folding; LogToDriver subscribes to the
// job's topic at the GCS (rpc/log_messages.h), where the raylets' log
// monitors send the lines, and feeds a printer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "gcs/gcs_client.h"
#include "gcs/gcs_subscription.h"
#include "rpc/log_messages.h"

namespace rayk::observability {

// Thread safety: every method may be called from any thread.
class LogPrinter {
 public:
  static constexpr std::chrono::milliseconds kFoldWindow{1000};

  // Lines a worker wrote to its stdout go to `out`, those of its stderr to `err`.
  LogPrinter(std::FILE* out, std::FILE* err) : out_(out), err_(err) {}

  // "(NAME pid=PID, node=NODE) ", NODE the node id's first 8 hex digits.
  static std::string Prefix(const protocol::LogBatch& batch);

  void Print(const protocol::LogBatch& batch);
  // Prints the counts of repeats whose worker has been quiet for
  // kFoldWindow; with `all`, every count.
  void Flush(bool all);

 private:
  struct Source {
    std::string last_line;
    uint64_t repeats = 0;  // of last_line, not printed yet
    std::chrono::steady_clock::time_point last_seen;
    std::FILE* to = nullptr;
  };
  void PrintRepeatsLocked(const std::string& prefix, Source& source);

  std::FILE* const out_;
  std::FILE* const err_;
  std::mutex mu_;
  std::map<std::pair<std::string, bool>, Source> sources_;  // by prefix and stream
};

class LogToDriver {
 public:
  // Subscribes to `job`'s worker output at the GCS at `gcs_address`.
  static Result<std::unique_ptr<LogToDriver>> Start(Transport& transport,
                                                    const std::string& gcs_address,
                                                    const JobId& job);
  // Prints what is still folded, then stops.
  ~LogToDriver();

 private:
  LogToDriver() = default;
  void Loop();

  LogPrinter printer_{stdout, stderr};
  std::unique_ptr<GcsClient> gcs_;
  std::unique_ptr<GcsSubscription> subscription_;
  std::mutex mu_;
  std::condition_variable wakeup_;
  bool stopping_ = false;  // with mu_
  std::thread thread_;
};

}  // namespace rayk::observability
