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
// Raylets report their resources to the GCS when they change (at most every
// kReportPeriod, and a heartbeat otherwise), and the GCS publishes the view's
// changes to every raylet (at most every kViewPublishPeriod): an idle
// cluster sends almost nothing, and a change reaches every raylet within
// kReportPeriod + kViewPublishPeriod.
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
// How often, at most, a raylet whose state changes reports it to the GCS: a
// busy node's state in other raylets' views is this stale, plus the publish
// period. Reports are batched to this pace so that a burst of leases costs
// one report, not one per lease.
constexpr auto kReportPeriod = std::chrono::milliseconds(100);
// How often, at most, the GCS publishes the view's changes (topic "view"):
// with many busy raylets, one publication carries every change of the
// period, instead of one fan-out per report.
constexpr auto kViewPublishPeriod = std::chrono::milliseconds(100);
// A raylet with nothing to report sends a heartbeat this many times per GCS
// node timeout, so that a few lost or late heartbeats never get a live node
// declared dead (the default 10 s timeout: one every 1.25 s).
constexpr int kHeartbeatsPerNodeTimeout = 8;
// Pushes can be missed (a publication sent before a subscription connected,
// or while the GCS restarted); a raylet that notices a gap asks at once, and
// one that noticed nothing asks for the view's changes this often anyway, so
// that a missed last change is not missed forever.
constexpr auto kViewRefreshPeriod = std::chrono::seconds(10);
// An idle raylet's housekeeping (its report check, drivers' liveness) backs
// off, doubling from kReportPeriod up to its heartbeat period or this, if
// shorter, so that an idle raylet wakes once per heartbeat; any change
// brings it back to kReportPeriod. Every wake-up counts: on a loaded 2-vCPU
// machine one costs 40-90 us of CPU, and a cluster has hundreds of raylets.
constexpr auto kIdleTickLimit = std::chrono::milliseconds(2000);

}  // namespace rayk
