#include "core_worker/core_worker.h"

#include "rayk/errors.h"

#include <unistd.h>

#include <algorithm>

#include <iostream>

#include <spdlog/spdlog.h>

#include "raylet/raylet.h"  // LocalHostName
#include "rayk/internal/function_registry.h"

namespace rayk {

namespace {

using protocol::MessageType;
using internal::ErrorInfo;
using internal::ObjectValue;

// A leased worker with nothing to do is kept this long in case more tasks of
// its class come (a loop of sync calls), then returned for others to use.
constexpr auto kLeaseIdleTime = std::chrono::milliseconds(20);
// How many lease requests one scheduling class may have outstanding.
constexpr int kMaxLeaseRequests = 8;
// Tasks shorter than this (on average) are pipelined, kPipelineDepth deep.
constexpr double kShortTaskMicros = 1000;
constexpr size_t kPipelineDepth = 4;
// Leases wait at the raylet for as long as resources are busy.
constexpr auto kForever = std::chrono::hours(24 * 365);
constexpr auto kControlTimeout = std::chrono::milliseconds(10000);
// How long replies already sent by a dead actor get to arrive before its
// in-flight calls are failed or retried.
constexpr auto kDeathNoticeGrace = std::chrono::milliseconds(100);
// An exiting actor waits this long for the transport to send its last reply.
constexpr auto kReplyFlushTime = std::chrono::milliseconds(20);

class StringBuffer : public ObjectBuffer {
 public:
  explicit StringBuffer(std::string bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
};

ObjectValue ValueOf(std::string bytes) { return ObjectValue{std::make_shared<StringBuffer>(std::move(bytes)), {}}; }

ObjectValue ErrorValue(ErrorInfo::Kind kind, std::string message, std::string where = "") {
  ErrorInfo error;
  error.kind = kind;
  error.message = std::move(message);
  error.where = std::move(where);
  return ObjectValue{nullptr, error};
}

// The mark of a value that lives in an object store (ObjectEntry::location).
ObjectValue InStoreMark() { return ObjectValue{nullptr, std::nullopt}; }
bool IsInStoreMark(const ObjectValue& value) { return value.data == nullptr && !value.error; }

std::string_view View(const ObjectValue& value) {
  return {reinterpret_cast<const char*>(value.data->data()), value.data->size()};
}

}  // namespace

CoreWorker::CoreWorker(Options options, std::shared_ptr<Transport> transport)
    : options_(std::move(options)), transport_(std::move(transport)), host_name_(LocalHostName()) {}

Result<std::unique_ptr<CoreWorker>> CoreWorker::Start(Options options, std::shared_ptr<Transport> transport) {
  std::unique_ptr<CoreWorker> worker(new CoreWorker(std::move(options), std::move(transport)));
  CoreWorker* self = worker.get();
  auto raylet = worker->transport_->Connect(worker->options_.raylet_address);
  if (!raylet.ok()) return raylet.status();
  worker->raylet_ = std::move(*raylet);
  auto gcs = GcsClient::Connect(*worker->transport_, worker->options_.gcs_address);
  if (!gcs.ok()) return gcs.status();
  worker->gcs_ = std::move(*gcs);
  if (worker->options_.store && worker->options_.store->SharedByTheNode()) {
    worker->node_objects_ = std::make_unique<NodeObjects>(worker->options_.store, worker->options_.node_id,
                                                          worker->options_.raylet_address, worker->raylet_,
                                                          worker->transport_);
  }
  auto server = worker->transport_->Serve(worker->options_.endpoint,
                                          [self](std::string m, ReplyFn r) { self->Handle(std::move(m), std::move(r)); });
  if (!server.ok()) return server.status();
  worker->server_ = std::move(*server);
  worker->reaper_ = std::thread([self] {
    while (!self->stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      self->ReturnIdleLeases();
      self->HandleDeferredActorInfos();
    }
  });
  if (worker->options_.is_driver) {
    protocol::RegisterJob job;
    job.job.job_id = worker->options_.job_id;
    job.job.driver_pid = getpid();
    job.job.driver_address = worker->address();
    job.job.code_libraries = worker->options_.code_libraries;
    job.job.start_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
    auto reply = worker->gcs_->CallSync(protocol::Encode(MessageType::kRegisterJob, job));
    if (!reply.ok()) {
      return Status::Unavailable("cannot register the job with the GCS at " + worker->options_.gcs_address + ": " +
                                 reply.status().message());
    }
  } else {
    protocol::RegisterWorker registration{worker->options_.worker_id, worker->address(), getpid()};
    auto reply = worker->raylet_->CallSync(protocol::Encode(MessageType::kRegisterWorker, registration),
                                           kControlTimeout);
    if (!reply.ok()) {
      return Status::Unavailable("worker cannot register with its raylet at " + worker->options_.raylet_address +
                                 ": " + reply.status().message());
    }
  }
  return worker;
}

CoreWorker::~CoreWorker() {
  stopping_ = true;
  if (reaper_.joinable()) reaper_.join();
  // Give every lease back so the raylet can reuse the workers at once.
  std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>> leases;
  std::unique_ptr<Subscription> subscription;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, cls] : classes_) {
      for (auto& [lease_id, worker] : cls.workers) leases.emplace_back(lease_id, worker.raylet);
      cls.workers.clear();
    }
    subscription.swap(node_subscription_);
  }
  subscription.reset();  // without mu_: its handler may be waiting for it
  for (auto& [lease, raylet] : leases) {
    if (raylet) (void)raylet->Send(protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, false}));
  }
  leases.clear();
  if (options_.is_driver) {
    protocol::FinishJob finish{options_.job_id};
    (void)gcs_->CallSync(protocol::Encode(MessageType::kFinishJob, finish), std::chrono::milliseconds(2000));
    (void)raylet_->CallSync(protocol::Encode(MessageType::kFinishJob, finish), std::chrono::milliseconds(2000));
  }
  server_.reset();
  // Closing a channel completes its pending calls (with kUnavailable) on its
  // own thread; those callbacks see stopping_ and touch nothing. Channels are
  // closed without mu_ held, as the callbacks may take it.
  std::map<std::string, std::shared_ptr<Channel>> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    peers.swap(peers_);
    for (auto& [key, cls] : classes_) cls.workers.clear();
  }
  peers.clear();
  raylet_.reset();
  gcs_.reset();
}

void CoreWorker::Run(Actions& actions) {
  for (auto& action : actions) action();
  actions.clear();
}

// ---------------------------------------------------------------- objects

ObjectId CoreWorker::Put(std::string data) {
  ObjectId id = ObjectId::FromRandom();
  internal::StoreLocation location;
  if (node_objects_ && data.size() > kInlineLimit) {
    auto stored = node_objects_->Put(id, data);
    if (stored.ok()) {
      location = *stored;
    } else if (stored.status().code() == StatusCode::kOutOfMemory) {
      throw ObjectStoreFullError("rayk::Put of " + std::to_string(data.size()) + " bytes: " + stored.status().message());
    } else {
      spdlog::warn("rayk::Put of {} bytes keeps the value in this process: {}", data.size(),
                   stored.status().message());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  ObjectEntry& entry = objects_[id];
  entry.owned = true;
  entry.local_refs = 1;
  entry.location = location;
  entry.value = location.valid() ? InStoreMark() : ValueOf(std::move(data));
  return id;
}

void CoreWorker::SetValueLocked(const ObjectId& id, ObjectValue value, Actions& actions) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;  // nobody holds it any more
  it->second.value = std::move(value);
  it->second.fetching = false;
  for (auto& callback : it->second.on_ready) actions.push_back(std::move(callback));
  it->second.on_ready.clear();
  ready_cv_.notify_all();
}

void CoreWorker::MaybeFreeLocked(const ObjectId& id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  const ObjectEntry& entry = it->second;
  if (entry.local_refs > 0 || entry.task_refs > 0 || entry.escaped || !entry.on_ready.empty()) return;
  if (entry.owned && entry.location.valid() && node_objects_) node_objects_->Free(id, entry.location);
  objects_.erase(it);
}

void CoreWorker::AddLocalReference(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++objects_[id].local_refs;
}

void CoreWorker::RemoveLocalReference(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  --it->second.local_refs;
  MaybeFreeLocked(id);
}

std::string CoreWorker::OwnerAddress(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end() || it->second.owned) {
    // The reference leaves this process; without a borrower protocol the
    // owner cannot know when the borrower is done, so it keeps the value.
    if (it != objects_.end()) it->second.escaped = true;
    return address();
  }
  return it->second.owner_address;
}

void CoreWorker::AddBorrowedReference(const ObjectId& id, const std::string& owner_address) {
  std::lock_guard<std::mutex> lock(mu_);
  ObjectEntry& entry = objects_[id];
  ++entry.local_refs;
  if (!entry.owned && entry.owner_address.empty()) entry.owner_address = owner_address;
}

size_t CoreWorker::NumObjects() {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

void CoreWorker::FetchLocked(const ObjectId& id, Actions& actions) {
  ObjectEntry& entry = objects_[id];
  if (entry.owned || entry.value || entry.fetching) return;
  if (entry.owner_address.empty()) {
    SetValueLocked(id, ErrorValue(ErrorInfo::Kind::kObjectLost,
                                  "object " + id.Hex() + " is not known to this process and has no owner"),
                   actions);
    return;
  }
  entry.fetching = true;
  auto& peer = peers_[entry.owner_address];
  if (!peer) {
    auto channel = transport_->Connect(entry.owner_address);
    if (!channel.ok()) {
      SetValueLocked(id, ErrorValue(ErrorInfo::Kind::kObjectLost, channel.status().message()), actions);
      return;
    }
    peer = std::move(*channel);
  }
  std::shared_ptr<Channel> channel = peer;
  std::string owner = entry.owner_address;
  actions.push_back([this, channel, id, owner] {
    channel->Call(
        protocol::Encode(MessageType::kGetObject, protocol::GetObject{id}),
        [this, id, owner](Result<std::string> reply) {
          if (stopping_) return;
          ObjectValue value;
          internal::StoreLocation location;
          if (!reply.ok()) {
            value = ErrorValue(ErrorInfo::Kind::kObjectLost,
                               "the owner of object " + id.Hex() + " at " + owner + " did not answer: " +
                                   reply.status().message());
          } else if (auto body = protocol::Decode<protocol::GetObjectReply>(*reply); !body.ok() || !body->found) {
            value = ErrorValue(ErrorInfo::Kind::kObjectLost,
                               "object " + id.Hex() + " is no longer held by its owner at " + owner);
          } else if (body->error) {
            value = ObjectValue{nullptr, body->error};
          } else if (body->location.valid()) {
            value = InStoreMark();
            location = body->location;
          } else {
            value = ValueOf(std::move(body->value));
          }
          Actions after;
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (auto entry = objects_.find(id); entry != objects_.end()) entry->second.location = location;
            SetValueLocked(id, std::move(value), after);
          }
          Run(after);
        },
        kForever);
  });
}

Result<std::vector<ObjectValue>> CoreWorker::Get(const std::vector<ObjectId>& ids,
                                                 std::chrono::milliseconds timeout) {
  Actions actions;
  std::unique_lock<std::mutex> lock(mu_);
  // Values never go back to unset, so the scan resumes where it stopped:
  // waiting for n objects costs O(n) lookups, not O(n) per wake-up.
  size_t first_unready = 0;
  auto all_ready = [&] {
    for (; first_unready < ids.size(); ++first_unready) {
      auto it = objects_.find(ids[first_unready]);
      if (it != objects_.end() && !it->second.value) return false;
    }
    return true;
  };
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.owned && !it->second.value) FetchLocked(id, actions);
  }
  lock.unlock();
  Run(actions);
  lock.lock();
  if (!all_ready()) {
    // A worker waiting here lends its CPU back so the tasks it waits for can run.
    lock.unlock();
    SetBlocked(true);
    lock.lock();
    bool ready = timeout.count() < 0 ? (ready_cv_.wait(lock, all_ready), true)
                                     : ready_cv_.wait_for(lock, timeout, all_ready);
    lock.unlock();
    SetBlocked(false);
    lock.lock();
    if (!ready) {
      return Status::TimedOut("Get timed out after " + std::to_string(timeout.count()) + " ms waiting for " +
                              std::to_string(ids.size()) + " object(s)");
    }
  }
  std::vector<ObjectValue> values;
  std::vector<std::pair<size_t, internal::StoreLocation>> in_store;
  values.reserve(ids.size());
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it == objects_.end()) {
      values.push_back(ErrorValue(ErrorInfo::Kind::kObjectLost,
                                  "object " + id.Hex() + " has no reference in this process (freed or never made)"));
    } else {
      if (IsInStoreMark(*it->second.value)) in_store.emplace_back(values.size(), it->second.location);
      values.push_back(*it->second.value);
    }
  }
  lock.unlock();
  // Objects in a store are read there (pulled to this node first if need
  // be): the buffer is the store's own pages, pinned while the caller holds it.
  for (auto& [index, location] : in_store) {
    if (!node_objects_) {
      auto bytes = ReadObjectFromNode(*transport_, ids[index], location);
      values[index] = bytes.ok() ? ValueOf(std::move(*bytes))
                                 : ErrorValue(ErrorInfo::Kind::kObjectLost, bytes.status().message());
      continue;
    }
    auto buffer = node_objects_->Get(ids[index], location);
    values[index] = buffer.ok() ? ObjectValue{*buffer, std::nullopt}
                                : ErrorValue(ErrorInfo::Kind::kObjectLost, buffer.status().message());
  }
  return values;
}

std::vector<bool> CoreWorker::Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                                   std::chrono::milliseconds timeout) {
  Actions actions;
  std::unique_lock<std::mutex> lock(mu_);
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.owned && !it->second.value) FetchLocked(id, actions);
  }
  lock.unlock();
  Run(actions);
  lock.lock();
  std::vector<bool> ready(ids.size());
  auto enough = [&] {
    size_t count = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = objects_.find(ids[i]);
      ready[i] = it == objects_.end() || it->second.value.has_value();
      count += ready[i];
    }
    return count >= std::min(num_returns, ids.size());
  };
  if (timeout.count() < 0) {
    ready_cv_.wait(lock, enough);
  } else {
    ready_cv_.wait_for(lock, timeout, enough);
  }
  enough();
  return ready;
}

// ---------------------------------------------------------------- tasks

ObjectId CoreWorker::SubmitTask(internal::TaskCall call) {
  PendingTask task;
  task.spec.function = std::move(call.function);
  task.spec.args = std::move(call.args);
  task.spec.resources = call.options.resources;
  task.spec.max_retries = call.options.max_retries;
  task.class_key = task.spec.resources.ToJson() + "|" + call.options.placement.Key();
  task.placement = std::move(call.options.placement);
  return Submit(std::move(task));
}

ObjectId CoreWorker::Submit(PendingTask task) {
  task.spec.task_id = TaskId::FromRandom();
  task.spec.job_id = options_.job_id;
  task.spec.return_id = ObjectId::FromRandom();
  task.spec.owner_address = address();
  const TaskId task_id = task.spec.task_id;
  const ObjectId return_id = task.spec.return_id;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectEntry& result = objects_[return_id];
    result.owned = true;
    result.local_refs = 1;
    for (const internal::TaskArg& arg : task.spec.args) {
      if (!arg.is_ref) continue;
      task.arg_refs.push_back(arg.ref);
      ObjectEntry& entry = objects_[arg.ref];
      ++entry.task_refs;
      if (!entry.owned && entry.owner_address.empty()) entry.owner_address = arg.owner_address;
      ++task.unresolved;
    }
    size_t num_args = task.spec.args.size();
    PendingTask& stored = tasks_[task_id] = std::move(task);
    if (stored.spec.actor_id.IsNil()) {
      if (classes_.find(stored.class_key) == classes_.end()) {
        SchedulingClass& cls = classes_[stored.class_key];
        cls.resources = stored.spec.resources;
        cls.placement = stored.placement;
      }
    } else {
      // Calls leave in submission order, whatever order their arguments resolve in.
      actor_clients_[stored.spec.actor_id].queue.push_back(task_id);
    }
    if (stored.unresolved == 0) {
      TaskReadyLocked(task_id, actions);
    } else {
      for (size_t i = 0; i < num_args; ++i) {
        auto it = tasks_.find(task_id);
        if (it == tasks_.end()) break;  // a failed dependency already completed it
        if (it->second.spec.args[i].is_ref) ResolveArgLocked(task_id, i, actions);
      }
    }
  }
  Run(actions);
  return return_id;
}

void CoreWorker::ResolveArgLocked(const TaskId& task_id, size_t arg_index, Actions& actions) {
  auto task_it = tasks_.find(task_id);
  if (task_it == tasks_.end()) return;
  const ObjectId ref = task_it->second.spec.args[arg_index].ref;
  ObjectEntry& entry = objects_[ref];
  if (!entry.value) {
    entry.on_ready.push_back([this, task_id, arg_index] {
      Actions after;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ResolveArgLocked(task_id, arg_index, after);
      }
      Run(after);
    });
    if (!entry.owned) FetchLocked(ref, actions);
    return;
  }
  PendingTask& task = task_it->second;
  if (entry.value->error) {
    // A failed dependency fails the task without running it, as in Ray.
    CompleteTaskLocked(task_id, *entry.value, actions);
    return;
  }
  internal::TaskArg& arg = task.spec.args[arg_index];
  arg.is_ref = false;
  if (IsInStoreMark(*entry.value)) {
    arg.location = entry.location;  // the executor reads it from its node's store
  } else {
    arg.value = std::string(View(*entry.value));
  }
  if (--task.unresolved == 0) TaskReadyLocked(task_id, actions);
}

void CoreWorker::TaskReadyLocked(const TaskId& task_id, Actions& actions) {
  PendingTask& task = tasks_.at(task_id);
  if (!task.spec.actor_id.IsNil()) {
    SendActorTasksLocked(task.spec.actor_id, actions);
    return;
  }
  classes_[task.class_key].queue.push_back(task_id);
  DispatchLocked(task.class_key, actions);
}

void CoreWorker::DispatchLocked(const std::string& class_key, Actions& actions) {
  SchedulingClass& cls = classes_[class_key];
  // Tasks of unknown or long run time go one at a time per leased worker, so
  // they spread over every worker the node grants instead of queueing
  // behind each other. Short ones are pipelined: a worker gets the next while
  // it runs the current, which hides the round trip.
  size_t depth = cls.avg_run_us >= 0 && cls.avg_run_us < kShortTaskMicros ? kPipelineDepth : 1;
  // Level by level, so that every worker gets its first task before any gets a second.
  for (size_t level = 1; level <= depth && !cls.queue.empty(); ++level)
  for (auto& [lease_id, worker] : cls.workers) {
    if (cls.queue.empty()) break;
    if (worker.in_flight.size() >= level) continue;
    TaskId task_id = cls.queue.front();
    cls.queue.pop_front();
    auto task_it = tasks_.find(task_id);
    if (task_it == tasks_.end()) continue;
    worker.in_flight.insert(task_id);
    const protocol::TaskSpec& spec = task_it->second.spec;
    std::string message = protocol::Encode(MessageType::kPushTask, protocol::PushTask{spec});
    std::shared_ptr<Channel> channel = worker.channel;
    int attempt = spec.attempt;
    uint64_t lease = lease_id;
    actions.push_back([this, channel, message = std::move(message), task_id, attempt, lease]() mutable {
      channel->Call(std::move(message),
                    [this, task_id, attempt, lease](Result<std::string> reply) {
                      OnPushReply(task_id, attempt, lease, std::move(reply));
                    },
                    kForever);
    });
  }
  int wanted = std::min<int>(static_cast<int>(cls.queue.size()), kMaxLeaseRequests);
  while (cls.lease_requests < wanted) RequestLeaseLocked(class_key, actions);
}

void CoreWorker::RequestLeaseLocked(const std::string& class_key, Actions& actions) {
  SchedulingClass& cls = classes_[class_key];
  ++cls.lease_requests;
  SendLeaseRequestLocked(class_key, LeaseRequestLocked(cls), options_.node_id, options_.raylet_address, actions);
}

protocol::RequestWorkerLease CoreWorker::LeaseRequestLocked(const SchedulingClass& cls) {
  protocol::RequestWorkerLease request;
  request.request_id = next_request_id_++;
  request.job_id = options_.job_id;
  request.resources = cls.resources;
  request.owner_address = address();
  request.owner_pid = getpid();
  request.owner_host = host_name_;
  request.code_libraries = options_.code_libraries;
  request.placement = cls.placement;
  // Locality, as Ray's lease policy does it: where the next task's large
  // arguments already are.
  if (!cls.queue.empty()) {
    auto task = tasks_.find(cls.queue.front());
    if (task != tasks_.end()) {
      for (const internal::TaskArg& arg : task->second.spec.args) {
        if (arg.location.valid()) request.argument_bytes[arg.location.node] += arg.location.size;
      }
    }
  }
  return request;
}

std::shared_ptr<Channel> CoreWorker::PeerLocked(const std::string& address) {
  if (address == options_.raylet_address) return raylet_;
  auto& peer = peers_[address];
  if (!peer) {
    auto connected = transport_->Connect(address);
    if (connected.ok()) peer = std::move(*connected);
  }
  return peer;
}

void CoreWorker::SendLeaseRequestLocked(const std::string& class_key, protocol::RequestWorkerLease request,
                                        const NodeId& node, const std::string& raylet_address, Actions& actions) {
  std::shared_ptr<Channel> raylet = PeerLocked(raylet_address);
  uint64_t request_id = request.request_id;
  if (node != options_.node_id) {
    remote_lease_requests_[request_id] = {class_key, node};
    WatchNodesLocked(actions);
  }
  if (!raylet) {
    actions.push_back([this, class_key, request_id, raylet_address] {
      OnLeaseReply(class_key, request_id, raylet_address,
                   Status::Unavailable("cannot connect to the raylet at " + raylet_address));
    });
    return;
  }
  std::string message = protocol::Encode(MessageType::kRequestWorkerLease, request);
  actions.push_back([this, raylet, class_key, request_id, raylet_address, message = std::move(message)]() mutable {
    raylet->Call(std::move(message),
                 [this, class_key, request_id, raylet_address](Result<std::string> reply) {
                   OnLeaseReply(class_key, request_id, raylet_address, std::move(reply));
                 },
                 kForever);
  });
}

void CoreWorker::OnLeaseReply(const std::string& class_key, uint64_t request_id, const std::string& raylet_address,
                              Result<std::string> reply) {
  if (stopping_) return;
  Actions actions;
  std::optional<protocol::LeaseReply> lease;
  if (reply.ok()) {
    auto body = protocol::Decode<protocol::LeaseReply>(*reply);
    if (body.ok()) lease = std::move(*body);
  }
  bool granted = lease && lease->result == protocol::LeaseReply::Result::kGranted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Channel> raylet = PeerLocked(raylet_address);
    if (auto remote = remote_lease_requests_.find(request_id); remote != remote_lease_requests_.end()) {
      remote_lease_requests_.erase(remote);
    }
    if (abandoned_lease_requests_.erase(request_id)) {
      // Its node was declared dead and the request was made again elsewhere;
      // a grant that still arrives is given back.
      if (granted && raylet) {
        uint64_t id = lease->lease_id;
        actions.push_back([raylet, id] {
          (void)raylet->Send(protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{id, false}));
        });
      }
    } else {
      HandleLeaseReplyLocked(class_key, lease, raylet, raylet_address, reply, actions);
    }
  }
  Run(actions);
}

void CoreWorker::HandleLeaseReplyLocked(const std::string& class_key, const std::optional<protocol::LeaseReply>& lease,
                                        const std::shared_ptr<Channel>& raylet, const std::string& raylet_address,
                                        const Result<std::string>& reply, Actions& actions) {
  bool granted = lease && lease->result == protocol::LeaseReply::Result::kGranted;
  {
    SchedulingClass& cls = classes_[class_key];
    if (lease && lease->result == protocol::LeaseReply::Result::kSpillback) {
      // Ask the raylet the plugin chose; the request keeps its place in the count.
      protocol::RequestWorkerLease request = LeaseRequestLocked(cls);
      request.spillbacks = 1;
      SendLeaseRequestLocked(class_key, std::move(request), lease->node_id, lease->spillback_address, actions);
    } else {
      --cls.lease_requests;
      std::shared_ptr<Channel> channel = granted ? PeerLocked(lease->worker_address) : nullptr;
      if (granted && channel && !stopping_) {
        LeasedWorker worker;
        worker.lease_id = lease->lease_id;
        worker.worker_id = lease->worker_id;
        worker.address = lease->worker_address;
        worker.pid = lease->worker_pid;
        worker.node_id = lease->node_id;
        worker.channel = channel;
        worker.raylet = raylet;
        worker.idle_since = std::chrono::steady_clock::now();
        cls.workers[lease->lease_id] = std::move(worker);
        DispatchLocked(class_key, actions);
      } else if (granted && raylet) {
        uint64_t id = lease->lease_id;
        actions.push_back([raylet, id] {
          (void)raylet->Send(protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{id, false}));
        });
      } else if (!granted) {
        // The raylet could not start a worker (or refused): every queued
        // task of this class fails with the reason rather than waiting forever.
        ErrorInfo::Kind kind = lease && lease->result == protocol::LeaseReply::Result::kInfeasible
                                   ? ErrorInfo::Kind::kUnschedulable
                                   : ErrorInfo::Kind::kRuntime;
        std::string reason = lease ? lease->reason
                                   : "cannot get a worker lease from the raylet at " + raylet_address + ": " +
                                         (reply.ok() ? "malformed reply" : reply.status().message());
        std::deque<TaskId> queue;
        queue.swap(cls.queue);
        for (const TaskId& task_id : queue) {
          auto task = tasks_.find(task_id);
          if (task == tasks_.end()) continue;
          std::string where = "task " + task->second.spec.function;
          std::string message = kind == ErrorInfo::Kind::kUnschedulable
                                    ? "task " + task->second.spec.function + " demands " +
                                          task->second.spec.resources.ToJson() + ", which no node can provide: " +
                                          reason
                                    : reason;
          CompleteTaskLocked(task_id, ErrorValue(kind, message, where), actions);
        }
      }
    }
  }
}

void CoreWorker::WatchNodesLocked(Actions& actions) {
  if (watching_nodes_) return;
  watching_nodes_ = true;
  actions.push_back([this] {
    auto reply = gcs_->CallSync(protocol::Encode(MessageType::kGetClusterStatus, protocol::GetClusterStatus{}),
                                std::chrono::milliseconds(10000));
    if (!reply.ok()) {
      spdlog::warn("cannot learn the GCS's publisher (node deaths will go unnoticed): {}", reply.status().message());
      return;
    }
    auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
    if (!status.ok()) return;
    auto subscription = transport_->Subscribe(
        status->gcs.publisher_address, {"node"}, [this](const std::string&, std::string payload) {
          auto node = protocol::Decode<protocol::RegisterNode>(payload);
          if (node.ok() && !node->node.alive) OnNodeDead(node->node.node_id, node->node.death_cause);
        });
    if (!subscription.ok()) {
      spdlog::warn("cannot subscribe to node deaths: {}", subscription.status().message());
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    node_subscription_ = std::move(*subscription);
  });
}

void CoreWorker::LoseWorkerLocked(const std::string& class_key, uint64_t lease_id, const std::string& reason,
                                  Actions& actions) {
  SchedulingClass& cls = classes_[class_key];
  auto worker = cls.workers.find(lease_id);
  if (worker == cls.workers.end()) return;
  std::set<TaskId> lost = std::move(worker->second.in_flight);
  cls.workers.erase(worker);
  for (const TaskId& task_id : lost) {
    auto task = tasks_.find(task_id);
    if (task == tasks_.end()) continue;
    protocol::TaskSpec& spec = task->second.spec;
    if (spec.attempt < spec.max_retries) {
      ++spec.attempt;
      spdlog::warn("task {} lost its worker ({}); retry {} of {}", spec.function, reason, spec.attempt,
                   spec.max_retries);
      cls.queue.push_front(task_id);
    } else {
      std::string message = "the worker running task " + spec.function + " died (" + reason + ") after " +
                            std::to_string(spec.max_retries) + " retries";
      CompleteTaskLocked(task_id, ErrorValue(ErrorInfo::Kind::kWorkerCrashed, message), actions);
    }
  }
  DispatchLocked(class_key, actions);
}

void CoreWorker::OnNodeDead(const NodeId& node, const std::string& cause) {
  if (stopping_) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string reason = "its node " + node.Hex().substr(0, 8) + " died: " + cause;
    for (auto& [class_key, cls] : classes_) {
      std::vector<uint64_t> gone;
      for (const auto& [lease_id, worker] : cls.workers) {
        if (worker.node_id == node) gone.push_back(lease_id);
      }
      for (uint64_t lease_id : gone) LoseWorkerLocked(class_key, lease_id, reason, actions);
    }
    // Lease requests waiting at the dead raylet are made again here.
    for (auto it = remote_lease_requests_.begin(); it != remote_lease_requests_.end();) {
      if (it->second.node != node) {
        ++it;
        continue;
      }
      std::string class_key = it->second.class_key;
      abandoned_lease_requests_.insert(it->first);
      it = remote_lease_requests_.erase(it);
      --classes_[class_key].lease_requests;
      DispatchLocked(class_key, actions);
    }
  }
  Run(actions);
}

void CoreWorker::OnPushReply(const TaskId& task_id, int attempt, uint64_t lease_id, Result<std::string> reply) {
  if (stopping_) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto task = tasks_.find(task_id);
    if (task == tasks_.end() || task->second.spec.attempt != attempt) return;  // retried meanwhile
    SchedulingClass& cls = classes_[task->second.class_key];
    auto worker = cls.workers.find(lease_id);
    if (worker != cls.workers.end()) {
      worker->second.in_flight.erase(task_id);
      worker->second.idle_since = std::chrono::steady_clock::now();
    }
    std::string class_key = task->second.class_key;
    if (!reply.ok()) {
      // The worker's death notice from the raylet decides about retries.
      return;
    }
    auto body = protocol::Decode<protocol::PushTaskReply>(*reply);
    if (body.ok() && !body->error) {
      // One long task turns pipelining off at once; short ones turn it back on gradually.
      cls.avg_run_us = cls.avg_run_us < 0 || body->run_us >= kShortTaskMicros
                           ? body->run_us
                           : 0.8 * cls.avg_run_us + 0.2 * body->run_us;
    }
    CompleteTaskLocked(task_id, ReplyValueLocked(body, task->second.spec.return_id), actions);
    DispatchLocked(class_key, actions);
  }
  Run(actions);
}

ObjectValue CoreWorker::ReplyValueLocked(Result<protocol::PushTaskReply>& body, const ObjectId& return_id) {
  if (!body.ok()) return ErrorValue(ErrorInfo::Kind::kRuntime, body.status().message());
  if (body->error) return ObjectValue{nullptr, body->error};
  if (!body->location.valid()) return ValueOf(std::move(body->value));
  auto result = objects_.find(return_id);
  if (result != objects_.end()) {
    result->second.location = body->location;
  } else if (node_objects_) {
    node_objects_->Free(return_id, body->location);  // nobody wants it any more
  }
  return InStoreMark();
}

void CoreWorker::CompleteTaskLocked(const TaskId& task_id, ObjectValue value, Actions& actions) {
  auto task = tasks_.find(task_id);
  if (task == tasks_.end()) return;
  ObjectId return_id = task->second.spec.return_id;
  std::vector<ObjectId> arg_refs = std::move(task->second.arg_refs);
  tasks_.erase(task);
  SetValueLocked(return_id, std::move(value), actions);
  MaybeFreeLocked(return_id);
  for (const ObjectId& ref : arg_refs) {
    auto it = objects_.find(ref);
    if (it == objects_.end()) continue;
    --it->second.task_refs;
    MaybeFreeLocked(ref);
  }
}

void CoreWorker::OnWorkerDied(const protocol::WorkerDied& died) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [class_key, cls] : classes_) {
      auto worker = cls.workers.find(died.lease_id);
      if (worker == cls.workers.end() || worker->second.worker_id != died.worker_id) continue;
      LoseWorkerLocked(class_key, died.lease_id, died.reason, actions);
      break;
    }
  }
  Run(actions);
}

void CoreWorker::ReturnIdleLeases() {
  std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto& [key, cls] : classes_) {
      if (!cls.queue.empty()) continue;
      for (auto it = cls.workers.begin(); it != cls.workers.end();) {
        if (it->second.in_flight.empty() && now - it->second.idle_since > kLeaseIdleTime) {
          idle.emplace_back(it->first, it->second.raylet);
          it = cls.workers.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& [lease, raylet] : idle) {
    if (raylet) (void)raylet->Send(protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, false}));
  }
}

// ---------------------------------------------------------------- serving

void CoreWorker::Handle(std::string message, ReplyFn reply) {
  auto type = protocol::PeekType(message);
  if (!type.ok()) {
    spdlog::error("core worker: dropped a message: {}", type.status().message());
    return;
  }
  switch (*type) {
    case MessageType::kPushTask: {
      auto body = protocol::Decode<protocol::PushTask>(message);
      if (!body.ok() || !reply) break;
      {
        std::lock_guard<std::mutex> lock(exec_mu_);
        exec_queue_.emplace_back(std::move(body->spec), std::move(reply));
      }
      exec_cv_.notify_one();
      return;
    }
    case MessageType::kGetObject: {
      auto body = protocol::Decode<protocol::GetObject>(message);
      if (!body.ok() || !reply) break;
      ObjectId id = body->object_id;
      auto answer = [this, id, reply] {
        protocol::GetObjectReply out;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = objects_.find(id);
          if (it != objects_.end() && it->second.value) {
            out.found = true;
            if (it->second.value->error) {
              out.error = it->second.value->error;
            } else if (IsInStoreMark(*it->second.value)) {
              out.location = it->second.location;
            } else {
              out.value = std::string(View(*it->second.value));
            }
          }
        }
        reply(protocol::Encode(MessageType::kGetObjectReply, out));
      };
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = objects_.find(id);
        if (it != objects_.end() && !it->second.value) {
          it->second.on_ready.push_back(answer);  // answered when the value comes in
          return;
        }
      }
      answer();
      return;
    }
    case MessageType::kWorkerDied: {
      auto body = protocol::Decode<protocol::WorkerDied>(message);
      if (!body.ok()) break;
      OnWorkerDied(*body);
      return;
    }
    case MessageType::kLeaseWarning: {
      auto body = protocol::Decode<protocol::LeaseWarning>(message);
      if (!body.ok()) break;
      // Ray prints the same warning for a task that no node can run.
      spdlog::warn("{}", body->message);
      std::cerr << "rayk: warning: " << body->message << std::endl;
      return;
    }
    case MessageType::kExitWorker:
      RequestExit();
      if (reply) reply(protocol::Encode(MessageType::kAck, protocol::Empty{}));
      return;
    default:
      spdlog::error("core worker: unexpected message type {}", static_cast<int>(*type));
      return;
  }
  spdlog::error("core worker: dropped a malformed message of type {}", static_cast<int>(*type));
}

// ---------------------------------------------------------------- executing

void CoreWorker::RequestExit() {
  {
    std::lock_guard<std::mutex> lock(exec_mu_);
    exit_requested_ = true;
  }
  exec_cv_.notify_all();
}

void CoreWorker::RunTaskLoop() {
  ExecuteLoop();
  for (std::thread& thread : extra_executors_) thread.join();
}

void CoreWorker::ExecuteLoop() {
  pid_t parent = getppid();
  while (true) {
    std::pair<protocol::TaskSpec, ReplyFn> next;
    {
      std::unique_lock<std::mutex> lock(exec_mu_);
      // Wake now and then to notice a raylet that died without telling us.
      exec_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return exit_requested_ || !exec_queue_.empty(); });
      if (exit_requested_) return;
      if (exec_queue_.empty()) {
        if (getppid() != parent) {
          spdlog::error("worker: the raylet (pid {}) is gone; exiting", parent);
          RequestExit();
          return;
        }
        continue;
      }
      next = std::move(exec_queue_.front());
      exec_queue_.pop_front();
    }
    Execute(std::move(next.first), std::move(next.second));
    if (exit_after_task_) {
      // rayk::ExitActor(): the GCS records that the actor must not restart;
      // the process then ends, and the raylet's notice of that makes it
      // DEAD. Ending only after the reply is out means the call that exited
      // still gets its result.
      protocol::KillActor kill{actor_id_, true, "the actor called rayk::ExitActor()", true};
      (void)gcs_->CallSync(protocol::Encode(MessageType::kKillActor, kill));
      std::this_thread::sleep_for(kReplyFlushTime);
      RequestExit();
      return;
    }
  }
}

void CoreWorker::Execute(protocol::TaskSpec spec, ReplyFn reply) {
  std::string where = "task " + spec.function + " on node " + options_.node_id.Hex().substr(0, 8) +
                      ", worker pid " + std::to_string(getpid());
  protocol::PushTaskReply out;
  const internal::RegisteredFunction* function = internal::FunctionRegistry::Instance().Find(spec.function);
  std::vector<std::string_view> args;
  std::vector<std::shared_ptr<const ObjectBuffer>> held;  // store arguments, read in place during the call
  args.reserve(spec.args.size());
  for (const internal::TaskArg& arg : spec.args) {
    if (!arg.location.valid()) {
      args.emplace_back(arg.value);
      continue;
    }
    Result<std::shared_ptr<const ObjectBuffer>> buffer = Status::Unavailable("not read");
    if (node_objects_) {
      buffer = node_objects_->Get(arg.ref, arg.location);
    } else if (auto bytes = ReadObjectFromNode(*transport_, arg.ref, arg.location); bytes.ok()) {
      buffer = ValueOf(std::move(*bytes)).data;
    } else {
      buffer = bytes.status();
    }
    if (!buffer.ok()) {
      out.error = ErrorInfo{ErrorInfo::Kind::kObjectLost, "",
                            "an argument of " + spec.function + " is lost: " + buffer.status().message(), where};
      reply(protocol::Encode(MessageType::kPushTaskReply, out));
      return;
    }
    held.push_back(*buffer);
    args.emplace_back(reinterpret_cast<const char*>(held.back()->data()), held.back()->size());
  }
  if (function != nullptr && spec.creates_actor) {
    internal::ActorCreateResult created;
    if (function->create) {
      created = function->create(args);
    } else {
      created.error = ErrorInfo{ErrorInfo::Kind::kRuntime, "", spec.function + " is not an actor factory", ""};
    }
    if (created.error) {
      out.error = std::move(created.error);
      if (out.error->where.empty()) out.error->where = where;
    } else {
      actor_instance_ = std::move(created.instance);
      actor_id_ = spec.actor_id;
      // A threaded actor: more executors take calls from the same queue.
      for (int i = 1; i < spec.max_concurrency; ++i) extra_executors_.emplace_back([this] { ExecuteLoop(); });
    }
    reply(protocol::Encode(MessageType::kPushTaskReply, out));
    return;
  }
  if (function != nullptr && !spec.actor_id.IsNil()) {
    if (!actor_instance_ || spec.actor_id != actor_id_ || !function->invoke_method) {
      out.error = ErrorInfo{ErrorInfo::Kind::kRuntime, "",
                            "this worker does not host actor " + spec.actor_id.Hex() + " or " + spec.function +
                                " is not one of its methods",
                            where};
    } else {
      executing_ = true;
      internal::InvokeResult result = function->invoke_method(actor_instance_.get(), args);
      executing_ = false;
      if (result.error) {
        out.error = std::move(result.error);
        if (out.error->where.empty()) out.error->where = where;
      } else {
        out.value = std::move(result.value);
        StoreLargeResult(spec.return_id, out);
      }
    }
    reply(protocol::Encode(MessageType::kPushTaskReply, out));
    return;
  }
  if (function == nullptr) {
    ErrorInfo error;
    error.kind = ErrorInfo::Kind::kRuntime;
    error.message = "function '" + spec.function + "' is not registered in the job's libraries (" +
                    std::to_string(options_.code_libraries.size()) + " loaded); list it in RAYK_REMOTE(...)";
    error.where = where;
    out.error = error;
  } else {
    executing_ = true;
    auto started = std::chrono::steady_clock::now();
    internal::InvokeResult result = function->invoke(args);
    out.run_us = static_cast<uint32_t>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count(),
        UINT32_MAX));
    executing_ = false;
    if (result.error) {
      out.error = std::move(result.error);
      if (out.error->where.empty()) out.error->where = where;
    } else {
      out.value = std::move(result.value);
      StoreLargeResult(spec.return_id, out);
    }
  }
  reply(protocol::Encode(MessageType::kPushTaskReply, out));
}

void CoreWorker::StoreLargeResult(const ObjectId& return_id, protocol::PushTaskReply& out) {
  if (!node_objects_ || out.value.size() <= kInlineLimit) return;
  auto stored = node_objects_->Put(return_id, out.value);
  if (!stored.ok()) {
    // A retried task finds its earlier result there: it is the same value.
    if (stored.status().code() == StatusCode::kAlreadyExists) {
      out.location = {node_objects_->node(), options_.raylet_address, out.value.size()};
      out.value.clear();
      return;
    }
    if (stored.status().code() == StatusCode::kOutOfMemory) {
      out.error = ErrorInfo{ErrorInfo::Kind::kObjectStoreFull, "",
                            "its " + std::to_string(out.value.size()) + "-byte result: " + stored.status().message(),
                            "node " + options_.node_id.Hex().substr(0, 8)};
      out.value.clear();
      return;
    }
    spdlog::warn("a {}-byte result travels inline: {}", out.value.size(), stored.status().message());
    return;
  }
  out.location = *stored;
  out.value.clear();
}

void CoreWorker::ExitActor() { exit_after_task_ = true; }

// ---------------------------------------------------------------- cluster

Result<std::vector<NodeView>> CoreWorker::Nodes() {
  auto reply = gcs_->CallSync(protocol::Encode(MessageType::kGetClusterStatus, protocol::GetClusterStatus{}));
  if (!reply.ok()) return reply.status();
  auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
  if (!status.ok()) return status.status();
  std::vector<NodeView> nodes;
  for (const protocol::NodeInfo& node : status->nodes) nodes.push_back(protocol::ToNodeView(node));
  return nodes;
}

// ---------------------------------------------------------------- KV

Result<bool> CoreWorker::KvPut(const std::string& key, const std::string& value,
                               const std::string& ns, bool overwrite) {
  auto reply = CallKv(*gcs_, MessageType::kKvPut,
                      {.ns = ns, .key = key, .value = value, .overwrite = overwrite});
  if (!reply.ok()) return reply.status();
  return reply->found;
}

Result<std::optional<std::string>> CoreWorker::KvGet(const std::string& key,
                                                     const std::string& ns) {
  auto reply = CallKv(*gcs_, MessageType::kKvGet, {.ns = ns, .key = key});
  if (!reply.ok()) return reply.status();
  if (!reply->found) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply->value));
}

Result<bool> CoreWorker::KvDelete(const std::string& key, const std::string& ns) {
  auto reply = CallKv(*gcs_, MessageType::kKvDelete, {.ns = ns, .key = key});
  if (!reply.ok()) return reply.status();
  return reply->found;
}

Result<std::vector<std::string>> CoreWorker::KvList(const std::string& prefix,
                                                    const std::string& ns) {
  auto reply = CallKv(*gcs_, MessageType::kKvList, {.ns = ns, .key = prefix});
  if (!reply.ok()) return reply.status();
  return std::move(reply->keys);
}

// ---------------------------------------------------------------- actors

Result<protocol::ActorInfo> CoreWorker::QueryActor(const protocol::GetActor& request) {
  auto reply = gcs_->CallSync(protocol::Encode(MessageType::kGetActor, request));
  if (!reply.ok()) return Status::Unavailable("the GCS did not answer about an actor: " + reply.status().message());
  return protocol::Decode<protocol::ActorInfo>(*reply);
}

Result<ActorId> CoreWorker::CreateActor(internal::ActorCreation creation) {
  protocol::ActorSpec spec;
  spec.actor_id = ActorId::FromRandom();
  spec.job_id = options_.job_id;
  spec.factory = std::move(creation.factory);
  spec.class_name = std::move(creation.class_name);
  spec.name = creation.options.name;
  spec.resources = creation.options.resources;
  spec.max_restarts = creation.options.max_restarts;
  spec.max_task_retries = creation.options.max_task_retries;
  spec.max_concurrency = std::max(1, creation.options.max_concurrency);
  spec.detached = creation.options.detached;
  spec.placement = creation.options.placement;
  spec.owner_address = address();
  spec.code_libraries = options_.code_libraries;
  // The GCS re-runs the factory on restarts, so it keeps the arguments' values.
  for (internal::TaskArg& arg : creation.args) {
    if (arg.is_ref) {
      auto values = Get({arg.ref}, std::chrono::milliseconds(-1));
      if (!values.ok()) return values.status();
      const internal::ObjectValue& value = (*values)[0];
      if (value.error) {
        return Status::InvalidArgument("an argument of actor " + spec.class_name + " failed: " + value.error->message);
      }
      arg.value = std::string(View(value));
      arg.is_ref = false;
    }
    spec.args.push_back(std::move(arg));
  }
  auto reply = gcs_->CallSync(protocol::Encode(MessageType::kRegisterActor, protocol::RegisterActor{spec}));
  if (!reply.ok()) return Status::Unavailable("cannot register the actor with the GCS: " + reply.status().message());
  auto status = protocol::Decode<protocol::StatusReply>(*reply);
  if (!status.ok()) return status.status();
  if (!status->ok) return status->ToStatus();
  return spec.actor_id;
}

Result<internal::NamedActor> CoreWorker::GetNamedActor(const std::string& name) {
  protocol::GetActor request;
  request.name = name;
  auto info = QueryActor(request);
  if (!info.ok()) return info.status();
  if (info->actor_id.IsNil()) return Status::NotFound("no actor named '" + name + "' in this cluster");
  return internal::NamedActor{info->actor_id, info->class_name};
}

Status CoreWorker::KillActor(const ActorId& actor, bool no_restart) {
  protocol::KillActor kill{actor, no_restart, ""};
  auto reply = gcs_->CallSync(protocol::Encode(MessageType::kKillActor, kill));
  if (!reply.ok()) return Status::Unavailable("the GCS did not answer the kill: " + reply.status().message());
  auto status = protocol::Decode<protocol::StatusReply>(*reply);
  if (!status.ok()) return status.status();
  if (!status->ok) return status->ToStatus();
  // The killer knows at once: its later calls fail (or, with a restart, wait
  // for the new process) instead of racing the old process's end.
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ActorClient& client = actor_clients_[actor];
    if (no_restart) {
      client.state = ActorClient::State::kDead;
      client.death_cause = "killed through its handle (ActorHandle::Kill)";
    } else {
      client.state = ActorClient::State::kUnknown;  // re-resolved through the GCS
      client.channel = nullptr;
    }
    std::deque<TaskId> in_flight;
    in_flight.swap(client.in_flight);
    for (const TaskId& task_id : in_flight) {
      CompleteTaskLocked(task_id,
                         ErrorValue(ErrorInfo::Kind::kActorDied, "actor " + actor.Hex().substr(0, 8) +
                                                                     " was killed while running this call"),
                         actions);
    }
    SendActorTasksLocked(actor, actions);
  }
  Run(actions);
  return Status::Ok();
}

Result<std::vector<protocol::ActorInfo>> CoreWorker::ListActors() {
  auto reply = gcs_->CallSync(protocol::Encode(MessageType::kListActors, protocol::Empty{}));
  if (!reply.ok()) return reply.status();
  auto list = protocol::Decode<protocol::ActorList>(*reply);
  if (!list.ok()) return list.status();
  return std::move(list->actors);
}

ObjectId CoreWorker::SubmitActorTask(const ActorId& actor, std::string method, std::vector<internal::TaskArg> args) {
  PendingTask task;
  task.spec.actor_id = actor;
  task.spec.function = std::move(method);
  task.spec.args = std::move(args);
  return Submit(std::move(task));
}

void CoreWorker::SendActorTasksLocked(const ActorId& actor, Actions& actions) {
  ActorClient& client = actor_clients_[actor];
  if (client.state == ActorClient::State::kUnknown) {
    ResolveActorLocked(actor, actions);
    return;
  }
  if (client.state == ActorClient::State::kDead) {
    std::deque<TaskId> queue;
    queue.swap(client.queue);
    for (const TaskId& task_id : queue) {
      CompleteTaskLocked(task_id, ErrorValue(ErrorInfo::Kind::kActorDied, "actor " + actor.Hex().substr(0, 8) +
                                                                               " is dead: " + client.death_cause),
                         actions);
    }
    return;
  }
  if (client.state != ActorClient::State::kAlive) return;
  while (!client.queue.empty()) {
    auto task = tasks_.find(client.queue.front());
    if (task == tasks_.end()) {  // failed meanwhile (a dependency failed)
      client.queue.pop_front();
      continue;
    }
    if (task->second.unresolved > 0) break;
    client.queue.pop_front();
    client.in_flight.push_back(task->first);
    client.outbox.push_back({task->first, {task->second.spec.attempt,
                                           protocol::Encode(MessageType::kPushTask, protocol::PushTask{task->second.spec})}});
  }
  if (!client.outbox.empty()) actions.push_back([this, actor] { FlushActorOutbox(actor); });
}

void CoreWorker::FlushActorOutbox(const ActorId& actor) {
  std::shared_ptr<std::mutex> send_mu;
  {
    std::lock_guard<std::mutex> lock(mu_);
    send_mu = actor_clients_[actor].send_mu;
  }
  std::lock_guard<std::mutex> sending(*send_mu);
  std::deque<std::pair<TaskId, std::pair<int, std::string>>> outbox;
  std::shared_ptr<Channel> channel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ActorClient& client = actor_clients_[actor];
    outbox.swap(client.outbox);
    channel = client.channel;
  }
  if (!channel) return;
  for (auto& [task_id, attempt_and_message] : outbox) {
    int attempt = attempt_and_message.first;
    TaskId id = task_id;
    channel->Call(std::move(attempt_and_message.second),
                  [this, actor, id, attempt](Result<std::string> reply) {
                    OnActorReply(actor, id, attempt, std::move(reply));
                  },
                  kForever);
  }
}

void CoreWorker::ResolveActorLocked(const ActorId& actor, Actions& actions) {
  actor_clients_[actor].state = ActorClient::State::kResolving;
  protocol::GetActor request;
  request.actor_id = actor;
  request.wait = protocol::GetActor::Wait::kUntilSettled;
  actions.push_back([this, actor, message = protocol::Encode(MessageType::kGetActor, request)] {
    gcs_->Call(message, [this, actor](Result<std::string> reply) { OnActorInfo(actor, false, std::move(reply)); });
  });
}

std::string CoreWorker::WatchActorMessage(const ActorId& actor, uint64_t epoch) {
  protocol::GetActor request;
  request.actor_id = actor;
  request.wait = protocol::GetActor::Wait::kUntilChanged;
  request.epoch = epoch;
  return protocol::Encode(MessageType::kGetActor, request);
}

void CoreWorker::OnActorInfo(const ActorId& actor, bool watch, Result<std::string> reply, bool deferred) {
  if (stopping_) return;
  if (watch && !deferred && reply.ok()) {
    // A death notice travels GCS -> here while the actor's last replies
    // travel actor -> here on another connection: give those replies a
    // moment to land before calls still in flight are declared lost.
    std::lock_guard<std::mutex> lock(mu_);
    deferred_actor_infos_.push_back({std::chrono::steady_clock::now() + kDeathNoticeGrace, actor, *reply});
    return;
  }
  std::optional<protocol::ActorInfo> info;
  if (reply.ok()) {
    auto body = protocol::Decode<protocol::ActorInfo>(*reply);
    if (body.ok()) info = std::move(*body);
  }
  std::shared_ptr<Channel> channel;
  if (info && info->state == protocol::ActorState::kAlive && !watch) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& peer = peers_[info->address];
    if (!peer) {
      auto connected = transport_->Connect(info->address);
      if (connected.ok()) peer = std::move(*connected);
    }
    channel = peer;
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ActorClient& client = actor_clients_[actor];
    auto fail_in_flight = [&](const std::string& why) {
      // Calls the dead process was running: retried (in order) while
      // max_task_retries allows, else failed.
      for (auto it = client.in_flight.rbegin(); it != client.in_flight.rend(); ++it) {
        auto task = tasks_.find(*it);
        if (task == tasks_.end()) continue;
        if (task->second.spec.attempt < client.max_task_retries) {
          ++task->second.spec.attempt;
          client.queue.push_front(*it);
        } else {
          CompleteTaskLocked(*it, ErrorValue(ErrorInfo::Kind::kActorDied, why), actions);
        }
      }
      client.in_flight.clear();
    };
    if (watch && info && !info->actor_id.IsNil() && info->epoch <= client.epoch &&
        info->state != protocol::ActorState::kDead) {
      // The poll ran out with no change (or a restarted GCS answered it): ask
      // again, unless a newer watch or the handle's end has taken over.
      if (info->epoch != client.epoch || client.state != ActorClient::State::kAlive) return;
      actions.push_back([this, actor, message = WatchActorMessage(actor, client.epoch)] {
        gcs_->Call(message, [this, actor](Result<std::string> r) { OnActorInfo(actor, true, std::move(r)); });
      });
      Run(actions);
      return;
    }
    if (!info || info->actor_id.IsNil()) {
      client.state = ActorClient::State::kDead;
      client.death_cause = info ? "the GCS does not know it (a GCS on the volatile 'memory' gcs plugin forgets its "
                                  "actors when it restarts; use [gcs] plugin = \"sqlite\" to keep them)"
                                : "the GCS did not answer (" + reply.status().message() + ")";
      fail_in_flight("actor " + actor.Hex().substr(0, 8) + " is unreachable: " + client.death_cause);
    } else if (watch) {
      std::string cause = info->state == protocol::ActorState::kDead ? info->death_cause : "its process died and it is restarting";
      fail_in_flight("actor " + info->class_name + " " + actor.Hex().substr(0, 8) + " died while running this call: " +
                     cause);
      if (info->state == protocol::ActorState::kDead) {
        client.state = ActorClient::State::kDead;
        client.death_cause = info->death_cause;
      } else {
        client.state = ActorClient::State::kUnknown;
      }
    } else if (info->state == protocol::ActorState::kDead) {
      client.state = ActorClient::State::kDead;
      client.death_cause = info->death_cause;
      fail_in_flight("actor " + info->class_name + " " + actor.Hex().substr(0, 8) + " is dead: " + info->death_cause);
    } else if (info->state == protocol::ActorState::kAlive && channel) {
      client.state = ActorClient::State::kAlive;
      client.epoch = info->epoch;
      client.max_task_retries = info->max_task_retries;
      client.channel = channel;
      // Watch for the next change (death or restart) of this incarnation.
      actions.push_back([this, actor, message = WatchActorMessage(actor, info->epoch)] {
        gcs_->Call(message, [this, actor](Result<std::string> r) { OnActorInfo(actor, true, std::move(r)); });
      });
    } else {
      client.state = ActorClient::State::kUnknown;
    }
    SendActorTasksLocked(actor, actions);
  }
  Run(actions);
}

void CoreWorker::HandleDeferredActorInfos() {
  std::vector<DeferredActorInfo> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto it = deferred_actor_infos_.begin(); it != deferred_actor_infos_.end();) {
      if (it->due <= now) {
        due.push_back(std::move(*it));
        it = deferred_actor_infos_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (DeferredActorInfo& info : due) OnActorInfo(info.actor, true, std::move(info.reply), /*deferred=*/true);
}

void CoreWorker::OnActorReply(const ActorId& actor, const TaskId& task_id, int attempt, Result<std::string> reply) {
  if (stopping_ || !reply.ok()) return;  // a lost call is settled by the actor's watch
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto task = tasks_.find(task_id);
    if (task == tasks_.end() || task->second.spec.attempt != attempt) return;
    ActorClient& client = actor_clients_[actor];
    auto it = std::find(client.in_flight.begin(), client.in_flight.end(), task_id);
    if (it != client.in_flight.end()) client.in_flight.erase(it);
    auto body = protocol::Decode<protocol::PushTaskReply>(*reply);
    CompleteTaskLocked(task_id, ReplyValueLocked(body, task->second.spec.return_id), actions);
  }
  Run(actions);
}

void CoreWorker::SetBlocked(bool blocked) {
  if (options_.is_driver || !executing_) return;
  // Nested Gets inside one task block once.
  int depth = blocked ? blocked_depth_++ : --blocked_depth_;
  if (depth != 0) return;
  protocol::WorkerBlockState state{options_.worker_id};
  (void)raylet_->CallSync(
      protocol::Encode(blocked ? MessageType::kWorkerBlocked : MessageType::kWorkerUnblocked, state),
      kControlTimeout);
}

}  // namespace rayk
