#include "core_worker/task_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

namespace rayk {

using internal::ErrorInfo;
using internal::ObjectValue;

TaskManager::TaskManager(WorkerContext& context, ReferenceCounter& references, ReadyFn on_ready)
    : context_(context), references_(references), on_ready_(std::move(on_ready)) {
  references_.SetLineageHooks(
      [this](const ObjectId& id, Actions& actions) { ForgetLineageLocked(id, actions); },
      [this](const NodeId& node, Actions& actions) {
        // A Get could not read there: the node may be alive (and the failure
        // passing), so it is not taken for dead.
        return RebuildObjectsOnNodeLocked(node, /*node_dead=*/false, actions);
      });
}

void TaskManager::AssignIds(PendingTask& task) const {
  task.spec.task_id = TaskId::FromRandom();
  task.spec.job_id = context_.options.job_id;
  task.spec.return_id = ObjectId::FromRandom();
  task.spec.more_return_ids.clear();
  for (uint32_t i = 1; i < task.spec.num_returns; ++i) {
    task.spec.more_return_ids.push_back(ObjectId::FromRandom());
  }
  task.spec.owner_address = context_.address;
  if (current_task_ != nullptr) task.parent = current_task_();
}

PendingTask& TaskManager::AddLocked(PendingTask task) {
  references_.AddTaskReturnLocked(task.spec.return_id);
  for (const ObjectId& id : task.spec.more_return_ids) {
    references_.AddTaskReturnLocked(id);
    by_return_[id] = task.spec.task_id;
  }
  for (const internal::TaskArg& arg : task.spec.args) {
    if (!arg.is_ref) continue;
    task.arg_refs.push_back(arg.ref);
    references_.AddTaskArgLocked(arg.ref, arg.owner_address);
    ++task.unresolved;
  }
  // References serialized inside the arguments (a struct holding refs): held
  // as the top-level ones are, until the task ends, so that the worker
  // decoding them registers as their borrower before they can go.
  references_.HoldSerializedReferencesForTaskLocked(task.arg_refs);
  const TaskId task_id = task.spec.task_id;
  by_return_[task.spec.return_id] = task_id;
  NotePendingLocked(task.spec,
                    task.unresolved > 0 ? "PENDING_ARGS_AVAIL" : "PENDING_NODE_ASSIGNMENT");
  return tasks_[task_id] = std::move(task);
}

void TaskManager::NotePendingLocked(const protocol::TaskSpec& spec, const char* state) {
  // Nil node and pid 0: no worker has it yet. Reported only if it waits a
  // period (task_event_reporter.h), so a task that runs at once costs no event.
  if (!context_.task_events.enabled()) return;
  context_.task_events.Started(observability::TaskEventOf(
      spec, state, NodeId::Nil(), 0, observability::TaskEventReporter::NowUs(), 0));
}

void TaskManager::ResolveArgsLocked(const TaskId& task_id, Actions& actions) {
  PendingTask* task = FindLocked(task_id);
  if (task == nullptr) return;
  if (task->unresolved == 0) {
    on_ready_(task_id, *task, actions);
    return;
  }
  size_t num_args = task->spec.args.size();
  for (size_t i = 0; i < num_args; ++i) {
    task = FindLocked(task_id);
    if (task == nullptr) break;  // a failed dependency already completed it
    if (task->spec.args[i].is_ref) ResolveArgLocked(task_id, i, actions);
  }
}

void TaskManager::ResolveArgLocked(const TaskId& task_id, size_t arg_index, Actions& actions) {
  auto task_it = tasks_.find(task_id);
  if (task_it == tasks_.end()) return;
  const ObjectId ref = task_it->second.spec.args[arg_index].ref;
  ReferenceCounter::ObjectEntry& entry = references_.EntryLocked(ref);
  if (entry.owned && entry.value && IsInStoreMark(*entry.value) &&
      dead_nodes_.count(entry.location.node) != 0) {
    // Lost with its node and left there while nothing needed it: it is
    // made again now, and this task waits for it.
    RebuildLocked(ref, entry.location.node, actions);
    task_it = tasks_.find(task_id);  // the rebuild added a task
    if (task_it == tasks_.end()) return;
  }
  if (!entry.value) {
    entry.on_ready.push_back([this, task_id, arg_index] {
      Actions after;
      {
        std::lock_guard<std::mutex> lock(context_.mu);
        ResolveArgLocked(task_id, arg_index, after);
      }
      RunActions(after);
    });
    if (!entry.owned) references_.FetchLocked(ref, actions);
    return;
  }
  PendingTask& task = task_it->second;
  if (entry.value->error) {
    // A failed dependency fails the task without running it, as in Ray.
    CompleteLocked(task_id, *entry.value, actions);
    return;
  }
  internal::TaskArg& arg = task.spec.args[arg_index];
  arg.is_ref = false;
  if (IsInStoreMark(*entry.value)) {
    arg.location = entry.location;  // the executor reads it from its node's store
  } else {
    arg.value = std::string(BytesOf(*entry.value));
  }
  if (--task.unresolved == 0) {
    NotePendingLocked(task.spec, "PENDING_NODE_ASSIGNMENT");
    on_ready_(task_id, task, actions);
  }
}

PendingTask* TaskManager::FindLocked(const TaskId& task_id) {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : &it->second;
}

TaskId TaskManager::TaskMakingLocked(const ObjectId& return_id) const {
  auto it = by_return_.find(return_id);
  return it == by_return_.end() ? TaskId() : it->second;
}

std::vector<TaskId> TaskManager::ChildrenLocked(const TaskId& parent) const {
  std::vector<TaskId> children;
  if (parent.IsNil()) return children;
  for (const auto& [task_id, task] : tasks_) {
    if (task.parent == parent) children.push_back(task_id);
  }
  return children;
}

internal::ObjectValue CancelledValue(const PendingTask& task, const std::string& how) {
  const protocol::TaskSpec& spec = task.spec;
  std::string what = spec.actor_id.IsNil() ? "task " : "actor call ";
  what += spec.name.empty() ? spec.function : spec.name;
  return ErrorValue(ErrorInfo::Kind::kTaskCancelled, what + " was cancelled (" + how + ")");
}

uint64_t NewPushStream() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::vector<protocol::PushedTaskReply> PushedReplies(Result<std::string> answer,
                                                     const std::string& worker) {
  if (!answer.ok()) return {};  // the worker's death (or the actor's watch) settles its tasks
  auto body = protocol::Decode<protocol::PushTasksReply>(*answer);
  if (!body.ok()) {
    spdlog::error("dropped a malformed answer to pushed tasks from worker {}: {}", worker,
                  body.status().message());
    return {};
  }
  return std::move(body->replies);
}

void SendCancelToWorker(const std::shared_ptr<Channel>& worker, const PendingTask& task, bool force,
                        bool recursive, Actions& actions) {
  if (!worker) return;
  protocol::CancelTask cancel{task.spec.return_id, task.spec.task_id, force, recursive, true};
  actions.push_back(
      [worker, message = protocol::Encode(protocol::MessageType::kCancelTask, cancel)]() mutable {
        (void)worker->Send(std::move(message));
      });
}

void TaskManager::CompleteLocked(const TaskId& task_id, ObjectValue value, Actions& actions) {
  auto task = tasks_.find(task_id);
  if (task == tasks_.end()) return;
  std::vector<ObjectValue> values(1 + task->second.spec.more_return_ids.size(), value);
  values[0] = std::move(value);
  CompleteEachLocked(task_id, std::move(values), actions);
}

void TaskManager::CompleteEachLocked(const TaskId& task_id, std::vector<ObjectValue> values,
                                     Actions& actions) {
  auto task = tasks_.find(task_id);
  if (task == tasks_.end()) return;
  const protocol::TaskSpec& spec = task->second.spec;
  if (context_.task_events.Forget(spec.task_id, spec.attempt) && values[0].error) {
    // It ended without reaching a worker (cancelled, unschedulable, an
    // argument lost) and was listed as pending: the owner says how it ended.
    protocol::TaskEvent failed = observability::TaskEventOf(spec, "FAILED", NodeId::Nil(), 0, 0, 0);
    failed.end_us = observability::TaskEventReporter::NowUs();
    failed.error = values[0].error->message;
    context_.task_events.Finished(std::move(failed));
  }
  const std::vector<ObjectId> return_ids = spec.ReturnIds();
  const bool in_store = !values[0].error && IsInStoreMark(values[0]);
  for (size_t i = 0; i < return_ids.size(); ++i) {
    by_return_.erase(return_ids[i]);
    references_.SetValueLocked(return_ids[i], std::move(values[i]), actions);
  }
  std::vector<ObjectId> arg_refs;
  if (!in_store || !KeepLineageLocked(task->second)) arg_refs = std::move(task->second.arg_refs);
  tasks_.erase(task);
  for (const ObjectId& id : return_ids) references_.MaybeFreeLocked(id, actions);
  for (const ObjectId& ref : arg_refs) references_.RemoveTaskArgLocked(ref, actions);
}

void TaskManager::CompleteWithReplyLocked(const TaskId& task_id,
                                          Result<protocol::PushTaskReply>& body, Actions& actions) {
  PendingTask* task = FindLocked(task_id);
  if (task == nullptr) return;
  if (body.ok()) AdoptContainedLocked(task->spec, body->contained, !body->error, actions);
  if (!body.ok()) {
    CompleteLocked(task_id, ErrorValue(ErrorInfo::Kind::kRuntime, body.status().message()),
                   actions);
    return;
  }
  if (body->error) {
    CompleteLocked(task_id, ObjectValue{nullptr, body->error}, actions);
    return;
  }
  const protocol::TaskSpec& spec = task->spec;
  if (body->more_returns.size() != spec.more_return_ids.size()) {
    CompleteLocked(task_id,
                   ErrorValue(ErrorInfo::Kind::kRuntime,
                              "the worker sent " + std::to_string(body->more_returns.size() + 1) +
                                  " results of " + spec.function + " where its call has " +
                                  std::to_string(spec.more_return_ids.size() + 1)),
                   actions);
    return;
  }
  std::vector<ObjectValue> values;
  values.reserve(1 + body->more_returns.size());
  values.push_back(ResultValueLocked(spec.return_id, body->value, body->location, actions));
  for (size_t i = 0; i < body->more_returns.size(); ++i) {
    protocol::ReturnValue& more = body->more_returns[i];
    values.push_back(
        ResultValueLocked(spec.more_return_ids[i], more.value, more.location, actions));
  }
  CompleteEachLocked(task_id, std::move(values), actions);
}

// ---------------------------------------------------------------- lineage

bool TaskManager::KeepLineageLocked(PendingTask& task) {
  using Lineage = ReferenceCounter::ObjectEntry::Lineage;
  const protocol::TaskSpec& spec = task.spec;
  ReferenceCounter::ObjectEntry* result = references_.FindLocked(spec.return_id);
  if (!spec.more_return_ids.empty()) {
    // Its results are freed one by one, and a re-run must make all of them:
    // such a task's lineage is not kept (the lost results' errors say so).
    for (const ObjectId& id : spec.more_return_ids) {
      if (ReferenceCounter::ObjectEntry* more = references_.FindLocked(id)) {
        more->lineage = Lineage::kSplitResults;
      }
    }
    if (result != nullptr) result->lineage = Lineage::kSplitResults;
    return false;
  }
  if (result == nullptr) return false;  // nobody holds it: freed right after
  if (!spec.actor_id.IsNil() || spec.creates_actor) {
    result->lineage = Lineage::kActorCall;
    return false;
  }
  if (!internal::AnotherTry(spec.attempt, spec.max_retries)) {
    result->lineage = Lineage::kNoRetriesLeft;
    return false;
  }
  if (lineage_.size() >= context_.options.max_lineage_tasks) {
    result->lineage = Lineage::kLimitReached;
    return false;
  }
  result->lineage = Lineage::kKept;
  lineage_[spec.return_id] = std::move(task);
  return true;
}

void TaskManager::ForgetLineageLocked(const ObjectId& return_id, Actions& actions) {
  forget_queue_.push_back(return_id);
  if (forgetting_) return;  // the loop below, further up the stack, takes it
  forgetting_ = true;
  while (!forget_queue_.empty()) {
    ObjectId id = forget_queue_.back();
    forget_queue_.pop_back();
    auto it = lineage_.find(id);
    if (it == lineage_.end()) continue;
    std::vector<ObjectId> arg_refs = std::move(it->second.arg_refs);
    lineage_.erase(it);
    for (const ObjectId& ref : arg_refs) references_.RemoveTaskArgLocked(ref, actions);
  }
  forgetting_ = false;
}

bool TaskManager::RebuildObjectsOnNodeLocked(const NodeId& node, bool node_dead, Actions& actions) {
  if (node_dead) dead_nodes_.insert(node);
  std::vector<ObjectId> lost;
  for (const auto& [id, task] : lineage_) {
    const ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id);
    if (entry != nullptr && entry->value && IsInStoreMark(*entry->value) &&
        entry->location.node == node) {
      lost.push_back(id);
    }
  }
  if (lost.empty()) return false;
  // Only what something needs is made again now: an object held here, by
  // a borrower or by a task still to run. One that only the kept tasks of
  // other objects hold (an input already consumed) is left as it is, and
  // made again when such a task runs again and needs it (ResolveArgLocked),
  // as Ray does: rebuilding every result a dead node held would re-run a
  // third of a finished job at each node death.
  std::unordered_map<ObjectId, int> held_by_lineage;
  for (const ObjectId& id : lost) held_by_lineage[id] = 0;
  for (const auto& [id, task] : lineage_) {
    for (const ObjectId& ref : task.arg_refs) {
      if (auto held = held_by_lineage.find(ref); held != held_by_lineage.end()) ++held->second;
    }
  }
  std::vector<ObjectId> needed;
  for (const ObjectId& id : lost) {
    const ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id);
    if (entry->local_refs > 0 || !entry->borrowers.empty() ||
        entry->task_refs > held_by_lineage[id]) {
      needed.push_back(id);
    }
  }
  // Every needed value is unset before any task is resolved again, so that
  // a task whose argument was lost with it waits for that argument's rebuild.
  for (const ObjectId& id : needed) {
    ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id);
    entry->value.reset();
  }
  for (const ObjectId& id : needed) RebuildLocked(id, node, actions);
  return !needed.empty();
}

void TaskManager::RebuildLocked(const ObjectId& id, NodeId node, Actions& actions) {
  auto kept = lineage_.find(id);
  if (kept == lineage_.end()) return;
  ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id);
  if (entry != nullptr) {
    entry->value.reset();
    entry->location = {};
  }
  PendingTask task = std::move(kept->second);
  lineage_.erase(kept);
  ++task.spec.attempt;
  ++context_.faults.objects_reconstructed;
  spdlog::warn("object {} was lost with node {}: running task {} again to make it (retry {} of {})",
               id.Hex(), node.Hex().substr(0, 8), task.spec.function, task.spec.attempt,
               internal::LimitText(task.spec.max_retries));
  // Its top-level reference arguments are resolved anew: one may have
  // been lost too (it is then made again first), or be on another node now.
  const TaskId task_id = task.spec.task_id;
  by_return_[task.spec.return_id] = task_id;
  tasks_[task_id] = std::move(task);
  ResolveArgsAgainLocked(task_id, actions);
}

void TaskManager::ResolveArgsAgainLocked(const TaskId& task_id, Actions& actions) {
  PendingTask* task = FindLocked(task_id);
  if (task == nullptr) return;
  task->unresolved = 0;
  for (internal::TaskArg& arg : task->spec.args) {
    if (arg.ref.IsNil() ||
        std::find(task->arg_refs.begin(), task->arg_refs.end(), arg.ref) == task->arg_refs.end()) {
      continue;
    }
    arg.is_ref = true;
    arg.value.clear();
    arg.location = {};
    ++task->unresolved;
  }
  ResolveArgsLocked(task_id, actions);
}

ObjectValue TaskManager::ResultValueLocked(const ObjectId& id, std::string& value,
                                           const internal::StoreLocation& location,
                                           Actions& actions) {
  if (!location.valid()) return ValueOf(std::move(value));
  return references_.StoredResultLocked(id, location, actions);
}

void TaskManager::AdoptContainedLocked(const protocol::TaskSpec& spec,
                                       const std::vector<protocol::ContainedRef>& contained,
                                       bool results_kept, Actions& actions) {
  if (contained.empty()) return;
  // Before the task's arguments go (CompleteEachLocked): a reference handed
  // back may be one of them, held by nothing else.
  std::vector<ObjectId> holders;
  if (results_kept) {
    if (references_.FindLocked(spec.return_id) != nullptr) holders.push_back(spec.return_id);
    for (const ObjectId& id : spec.more_return_ids) {
      if (references_.FindLocked(id) != nullptr) holders.push_back(id);
    }
  }
  references_.AdoptContainedLocked(contained, holders, actions);
}

ObjectValue TaskManager::CancelledReplyValueLocked(const PendingTask& task,
                                                   Result<protocol::PushTaskReply>& body,
                                                   Actions& actions) {
  // What it returned is discarded, and with it the references inside.
  if (body.ok()) AdoptContainedLocked(task.spec, body->contained, /*results_kept=*/false, actions);
  if (body.ok() && body->error && body->error->kind == ErrorInfo::Kind::kTaskCancelled) {
    return ObjectValue{nullptr, body->error};
  }
  if (body.ok() && body->location.valid()) {
    (void)references_.StoredResultLocked(task.spec.return_id, body->location, actions);
  }
  for (size_t i = 0;
       body.ok() && i < body->more_returns.size() && i < task.spec.more_return_ids.size(); ++i) {
    if (body->more_returns[i].location.valid()) {
      (void)references_.StoredResultLocked(task.spec.more_return_ids[i],
                                           body->more_returns[i].location, actions);
    }
  }
  return CancelledValue(task, "while it ran; what it returned or threw was discarded");
}

// ---------------------------------------------------------------- diagnostics

std::string TaskManager::DescribeWaitsLocked() {
  constexpr size_t kShown = 20;
  size_t waiting = 0;
  std::string shown;
  for (const auto& [task_id, task] : tasks_) {
    if (task.unresolved == 0) continue;
    if (++waiting > kShown) continue;
    shown += "  task " + task.spec.function + " " + task_id.Hex().substr(0, 8) + " (attempt " +
             std::to_string(task.spec.attempt) + ") waits for";
    for (const internal::TaskArg& arg : task.spec.args) {
      if (!arg.is_ref) continue;
      const ReferenceCounter::ObjectEntry* entry = references_.FindLocked(arg.ref);
      shown += " " + arg.ref.Hex().substr(0, 8) + ":";
      if (entry == nullptr) {
        shown += "unknown";
      } else if (entry->value) {
        shown += "has a value";
      } else if (!entry->owned) {
        shown += std::string("borrowed, ") + (entry->fetching ? "fetching" : "not fetched");
      } else if (TaskId maker = TaskMakingLocked(arg.ref); !maker.IsNil()) {
        shown += "made by " + maker.Hex().substr(0, 8);
      } else {
        shown += lineage_.count(arg.ref) ? "kept lineage, not running" : "nothing makes it";
      }
    }
    shown += "\n";
  }
  return "owner: " + std::to_string(tasks_.size()) + " pending tasks, " + std::to_string(waiting) +
         " waiting for arguments, " + std::to_string(lineage_.size()) + " kept for lineage\n" +
         shown;
}

}  // namespace rayk
