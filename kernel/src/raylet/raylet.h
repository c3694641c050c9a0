// Raylet: the node manager. It owns the node's resources and worker pool and
// grants worker leases to owners (drivers and workers that submit tasks).
//
// An owner asks for a lease for a resource demand; the scheduler plugin
// decides whether this node runs it now, later, or never; once resources and
// an idle worker of the job are there, the raylet replies with the worker's
// address, and the owner pushes tasks to that worker directly until it returns
// the lease. The raylet is not on the per-task path.
//
// Workers are started on demand (`rayk worker`), reused across leases of the
// same job, and capped by the node's resources. A worker that blocks in Get()
// lends its CPU back until it unblocks, so nested tasks cannot deadlock the
// node. When a worker dies, its lease's owner is told at once. A job's
// workers load only the code its record in the GCS names, fetched by digest
// into this host's code cache before the job's first worker starts.
// Requests are served through a handler table (rpc/service.h): one handler
// per message type; malformed ones get an error reply.
// The cluster view: the raylet reports its own state to the GCS when it
// changes (at most every kReportPeriod) and otherwise sends a heartbeat sized
// to the GCS's node timeout; it learns the other nodes' changes from the
// GCS's "view" publications, asking for them itself only when it notices a
// gap or every kViewRefreshPeriod (common/lease_policy.h). An idle raylet's
// monitor thread backs off to a wake-up per heartbeat, so an idle cluster costs
// almost nothing.
// Thread-safe: one mutex guards the state; handlers, the monitor thread and
// the view subscription's thread take it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/lease_policy.h"
#include "common/port_range.h"
#include "gcs/gcs_client.h"
#include "gcs/gcs_subscription.h"
#include "job_code/code_cache.h"
#include "object_manager/object_manager.h"
#include "rayk/label_selector.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/transport.h"
#include "raylet/log_monitor.h"
#include "rpc/protocol.h"
#include "rpc/service.h"
#include "scheduling/accelerators.h"

namespace rayk {

// This machine's host name (to tell local owners from remote ones).
std::string LocalHostName();

class Raylet {
 public:
  struct Options {
    NodeId node_id = NodeId::FromRandom();
    ResourceSet resources;
    std::map<std::string, std::string> labels;
    // Accelerator resources besides GPU, with the environment variable their
    // devices' ids go in (scheduling/accelerators.h).
    std::map<std::string, std::string> accelerators;
    std::string gcs_address;
    std::string session_dir;
    std::string code_cache_dir;            // this host's job code (job_code/code_cache.h)
    std::string config_file;               // handed to the workers it starts
    std::vector<std::string> config_sets;  // --set overrides, handed on too
    std::string endpoint = "tcp://127.0.0.1:0";
    PortRange worker_ports;   // handed to the workers it starts
    bool lease_reuse = true;  // [scheduler] lease_reuse: told to owners in each grant
    // Called once when the node is asked to stop (a kShutdownRaylet message,
    // or the GCS declared it dead): the raylet process signals itself, so
    // that its main thread waits for a signal and never polls.
    std::function<void()> on_shutdown;
  };

  // `store` (may be null) is this node's object store, created here (the
  // raylet owns the node's segment) and served to other nodes.
  static Result<std::unique_ptr<Raylet>> Start(Options options,
                                               std::shared_ptr<Transport> transport,
                                               std::shared_ptr<Scheduler> scheduler,
                                               std::shared_ptr<ObjectStore> store = nullptr,
                                               const std::string& store_plugin = "");
  ~Raylet();

  std::string endpoint() const { return server_->endpoint(); }
  const NodeId& node_id() const { return options_.node_id; }
  // True once a kShutdownRaylet message asked the process to exit, or the
  // GCS declared this node dead.
  bool shutdown_requested() const { return shutdown_requested_; }

 private:
  struct Worker {
    WorkerId id;
    pid_t pid = 0;
    JobId job_id;
    std::string address;    // empty until it registers
    uint64_t lease_id = 0;  // 0: idle
    bool blocked = false;
    bool dying = false;  // killed, not yet reaped: never granted again
    // Set while its process is stopped (SIGSTOP, a debugger): it makes no
    // progress. stop_reported: its lease's owner was warned of this stop.
    int64_t stopped_since_ms = 0;
    bool stop_reported = false;
    int64_t start_time_ms = 0;  // when it was started (ms since the epoch)
  };
  struct Lease {
    uint64_t id = 0;
    WorkerId worker_id;
    ResourceSet resources;
    std::string owner_address;
    JobId job_id;
    NodeAccelerators::Held devices = {};  // its accelerators' devices
  };
  struct PendingLease {
    protocol::RequestWorkerLease request;
    ReplyFn reply;
    bool resources_acquired = false;
    NodeAccelerators::Held devices = {};  // taken with the resources
    bool worker_requested = false;
    bool infeasible = false;    // no node can ever run it, as the view stands
    bool warned = false;        // its owner was told so
    uint64_t arrival_view = 0;  // the cluster view's version when it came
    std::chrono::steady_clock::time_point arrival_time{};
  };

  Raylet(Options options, std::shared_ptr<Transport> transport,
         std::shared_ptr<Scheduler> scheduler);
  // One handler per message type (RegisterHandlers lists them).
  void RegisterHandlers();
  void OnRequestWorkerLease(protocol::RequestWorkerLease request, ReplyFn reply);
  void OnWatchDriver(protocol::WatchDriver request, ReplyFn reply);
  // Watches `pid` as the driver of `job_id` when it runs on this host and is
  // not one of this node's workers (CheckDriversLocked ends its job).
  void WatchDriverLocked(const JobId& job_id, int64_t pid, const std::string& host);
  void OnReturnWorker(protocol::ReturnWorker request, ReplyFn reply);
  void OnRegisterWorker(protocol::RegisterWorker request, ReplyFn reply);
  void OnWorkerBlockState(const protocol::WorkerBlockState& request, bool blocked, ReplyFn reply);
  void OnFinishJob(protocol::FinishJob request, ReplyFn reply);
  void OnReadLogs(protocol::ReadLogs request, ReplyFn reply);
  // `rayk list workers`: the worker pool (drivers are the GCS's jobs).
  void OnListWorkers(protocol::ListWorkers request, ReplyFn reply);
  // Placement-group bundles (placement_bundles.cc): the GCS's two-phase
  // reservation. Prepare holds a bundle's resources (all of a request's
  // bundles or none), commit turns them into bundle resources
  // (scheduling/bundle_resources.h), release gives them back.
  void OnPrepareBundles(protocol::BundleReservation request, ReplyFn reply);
  void OnCommitBundles(protocol::BundleReservation request, ReplyFn reply);
  void OnReleaseBundles(protocol::ReleaseBundles request, ReplyFn reply);
  void OnCancelBundles(protocol::BundleReservation request, ReplyFn reply);
  // A lease asking for a bundle: its demand in bundle resources, or false
  // after failing it when its group was removed.
  bool PrepareBundleLeaseLocked(protocol::RequestWorkerLease& request, const ReplyFn& reply);
  // Ends the leases that hold `group`'s bundles (only bundle `index`'s when
  // given: their resources all go back, before the bundle goes) and, with
  // fail_queued, fails the queued leases that want them.
  void EndGroupLeasesLocked(const PlacementGroupId& group, const std::string& why, bool fail_queued,
                            std::optional<uint32_t> index = std::nullopt);

  // Grants what can be granted. Called after every change.
  void DispatchLocked();
  // Where a queued lease stands after a step of DispatchLocked.
  enum class LeaseStep {
    kWait,      // stays queued
    kReady,     // resources held here: find it a worker
    kAnswered,  // its owner got a reply: leaves the queue
  };
  // The view DispatchLocked schedules against, and the same with this node alone.
  struct DispatchViews {
    ClusterView all;
    ClusterView local_only;
  };
  LeaseStep ScheduleLeaseLocked(PendingLease& lease, DispatchViews& views);
  // What the scheduler decides about a lease, with the view its hops call for.
  SchedulingDecision ForwardedLeaseDecisionLocked(const PendingLease& lease,
                                                  const SchedulingRequest& request,
                                                  const DispatchViews& views);
  LeaseStep InfeasibleLeaseLocked(PendingLease& lease, const SchedulingDecision& decision);
  LeaseStep GrantLeaseLocked(PendingLease& lease);
  // Replies to the lease's owner, with its request id.
  static void AnswerLease(PendingLease& lease, protocol::LeaseReply reply);
  // This node (with its live resources) and every alive node of the view.
  ClusterView ViewLocked();
  // A delta pulled or pushed: applied when it fits the view held, or else
  // (a publication was missed) a pull is asked for.
  void ApplyViewDelta(const protocol::ClusterViewDelta& delta);
  // Asks the GCS for the view's changes since the version held (one at a time).
  void PullView();
  // Something changed: an idle monitor wakes to report it (see MonitorLoop).
  void NoteChangeLocked();
  void StartWorker(const protocol::RequestWorkerLease& request,
                   const std::vector<std::string>& code);
  // A job's code on this host: fetched once, before its first worker starts,
  // from the job's record in the GCS (never from a lease request).
  struct JobCode {
    enum class State { kFetching, kReady, kFailed } state = State::kFetching;
    std::vector<std::string> paths;
    std::string error;
  };
  // The job's code state; queues a fetch when the job is new here.
  const JobCode& JobCodeLocked(const JobId& job_id);
  void CodeFetchLoop();
  // Gives back a lease's resources and the accelerator devices it took with them.
  void ReleaseResources(const ResourceSet& resources, const NodeAccelerators::Held& devices = {});
  void AcquireResources(const ResourceSet& resources);
  void KillWorker(Worker& worker);
  bool IsWorkerPid(int64_t pid) const;
  // Ends a job on this node: fails its queued leases, kills its workers
  // (not its actors: the GCS ends those, sparing detached ones).
  void FinishJobLocked(const JobId& job_id);
  // Ends the jobs whose driver process on this host has died.
  void CheckDriversLocked();
  void OnWorkerExit(pid_t pid, int status);
  void ReleaseLeasesOwnedByLocked(const std::string& owner_address);
  void NotifyOwner(const std::string& owner_address, std::string message);
  protocol::NodeInfo NodeInfoLocked();
  // Finds leased workers whose process is stopped (stopped_workers.cc): the
  // node report lists them, and each lease's owner is warned once per stop.
  void CheckStoppedWorkersLocked();
  void ReapWorkersLocked();
  // One round of the monitor's housekeeping; false when the node is idle.
  // Sends without the lock, so it may release it.
  bool MonitorTickLocked(std::unique_lock<std::mutex>& lock);
  void MonitorLoop();
  // Sets shutdown_requested() and calls Options::on_shutdown; true the first time.
  bool RequestShutdown();

  const Options options_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Scheduler> scheduler_;
  std::unique_ptr<GcsClient> gcs_;
  std::unique_ptr<ObjectManager> object_manager_;

  std::mutex mu_;
  ResourceSet total_;  // the node's own resources and the bundle resources of committed bundles
  ResourceSet available_;
  NodeAccelerators accelerators_;  // which devices of total_'s accelerators are free
  struct Bundle {
    ResourceSet resources;  // the bundle's, held out of available_ since it was prepared
    bool committed = false;
  };
  std::map<PlacementGroupId, std::map<uint32_t, Bundle>> bundles_;
  std::set<PlacementGroupId> removed_groups_;  // their leases fail at once
  double cpu_debt_ = 0;  // CPUs taken back by unblocked workers beyond what was free
  std::deque<PendingLease> pending_;
  std::map<WorkerId, Worker> workers_;
  std::map<uint64_t, Lease> leases_;
  uint64_t next_lease_id_ = 1;
  std::map<JobId, int> failed_starts_;
  std::map<JobId, JobCode> job_code_;
  std::deque<JobId> code_fetches_;  // jobs waiting for CodeFetchLoop
  std::condition_variable code_fetch_wakeup_;
  std::unique_ptr<CodeCache>
      code_cache_;  // consecutive workers of a job that died before registering
  std::map<NodeId, protocol::NodeInfo> cluster_;  // other nodes, from the GCS's view deltas
  uint64_t view_version_ = 0;
  uint64_t view_incarnation_ = 0;  // of the GCS that made view_version_
  std::set<NodeId> dead_nodes_;
  std::atomic<bool> view_request_in_flight_{false};
  bool view_pull_wanted_ = true;  // a gap, a new subscription: ask for the view
  std::chrono::steady_clock::time_point last_view_pull_{};
  // The report last sent (encoded), when, and how often one is sent unchanged.
  std::string last_report_;
  std::chrono::steady_clock::time_point last_report_time_{};
  std::chrono::milliseconds heartbeat_period_ = kReportPeriod;  // until the GCS says its timeout
  // The monitor sleeps long while idle (monitor_idle_), and a change wakes it.
  std::condition_variable monitor_wakeup_;
  bool monitor_idle_ = false;
  bool change_noted_ = false;
  std::set<JobId> finished_jobs_;
  std::map<JobId, int64_t> drivers_;  // driver pids on this host, by job
  std::string hostname_;
  Labels labels_;  // options_.labels and the rayk.io/ labels every node has
  std::map<std::string, std::unique_ptr<Channel>> owners_;
  std::string executable_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> shutdown_requested_{false};
  std::thread monitor_;
  std::thread code_fetcher_;
  // Streams the workers' output to the GCS (log to driver); takes mu_.
  std::unique_ptr<LogMonitor> log_monitor_;
  // The GCS's "view" publications; made at Start, destroyed without mu_.
  std::unique_ptr<GcsSubscription> view_subscription_;
  protocol::Service service_{"raylet", protocol::kRayletMaxMessageBytes};
  std::unique_ptr<Server> server_;  // last: stops first
};

}  // namespace rayk
