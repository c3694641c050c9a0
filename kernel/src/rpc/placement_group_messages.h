// Placement-group messages: the GCS's table of groups (create, remove, get,
// list) and the two-phase reservation of bundles on raylets (prepare on
// every chosen raylet, then commit on each; release undoes either).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rayk/placement_group.h"
#include "rpc/common_messages.h"

namespace rayk::protocol {

// PENDING: some bundle is not reserved (it does not fit now, or its node
// died); CREATED: every bundle is; REMOVED: released for good.
enum class PlacementGroupState : uint8_t { kPending = 0, kCreated, kRemoved };
const char* PlacementGroupStateName(PlacementGroupState state);

struct PlacementGroupSpec {
  PlacementGroupId group_id;
  JobId job_id;
  std::string name;
  std::string namespace_name;  // of `name`
  std::vector<ResourceSet> bundles;
  PlacementStrategy strategy = PlacementStrategy::kPack;
  bool detached = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group_id& job_id& name& namespace_name& bundles& strategy& detached;
  }
};

struct PlacementGroupInfo {
  bool found = false;  // false: no such group (a reply to GetPlacementGroup)
  PlacementGroupSpec spec;
  PlacementGroupState state = PlacementGroupState::kPending;
  std::vector<NodeId> bundle_nodes;  // per bundle: where it is reserved; Nil while not
  std::string pending_reason;        // why it is pending, as the scheduler said
  int64_t create_time_ms = 0;
  int64_t placed_time_ms = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& spec& state& bundle_nodes& pending_reason& create_time_ms& placed_time_ms;
  }
};

struct CreatePlacementGroup {
  PlacementGroupSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& spec;
  }
};

struct RemovePlacementGroup {
  PlacementGroupId group_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group_id;
  }
};

// The longest the GCS holds a GetPlacementGroup before answering: well under
// GcsClient::kAttemptTimeout, so a silent poll means a lost GCS.
constexpr int64_t kPlacementGroupLongPollMs = 2000;

// By id, or by name when the id is nil. wait_ms > 0: answer once the group
// is created or removed, or after min(wait_ms, kPlacementGroupLongPollMs).
struct GetPlacementGroup {
  PlacementGroupId group_id;
  std::string name;  // when group_id is nil, in namespace_name
  std::string namespace_name;
  int64_t wait_ms = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group_id& name& namespace_name& wait_ms;
  }
};

struct ListPlacementGroups {
  template <class A>
  void serialize(A&, unsigned) {}
};

struct PlacementGroupList {
  std::vector<PlacementGroupInfo> groups;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& groups;
  }
};

// Prepare: hold the bundles' resources on this node (all or none), answered
// with a StatusReply. Commit: turn held bundles into bundle resources that
// leases in the group can ask for. Both are idempotent per bundle.
struct BundleReservation {
  PlacementGroupId group_id;
  std::vector<uint32_t> indices;     // bundle indices within the group
  std::vector<ResourceSet> bundles;  // with Prepare: each index's resources
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group_id& indices& bundles;
  }
};

// Gives back the group's bundles on this node (prepared or committed).
// removed: the group is gone for good: its leases end and its queued leases
// fail; otherwise (an aborted prepare, a bundle moved) only the reservation goes.
struct ReleaseBundles {
  PlacementGroupId group_id;
  bool removed = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group_id& removed;
  }
};

RAYK_MESSAGE_BODY(kCreatePlacementGroup, CreatePlacementGroup);
RAYK_MESSAGE_BODY(kRemovePlacementGroup, RemovePlacementGroup);
RAYK_MESSAGE_BODY(kGetPlacementGroup, GetPlacementGroup);
RAYK_MESSAGE_BODY(kListPlacementGroups, ListPlacementGroups);
RAYK_MESSAGE_BODY(kPrepareBundles, BundleReservation);
RAYK_MESSAGE_BODY(kCommitBundles, BundleReservation);
RAYK_MESSAGE_BODY(kReleaseBundles, ReleaseBundles);
// Gives back only bundles `indices` of the group on this node, prepared or
// committed (an aborted reservation attempt); its other bundles here stay.
// Leases holding a cancelled bundle end. Idempotent; answered with an ack.
RAYK_MESSAGE_BODY(kCancelBundles, BundleReservation);
RAYK_MESSAGE_BODY(kPlacementGroupInfo, PlacementGroupInfo);
RAYK_MESSAGE_BODY(kPlacementGroupList, PlacementGroupList);

}  // namespace rayk::protocol
