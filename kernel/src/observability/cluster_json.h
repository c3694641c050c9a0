// The dashboard's JSON view of the cluster (GET /api/cluster on the head):
// the same ClusterSnapshot the Prometheus scrape renders, with the names,
// addresses and reasons a page shows and a metric leaves out. Its rows have
// the shapes of `rayk list ... --format json` (observability/state_json.h).
//
//   {"gcs": {...}, "nodes": [...], "object_stores": [...], "actors": [...],
//    "jobs": [...], "tasks": {"total": N, "by_state": {...}, "by_name": [...]}}
//
// docs/observability.md ("Dashboard") describes every field.
#pragma once

#include <string>

#include "observability/cluster_metrics.h"

namespace rayk::observability {

std::string RenderClusterJson(const ClusterSnapshot& snapshot);

}  // namespace rayk::observability
