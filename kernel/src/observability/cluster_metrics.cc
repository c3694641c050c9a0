#include "observability/cluster_metrics.h"

#include <future>
#include <memory>

#include "observability/exposition.h"
#include "rpc/codec.h"

namespace rayk::observability {

namespace {

Labels NodeLabel(const NodeId& id) { return {{"node_id", id.Hex()}}; }

// Writes one family whose samples are one per node.
template <class Value>
void PerNode(ExpositionWriter& out, std::string_view name, MetricType type, std::string_view help,
             const std::map<NodeId, protocol::StoreStats>& stores, Value value) {
  out.Family(name, type, help);
  for (const auto& [id, stats] : stores) {
    out.Sample(name, NodeLabel(id), static_cast<double>(value(stats)));
  }
}

void WriteNodes(ExpositionWriter& out, const ClusterSnapshot& snapshot) {
  int alive = 0;
  for (const auto& node : snapshot.nodes) alive += node.alive ? 1 : 0;
  out.Family("rayk_nodes_alive", MetricType::kGauge, "Nodes whose raylet reports to the GCS.");
  out.Sample("rayk_nodes_alive", {}, alive);
  out.Family("rayk_nodes_dead", MetricType::kGauge,
             "Nodes the GCS marked dead (their reports stopped).");
  out.Sample("rayk_nodes_dead", {}, static_cast<double>(snapshot.nodes.size()) - alive);

  out.Family("rayk_node_info", MetricType::kGauge,
             "One sample per node known to the GCS, always 1; its labels say where it is.");
  for (const auto& node : snapshot.nodes) {
    out.Sample("rayk_node_info",
               {{"node_id", node.node_id.Hex()},
                {"address", node.raylet_address},
                {"state", node.alive ? "alive" : "dead"}},
               1);
  }

  // Resources of alive nodes, per node and summed over the cluster.
  std::map<std::string, double> cluster_total, cluster_available;
  out.Family("rayk_node_resource_capacity", MetricType::kGauge,
             "A resource's capacity on an alive node (CPU, GPU, custom resources).");
  for (const auto& node : snapshot.nodes) {
    if (!node.alive) continue;
    for (const auto& [name, amount] : node.total.amounts()) {
      out.Sample("rayk_node_resource_capacity",
                 {{"node_id", node.node_id.Hex()}, {"resource", name}}, amount);
      cluster_total[name] += amount;
    }
  }
  out.Family("rayk_node_resource_available", MetricType::kGauge,
             "A resource's amount not held by leases on an alive node.");
  for (const auto& node : snapshot.nodes) {
    if (!node.alive) continue;
    for (const auto& [name, amount] : node.total.amounts()) {
      double available = node.available.Get(name);
      out.Sample("rayk_node_resource_available",
                 {{"node_id", node.node_id.Hex()}, {"resource", name}}, available);
      cluster_available[name] += available;
    }
  }
  out.Family("rayk_cluster_resource_capacity", MetricType::kGauge,
             "A resource's capacity summed over alive nodes.");
  for (const auto& [name, amount] : cluster_total) {
    out.Sample("rayk_cluster_resource_capacity", {{"resource", name}}, amount);
  }
  out.Family("rayk_cluster_resource_available", MetricType::kGauge,
             "A resource's available amount summed over alive nodes.");
  for (const auto& [name, amount] : cluster_available) {
    out.Sample("rayk_cluster_resource_available", {{"resource", name}}, amount);
  }

  out.Family("rayk_node_workers", MetricType::kGauge,
             "Worker processes in an alive node's pool (idle, leased and actors).");
  for (const auto& node : snapshot.nodes) {
    if (node.alive) out.Sample("rayk_node_workers", NodeLabel(node.node_id), node.num_workers);
  }
  out.Family("rayk_node_leases_pending", MetricType::kGauge,
             "Worker lease requests queued at an alive node's raylet.");
  for (const auto& node : snapshot.nodes) {
    if (node.alive) {
      out.Sample("rayk_node_leases_pending", NodeLabel(node.node_id), node.pending_leases);
    }
  }
  out.Family("rayk_node_demands_infeasible", MetricType::kGauge,
             "Kinds of queued lease demand that no node of the cluster can satisfy.");
  for (const auto& node : snapshot.nodes) {
    if (node.alive) {
      out.Sample("rayk_node_demands_infeasible", NodeLabel(node.node_id),
                 static_cast<double>(node.infeasible_demands.size()));
    }
  }
}

void WriteActorsAndJobs(ExpositionWriter& out, const ClusterSnapshot& snapshot) {
  std::map<std::string, int> actors;
  for (auto state : {protocol::ActorState::kPending, protocol::ActorState::kAlive,
                     protocol::ActorState::kRestarting, protocol::ActorState::kDead}) {
    actors[protocol::ActorStateName(state)] = 0;  // every state, so a query never finds a gap
  }
  for (const auto& actor : snapshot.actors) ++actors[protocol::ActorStateName(actor.state)];
  out.Family("rayk_actors", MetricType::kGauge, "Actors by state.");
  for (const auto& [state, count] : actors) out.Sample("rayk_actors", {{"state", state}}, count);

  int running = 0;
  for (const auto& job : snapshot.jobs) running += job.finished ? 0 : 1;
  out.Family("rayk_jobs", MetricType::kGauge, "Jobs (drivers) by state.");
  out.Sample("rayk_jobs", {{"state", "running"}}, running);
  out.Sample("rayk_jobs", {{"state", "finished"}},
             static_cast<double>(snapshot.jobs.size()) - running);
}

void WriteStores(ExpositionWriter& out, const ClusterSnapshot& snapshot) {
  out.Family("rayk_object_store_up", MetricType::kGauge,
             "1 if an alive node's raylet answered this scrape's store query, else 0.");
  for (const auto& node : snapshot.nodes) {
    if (node.alive) {
      out.Sample("rayk_object_store_up", NodeLabel(node.node_id),
                 snapshot.stores.count(node.node_id) ? 1 : 0);
    }
  }
  using Stats = protocol::StoreStats;
  const auto& stores = snapshot.stores;
  PerNode(out, "rayk_object_store_capacity_bytes", MetricType::kGauge,
          "The node's object store capacity.", stores,
          [](const Stats& s) { return s.capacity_bytes; });
  PerNode(out, "rayk_object_store_used_bytes", MetricType::kGauge,
          "Bytes of objects in the node's object store memory.", stores,
          [](const Stats& s) { return s.used_bytes; });
  PerNode(out, "rayk_object_store_pinned_bytes", MetricType::kGauge,
          "Bytes of objects pinned in memory (primary copies and objects being read).", stores,
          [](const Stats& s) { return s.pinned_bytes; });
  PerNode(out, "rayk_object_store_spilled_bytes", MetricType::kGauge,
          "Bytes of objects spilled to disk by the node's store.", stores,
          [](const Stats& s) { return s.spilled_bytes; });
  PerNode(out, "rayk_object_store_objects", MetricType::kGauge,
          "Objects in the node's store, in memory or spilled.", stores,
          [](const Stats& s) { return s.num_objects; });
  PerNode(out, "rayk_object_store_evictions_total", MetricType::kCounter,
          "Secondary copies the node's store evicted since it started.", stores,
          [](const Stats& s) { return s.num_evicted; });
  PerNode(out, "rayk_object_store_spills_total", MetricType::kCounter,
          "Objects the node's store spilled to disk since it started.", stores,
          [](const Stats& s) { return s.num_spilled; });
}

void WriteGcs(ExpositionWriter& out, const ClusterSnapshot& snapshot) {
  out.Family("rayk_gcs_request_duration_seconds", MetricType::kHistogram,
             "Time from a request's arrival at the GCS to its reply, by message type "
             "(long polls such as GetActor waiting for a change count their wait).");
  for (const auto& entry : snapshot.gcs_latency) {
    const char* name = protocol::MessageTypeName(entry.type);
    out.Histogram("rayk_gcs_request_duration_seconds",
                  {{"message_type", name ? name : std::to_string(static_cast<int>(entry.type))}},
                  entry.data);
  }
  out.Family("rayk_gcs_restarts", MetricType::kGauge,
             "Times the head's supervisor restarted the GCS server.");
  out.Sample("rayk_gcs_restarts", {}, snapshot.gcs.restarts);
  out.Family("rayk_gcs_start_time_seconds", MetricType::kGauge,
             "When this GCS server incarnation started, in seconds since the Unix epoch.");
  out.Sample("rayk_gcs_start_time_seconds", {},
             static_cast<double>(snapshot.gcs.start_time_ms) / 1000.0);
  out.Family("rayk_gcs_store_healthy", MetricType::kGauge,
             "1 while the GCS's table store (the gcs plugin) works, 0 while it fails.");
  out.Sample("rayk_gcs_store_healthy", {}, snapshot.gcs.store_error.empty() ? 1 : 0);
}

}  // namespace

std::map<NodeId, protocol::StoreStats> CollectStoreStats(
    Transport& transport, const std::vector<protocol::NodeInfo>& nodes,
    std::chrono::milliseconds timeout) {
  struct Pending {
    NodeId id;
    std::unique_ptr<Channel> channel;
    std::promise<Result<std::string>> reply;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  for (const auto& node : nodes) {
    if (!node.alive) continue;
    auto channel = transport.Connect(node.raylet_address);
    if (!channel.ok()) continue;
    auto call = std::make_unique<Pending>(Pending{node.node_id, std::move(*channel), {}});
    Pending* raw = call.get();
    raw->channel->Call(
        protocol::Encode(protocol::MessageType::kGetStoreStats, protocol::GetStoreStats{}),
        [raw](Result<std::string> reply) { raw->reply.set_value(std::move(reply)); }, timeout);
    pending.push_back(std::move(call));
  }
  std::map<NodeId, protocol::StoreStats> stores;
  for (auto& call : pending) {
    // Every call completes: with its reply, kTimedOut after `timeout`, or
    // kUnavailable when its channel closes.
    Result<std::string> reply = call->reply.get_future().get();
    if (!reply.ok()) continue;
    auto stats = protocol::Decode<protocol::StoreStats>(*reply);
    if (stats.ok()) stores[call->id] = std::move(*stats);
  }
  return stores;
}

std::string RenderClusterMetrics(const ClusterSnapshot& snapshot) {
  ExpositionWriter out;
  WriteNodes(out, snapshot);
  WriteActorsAndJobs(out, snapshot);
  WriteStores(out, snapshot);
  WriteGcs(out, snapshot);
  return out.Take();
}

}  // namespace rayk::observability
