#include "task_views.h"

#include <algorithm>
#include <set>

#include "cli_common.h"
#include "list_views.h"

namespace rayk::cli {

namespace {

// The keys of `rayk list tasks --filter`, each a field of TaskToJson.
const FilterKeys& TaskFilterKeys() {
  static const FilterKeys keys = {
      {"task_id", FilterMatch::kPrefix},   {"job_id", FilterMatch::kPrefix},
      {"actor_id", FilterMatch::kPrefix},  {"node_id", FilterMatch::kPrefix},
      {"name", FilterMatch::kExact},       {"state", FilterMatch::kUpperCase},
      {"worker_pid", FilterMatch::kExact},
  };
  return keys;
}

std::string Duration(const protocol::TaskEvent& task) {
  if (task.start_us == 0 || task.end_us == 0) return "-";
  double ms = static_cast<double>(task.end_us - task.start_us) / 1000.0;
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f ms", ms);
  return text;
}

}  // namespace

Result<std::vector<protocol::TaskEvent>> FilterTasks(std::vector<protocol::TaskEvent> tasks,
                                                     const std::vector<std::string>& filters) {
  for (const std::string& filter : filters) {
    auto parsed = ParseFilter(filter, TaskFilterKeys());
    if (!parsed.ok()) return parsed.status();
    const auto& [key, value] = *parsed;
    FilterMatch match = TaskFilterKeys().at(key);
    std::erase_if(tasks, [&](const auto& task) {
      return !FieldMatches(TaskToJson(task)[key], match, value);
    });
  }
  return tasks;
}

nlohmann::json TaskToJson(const protocol::TaskEvent& task) {
  return {{"task_id", task.task_id.Hex()},
          {"attempt", task.attempt},
          {"job_id", task.job_id.Hex()},
          {"actor_id", task.actor_id.IsNil() ? "" : task.actor_id.Hex()},
          {"name", task.name},
          {"state", task.state},
          {"node_id", task.node_id.Hex()},
          {"worker_pid", task.worker_pid},
          {"submitted_us", task.submitted_us},
          {"start_us", task.start_us},
          {"end_us", task.end_us},
          {"error", task.error}};
}

std::string FormatTasks(const std::vector<protocol::TaskEvent>& tasks) {
  std::vector<std::vector<std::string>> rows = {
      {"TASK", "ATTEMPT", "NAME", "STATE", "NODE", "PID", "DURATION", "ERROR"}};
  for (const auto& task : tasks) {
    rows.push_back({task.task_id.Hex().substr(0, 8), std::to_string(task.attempt), task.name,
                    task.state, task.node_id.IsNil() ? "-" : task.node_id.Hex().substr(0, 8),
                    task.worker_pid == 0 ? "-" : std::to_string(task.worker_pid), Duration(task),
                    task.error.empty() ? "-" : task.error});
  }
  return FormatTable(rows);
}

nlohmann::json ChromeTrace(const std::vector<protocol::TaskEvent>& tasks) {
  nlohmann::json events = nlohmann::json::array();
  std::set<int64_t> workers;
  for (const auto& task : tasks) {
    if (task.worker_pid != 0 && workers.insert(task.worker_pid).second) {  // 0: never reached one
      std::string label = "worker pid " + std::to_string(task.worker_pid) + " on node " +
                          task.node_id.Hex().substr(0, 8);
      events.push_back({{"name", "process_name"},
                        {"ph", "M"},
                        {"pid", task.worker_pid},
                        {"args", {{"name", label}}}});
      events.push_back({{"name", "thread_name"},
                        {"ph", "M"},
                        {"pid", task.worker_pid},
                        {"tid", task.worker_pid},
                        {"args", {{"name", label}}}});
    }
    if (task.start_us == 0 || task.end_us == 0) continue;  // never ran, or still running
    events.push_back({{"name", task.name},
                      {"cat", task.actor_id.IsNil() ? "task" : "actor_task"},
                      {"ph", "X"},
                      {"ts", task.start_us},
                      {"dur", std::max<int64_t>(task.end_us - task.start_us, 0)},
                      {"pid", task.worker_pid},
                      {"tid", task.worker_pid},
                      {"args",
                       {{"task_id", task.task_id.Hex()},
                        {"attempt", task.attempt},
                        {"job_id", task.job_id.Hex()},
                        {"node_id", task.node_id.Hex()},
                        {"state", task.state},
                        {"error", task.error}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

}  // namespace rayk::cli
