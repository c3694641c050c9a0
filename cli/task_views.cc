#include "task_views.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "cli_common.h"

namespace rayk::cli {

namespace {

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

using Matcher = std::function<bool(const protocol::TaskEvent&, const std::string&)>;

const std::map<std::string, Matcher>& Matchers() {
  static const std::map<std::string, Matcher> matchers = {
      {"task_id", [](const auto& t, const auto& v) { return t.task_id.Hex().starts_with(v); }},
      {"job_id", [](const auto& t, const auto& v) { return t.job_id.Hex().starts_with(v); }},
      {"actor_id", [](const auto& t, const auto& v) { return t.actor_id.Hex().starts_with(v); }},
      {"node_id", [](const auto& t, const auto& v) { return t.node_id.Hex().starts_with(v); }},
      {"name", [](const auto& t, const auto& v) { return t.name == v; }},
      {"state", [](const auto& t, const auto& v) { return t.state == Upper(v); }},
      {"worker_pid",
       [](const auto& t, const auto& v) { return std::to_string(t.worker_pid) == v; }},
  };
  return matchers;
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
  std::string keys;
  for (const auto& [key, matcher] : Matchers()) keys += (keys.empty() ? "" : ", ") + key;
  for (const std::string& filter : filters) {
    auto equals = filter.find('=');
    if (equals == std::string::npos) {
      return Status::InvalidArgument("--filter '" + filter + "' is not KEY=VALUE; keys: " + keys);
    }
    auto matcher = Matchers().find(filter.substr(0, equals));
    if (matcher == Matchers().end()) {
      return Status::InvalidArgument("--filter: unknown key '" + filter.substr(0, equals) +
                                     "'; keys: " + keys);
    }
    std::string value = filter.substr(equals + 1);
    std::erase_if(tasks, [&](const auto& task) { return !matcher->second(task, value); });
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
                    task.state, task.node_id.Hex().substr(0, 8), std::to_string(task.worker_pid),
                    Duration(task), task.error.empty() ? "-" : task.error});
  }
  return FormatTable(rows);
}

nlohmann::json ChromeTrace(const std::vector<protocol::TaskEvent>& tasks) {
  nlohmann::json events = nlohmann::json::array();
  std::set<int64_t> workers;
  for (const auto& task : tasks) {
    if (workers.insert(task.worker_pid).second) {
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
