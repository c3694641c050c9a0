// Placement groups: resources reserved together across the cluster, as Ray's
// placement groups. A group is a list of bundles (each a set of resources,
// such as {"CPU": 2}) and a strategy that says how the bundles share nodes.
// The GCS reserves every bundle at once on the nodes it picks, or none of
// them; tasks and actors then run inside a bundle with
// SetPlacementGroup(pg, bundle_index), on the bundle's node, using the
// bundle's resources instead of the node's free ones.
//
//   auto pg = rayk::CreatePlacementGroup(
//       {.bundles = {{{"CPU", 1}}, {{"CPU", 1}}}, .strategy = rayk::PlacementStrategy::kSpread});
//   if (!pg.Wait(std::chrono::seconds(10))) { /* not enough room yet */ }
//   auto ref = rayk::Task(Work).SetPlacementGroup(pg, 0).Remote();
//   rayk::RemovePlacementGroup(pg);  // releases the bundles, ends their actors
//
// A group that does not fit now stays pending and is placed once it fits (a
// node joins, work finishes); a bundle on a node that dies is placed again
// elsewhere. A group lives until it is removed or, unless detached, until the
// job that created it ends. Groups outlive a GCS restart on a durable store.
// Handles are values, may be copied, passed to tasks, and used from any thread.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rayk/resources.h"

namespace rayk {

// Ray's strategies. PACK: as few nodes as possible (one when it fits).
// SPREAD: as many nodes as possible. STRICT_PACK: all on one node, or wait.
// STRICT_SPREAD: each bundle on a node of its own, or wait.
enum class PlacementStrategy : uint32_t { kPack = 0, kSpread, kStrictPack, kStrictSpread };

// "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD".
const char* PlacementStrategyName(PlacementStrategy strategy);

// Every member is initialized, so that designated initializers may leave any
// out ({.bundles = ...}) without a -Wmissing-field-initializers warning.
struct PlacementGroupOptions {
  // Each bundle names resources and amounts: {{"CPU", 1}, {"GPU", 1}}.
  std::vector<std::map<std::string, double>> bundles = {};
  PlacementStrategy strategy = PlacementStrategy::kPack;
  // Empty: anonymous. Otherwise unique in the cluster; GetPlacementGroup finds it.
  std::string name = "";
  // Outlives the job that created it, until RemovePlacementGroup.
  bool detached = false;
};

class PlacementGroup {
 public:
  PlacementGroup() = default;
  // For rayk's own use (CreatePlacementGroup, GetPlacementGroup).
  PlacementGroup(PlacementGroupId id, std::string name, std::vector<ResourceSet> bundles,
                 PlacementStrategy strategy)
      : id_(id), name_(std::move(name)), bundles_(std::move(bundles)), strategy_(strategy) {}

  const PlacementGroupId& ID() const { return id_; }
  bool IsNil() const { return id_.IsNil(); }
  const std::string& name() const { return name_; }
  const std::vector<ResourceSet>& bundles() const { return bundles_; }
  size_t BundleCount() const { return bundles_.size(); }
  PlacementStrategy strategy() const { return strategy_; }

  // Waits up to `timeout` for every bundle to be reserved: true once they
  // are, false when time runs out first (the group stays pending). Throws
  // RuntimeError for a group that was removed or that the cluster does not know.
  bool Wait(std::chrono::milliseconds timeout) const;

  friend bool operator==(const PlacementGroup& a, const PlacementGroup& b) {
    return a.id_ == b.id_;
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& id_& name_& bundles_& strategy_;
  }

 private:
  PlacementGroupId id_;
  std::string name_;
  std::vector<ResourceSet> bundles_;
  PlacementStrategy strategy_ = PlacementStrategy::kPack;
};

// Registers the group with the GCS, which reserves its bundles as soon as
// they fit; returns at once (Wait for the reservation). A group without a
// name is sent without waiting for the GCS's answer (which comes once the
// group is on the GCS's disk); its Wait and Remove wait for that answer first
// and report its failure. Throws RuntimeError, in one line naming the problem
// and the fix, for no bundles, an empty bundle, an invalid resource name or
// amount, and a name already taken.
PlacementGroup CreatePlacementGroup(const PlacementGroupOptions& options);

// Releases the group's bundles on every node, ends the actors created in it
// and fails its tasks that have not started. As Ray's, asynchronous: it
// returns once the request is on its way (after the answer to the group's
// create); the GCS acts on it at once and answers once it is on disk, which
// the group's Wait and the process's exit wait for; a failure is logged.
// Removing a removed group does nothing. Throws RuntimeError for a nil
// handle, and when creating the group failed.
void RemovePlacementGroup(const PlacementGroup& group);

// The group created with that name in namespace `ns` (empty: this job's),
// from any driver or worker of the cluster. Throws RuntimeError("no placement
// group named '...'") when there is none.
PlacementGroup GetPlacementGroup(const std::string& name, const std::string& ns = "");

}  // namespace rayk
