// A worker's log file (<session>/logs/worker-<id>.log): its stdout and
// stderr, where the user's output goes, plus two kinds of marker lines the
// worker writes itself so that a reader can tell whose output each line is,
// as Ray's `:task_name:` lines do:
//
//   :rayk_worker: JOB NODE PID           once, when the worker starts
//   :rayk_task: TASK ACTOR NAME          before each task it runs (ACTOR "-"
//                                        for a plain task; NAME the function,
//                                        or the actor's name, else its class)
//
// WorkerLogReader reads such a file incrementally and hands back the user's
// lines grouped by task, without the markers and without rayk's own log lines
// (spdlog's, which start "[DATE TIME] [worker PID]"). The raylet's log
// monitor streams them to drivers; its ReadLogs handler serves `rayk logs`.
//
// Thread safety: a reader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rpc/log_messages.h"

namespace rayk::observability {

// The log file of worker `id` in `session_dir`.
std::string WorkerLogPath(const std::string& session_dir, const WorkerId& id);

// The marker lines, each with its newline.
std::string WorkerLogHeader(const JobId& job, const NodeId& node, int64_t pid);
std::string TaskMarker(const TaskId& task, const ActorId& actor, const std::string& name);

class WorkerLogReader {
 public:
  explicit WorkerLogReader(std::string path) : path_(std::move(path)) {}

  // The lines completed since the last call, at most about `max_bytes` of the
  // file (whole lines only), as batches in file order. An unfinished last
  // line waits for its newline. A missing file reads as empty.
  std::vector<protocol::LogBatch> ReadNew(uint64_t max_bytes = 4 << 20);

  // Bytes of the file consumed so far (always at a line's end).
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  // Applies a marker line to `current_`; false for a line that is no marker.
  bool ApplyMarker(const std::string& line);

  std::string path_;
  uint64_t offset_ = 0;
  protocol::LogBatch current_;  // whose lines come next (no lines)
};

// `rayk logs` on one node: the lines of the worker logs in `session_dir`
// that match `request`, reading at most about `max_bytes` (then `more`).
protocol::LogLines ReadWorkerLogs(const std::string& session_dir, const protocol::ReadLogs& request,
                                  uint64_t max_bytes);

// True for a line that rayk's own logging wrote (spdlog's pattern of the
// worker process), not the user's code.
bool IsRuntimeLogLine(const std::string& line);

}  // namespace rayk::observability
