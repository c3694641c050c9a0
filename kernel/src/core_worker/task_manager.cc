#include "core_worker/task_manager.h"

namespace rayk {

using internal::ErrorInfo;
using internal::ObjectValue;

TaskManager::TaskManager(WorkerContext& context, ReferenceCounter& references, ReadyFn on_ready)
    : context_(context), references_(references), on_ready_(std::move(on_ready)) {}

void TaskManager::AssignIds(PendingTask& task) const {
  task.spec.task_id = TaskId::FromRandom();
  task.spec.job_id = context_.options.job_id;
  task.spec.return_id = ObjectId::FromRandom();
  task.spec.owner_address = context_.address;
}

PendingTask& TaskManager::AddLocked(PendingTask task) {
  references_.AddTaskReturnLocked(task.spec.return_id);
  for (const internal::TaskArg& arg : task.spec.args) {
    if (!arg.is_ref) continue;
    task.arg_refs.push_back(arg.ref);
    references_.AddTaskArgLocked(arg.ref, arg.owner_address);
    ++task.unresolved;
  }
  const TaskId task_id = task.spec.task_id;
  return tasks_[task_id] = std::move(task);
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
  if (--task.unresolved == 0) on_ready_(task_id, task, actions);
}

PendingTask* TaskManager::FindLocked(const TaskId& task_id) {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : &it->second;
}

void TaskManager::CompleteLocked(const TaskId& task_id, ObjectValue value, Actions& actions) {
  auto task = tasks_.find(task_id);
  if (task == tasks_.end()) return;
  ObjectId return_id = task->second.spec.return_id;
  std::vector<ObjectId> arg_refs = std::move(task->second.arg_refs);
  tasks_.erase(task);
  references_.SetValueLocked(return_id, std::move(value), actions);
  references_.MaybeFreeLocked(return_id, actions);
  for (const ObjectId& ref : arg_refs) references_.RemoveTaskArgLocked(ref, actions);
}

ObjectValue TaskManager::ReplyValueLocked(Result<protocol::PushTaskReply>& body,
                                          const ObjectId& return_id, Actions& actions) {
  if (!body.ok()) return ErrorValue(ErrorInfo::Kind::kRuntime, body.status().message());
  if (body->error) return ObjectValue{nullptr, body->error};
  if (!body->location.valid()) return ValueOf(std::move(body->value));
  return references_.StoredResultLocked(return_id, body->location, actions);
}

}  // namespace rayk
