// A worker's log files (<session>/logs/worker-<id>.log, its stdout, and
// worker-<id>.err, its stderr): where the user's output goes, plus two kinds
// of markers the worker writes itself into both, so that a reader can tell
// whose output each line is, as Ray's `:task_name:` lines do:
//
//   :rayk_worker: JOB NODE PID\n        once, when the worker starts
//   :rayk_task: TASK ACTOR NAME\x1f     before each task it runs (ACTOR "-"
//                                      for a plain task; NAME the function,
//                                      or the actor's name, else its class)
//
// A task marker ends with a unit separator (0x1f), not a newline, so that the
// worker's line-buffered stdio keeps it in memory until the task prints a
// line; a task that ends without printing takes its marker back out of the
// buffer (TakeBackTaskMarker), so it costs no write and no byte of the file.
// A reader applies every marker at a line's start and keeps the rest of the
// line (markers left in the buffer, where taking back is not possible, reach
// the file chained, and a reader applies them all).
//
// WorkerLogReader reads such a file incrementally and hands back the user's
// lines grouped by task, without the markers and without rayk's own log lines
// (spdlog's, which start "[DATE TIME] [worker PID]"). The raylet's log
// monitor streams them to drivers; its ReadLogs handler serves `rayk logs`.
//
// Thread safety: a reader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "rayk/ids.h"
#include "rpc/log_messages.h"

namespace rayk::observability {

// The log file of worker `id` in `session_dir`: its stdout.
std::string WorkerLogPath(const std::string& session_dir, const WorkerId& id);
// Its stderr, beside the stdout file at `log_path`.
std::string WorkerErrPath(const std::string& log_path);

// The markers: the header line with its newline, a task's with its 0x1f.
std::string WorkerLogHeader(const JobId& job, const NodeId& node, int64_t pid);
std::string TaskMarker(const TaskId& task, const ActorId& actor, std::string_view name);

// A running task's marker in `stream`'s buffer (line-buffered: no write
// until the task prints a line), and taken back when the task ended without
// printing (true if it was): so tasks that print nothing cost the log file
// nothing. Taking back needs glibc's FILE; elsewhere the marker stays.
void PutTaskMarker(std::FILE* stream, const std::string& marker);
bool TakeBackTaskMarker(std::FILE* stream, const std::string& marker);

class WorkerLogReader {
 public:
  // `from_stderr`: the file is a worker's stderr; its batches say so.
  explicit WorkerLogReader(std::string path, bool from_stderr = false)
      : path_(std::move(path)), from_stderr_(from_stderr) {
    current_.from_stderr = from_stderr;
  }

  // Goes on from `offset` (as offset() returned before) without reading what
  // precedes it, except the header line and, backwards from `offset`, back to
  // the last task marker (at most kMaxMarkerSearch bytes; lines further from
  // their marker are then nobody's). A file now shorter than `offset` was
  // truncated or replaced: it is read from its start.
  void Resume(uint64_t offset);
  static constexpr uint64_t kMaxMarkerSearch = 1 << 20;

  // The lines completed since the last call, at most about `max_bytes` of the
  // file (whole lines only), as batches in file order. An unfinished last
  // line waits for its newline. A missing file reads as empty.
  std::vector<protocol::LogBatch> ReadNew(uint64_t max_bytes = 4 << 20);

  // Bytes of the file consumed so far (always at a line's end).
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  // Applies the markers at the start of `line` to `current_` and removes
  // them; true when nothing is left of it (a line of markers only).
  bool ApplyMarkers(std::string& line);

  std::string path_;
  bool from_stderr_ = false;
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
