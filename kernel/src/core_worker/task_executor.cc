#include "core_worker/task_executor.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core_worker/concurrency_groups.h"
#include "core_worker/generator_streams.h"  // StreamItemId
#include "core_worker/reference_counter.h"  // ValueOf, KeepSerializedReferences
#include "core_worker/visible_accelerators.h"
#include "observability/worker_log.h"
#include "rayk/concurrency_group.h"

namespace rayk {

namespace {

using internal::ErrorInfo;
using protocol::MessageType;

// An exiting actor waits this long for the transport to send its last reply.
constexpr auto kReplyFlushTime = std::chrono::milliseconds(20);

// The call whose step this thread runs, for ExitActor and ResumeOnLoop.
thread_local std::shared_ptr<void> current_call;

// While it lives, this thread runs a step of `call` (its start or a
// resumption), and a Get inside it counts as the worker blocking.
class StepScope {
 public:
  StepScope(std::shared_ptr<void> call, std::atomic<bool>& executing)
      : outer_(std::exchange(current_call, std::move(call))), executing_(executing) {
    executing_ = true;
  }
  ~StepScope() {
    executing_ = false;
    current_call = std::move(outer_);
  }
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  std::shared_ptr<void> outer_;
  std::atomic<bool>& executing_;
};

}  // namespace

TaskExecutor::TaskExecutor(WorkerContext& context)
    : context_(context),
      where_suffix_(" on node " + context_.options.node_id.Hex().substr(0, 8) + ", worker pid " +
                    std::to_string(getpid())) {
  groups_.push_back(std::make_unique<Group>());
  groups_[0]->name = internal::kDefaultConcurrencyGroup;
}

void TaskExecutor::Enqueue(protocol::TaskSpec spec, ReplyFn reply) {
  int64_t received_us = observability::TaskEventReporter::NowUs();
  protocol::PushTaskReply refused;
  std::condition_variable* waker = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Group* group = GroupOfLocked(spec)) {
      group->queue.push_back({std::move(spec), std::move(reply), received_us, next_arrival_++});
      waker = &WakerLocked(*group);
    } else {
      std::vector<std::string> named;
      for (size_t i = 1; i < groups_.size(); ++i) named.push_back(groups_[i]->name);
      refused.error = ErrorInfo{
          ErrorInfo::Kind::kRuntime,
          "",
          UnknownConcurrencyGroupMessage(spec.concurrency_group, spec.function, actor_id_, named),
          "worker pid " + std::to_string(getpid()),
          {}};
    }
  }
  // Outside the lock, so that the loop it wakes need not wait for it.
  if (waker != nullptr) {
    waker->notify_one();
  } else {
    reply(protocol::Encode(MessageType::kPushTaskReply, refused));
  }
}

TaskExecutor::Group* TaskExecutor::GroupOfLocked(const protocol::TaskSpec& spec) {
  std::string name = spec.concurrency_group;
  // Only an actor with named groups has methods worth looking up.
  if (name.empty() && groups_.size() > 1 && !spec.creates_actor) {
    name = internal::FunctionRegistry::Instance().ConcurrencyGroupOf(spec.function);
  }
  if (name.empty() || name == internal::kDefaultConcurrencyGroup) return groups_[0].get();
  for (const std::unique_ptr<Group>& group : groups_) {
    if (group->name == name) return group.get();
  }
  return nullptr;
}

void TaskExecutor::Cancel(const TaskId& task_id, bool force, bool recursive) {
  ReplyFn dropped;
  std::string function;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::unique_ptr<Group>& group : groups_) {
      auto queued =
          std::find_if(group->queue.begin(), group->queue.end(),
                       [&](const Pushed& pushed) { return pushed.spec.task_id == task_id; });
      if (queued != group->queue.end()) {
        dropped = std::move(queued->reply);
        function = queued->spec.function;
        group->queue.erase(queued);
        break;
      }
    }
    if (dropped) {
      // answered below
    } else if (auto running = running_.find(task_id); running != running_.end()) {
      // With force it is ended, not asked: it must not see IsCancelled()
      // and act on it in the moment before the process exits.
      if (!force) running->second->cancelled = true;
    } else {
      return;  // it replied already (or never came): the owner settles it
    }
  }
  if (dropped) {
    protocol::PushTaskReply out;
    out.error = ErrorInfo{ErrorInfo::Kind::kTaskCancelled,
                          "",
                          "task " + function + " was cancelled before it started",
                          "worker pid " + std::to_string(getpid()),
                          {}};
    dropped(protocol::Encode(MessageType::kPushTaskReply, out));
    return;
  }
  if (force) {
    // Ray's force: the process ends now; the raylet tells the owner, which
    // ends the task as cancelled (and retries the others it had sent here).
    spdlog::warn("worker: task {} was cancelled with force; exiting", task_id.Hex());
    std::fflush(nullptr);
    std::_Exit(1);
  }
  if (recursive && cancel_children_) cancel_children_(task_id, force);
}

TaskId TaskExecutor::CurrentTaskId() {
  auto* call = static_cast<RunningCall*>(current_call.get());
  return call ? call->spec.task_id : TaskId();
}

bool TaskExecutor::CurrentTaskCancelled() {
  auto* call = static_cast<RunningCall*>(current_call.get());
  return call != nullptr && call->cancelled;
}

void TaskExecutor::RequestExit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exit_requested_ = true;
    for (const std::unique_ptr<Group>& group : groups_) group->wake.notify_all();
  }
  cv_.notify_all();
}

void TaskExecutor::RunTaskLoop() {
  ExecuteLoop(nullptr);
  for (std::thread& thread : extra_executors_) thread.join();
}

TaskExecutor::Group* TaskExecutor::NextStartLocked(Group* serves) {
  if (serves != nullptr) return serves->CanStart() ? serves : nullptr;
  Group* next = nullptr;
  for (const std::unique_ptr<Group>& group : groups_) {
    if (group->CanStart() &&
        (next == nullptr || group->queue.front().arrival < next->queue.front().arrival)) {
      next = group.get();
    }
  }
  return next;
}

void TaskExecutor::ExecuteLoop(Group* serves) {
  pid_t parent = getppid();
  while (true) {
    Resumption resumption;
    std::shared_ptr<RunningCall> call;
    int64_t received_us = 0;
    bool start = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // RunTaskLoop's loop serves the default group once the actor is threaded.
      Group* mine = serves != nullptr || !threaded_ ? serves : groups_[0].get();
      std::condition_variable& waker = mine != nullptr ? WakerLocked(*mine) : cv_;
      // Wake now and then to notice a raylet that died without telling us.
      waker.wait_for(lock, std::chrono::milliseconds(500), [this, mine] {
        return exit_requested_ || !resumptions_.empty() || NextStartLocked(mine) != nullptr;
      });
      if (exit_requested_) return;
      if (!resumptions_.empty()) {
        // Calls in flight go first: they free places for new ones.
        resumption = std::move(resumptions_.front());
        resumptions_.pop_front();
      } else if (Group* group = NextStartLocked(mine)) {
        Pushed& pushed = group->queue.front();
        received_us = pushed.received_us;
        call = std::make_shared<RunningCall>();
        call->spec = std::move(pushed.spec);
        call->reply = std::move(pushed.reply);
        call->group = group;
        group->queue.pop_front();
        running_.emplace(call->spec.task_id, call);
        ++group->running;
        start = true;
      } else {
        if (getppid() != parent) {
          spdlog::error("worker: the raylet (pid {}) is gone; exiting", parent);
          exit_requested_ = true;
          cv_.notify_all();
          for (const std::unique_ptr<Group>& group : groups_) group->wake.notify_all();
          return;
        }
        continue;
      }
    }
    if (start) {
      Execute(call, received_us);
      call.reset();
    } else {
      StepScope step(resumption.call, executing_);
      resumption.resume();
    }
    if (exit_now_) {
      ExitNow();
      return;
    }
  }
}

std::function<void()> TaskExecutor::ResumeOnLoop(std::function<void()> resume) {
  auto call = std::static_pointer_cast<RunningCall>(current_call);
  return [this, call = std::move(call), resume = std::move(resume)] { QueueStep(call, resume); };
}

void TaskExecutor::QueueStep(std::shared_ptr<RunningCall> call, std::function<void()> step) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    resumptions_.push_back({std::move(call), std::move(step)});
  }
  cv_.notify_one();
}

void TaskExecutor::ExitActor() {
  if (auto* call = static_cast<RunningCall*>(current_call.get())) {
    call->exit_after = true;
  } else {
    exit_after_task_ = true;
  }
}

void TaskExecutor::ExitNow() {
  // rayk::ExitActor(): the GCS records that the actor must not restart; the
  // process then ends, and the raylet's notice of that makes it DEAD. Ending
  // only after the reply is out means the call that exited still gets its
  // result.
  protocol::KillActor kill{actor_id_, true, "the actor called rayk::ExitActor()", true};
  (void)context_.gcs->CallSync(protocol::Encode(MessageType::kKillActor, kill));
  std::this_thread::sleep_for(kReplyFlushTime);
  RequestExit();
}

protocol::TaskEvent TaskExecutor::MakeEvent(const protocol::TaskSpec& spec, const char* state,
                                            int64_t received_us, int64_t start_us) {
  return observability::TaskEventOf(spec, state, context_.options.node_id,
                                    static_cast<int64_t>(getpid()), received_us, start_us);
}

std::string TaskExecutor::ActorLabel(const protocol::TaskSpec& creation) {
  protocol::GetActor request;
  request.actor_id = creation.actor_id;
  auto reply = context_.gcs->CallSync(protocol::Encode(MessageType::kGetActor, request),
                                      std::chrono::milliseconds(5000));
  auto info = reply.ok() ? protocol::Decode<protocol::ActorInfo>(*reply)
                         : Result<protocol::ActorInfo>(reply.status());
  if (info.ok() && !info->name.empty()) return info->name;
  if (info.ok() && !info->class_name.empty()) return info->class_name;
  return creation.function;  // the GCS did not answer: the factory's name will do
}

void TaskExecutor::Execute(const std::shared_ptr<RunningCall>& call, int64_t received_us) {
  const protocol::TaskSpec& spec = call->spec;
  SetVisibleAccelerators(spec.accelerators);  // before the task reads them
  if (context_.task_events.enabled()) {
    call->event =
        MakeEvent(spec, "RUNNING", received_us, observability::TaskEventReporter::NowUs());
    context_.task_events.Started(call->event);
  }
  if (spec.creates_actor) actor_label_ = ActorLabel(spec);
  // Whose output follows, for drivers and `rayk logs` (observability/worker_log.h):
  // buffered until the task prints a line, so a silent task costs no write.
  call->marker = observability::TaskMarker(
      spec.task_id, spec.actor_id,
      spec.actor_id.IsNil() ? observability::TaskDisplayName(spec) : actor_label_);
  observability::PutTaskMarker(stdout, call->marker);
  observability::PutTaskMarker(stderr, call->marker);
  call->where = "task " + spec.function + where_suffix_;
  protocol::PushTaskReply out;
  const internal::RegisteredFunction* function =
      internal::FunctionRegistry::Instance().Find(spec.function);
  internal::ArgList args;
  if (ReadArgs(spec, call->where, args, call->held, out)) {
    if (function == nullptr) {
      out.error =
          ErrorInfo{ErrorInfo::Kind::kRuntime,
                    "",
                    "function '" + spec.function + "' is not registered in the job's libraries (" +
                        std::to_string(context_.options.code_libraries.size()) +
                        " loaded); list it in RAYK_REMOTE(...)",
                    call->where,
                    {}};
    } else if (spec.creates_actor) {
      CreateActor(*function, spec, args, call->where, out);
    } else if (!spec.actor_id.IsNil()) {
      if (!CheckHostsMethod(*function, spec, call->where, out)) {
        // `out` says why
      } else if (function->is_async) {
        StartMethod(*function, call, args);
        return;  // replied when the coroutine ends
      } else if (!Call(*function, call, args, out)) {
        return;  // replied when the stream ends
      }
    } else {
      (void)Call(*function, call, args, out);
    }
  }
  Finish(call, std::move(out));
}

void TaskExecutor::NoteFinished(RunningCall& call, const protocol::PushTaskReply& out) {
  protocol::TaskEvent& event = call.event;
  event.state = out.error || call.cancelled ? "FAILED" : "FINISHED";
  event.end_us = observability::TaskEventReporter::NowUs();
  if (call.cancelled) {
    // As Ray lists it: its owner discards what it returned.
    event.error = "TaskCancelledError: cancelled while it ran";
  } else if (out.error) {
    event.error =
        (out.error->remote_type.empty() ? "" : out.error->remote_type + ": ") + out.error->message;
  }
  context_.task_events.Finished(std::move(event));
}

void TaskExecutor::Finish(const std::shared_ptr<RunningCall>& call, protocol::PushTaskReply out) {
  if (context_.task_events.enabled()) NoteFinished(*call, out);
  // A task that printed nothing leaves no marker in the logs.
  observability::TakeBackTaskMarker(stdout, call->marker);
  observability::TakeBackTaskMarker(stderr, call->marker);
  call->reply(protocol::Encode(MessageType::kPushTaskReply, out));
  if (call->exit_after || exit_after_task_) exit_now_ = true;
  std::condition_variable* waker = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --call->group->running;
    running_.erase(call->spec.task_id);
    waker = &WakerLocked(*call->group);
  }
  waker->notify_one();
}

bool TaskExecutor::ReadArgs(const protocol::TaskSpec& spec, const std::string& where,
                            internal::ArgList& args,
                            std::vector<std::shared_ptr<const ObjectBuffer>>& held,
                            protocol::PushTaskReply& out) {
  args.reserve(spec.args.size());
  for (const internal::TaskArg& arg : spec.args) {
    if (!arg.location.valid()) {
      args.emplace_back(arg.value);
      continue;
    }
    Result<std::shared_ptr<const ObjectBuffer>> buffer = Status::Unavailable("not read");
    if (context_.node_objects) {
      buffer = context_.node_objects->Get(arg.ref, arg.location);
    } else if (auto bytes = ReadObjectFromNode(*context_.transport, arg.ref, arg.location);
               bytes.ok()) {
      buffer = ValueOf(std::move(*bytes)).data;
    } else {
      buffer = bytes.status();
    }
    if (!buffer.ok()) {
      out.error =
          ErrorInfo{ErrorInfo::Kind::kObjectLost,
                    "",
                    "an argument of " + spec.function + " is lost: " + buffer.status().message(),
                    where,
                    {}};
      return false;
    }
    held.push_back(*buffer);
    args.emplace_back(reinterpret_cast<const char*>(held.back()->data()), held.back()->size());
  }
  return true;
}

void TaskExecutor::CreateActor(const internal::RegisteredFunction& function,
                               const protocol::TaskSpec& spec, const internal::ArgList& args,
                               const std::string& where, protocol::PushTaskReply& out) {
  internal::ActorCreateResult created;
  actor_restarted_ = spec.attempt > 0;  // before the factory, which may ask
  if (function.create) {
    created = function.create(args);
  } else {
    created.error = ErrorInfo{
        ErrorInfo::Kind::kRuntime, "", spec.function + " is not an actor factory", "", {}};
  }
  if (created.error) {
    out.error = std::move(created.error);
    if (out.error->where.empty()) out.error->where = where;
    return;
  }
  actor_instance_ = std::move(created.instance);
  actor_id_ = spec.actor_id;
  // An async actor interleaves its calls on this loop; a plain one with
  // max_concurrency > 1 runs them on that many loops (threads).
  const bool async = function.actor_class != nullptr &&
                     internal::FunctionRegistry::Instance().HasAsyncMethods(*function.actor_class);
  int limit = spec.max_concurrency;
  if (limit <= 0) limit = async ? internal::kDefaultAsyncMaxConcurrency : 1;
  std::string described = std::to_string(limit);
  {
    std::lock_guard<std::mutex> lock(mu_);
    groups_[0]->limit = limit;
    for (const auto& [name, group_limit] : spec.concurrency_groups) {
      groups_.push_back(std::make_unique<Group>());
      groups_.back()->name = name;
      groups_.back()->limit = group_limit;
      described += ", " + std::to_string(group_limit) + " in " + name;
    }
    threaded_ = !async;
  }
  if (async) {
    spdlog::info("actor {} is async: up to {} calls at once on its event loop", actor_id_.Hex(),
                 described);
    return;
  }
  // This loop, RunTaskLoop's, is the default group's first; each group gets
  // as many loops as its limit. groups_ no longer changes.
  for (const std::unique_ptr<Group>& group : groups_) {
    Group* serves = group.get();
    for (int i = group.get() == groups_[0].get() ? 1 : 0; i < group->limit; ++i) {
      extra_executors_.emplace_back([this, serves] { ExecuteLoop(serves); });
    }
  }
}

bool TaskExecutor::CheckHostsMethod(const internal::RegisteredFunction& function,
                                    const protocol::TaskSpec& spec, const std::string& where,
                                    protocol::PushTaskReply& out) {
  if (actor_instance_ && spec.actor_id == actor_id_ &&
      (function.invoke_method || function.start_method)) {
    return true;
  }
  out.error = ErrorInfo{ErrorInfo::Kind::kRuntime,
                        "",
                        "this worker does not host actor " + spec.actor_id.Hex() + " or " +
                            spec.function + " is not one of its methods",
                        where,
                        {}};
  return false;
}

void TaskExecutor::StartMethod(const internal::RegisteredFunction& function,
                               const std::shared_ptr<RunningCall>& call,
                               const internal::ArgList& args) {
  StepScope step(call, executing_);
  // `done` runs on this thread, now or in a later step that resumed the
  // coroutine; the call (its spec, its pinned arguments) lives until then.
  function.start_method(actor_instance_.get(), args, call->spec.num_returns,
                        [this, call](internal::InvokeResult result) {
                          protocol::PushTaskReply out;
                          SetResult(std::move(result), call->spec, call->where, out);
                          Finish(call, std::move(out));
                        });
}

bool TaskExecutor::Call(const internal::RegisteredFunction& function,
                        const std::shared_ptr<RunningCall>& call, const internal::ArgList& args,
                        protocol::PushTaskReply& out) {
  const protocol::TaskSpec& spec = call->spec;
  const bool method = !spec.actor_id.IsNil();
  internal::InvokeResult result;
  auto started = std::chrono::steady_clock::now();
  {
    StepScope step(call, executing_);
    result = method ? function.invoke_method(actor_instance_.get(), args, spec.num_returns)
                    : function.invoke(args, spec.num_returns);
  }
  if (result.next_item || spec.streaming) {
    auto stream = std::make_shared<ItemStream>();
    stream->call = call;
    stream->result = std::move(result);
    bool on_loop = false;  // an async actor's: its loop must not wait for acks
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_loop = method && !threaded_;
    }
    if (on_loop) {
      if (BeginStream(*stream)) {
        StreamStep(stream);
        return false;
      }
      EndStream(*stream);
    } else {
      StreamItems(*stream);
    }
    out = std::move(stream->out);
  } else {
    SetResult(std::move(result), spec, call->where, out);
  }
  out.run_us =
      static_cast<uint32_t>(std::min<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count(),
                                              UINT32_MAX));
  return true;
}

bool TaskExecutor::BeginStream(ItemStream& stream) {
  const protocol::TaskSpec& spec = stream.call->spec;
  auto fail = [&](ErrorInfo error) {
    stream.out.error = std::move(error);
    if (stream.out.error->where.empty()) stream.out.error->where = stream.call->where;
    return false;
  };
  if (stream.result.error) return fail(std::move(*stream.result.error));
  if (!stream.result.next_item) {
    return fail(internal::RuntimeErrorInfo(
        spec.function + " returns no rayk::Generator<T>, so it cannot stream items: " +
        "its caller and this worker disagree about it (rebuild both against the same library)"));
  }
  if (!spec.streaming) {
    return fail(internal::RuntimeErrorInfo(
        spec.function + " is a generator: its items reach a caller only through the " +
        "ObjectRefGenerator that Remote() returns"));
  }
  auto owner = context_.Connect(spec.owner_address);
  if (!owner.ok()) {
    return fail(internal::RuntimeErrorInfo("the caller of " + spec.function + " at " +
                                           spec.owner_address +
                                           " cannot be reached: " + owner.status().message()));
  }
  stream.owner = *owner;
  return true;
}

std::optional<protocol::ReportGeneratorItem> TaskExecutor::MakeItem(ItemStream& stream) {
  const protocol::TaskSpec& spec = stream.call->spec;
  protocol::ReportGeneratorItem item;
  std::optional<ErrorInfo> error;
  bool more = false;
  {
    StepScope step(stream.call, executing_);
    more = stream.result.next_item(item.value, error);
  }
  if (more) {
    item.stream = spec.return_id;
    item.index = stream.sent;
    error = StoreLargeResult(StreamItemId(spec.return_id, item.index), spec.owner_address,
                             item.value, item.location);
    if (!error) {
      // As a result's: the references serialized into the item go to the
      // caller with it, and the item holds them there.
      item.contained = HandOverSerialized(spec.owner_address);
      return item;
    }
  }
  // No item goes out: what was serialized for it is let go.
  DropSerialized();
  if (error) {
    stream.out.error = std::move(error);
    if (stream.out.error->where.empty()) stream.out.error->where = stream.call->where;
  }
  return std::nullopt;
}

bool TaskExecutor::ItemSent(ItemStream& stream, const protocol::ReportGeneratorItem& item,
                            const Result<bool>& stop) {
  if (!stop.ok()) {
    if (item.location.valid() && context_.node_objects) {
      context_.node_objects->Free(StreamItemId(item.stream, item.index), item.location);
    }
    stream.out.error = internal::RuntimeErrorInfo(
        "item " + std::to_string(item.index) + " of " + stream.call->spec.function +
        " did not reach its caller: " + stop.status().message());
    stream.out.error->where = stream.call->where;
    return false;
  }
  ++stream.sent;
  return !*stop && !stream.call->cancelled;
}

void TaskExecutor::EndStream(ItemStream& stream) {
  // The producer ends here, on this thread: its destructors run now.
  stream.result.next_item = nullptr;
  if (!stream.out.error) stream.out.value = internal::Serialize<uint64_t>(stream.sent);
}

void TaskExecutor::StreamItems(ItemStream& stream) {
  if (BeginStream(stream)) {
    while (std::optional<protocol::ReportGeneratorItem> item = MakeItem(stream)) {
      std::string request = protocol::Encode(MessageType::kReportGeneratorItem, *item);
      Result<bool> stop = AckOf(*stream.call, stream.owner->CallSync(request, kItemAckWait));
      if (!stop.ok() && stop.status().code() == StatusCode::kTimedOut) {
        item->again = true;  // held for backpressure: asked again until it goes
        request = protocol::Encode(MessageType::kReportGeneratorItem, *item);
      }
      while (!stop.ok() && stop.status().code() == StatusCode::kTimedOut) {
        stop = AckOf(*stream.call, stream.owner->CallSync(request, kItemAckWait));
      }
      if (!ItemSent(stream, *item, stop)) break;
    }
  }
  EndStream(stream);
}

void TaskExecutor::StreamStep(const std::shared_ptr<ItemStream>& stream, bool go_on) {
  if (std::optional<protocol::ReportGeneratorItem> item =
          go_on ? MakeItem(*stream) : std::nullopt) {
    SendItemAsync(stream, std::move(*item));
    return;
  }
  EndStream(*stream);
  Finish(stream->call, std::move(stream->out));
}

void TaskExecutor::SendItemAsync(const std::shared_ptr<ItemStream>& stream,
                                 protocol::ReportGeneratorItem item) {
  std::string request = protocol::Encode(MessageType::kReportGeneratorItem, item);
  // The answer comes on a transport thread; the producer goes on on the loop.
  stream->owner->Call(
      std::move(request),
      [this, stream, item = std::move(item)](Result<std::string> reply) mutable {
        Result<bool> stop = AckOf(*stream->call, reply);
        if (!stop.ok() && stop.status().code() == StatusCode::kTimedOut) {
          item.again = true;
          SendItemAsync(stream, std::move(item));  // held for backpressure: ask again
          return;
        }
        QueueStep(stream->call, [this, stream, item = std::move(item), stop = std::move(stop)] {
          StreamStep(stream, ItemSent(*stream, item, stop));
        });
      },
      kItemAckWait);
}

Result<bool> TaskExecutor::AckOf(const RunningCall& call, const Result<std::string>& reply) {
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kTimedOut && call.cancelled) return true;
    return reply.status();
  }
  Result<protocol::GeneratorItemAck> ack = protocol::Decode<protocol::GeneratorItemAck>(*reply);
  if (!ack.ok()) return ack.status();
  return ack->stop;
}

void TaskExecutor::SetResult(internal::InvokeResult result, const protocol::TaskSpec& spec,
                             const std::string& where, protocol::PushTaskReply& out) {
  // References serialized into the results were encoded on this thread: the
  // caller holds them from here on, for as long as it holds a result.
  out.contained = HandOverSerialized(spec.owner_address);
  if (!result.error && result.more_values.size() != spec.more_return_ids.size()) {
    result.error = internal::RuntimeErrorInfo(
        spec.function + " made " + std::to_string(result.more_values.size() + 1) +
        " results where its call has " + std::to_string(spec.more_return_ids.size() + 1));
  }
  if (result.error) {
    out.error = std::move(result.error);
    if (out.error->where.empty()) out.error->where = where;
    return;
  }
  out.value = std::move(result.value);
  out.error =
      StoreLargeResult(spec.return_id, spec.owner_address, out.value, out.location, result.raw);
  out.more_returns.resize(result.more_values.size());
  for (size_t i = 0; i < result.more_values.size() && !out.error; ++i) {
    protocol::ReturnValue& more = out.more_returns[i];
    more.value = std::move(result.more_values[i]);
    out.error =
        StoreLargeResult(spec.more_return_ids[i], spec.owner_address, more.value, more.location);
  }
  if (!out.error) return;
  // One result did not fit: the call fails as a whole, and the results
  // already stored go, since no owner will ever record them.
  if (context_.node_objects) {
    if (out.location.valid()) context_.node_objects->Free(spec.return_id, out.location);
    for (size_t i = 0; i < out.more_returns.size(); ++i) {
      if (out.more_returns[i].location.valid()) {
        context_.node_objects->Free(spec.more_return_ids[i], out.more_returns[i].location);
      }
    }
  }
  out.value.clear();
  out.location = {};
  out.more_returns.clear();
}

std::optional<ErrorInfo> TaskExecutor::StoreLargeResult(const ObjectId& id,
                                                        const std::string& owner,
                                                        std::string& value,
                                                        internal::StoreLocation& location,
                                                        const internal::UnencodedRaw& raw) {
  NodeObjects* node_objects = context_.node_objects.get();
  const size_t size = raw ? raw.EncodedSize() : value.size();
  if (!node_objects || size <= kInlineLimit) {
    if (raw) value = raw.Encode();
    return std::nullopt;
  }
  // Written once, into the space it will be read from (an unencoded array
  // straight from the function's value, as rayk::Put writes).
  auto space = node_objects->Create(id, size, owner);
  Status status = space.status();
  if (space.ok()) {
    if (raw) {
      raw.WriteTo((*space)->data());
    } else {
      std::memcpy((*space)->data(), value.data(), size);
    }
    auto sealed = (*space)->Seal();
    if (sealed.ok()) {
      location = *sealed;
      value.clear();
      return std::nullopt;
    }
    status = sealed.status();
  }
  // A retried task finds its earlier result there: it is the same value.
  if (status.code() == StatusCode::kAlreadyExists) {
    location = {node_objects->node(), context_.options.raylet_address, size};
    value.clear();
    return std::nullopt;
  }
  if (status.code() == StatusCode::kOutOfMemory) {
    return ErrorInfo{ErrorInfo::Kind::kObjectStoreFull,
                     "",
                     "its " + std::to_string(size) + "-byte result: " + status.message(),
                     "node " + context_.options.node_id.Hex().substr(0, 8),
                     {}};
  }
  spdlog::warn("a {}-byte result travels inline: {}", size, status.message());
  if (raw) value = raw.Encode();
  return std::nullopt;
}

std::vector<protocol::ContainedRef> TaskExecutor::HandOverSerialized(const std::string& caller) {
  if (hand_over_) return hand_over_(caller);
  ReferenceCounter::KeepSerializedReferences();
  return {};
}

void TaskExecutor::DropSerialized() {
  if (drop_serialized_) {
    drop_serialized_();
  } else {
    ReferenceCounter::KeepSerializedReferences();
  }
}

void TaskExecutor::SetBlocked(bool blocked) {
  if (context_.options.is_driver || !executing_) return;
  // Nested Gets inside one task block once.
  int depth = blocked ? blocked_depth_++ : --blocked_depth_;
  if (depth != 0) return;
  protocol::WorkerBlockState state{context_.options.worker_id};
  (void)context_.raylet->CallSync(
      protocol::Encode(blocked ? MessageType::kWorkerBlocked : MessageType::kWorkerUnblocked,
                       state),
      kControlTimeout);
}

}  // namespace rayk
