// The cluster's state as JSON, one shape per kind of row for every view
// that shows it: `rayk list nodes|actors|jobs --format json`, `rayk memory
// --format json`, and the dashboard's /api/cluster
// (observability/cluster_json.h). Each view adds what is its own (the
// dashboard a node's workers and queued leases, `rayk memory` the largest
// objects). Header-only, so that the CLI and the kernel share it without
// librayk exporting a JSON type.
//
// Ids are hex (a nil one too: zeros); times are milliseconds since the Unix
// epoch, 0 for not yet.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "observability/task_table.h"
#include "rpc/gcs_messages.h"
#include "rpc/object_messages.h"

namespace rayk::observability {

inline nlohmann::json NodeJson(const protocol::NodeInfo& n) {
  return {{"node_id", n.node_id.Hex()},
          {"address", n.raylet_address},
          {"alive", n.alive},
          {"pid", n.pid},
          {"total", nlohmann::json::parse(n.total.ToJson())},
          {"available", nlohmann::json::parse(n.available.ToJson())},
          {"labels", n.labels},
          {"start_time_ms", n.start_time_ms},
          {"death_time_ms", n.death_time_ms},
          {"death_cause", n.death_cause}};
}

inline nlohmann::json ActorJson(const protocol::ActorInfo& a) {
  return {{"actor_id", a.actor_id.Hex()},
          {"class", a.class_name},
          {"name", a.name},
          {"namespace", a.namespace_name},
          {"state", protocol::ActorStateName(a.state)},
          {"node_id", a.node_id.Hex()},
          {"pid", a.pid},
          {"address", a.address},
          {"restarts", a.restarts},
          {"job_id", a.job_id.Hex()},
          {"detached", a.detached},
          {"death_cause", a.death_cause},
          {"pending_reason", a.pending_reason},
          {"concurrency_groups", a.concurrency_groups}};
}

inline nlohmann::json CodeLibrariesJson(const std::vector<protocol::CodeLibrary>& libraries) {
  nlohmann::json out = nlohmann::json::array();
  for (const protocol::CodeLibrary& lib : libraries)
    out.push_back({{"name", lib.name}, {"sha256", lib.sha256}, {"size", lib.size}});
  return out;
}

inline nlohmann::json JobJson(const protocol::JobInfo& j) {
  return {
      {"job_id", j.job_id.Hex()},         {"status", j.finished ? "FINISHED" : "RUNNING"},
      {"driver_pid", j.driver_pid},       {"driver_address", j.driver_address},
      {"start_time_ms", j.start_time_ms}, {"end_time_ms", j.end_time_ms},
      {"namespace", j.namespace_name},    {"code_libraries", CodeLibrariesJson(j.code_libraries)}};
}

inline nlohmann::json StoreStatsJson(const protocol::StoreStats& stats) {
  return {{"plugin", stats.plugin},
          {"capacity_bytes", stats.capacity_bytes},
          {"used_bytes", stats.used_bytes},
          {"pinned_bytes", stats.pinned_bytes},
          {"spilled_bytes", stats.spilled_bytes},
          {"num_objects", stats.num_objects},
          {"num_evicted", stats.num_evicted},
          {"num_spilled", stats.num_spilled}};
}

// The dashboard's "tasks" and `rayk summary tasks --format json`:
//   {"total": N, "by_state": {STATE: N}, "by_name": [{"name", "total",
//    "by_state"}], "dropped_by_workers": N, "dropped_by_gcs": N}
inline nlohmann::json TaskSummaryJson(const TaskSummary& summary) {
  nlohmann::json by_name = nlohmann::json::array();
  for (const auto& [name, states] : summary.by_name) {
    uint64_t total = 0;
    for (const auto& [state, count] : states) total += count;
    by_name.push_back({{"name", name}, {"total", total}, {"by_state", states}});
  }
  return {{"total", summary.total},
          {"by_state", summary.by_state},
          {"by_name", by_name},
          {"dropped_by_workers", summary.dropped_by_workers},
          {"dropped_by_gcs", summary.dropped_by_gcs}};
}

}  // namespace rayk::observability
