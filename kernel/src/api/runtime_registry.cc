#include "rayk/internal/runtime_registry.h"

#include <atomic>

#include "rayk/errors.h"

namespace rayk::internal {

namespace {

// Release/acquire: a thread that sees the pointer also sees the runtime's
// construction, which happened before it was installed.
std::atomic<Runtime*> current_runtime{nullptr};

}  // namespace

Runtime* CurrentRuntime() { return current_runtime.load(std::memory_order_acquire); }

void SetCurrentRuntime(Runtime* runtime) {
  current_runtime.store(runtime, std::memory_order_release);
}

Runtime& RequireRuntime() {
  Runtime* runtime = CurrentRuntime();
  if (runtime == nullptr) throw RuntimeError("rayk is not initialized; call rayk::Init() first");
  return *runtime;
}

}  // namespace rayk::internal

namespace rayk::internal {

ActorRuntime* CurrentActorRuntime() { return dynamic_cast<ActorRuntime*>(CurrentRuntime()); }

ClusterRuntime* CurrentClusterRuntime() { return dynamic_cast<ClusterRuntime*>(CurrentRuntime()); }

}  // namespace rayk::internal

namespace rayk::internal {

bool ActorRuntime::ResumeWhenReady(const std::vector<ObjectId>& /*ids*/,
                                   std::function<void()> /*resume*/) {
  throw RuntimeError(
      "co_await of an ObjectRef needs an actor's event loop, which this runtime does not have");
}

std::vector<ObjectId> ActorRuntime::SubmitSplitActorTask(ActorCall call) {
  throw RuntimeError("SetNumReturns(" + std::to_string(call.num_returns) + ") on a call of " +
                     call.method +
                     ": this runtime cannot split an actor call's result; run it on a cluster");
}

ObjectId ActorRuntime::SubmitStreamingActorTask(ActorCall call) {
  throw RuntimeError("a call of " + call.method +
                     ": this runtime runs actors in place and cannot stream a generator's items; "
                     "call it in a cluster (rayk::Init)");
}

}  // namespace rayk::internal

namespace rayk::internal {

Status Runtime::Cancel(const ObjectId& /*id*/, bool /*force*/, bool /*recursive*/) {
  return Status(StatusCode::kUnavailable,
                "this runtime runs tasks in place and cannot cancel them");
}

ObjectId Runtime::SubmitStreamingTask(TaskCall call) {
  throw RuntimeError("rayk::Task(" + call.function +
                     "): this runtime runs tasks in place and cannot stream a generator's items; "
                     "call it in a cluster (rayk::Init)");
}
Result<std::optional<ObjectId>> Runtime::NextStreamItem(const ObjectId& /*stream*/,
                                                        std::chrono::milliseconds /*timeout*/) {
  return Status::InvalidArgument("this runtime has no streaming generators");
}
void Runtime::CloseStream(const ObjectId& /*stream*/) {}

}  // namespace rayk::internal
