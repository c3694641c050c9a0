#include "cancel_functions.h"

#include <chrono>
#include <thread>

namespace cancel_functions {

namespace {

constexpr const char* kNamespace = "cancel";

void Mark(const std::string& key, const std::string& what) {
  rayk::KvPut(key + "/" + what, "1", kNamespace);
}

}  // namespace

int WaitForCancel(const std::string& key, int64_t max_ms) {
  Mark(key, "started");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (rayk::IsCancelled()) {
      Mark(key, "cancelled");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return 0;
}

int MarkRan(const std::string& key) {
  Mark(key, "ran");
  return 7;
}

int ParentOfWaiter(const std::string& key, int64_t max_ms, int64_t child_max_ms) {
  rayk::ObjectRef<int> child = rayk::Task(WaitForCancel).Remote(key + "/child", child_max_ms);
  return WaitForCancel(key, max_ms);
}

bool CancelBorrowed(std::vector<rayk::ObjectRef<int>> refs, bool force) {
  rayk::CancelOptions options;
  options.force = force;
  rayk::Cancel(refs.at(0), options);
  return true;
}

bool IsCancelledInTask() { return rayk::IsCancelled(); }

Waiter* Waiter::Create() { return new Waiter(); }
int Waiter::WaitForCancel(const std::string& key, int64_t max_ms) {
  return cancel_functions::WaitForCancel(key, max_ms);
}
int Waiter::MarkRan(const std::string& key) { return cancel_functions::MarkRan(key); }

}  // namespace cancel_functions

RAYK_REMOTE(cancel_functions::WaitForCancel, cancel_functions::MarkRan,
            cancel_functions::ParentOfWaiter, cancel_functions::CancelBorrowed,
            cancel_functions::IsCancelledInTask, cancel_functions::Waiter::Create,
            &cancel_functions::Waiter::WaitForCancel, &cancel_functions::Waiter::MarkRan);
