// Task events (`rayk list tasks`, `rayk timeline`): what workers tell the GCS
// about the tasks they run, in batches (observability/task_events.h), and
// what the GCS hands back to the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rpc/codec.h"

namespace rayk::protocol {

// One attempt of one task (an actor's creation and each actor call are
// tasks too), as the worker running it saw it, or before that its owner. A
// worker reports an attempt as RUNNING once it has run a while, then
// FINISHED or FAILED; an owner reports one that waits a while as
// PENDING_ARGS_AVAIL or PENDING_NODE_ASSIGNMENT (nil node, pid 0). The GCS
// keeps the latest state and every time it learned. Times are microseconds
// since the Unix epoch; 0: not reached.
struct TaskEvent {
  TaskId task_id;
  int32_t attempt = 0;
  JobId job_id;
  ActorId actor_id;   // nil for a plain task
  std::string name;   // the function or method: "Add", "Counter::Incr"
  std::string state;  // PENDING_ARGS_AVAIL, PENDING_NODE_ASSIGNMENT, RUNNING, FINISHED, FAILED
  NodeId node_id;
  int64_t worker_pid = 0;
  int64_t submitted_us = 0;  // when its owner submitted it (else: when it reached the worker)
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string error;  // FAILED: why
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& task_id& attempt& job_id& actor_id& name& state& node_id& worker_pid& submitted_us&
        start_us& end_us& error;
  }
};

// Worker -> GCS, one-way: events since the last batch, and how many the
// worker dropped because its buffer was full.
struct ReportTaskEvents {
  std::vector<TaskEvent> events;
  uint64_t dropped = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& events& dropped;
  }
};

// CLI -> GCS: the tasks of one job (nil: every job).
struct ListTasks {
  JobId job_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id;
  }
};

struct TaskList {
  std::vector<TaskEvent> tasks;     // oldest first
  uint64_t dropped_by_workers = 0;  // events workers could not buffer
  uint64_t dropped_by_gcs = 0;      // tasks the GCS evicted to stay within its bound
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& tasks& dropped_by_workers& dropped_by_gcs;
  }
};

RAYK_MESSAGE_BODY(kReportTaskEvents, ReportTaskEvents);
RAYK_MESSAGE_BODY(kListTasks, ListTasks);
RAYK_MESSAGE_BODY(kTaskList, TaskList);

}  // namespace rayk::protocol
