// What `rayk list objects|workers` and the largest objects of `rayk summary
// objects` make of the raylets' listings (kListObjects, kListWorkers) and the
// GCS's actors and jobs: a row per object or process as JSON, tables for
// people, and `--filter key=value` over the rows.
//
// An object's owner here is the process that created it in its node's store
// (the store records its pid): a driver's Put, or the worker that ran the
// task returning it. Reference types (local, borrowed, used by a pending
// task) live in the owners' reference tables, which this does not ask.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "rayk/status.h"
#include "rpc/gcs_messages.h"
#include "rpc/object_messages.h"
#include "rpc/raylet_messages.h"

namespace rayk::cli {

// How a `--filter` key matches its row's field.
enum class FilterMatch {
  kPrefix,     // a hex id: the field starts with the value
  kExact,      // the field (a string, a number, true/false) is the value
  kUpperCase,  // a state: the field is the value in upper case
};
using FilterKeys = std::map<std::string, FilterMatch>;

// Whether a row's field matches a filter's value (a number or true/false
// as its JSON text).
bool FieldMatches(const nlohmann::json& field, FilterMatch match, const std::string& value);

// Splits a `--filter KEY=VALUE` and checks KEY is one of `keys`; the error
// (InvalidArgument) names the filter and every valid key.
Result<std::pair<std::string, std::string>> ParseFilter(const std::string& filter,
                                                        const FilterKeys& keys);

// Keeps the rows (JSON objects) whose field matches each of `filters`.
Result<nlohmann::json> FilterRows(nlohmann::json rows, const std::vector<std::string>& filters,
                                  const FilterKeys& keys);

// The keys `rayk list objects` and `rayk list workers` filter on.
const FilterKeys& ObjectFilterKeys();
const FilterKeys& WorkerFilterKeys();

// Who each process of the cluster is, from the raylets' worker lists, the
// GCS's actors and its jobs' drivers: what an object's owner column and a
// worker's actor columns show.
class ProcessDirectory {
 public:
  ProcessDirectory(const std::vector<protocol::WorkerList>& pools,
                   const std::vector<protocol::ActorInfo>& actors,
                   const std::vector<protocol::JobInfo>& jobs);

  // "actor counter", "worker 5f6e7d8c", "driver of job 1a2b3c4d" or "pid N"
  // (none of these: a process that ended, or one on a raylet that did not
  // answer).
  std::string Describe(const NodeId& node, int64_t pid) const;
  // The alive actor that process `pid` of node `node` hosts; null if none.
  const protocol::ActorInfo* ActorAt(const NodeId& node, int64_t pid) const;

 private:
  std::map<std::pair<NodeId, int64_t>, protocol::ActorInfo> actors_;
  std::map<std::pair<NodeId, int64_t>, WorkerId> workers_;
  std::map<int64_t, JobId> drivers_;  // running jobs; pids of this host's drivers
};

// One object of node `node`'s store:
//   {"object_id", "node_id", "size", "copy": primary|secondary, "pinned",
//    "spilled", "in_memory", "owner_pid", "owner"}
nlohmann::json ObjectRow(const protocol::StoreObjectInfo& object, const NodeId& node,
                         const ProcessDirectory& processes);
// A table: OBJECT, SIZE, NODE, COPY, STATE, OWNER.
std::string FormatObjects(const nlohmann::json& rows);

// The workers of every pool, then a DRIVER row per running job:
//   {"worker_id", "node_id", "pid", "state", "job_id", "actor_id",
//    "actor_name", "actor_class", "start_time_ms", "owner_address",
//    "address", "stopped"}
// A leased worker that hosts an alive actor has the state ACTOR.
nlohmann::json WorkerRows(const std::vector<protocol::WorkerList>& pools,
                          const std::vector<protocol::JobInfo>& jobs,
                          const ProcessDirectory& processes);
// A table: WORKER, NODE, PID, STATE, JOB, ACTOR, STARTED.
std::string FormatWorkers(const nlohmann::json& rows);

}  // namespace rayk::cli
