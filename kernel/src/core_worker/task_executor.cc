#include "core_worker/task_executor.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core_worker/reference_counter.h"  // ValueOf
#include "core_worker/visible_accelerators.h"
#include "observability/worker_log.h"

namespace rayk {

namespace {

using internal::ErrorInfo;
using protocol::MessageType;

// An exiting actor waits this long for the transport to send its last reply.
constexpr auto kReplyFlushTime = std::chrono::milliseconds(20);
// Task events: at most this many wait for the next batch, sent this often.
constexpr size_t kTaskEventBufferSize = 10000;
constexpr auto kTaskEventPeriod = std::chrono::milliseconds(1000);

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
      task_events_(
          kTaskEventBufferSize, kTaskEventPeriod, [this](protocol::ReportTaskEvents batch) {
            if (context_.gcs) {
              (void)context_.gcs->Send(protocol::Encode(MessageType::kReportTaskEvents, batch));
            }
          }) {}

void TaskExecutor::Enqueue(protocol::TaskSpec spec, ReplyFn reply) {
  int64_t received_us = observability::TaskEventReporter::NowUs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(spec), std::move(reply), received_us});
  }
  cv_.notify_one();
}

void TaskExecutor::Cancel(const TaskId& task_id, bool force, bool recursive) {
  ReplyFn dropped;
  std::string function;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto queued = std::find_if(queue_.begin(), queue_.end(), [&](const Pushed& pushed) {
      return pushed.spec.task_id == task_id;
    });
    if (queued != queue_.end()) {
      dropped = std::move(queued->reply);
      function = queued->spec.function;
      queue_.erase(queued);
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
  }
  cv_.notify_all();
}

void TaskExecutor::RunTaskLoop() {
  ExecuteLoop();
  for (std::thread& thread : extra_executors_) thread.join();
}

void TaskExecutor::ExecuteLoop() {
  pid_t parent = getppid();
  while (true) {
    Resumption resumption;
    std::shared_ptr<RunningCall> call;
    int64_t received_us = 0;
    bool start = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wake now and then to notice a raylet that died without telling us.
      cv_.wait_for(lock, std::chrono::milliseconds(500),
                   [this] { return exit_requested_ || !resumptions_.empty() || CanStartLocked(); });
      if (exit_requested_) return;
      if (!resumptions_.empty()) {
        // Calls in flight go first: they free places for new ones.
        resumption = std::move(resumptions_.front());
        resumptions_.pop_front();
      } else if (CanStartLocked()) {
        Pushed& pushed = queue_.front();
        received_us = pushed.received_us;
        call = std::make_shared<RunningCall>();
        call->spec = std::move(pushed.spec);
        call->reply = std::move(pushed.reply);
        queue_.pop_front();
        running_.emplace(call->spec.task_id, call);
        ++running_calls_;
        start = true;
      } else {
        if (getppid() != parent) {
          spdlog::error("worker: the raylet (pid {}) is gone; exiting", parent);
          exit_requested_ = true;
          cv_.notify_all();
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
  return [this, call = std::move(call), resume = std::move(resume)] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      resumptions_.push_back({call, resume});
    }
    cv_.notify_one();
  };
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
  // Methods are registered as "&Counter::Incr"; events name them as written
  // in calls, unless the caller named the call (SetName).
  std::string_view name = spec.name.empty() ? std::string_view(spec.function) : spec.name;
  if (spec.name.empty() && name.starts_with('&')) name.remove_prefix(1);
  return {spec.task_id,
          spec.attempt,
          spec.job_id,
          spec.actor_id,
          std::string(name),
          state,
          context_.options.node_id,
          static_cast<int64_t>(getpid()),
          received_us,
          start_us,
          0,
          ""};
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
  call->event = MakeEvent(spec, "RUNNING", received_us, observability::TaskEventReporter::NowUs());
  task_events_.Started(call->event);
  if (spec.creates_actor) actor_label_ = ActorLabel(spec);
  // Whose output follows, for drivers and `rayk logs` (observability/worker_log.h).
  std::fputs(observability::TaskMarker(spec.task_id, spec.actor_id,
                                       spec.actor_id.IsNil() ? call->event.name : actor_label_)
                 .c_str(),
             stdout);
  std::fflush(stdout);
  call->where = "task " + spec.function + " on node " +
                context_.options.node_id.Hex().substr(0, 8) + ", worker pid " +
                std::to_string(getpid());
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
      } else {
        StepScope step(call, executing_);
        CallMethod(*function, spec, args, call->where, out);
      }
    } else {
      CallFunction(*function, call, args, out);
    }
  }
  Finish(call, std::move(out));
}

void TaskExecutor::Finish(const std::shared_ptr<RunningCall>& call, protocol::PushTaskReply out) {
  protocol::TaskEvent& event = call->event;
  event.state = out.error || call->cancelled ? "FAILED" : "FINISHED";
  event.end_us = observability::TaskEventReporter::NowUs();
  if (call->cancelled) {
    // As Ray lists it: its owner discards what it returned.
    event.error = "TaskCancelledError: cancelled while it ran";
  } else if (out.error) {
    event.error =
        (out.error->remote_type.empty() ? "" : out.error->remote_type + ": ") + out.error->message;
  }
  task_events_.Finished(std::move(event));
  call->reply(protocol::Encode(MessageType::kPushTaskReply, out));
  if (call->exit_after || exit_after_task_) exit_now_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_calls_;
    running_.erase(call->spec.task_id);
  }
  cv_.notify_one();
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    call_limit_ = limit;
  }
  if (async) {
    spdlog::info("actor {} is async: up to {} calls at once on its event loop", actor_id_.Hex(),
                 limit);
    return;
  }
  for (int i = 1; i < limit; ++i) {
    extra_executors_.emplace_back([this] { ExecuteLoop(); });
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

void TaskExecutor::CallMethod(const internal::RegisteredFunction& function,
                              const protocol::TaskSpec& spec, const internal::ArgList& args,
                              const std::string& where, protocol::PushTaskReply& out) {
  internal::InvokeResult result = function.invoke_method(actor_instance_.get(), args);
  SetResult(std::move(result), spec, where, out);
}

void TaskExecutor::StartMethod(const internal::RegisteredFunction& function,
                               const std::shared_ptr<RunningCall>& call,
                               const internal::ArgList& args) {
  StepScope step(call, executing_);
  // `done` runs on this thread, now or in a later step that resumed the
  // coroutine; the call (its spec, its pinned arguments) lives until then.
  function.start_method(actor_instance_.get(), args, [this, call](internal::InvokeResult result) {
    protocol::PushTaskReply out;
    SetResult(std::move(result), call->spec, call->where, out);
    Finish(call, std::move(out));
  });
}

void TaskExecutor::CallFunction(const internal::RegisteredFunction& function,
                                const std::shared_ptr<RunningCall>& call,
                                const internal::ArgList& args, protocol::PushTaskReply& out) {
  internal::InvokeResult result;
  {
    StepScope step(call, executing_);
    auto started = std::chrono::steady_clock::now();
    result = function.invoke(args);
    out.run_us = static_cast<uint32_t>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                              started)
            .count(),
        UINT32_MAX));
  }
  SetResult(std::move(result), call->spec, call->where, out);
}

void TaskExecutor::SetResult(internal::InvokeResult result, const protocol::TaskSpec& spec,
                             const std::string& where, protocol::PushTaskReply& out) {
  if (result.error) {
    out.error = std::move(result.error);
    if (out.error->where.empty()) out.error->where = where;
    return;
  }
  out.value = std::move(result.value);
  StoreLargeResult(spec.return_id, out);
}

void TaskExecutor::StoreLargeResult(const ObjectId& return_id, protocol::PushTaskReply& out) {
  NodeObjects* node_objects = context_.node_objects.get();
  if (!node_objects || out.value.size() <= kInlineLimit) return;
  auto stored = node_objects->Put(return_id, out.value);
  if (stored.ok()) {
    out.location = *stored;
    out.value.clear();
    return;
  }
  // A retried task finds its earlier result there: it is the same value.
  if (stored.status().code() == StatusCode::kAlreadyExists) {
    out.location = {node_objects->node(), context_.options.raylet_address, out.value.size()};
    out.value.clear();
    return;
  }
  if (stored.status().code() == StatusCode::kOutOfMemory) {
    out.error = ErrorInfo{
        ErrorInfo::Kind::kObjectStoreFull,
        "",
        "its " + std::to_string(out.value.size()) + "-byte result: " + stored.status().message(),
        "node " + context_.options.node_id.Hex().substr(0, 8),
        {}};
    out.value.clear();
    return;
  }
  spdlog::warn("a {}-byte result travels inline: {}", out.value.size(), stored.status().message());
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
