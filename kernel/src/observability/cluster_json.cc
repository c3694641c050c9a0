#include "observability/cluster_json.h"

#include <nlohmann/json.hpp>

namespace rayk::observability {

namespace {

using nlohmann::json;

// A nil id (an actor not placed yet, a plain task) shows as "".
template <class Id>
std::string HexOrEmpty(const Id& id) {
  return id.IsNil() ? "" : id.Hex();
}

json Nodes(const ClusterSnapshot& snapshot) {
  json nodes = json::array();
  for (const auto& node : snapshot.nodes) {
    json total = json::object(), available = json::object();
    for (const auto& [name, amount] : node.total.amounts()) {
      total[name] = amount;
      available[name] = node.available.Get(name);
    }
    nodes.push_back({{"node_id", node.node_id.Hex()},
                     {"address", node.raylet_address},
                     {"state", node.alive ? "ALIVE" : "DEAD"},
                     {"pid", node.pid},
                     {"resources_total", total},
                     {"resources_available", available},
                     {"labels", node.labels},
                     {"workers", node.num_workers},
                     {"pending_leases", node.pending_leases},
                     {"infeasible_demands", node.infeasible_demands},
                     {"start_time_ms", node.start_time_ms},
                     {"death_time_ms", node.death_time_ms},
                     {"death_cause", node.death_cause}});
  }
  return nodes;
}

json ObjectStores(const ClusterSnapshot& snapshot) {
  json stores = json::array();
  for (const auto& node : snapshot.nodes) {
    if (!node.alive) continue;
    auto stats = snapshot.stores.find(node.node_id);
    if (stats == snapshot.stores.end()) {  // its raylet did not answer in time
      stores.push_back({{"node_id", node.node_id.Hex()}, {"up", false}});
      continue;
    }
    const protocol::StoreStats& s = stats->second;
    stores.push_back({{"node_id", node.node_id.Hex()},
                      {"up", true},
                      {"plugin", s.plugin},
                      {"capacity_bytes", s.capacity_bytes},
                      {"used_bytes", s.used_bytes},
                      {"pinned_bytes", s.pinned_bytes},
                      {"spilled_bytes", s.spilled_bytes},
                      {"objects", s.num_objects},
                      {"evictions", s.num_evicted},
                      {"spills", s.num_spilled}});
  }
  return stores;
}

json Actors(const ClusterSnapshot& snapshot) {
  json actors = json::array();
  for (const auto& actor : snapshot.actors) {
    actors.push_back({{"actor_id", actor.actor_id.Hex()},
                      {"name", actor.name},
                      {"class_name", actor.class_name},
                      {"state", protocol::ActorStateName(actor.state)},
                      {"node_id", HexOrEmpty(actor.node_id)},
                      {"pid", actor.pid},
                      {"address", actor.address},
                      {"job_id", actor.job_id.Hex()},
                      {"restarts", actor.restarts},
                      {"detached", actor.detached},
                      {"pending_reason", actor.pending_reason},
                      {"death_cause", actor.death_cause}});
  }
  return actors;
}

json Jobs(const ClusterSnapshot& snapshot) {
  json jobs = json::array();
  for (const auto& job : snapshot.jobs) {
    jobs.push_back({{"job_id", job.job_id.Hex()},
                    {"state", job.finished ? "FINISHED" : "RUNNING"},
                    {"driver_pid", job.driver_pid},
                    {"driver_address", job.driver_address},
                    {"start_time_ms", job.start_time_ms},
                    {"end_time_ms", job.end_time_ms}});
  }
  return jobs;
}

json Tasks(const TaskSummary& summary) {
  json by_name = json::array();
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

}  // namespace

std::string RenderClusterJson(const ClusterSnapshot& snapshot) {
  json out = {{"gcs",
               {{"restarts", snapshot.gcs.restarts},
                {"start_time_ms", snapshot.gcs.start_time_ms},
                {"store_error", snapshot.gcs.store_error},
                {"lost_state", snapshot.gcs.lost_state}}},
              {"nodes", Nodes(snapshot)},
              {"object_stores", ObjectStores(snapshot)},
              {"actors", Actors(snapshot)},
              {"jobs", Jobs(snapshot)},
              {"tasks", Tasks(snapshot.tasks)}};
  // Names come from users: replace invalid UTF-8 rather than throw.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rayk::observability
