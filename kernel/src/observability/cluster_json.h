// The dashboard's JSON view of the cluster (GET /api/cluster on the head):
// the same ClusterSnapshot the Prometheus scrape renders, with the names,
// addresses and reasons a page shows and a metric leaves out.
//
//   {"gcs": {...}, "nodes": [...], "object_stores": [...], "actors": [...],
//    "jobs": [...], "tasks": {"total": N, "by_state": {...}, "by_name": [...]}}
//
// docs/observability.md ("Dashboard") describes every field. Ids are hex, as
// `rayk status` and `rayk list` show them; times are milliseconds since the
// Unix epoch (0: not yet).
#pragma once

#include <string>

#include "observability/cluster_metrics.h"

namespace rayk::observability {

std::string RenderClusterJson(const ClusterSnapshot& snapshot);

}  // namespace rayk::observability
