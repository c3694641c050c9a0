// The machinery behind rayk/actor.h: finding the process's actor runtime and
// turning its Status results into the exceptions of rayk/errors.h. Argument
// encoding and name lookup are shared with tasks (api_impl.h). Users do not
// include this directly.
#pragma once

#include <string>

#include "rayk/errors.h"
#include "rayk/ids.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/status.h"

namespace rayk::internal {

// The actor side of the current runtime. Throws RuntimeError outside
// Init()/Shutdown() (the same message as every entry point) and for a
// runtime that has no actors, such as the task-only test harness.
inline ActorRuntime& RequireActorRuntime() {
  RequireRuntime();
  ActorRuntime* actors = CurrentActorRuntime();
  if (actors == nullptr) throw RuntimeError("this runtime does not support actors");
  return *actors;
}

// A default-constructed handle names no actor; catching it here gives a
// clear error instead of the runtime's "unknown actor 000...".
inline void RequireActor(const ActorId& id, const char* operation) {
  if (id.IsNil()) throw RuntimeError(std::string(operation) + " on an empty ActorHandle");
}

// The error for a creation the runtime refused. A taken name is the one
// failure users cause and fix themselves, so it is named plainly.
[[noreturn]] inline void ThrowCreateActorError(const Status& status, const std::string& class_name,
                                               const std::string& name) {
  if (status.code() == StatusCode::kAlreadyExists) {
    throw RuntimeError("cannot create actor " + class_name + ": the name '" + name +
                       "' is already taken by another actor (" + status.message() + ")");
  }
  throw RuntimeError("cannot create actor " + class_name + ": " + status.message());
}

// The error for a failed GetActor(name): kNotFound says so in the words users
// search for; anything else (the GCS cannot be reached) keeps its cause.
[[noreturn]] inline void ThrowGetActorError(const Status& status, const std::string& name) {
  if (status.code() == StatusCode::kNotFound) {
    // The runtime's message names the namespace it looked in.
    throw RuntimeError(status.message().empty() ? "no actor named '" + name + "'"
                                                : status.message());
  }
  throw RuntimeError("cannot look up actor '" + name + "': " + status.message());
}

// GetActor<T>: the class an actor was created as must be T exactly; a base
// or an unrelated class would call methods through the wrong type.
inline void CheckActorClass(const std::string& name, const std::string& created_as,
                            const std::string& requested) {
  if (created_as.empty() || created_as == requested) return;  // empty: not recorded
  throw RuntimeError("actor '" + name + "' is a " + created_as + ", not a " + requested +
                     "; call rayk::GetActor<" + created_as + ">(\"" + name + "\")");
}

}  // namespace rayk::internal
