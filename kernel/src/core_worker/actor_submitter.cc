#include "core_worker/actor_submitter.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core_worker/concurrency_groups.h"
#include "rayk/concurrency_group.h"
#include "rayk/errors.h"
#include "rayk/internal/runtime.h"

namespace rayk {

namespace {

using internal::ErrorInfo;
using protocol::ActorState;
using protocol::MessageType;

// How long replies already sent by a dead actor get to arrive before its
// in-flight calls are failed or retried.
constexpr auto kDeathNoticeGrace = std::chrono::milliseconds(100);
// Calls made while a request to their actor is out wait for its answer (or
// the reaper's next round, or this many of them) and then leave together:
// a caller submitting a burst sends a few messages, not one per call. A
// call made while none is out leaves at once, so a lone call waits for
// nothing; the reaper's round bounds the wait of one that finds the actor's
// running calls all waiting for it.
constexpr size_t kMaxHeldCalls = 64;

std::string WatchActorMessage(const ActorId& actor, uint64_t epoch) {
  protocol::GetActor request;
  request.actor_id = actor;
  request.wait = protocol::GetActor::Wait::kUntilChanged;
  request.epoch = epoch;
  return protocol::Encode(MessageType::kGetActor, request);
}

std::optional<protocol::ActorInfo> DecodeActorInfo(const Result<std::string>& reply) {
  if (!reply.ok()) return std::nullopt;
  auto body = protocol::Decode<protocol::ActorInfo>(*reply);
  if (!body.ok()) return std::nullopt;
  return std::move(*body);
}

std::string ShortId(const ActorId& actor) { return actor.Hex().substr(0, 8); }

}  // namespace

ActorSubmitter::ActorSubmitter(WorkerContext& context, ReferenceCounter& references,
                               TaskManager& tasks)
    : context_(context), references_(references), tasks_(tasks) {}

// ---------------------------------------------------------------- the GCS's side

Result<protocol::ActorInfo> ActorSubmitter::QueryActor(const protocol::GetActor& request) {
  auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kGetActor, request));
  if (!reply.ok()) {
    return Status::Unavailable("the GCS did not answer about an actor: " +
                               reply.status().message());
  }
  return protocol::Decode<protocol::ActorInfo>(*reply);
}

Result<ActorId> ActorSubmitter::CreateActor(internal::ActorCreation creation) {
  // The GCS keeps the arguments' values to run the factory again on each
  // restart: the references inside them (serialized on this thread just
  // before), and the top-level ones whose values are inlined below, are
  // held as a pending task's arguments are, until the actor dies for good.
  std::vector<ObjectId> held;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    references_.HoldSerializedReferencesForTaskLocked(held);
    for (const internal::TaskArg& arg : creation.args) {
      if (!arg.is_ref) continue;
      references_.AddTaskArgLocked(arg.ref, arg.owner_address);
      held.push_back(arg.ref);
    }
  }
  auto let_go = [&] {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(context_.mu);
      for (const ObjectId& id : held) references_.RemoveTaskArgLocked(id, actions);
    }
    RunActions(actions);
  };
  Result<ActorId> created = RegisterActor(std::move(creation));
  if (!created.ok()) {
    let_go();
    return created;
  }
  if (!held.empty()) {
    // Watched from now on (through restarts), so that its death lets them go.
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(context_.mu);
      ActorClient& client = clients_[*created];
      client.creation_refs = std::move(held);
      if (client.state == ActorClient::State::kUnknown) ResolveActorLocked(*created, actions);
    }
    RunActions(actions);
  }
  return created;
}

void ActorSubmitter::ReleaseCreationRefsLocked(ActorClient& client, Actions& actions) {
  for (const ObjectId& id : client.creation_refs) references_.RemoveTaskArgLocked(id, actions);
  client.creation_refs.clear();
}

Result<ActorId> ActorSubmitter::RegisterActor(internal::ActorCreation creation) {
  protocol::ActorSpec spec;
  spec.actor_id = ActorId::FromRandom();
  spec.job_id = context_.options.job_id;
  spec.factory = std::move(creation.factory);
  spec.class_name = std::move(creation.class_name);
  spec.name = creation.options.name;
  if (!spec.name.empty()) spec.namespace_name = creation.options.namespace_name;
  spec.resources = creation.options.resources;
  spec.max_restarts = creation.options.max_restarts;
  spec.max_task_retries = creation.options.max_task_retries;
  spec.max_concurrency = creation.options.max_concurrency;  // the worker picks a default
  spec.concurrency_groups = creation.options.concurrency_groups;
  spec.detached = creation.options.detached;
  spec.placement = creation.options.placement;
  spec.owner_address = context_.address;
  // The GCS re-runs the factory on restarts, so it keeps the arguments' values.
  for (internal::TaskArg& arg : creation.args) {
    if (arg.is_ref) {
      auto values = references_.Get({arg.ref}, std::chrono::milliseconds(-1));
      if (!values.ok()) return values.status();
      const internal::ObjectValue& value = (*values)[0];
      if (value.error) {
        return Status::InvalidArgument("an argument of actor " + spec.class_name +
                                       " failed: " + value.error->message);
      }
      arg.value = std::string(BytesOf(value));
      arg.is_ref = false;
    }
    spec.args.push_back(std::move(arg));
  }
  auto reply = context_.gcs->CallSync(
      protocol::Encode(MessageType::kRegisterActor, protocol::RegisterActor{spec}));
  if (!reply.ok()) {
    return Status::Unavailable("cannot register the actor with the GCS: " +
                               reply.status().message());
  }
  auto status = protocol::Decode<protocol::StatusReply>(*reply);
  if (!status.ok()) return status.status();
  if (!status->ok) return status->ToStatus();
  RememberConcurrencyGroups(spec.actor_id, spec.concurrency_groups);
  return spec.actor_id;
}

void ActorSubmitter::RememberConcurrencyGroups(const ActorId& actor,
                                               const std::map<std::string, int>& groups) {
  std::vector<std::string> names;
  for (const auto& [group, limit] : groups) names.push_back(group);
  std::lock_guard<std::mutex> lock(context_.mu);
  clients_[actor].concurrency_groups = std::move(names);
}

Result<internal::NamedActor> ActorSubmitter::GetNamedActor(const std::string& name,
                                                           const std::string& ns) {
  protocol::GetActor request;
  request.name = name;
  request.namespace_name = ns;
  auto info = QueryActor(request);
  if (!info.ok()) return info.status();
  if (info->actor_id.IsNil()) {
    return Status::NotFound("no actor named '" + name + "' in namespace '" + ns + "'");
  }
  // Its calls' groups are then checked here, as for an actor made here.
  RememberConcurrencyGroups(info->actor_id, info->concurrency_groups);
  return internal::NamedActor{info->actor_id, info->class_name};
}

Status ActorSubmitter::KillActor(const ActorId& actor, bool no_restart) {
  protocol::KillActor kill{actor, no_restart, ""};
  auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kKillActor, kill));
  if (!reply.ok()) {
    return Status::Unavailable("the GCS did not answer the kill: " + reply.status().message());
  }
  auto status = protocol::Decode<protocol::StatusReply>(*reply);
  if (!status.ok()) return status.status();
  if (!status->ok) return status->ToStatus();
  // The killer knows at once: its later calls fail (or, with a restart, wait
  // for the new process) instead of racing the old process's end.
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ActorClient& client = clients_[actor];
    if (no_restart) {
      client.state = ActorClient::State::kDead;
      client.death_cause = "killed through its handle (ActorHandle::Kill)";
      ReleaseCreationRefsLocked(client, actions);
    } else {
      client.state = ActorClient::State::kUnknown;  // re-resolved through the GCS
      client.channel = nullptr;
    }
    std::deque<TaskId> in_flight;
    in_flight.swap(client.in_flight);
    client.outbox.clear();  // calls held for the old process are among them
    for (const TaskId& task_id : in_flight) {
      tasks_.CompleteLocked(
          task_id,
          ErrorValue(ErrorInfo::Kind::kActorDied,
                     "actor " + ShortId(actor) + " was killed while running this call"),
          actions);
    }
    SendActorTasksLocked(actor, actions);
  }
  RunActions(actions);
  return Status::Ok();
}

Result<std::vector<protocol::ActorInfo>> ActorSubmitter::ListActors() {
  auto reply =
      context_.gcs->CallSync(protocol::Encode(MessageType::kListActors, protocol::Empty{}));
  if (!reply.ok()) return reply.status();
  auto list = protocol::Decode<protocol::ActorList>(*reply);
  if (!list.ok()) return list.status();
  return std::move(list->actors);
}

// ---------------------------------------------------------------- calls

std::vector<ObjectId> ActorSubmitter::SubmitActorTask(
    internal::ActorCall call, const std::function<void(const PendingTask&)>& on_added) {
  const ActorId actor = call.actor;
  const std::string& group = call.concurrency_group;
  if (!group.empty() && group != internal::kDefaultConcurrencyGroup) {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto client = clients_.find(actor);
    if (client != clients_.end() && client->second.concurrency_groups &&
        std::find(client->second.concurrency_groups->begin(),
                  client->second.concurrency_groups->end(),
                  group) == client->second.concurrency_groups->end()) {
      throw RuntimeError(UnknownConcurrencyGroupMessage(group, call.method, actor,
                                                        *client->second.concurrency_groups));
    }
  }
  PendingTask task;
  task.retry_exceptions = std::move(call.retry_exceptions);
  task.spec.actor_id = actor;
  task.spec.function = std::move(call.method);
  task.spec.name = std::move(call.name);
  task.spec.concurrency_group = std::move(call.concurrency_group);
  task.spec.args = std::move(call.args);
  task.spec.num_returns = call.num_returns;
  task.spec.streaming = call.streaming;
  tasks_.AssignIds(task);
  const TaskId task_id = task.spec.task_id;
  std::vector<ObjectId> return_ids = task.spec.ReturnIds();
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    const PendingTask& stored = tasks_.AddLocked(std::move(task));
    if (on_added) on_added(stored);
    // Calls leave in submission order, whatever order their arguments resolve in.
    clients_[actor].queue.push_back(task_id);
    tasks_.ResolveArgsLocked(task_id, actions);
  }
  RunActions(actions);
  return return_ids;
}

void ActorSubmitter::SendActorTasksLocked(const ActorId& actor, Actions& actions) {
  ActorClient& client = clients_[actor];
  if (client.state == ActorClient::State::kUnknown) {
    ResolveActorLocked(actor, actions);
    return;
  }
  if (client.state == ActorClient::State::kDead) {
    std::deque<TaskId> queue;
    queue.swap(client.queue);
    for (const TaskId& task_id : queue) {
      tasks_.CompleteLocked(
          task_id,
          ErrorValue(ErrorInfo::Kind::kActorDied,
                     "actor " + ShortId(actor) + " is dead: " + client.death_cause),
          actions);
    }
    return;
  }
  if (client.state != ActorClient::State::kAlive) return;
  while (!client.queue.empty()) {
    const PendingTask* task = tasks_.FindLocked(client.queue.front());
    if (task == nullptr) {  // failed meanwhile (a dependency failed)
      client.queue.pop_front();
      continue;
    }
    if (task->unresolved > 0) break;
    client.queue.pop_front();
    client.in_flight.push_back(task->spec.task_id);
    context_.task_events.Forget(task->spec.task_id, task->spec.attempt);
    client.outbox.push_back(task->spec);
  }
  if (!client.outbox.empty() &&
      (client.requests_out == 0 || client.outbox.size() >= kMaxHeldCalls)) {
    actions.push_back([this, actor] { FlushActorOutbox(actor); });
  }
}

void ActorSubmitter::CancelLocked(const TaskId& task_id, bool recursive, Actions& actions) {
  PendingTask* task = tasks_.FindLocked(task_id);
  if (task == nullptr) return;
  task->cancelled = true;
  ActorClient& client = clients_[task->spec.actor_id];
  auto held = std::find_if(client.outbox.begin(), client.outbox.end(),
                           [&](const protocol::TaskSpec& spec) { return spec.task_id == task_id; });
  if (auto queued = std::find(client.queue.begin(), client.queue.end(), task_id);
      queued != client.queue.end()) {
    client.queue.erase(queued);
  } else if (held != client.outbox.end()) {  // not sent yet
    client.outbox.erase(held);
    auto entry = std::find(client.in_flight.begin(), client.in_flight.end(), task_id);
    if (entry != client.in_flight.end()) client.in_flight.erase(entry);
  } else if (std::find(client.in_flight.begin(), client.in_flight.end(), task_id) !=
             client.in_flight.end()) {
    // The actor's reply (or death) ends it, as cancelled.
    SendCancelToWorker(client.channel, *task, false, recursive, actions);
    return;
  }
  tasks_.CompleteLocked(task_id, CancelledValue(*task, "before it ran"), actions);
}

void ActorSubmitter::FlushActorOutbox(const ActorId& actor) {
  std::shared_ptr<std::mutex> send_mu;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    send_mu = clients_[actor].send_mu;
  }
  std::lock_guard<std::mutex> sending(*send_mu);
  protocol::PushTasks push;
  std::shared_ptr<Channel> channel;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ActorClient& client = clients_[actor];
    // With no calls to send, a request still goes while replies are due and
    // none is out: they come in answer to one.
    const bool replies_due = client.requests_out == 0 && !client.in_flight.empty();
    if (!client.channel) client.outbox.clear();  // the actor's watch settles them
    if (!client.channel || (client.outbox.empty() && !replies_due)) return;
    push = {context_.address, client.stream, std::move(client.outbox)};
    client.outbox.clear();
    ++client.requests_out;
    channel = client.channel;
  }
  channel->Call(
      protocol::Encode(MessageType::kPushTasks, push),
      [this, actor, stream = push.stream](Result<std::string> answer) {
        OnActorReplies(actor, stream, std::move(answer));
      },
      kForever);
}

void ActorSubmitter::FlushHeldCalls() {
  std::vector<ActorId> held;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const auto& [actor, client] : clients_) {
      if (!client.outbox.empty()) held.push_back(actor);
    }
  }
  for (const ActorId& actor : held) FlushActorOutbox(actor);
}

void ActorSubmitter::OnActorReplies(const ActorId& actor, uint64_t stream,
                                    Result<std::string> answer) {
  if (context_.stopping) return;
  // A lost call (an error here) is settled by the actor's watch.
  std::vector<protocol::PushedTaskReply> replies =
      PushedReplies(std::move(answer), "of actor " + ShortId(actor));
  Actions actions;
  bool replies_due = false;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ActorClient& client = clients_[actor];
    if (client.stream == stream) --client.requests_out;
    for (const protocol::PushedTaskReply& reply : replies) {
      OnActorReplyLocked(actor, reply.task_id, reply.attempt, reply.reply, actions);
    }
    replies_due = !replies.empty() && client.stream == stream && client.requests_out == 0 &&
                  !client.in_flight.empty();
    replies_due = replies_due || !client.outbox.empty();  // the calls held for this answer
  }
  if (replies_due) actions.push_back([this, actor] { FlushActorOutbox(actor); });
  RunActions(actions);
}

void ActorSubmitter::OnActorReplyLocked(const ActorId& actor, const TaskId& task_id, int attempt,
                                        const std::string& reply, Actions& actions) {
  PendingTask* task = tasks_.FindLocked(task_id);
  if (task == nullptr || task->spec.attempt != attempt) return;
  ActorClient& client = clients_[actor];
  auto it = std::find(client.in_flight.begin(), client.in_flight.end(), task_id);
  if (it != client.in_flight.end()) client.in_flight.erase(it);
  auto body = protocol::Decode<protocol::PushTaskReply>(reply);
  if (task->cancelled) {
    tasks_.CompleteLocked(task_id, tasks_.CancelledReplyValueLocked(*task, body, actions), actions);
  } else if (body.ok() && body->error && task->retry_exceptions.Matches(*body->error) &&
             internal::AnotherTry(task->spec.attempt, client.max_task_retries)) {
    ++task->spec.attempt;
    ++context_.faults.actor_call_retries;
    spdlog::warn("actor call {} threw {}: {}; retry {} of {}", task->spec.function,
                 body->error->remote_type, body->error->message, task->spec.attempt,
                 internal::LimitText(client.max_task_retries));
    client.queue.push_front(task_id);
    SendActorTasksLocked(actor, actions);
  } else {
    tasks_.CompleteWithReplyLocked(task_id, body, actions);
  }
}

// ---------------------------------------------------------------- where actors are

void ActorSubmitter::ResolveActorLocked(const ActorId& actor, Actions& actions) {
  clients_[actor].state = ActorClient::State::kResolving;
  protocol::GetActor request;
  request.actor_id = actor;
  request.wait = protocol::GetActor::Wait::kUntilSettled;
  actions.push_back([this, actor, message = protocol::Encode(MessageType::kGetActor, request)] {
    context_.gcs->Call(message, [this, actor](Result<std::string> reply) {
      OnResolveReply(actor, std::move(reply));
    });
  });
}

void ActorSubmitter::OnResolveReply(const ActorId& actor, Result<std::string> reply) {
  if (context_.stopping) return;
  std::optional<protocol::ActorInfo> info = DecodeActorInfo(reply);
  std::shared_ptr<Channel> channel;  // connected before mu: a transport call
  if (info && info->state == ActorState::kAlive) {
    if (auto connected = context_.peers.Get(info->address); connected.ok()) channel = *connected;
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ActorClient& client = clients_[actor];
    if (!info || info->actor_id.IsNil()) {
      MarkUnreachableLocked(actor, client, info, reply, actions);
    } else if (info->state == ActorState::kDead) {
      client.state = ActorClient::State::kDead;
      client.death_cause = info->death_cause;
      ReleaseCreationRefsLocked(client, actions);
      FailInFlightLocked(
          client,
          "actor " + info->class_name + " " + ShortId(actor) + " is dead: " + info->death_cause,
          actions);
    } else if (info->state == ActorState::kAlive && channel) {
      client.state = ActorClient::State::kAlive;
      client.epoch = info->epoch;
      client.max_task_retries = info->max_task_retries;
      client.channel = channel;
      client.stream = NewPushStream();  // requests of an earlier incarnation are not counted
      client.requests_out = 0;
      // Watch for the next change (death or restart) of this incarnation.
      WatchActorLocked(actor, info->epoch, actions);
    } else {
      client.state = ActorClient::State::kUnknown;
      // No node can hold it yet: say so once per reason, as for a task.
      if (!info->pending_reason.empty() && info->pending_reason != client.warned_pending) {
        spdlog::warn(
            "actor {} {} cannot be created yet: {}; its calls wait until a node that "
            "fits joins",
            info->class_name, ShortId(actor), info->pending_reason);
        client.warned_pending = info->pending_reason;
      }
    }
    SendActorTasksLocked(actor, actions);
  }
  RunActions(actions);
}

void ActorSubmitter::WatchActorLocked(const ActorId& actor, uint64_t epoch, Actions& actions) {
  actions.push_back([this, actor, message = WatchActorMessage(actor, epoch)] {
    context_.gcs->Call(message, [this, actor](Result<std::string> reply) {
      OnWatchReply(actor, std::move(reply));
    });
  });
}

void ActorSubmitter::OnWatchReply(const ActorId& actor, Result<std::string> reply) {
  if (context_.stopping) return;
  if (!reply.ok()) {
    OnActorChanged(actor, std::move(reply));
    return;
  }
  // A death notice travels GCS -> here while the actor's last replies
  // travel actor -> here on another connection: give those replies a
  // moment to land before calls still in flight are declared lost.
  std::lock_guard<std::mutex> lock(context_.mu);
  deferred_infos_.push_back({std::chrono::steady_clock::now() + kDeathNoticeGrace, actor, *reply});
}

void ActorSubmitter::HandleDeferredActorInfos() {
  std::vector<DeferredActorInfo> due;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto now = std::chrono::steady_clock::now();
    for (auto it = deferred_infos_.begin(); it != deferred_infos_.end();) {
      if (it->due <= now) {
        due.push_back(std::move(*it));
        it = deferred_infos_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (DeferredActorInfo& info : due) OnActorChanged(info.actor, std::move(info.reply));
}

void ActorSubmitter::OnActorChanged(const ActorId& actor, Result<std::string> reply) {
  if (context_.stopping) return;
  std::optional<protocol::ActorInfo> info = DecodeActorInfo(reply);
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ActorClient& client = clients_[actor];
    if (info && !info->actor_id.IsNil() && info->epoch <= client.epoch &&
        info->state != ActorState::kDead) {
      // The poll ran out with no change (or a restarted GCS answered it): ask
      // again, unless a newer watch or the handle's end has taken over.
      if (info->epoch == client.epoch && client.state == ActorClient::State::kAlive) {
        WatchActorLocked(actor, client.epoch, actions);
      }
    } else {
      if (!info || info->actor_id.IsNil()) {
        MarkUnreachableLocked(actor, client, info, reply, actions);
      } else {
        bool dead = info->state == ActorState::kDead;
        std::string cause = dead ? info->death_cause : "its process died and it is restarting";
        FailInFlightLocked(client,
                           "actor " + info->class_name + " " + ShortId(actor) +
                               " died while running this call: " + cause,
                           actions);
        client.state = dead ? ActorClient::State::kDead : ActorClient::State::kUnknown;
        if (dead) {
          client.death_cause = info->death_cause;
          ReleaseCreationRefsLocked(client, actions);
        }
      }
      SendActorTasksLocked(actor, actions);
    }
  }
  RunActions(actions);
}

void ActorSubmitter::MarkUnreachableLocked(const ActorId& actor, ActorClient& client,
                                           const std::optional<protocol::ActorInfo>& info,
                                           const Result<std::string>& reply, Actions& actions) {
  client.state = ActorClient::State::kDead;
  ReleaseCreationRefsLocked(client, actions);
  client.death_cause =
      info ? "the GCS does not know it (a GCS on the volatile 'memory' gcs plugin forgets its "
             "actors when it restarts; use [gcs] plugin = \"sqlite\" to keep them)"
           : "the GCS did not answer (" + reply.status().message() + ")";
  FailInFlightLocked(client, "actor " + ShortId(actor) + " is unreachable: " + client.death_cause,
                     actions);
}

void ActorSubmitter::FailInFlightLocked(ActorClient& client, const std::string& why,
                                        Actions& actions) {
  for (auto it = client.in_flight.rbegin(); it != client.in_flight.rend(); ++it) {
    PendingTask* task = tasks_.FindLocked(*it);
    if (task == nullptr) continue;
    if (task->cancelled) {
      tasks_.CompleteLocked(*it, CancelledValue(*task, "its actor ended: " + why), actions);
    } else if (internal::AnotherTry(task->spec.attempt, client.max_task_retries)) {
      ++task->spec.attempt;
      ++context_.faults.actor_call_retries;
      client.queue.push_front(*it);
    } else {
      tasks_.CompleteLocked(*it, ErrorValue(ErrorInfo::Kind::kActorDied, why), actions);
    }
  }
  client.in_flight.clear();
  client.outbox.clear();  // held calls were in flight: retried or failed above
}

// ---------------------------------------------------------------- diagnostics

std::string ActorSubmitter::DescribeWaitsLocked() const {
  static const char* const kStates[] = {"unknown", "resolving", "alive", "dead"};
  std::string text =
      "actors: " + std::to_string(deferred_infos_.size()) + " death notices in their grace\n";
  for (const auto& [actor, client] : clients_) {
    if (client.queue.empty() && client.in_flight.empty() && client.outbox.empty()) continue;
    text += "  actor " + ShortId(actor) + ": " + kStates[static_cast<int>(client.state)] +
            " (epoch " + std::to_string(client.epoch) + "), " +
            std::to_string(client.queue.size()) + " calls queued, " +
            std::to_string(client.in_flight.size()) + " in flight, " +
            std::to_string(client.outbox.size()) + " in the outbox\n";
  }
  return text;
}

}  // namespace rayk
