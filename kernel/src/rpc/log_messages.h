// Worker output (log to driver, `rayk logs`): the lines of workers' log
// files, tagged with where they came from. Raylets publish them through the
// GCS to the drivers of their jobs, and serve them to `rayk logs`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rpc/codec.h"

namespace rayk::protocol {

// Consecutive lines one worker printed while it ran one task or actor.
struct LogBatch {
  JobId job_id;
  NodeId node_id;
  int64_t pid = 0;
  TaskId task_id;                  // nil: printed before the worker's first task
  ActorId actor_id;                // nil: a plain task
  std::string name;                // the task's function, or the actor's name (else its class)
  std::vector<std::string> lines;  // without their newlines
  bool from_stderr = false;        // false: its stdout
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id& node_id& pid& task_id& actor_id& name& lines& from_stderr;
  }
};

// Raylet -> GCS, one-way: its workers' new lines. The GCS publishes each
// batch on topic LogTopic(job) for the job's drivers.
struct PublishLogs {
  std::vector<LogBatch> batches;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& batches;
  }
};

inline std::string LogTopic(const JobId& job) { return "logs:" + job.Hex(); }

// CLI -> raylet: the lines of its workers' logs that match every filter
// given (nil ids match everything), from `offsets` on (log file name ->
// bytes already read, as the last LogLines returned; a file not named is
// read from its start; one shorter than its offset was truncated and is
// read from its start again).
struct ReadLogs {
  JobId job_id;
  ActorId actor_id;
  TaskId task_id;
  std::map<std::string, uint64_t> offsets;
  int32_t streams = kBothStreams;  // which files: stdout (.log), stderr (.err), both
  static constexpr int32_t kStdoutOnly = 1, kStderrOnly = 2, kBothStreams = 3;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id& actor_id& task_id& offsets& streams;
  }
};

struct LogLines {
  std::vector<LogBatch> batches;            // oldest first per file
  std::map<std::string, uint64_t> offsets;  // where the next ReadLogs goes on
  bool more = false;                        // stopped at the size limit: ask again
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& batches& offsets& more;
  }
};

RAYK_MESSAGE_BODY(kPublishLogs, PublishLogs);
RAYK_MESSAGE_BODY(kReadLogs, ReadLogs);
RAYK_MESSAGE_BODY(kLogLines, LogLines);

}  // namespace rayk::protocol
