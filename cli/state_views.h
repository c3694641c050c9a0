// What `rayk summary tasks|actors|objects` and `rayk get task|actor ID`
// make of the GCS's lists and the raylets' store statistics: counts grouped
// as Ray's state API groups them, one entity's whole record, and the lookup
// of an entity by a unique id prefix (what `rayk list` shows).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "observability/task_table.h"
#include "rayk/status.h"
#include "rpc/gcs_messages.h"
#include "rpc/object_messages.h"
#include "rpc/task_event_messages.h"

namespace rayk::cli {

// `rayk summary tasks`: the attempts ListTasks returned, counted by
// observability::TaskSummary as the dashboard's are; a table of name by
// state, then how many attempts it covered and what is missing.
observability::TaskSummary SummarizeTasks(const protocol::TaskList& list);
std::string FormatTaskSummary(const observability::TaskSummary& summary);

// `rayk summary actors`: actors by class, each class's count per state.
//   {"total": N, "by_state": {STATE: N}, "by_class": [{"class", "total", "by_state"}]}
nlohmann::json ActorSummaryJson(const std::vector<protocol::ActorInfo>& actors);
std::string FormatActorSummary(const nlohmann::json& summary);

// One alive node's object store as its raylet reported it, or why not.
struct NodeStore {
  protocol::NodeInfo node;
  std::optional<protocol::StoreStats> stats;  // empty: the raylet did not answer
  std::string error;
};

// `rayk summary objects`: the cluster's totals over the stores that answered
// and a row per node (StoreStatsJson with node_id, or node_id and error).
//   {"total": {"num_objects", "used_bytes", "pinned_bytes", "spilled_bytes",
//    "capacity_bytes"}, "nodes": [...]}
nlohmann::json ObjectSummaryJson(const std::vector<NodeStore>& stores);
std::string FormatObjectSummary(const std::vector<NodeStore>& stores);

// The one of `ids` (hex) that starts with `prefix`; `kind` names it in the
// errors ("task", "node"), which point at `rayk list KINDs`.
Result<std::string> ResolvePrefix(const std::set<std::string>& ids, const std::string& prefix,
                                  const std::string& kind);

// The attempts of the one task whose hex id starts with `prefix`, oldest
// first. No match or several tasks: InvalidArgument naming the fix.
Result<std::vector<protocol::TaskEvent>> FindTask(const std::vector<protocol::TaskEvent>& tasks,
                                                  const std::string& prefix);
// The actor whose hex id starts with `id_or_name` or whose name it is.
Result<protocol::ActorInfo> FindActor(const std::vector<protocol::ActorInfo>& actors,
                                      const std::string& id_or_name);

// A JSON object as "key: value" lines for people, `first_key` (the id)
// first and then the rest by name; nested objects and arrays as JSON, an
// empty string as "-". `rayk get`'s text.
std::string FormatRecord(const nlohmann::json& record, const std::string& first_key);

}  // namespace rayk::cli
