#include "list_views.h"

#include <algorithm>
#include <cctype>

#include "cli_common.h"
#include "common/byte_count.h"

namespace rayk::cli {

namespace {

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string ShortId(const std::string& hex) { return hex.empty() ? "-" : hex.substr(0, 8); }

}  // namespace

bool FieldMatches(const nlohmann::json& field, FilterMatch match, const std::string& value) {
  if (!field.is_string()) return field.dump() == value;  // numbers, true/false
  const std::string& text = field.get_ref<const std::string&>();
  switch (match) {
    case FilterMatch::kPrefix:
      return text.starts_with(value);
    case FilterMatch::kUpperCase:
      return text == Upper(value);
    case FilterMatch::kExact:
      break;
  }
  return text == value;
}

Result<std::pair<std::string, std::string>> ParseFilter(const std::string& filter,
                                                        const FilterKeys& keys) {
  std::string names;
  for (const auto& [key, match] : keys) names += (names.empty() ? "" : ", ") + key;
  auto equals = filter.find('=');
  if (equals == std::string::npos) {
    return Status::InvalidArgument("--filter '" + filter + "' is not KEY=VALUE; keys: " + names);
  }
  std::string key = filter.substr(0, equals);
  if (!keys.contains(key)) {
    return Status::InvalidArgument("--filter: unknown key '" + key + "'; keys: " + names);
  }
  return std::pair{key, filter.substr(equals + 1)};
}

Result<nlohmann::json> FilterRows(nlohmann::json rows, const std::vector<std::string>& filters,
                                  const FilterKeys& keys) {
  for (const std::string& filter : filters) {
    auto parsed = ParseFilter(filter, keys);
    if (!parsed.ok()) return parsed.status();
    const auto& [key, value] = *parsed;
    FilterMatch match = keys.at(key);
    nlohmann::json kept = nlohmann::json::array();
    for (auto& row : rows)
      if (FieldMatches(row[key], match, value)) kept.push_back(std::move(row));
    rows = std::move(kept);
  }
  return rows;
}

const FilterKeys& ObjectFilterKeys() {
  static const FilterKeys keys = {
      {"object_id", FilterMatch::kPrefix}, {"node_id", FilterMatch::kPrefix},
      {"copy", FilterMatch::kExact},       {"pinned", FilterMatch::kExact},
      {"spilled", FilterMatch::kExact},    {"owner_pid", FilterMatch::kExact},
  };
  return keys;
}

const FilterKeys& WorkerFilterKeys() {
  static const FilterKeys keys = {
      {"worker_id", FilterMatch::kPrefix}, {"node_id", FilterMatch::kPrefix},
      {"job_id", FilterMatch::kPrefix},    {"pid", FilterMatch::kExact},
      {"state", FilterMatch::kUpperCase},  {"actor_name", FilterMatch::kExact},
  };
  return keys;
}

ProcessDirectory::ProcessDirectory(const std::vector<protocol::WorkerList>& pools,
                                   const std::vector<protocol::ActorInfo>& actors,
                                   const std::vector<protocol::JobInfo>& jobs) {
  for (const protocol::WorkerList& pool : pools)
    for (const protocol::WorkerRow& worker : pool.workers)
      workers_[{pool.node_id, worker.pid}] = worker.worker_id;
  for (const protocol::ActorInfo& actor : actors)
    if (actor.state == protocol::ActorState::kAlive) actors_[{actor.node_id, actor.pid}] = actor;
  for (const protocol::JobInfo& job : jobs)
    if (!job.finished) drivers_[job.driver_pid] = job.job_id;
}

const protocol::ActorInfo* ProcessDirectory::ActorAt(const NodeId& node, int64_t pid) const {
  auto actor = actors_.find({node, pid});
  return actor == actors_.end() ? nullptr : &actor->second;
}

std::string ProcessDirectory::Describe(const NodeId& node, int64_t pid) const {
  if (const protocol::ActorInfo* actor = ActorAt(node, pid))
    return "actor " + (actor->name.empty() ? actor->class_name : actor->name);
  if (auto worker = workers_.find({node, pid}); worker != workers_.end())
    return "worker " + worker->second.Hex().substr(0, 8);
  if (auto driver = drivers_.find(pid); driver != drivers_.end())
    return "driver of job " + driver->second.Hex().substr(0, 8);
  return "pid " + std::to_string(pid);
}

nlohmann::json ObjectRow(const protocol::StoreObjectInfo& object, const NodeId& node,
                         const ProcessDirectory& processes) {
  return {{"object_id", object.object_id.Hex()},
          {"node_id", node.Hex()},
          {"size", object.size},
          {"copy", object.primary ? "primary" : "secondary"},
          {"pinned", object.pinned},
          {"spilled", object.spilled},
          {"in_memory", object.in_memory},
          {"owner_pid", object.creator_pid},
          {"owner", processes.Describe(node, object.creator_pid)}};
}

std::string FormatObjects(const nlohmann::json& rows) {
  std::vector<std::vector<std::string>> table = {
      {"OBJECT", "SIZE", "NODE", "COPY", "STATE", "OWNER"}};
  for (const auto& row : rows) {
    std::string state =
        std::string(row["in_memory"].get<bool>() ? "in memory" : "on disk") +
        (row["pinned"].get<bool>() ? ", pinned" : "") +
        (row["spilled"].get<bool>() && row["in_memory"].get<bool>() ? ", spilled" : "");
    table.push_back({row["object_id"].get<std::string>().substr(0, 16),
                     FormatBytes(row["size"].get<uint64_t>()), ShortId(row["node_id"]), row["copy"],
                     state,
                     row["owner"].get<std::string>() + " (pid " +
                         std::to_string(row["owner_pid"].get<int64_t>()) + ")"});
  }
  return FormatTable(table);
}

nlohmann::json WorkerRows(const std::vector<protocol::WorkerList>& pools,
                          const std::vector<protocol::JobInfo>& jobs,
                          const ProcessDirectory& processes) {
  nlohmann::json rows = nlohmann::json::array();
  for (const protocol::WorkerList& pool : pools) {
    for (const protocol::WorkerRow& worker : pool.workers) {
      const protocol::ActorInfo* actor = processes.ActorAt(pool.node_id, worker.pid);
      bool hosts_actor = actor != nullptr && worker.state != "DYING";
      rows.push_back({{"worker_id", worker.worker_id.Hex()},
                      {"node_id", pool.node_id.Hex()},
                      {"pid", worker.pid},
                      {"state", hosts_actor ? "ACTOR" : worker.state},
                      {"job_id", worker.job_id.Hex()},
                      {"actor_id", hosts_actor ? actor->actor_id.Hex() : ""},
                      {"actor_name", hosts_actor ? actor->name : ""},
                      {"actor_class", hosts_actor ? actor->class_name : ""},
                      {"start_time_ms", worker.start_time_ms},
                      {"owner_address", worker.owner_address},
                      {"address", worker.address},
                      {"stopped", worker.stopped}});
    }
  }
  for (const protocol::JobInfo& job : jobs) {
    if (job.finished) continue;
    rows.push_back({{"worker_id", ""},
                    {"node_id", ""},
                    {"pid", job.driver_pid},
                    {"state", "DRIVER"},
                    {"job_id", job.job_id.Hex()},
                    {"actor_id", ""},
                    {"actor_name", ""},
                    {"actor_class", ""},
                    {"start_time_ms", job.start_time_ms},
                    {"owner_address", ""},
                    {"address", job.driver_address},
                    {"stopped", false}});
  }
  return rows;
}

std::string FormatWorkers(const nlohmann::json& rows) {
  std::vector<std::vector<std::string>> table = {
      {"WORKER", "NODE", "PID", "STATE", "JOB", "ACTOR", "STARTED"}};
  for (const auto& row : rows) {
    std::string actor = row["actor_name"].get<std::string>().empty()
                            ? row["actor_class"].get<std::string>()
                            : row["actor_name"].get<std::string>();
    std::string state =
        row["state"].get<std::string>() + (row["stopped"].get<bool>() ? ",STOPPED" : "");
    table.push_back({ShortId(row["worker_id"]), ShortId(row["node_id"]),
                     std::to_string(row["pid"].get<int64_t>()), state, ShortId(row["job_id"]),
                     actor.empty() ? "-" : actor, FormatTime(row["start_time_ms"].get<int64_t>())});
  }
  return FormatTable(table);
}

}  // namespace rayk::cli
