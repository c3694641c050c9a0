// Message bodies every service shares: the empty body, status replies, and
// the wire form of the runtime's own structs that messages carry.
#pragma once

#include <boost/serialization/map.hpp>
#include <boost/serialization/optional.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <string>

#include "rayk/ids.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/serialization_std.h"  // std::optional, which Boost 1.74 lacks
#include "rayk/resources.h"
#include "rayk/status.h"
#include "rpc/codec.h"

namespace rayk::protocol {

struct Empty {
  template <class A>
  void serialize(A&, unsigned) {}
};

// The devices of one accelerator resource a lease holds on its node
// (scheduling/accelerators.h): its worker sets `env_var` to the ids, comma
// separated (empty when it holds none), before it runs a task of the lease.
struct AcceleratorIds {
  std::string resource;  // "GPU"
  std::string env_var;   // "CUDA_VISIBLE_DEVICES"
  std::vector<int> ids;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& resource& env_var& ids;
  }
};

// One accelerator resource of a node and how much of each of its devices
// leases hold (NodeInfo, `rayk status`): used[i] is device i's share in use,
// 0 (free) to 1 (wholly taken).
struct AcceleratorUse {
  std::string resource;  // "GPU"
  std::vector<double> used;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& resource& used;
  }
};

// A reply that is just a status; also the body of kErrorReply.
struct StatusReply {
  bool ok = true;
  int code = 0;
  std::string message;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& ok& code& message;
  }
  static StatusReply From(const Status& status) {
    return {status.ok(), static_cast<int>(status.code()), status.message()};
  }
  Status ToStatus() const {
    return ok ? Status::Ok() : Status(static_cast<StatusCode>(code), message);
  }
};

RAYK_MESSAGE_BODY(kAck, Empty);
RAYK_MESSAGE_BODY(kStatusReply, StatusReply);
RAYK_MESSAGE_BODY(kErrorReply, StatusReply);

}  // namespace rayk::protocol

namespace boost::serialization {
template <class A>
void serialize(A& ar, rayk::internal::StoreLocation& location, unsigned) {
  ar& location.node& location.raylet_address& location.size;
}
template <class A>
void serialize(A& ar, rayk::internal::TaskArg& arg, unsigned) {
  ar& arg.is_ref& arg.ref& arg.owner_address& arg.value& arg.location;
}
template <class A>
void serialize(A& ar, rayk::internal::Placement& placement, unsigned) {
  ar& placement.strategy& placement.affinity_node& placement.affinity_soft& placement
      .label_selector& placement.placement_group& placement.bundle_index;
}
}  // namespace boost::serialization
