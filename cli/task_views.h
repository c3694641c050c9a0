// What `rayk list tasks` and `rayk timeline` make of the GCS's task table
// (rpc/task_event_messages.h): filtering by key=value, rows for people, JSON
// for programs, and Chrome trace events for Perfetto and chrome://tracing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rayk/status.h"
#include "rpc/task_event_messages.h"

namespace rayk::cli {

// Keeps the tasks matching every `key=value` of `filters`. Keys: task_id,
// job_id, actor_id, node_id (each matching a hex prefix), name, state
// (exact, state case-insensitive), worker_pid. An unknown key or a filter
// without '=' is an InvalidArgument naming the keys.
Result<std::vector<protocol::TaskEvent>> FilterTasks(std::vector<protocol::TaskEvent> tasks,
                                                     const std::vector<std::string>& filters);

nlohmann::json TaskToJson(const protocol::TaskEvent& task);
// A table: TASK, ATTEMPT, NAME, STATE, NODE, PID, DURATION, ERROR.
std::string FormatTasks(const std::vector<protocol::TaskEvent>& tasks);

// Chrome trace events (the JSON object format): per worker process a
// process_name and a thread_name record, and per task that started and
// ended an "X" (complete) slice on its worker's row, microseconds.
nlohmann::json ChromeTrace(const std::vector<protocol::TaskEvent>& tasks);

}  // namespace rayk::cli
