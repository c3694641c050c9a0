// Installing the process's Runtime (rayk/internal/runtime.h) for the user API.
//
// rayk::Init() sets the runtime it started and rayk::Shutdown() clears it; a
// worker sets its core worker for its whole life; unit tests of the API layer
// install a runtime of their own. CurrentRuntime() (declared in runtime.h) and
// SetCurrentRuntime() are thread-safe; the caller keeps the runtime alive
// while it is installed and must not destroy it while another thread may
// still be using it through CurrentRuntime().
#pragma once

#include "rayk/internal/runtime.h"

namespace rayk::internal {

// Makes `runtime` (or nothing, with null) what CurrentRuntime() returns.
void SetCurrentRuntime(Runtime* runtime);

// CurrentRuntime(), or throws rayk::RuntimeError("rayk is not initialized;
// call rayk::Init() first") when there is none: every user API entry point
// starts here.
Runtime& RequireRuntime();
// The cluster side of the current runtime (nodes, KV, placement groups).
// Throws as RequireRuntime does, and for a runtime without one.
class ClusterRuntime;
ClusterRuntime& RequireClusterRuntime();

}  // namespace rayk::internal
