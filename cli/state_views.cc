#include "state_views.h"

#include <cstdio>
#include <set>

#include "cli_common.h"
#include "common/byte_count.h"
#include "observability/state_json.h"

namespace rayk::cli {

namespace {

// A header NAME, TOTAL and one column per state any group has, then a row
// per group: the table both task and actor summaries print.
std::string FormatGroups(const std::string& group_header, const nlohmann::json& groups,
                         const std::string& key) {
  std::set<std::string> states;
  for (const auto& group : groups)
    for (const auto& [state, count] : group["by_state"].items()) states.insert(state);
  std::vector<std::vector<std::string>> rows = {{group_header, "TOTAL"}};
  rows[0].insert(rows[0].end(), states.begin(), states.end());
  for (const auto& group : groups) {
    std::vector<std::string> row = {group[key].get<std::string>(),
                                    std::to_string(group["total"].get<uint64_t>())};
    for (const std::string& state : states) {
      row.push_back(group["by_state"].contains(state)
                        ? std::to_string(group["by_state"][state].get<uint64_t>())
                        : "-");
    }
    rows.push_back(std::move(row));
  }
  return FormatTable(rows);
}

}  // namespace

Result<std::string> ResolvePrefix(const std::set<std::string>& ids, const std::string& prefix,
                                  const std::string& kind) {
  if (prefix.empty()) {
    return Status::InvalidArgument("give a " + kind + " id (or a prefix of one); run `rayk list " +
                                   kind + "s`");
  }
  std::vector<std::string> matches;
  for (const std::string& id : ids)
    if (id.starts_with(prefix)) matches.push_back(id);
  if (matches.empty()) {
    return Status::NotFound("no " + kind + " with id prefix '" + prefix + "'; run `rayk list " +
                            kind + "s`");
  }
  if (matches.size() > 1) {
    return Status::InvalidArgument("prefix '" + prefix + "' matches " +
                                   std::to_string(matches.size()) + " " + kind +
                                   "s; give more characters");
  }
  return matches.front();
}

observability::TaskSummary SummarizeTasks(const protocol::TaskList& list) {
  observability::TaskSummary summary;
  summary.dropped_by_workers = list.dropped_by_workers;
  summary.dropped_by_gcs = list.dropped_by_gcs;
  for (const protocol::TaskEvent& attempt : list.tasks) summary.Count(attempt);
  return summary;
}

std::string FormatTaskSummary(const observability::TaskSummary& summary) {
  nlohmann::json json = observability::TaskSummaryJson(summary);
  std::string text =
      summary.total == 0 ? "(no task attempts)\n" : FormatGroups("NAME", json["by_name"], "name");
  text += "Summarized " + std::to_string(summary.total) + " task attempts\n";
  if (summary.dropped_by_workers + summary.dropped_by_gcs > 0) {
    text += "Missing: " + std::to_string(summary.dropped_by_workers) +
            " events workers dropped (buffer full), " + std::to_string(summary.dropped_by_gcs) +
            " attempts the GCS evicted (table full)\n";
  }
  return text;
}

nlohmann::json ActorSummaryJson(const std::vector<protocol::ActorInfo>& actors) {
  std::map<std::string, uint64_t> by_state;
  std::map<std::string, std::map<std::string, uint64_t>> by_class;
  for (const protocol::ActorInfo& actor : actors) {
    const char* state = protocol::ActorStateName(actor.state);
    ++by_state[state];
    ++by_class[actor.class_name][state];
  }
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& [name, states] : by_class) {
    uint64_t total = 0;
    for (const auto& [state, count] : states) total += count;
    classes.push_back({{"class", name}, {"total", total}, {"by_state", states}});
  }
  return {{"total", actors.size()}, {"by_state", by_state}, {"by_class", classes}};
}

std::string FormatActorSummary(const nlohmann::json& summary) {
  uint64_t total = summary["total"].get<uint64_t>();
  std::string text =
      total == 0 ? "(no actors)\n" : FormatGroups("CLASS", summary["by_class"], "class");
  return text + "Summarized " + std::to_string(total) + " actors\n";
}

nlohmann::json ObjectSummaryJson(const std::vector<NodeStore>& stores) {
  protocol::StoreStats total;
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeStore& store : stores) {
    nlohmann::json row = store.stats ? observability::StoreStatsJson(*store.stats)
                                     : nlohmann::json{{"error", store.error}};
    row["node_id"] = store.node.node_id.Hex();
    nodes.push_back(std::move(row));
    if (!store.stats) continue;
    total.num_objects += store.stats->num_objects;
    total.used_bytes += store.stats->used_bytes;
    total.pinned_bytes += store.stats->pinned_bytes;
    total.spilled_bytes += store.stats->spilled_bytes;
    total.capacity_bytes += store.stats->capacity_bytes;
  }
  return {{"total",
           {{"num_objects", total.num_objects},
            {"used_bytes", total.used_bytes},
            {"pinned_bytes", total.pinned_bytes},
            {"spilled_bytes", total.spilled_bytes},
            {"capacity_bytes", total.capacity_bytes}}},
          {"nodes", nodes}};
}

std::string FormatObjectSummary(const std::vector<NodeStore>& stores) {
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "OBJECTS", "USED", "PINNED", "SPILLED", "CAPACITY"}};
  for (const NodeStore& store : stores) {
    std::string node = store.node.node_id.Hex().substr(0, 8);
    if (!store.stats) {
      rows.push_back({node, "?", "?", "?", "?", "?"});
      continue;
    }
    rows.push_back({node, std::to_string(store.stats->num_objects),
                    FormatBytes(store.stats->used_bytes), FormatBytes(store.stats->pinned_bytes),
                    FormatBytes(store.stats->spilled_bytes),
                    FormatBytes(store.stats->capacity_bytes)});
  }
  nlohmann::json total = ObjectSummaryJson(stores)["total"];
  rows.push_back({"TOTAL", std::to_string(total["num_objects"].get<uint64_t>()),
                  FormatBytes(total["used_bytes"].get<uint64_t>()),
                  FormatBytes(total["pinned_bytes"].get<uint64_t>()),
                  FormatBytes(total["spilled_bytes"].get<uint64_t>()),
                  FormatBytes(total["capacity_bytes"].get<uint64_t>())});
  std::string text = stores.empty() ? "(no alive nodes)\n" : FormatTable(rows);
  for (const NodeStore& store : stores) {
    if (!store.stats) {
      text += "  node " + store.node.node_id.Hex().substr(0, 8) +
              ": no answer from its raylet at " + store.node.raylet_address + " (" + store.error +
              ")\n";
    }
  }
  return text;
}

Result<std::vector<protocol::TaskEvent>> FindTask(const std::vector<protocol::TaskEvent>& tasks,
                                                  const std::string& prefix) {
  std::set<std::string> ids;
  for (const protocol::TaskEvent& attempt : tasks) ids.insert(attempt.task_id.Hex());
  auto id = ResolvePrefix(ids, prefix, "task");
  if (!id.ok()) return id.status();
  std::vector<protocol::TaskEvent> attempts;
  for (const protocol::TaskEvent& attempt : tasks)
    if (attempt.task_id.Hex() == *id) attempts.push_back(attempt);
  return attempts;
}

Result<protocol::ActorInfo> FindActor(const std::vector<protocol::ActorInfo>& actors,
                                      const std::string& id_or_name) {
  std::vector<const protocol::ActorInfo*> named;
  for (const protocol::ActorInfo& actor : actors)
    if (!actor.name.empty() && actor.name == id_or_name) named.push_back(&actor);
  if (named.size() == 1) return *named.front();
  std::set<std::string> ids;
  for (const protocol::ActorInfo& actor : actors) ids.insert(actor.actor_id.Hex());
  auto id = ResolvePrefix(ids, id_or_name, "actor");
  if (!id.ok()) return id.status();
  for (const protocol::ActorInfo& actor : actors)
    if (actor.actor_id.Hex() == *id) return actor;
  return Status::NotFound("no actor " + *id);  // unreachable: ResolvePrefix found it in `ids`
}

std::string FormatRecord(const nlohmann::json& record, const std::string& first_key) {
  auto line = [](const std::string& key, const nlohmann::json& value) {
    std::string shown = !value.is_string()                            ? value.dump()
                        : value.get_ref<const std::string&>().empty() ? "-"
                                                                      : value.get<std::string>();
    return key + ": " + shown + "\n";
  };
  std::string text = record.contains(first_key) ? line(first_key, record[first_key]) : "";
  for (const auto& [key, value] : record.items())
    if (key != first_key) text += line(key, value);
  return text;
}

}  // namespace rayk::cli
