// The head's Prometheus metrics: what the GCS knows of the whole cluster,
// rendered as one scrape (docs/observability.md lists every metric).
//
// The GCS gathers a ClusterSnapshot under its own locks: its node, job and
// actor tables, its request latencies, a summary of its task table, and each
// alive node's object store statistics, which it asks the node's raylet for
// at scrape time (CollectStoreStats) as `rayk memory` does. The same
// snapshot feeds both of the head's HTTP views: RenderClusterMetrics turns it
// into exposition text, RenderClusterJson (cluster_json.h) into the
// dashboard's JSON. Both are pure functions, so names, labels and values are
// tested without a cluster.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "observability/latency_histograms.h"
#include "observability/task_table.h"
#include "rayk/plugin/transport.h"
#include "rpc/gcs_messages.h"
#include "rpc/object_messages.h"

namespace rayk::observability {

struct ClusterSnapshot {
  std::vector<protocol::NodeInfo> nodes;
  std::vector<protocol::JobInfo> jobs;
  std::vector<protocol::ActorInfo> actors;
  // Alive nodes whose raylet answered in time, by node id.
  std::map<NodeId, protocol::StoreStats> stores;
  std::vector<LatencyHistograms::Entry> gcs_latency;
  TaskSummary tasks;
  protocol::GcsInfo gcs;
};

// Asks the raylet of every alive node in `nodes` for its store statistics,
// all at once, and waits at most `timeout` for the answers; a node that does
// not answer is left out (and shows as rayk_object_store_up 0).
std::map<NodeId, protocol::StoreStats> CollectStoreStats(
    Transport& transport, const std::vector<protocol::NodeInfo>& nodes,
    std::chrono::milliseconds timeout);

std::string RenderClusterMetrics(const ClusterSnapshot& snapshot);

}  // namespace rayk::observability
