// The raylet's handler table: one handler per message type it serves.
#include <spdlog/spdlog.h>

#include "raylet/raylet.h"

namespace rayk {

using protocol::MessageType;

void Raylet::RegisterHandlers() {
  service_.On<MessageType::kRequestWorkerLease>(this, &Raylet::OnRequestWorkerLease);
  service_.On<MessageType::kReturnWorker>(this, &Raylet::OnReturnWorker);
  service_.On<MessageType::kWatchDriver>(this, &Raylet::OnWatchDriver);
  service_.On<MessageType::kRegisterWorker>(this, &Raylet::OnRegisterWorker);
  service_.On<MessageType::kWorkerBlocked>([this](protocol::WorkerBlockState body, ReplyFn reply) {
    OnWorkerBlockState(body, /*blocked=*/true, std::move(reply));
  });
  service_.On<MessageType::kWorkerUnblocked>(
      [this](protocol::WorkerBlockState body, ReplyFn reply) {
        OnWorkerBlockState(body, /*blocked=*/false, std::move(reply));
      });
  service_.On<MessageType::kFinishJob>(this, &Raylet::OnFinishJob);
  service_.On<MessageType::kReadLogs>(this, &Raylet::OnReadLogs);
  service_.On<MessageType::kListWorkers>(this, &Raylet::OnListWorkers);
  service_.On<MessageType::kPrepareBundles>(this, &Raylet::OnPrepareBundles);
  service_.On<MessageType::kCommitBundles>(this, &Raylet::OnCommitBundles);
  service_.On<MessageType::kReleaseBundles>(this, &Raylet::OnReleaseBundles);
  service_.On<MessageType::kCancelBundles>(this, &Raylet::OnCancelBundles);
  service_.On<MessageType::kShutdownRaylet>([this](protocol::ShutdownRaylet, ReplyFn reply) {
    RequestShutdown();
    protocol::Service::ReplyAck(reply);
  });
  // Object transfers need none of the raylet's state, nor its lock.
  if (object_manager_) object_manager_->RegisterHandlers(service_);
}

void Raylet::OnRequestWorkerLease(protocol::RequestWorkerLease request, ReplyFn reply) {
  if (!reply) return;
  std::lock_guard<std::mutex> lock(mu_);
  // The GCS leases for actors, which may outlive their job (detached).
  if (finished_jobs_.count(request.job_id) && !gcs_->IsGcsEndpoint(request.owner_address)) {
    protocol::LeaseReply refused;
    refused.result = protocol::LeaseReply::Result::kFailed;
    refused.request_id = request.request_id;
    refused.reason = "the job finished";
    reply(protocol::Encode(MessageType::kLeaseReply, refused));
    return;
  }
  // An owner that is a driver on this host is watched from its first lease
  // on, if it did not ask at its start (OnWatchDriver).
  WatchDriverLocked(request.job_id, request.owner_pid, request.owner_host);
  if (Status demand = accelerators_.CheckDemand(request.resources); !demand.ok()) {
    protocol::LeaseReply refused;
    refused.result = protocol::LeaseReply::Result::kFailed;
    refused.request_id = request.request_id;
    refused.reason = demand.message();
    reply(protocol::Encode(MessageType::kLeaseReply, refused));
    return;
  }
  if (!request.placement.placement_group.IsNil() && !PrepareBundleLeaseLocked(request, reply))
    return;
  pending_.push_back(PendingLease{std::move(request), std::move(reply)});
  pending_.back().arrival_view = view_version_;
  pending_.back().arrival_time = std::chrono::steady_clock::now();
  DispatchLocked();
}

void Raylet::OnWatchDriver(protocol::WatchDriver request, ReplyFn reply) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_jobs_.count(request.job_id)) {
      WatchDriverLocked(request.job_id, request.pid, request.host);
      NoteChangeLocked();  // a sleeping monitor wakes to watch it
    }
  }
  protocol::Service::ReplyAck(reply);
}

// A driver on this host is watched, so that a job whose driver is killed
// does not keep its leases, workers and actors (workers are the raylet's
// children, watched through waitpid).
void Raylet::WatchDriverLocked(const JobId& job_id, int64_t pid, const std::string& host) {
  if (pid > 0 && host == hostname_ && !IsWorkerPid(pid)) drivers_[job_id] = pid;
}

void Raylet::OnReturnWorker(protocol::ReturnWorker request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto lease = leases_.find(request.lease_id);
  if (lease != leases_.end()) {
    auto worker = workers_.find(lease->second.worker_id);
    bool lent = worker != workers_.end() && worker->second.blocked;
    ResourceSet back = lease->second.resources;
    if (lent) back.Set("CPU", 0);  // its CPU is already back in the pool
    ReleaseResources(back, lease->second.devices);
    if (worker != workers_.end()) {
      worker->second.lease_id = 0;
      worker->second.blocked = false;
      if (request.worker_exiting) KillWorker(worker->second);
    }
    leases_.erase(lease);
  }
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

void Raylet::OnRegisterWorker(protocol::RegisterWorker request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto worker = workers_.find(request.worker_id);
  if (worker == workers_.end()) {
    // No reply, as before: the core worker takes any reply to its
    // registration as success, and without one it exits on its timeout.
    // TODO(handlers): reply with an error once the core worker decodes it.
    spdlog::warn("raylet: unknown worker {} registered; ignoring it", request.worker_id.Hex());
    return;
  }
  worker->second.address = request.address;
  failed_starts_.erase(worker->second.job_id);
  // A process that died at this address before is not this one.
  (void)gcs_->Send(protocol::Encode(MessageType::kReportWorkerLife,
                                    protocol::WorkerLife{request.address, false, ""}));
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

// A worker blocked in Get() lends its lease's CPU back until it unblocks.
void Raylet::OnWorkerBlockState(const protocol::WorkerBlockState& request, bool blocked,
                                ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto worker = workers_.find(request.worker_id);
  if (worker == workers_.end() || worker->second.lease_id == 0) {
    protocol::Service::ReplyAck(reply);
    return;
  }
  auto lease = leases_.find(worker->second.lease_id);
  double cpus = lease == leases_.end() ? 0 : lease->second.resources.Get("CPU");
  if (blocked && !worker->second.blocked) {
    worker->second.blocked = true;
    ReleaseResources(ResourceSet{{"CPU", cpus}});
  } else if (!blocked && worker->second.blocked) {
    worker->second.blocked = false;
    double free = available_.Get("CPU");
    cpu_debt_ += std::max(0.0, cpus - free);
    AcquireResources(ResourceSet{{"CPU", cpus}});
  }
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

void Raylet::OnFinishJob(protocol::FinishJob request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  FinishJobLocked(request.job_id);
  protocol::Service::ReplyAck(reply);
  DispatchLocked();
}

// `rayk logs`: reads files only, so it needs no lock. The reply stays well
// under the raylet's message limit; the CLI asks again while `more`.
void Raylet::OnReadLogs(protocol::ReadLogs request, ReplyFn reply) {
  if (!reply) return;
  reply(protocol::Encode(MessageType::kLogLines,
                         observability::ReadWorkerLogs(options_.session_dir, request,
                                                       protocol::kRayletMaxMessageBytes / 4)));
}

void Raylet::OnListWorkers(protocol::ListWorkers, ReplyFn reply) {
  if (!reply) return;
  protocol::WorkerList list;
  list.node_id = options_.node_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, worker] : workers_) {
      protocol::WorkerRow& row = list.workers.emplace_back();
      row.worker_id = id;
      row.pid = worker.pid;
      row.job_id = worker.job_id;
      row.address = worker.address;
      row.start_time_ms = worker.start_time_ms;
      row.stopped = worker.stopped_since_ms != 0;
      auto lease = leases_.find(worker.lease_id);
      if (worker.lease_id != 0 && lease != leases_.end())
        row.owner_address = lease->second.owner_address;
      row.state = worker.dying             ? "DYING"
                  : worker.address.empty() ? "STARTING"
                  : worker.lease_id == 0   ? "IDLE"
                  : worker.blocked         ? "BLOCKED"
                                           : "LEASED";
    }
  }
  reply(protocol::Encode(MessageType::kWorkerList, list));
}

}  // namespace rayk
