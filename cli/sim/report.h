// What `rayk sim` prints and draws: the comparison of several policies on one
// workload as a table for people, as JSON for programs, and as a plot of
// utilisation and queue length over simulated time drawn by gnuplot.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rayk/status.h"
#include "sim/simulator.h"

namespace rayk::sim {

struct PolicyRun {
  std::string policy;  // as given to --scheduler: a name or a path
  SimResult result;
};

// The comparison table, one row per policy.
std::string FormatComparison(const std::vector<PolicyRun>& runs);

// {"policies": [{"policy": ..., "makespan_s": ..., ...}]}, without the time series.
nlohmann::json ComparisonJson(const std::vector<PolicyRun>& runs);

// Draws utilisation of `resource` (the first resource when empty or absent)
// and the queue length over time, one line per policy, to `path` (.svg or
// .png) with gnuplot; a one-line error when gnuplot is missing or fails.
Status WritePlot(const std::vector<PolicyRun>& runs, const std::string& path,
                 const std::string& resource = "CPU");

}  // namespace rayk::sim
