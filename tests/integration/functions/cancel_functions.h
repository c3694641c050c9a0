// Remote functions for the cancellation tests (cancel_test.cc), in the same
// test library as test_functions.h. They report what they saw in the
// cluster's KV store (namespace "cancel"), which the test reads: a cancelled
// task's own result is discarded.
#pragma once

#include <rayk/api.h>

#include <string>
#include <vector>

namespace cancel_functions {

// Writes "<key>/started", then waits until rayk::IsCancelled() turns true
// (then writes "<key>/cancelled" and returns 1) or `max_ms` pass (returns 0).
int WaitForCancel(const std::string& key, int64_t max_ms);
// Writes "<key>/ran"; returns 7.
int MarkRan(const std::string& key);
// Submits WaitForCancel("<key>/child", child_max_ms), then waits for its
// own cancellation as WaitForCancel(key, max_ms) does.
int ParentOfWaiter(const std::string& key, int64_t max_ms, int64_t child_max_ms);
// Cancels the task that makes refs[0], which another process owns.
bool CancelBorrowed(std::vector<rayk::ObjectRef<int>> refs, bool force);
// rayk::IsCancelled() in a task nobody cancelled.
bool IsCancelledInTask();

// An actor whose calls can wait for cancellation.
class Waiter {
 public:
  static Waiter* Create();
  int WaitForCancel(const std::string& key, int64_t max_ms);
  int MarkRan(const std::string& key);
};

}  // namespace cancel_functions
