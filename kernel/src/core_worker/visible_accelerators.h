// The accelerator devices this worker's current lease holds: set before each
// task of a lease runs (TaskSpec::accelerators), read by
// rayk::GetAcceleratorIds (rayk/accelerators.h). Thread-safe.
#pragma once

#include <vector>

#include "rpc/common_messages.h"

namespace rayk {

// Sets each accelerator's environment variable to its ids (comma separated,
// empty for none) and remembers them. Nothing changes when `accelerators` is
// empty: an actor's calls carry none and keep its creation's devices.
// Call on the thread that runs tasks, before the task: setenv must not race a
// task's getenv.
void SetVisibleAccelerators(const std::vector<protocol::AcceleratorIds>& accelerators);

}  // namespace rayk
