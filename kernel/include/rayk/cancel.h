// Cancelling tasks and actor calls, as Ray's ray.cancel:
//
//   rayk::ObjectRef<int> ref = rayk::Task(LongJob).Remote(input);
//   rayk::Cancel(ref);        // rayk::Get(ref) now throws TaskCancelledError
//
//   int LongJob(int input) {
//     for (int step = 0; step < kSteps; ++step) {
//       if (rayk::IsCancelled()) return -1;  // stop early; the result is discarded
//       ...
//     }
//   }
//
// Cancel acts on the task that makes `ref`, wherever it is:
//   - waiting for its arguments or for a worker: dropped, never runs;
//   - pushed to a worker but not started (pipelined behind another): dropped;
//   - running: marked, so that rayk::IsCancelled() inside it turns true (C++
//     cannot interrupt a thread safely, so stopping is the function's choice);
//     with `force`, its worker process is killed instead. Tasks queued behind
//     it on that worker are retried as after any worker death.
// In every case Get(ref) throws TaskCancelledError, even when the function
// ran to its end meanwhile, and a cancelled task is never retried. A task
// that had finished before Cancel keeps its result (Cancel does nothing).
//
// `recursive` (the default, as in Ray) cancels too the tasks and actor calls
// that the cancelled task submitted and that are still pending. Actor calls
// are cancelled the same way, except that `force` is refused for them (it
// would kill the actor and its state: use ActorHandle::Kill). Any process holding
// the ref may cancel: a borrower's Cancel goes to the task's owner.
#pragma once

#include "rayk/internal/api_impl.h"
#include "rayk/object_ref.h"

namespace rayk {

struct CancelOptions {
  bool force = false;     // kill the worker running the task (not for actor calls)
  bool recursive = true;  // cancel the tasks it submitted, too
};

namespace internal {
void CancelObject(const ObjectId& id, const CancelOptions& options);
}  // namespace internal

// Throws RuntimeError for an empty ref, for `force` on an actor call, and
// when the task's owner cannot be reached.
template <class T>
void Cancel(const ObjectRef<T>& ref, CancelOptions options = {}) {
  internal::CancelObject(ref.ID(), options);
}

// Inside a task or actor call: true once it was cancelled. False elsewhere.
bool IsCancelled();

}  // namespace rayk
