// The constants of Ray's lease model as rayk runs it, shared by the parts that
// play it: the owner's TaskSubmitter (core_worker/), the raylet (raylet/) and
// the scheduler simulator (`rayk sim`, cli/sim/), so that the simulation
// reuses and spills leases exactly as a cluster does.
//
// An owner groups its tasks into scheduling classes (resources + placement).
// A class asks its local raylet for worker leases, at most kMaxLeaseRequests
// at a time; a granted lease runs the class's queued tasks one after another
// without asking the scheduler again, and goes back to its raylet after
// kLeaseIdleTime with nothing to run. A raylet forwards (spills back) one
// request at most kMaxSpillbacks times: a forwarded request waits on its node
// while that can ever fit it, unless a newer view shows a node with room now.
// Raylets report their resources to the
// GCS, and learn everyone else's, every kReportPeriod.
#pragma once

#include <chrono>
#include <cstdint>

namespace rayk {

// A leased worker with nothing to do is kept this long in case more tasks of
// its class come (a loop of sync calls), then returned for others to use.
constexpr auto kLeaseIdleTime = std::chrono::milliseconds(20);
// How many lease requests one scheduling class may have outstanding.
constexpr int kMaxLeaseRequests = 8;
// How many times one lease request may be forwarded between raylets.
constexpr uint32_t kMaxSpillbacks = 4;
// How often a raylet reports its resources to the GCS and asks for the
// cluster view: remote nodes in a raylet's view are this stale.
constexpr auto kReportPeriod = std::chrono::milliseconds(100);

}  // namespace rayk
