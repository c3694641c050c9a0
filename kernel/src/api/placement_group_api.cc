// rayk/placement_group.h: the user's calls, over the process's cluster runtime.
#include "rayk/errors.h"
#include "rayk/internal/api_impl.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/placement_group.h"

namespace rayk {

namespace {

void RequireGroup(const PlacementGroup& group, const std::string& operation) {
  if (group.IsNil()) throw RuntimeError(operation + " on an empty PlacementGroup handle");
}

}  // namespace

const char* PlacementStrategyName(PlacementStrategy strategy) {
  switch (strategy) {
    case PlacementStrategy::kPack:
      return "PACK";
    case PlacementStrategy::kSpread:
      return "SPREAD";
    case PlacementStrategy::kStrictPack:
      return "STRICT_PACK";
    case PlacementStrategy::kStrictSpread:
      return "STRICT_SPREAD";
  }
  return "UNKNOWN";
}

PlacementGroup CreatePlacementGroup(const PlacementGroupOptions& options) {
  internal::ClusterRuntime& cluster = internal::RequireClusterRuntime();
  const std::string what = "rayk::CreatePlacementGroup";
  if (options.bundles.empty()) {
    throw RuntimeError(what +
                       ": no bundles; pass at least one, such as .bundles = {{{\"CPU\", 1}}}");
  }
  std::vector<ResourceSet> bundles;
  for (size_t i = 0; i < options.bundles.size(); ++i) {
    const std::string bundle = what + " bundle " + std::to_string(i);
    ResourceSet set;
    for (const auto& [name, amount] : options.bundles[i]) {
      if (amount == 0) {
        throw RuntimeError(bundle + ": resource '" + name +
                           "' has amount 0; give a positive amount or leave the resource out");
      }
      internal::CheckBundleResource(bundle, name, amount);
      set.Set(name, amount);
    }
    if (set.empty()) {
      throw RuntimeError(bundle +
                         " has no resources; give every bundle at least one, such as "
                         "{\"CPU\", 1}");
    }
    bundles.push_back(std::move(set));
  }
  Result<PlacementGroup> group =
      cluster.CreatePlacementGroup(bundles, options.strategy, options.name, options.detached);
  if (!group.ok()) {
    if (group.status().code() == StatusCode::kAlreadyExists) {
      throw RuntimeError(what + ": the name '" + options.name +
                         "' is taken by another placement group; pick another name");
    }
    throw RuntimeError(what + ": " + group.status().message());
  }
  return std::move(*group);
}

void RemovePlacementGroup(const PlacementGroup& group) {
  internal::ClusterRuntime& cluster = internal::RequireClusterRuntime();
  RequireGroup(group, "rayk::RemovePlacementGroup");
  Status status = cluster.RemovePlacementGroup(group.ID());
  if (!status.ok()) {
    throw RuntimeError("rayk::RemovePlacementGroup(" + group.ID().Hex().substr(0, 8) +
                       "): " + status.message());
  }
}

PlacementGroup GetPlacementGroup(const std::string& name, const std::string& ns) {
  internal::ClusterRuntime& cluster = internal::RequireClusterRuntime();
  if (!ns.empty()) internal::CheckNamespaceOption("rayk::GetPlacementGroup", ns);
  Result<PlacementGroup> group = cluster.GetPlacementGroup(name, ns);
  if (!group.ok()) {
    if (group.status().code() == StatusCode::kNotFound) {
      throw RuntimeError(group.status().message() +
                         "; create it with rayk::CreatePlacementGroup({.name = \"" + name +
                         "\", ...}) or check the name with `rayk list placement-groups`");
    }
    throw RuntimeError("cannot look up placement group '" + name +
                       "': " + group.status().message());
  }
  return std::move(*group);
}

bool PlacementGroup::Wait(std::chrono::milliseconds timeout) const {
  internal::ClusterRuntime& cluster = internal::RequireClusterRuntime();
  RequireGroup(*this, "PlacementGroup::Wait");
  Result<bool> created = cluster.WaitPlacementGroup(id_, timeout);
  if (!created.ok()) {
    throw RuntimeError("PlacementGroup::Wait(" + id_.Hex().substr(0, 8) +
                       "): " + created.status().message());
  }
  return *created;
}

namespace internal {

void SetPlacementGroupOption(const std::string& what, const PlacementGroup& group, int bundle_index,
                             Placement* placement) {
  if (group.IsNil()) throw RuntimeError(what + ".SetPlacementGroup: the handle is empty");
  const int64_t count = static_cast<int64_t>(group.BundleCount());
  if (bundle_index < -1 || bundle_index >= count) {
    throw RuntimeError(what + ".SetPlacementGroup: bundle_index " + std::to_string(bundle_index) +
                       " is out of range; the group has " + std::to_string(count) +
                       " bundle(s): give 0 to " + std::to_string(count - 1) +
                       ", or -1 for any bundle");
  }
  placement->placement_group = group.ID();
  placement->bundle_index = bundle_index;
}

}  // namespace internal

}  // namespace rayk
