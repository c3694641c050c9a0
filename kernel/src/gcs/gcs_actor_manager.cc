#include "gcs/gcs_actor_manager.h"

#include <spdlog/spdlog.h>

#include "rayk/internal/runtime.h"
#include "rayk/plugin/scheduling_util.h"
#include "scheduling/bundle_resources.h"

namespace rayk {

namespace {

using protocol::ActorState;
using protocol::MessageType;

constexpr char kActorTable[] = "actors";
constexpr auto kForever = std::chrono::hours(24 * 365);
constexpr auto kSchedulePeriod = std::chrono::milliseconds(20);
// How long a death notice that matched no actor waits for its worker's grant.
constexpr auto kEarlyDeathMemory = std::chrono::seconds(60);

std::string Encoded(const protocol::ActorInfo& info) {
  return protocol::Encode(MessageType::kActorInfo, info);
}

// What the actors table keeps of a record: enough to answer for the actor and
// to restart it after a GCS restart.
struct StoredActor {
  protocol::ActorSpec spec;
  protocol::ActorInfo info;
  bool killed = false;
  std::string kill_cause;
  WorkerId worker_id;
  uint64_t lease_id = 0;
  std::string raylet_address;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& spec& info& killed& kill_cause& worker_id& lease_id& raylet_address;
  }
};

}  // namespace

GcsActorManager::GcsActorManager(std::shared_ptr<Transport> transport,
                                 std::shared_ptr<Scheduler> scheduler,
                                 std::shared_ptr<GcsStore> store, ViewFn view)
    : transport_(std::move(transport)),
      scheduler_(std::move(scheduler)),
      store_(std::move(store)),
      view_(std::move(view)),
      channels_(transport_) {}

GcsActorManager::~GcsActorManager() {
  stopping_ = true;
  if (scheduler_thread_.joinable()) scheduler_thread_.join();
  std::map<std::string, std::shared_ptr<Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels = channels_.TakeAll();
  }
  channels.clear();  // pending callbacks see stopping_ and return
}

Status GcsActorManager::Load() {
  auto stored = store_->GetAll(kActorTable);
  if (!stored.ok()) return stored.status();
  Actions actions;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, value] : *stored) {
    auto actor = protocol::Decode<StoredActor>(value);
    if (!actor.ok()) {
      spdlog::error("gcs: skipped an unreadable actor record: {}", actor.status().message());
      continue;
    }
    Record& record = actors_[actor->info.actor_id];
    record.spec = std::move(actor->spec);
    record.info = std::move(actor->info);
    record.killed = actor->killed;
    record.kill_cause = std::move(actor->kill_cause);
    record.worker_id = actor->worker_id;
    record.lease_id = actor->lease_id;
    record.raylet_address = std::move(actor->raylet_address);
    if (record.info.state == ActorState::kDead) continue;
    if (!record.info.name.empty()) {
      names_[{record.info.namespace_name, record.info.name}] = record.info.actor_id;
    }
    if (record.info.state != ActorState::kAlive) {
      // A creation was under way when the old GCS died: its reply is lost, so
      // end that worker (if one was leased) and create the actor afresh.
      if (record.lease_id != 0 && !record.raylet_address.empty()) {
        std::shared_ptr<Channel> raylet = ChannelTo(record.raylet_address);
        uint64_t lease = record.lease_id;
        if (raylet) {
          actions.push_back([raylet, lease] {
            (void)raylet->Send(
                protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, true}));
          });
        }
      }
      record.worker_id = WorkerId::Nil();
      record.lease_id = 0;
      record.needs_scheduling = true;
    }
  }
  spdlog::info("gcs: loaded {} actor records", actors_.size());
  Run(actions);
  return Status::Ok();
}

void GcsActorManager::PersistLocked(const Record& record) {
  StoredActor stored{record.spec,      record.info,     record.killed,        record.kill_cause,
                     record.worker_id, record.lease_id, record.raylet_address};
  Status st = store_->Put(kActorTable, record.info.actor_id.Binary(),
                          protocol::Encode(MessageType::kActorInfo, stored));
  if (!st.ok())
    spdlog::error("gcs: cannot persist actor {}: {}", record.info.actor_id.Hex(), st.message());
}

void GcsActorManager::ExpireWaitersLocked(Actions& actions) {
  auto now = std::chrono::steady_clock::now();
  for (auto& [id, waiters] : waiters_) {
    auto record = actors_.find(id);
    for (auto w = waiters.begin(); w != waiters.end();) {
      if (now - w->since < kLongPollLimit || record == actors_.end()) {
        ++w;
        continue;
      }
      actions.push_back([reply = std::move(w->reply), encoded = Encoded(record->second.info)] {
        reply(encoded);
      });
      w = waiters.erase(w);
    }
  }
}

void GcsActorManager::HandleNodeDead(const NodeId& node_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, record] : actors_) {
      if (record.info.state == ActorState::kDead) continue;
      if (record.lease_request != 0 && record.lease_node == node_id) {
        // Its lease request waits at the dead raylet, which will never
        // answer: placed again (a late answer is dropped, see OnLease).
        record.lease_request = 0;
        record.scheduling = false;
        ScheduleLocked(record, actions);
        continue;
      }
      if (record.info.node_id != node_id) continue;
      if (record.info.state != ActorState::kAlive && record.lease_id == 0) continue;
      ProcessGoneLocked(record, "its node " + node_id.Hex().substr(0, 8) + " died", actions);
    }
  }
  Run(actions);
}

void GcsActorManager::Start(const std::string& own_address) {
  own_address_ = own_address;
  scheduler_thread_ = std::thread([this] { ScheduleLoop(); });
}

bool GcsActorManager::Settles(const Waiter& waiter, const protocol::ActorInfo& info) const {
  switch (waiter.request.wait) {
    case protocol::GetActor::Wait::kNow:
      return true;
    case protocol::GetActor::Wait::kUntilSettled:
      return info.state == ActorState::kAlive || info.state == ActorState::kDead;
    case protocol::GetActor::Wait::kUntilChanged:
      return info.epoch > waiter.request.epoch || info.state == ActorState::kDead;
  }
  return true;
}

void GcsActorManager::SetStateLocked(Record& record, ActorState state, Actions& actions) {
  record.info.state = state;
  ++record.info.epoch;
  if (state != ActorState::kAlive) {
    record.info.address.clear();
    record.info.pid = 0;
  }
  PersistLocked(record);
  auto it = waiters_.find(record.info.actor_id);
  if (it == waiters_.end()) return;
  std::string encoded = Encoded(record.info);
  auto& waiters = it->second;
  for (auto w = waiters.begin(); w != waiters.end();) {
    if (Settles(*w, record.info)) {
      actions.push_back([reply = std::move(w->reply), encoded] { reply(encoded); });
      w = waiters.erase(w);
    } else {
      ++w;
    }
  }
}

void GcsActorManager::DieLocked(Record& record, const std::string& cause, Actions& actions) {
  record.needs_scheduling = false;
  record.info.death_cause = cause;
  spdlog::info("actor {} ({}) is dead: {}", record.info.actor_id.Hex(), record.info.class_name,
               cause);
  if (!record.info.name.empty()) names_.erase({record.info.namespace_name, record.info.name});
  SetStateLocked(record, ActorState::kDead, actions);
}

void GcsActorManager::HandleRegister(protocol::RegisterActor request, ReplyFn reply) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const protocol::ActorSpec& spec = request.spec;
    if (actors_.count(spec.actor_id)) {
      // A retried registration (the first reached an earlier GCS, or its
      // reply was lost): already done.
      reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(Status::Ok())));
      return;
    }
    if (!spec.name.empty() && names_.count({spec.namespace_name, spec.name})) {
      reply(protocol::Encode(
          MessageType::kStatusReply,
          protocol::StatusReply::From(Status::AlreadyExists(
              "an actor named '" + spec.name + "' already exists in namespace '" +
              spec.namespace_name + "'; pick another name or use rayk::GetActor(\"" + spec.name +
              "\")"))));
      return;
    }
    Record& record = actors_[spec.actor_id];
    record.spec = spec;
    record.info.actor_id = spec.actor_id;
    record.info.name = spec.name;
    record.info.namespace_name = spec.namespace_name;
    record.info.class_name = spec.class_name;
    record.info.job_id = spec.job_id;
    record.info.max_task_retries = spec.max_task_retries;
    record.info.detached = spec.detached;
    record.info.concurrency_groups = spec.concurrency_groups;
    record.needs_scheduling = true;
    if (!spec.name.empty()) names_[{spec.namespace_name, spec.name}] = spec.actor_id;
    SetStateLocked(record, ActorState::kPending, actions);
    ScheduleLocked(record, actions);
  }
  reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(Status::Ok())));
  Run(actions);
}

void GcsActorManager::HandleGet(protocol::GetActor request, ReplyFn reply) {
  std::lock_guard<std::mutex> lock(mu_);
  ActorId id = request.actor_id;
  if (id.IsNil()) {
    auto named = names_.find({request.namespace_name, request.name});
    if (named == names_.end()) {
      protocol::ActorInfo missing;  // nil id: not found
      reply(Encoded(missing));
      return;
    }
    id = named->second;
  }
  auto it = actors_.find(id);
  if (it == actors_.end()) {
    protocol::ActorInfo missing;
    reply(Encoded(missing));
    return;
  }
  Waiter waiter{request, reply, std::chrono::steady_clock::now()};
  if (Settles(waiter, it->second.info)) {
    reply(Encoded(it->second.info));
    return;
  }
  waiters_[id].push_back(std::move(waiter));
}

void GcsActorManager::KillLocked(Record& record, bool no_restart, const std::string& cause,
                                 Actions& actions) {
  if (record.info.state == ActorState::kDead) return;
  if (no_restart) {
    record.killed = true;
    record.kill_cause = cause;
  }
  if (record.lease_id != 0 && !record.raylet_address.empty()) {
    // Returning the lease with worker_exiting ends the process. The raylet
    // sends no death notice for a returned lease, so settle the state here.
    std::shared_ptr<Channel> raylet = ChannelTo(record.raylet_address);
    uint64_t lease = record.lease_id;
    if (raylet) {
      actions.push_back([raylet, lease] {
        raylet->Call(
            protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, true}),
            [](Result<std::string>) {}, std::chrono::seconds(10));
      });
    }
  }
  ProcessGoneLocked(record, cause, actions);
}

void GcsActorManager::ProcessGoneLocked(Record& record, const std::string& reason,
                                        Actions& actions) {
  record.worker_id = WorkerId::Nil();
  record.lease_id = 0;
  record.scheduling = false;
  if (record.killed) {
    DieLocked(record, record.kill_cause, actions);
  } else if (internal::AnotherTry(static_cast<int>(record.info.restarts),
                                  record.spec.max_restarts)) {
    ++record.info.restarts;
    spdlog::info("actor {} lost its process ({}); restart {} of {}", record.info.actor_id.Hex(),
                 reason, record.info.restarts, internal::LimitText(record.spec.max_restarts));
    record.needs_scheduling = true;
    SetStateLocked(record, ActorState::kRestarting, actions);
    ScheduleLocked(record, actions);
  } else {
    DieLocked(record,
              "its worker died (" + reason + ") and max_restarts=" +
                  std::to_string(record.spec.max_restarts) + " allows no more restarts",
              actions);
  }
}

void GcsActorManager::HandleKill(protocol::KillActor request, ReplyFn reply) {
  Actions actions;
  Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(request.actor_id);
    if (it == actors_.end()) {
      status = Status::NotFound("no actor " + request.actor_id.Hex());
    } else if (request.exiting_by_itself) {
      // Its process's end (reported by the raylet) makes it DEAD.
      it->second.killed = true;
      it->second.kill_cause = request.cause;
      PersistLocked(it->second);
    } else {
      KillLocked(
          it->second, request.no_restart,
          request.cause.empty() ? "killed through its handle (ActorHandle::Kill)" : request.cause,
          actions);
    }
  }
  if (reply)
    reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(status)));
  Run(actions);
}

void GcsActorManager::HandleList(ReplyFn reply) {
  protocol::ActorList list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, record] : actors_) list.actors.push_back(record.info);
  }
  reply(protocol::Encode(MessageType::kActorList, list));
}

void GcsActorManager::HandleWorkerDied(const protocol::WorkerDied& died) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool matched = false;
    for (auto& [id, record] : actors_) {
      if (record.worker_id != died.worker_id || record.info.state == ActorState::kDead) continue;
      ProcessGoneLocked(record, died.reason, actions);
      matched = true;
      break;
    }
    // A lease whose grant is still on its way (or one ended already).
    if (!matched) early_deaths_[died.worker_id] = std::chrono::steady_clock::now();
  }
  Run(actions);
}

void GcsActorManager::HandleJobFinished(const JobId& job_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, record] : actors_) {
      if (record.spec.job_id == job_id && !record.spec.detached) {
        KillLocked(record, true, "the job that created it finished (create it detached to keep it)",
                   actions);
      }
    }
  }
  Run(actions);
}

void GcsActorManager::HandlePlacementGroupRemoved(const PlacementGroupId& group) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, record] : actors_) {
      if (record.spec.placement.placement_group == group) {
        KillLocked(record, true, "its placement group " + group.Hex().substr(0, 8) + " was removed",
                   actions);
      }
    }
  }
  Run(actions);
}

void GcsActorManager::ScheduleLoop() {
  while (!stopping_) {
    std::this_thread::sleep_for(kSchedulePeriod);
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, record] : actors_) {
        if (record.needs_scheduling && !record.scheduling) ScheduleLocked(record, actions);
      }
      ExpireWaitersLocked(actions);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = early_deaths_.begin(); it != early_deaths_.end();) {
        it = now - it->second > kEarlyDeathMemory ? early_deaths_.erase(it) : std::next(it);
      }
    }
    Run(actions);
  }
}

void GcsActorManager::ScheduleLocked(Record& record, Actions& actions) {
  if (record.scheduling || !record.needs_scheduling || record.info.state == ActorState::kDead)
    return;
  if (record.killed) {
    DieLocked(record, record.kill_cause, actions);
    return;
  }
  ClusterView view = view_();
  SchedulingRequest request;
  const internal::Placement& placement = record.spec.placement;
  const bool in_group = !placement.placement_group.IsNil();
  request.demand = in_group ? BundleDemand(record.spec.resources, placement.placement_group,
                                           placement.bundle_index)
                            : record.spec.resources;
  request.strategy = record.spec.placement.strategy;
  request.affinity_node = record.spec.placement.affinity_node;
  request.affinity_soft = record.spec.placement.affinity_soft;
  request.label_selector = record.spec.placement.label_selector;
  SchedulingDecision decision = scheduler_->Schedule(request, view);
  if (decision.kind == SchedulingDecision::Kind::kInfeasible) {
    // Hard affinity names one node: when that node is dead or can never hold
    // the actor, no joining node helps, so it fails (as in Ray).
    if (request.strategy == SchedulingStrategy::kNodeAffinity && !request.affinity_soft &&
        !in_group) {
      DieLocked(record, "it cannot be created: " + decision.reason, actions);
      return;
    }
    // Otherwise it waits, as in Ray, until a node that fits joins (in a
    // placement group: until its bundle is placed). Its owner warns.
    if (record.info.pending_reason != decision.reason) {
      spdlog::warn("actor {} ({}) cannot be placed yet: {}; it waits for a node that fits",
                   record.info.actor_id.Hex(), record.info.class_name, decision.reason);
      record.info.pending_reason = decision.reason;
    }
    return;
  }
  record.info.pending_reason.clear();
  if (decision.kind == SchedulingDecision::Kind::kWait) return;  // the loop tries again
  const NodeView* node = view.Find(decision.node);
  if (node == nullptr) return;
  std::shared_ptr<Channel> raylet = ChannelTo(node->address);
  if (!raylet) return;
  record.scheduling = true;
  protocol::RequestWorkerLease lease;
  lease.request_id = next_request_id_++;
  record.lease_request = lease.request_id;
  record.lease_node = node->node_id;
  lease.job_id = record.spec.job_id;
  lease.resources = record.spec.resources;
  lease.owner_address = own_address_;
  // The GCS placed it already: the raylet grants it without spilling it on.
  lease.placement.strategy = SchedulingStrategy::kNodeAffinity;
  lease.placement.affinity_node = node->node_id;
  lease.placement.placement_group = placement.placement_group;
  lease.placement.bundle_index = placement.bundle_index;
  ActorId id = record.info.actor_id;
  std::string address = node->address;
  const uint64_t request_id = lease.request_id;
  actions.push_back([this, raylet, id, request_id, address,
                     message = protocol::Encode(MessageType::kRequestWorkerLease, lease)] {
    raylet->Call(
        message,
        [this, id, request_id, address](Result<std::string> reply) {
          OnLease(id, request_id, address, std::move(reply));
        },
        kForever);
  });
}

void GcsActorManager::OnLease(const ActorId& id, uint64_t request_id, const std::string& raylet,
                              Result<std::string> reply) {
  if (stopping_) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(id);
    if (it == actors_.end()) return;
    Record& record = it->second;
    std::optional<protocol::LeaseReply> lease;
    if (reply.ok()) {
      auto body = protocol::Decode<protocol::LeaseReply>(*reply);
      if (body.ok()) lease = *body;
    }
    const bool granted = lease && lease->result == protocol::LeaseReply::Result::kGranted;
    const bool abandoned = record.lease_request != request_id;
    if (!abandoned) record.lease_request = 0;
    if (abandoned) {
      // Abandoned when its node was declared dead: a grant that still came
      // is given back, its worker ended.
      if (granted) ReturnLeaseLocked(raylet, lease->lease_id, actions);
    } else if (granted && early_deaths_.erase(lease->worker_id) != 0) {
      // Its worker died before the grant got here: the raylet took the
      // lease back already. Placed again, with no restart counted.
      spdlog::info(
          "actor {}: worker pid {} died before its lease reached the GCS; placing it again",
          record.info.actor_id.Hex(), lease->worker_pid);
      record.scheduling = false;
      ScheduleLocked(record, actions);
    } else if (!granted) {
      record.scheduling = false;
      std::string reason = lease ? lease->reason : reply.status().message();
      DieLocked(record, "it cannot be created: " + reason, actions);
    } else if (record.killed || record.info.state == ActorState::kDead) {
      ReturnLeaseLocked(raylet, lease->lease_id, actions);
      record.scheduling = false;
      if (record.info.state != ActorState::kDead) DieLocked(record, record.kill_cause, actions);
    } else {
      record.worker_id = lease->worker_id;
      record.lease_id = lease->lease_id;
      record.raylet_address = raylet;
      record.info.node_id = lease->node_id;
      record.info.pid = lease->worker_pid;
      std::shared_ptr<Channel> worker = ChannelTo(lease->worker_address);
      protocol::PushTask push;
      push.spec.actor_id = id;
      push.spec.creates_actor = true;
      push.spec.max_concurrency = record.spec.max_concurrency;
      push.spec.concurrency_groups = record.spec.concurrency_groups;
      push.spec.attempt = record.info.restarts;  // WasCurrentActorRestarted()
      push.spec.task_id = TaskId::FromRandom();
      push.spec.job_id = record.spec.job_id;
      push.spec.function = record.spec.factory;
      push.spec.args = record.spec.args;
      push.spec.owner_address = own_address_;
      push.spec.accelerators = lease->accelerators;  // the actor keeps its devices for life
      uint64_t epoch = record.info.epoch;
      std::string address = lease->worker_address;
      record.info.address = address;
      PersistLocked(record);
      if (worker) {
        actions.push_back(
            [this, worker, id, epoch, message = protocol::Encode(MessageType::kPushTask, push)] {
              worker->Call(
                  message,
                  [this, id, epoch](Result<std::string> r) { OnCreated(id, epoch, std::move(r)); },
                  kForever);
            });
      }
    }
  }
  Run(actions);
}

void GcsActorManager::ReturnLeaseLocked(const std::string& raylet, uint64_t lease_id,
                                        Actions& actions) {
  std::shared_ptr<Channel> channel = ChannelTo(raylet);
  if (!channel) return;
  actions.push_back([channel, lease_id] {
    (void)channel->Send(
        protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease_id, true}));
  });
}

void GcsActorManager::OnCreated(const ActorId& id, uint64_t epoch, Result<std::string> reply) {
  if (stopping_) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(id);
    if (it == actors_.end()) return;
    Record& record = it->second;
    if (record.info.epoch != epoch) return;  // died meanwhile; the death notice took over
    record.scheduling = false;
    if (!reply.ok()) return;  // the worker's death notice follows
    auto body = protocol::Decode<protocol::PushTaskReply>(*reply);
    if (!body.ok() || body->error) {
      std::string cause = !body.ok() ? body.status().message()
                                     : "its factory " + record.spec.factory + " threw " +
                                           body->error->remote_type + ": " + body->error->message;
      record.killed = true;
      record.kill_cause = "it cannot be created: " + cause;
      KillLocked(record, true, record.kill_cause, actions);
    } else {
      record.needs_scheduling = false;
      SetStateLocked(record, ActorState::kAlive, actions);
    }
  }
  Run(actions);
}

}  // namespace rayk
