#include "observability/cluster_json.h"

#include <nlohmann/json.hpp>

#include "observability/state_json.h"

namespace rayk::observability {

namespace {

using nlohmann::json;

// Each node as `rayk list nodes` shows it, with its state and what the
// page shows of its load.
json Nodes(const ClusterSnapshot& snapshot) {
  json nodes = json::array();
  for (const auto& node : snapshot.nodes) {
    json row = NodeJson(node);
    row["state"] = node.alive ? "ALIVE" : "DEAD";
    row["workers"] = node.num_workers;
    row["pending_leases"] = node.pending_leases;
    row["infeasible_demands"] = node.infeasible_demands;
    nodes.push_back(std::move(row));
  }
  return nodes;
}

// Each alive node's store as `rayk memory` shows it, and whether its raylet
// answered in time.
json ObjectStores(const ClusterSnapshot& snapshot) {
  json stores = json::array();
  for (const auto& node : snapshot.nodes) {
    if (!node.alive) continue;
    auto stats = snapshot.stores.find(node.node_id);
    json store = stats == snapshot.stores.end() ? json::object() : StoreStatsJson(stats->second);
    store["node_id"] = node.node_id.Hex();
    store["up"] = stats != snapshot.stores.end();
    stores.push_back(std::move(store));
  }
  return stores;
}

template <class Row, class Render>
json Rows(const std::vector<Row>& rows, Render render) {
  json out = json::array();
  for (const Row& row : rows) out.push_back(render(row));
  return out;
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
              {"actors", Rows(snapshot.actors, ActorJson)},
              {"jobs", Rows(snapshot.jobs, JobJson)},
              {"tasks", TaskSummaryJson(snapshot.tasks)}};
  // Names come from users: replace invalid UTF-8 rather than throw.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rayk::observability
