#include "raylet/raylet.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/host_address.h"
#include "common/lease_policy.h"
#include "process/session.h"
#include "rayk/plugin/scheduling_util.h"

namespace rayk {

namespace {

using protocol::MessageType;

// A job whose workers die this many times in a row before registering cannot
// start workers (its library does not load, say): its leases fail.
constexpr int kMaxFailedStarts = 3;
constexpr auto kRequestTimeout = std::chrono::milliseconds(5000);
// While the node has workers, exited ones are reaped this often: it bounds
// how long an owner waits to hear that its worker died. With no workers
// there is nothing to reap, and the monitor sleeps.
constexpr auto kReapPeriod = std::chrono::milliseconds(5);

}  // namespace

Raylet::Raylet(Options options, std::shared_ptr<Transport> transport,
               std::shared_ptr<Scheduler> scheduler)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      scheduler_(std::move(scheduler)) {
  total_ = options_.resources;
  available_ = options_.resources;
  hostname_ = LocalHostName();
  // Owners keep leases from several raylets in one map: start this node's
  // ids in a range of their own.
  next_lease_id_ = ((std::hash<std::string>{}(options_.node_id.Binary()) & 0xFFFFFF) << 32) | 1;
}

Result<std::unique_ptr<Raylet>> Raylet::Start(Options options, std::shared_ptr<Transport> transport,
                                              std::shared_ptr<Scheduler> scheduler,
                                              std::shared_ptr<ObjectStore> store,
                                              const std::string& store_plugin) {
  std::unique_ptr<Raylet> raylet(
      new Raylet(std::move(options), std::move(transport), std::move(scheduler)));
  if (store) {
    raylet->object_manager_ = std::make_unique<ObjectManager>(
        std::move(store), raylet->options_.node_id, store_plugin, raylet->transport_);
  }
  auto accelerators = CheckAcceleratorDeclarations(raylet->options_.accelerators);
  if (!accelerators.ok()) return accelerators.status();
  auto devices = NodeAccelerators::Make(raylet->total_, *accelerators);
  if (!devices.ok()) return devices.status();
  raylet->accelerators_ = std::move(*devices);
  auto executable = RaykExecutable();
  if (!executable.ok()) return executable.status();
  raylet->executable_ = *executable;
  std::string cache_dir = raylet->options_.code_cache_dir;
  if (cache_dir.empty()) cache_dir = raylet->options_.session_dir + "/code";
  raylet->code_cache_ = std::make_unique<CodeCache>(cache_dir);
  auto gcs = GcsClient::Connect(*raylet->transport_, raylet->options_.gcs_address);
  if (!gcs.ok()) return gcs.status();
  raylet->gcs_ = std::move(*gcs);
  Raylet* self = raylet.get();
  // Before serving: StartWorker, on a request, wakes it.
  raylet->log_monitor_ = std::make_unique<LogMonitor>(
      [self] {
        std::map<WorkerId, std::string> logs;
        std::lock_guard<std::mutex> lock(self->mu_);
        for (const auto& [id, worker] : self->workers_) {
          logs[id] = observability::WorkerLogPath(self->options_.session_dir, id);
        }
        return logs;
      },
      [self](std::string message) { (void)self->gcs_->Send(std::move(message)); });
  raylet->RegisterHandlers();
  auto server = raylet->transport_->Serve(raylet->options_.endpoint, raylet->service_.AsHandler());
  if (!server.ok()) return server.status();
  raylet->server_ = std::move(*server);
  protocol::RegisterNode registration;
  {
    std::lock_guard<std::mutex> lock(raylet->mu_);
    // Every node carries its id, host name and address as labels, so that a
    // label selector can aim at (or away from) any of them.
    Labels& labels = raylet->labels_;
    labels = raylet->options_.labels;
    labels[kNodeIdLabel] = raylet->options_.node_id.Hex();
    labels[kHostnameLabel] = raylet->hostname_;
    labels[kNodeAddressLabel] = HostOfAddress(raylet->server_->endpoint());
    registration.node = raylet->NodeInfoLocked();
  }
  auto reply = raylet->gcs_->CallSync(protocol::Encode(MessageType::kRegisterNode, registration),
                                      kRequestTimeout);
  if (!reply.ok()) {
    return Status::Unavailable("raylet cannot register with the GCS at " +
                               raylet->options_.gcs_address + ": " + reply.status().message() +
                               "; check the address and that the GCS is running");
  }
  // The view's changes come pushed; the subscription's catch-up (now, and
  // whenever it follows the GCS elsewhere) asks for the whole view again.
  // And the deaths of core workers ("worker"): the primaries they owned in
  // this node's store are freed (a remote owner, a driver).
  auto subscription = GcsSubscription::Start(
      *raylet->transport_, *raylet->gcs_, {protocol::kViewTopic, "worker"},
      [self](const std::string& topic, std::string payload) {
        if (self->stopping_) return;
        if (topic == "worker") {
          auto life = protocol::Decode<protocol::WorkerLife>(payload);
          if (life.ok() && life->dead && self->object_manager_) {
            self->object_manager_->OwnerDied(life->address);
          }
          return;
        }
        auto delta = protocol::Decode<protocol::ClusterViewDelta>(payload);
        if (delta.ok()) self->ApplyViewDelta(*delta);
      },
      [self](const protocol::ClusterStatus& status) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (status.gcs.node_timeout_ms > 0) {
          self->heartbeat_period_ = std::max<std::chrono::milliseconds>(
              kReportPeriod,
              std::chrono::milliseconds(status.gcs.node_timeout_ms) / kHeartbeatsPerNodeTimeout);
        }
        self->view_pull_wanted_ = true;
        self->NoteChangeLocked();
      });
  if (!subscription.ok()) {
    return Status::Unavailable("raylet cannot subscribe to the cluster view of the GCS at " +
                               raylet->options_.gcs_address + ": " +
                               subscription.status().message());
  }
  raylet->view_subscription_ = std::move(*subscription);
  raylet->monitor_ = std::thread([self] { self->MonitorLoop(); });
  raylet->code_fetcher_ = std::thread([self] { self->CodeFetchLoop(); });
  spdlog::info("raylet {} serving at {} with {}", raylet->options_.node_id.Hex(),
               raylet->endpoint(), raylet->options_.resources.ToJson());
  return raylet;
}

Raylet::~Raylet() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    monitor_wakeup_.notify_all();
    code_fetch_wakeup_.notify_all();
  }
  if (monitor_.joinable()) monitor_.join();
  if (code_fetcher_.joinable()) code_fetcher_.join();
  log_monitor_.reset();        // without mu_, which its thread takes
  view_subscription_.reset();  // without mu_: it waits for its handler, which takes mu_
  server_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, worker] : workers_) {
    if (worker.pid > 0) kill(worker.pid, SIGKILL);
  }
  for (auto& [id, worker] : workers_) {
    int status;
    if (worker.pid > 0) waitpid(worker.pid, &status, 0);
  }
}

protocol::NodeInfo Raylet::NodeInfoLocked() {
  protocol::NodeInfo info;
  info.node_id = options_.node_id;
  info.raylet_address = server_ ? server_->endpoint() : "";
  info.total = total_;
  info.available = available_;
  info.labels = labels_;
  info.pid = getpid();
  info.min_worker_port = options_.worker_ports.min;
  info.max_worker_port = options_.worker_ports.max;
  info.num_workers = static_cast<uint32_t>(workers_.size());
  info.pending_leases = static_cast<uint32_t>(pending_.size());
  info.accelerators = accelerators_.Use();
  for (const PendingLease& lease : pending_) {
    if (!lease.resources_acquired)
      info.pending_demands.push_back(FormatResources(lease.request.resources));
  }
  for (const PendingLease& lease : pending_) {
    if (lease.infeasible)
      info.infeasible_demands.push_back(FormatResources(lease.request.resources));
  }
  const int64_t now = NowMs();
  for (const auto& [id, worker] : workers_) {
    if (worker.stopped_since_ms == 0) continue;
    info.stopped_workers.push_back("worker pid " + std::to_string(worker.pid) + " stopped for " +
                                   std::to_string((now - worker.stopped_since_ms) / 1000) + " s" +
                                   (worker.lease_id != 0 ? ", holding a lease" : ", idle"));
  }
  return info;
}

void Raylet::AcquireResources(const ResourceSet& resources) {
  available_.Subtract(resources);
  NoteChangeLocked();
}

void Raylet::ReleaseResources(const ResourceSet& resources, const NodeAccelerators::Held& devices) {
  NoteChangeLocked();
  accelerators_.Give(devices);
  ResourceSet back = resources;
  // CPUs lent to unblocked workers beyond what was free are repaid first.
  double cpus = back.Get("CPU");
  double repay = std::min(cpus, cpu_debt_);
  cpu_debt_ -= repay;
  back.Set("CPU", cpus - repay);
  // Resources of a bundle released meanwhile are gone, not given back.
  for (const auto& [name, amount] : resources.amounts()) {
    if (total_.Get(name) <= 0) back.Set(name, 0);
  }
  available_.Add(back);
}

void Raylet::FinishJobLocked(const JobId& job_id) {
  // The job's queued leases go too: their owner is gone, and resources they
  // hold would otherwise stay taken forever.
  finished_jobs_.insert(job_id);
  drivers_.erase(job_id);
  // Its detached actors may restart later: they fetch the code again (from
  // this host's cache) then, so a failed fetch is not remembered forever.
  if (auto code = job_code_.find(job_id);
      code != job_code_.end() && code->second.state != JobCode::State::kFetching) {
    job_code_.erase(code);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->request.job_id != job_id || gcs_->IsGcsEndpoint(it->request.owner_address)) {
      ++it;
      continue;
    }
    if (it->resources_acquired) ReleaseResources(it->request.resources, it->devices);
    protocol::LeaseReply reply;
    reply.result = protocol::LeaseReply::Result::kFailed;
    reply.request_id = it->request.request_id;
    reply.reason = "the job finished";
    it->reply(protocol::Encode(MessageType::kLeaseReply, reply));
    it = pending_.erase(it);
  }
  for (auto& [id, worker] : workers_) {
    if (worker.job_id != job_id) continue;
    auto lease = leases_.find(worker.lease_id);
    bool actor = lease != leases_.end() && gcs_->IsGcsEndpoint(lease->second.owner_address);
    if (!actor) KillWorker(worker);  // the GCS ends the job's actors, except detached ones
  }
}

void Raylet::CheckDriversLocked() {
  std::vector<JobId> gone;
  for (const auto& [job_id, pid] : drivers_) {
    if (!ProcessAlive(static_cast<pid_t>(pid))) gone.push_back(job_id);
  }
  for (const JobId& job_id : gone) {
    spdlog::warn("raylet: the driver of job {} (pid {}) died without ending its job; ending it",
                 job_id.Hex(), drivers_[job_id]);
    FinishJobLocked(job_id);
    // The GCS marks the job finished and ends its actors.
    gcs_->Call(protocol::Encode(MessageType::kFinishJob, protocol::FinishJob{job_id}),
               [](Result<std::string>) {});
  }
  if (!gone.empty()) DispatchLocked();
}

ClusterView Raylet::ViewLocked() {
  ClusterView view;
  view.local_node = options_.node_id;
  view.version = view_version_;
  NodeView self;
  self.node_id = options_.node_id;
  self.address = server_ ? server_->endpoint() : "";
  self.total = total_;
  self.available = available_;
  self.labels = labels_;
  self.queue_length = static_cast<uint32_t>(pending_.size());
  view.nodes.push_back(std::move(self));
  for (const auto& [id, node] : cluster_) {
    if (id != options_.node_id && node.alive) view.nodes.push_back(protocol::ToNodeView(node));
  }
  return view;
}

void Raylet::ApplyViewDelta(const protocol::ClusterViewDelta& delta) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool same_gcs = delta.incarnation == view_incarnation_;
  if (same_gcs && delta.version <= view_version_) return;  // nothing newer than what is held
  if (!delta.full && (!same_gcs || delta.since > view_version_)) {
    // Changes between the view held and this delta were published while
    // this raylet did not hear (or by another incarnation): ask for them.
    view_pull_wanted_ = true;
    NoteChangeLocked();
    return;
  }
  if (delta.full) cluster_.clear();
  for (const protocol::NodeInfo& node : delta.nodes) {
    if (node.node_id == options_.node_id && !node.alive) {
      // Fenced: the GCS lost this node for longer than its timeout (a
      // partition), retried its tasks and restarted its actors elsewhere. Its
      // workers must not run on beside their replacements: stop, as Ray's
      // raylet does; the workers die with it.
      if (RequestShutdown()) {
        spdlog::error(
            "raylet: the GCS declared this node ({}) dead, so its work now runs elsewhere; "
            "stopping",
            options_.node_id.Hex());
      }
      continue;
    }
    if (node.alive) {
      cluster_[node.node_id] = node;
      dead_nodes_.erase(node.node_id);
    } else {
      cluster_.erase(node.node_id);  // dead nodes leave the view
      dead_nodes_.insert(node.node_id);
      if (object_manager_) object_manager_->NodeDied(node.node_id);
    }
  }
  view_version_ = delta.version;
  view_incarnation_ = delta.incarnation;
  // Forwarded leases waiting here are asked again at every monitor tick too
  // (ForwardedLeaseDecisionLocked), changed view or not.
  if (delta.full || !delta.nodes.empty()) DispatchLocked();
}

void Raylet::PullView() {
  if (view_request_in_flight_.exchange(true)) return;
  protocol::GetClusterView request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request.known_version = view_version_;
    request.known_incarnation = view_incarnation_;
    view_pull_wanted_ = false;
    last_view_pull_ = std::chrono::steady_clock::now();
  }
  gcs_->CallOnce(
      protocol::Encode(MessageType::kGetClusterView, request),
      [this](Result<std::string> reply) {
        view_request_in_flight_ = false;
        if (stopping_) return;
        auto delta = reply.ok() ? protocol::Decode<protocol::ClusterViewDelta>(*reply)
                                : Result<protocol::ClusterViewDelta>(reply.status());
        if (delta.ok()) {
          ApplyViewDelta(*delta);
          return;
        }
        std::lock_guard<std::mutex> lock(mu_);
        view_pull_wanted_ = true;  // asked again at the next tick
      },
      kRequestTimeout);
}

void Raylet::NoteChangeLocked() {
  change_noted_ = true;
  // Only an idle monitor sleeps long enough to need waking; a busy one ticks
  // every kReportPeriod anyway, and the lease path pays no wake-up.
  if (monitor_idle_) {
    monitor_idle_ = false;
    monitor_wakeup_.notify_one();
  }
}

void Raylet::DispatchLocked() {
  NoteChangeLocked();
  // The views copy every node's resources (with a placement group's bundle
  // resources, hundreds of names): not worth it for an empty queue.
  if (pending_.empty()) return;
  DispatchViews views;
  views.all = ViewLocked();
  views.local_only = views.all;
  views.local_only.nodes.resize(1);
  for (auto it = pending_.begin(); it != pending_.end();) {
    LeaseStep step = it->resources_acquired ? LeaseStep::kReady : ScheduleLeaseLocked(*it, views);
    if (step == LeaseStep::kReady) step = GrantLeaseLocked(*it);
    if (step == LeaseStep::kAnswered) {
      it = pending_.erase(it);
    } else {
      ++it;  // FIFO per node would block smaller demands behind a big one; keep looking
    }
  }
}

void Raylet::AnswerLease(PendingLease& lease, protocol::LeaseReply reply) {
  reply.request_id = lease.request.request_id;
  lease.reply(protocol::Encode(MessageType::kLeaseReply, reply));
}

Raylet::LeaseStep Raylet::ScheduleLeaseLocked(PendingLease& lease, DispatchViews& views) {
  views.all.nodes[0].available = available_;
  views.all.nodes[0].queue_length = static_cast<uint32_t>(pending_.size());
  views.local_only.nodes[0] = views.all.nodes[0];
  SchedulingRequest request;
  request.demand = lease.request.resources;
  request.strategy = lease.request.placement.strategy;
  request.affinity_node = lease.request.placement.affinity_node;
  request.affinity_soft = lease.request.placement.affinity_soft;
  request.label_selector = lease.request.placement.label_selector;
  request.argument_bytes = lease.request.argument_bytes;
  SchedulingDecision decision = ForwardedLeaseDecisionLocked(lease, request, views);
  lease.infeasible = decision.kind == SchedulingDecision::Kind::kInfeasible;
  if (lease.infeasible) return InfeasibleLeaseLocked(lease, decision);
  if (decision.kind == SchedulingDecision::Kind::kWait) return LeaseStep::kWait;
  if (decision.node != options_.node_id) {
    const NodeView* target = views.all.Find(decision.node);
    if (target == nullptr || lease.request.spillbacks >= kMaxSpillbacks) return LeaseStep::kWait;
    // Spillback: the owner asks that node's raylet instead. Nothing was
    // granted here, so the hand-off can neither lose nor double the task.
    protocol::LeaseReply reply;
    reply.result = protocol::LeaseReply::Result::kSpillback;
    reply.node_id = target->node_id;
    reply.spillback_address = target->address;
    AnswerLease(lease, std::move(reply));
    return LeaseStep::kAnswered;
  }
  // The free total fits it; the free shares of the devices may not (yet).
  auto devices = accelerators_.Take(lease.request.resources);
  if (!devices) return LeaseStep::kWait;
  lease.devices = std::move(*devices);
  AcquireResources(lease.request.resources);
  lease.resources_acquired = true;
  return LeaseStep::kReady;
}

// A lease another raylet forwarded here runs here if this node can ever fit
// it, so that stale views cannot bounce it around. But while this node is
// full, a deterministic policy would have sent every request of one report
// period here, and they would wait behind each other while other nodes sit
// free: so a waiting forwarded lease is spilled on (as Ray's raylet spills
// its waiting tasks) when the whole view shows a node with room for it now.
// Only a view newer than the one it came with counts (the raylet that sent
// it decided on views as old, and two stale views would bounce it between
// two full nodes), or any view once two report periods have passed since it
// came (every node has reported since: a view that did not change is as new
// as the sender's, and waiting for a change that never comes would strand
// it; every node reports a change within kReportPeriod, and the GCS
// publishes it within kViewPublishPeriod), and at most kMaxSpillbacks hops in
// all.
SchedulingDecision Raylet::ForwardedLeaseDecisionLocked(const PendingLease& lease,
                                                        const SchedulingRequest& request,
                                                        const DispatchViews& views) {
  if (lease.request.spillbacks == 0) return scheduler_->Schedule(request, views.all);
  SchedulingDecision local = scheduler_->Schedule(request, views.local_only);
  if (local.kind == SchedulingDecision::Kind::kInfeasible) {
    return scheduler_->Schedule(request, views.all);
  }
  const bool view_is_newer =
      views.all.version > lease.arrival_view ||
      std::chrono::steady_clock::now() - lease.arrival_time >= kReportPeriod + kViewPublishPeriod;
  if (local.kind != SchedulingDecision::Kind::kWait || lease.request.spillbacks >= kMaxSpillbacks ||
      !view_is_newer) {
    return local;
  }
  SchedulingDecision elsewhere = scheduler_->Schedule(request, views.all);
  const NodeView* target =
      elsewhere.kind == SchedulingDecision::Kind::kNode ? views.all.Find(elsewhere.node) : nullptr;
  bool room = target != nullptr && target->node_id != options_.node_id &&
              target->available.Contains(request.demand);
  return room ? elsewhere : local;
}

Raylet::LeaseStep Raylet::InfeasibleLeaseLocked(PendingLease& lease,
                                                const SchedulingDecision& decision) {
  const internal::Placement& placement = lease.request.placement;
  if (placement.strategy == SchedulingStrategy::kNodeAffinity && !placement.affinity_soft &&
      dead_nodes_.count(placement.affinity_node)) {
    // Hard affinity to a dead node: it will not come back (a restarted
    // raylet is a new node), so waiting would be forever. Fail it clearly.
    // A node not yet in this raylet's view may still be joining: that waits.
    protocol::LeaseReply reply;
    reply.result = protocol::LeaseReply::Result::kInfeasible;
    reply.node_id = options_.node_id;
    reply.reason = decision.reason;
    AnswerLease(lease, std::move(reply));
    return LeaseStep::kAnswered;
  }
  // As in Ray, it waits (a node that fits may join) and its owner is warned once.
  if (!lease.warned) {
    lease.warned = true;
    protocol::LeaseWarning warning{
        lease.request.request_id,
        placement.placement_group.IsNil()
            ? "no node in the cluster can run a task demanding " +
                  FormatResources(lease.request.resources) + " (" + decision.reason +
                  "); it waits until a node that fits joins ('rayk status' lists it)"
            : "no node holds a bundle of placement group " +
                  placement.placement_group.Hex().substr(0, 8) +
                  " that can fit this task: the group is not placed yet ('rayk list "
                  "placement-groups' says why), or the bundle holds less than the task asks "
                  "for (1 CPU unless set); it waits, and fails if the group is removed"};
    spdlog::warn("raylet: {}", warning.message);
    NotifyOwner(lease.request.owner_address, protocol::Encode(MessageType::kLeaseWarning, warning));
  }
  return LeaseStep::kWait;
}

// Resources are held: hands the lease an idle worker of the job, or starts one.
Raylet::LeaseStep Raylet::GrantLeaseLocked(PendingLease& lease) {
  Worker* idle = nullptr;
  for (auto& [id, worker] : workers_) {
    if (worker.job_id == lease.request.job_id && worker.lease_id == 0 && !worker.address.empty() &&
        !worker.dying) {
      idle = &worker;
      break;
    }
  }
  if (idle == nullptr) {
    if (failed_starts_[lease.request.job_id] >= kMaxFailedStarts) {
      protocol::LeaseReply reply;
      reply.result = protocol::LeaseReply::Result::kFailed;
      reply.reason = "workers for this job exit before they start; the last worker log ends: " +
                     TailOfFile(options_.session_dir + "/logs/worker_failed_start.log", 3);
      ReleaseResources(lease.request.resources, lease.devices);
      AnswerLease(lease, std::move(reply));
      return LeaseStep::kAnswered;
    }
    if (!lease.worker_requested) {
      const JobCode& code = JobCodeLocked(lease.request.job_id);
      if (code.state == JobCode::State::kFetching) return LeaseStep::kWait;
      if (code.state == JobCode::State::kFailed) {
        protocol::LeaseReply reply;
        reply.result = protocol::LeaseReply::Result::kFailed;
        reply.reason = code.error;
        ReleaseResources(lease.request.resources, lease.devices);
        AnswerLease(lease, std::move(reply));
        return LeaseStep::kAnswered;
      }
      lease.worker_requested = true;
      StartWorker(lease.request, code.paths);
    }
    return LeaseStep::kWait;
  }
  Lease granted{next_lease_id_++, idle->id, lease.request.resources, lease.request.owner_address,
                lease.request.job_id};
  granted.devices = lease.devices;
  idle->lease_id = granted.id;
  leases_[granted.id] = granted;
  protocol::LeaseReply reply;
  reply.result = protocol::LeaseReply::Result::kGranted;
  reply.lease_id = granted.id;
  reply.worker_id = idle->id;
  reply.worker_address = idle->address;
  reply.worker_pid = idle->pid;
  reply.node_id = options_.node_id;
  reply.reusable = options_.lease_reuse;
  reply.accelerators = accelerators_.VisibleTo(granted.devices);
  AnswerLease(lease, std::move(reply));
  return LeaseStep::kAnswered;
}

const Raylet::JobCode& Raylet::JobCodeLocked(const JobId& job_id) {
  auto [it, is_new] = job_code_.try_emplace(job_id);
  if (is_new) {
    code_fetches_.push_back(job_id);
    code_fetch_wakeup_.notify_one();
  }
  return it->second;
}

// Fetches jobs' code one job at a time, off the request thread (a fetch may
// wait on the GCS), then dispatches again so their leases get workers.
void Raylet::CodeFetchLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    code_fetch_wakeup_.wait(lock, [this] { return stopping_ || !code_fetches_.empty(); });
    if (stopping_ || code_fetches_.empty()) continue;
    JobId job_id = code_fetches_.front();
    code_fetches_.pop_front();
    lock.unlock();
    auto paths = code_cache_->FetchJob(*gcs_, job_id);
    lock.lock();
    JobCode& code = job_code_[job_id];
    if (paths.ok()) {
      code.state = JobCode::State::kReady;
      code.paths = std::move(*paths);
    } else {
      code.state = JobCode::State::kFailed;
      code.error = "this node cannot get the job's code: " + paths.status().message();
      spdlog::error("raylet: job {}: {}", job_id.Hex(), code.error);
    }
    DispatchLocked();
  }
}

void Raylet::StartWorker(const protocol::RequestWorkerLease& request,
                         const std::vector<std::string>& code) {
  WorkerId id = WorkerId::FromRandom();
  std::vector<std::string> argv = {executable_,     "worker",
                                   "--raylet",      server_->endpoint(),
                                   "--gcs",         options_.gcs_address,
                                   "--node-id",     options_.node_id.Hex(),
                                   "--worker-id",   id.Hex(),
                                   "--job-id",      request.job_id.Hex(),
                                   "--session-dir", options_.session_dir};
  if (!options_.config_file.empty()) {
    argv.push_back("--config");
    argv.push_back(options_.config_file);
  }
  for (const std::string& set : options_.config_sets) {
    argv.push_back("--set");
    argv.push_back(set);
  }
  if (!options_.worker_ports.any()) {
    argv.insert(argv.end(), {"--min-worker-port", std::to_string(options_.worker_ports.min),
                             "--max-worker-port", std::to_string(options_.worker_ports.max)});
  }
  for (const std::string& library : code) {
    argv.push_back("--code");
    argv.push_back(library);
  }
  // Its stdout and stderr apart, so that drivers and `rayk logs` tell them apart.
  const std::string log = observability::WorkerLogPath(options_.session_dir, id);
  auto pid = SpawnProcess(argv, log, /*new_session=*/false, {}, observability::WorkerErrPath(log));
  if (!pid.ok()) {
    spdlog::error("raylet: {}", pid.status().message());
    failed_starts_[request.job_id] = kMaxFailedStarts;
    return;
  }
  Worker worker;
  worker.id = id;
  worker.pid = *pid;
  worker.job_id = request.job_id;
  worker.start_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  workers_[id] = worker;
  NoteChangeLocked();  // an idle monitor wakes to reap it when it exits
  if (log_monitor_) log_monitor_->Watch(id, log);
  spdlog::info("raylet: started worker {} (pid {}) for job {}", id.Hex(), *pid,
               request.job_id.Hex());
}

bool Raylet::IsWorkerPid(int64_t pid) const {
  for (const auto& [id, worker] : workers_) {
    if (worker.pid == pid) return true;
  }
  return false;
}

std::string LocalHostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

void Raylet::KillWorker(Worker& worker) {
  worker.dying = true;
  if (worker.pid > 0) kill(worker.pid, SIGKILL);  // reaped by the monitor
}

void Raylet::NotifyOwner(const std::string& owner_address, std::string message) {
  if (gcs_->IsGcsEndpoint(owner_address)) {
    // The GCS owns actor leases; it must hear of their deaths even across
    // its own restart, so this call is retried until it is answered.
    gcs_->Call(std::move(message), [](Result<std::string> reply) {
      if (!reply.ok())
        spdlog::error("raylet: the GCS did not take a worker's death notice: {}",
                      reply.status().message());
    });
    return;
  }
  auto& channel = owners_[owner_address];
  if (!channel) {
    auto connected = transport_->Connect(owner_address);
    if (!connected.ok()) {
      spdlog::error("raylet: cannot reach owner {}: {}", owner_address,
                    connected.status().message());
      owners_.erase(owner_address);
      return;
    }
    channel = std::move(*connected);
  }
  Status st = channel->Send(std::move(message));
  if (!st.ok()) spdlog::error("raylet: cannot notify owner {}: {}", owner_address, st.message());
}

// A dead worker that was itself an owner (a task or actor that submitted
// tasks) cannot return the leases it held: take them back, and end their
// workers' current work by ending the workers, as nobody waits for it.
void Raylet::ReleaseLeasesOwnedByLocked(const std::string& owner_address) {
  for (auto lease = leases_.begin(); lease != leases_.end();) {
    if (lease->second.owner_address != owner_address) {
      ++lease;
      continue;
    }
    auto worker = workers_.find(lease->second.worker_id);
    ResourceSet back = lease->second.resources;
    if (worker != workers_.end() && worker->second.blocked) back.Set("CPU", 0);
    ReleaseResources(back, lease->second.devices);
    if (worker != workers_.end()) {
      worker->second.lease_id = 0;
      worker->second.blocked = false;
      KillWorker(worker->second);
    }
    lease = leases_.erase(lease);
  }
  for (auto pending = pending_.begin(); pending != pending_.end();) {
    if (pending->request.owner_address != owner_address) {
      ++pending;
      continue;
    }
    if (pending->resources_acquired) ReleaseResources(pending->request.resources, pending->devices);
    pending = pending_.erase(pending);
  }
}

void Raylet::OnWorkerExit(pid_t pid, int status) {
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    Worker& worker = it->second;
    if (worker.pid != pid) continue;
    std::string how = WIFSIGNALED(status)
                          ? "killed by signal " + std::to_string(WTERMSIG(status))
                          : "exited with code " + std::to_string(WEXITSTATUS(status));
    spdlog::info("raylet: worker {} (pid {}) {}", worker.id.Hex(), pid, how);
    if (worker.address.empty()) {
      // It never registered: a start failure. Keep its log where the lease error points.
      ++failed_starts_[worker.job_id];
      // Its stdout, then its stderr, whose last lines say why it could not start.
      const std::string log = observability::WorkerLogPath(options_.session_dir, worker.id);
      std::ofstream kept(options_.session_dir + "/logs/worker_failed_start.log", std::ios::trunc);
      for (const std::string& path : {log, observability::WorkerErrPath(log)}) {
        if (auto text = ReadFile(path); text.ok()) kept << *text;
      }
      for (PendingLease& lease : pending_) {
        if (lease.request.job_id == worker.job_id && lease.worker_requested &&
            lease.resources_acquired) {
          lease.worker_requested = false;  // start another, or fail once the limit is reached
          break;
        }
      }
    }
    if (worker.lease_id != 0) {
      auto lease = leases_.find(worker.lease_id);
      if (lease != leases_.end()) {
        ResourceSet back = lease->second.resources;
        if (worker.blocked) back.Set("CPU", 0);
        ReleaseResources(back, lease->second.devices);
        protocol::WorkerDied died{worker.id, lease->second.id,
                                  "worker pid " + std::to_string(pid) + " " + how};
        NotifyOwner(lease->second.owner_address, protocol::Encode(MessageType::kWorkerDied, died));
        leases_.erase(lease);
      }
    }
    if (!worker.address.empty()) {
      ReleaseLeasesOwnedByLocked(worker.address);
      // The primaries it owned in this node's store go with it.
      if (object_manager_) object_manager_->OwnerDied(worker.address);
      // It may have owned objects: their borrowers hear of it through the GCS.
      (void)gcs_->Send(protocol::Encode(
          MessageType::kReportWorkerLife,
          protocol::WorkerLife{worker.address, true,
                               "worker pid " + std::to_string(pid) + " on node " +
                                   options_.node_id.Hex().substr(0, 8) + " " + how}));
    }
    workers_.erase(it);
    DispatchLocked();
    return;
  }
}

bool Raylet::RequestShutdown() {
  if (shutdown_requested_.exchange(true)) return false;
  if (options_.on_shutdown) options_.on_shutdown();
  return true;
}

void Raylet::ReapWorkersLocked() {
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    OnWorkerExit(pid, status);
  }
}

bool Raylet::MonitorTickLocked(std::unique_lock<std::mutex>& lock) {
  const auto now = std::chrono::steady_clock::now();
  CheckDriversLocked();
  CheckStoppedWorkersLocked();
  if (object_manager_) object_manager_->CheckLocalOwners();
  // Forwarded leases waiting on this full node are asked again with the view
  // as it is now (ForwardedLeaseDecisionLocked), changed or not.
  if (std::any_of(pending_.begin(), pending_.end(),
                  [](const PendingLease& lease) { return lease.request.spillbacks > 0; })) {
    DispatchLocked();
  }
  // Sent when it changed, or as the heartbeat: the GCS marks a node dead
  // after its node timeout without one, and a restarted GCS learns the node
  // from it. One-way: the next one replaces a lost one.
  std::string report =
      protocol::Encode(MessageType::kReportResources, protocol::ReportResources{NodeInfoLocked()});
  const bool changed = report != last_report_;
  const bool send = changed || now - last_report_time_ >= heartbeat_period_;
  if (send) {
    last_report_ = report;
    last_report_time_ = now;
  }
  const bool pull = view_pull_wanted_ || now - last_view_pull_ >= kViewRefreshPeriod;
  const bool busy = changed || !pending_.empty() || !leases_.empty() || !drivers_.empty();
  lock.unlock();
  if (send) (void)gcs_->Send(std::move(report));
  if (pull) PullView();
  // Follows the GCS when its heartbeats stop (it may block for a while then:
  // only while the GCS is unreachable).
  view_subscription_->Check();
  lock.lock();
  return busy;
}

// Reaps workers, reports, and keeps the view fresh. A busy node ticks every
// kReportPeriod; an idle one backs off to one tick per heartbeat (at most
// kIdleTickLimit apart), waking earlier for a change (NoteChangeLocked).
void Raylet::MonitorLoop() {
  std::chrono::milliseconds period = kReportPeriod;
  auto last_tick = std::chrono::steady_clock::time_point{};
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    ReapWorkersLocked();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      last_tick = now;
      change_noted_ = false;
      const bool busy = MonitorTickLocked(lock);
      const std::chrono::milliseconds idle_limit =
          std::min<std::chrono::milliseconds>(heartbeat_period_, kIdleTickLimit);
      period = busy ? kReportPeriod : std::min(period * 2, idle_limit);
      // The view refresh waits for a tick (a second or two late at most)
      // rather than waking the monitor on its own.
      next_tick = std::min(last_tick + period, last_report_time_ + heartbeat_period_);
      if (change_noted_ || view_pull_wanted_) next_tick = last_tick + kReportPeriod;
      now = std::chrono::steady_clock::now();
    }
    auto wake = next_tick;
    if (!workers_.empty()) wake = std::min(wake, now + kReapPeriod);
    const bool long_sleep = wake - now > kReportPeriod;
    monitor_idle_ = long_sleep;
    monitor_wakeup_.wait_until(lock, wake,
                               [&] { return stopping_ || (long_sleep && !monitor_idle_); });
    monitor_idle_ = false;
    // A change reported at the next tick, at most kReportPeriod after the last.
    if (change_noted_) next_tick = std::min(next_tick, last_tick + kReportPeriod);
  }
}

}  // namespace rayk
