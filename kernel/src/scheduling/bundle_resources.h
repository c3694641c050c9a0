// Bundle resources: how a reserved placement-group bundle shows up in its
// node's resources, so that the ordinary scheduler places work in it.
//
// A committed bundle {"CPU": 2} of group G at index 1 leaves the node's free
// "CPU" lowered by 2 and adds, as Ray does, "CPU_group_1_<G>": 2 (that bundle)
// and "CPU_group_<G>": 2 (any bundle of G on the node), plus the markers
// "bundle_group_1_<G>" and "bundle_group_<G>" of kBundleMarkerAmount each. A
// task or actor in the group asks for the bundle-scoped names instead of the
// plain ones (and a sliver of the marker, so that one demanding nothing still
// lands on the bundle's node): only the node holding the bundle has them.
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "rayk/ids.h"
#include "rayk/resources.h"

namespace rayk {

inline constexpr double kBundleMarkerAmount = 1000;
inline constexpr double kBundleMarkerDemand = 0.001;

// What committing bundle `index` of `group` adds to its node.
ResourceSet BundleResources(const PlacementGroupId& group, uint32_t index,
                            const ResourceSet& bundle);

// The demand of work placed in `group`'s bundle `index` (-1: any bundle),
// in place of `demand`.
ResourceSet BundleDemand(const ResourceSet& demand, const PlacementGroupId& group, int64_t index);

// True for a name BundleResources makes; `base` gets the plain resource it
// stands for ("CPU"), or "" for a marker, and `any_bundle` whether it is the
// group-wide name (counted once per bundle, unlike the per-index one).
bool IsBundleResource(const std::string& name, std::string* base = nullptr,
                      bool* any_bundle = nullptr);

// What the bundles on a node hold, in plain names: the group-wide bundle
// resources of `total` without the markers ({"CPU": 2} for the example).
ResourceSet ReservedInBundles(const ResourceSet& total);

// `resources` without bundle resources: what a node has of its own.
ResourceSet WithoutBundleResources(const ResourceSet& resources);

}  // namespace rayk
