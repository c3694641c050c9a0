#include "core_worker/task_submitter.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/lease_policy.h"
#include "rayk/internal/runtime.h"

namespace rayk {

namespace {

using internal::ErrorInfo;
using protocol::LeaseReply;
using protocol::MessageType;

// Tasks shorter than this (on average) are pipelined: each worker is given
// about kPipelineWindowMicros of them by their average run time, between
// kMinPipelineDepth and kMaxPipelineDepth. Deep enough that a burst of tiny
// tasks amortizes each thread wake-up over many pushes and replies (the
// transport coalesces what is queued together), shallow enough that the
// last worker to finish holds at most a couple of milliseconds of work.
constexpr double kShortTaskMicros = 1000;
constexpr double kPipelineWindowMicros = 2000;
constexpr size_t kMinPipelineDepth = 4;
constexpr size_t kMaxPipelineDepth = 64;
// Tasks given a worker while a request to it is out wait for its answer (or
// the reaper's next round, or this many of them) and leave together, as an
// actor's calls do (actor_submitter.cc).
constexpr size_t kMaxHeldTasks = 64;

size_t PipelineDepth(double avg_run_us) {
  double fits = kPipelineWindowMicros / std::max(avg_run_us, 1.0);
  return std::clamp(static_cast<size_t>(fits), kMinPipelineDepth, kMaxPipelineDepth);
}
// How long a task whose worker could not read an argument waits to hear of
// the argument's node's death (the GCS announces it within its node
// timeout) before it is resolved anew anyway.
constexpr auto kArgumentLossPatience = std::chrono::seconds(10);
// How long a death notice that matched no lease waits for its worker's grant
// (TaskSubmitter::early_deaths_): the two are sent a moment apart.
constexpr auto kEarlyDeathMemory = std::chrono::seconds(60);

void ReturnLease(const std::shared_ptr<Channel>& raylet, uint64_t lease_id) {
  if (raylet) {
    (void)raylet->Send(
        protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease_id, false}));
  }
}

}  // namespace

TaskSubmitter::TaskSubmitter(WorkerContext& context, TaskManager& tasks)
    : context_(context), tasks_(tasks) {}

std::vector<ObjectId> TaskSubmitter::SubmitTask(
    internal::TaskCall call, const std::function<void(const PendingTask&)>& on_added) {
  PendingTask task;
  task.spec.num_returns = call.options.num_returns;
  task.spec.streaming = call.options.streaming;
  task.spec.function = std::move(call.function);
  task.spec.name = std::move(call.options.name);
  task.spec.args = std::move(call.args);
  task.spec.resources = call.options.resources;
  task.spec.max_retries = call.options.max_retries;
  task.retry_exceptions = std::move(call.options.retry_exceptions);
  task.timeout = call.options.timeout;
  // Calls with a timeout get their own workers, one run at a time each.
  // So do streaming calls, whose producers may wait for their callers.
  task.class_key = task.spec.resources.ToJson() + "|" + call.options.placement.Key() +
                   (task.timeout.count() > 0 ? "|timeout" : "") +
                   (task.spec.streaming ? "|streaming" : "");
  task.placement = std::move(call.options.placement);
  tasks_.AssignIds(task);
  const TaskId task_id = task.spec.task_id;
  std::vector<ObjectId> return_ids = task.spec.ReturnIds();
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    PendingTask& stored = tasks_.AddLocked(std::move(task));
    auto [cls, inserted] = classes_.try_emplace(stored.class_key);
    if (inserted) {
      cls->second.resources = stored.spec.resources;
      cls->second.placement = stored.placement;
      cls->second.one_at_a_time = stored.timeout.count() > 0 || stored.spec.streaming;
    }
    if (on_added) on_added(stored);
    tasks_.ResolveArgsLocked(task_id, actions);
  }
  RunActions(actions);
  return return_ids;
}

void TaskSubmitter::TaskReadyLocked(const TaskId& task_id, const PendingTask& task,
                                    Actions& actions) {
  classes_[task.class_key].queue.push_back(task_id);
  DispatchLocked(task.class_key, actions);
}

void TaskSubmitter::CancelLocked(const TaskId& task_id, bool force, bool recursive,
                                 Actions& actions) {
  PendingTask* task = tasks_.FindLocked(task_id);
  if (task == nullptr) return;
  task->cancelled = true;
  if (auto cls = classes_.find(task->class_key); cls != classes_.end()) {
    std::deque<TaskId>& queue = cls->second.queue;
    if (auto queued = std::find(queue.begin(), queue.end(), task_id); queued != queue.end()) {
      queue.erase(queued);
    } else {
      for (auto& [lease_id, worker] : cls->second.workers) {
        if (worker.in_flight.count(task_id) == 0) continue;
        auto held =
            std::find_if(worker.batch.begin(), worker.batch.end(),
                         [&](const protocol::TaskSpec& spec) { return spec.task_id == task_id; });
        if (held != worker.batch.end()) {  // not sent yet
          worker.batch.erase(held);
          worker.in_flight.erase(task_id);
          break;
        }
        // Its worker's reply (or death) ends it, as cancelled.
        SendCancelToWorker(worker.channel, *task, force, recursive, actions);
        return;
      }
    }
  }
  // Waiting for its arguments or for a worker: it never runs.
  tasks_.CompleteLocked(task_id, CancelledValue(*task, "before it ran"), actions);
}

// ---------------------------------------------------------------- pushing

void TaskSubmitter::DispatchLocked(const std::string& class_key, Actions& actions) {
  SchedulingClass& cls = classes_[class_key];
  // Tasks of unknown or long run time go one at a time per leased worker, so
  // they spread over every worker the node grants instead of queueing
  // behind each other. Short ones are pipelined: a worker gets the next while
  // it runs the current, which hides the round trip.
  size_t depth = !cls.one_at_a_time && cls.avg_run_us >= 0 && cls.avg_run_us < kShortTaskMicros
                     ? PipelineDepth(cls.avg_run_us)
                     : 1;
  // Level by level, so that every worker gets its first task before any gets a second.
  for (size_t level = 1; level <= depth && !cls.queue.empty(); ++level) {
    for (auto& [lease_id, worker] : cls.workers) {
      if (cls.queue.empty()) break;
      if (worker.in_flight.size() >= level || (worker.single_task && worker.used)) continue;
      TaskId task_id = cls.queue.front();
      cls.queue.pop_front();
      const PendingTask* task = tasks_.FindLocked(task_id);
      if (task == nullptr) continue;
      PushLocked(worker, task_id, task->spec);
      if (task->timeout.count() > 0) {
        run_deadlines_.emplace(std::chrono::steady_clock::now() + task->timeout,
                               RunDeadline{task_id, task->spec.attempt, class_key});
      }
    }
  }
  for (auto& [lease_id, worker] : cls.workers) {
    if (!worker.batch.empty() &&
        (worker.requests_out == 0 || worker.batch.size() >= kMaxHeldTasks)) {
      SendBatchLocked(class_key, worker, actions);
    }
  }
  int wanted = std::min<int>(static_cast<int>(cls.queue.size()), kMaxLeaseRequests);
  while (cls.lease_requests < wanted) RequestLeaseLocked(class_key, actions);
}

void TaskSubmitter::PushLocked(LeasedWorker& worker, const TaskId& task_id,
                               const protocol::TaskSpec& spec) {
  worker.in_flight.insert(task_id);
  worker.used = true;
  context_.task_events.Forget(task_id, spec.attempt);  // its worker reports it from now on
  worker.batch.push_back(spec);
  worker.batch.back().accelerators = worker.accelerators;
}

void TaskSubmitter::SendBatchLocked(const std::string& class_key, LeasedWorker& worker,
                                    Actions& actions) {
  protocol::PushTasks push{context_.address, worker.stream, std::move(worker.batch)};
  worker.batch.clear();
  ++worker.requests_out;
  std::string message = protocol::Encode(MessageType::kPushTasks, push);
  actions.push_back([this, channel = worker.channel, message = std::move(message), class_key,
                     lease = worker.lease_id, address = worker.address]() mutable {
    channel->Call(
        std::move(message),
        [this, class_key, lease, address](Result<std::string> answer) {
          OnPushReplies(class_key, lease, address, std::move(answer));
        },
        kForever);
  });
}

void TaskSubmitter::OnPushReplies(const std::string& class_key, uint64_t lease_id,
                                  const std::string& address, Result<std::string> answer) {
  if (context_.stopping) return;
  const Status failed = answer.ok() ? Status::Ok() : answer.status();
  std::vector<protocol::PushedTaskReply> replies = PushedReplies(std::move(answer), address);
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    SchedulingClass& cls = classes_[class_key];
    if (auto worker = cls.workers.find(lease_id); worker != cls.workers.end()) {
      --worker->second.requests_out;
      if (!failed.ok()) {
        // The connection to the worker failed (a transport that tells): it
        // is taken for dead, as on its raylet's notice, and its raylet is
        // asked to end it in case it lives on unreachable. Its tasks (still
        // in flight: a failed answer carries no reply) run again.
        const std::shared_ptr<Channel> raylet = worker->second.raylet;
        actions.push_back([raylet, lease_id] {
          if (raylet) {
            (void)raylet->Send(protocol::Encode(MessageType::kReturnWorker,
                                                protocol::ReturnWorker{lease_id, true}));
          }
        });
        LoseWorkerLocked(class_key, lease_id, "the connection to it failed: " + failed.message(),
                         actions);
      }
    }
    for (const protocol::PushedTaskReply& reply : replies) {
      OnPushReplyLocked(reply.task_id, reply.attempt, lease_id, reply.reply, actions);
    }
    DispatchLocked(class_key, actions);
    // The tasks held for this answer leave now; and the replies still due
    // come in answer to a request, so one stays out.
    auto worker = cls.workers.find(lease_id);
    if (worker != cls.workers.end() &&
        (!worker->second.batch.empty() || (!replies.empty() && worker->second.requests_out == 0 &&
                                           !worker->second.in_flight.empty()))) {
      SendBatchLocked(class_key, worker->second, actions);
    }
  }
  RunActions(actions);
}

void TaskSubmitter::OnPushReplyLocked(const TaskId& task_id, int attempt, uint64_t lease_id,
                                      const std::string& reply, Actions& actions) {
  PendingTask* task = tasks_.FindLocked(task_id);
  if (task == nullptr || task->spec.attempt != attempt) return;  // retried meanwhile
  SchedulingClass& cls = classes_[task->class_key];
  auto worker = cls.workers.find(lease_id);
  if (worker != cls.workers.end()) {
    worker->second.in_flight.erase(task_id);
    worker->second.idle_since = std::chrono::steady_clock::now();
    if (worker->second.single_task && worker->second.in_flight.empty()) {
      // One task per lease: the next one asks the scheduler again.
      PushReturnLocked(worker->second.raylet, lease_id, actions);
      cls.workers.erase(worker);
    }
  }
  auto body = protocol::Decode<protocol::PushTaskReply>(reply);
  if (task->cancelled) {
    tasks_.CompleteLocked(task_id, tasks_.CancelledReplyValueLocked(*task, body, actions), actions);
  } else if (body.ok() && body->error && task->retry_exceptions.Matches(*body->error) &&
             internal::AnotherTry(task->spec.attempt, task->spec.max_retries)) {
    // SetRetryExceptions: the task runs again, first in its class's queue.
    ++task->spec.attempt;
    ++context_.faults.task_retries;
    spdlog::warn("task {} threw {}: {}; retry {} of {}", task->spec.function,
                 body->error->remote_type, body->error->message, task->spec.attempt,
                 internal::LimitText(task->spec.max_retries));
    cls.queue.push_front(task_id);
  } else if (body.ok() && body->error && body->error->kind == ErrorInfo::Kind::kObjectLost &&
             internal::AnotherTry(task->spec.attempt, task->spec.max_retries)) {
    // Its worker could not read an argument: the argument's node died.
    // Rather than fail a job whose lineage can make the argument again,
    // the task runs again with its arguments resolved anew, once this
    // process knows of the death (and is making the argument again):
    // resolved before, the argument would point at the dead node again.
    ++task->spec.attempt;
    ++context_.faults.task_retries;
    spdlog::warn("task {} could not read an argument ({}); retry {} of {}", task->spec.function,
                 body->error->message, task->spec.attempt,
                 internal::LimitText(task->spec.max_retries));
    if (ReadsFromDeadNodeLocked(*task)) {
      tasks_.ResolveArgsAgainLocked(task_id, actions);
    } else {
      parked_.emplace(std::chrono::steady_clock::now() + kArgumentLossPatience, task_id);
    }
  } else {
    if (body.ok() && !body->error) {
      // One long task turns pipelining off at once; short ones turn it back on gradually.
      cls.avg_run_us = cls.avg_run_us < 0 || body->run_us >= kShortTaskMicros
                           ? body->run_us
                           : 0.8 * cls.avg_run_us + 0.2 * body->run_us;
    }
    tasks_.CompleteWithReplyLocked(task_id, body, actions);
  }
}

// ---------------------------------------------------------------- leases

void TaskSubmitter::RequestLeaseLocked(const std::string& class_key, Actions& actions) {
  if (!home_node_dead_.empty()) {
    FailClassLocked(class_key, home_node_dead_, actions);
    return;
  }
  SchedulingClass& cls = classes_[class_key];
  ++cls.lease_requests;
  SendLeaseRequestLocked(class_key, LeaseRequestLocked(cls), context_.options.node_id,
                         context_.options.raylet_address, actions);
}

protocol::RequestWorkerLease TaskSubmitter::LeaseRequestLocked(const SchedulingClass& cls) {
  protocol::RequestWorkerLease request;
  request.request_id = next_request_id_++;
  request.job_id = context_.options.job_id;
  request.resources = cls.resources;
  request.owner_address = context_.address;
  request.owner_pid = getpid();
  request.owner_host = context_.host_name;
  request.placement = cls.placement;
  // Locality, as Ray's lease policy does it: where the next task's large
  // arguments already are.
  if (!cls.queue.empty()) {
    if (const PendingTask* task = tasks_.FindLocked(cls.queue.front()); task != nullptr) {
      for (const internal::TaskArg& arg : task->spec.args) {
        if (arg.location.valid()) request.argument_bytes[arg.location.node] += arg.location.size;
      }
    }
  }
  return request;
}

void TaskSubmitter::SendLeaseRequestLocked(const std::string& class_key,
                                           protocol::RequestWorkerLease request, const NodeId& node,
                                           const std::string& raylet_address, Actions& actions) {
  uint64_t request_id = request.request_id;
  if (node != context_.options.node_id && dead_nodes_.count(node) != 0) {
    // A raylet with a stale view spilled it to a node known dead here, whose
    // raylet would never answer: asked at home again (the hop counts).
    return SendLeaseRequestLocked(class_key, std::move(request), context_.options.node_id,
                                  context_.options.raylet_address, actions);
  }
  // Every request is remembered with its node: if that node dies, its raylet
  // will never answer (see OnNodeDead).
  remote_lease_requests_[request_id] = {class_key, node, request.spillbacks};
  WatchNodesLocked(actions);
  std::string message = protocol::Encode(MessageType::kRequestWorkerLease, request);
  actions.push_back(
      [this, class_key, request_id, raylet_address, message = std::move(message)]() mutable {
        SendLeaseRequest(class_key, request_id, raylet_address, std::move(message));
      });
}

void TaskSubmitter::SendLeaseRequest(const std::string& class_key, uint64_t request_id,
                                     const std::string& raylet_address, std::string message) {
  auto raylet = context_.Connect(raylet_address);
  if (!raylet.ok() || !*raylet) {
    OnLeaseReply(class_key, request_id, raylet_address,
                 Status::Unavailable("cannot connect to the raylet at " + raylet_address));
    return;
  }
  (*raylet)->Call(
      std::move(message),
      [this, class_key, request_id, raylet_address](Result<std::string> reply) {
        OnLeaseReply(class_key, request_id, raylet_address, std::move(reply));
      },
      kForever);
}

void TaskSubmitter::OnLeaseReply(const std::string& class_key, uint64_t request_id,
                                 const std::string& raylet_address, Result<std::string> reply) {
  if (context_.stopping) return;
  LeaseOutcome outcome;
  if (reply.ok()) {
    auto body = protocol::Decode<LeaseReply>(*reply);
    if (body.ok()) outcome.lease = std::move(*body);
  }
  outcome.granted = outcome.lease && outcome.lease->result == LeaseReply::Result::kGranted;
  // Channels are connected here, before mu: connecting is a transport call.
  if (auto raylet = context_.Connect(raylet_address); raylet.ok()) outcome.raylet = *raylet;
  if (outcome.granted) {
    if (auto worker = context_.Connect(outcome.lease->worker_address); worker.ok()) {
      outcome.worker = *worker;
    }
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (auto it = remote_lease_requests_.find(request_id); it != remote_lease_requests_.end()) {
      outcome.spillbacks = it->second.spillbacks;
      remote_lease_requests_.erase(it);
    }
    if (abandoned_lease_requests_.erase(request_id)) {
      // Its node was declared dead and the request was made again elsewhere;
      // a grant that still arrives is given back.
      if (outcome.granted) PushReturnLocked(outcome.raylet, outcome.lease->lease_id, actions);
    } else {
      HandleLeaseReplyLocked(class_key, outcome, raylet_address, reply, actions);
    }
  }
  RunActions(actions);
}

void TaskSubmitter::HandleLeaseReplyLocked(const std::string& class_key,
                                           const LeaseOutcome& outcome,
                                           const std::string& raylet_address,
                                           const Result<std::string>& reply, Actions& actions) {
  SchedulingClass& cls = classes_[class_key];
  if (outcome.lease && outcome.lease->result == LeaseReply::Result::kSpillback) {
    // Ask the raylet the plugin chose; the request keeps its place in the
    // count, and its hops are counted so raylets can bound them.
    protocol::RequestWorkerLease request = LeaseRequestLocked(cls);
    request.spillbacks = outcome.spillbacks + 1;
    SendLeaseRequestLocked(class_key, std::move(request), outcome.lease->node_id,
                           outcome.lease->spillback_address, actions);
    return;
  }
  --cls.lease_requests;
  if (outcome.granted && (early_deaths_.erase(outcome.lease->worker_id) != 0 ||
                          dead_nodes_.count(outcome.lease->node_id) != 0)) {
    // Its worker (or node) died before the grant arrived: the raylet has
    // taken the lease back already. Tasks pushed to it would wait forever.
    spdlog::warn("worker pid {} died before its lease reached this process; asking for another",
                 outcome.lease->worker_pid);
    DispatchLocked(class_key, actions);
  } else if (outcome.granted && outcome.worker && !context_.stopping) {
    AddWorkerLocked(class_key, outcome, actions);
  } else if (outcome.granted) {
    PushReturnLocked(outcome.raylet, outcome.lease->lease_id, actions);
  } else if (!reply.ok() && raylet_address != context_.options.raylet_address) {
    // No answer from the raylet a spillback named (a transport that reports
    // a lost connection; its node is dying): asked again at home, as when
    // its node's death is heard of.
    DispatchLocked(class_key, actions);
  } else {
    FailQueueLocked(cls, outcome, raylet_address, reply, actions);
  }
}

void TaskSubmitter::AddWorkerLocked(const std::string& class_key, const LeaseOutcome& outcome,
                                    Actions& actions) {
  const LeaseReply& lease = *outcome.lease;
  LeasedWorker worker;
  worker.lease_id = lease.lease_id;
  worker.worker_id = lease.worker_id;
  worker.address = lease.worker_address;
  worker.pid = lease.worker_pid;
  worker.node_id = lease.node_id;
  worker.channel = outcome.worker;
  worker.raylet = outcome.raylet;
  worker.idle_since = std::chrono::steady_clock::now();
  worker.single_task = !lease.reusable;
  worker.accelerators = lease.accelerators;
  worker.stream = NewPushStream();
  classes_[class_key].workers[lease.lease_id] = std::move(worker);
  DispatchLocked(class_key, actions);
}

void TaskSubmitter::FailQueueLocked(SchedulingClass& cls, const LeaseOutcome& outcome,
                                    const std::string& raylet_address,
                                    const Result<std::string>& reply, Actions& actions) {
  // The raylet could not start a worker (or refused): every queued task of
  // this class fails with the reason rather than waiting forever.
  const std::optional<LeaseReply>& lease = outcome.lease;
  ErrorInfo::Kind kind = lease && lease->result == LeaseReply::Result::kInfeasible
                             ? ErrorInfo::Kind::kUnschedulable
                             : ErrorInfo::Kind::kRuntime;
  std::string reason = lease
                           ? lease->reason
                           : "cannot get a worker lease from the raylet at " + raylet_address +
                                 ": " + (reply.ok() ? "malformed reply" : reply.status().message());
  std::deque<TaskId> queue;
  queue.swap(cls.queue);
  for (const TaskId& task_id : queue) {
    const PendingTask* task = tasks_.FindLocked(task_id);
    if (task == nullptr) continue;
    std::string where = "task " + task->spec.function;
    std::string message = kind == ErrorInfo::Kind::kUnschedulable
                              ? "task " + task->spec.function + " demands " +
                                    task->spec.resources.ToJson() +
                                    ", which no node can provide: " + reason
                              : reason;
    tasks_.CompleteLocked(task_id, ErrorValue(kind, message, where), actions);
  }
}

void TaskSubmitter::PushReturnLocked(const std::shared_ptr<Channel>& raylet, uint64_t lease_id,
                                     Actions& actions) {
  if (!raylet) return;
  actions.push_back([raylet, lease_id] { ReturnLease(raylet, lease_id); });
}

void TaskSubmitter::ReturnIdleLeases() {
  std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>> idle, kills;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto now = std::chrono::steady_clock::now();
    if (!run_deadlines_.empty() && run_deadlines_.begin()->first <= now) {
      ExpireRunsLocked(kills, actions);
    }
    std::vector<TaskId> unparked;
    while (!parked_.empty() && parked_.begin()->first <= now) {
      unparked.push_back(parked_.begin()->second);
      parked_.erase(parked_.begin());
    }
    UnparkLocked(unparked, actions);
    for (auto it = early_deaths_.begin(); it != early_deaths_.end();) {
      it = now - it->second > kEarlyDeathMemory ? early_deaths_.erase(it) : std::next(it);
    }
    for (auto& [key, cls] : classes_) {
      for (auto& [lease_id, worker] : cls.workers) {
        if (!worker.batch.empty()) SendBatchLocked(key, worker, actions);  // held
      }
    }
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
  for (auto& [lease, raylet] : idle) ReturnLease(raylet, lease);
  for (auto& [lease, raylet] : kills) {
    // The raylet SIGKILLs the worker (a stopped one too) and frees its lease.
    if (raylet) {
      (void)raylet->Send(
          protocol::Encode(MessageType::kReturnWorker, protocol::ReturnWorker{lease, true}));
    }
  }
  RunActions(actions);
}

bool TaskSubmitter::ReadsFromDeadNodeLocked(const PendingTask& task) const {
  return std::any_of(
      task.spec.args.begin(), task.spec.args.end(), [&](const internal::TaskArg& arg) {
        return !arg.is_ref && arg.location.valid() && dead_nodes_.count(arg.location.node) != 0;
      });
}

void TaskSubmitter::UnparkLocked(const std::vector<TaskId>& task_ids, Actions& actions) {
  for (const TaskId& task_id : task_ids) {
    PendingTask* task = tasks_.FindLocked(task_id);
    if (task == nullptr) continue;
    if (task->cancelled) {
      tasks_.CompleteLocked(task_id, CancelledValue(*task, "while it waited to run again"),
                            actions);
    } else {
      tasks_.ResolveArgsAgainLocked(task_id, actions);
    }
  }
}

void TaskSubmitter::ExpireRunsLocked(
    std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>>& kills, Actions& actions) {
  auto now = std::chrono::steady_clock::now();
  while (!run_deadlines_.empty() && run_deadlines_.begin()->first <= now) {
    RunDeadline run = std::move(run_deadlines_.begin()->second);
    run_deadlines_.erase(run_deadlines_.begin());
    const PendingTask* task = tasks_.FindLocked(run.task_id);
    if (task == nullptr || task->spec.attempt != run.attempt) continue;  // done or retried
    SchedulingClass& cls = classes_[run.class_key];
    for (auto& [lease_id, worker] : cls.workers) {
      if (worker.in_flight.count(run.task_id) == 0) continue;
      std::string reason = "task " + task->spec.function + " did not finish within its " +
                           std::to_string(task->timeout.count()) +
                           " ms timeout (SetTimeout); its worker pid " +
                           std::to_string(worker.pid) + " was killed";
      kills.emplace_back(lease_id, worker.raylet);
      LoseWorkerLocked(run.class_key, lease_id, reason, actions, ErrorInfo::Kind::kTaskTimedOut);
      break;
    }
  }
}

void TaskSubmitter::ReturnAllLeases() {
  std::vector<std::pair<uint64_t, std::shared_ptr<Channel>>> leases;
  std::shared_ptr<GcsSubscription> subscription;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (auto& [key, cls] : classes_) {
      for (auto& [lease_id, worker] : cls.workers) leases.emplace_back(lease_id, worker.raylet);
      cls.workers.clear();
    }
    subscription.swap(node_subscription_);
  }
  subscription.reset();  // without mu: its handler may be waiting for it
  // Given back at once so the raylet can reuse the workers.
  for (auto& [lease, raylet] : leases) ReturnLease(raylet, lease);
}

// ---------------------------------------------------------------- lost workers

void TaskSubmitter::WatchNodesLocked(Actions& actions) {
  if (watching_nodes_) return;
  watching_nodes_ = true;
  actions.push_back([this] { SubscribeToNodeDeaths(); });
}

void TaskSubmitter::SubscribeToNodeDeaths() {
  auto subscription = GcsSubscription::Start(
      *context_.transport, *context_.gcs, {"node"},
      [this](const std::string&, std::string payload) {
        auto node = protocol::Decode<protocol::RegisterNode>(payload);
        if (node.ok() && !node->node.alive) OnNodeDead(node->node.node_id, node->node.death_cause);
      },
      // A death published while nobody listened (before the subscription
      // connected, or while the GCS moved) is in the status.
      [this](const protocol::ClusterStatus& status) {
        for (const protocol::NodeInfo& node : status.nodes) {
          if (!node.alive) OnNodeDead(node.node_id, node.death_cause);
        }
      });
  if (!subscription.ok()) {
    spdlog::warn("cannot subscribe to node deaths (they will go unnoticed): {}",
                 subscription.status().message());
    return;
  }
  std::lock_guard<std::mutex> lock(context_.mu);
  node_subscription_ = std::move(*subscription);
}

void TaskSubmitter::FollowGcs() {
  std::shared_ptr<GcsSubscription> subscription;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    subscription = node_subscription_;
  }
  if (subscription) subscription->Check();
}

void TaskSubmitter::FailClassLocked(const std::string& class_key, const std::string& reason,
                                    Actions& actions) {
  LeaseOutcome outcome;
  outcome.lease = LeaseReply{};
  outcome.lease->result = LeaseReply::Result::kFailed;
  outcome.lease->reason = reason;
  FailQueueLocked(classes_[class_key], outcome, context_.options.raylet_address,
                  Result<std::string>(std::string()), actions);
}

void TaskSubmitter::OnNodeDead(const NodeId& node, const std::string& cause) {
  if (context_.stopping) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    std::string reason = "its node " + node.Hex().substr(0, 8) + " died: " + cause;
    const bool home = node == context_.options.node_id;
    if (!dead_nodes_.insert(node).second) return;  // heard already (a catch-up repeats it)
    if (home && home_node_dead_.empty()) {
      home_node_dead_ = "this process's node " + node.Hex().substr(0, 8) + " (raylet " +
                        context_.options.raylet_address + ") died (" + cause +
                        "), so no task of it can get a worker; start the driver again to attach "
                        "to a live node";
      spdlog::error("{}", home_node_dead_);
    }
    for (auto& [class_key, cls] : classes_) {
      std::vector<uint64_t> gone;
      for (const auto& [lease_id, worker] : cls.workers) {
        if (worker.node_id == node) gone.push_back(lease_id);
      }
      for (uint64_t lease_id : gone) LoseWorkerLocked(class_key, lease_id, reason, actions);
    }
    // Results kept in its store whose tasks can run again are made again.
    if (!home) {
      tasks_.RebuildObjectsOnNodeLocked(node, /*node_dead=*/true, actions);
      tasks_.references().MarkLostOnNodeLocked(node, cause, actions);
      // Queued and parked tasks that would read an argument there resolve
      // it anew: it is being made again (or failed), and a worker sent to
      // read it from the dead node would fail.
      std::vector<TaskId> again;
      for (auto it = parked_.begin(); it != parked_.end();) {
        PendingTask* task = tasks_.FindLocked(it->second);
        if (task == nullptr || ReadsFromDeadNodeLocked(*task)) {
          if (task != nullptr) again.push_back(it->second);
          it = parked_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& [class_key, cls] : classes_) {
        for (auto it = cls.queue.begin(); it != cls.queue.end();) {
          PendingTask* task = tasks_.FindLocked(*it);
          if (task == nullptr || !ReadsFromDeadNodeLocked(*task)) {
            ++it;
            continue;
          }
          again.push_back(*it);
          it = cls.queue.erase(it);
        }
      }
      // Resolving may queue a task at once: not while the queues are walked.
      UnparkLocked(again, actions);
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
      // A request to another node is made again from here; one to this
      // process's own node has nowhere to go.
      if (home) {
        FailClassLocked(class_key, home_node_dead_, actions);
      } else {
        DispatchLocked(class_key, actions);
      }
    }
  }
  RunActions(actions);
}

void TaskSubmitter::OnWorkerDied(const protocol::WorkerDied& died) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    bool matched = false;
    for (auto& [class_key, cls] : classes_) {
      auto worker = cls.workers.find(died.lease_id);
      if (worker == cls.workers.end() || worker->second.worker_id != died.worker_id) continue;
      LoseWorkerLocked(class_key, died.lease_id, died.reason, actions);
      matched = true;
      break;
    }
    // A lease given back already, or one whose grant is still on its way.
    if (!matched) early_deaths_[died.worker_id] = std::chrono::steady_clock::now();
  }
  RunActions(actions);
}

void TaskSubmitter::LoseWorkerLocked(const std::string& class_key, uint64_t lease_id,
                                     const std::string& reason, Actions& actions,
                                     ErrorInfo::Kind kind) {
  SchedulingClass& cls = classes_[class_key];
  auto worker = cls.workers.find(lease_id);
  if (worker == cls.workers.end()) return;
  std::unordered_set<TaskId> lost = std::move(worker->second.in_flight);
  const int64_t pid = worker->second.pid;
  cls.workers.erase(worker);
  for (const TaskId& task_id : lost) {
    PendingTask* task = tasks_.FindLocked(task_id);
    if (task == nullptr) continue;
    protocol::TaskSpec& spec = task->spec;
    if (task->cancelled) {
      tasks_.CompleteLocked(
          task_id,
          CancelledValue(*task, "its worker pid " + std::to_string(pid) + " ended: " + reason),
          actions);
    } else if (internal::AnotherTry(spec.attempt, spec.max_retries)) {
      ++spec.attempt;
      ++context_.faults.task_retries;
      spdlog::warn("task {} lost its worker ({}); retry {} of {}", spec.function, reason,
                   spec.attempt, internal::LimitText(spec.max_retries));
      cls.queue.push_front(task_id);
    } else {
      std::string message =
          kind == ErrorInfo::Kind::kTaskTimedOut
              ? reason + ", after " + std::to_string(spec.max_retries) + " retries"
              : "the worker running task " + spec.function + " died (" + reason + ") after " +
                    std::to_string(spec.max_retries) + " retries";
      tasks_.CompleteLocked(task_id, ErrorValue(kind, message), actions);
    }
  }
  DispatchLocked(class_key, actions);
}

// ---------------------------------------------------------------- diagnostics

std::string TaskSubmitter::DescribeWaitsLocked() const {
  std::string text;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [class_key, cls] : classes_) {
    if (cls.queue.empty() && cls.workers.empty() && cls.lease_requests == 0) continue;
    text += "  class " + class_key + ": " + std::to_string(cls.queue.size()) + " queued, " +
            std::to_string(cls.lease_requests) + " lease requests out\n";
    for (const auto& [lease_id, worker] : cls.workers) {
      const auto idle =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - worker.idle_since);
      text += "    lease " + std::to_string(lease_id) + ": worker pid " +
              std::to_string(worker.pid) + " on node " + worker.node_id.Hex().substr(0, 8) +
              (dead_nodes_.count(worker.node_id) ? " (dead)" : "") + ", " +
              std::to_string(worker.in_flight.size()) + " tasks in flight, last reply " +
              std::to_string(idle.count()) + " ms ago\n";
    }
  }
  for (const auto& [request_id, request] : remote_lease_requests_) {
    text += "  lease request " + std::to_string(request_id) + " at node " +
            request.node.Hex().substr(0, 8) + (dead_nodes_.count(request.node) ? " (dead)" : "") +
            " after " + std::to_string(request.spillbacks) + " spillbacks\n";
  }
  return "submitter: " + std::to_string(parked_.size()) + " tasks parked after a lost argument, " +
         std::to_string(dead_nodes_.size()) + " nodes heard dead, " +
         std::to_string(abandoned_lease_requests_.size()) + " lease requests abandoned\n" + text;
}

}  // namespace rayk
