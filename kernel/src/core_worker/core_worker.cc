#include "core_worker/core_worker.h"

#include <unistd.h>

#include <chrono>

#include "common/host_address.h"
#include "job_code/code_shipper.h"

namespace rayk {

using protocol::MessageType;

CoreWorker::CoreWorker(Options options, std::shared_ptr<Transport> transport)
    : context_(std::move(options), std::move(transport)),
      references_(context_, [this](bool blocked) { executor_.SetBlocked(blocked); }),
      tasks_(context_, references_,
             [this](const TaskId& task_id, const PendingTask& task, Actions& actions) {
               if (task.spec.actor_id.IsNil()) {
                 task_submitter_.TaskReadyLocked(task_id, task, actions);
               } else {
                 actor_submitter_.SendActorTasksLocked(task.spec.actor_id, actions);
               }
             }),
      streams_(context_, references_, [this](bool blocked) { executor_.SetBlocked(blocked); }),
      task_submitter_(context_, tasks_),
      actor_submitter_(context_, references_, tasks_),
      executor_(context_) {
  tasks_.SetCurrentTaskFn(&TaskExecutor::CurrentTaskId);
  executor_.SetCancelChildren(
      [this](const TaskId& parent, bool force) { CancelChildren(parent, force); });
  executor_.SetHandOverResults(
      [this](const std::string& caller) {
        return references_.HandOverSerializedReferences(caller);
      },
      [this] { references_.DropSerializedReferences(); });
}

Result<std::unique_ptr<CoreWorker>> CoreWorker::Start(Options options,
                                                      std::shared_ptr<Transport> transport) {
  std::unique_ptr<CoreWorker> worker(new CoreWorker(std::move(options), std::move(transport)));
  Status connected = worker->Connect();
  if (!connected.ok()) return connected;
  CoreWorker* self = worker.get();
  worker->reaper_ = std::thread([self] {
    while (!self->context_.stopping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      self->task_submitter_.ReturnIdleLeases();
      self->references_.RecheckFetchedOwners();
      self->task_submitter_.FollowGcs();
      self->references_.FollowGcs();
      self->actor_submitter_.HandleDeferredActorInfos();
      self->actor_submitter_.FlushHeldCalls();
    }
  });
  Status registered = worker->Register();
  if (!registered.ok()) return registered;
  return worker;
}

Status CoreWorker::Connect() {
  auto raylet = context_.transport->Connect(context_.options.raylet_address);
  if (!raylet.ok()) return raylet.status();
  context_.raylet = std::move(*raylet);
  auto gcs = GcsClient::Connect(*context_.transport, context_.options.gcs_address);
  if (!gcs.ok()) return gcs.status();
  context_.gcs = std::move(*gcs);
  if (context_.options.store && context_.options.store->SharedByTheNode()) {
    context_.node_objects = std::make_unique<NodeObjects>(
        context_.options.store, context_.options.node_id, context_.options.raylet_address,
        context_.raylet, context_.transport);
  }
  MessageHandler handler = [this](std::string m, ReplyFn r) { Handle(std::move(m), std::move(r)); };
  auto server =
      context_.options.ports.any()
          ? context_.transport->Serve(context_.options.endpoint, std::move(handler))
          : ServeInPortRange(*context_.transport, HostOfAddress(context_.options.endpoint),
                             context_.options.ports, std::move(handler));
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  context_.address = server_->endpoint();
  if (context_.node_objects) context_.node_objects->SetSelf(context_.address);
  return Status::Ok();
}

Status CoreWorker::Register() {
  const Options& options = context_.options;
  if (options.is_driver) {
    protocol::RegisterJob job;
    job.job.job_id = options.job_id;
    job.job.driver_pid = getpid();
    job.job.driver_address = address();
    // The job's code goes to the GCS first: raylets start its workers
    // with nothing else (job_code/).
    auto code = ShipJobCode(*context_.gcs, options.code_libraries);
    if (!code.ok()) return code.status();
    job.job.code_libraries = std::move(*code);
    job.job.namespace_name = context_.options.namespace_name;
    job.job.start_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kRegisterJob, job));
    if (!reply.ok()) {
      return Status::Unavailable("cannot register the job with the GCS at " + options.gcs_address +
                                 ": " + reply.status().message());
    }
    auto ack = protocol::Decode<protocol::Empty>(*reply);
    if (!ack.ok()) {
      return Status(ack.status().code(), "the GCS refused the job: " + ack.status().message());
    }
    // Watched by its raylet from now on: should this process die before it
    // leases a worker, its job (its actors) still ends.
    (void)context_.raylet->Send(
        protocol::Encode(MessageType::kWatchDriver,
                         protocol::WatchDriver{options.job_id, getpid(), context_.host_name}));
    return Status::Ok();
  }
  protocol::RegisterWorker registration{options.worker_id, address(), getpid()};
  auto reply = context_.raylet->CallSync(
      protocol::Encode(MessageType::kRegisterWorker, registration), kControlTimeout);
  if (!reply.ok()) {
    return Status::Unavailable("worker cannot register with its raylet at " +
                               options.raylet_address + ": " + reply.status().message());
  }
  return Status::Ok();
}

CoreWorker::~CoreWorker() {
  context_.stopping = true;
  if (reaper_.joinable()) reaper_.join();
  task_submitter_.ReturnAllLeases();
  references_.StopWatchingOwners();
  group_calls_.SettleAll(std::chrono::milliseconds(2000));
  if (context_.options.is_driver && context_.gcs && context_.raylet) {
    protocol::FinishJob finish{context_.options.job_id};
    (void)context_.gcs->CallSync(protocol::Encode(MessageType::kFinishJob, finish),
                                 std::chrono::milliseconds(2000));
    (void)context_.raylet->CallSync(protocol::Encode(MessageType::kFinishJob, finish),
                                    std::chrono::milliseconds(2000));
  }
  context_.task_events.Stop();  // the last events, before the GCS client goes
  server_.reset();
  // Closing a channel completes its pending calls (with kUnavailable) on its
  // own thread; those callbacks see `stopping` and touch nothing.
  context_.peers.Clear();
  context_.raylet.reset();
  context_.gcs.reset();
}

// ---------------------------------------------------------------- objects

ObjectId CoreWorker::Put(std::string data) { return references_.Put(std::move(data)); }

std::unique_ptr<internal::ObjectSpace> CoreWorker::CreateObject(size_t size) {
  return references_.CreateObject(size);
}

ObjectId CoreWorker::SealObject(std::unique_ptr<internal::ObjectSpace> space) {
  return references_.SealObject(std::move(space));
}

Result<std::vector<internal::ObjectValue>> CoreWorker::Get(const std::vector<ObjectId>& ids,
                                                           std::chrono::milliseconds timeout) {
  return references_.Get(ids, timeout);
}

std::vector<bool> CoreWorker::Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                                   std::chrono::milliseconds timeout) {
  return references_.Wait(ids, num_returns, timeout);
}

void CoreWorker::AddLocalReference(const ObjectId& id) { references_.AddLocalReference(id); }

void CoreWorker::RemoveLocalReference(const ObjectId& id) { references_.RemoveLocalReference(id); }

std::string CoreWorker::OwnerAddress(const ObjectId& id) { return references_.OwnerAddress(id); }

void CoreWorker::AddBorrowedReference(const ObjectId& id, const std::string& owner_address) {
  references_.AddBorrowedReference(id, owner_address);
}

size_t CoreWorker::NumObjects() { return references_.NumObjects(); }

size_t CoreWorker::NumBorrowers(const ObjectId& id) { return references_.NumBorrowers(id); }

// ---------------------------------------------------------------- tasks and actors

ObjectId CoreWorker::SubmitTask(internal::TaskCall call) {
  call.options.num_returns = 0;
  return task_submitter_.SubmitTask(std::move(call))[0];
}

std::vector<ObjectId> CoreWorker::SubmitSplitTask(internal::TaskCall call) {
  return task_submitter_.SubmitTask(std::move(call));
}

ObjectId CoreWorker::SubmitStreamingTask(internal::TaskCall call) {
  call.options.num_returns = 0;
  call.options.streaming = true;
  return SubmitStreaming(call.options.generator_backpressure, [&](const auto& on_added) {
    return task_submitter_.SubmitTask(std::move(call), on_added);
  });
}

ObjectId CoreWorker::SubmitStreaming(uint64_t window, const SubmitFn& submit) {
  ObjectId stream =
      submit([&](const PendingTask& task) { streams_.AddLocked(task.spec.return_id, window); })[0];
  // Next learns of the end from the end object's value.
  (void)references_.WhenReady({stream}, [this] { streams_.OnEnd(); });
  return stream;
}

Result<std::optional<ObjectId>> CoreWorker::NextStreamItem(const ObjectId& stream,
                                                           std::chrono::milliseconds timeout) {
  return streams_.Next(stream, timeout);
}

void CoreWorker::CloseStream(const ObjectId& stream) {
  streams_.Close(stream);
  // A call not yet at a worker never runs; a running one is marked
  // cancelled, and stops at its next co_yield on the `stop` ack anyway.
  (void)Cancel(stream, /*force=*/false, /*recursive=*/true);
  RemoveLocalReference(stream);
}

Result<ActorId> CoreWorker::CreateActor(internal::ActorCreation creation) {
  if (!creation.options.name.empty() && creation.options.namespace_name.empty()) {
    auto job_namespace = JobNamespace();
    if (!job_namespace.ok()) {
      references_.DropSerializedReferences();  // the arguments go nowhere
      return job_namespace.status();
    }
    creation.options.namespace_name = *job_namespace;
  }
  return actor_submitter_.CreateActor(std::move(creation));
}

ObjectId CoreWorker::SubmitActorTask(internal::ActorCall call) {
  call.num_returns = 0;
  call.streaming = false;
  return actor_submitter_.SubmitActorTask(std::move(call))[0];
}

std::vector<ObjectId> CoreWorker::SubmitSplitActorTask(internal::ActorCall call) {
  call.streaming = false;
  return actor_submitter_.SubmitActorTask(std::move(call));
}

ObjectId CoreWorker::SubmitStreamingActorTask(internal::ActorCall call) {
  call.num_returns = 0;
  call.streaming = true;
  return SubmitStreaming(call.generator_backpressure, [&](const auto& on_added) {
    return actor_submitter_.SubmitActorTask(std::move(call), on_added);
  });
}

Result<std::string> CoreWorker::JobNamespace() {
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (!context_.options.namespace_name.empty()) return context_.options.namespace_name;
    if (!job_namespace_.empty()) return job_namespace_;
  }
  // A worker: its job's, which the driver registered with the GCS.
  auto reply = context_.gcs->CallSync(
      protocol::Encode(MessageType::kGetJob, protocol::GetJob{context_.options.job_id}));
  if (!reply.ok()) {
    return Status::Unavailable("cannot ask the GCS for this job's namespace: " +
                               reply.status().message());
  }
  auto job = protocol::Decode<protocol::JobReply>(*reply);
  if (!job.ok()) return job.status();
  if (!job->found) {
    return Status::NotFound("the GCS does not know job " + context_.options.job_id.Hex() +
                            ", so its namespace is unknown");
  }
  std::lock_guard<std::mutex> lock(context_.mu);
  job_namespace_ = job->job.namespace_name;
  return job_namespace_;
}

Result<internal::NamedActor> CoreWorker::GetNamedActor(const std::string& name,
                                                       const std::string& ns) {
  if (!ns.empty()) return actor_submitter_.GetNamedActor(name, ns);
  auto job_namespace = JobNamespace();
  if (!job_namespace.ok()) return job_namespace.status();
  return actor_submitter_.GetNamedActor(name, *job_namespace);
}

// ---------------------------------------------------------------- cancellation

Status CoreWorker::Cancel(const ObjectId& id, bool force, bool recursive) {
  std::string owner;
  Actions actions;
  Status status;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    TaskId task_id = tasks_.TaskMakingLocked(id);
    if (!task_id.IsNil()) {
      status = CancelOwnedLocked(task_id, force, recursive, actions);
    } else if (const ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id);
               entry != nullptr && !entry->owned && !entry->owner_address.empty()) {
      owner = entry->owner_address;  // borrowed: its owner cancels it
    } else if (entry == nullptr) {
      status = Status::NotFound("object " + id.Hex() +
                                " is not known to this process (its ObjectRef was released?)");
    }
    // Else owned and no task makes it: the task finished, or it was Put;
    // nothing to cancel, as in Ray.
  }
  RunActions(actions);
  if (!status.ok() || owner.empty()) return status;
  auto channel = context_.Connect(owner);
  if (!channel.ok()) return channel.status();
  protocol::CancelTask cancel{id, TaskId(), force, recursive, false};
  auto reply =
      (*channel)->CallSync(protocol::Encode(MessageType::kCancelTask, cancel), kControlTimeout);
  if (!reply.ok()) {
    return Status::Unavailable("cannot reach the owner of object " + id.Hex() + " at " + owner +
                               ": " + reply.status().message());
  }
  auto body = protocol::Decode<protocol::StatusReply>(*reply);
  if (!body.ok()) return body.status();
  return body->ToStatus();
}

Status CoreWorker::CancelOwnedLocked(const TaskId& task_id, bool force, bool recursive,
                                     Actions& actions) {
  PendingTask* task = tasks_.FindLocked(task_id);
  if (task == nullptr) return Status::Ok();  // ended already
  if (task->spec.actor_id.IsNil()) {
    task_submitter_.CancelLocked(task_id, force, recursive, actions);
    return Status::Ok();
  }
  if (force) {
    return Status::InvalidArgument(
        "force is not supported for actor calls (it would kill the actor and its state); "
        "cancel without force, or end the actor with ActorHandle::Kill()");
  }
  actor_submitter_.CancelLocked(task_id, recursive, actions);
  return Status::Ok();
}

void CoreWorker::CancelChildren(const TaskId& parent, bool force) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const TaskId& child : tasks_.ChildrenLocked(parent)) {
      // A child actor call cannot be forced; it is cancelled plainly.
      PendingTask* task = tasks_.FindLocked(child);
      bool child_force = force && task != nullptr && task->spec.actor_id.IsNil();
      (void)CancelOwnedLocked(child, child_force, true, actions);
    }
  }
  RunActions(actions);
}

Status CoreWorker::KillActor(const ActorId& actor, bool no_restart) {
  return actor_submitter_.KillActor(actor, no_restart);
}

Result<std::vector<protocol::ActorInfo>> CoreWorker::ListActors() {
  return actor_submitter_.ListActors();
}

void CoreWorker::ExitActor() { executor_.ExitActor(); }

std::string CoreWorker::DescribeWaits() {
  std::lock_guard<std::mutex> lock(context_.mu);
  return tasks_.DescribeWaitsLocked() + task_submitter_.DescribeWaitsLocked() +
         actor_submitter_.DescribeWaitsLocked();
}

bool CoreWorker::ResumeWhenReady(const std::vector<ObjectId>& ids, std::function<void()> resume) {
  return references_.WhenReady(ids, executor_.ResumeOnLoop(std::move(resume)));
}

// ---------------------------------------------------------------- cluster

Result<std::vector<NodeView>> CoreWorker::Nodes() {
  auto reply = context_.gcs->CallSync(
      protocol::Encode(MessageType::kGetClusterStatus, protocol::GetClusterStatus{}));
  if (!reply.ok()) return reply.status();
  auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
  if (!status.ok()) return status.status();
  std::vector<NodeView> nodes;
  for (const protocol::NodeInfo& node : status->nodes) nodes.push_back(protocol::ToNodeView(node));
  return nodes;
}

Result<bool> CoreWorker::KvPut(const std::string& key, const std::string& value,
                               const std::string& ns, bool overwrite) {
  auto reply = CallKv(*context_.gcs, MessageType::kKvPut,
                      {.ns = ns, .key = key, .value = value, .overwrite = overwrite});
  if (!reply.ok()) return reply.status();
  return reply->found;
}

Result<std::optional<std::string>> CoreWorker::KvGet(const std::string& key,
                                                     const std::string& ns) {
  auto reply = CallKv(*context_.gcs, MessageType::kKvGet,
                      {.ns = ns, .key = key, .value = {}, .overwrite = true});
  if (!reply.ok()) return reply.status();
  if (!reply->found) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply->value));
}

Result<bool> CoreWorker::KvDelete(const std::string& key, const std::string& ns) {
  auto reply = CallKv(*context_.gcs, MessageType::kKvDelete,
                      {.ns = ns, .key = key, .value = {}, .overwrite = true});
  if (!reply.ok()) return reply.status();
  return reply->found;
}

Result<std::vector<std::string>> CoreWorker::KvList(const std::string& prefix,
                                                    const std::string& ns) {
  auto reply = CallKv(*context_.gcs, MessageType::kKvList,
                      {.ns = ns, .key = prefix, .value = {}, .overwrite = true});
  if (!reply.ok()) return reply.status();
  return std::move(reply->keys);
}

// ---------------------------------------------------------------- placement groups

namespace {

Status StatusOf(const Result<std::string>& reply) {
  if (!reply.ok()) return reply.status();
  auto status = protocol::Decode<protocol::StatusReply>(*reply);
  return status.ok() ? status->ToStatus() : status.status();
}

PlacementGroup HandleOf(const protocol::PlacementGroupSpec& spec) {
  return PlacementGroup(spec.group_id, spec.name, spec.bundles, spec.strategy);
}

}  // namespace

Result<PlacementGroup> CoreWorker::CreatePlacementGroup(const std::vector<ResourceSet>& bundles,
                                                        PlacementStrategy strategy,
                                                        const std::string& name, bool detached) {
  protocol::CreatePlacementGroup request;
  request.spec.group_id = PlacementGroupId::FromRandom();
  request.spec.job_id = context_.options.job_id;
  request.spec.name = name;
  if (!name.empty()) {
    auto job_namespace = JobNamespace();
    if (!job_namespace.ok()) return job_namespace.status();
    request.spec.namespace_name = *job_namespace;
  }
  request.spec.bundles = bundles;
  request.spec.strategy = strategy;
  request.spec.detached = detached;
  std::string message = protocol::Encode(MessageType::kCreatePlacementGroup, request);
  if (name.empty()) {
    // Pipelined (placement_group_calls.h): Wait and Remove report a failure.
    RAYK_RETURN_IF_ERROR(
        group_calls_.Send(request.spec.group_id, std::move(message),
                          "creating placement group " + request.spec.group_id.Hex().substr(0, 8)));
  } else {
    RAYK_RETURN_IF_ERROR(StatusOf(context_.gcs->CallSync(message)));
  }
  return HandleOf(request.spec);
}

Status CoreWorker::RemovePlacementGroup(const PlacementGroupId& id) {
  return group_calls_.Send(
      id, protocol::Encode(MessageType::kRemovePlacementGroup, protocol::RemovePlacementGroup{id}),
      "removing placement group " + id.Hex().substr(0, 8));
}

Result<bool> CoreWorker::WaitPlacementGroup(const PlacementGroupId& id,
                                            std::chrono::milliseconds timeout) {
  // The group's create (or remove) in flight is answered first.
  RAYK_RETURN_IF_ERROR(group_calls_.Settle(id));
  // Long polls, each answered by the GCS within its limit, until the group
  // is settled or the caller's time is up.
  const bool forever = timeout.count() < 0;
  auto deadline = std::chrono::steady_clock::now() + (forever ? std::chrono::hours(1) : timeout);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    protocol::GetPlacementGroup request;
    request.group_id = id;
    request.wait_ms =
        forever ? protocol::kPlacementGroupLongPollMs : std::max<int64_t>(0, left.count());
    auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kGetPlacementGroup, request));
    if (!reply.ok()) return reply.status();
    auto info = protocol::Decode<protocol::PlacementGroupInfo>(*reply);
    if (!info.ok()) return info.status();
    if (!info->found) {
      return Status::NotFound("the cluster knows no placement group " + id.Hex() +
                              " (removed long ago, or from an earlier cluster)");
    }
    switch (info->state) {
      case protocol::PlacementGroupState::kCreated:
        return true;
      case protocol::PlacementGroupState::kRemoved:
        return Status::NotFound("the placement group was removed");
      case protocol::PlacementGroupState::kPending:
        break;
    }
    if (!forever && std::chrono::steady_clock::now() >= deadline) return false;
  }
}

Result<PlacementGroup> CoreWorker::GetPlacementGroup(const std::string& name,
                                                     const std::string& ns) {
  protocol::GetPlacementGroup request;
  request.name = name;
  request.namespace_name = ns;
  if (ns.empty()) {
    auto job_namespace = JobNamespace();
    if (!job_namespace.ok()) return job_namespace.status();
    request.namespace_name = *job_namespace;
  }
  auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kGetPlacementGroup, request));
  if (!reply.ok()) return reply.status();
  auto info = protocol::Decode<protocol::PlacementGroupInfo>(*reply);
  if (!info.ok()) return info.status();
  if (!info->found || info->state == protocol::PlacementGroupState::kRemoved)
    return Status::NotFound("no placement group named '" + name + "' in namespace '" +
                            request.namespace_name + "'");
  return HandleOf(info->spec);
}

}  // namespace rayk
