// Actors with concurrency groups for concurrency_groups_test.cc, in the same
// test library as test_functions.h. Their RAYK_CONCURRENCY_GROUP lines put
// the *InA methods in group "a" and the *InB methods in group "b"; the rest
// are in the default group. Every wait is bounded, so that a runtime that
// breaks the groups fails a test instead of hanging it.
#pragma once

#include <rayk/api.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace group_functions {

// A plain actor: each of its groups runs on threads of its own.
class GroupedActor {
 public:
  static GroupedActor* Create() { return new GroupedActor(); }

  // A barrier: true once `parties` Meet* calls have come in under `name`,
  // which needs them all running at once; false after 30 s without.
  bool Meet(const std::string& name, int parties);
  bool MeetInA(const std::string& name, int parties);  // group "a"
  bool MeetInB(const std::string& name, int parties);  // group "b"
  // Group "a": logs "enter <tag>", waits until Open(tag) ran (at most 30 s),
  // then logs "leave <tag>".
  void HoldInA(const std::string& tag);
  void Open(const std::string& tag);
  // Waits until a HoldInA(tag) has entered (at most 30 s); whether it has.
  bool Entered(const std::string& tag);
  std::vector<std::string> Log();

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, int> arrived_;
  std::set<std::string> open_;
  std::vector<std::string> log_;
};

// An async actor: its groups bound its calls in flight on one event loop.
class AsyncGrouped {
 public:
  static AsyncGrouped* Create() { return new AsyncGrouped(); }
  // Log "enter <i>", await `gate`, log "leave <i>"; the first in group "a".
  rayk::Async<int> PassGateInA(rayk::ObjectRef<std::string> gate, int i);
  rayk::Async<int> PassGate(rayk::ObjectRef<std::string> gate, int i);
  std::vector<std::string> Log() { return log_; }

 private:
  std::vector<std::string> log_;
};

// A method RAYK_CONCURRENCY_GROUP puts in two groups: creating it fails.
class TwoGroups {
 public:
  static TwoGroups* Create() { return new TwoGroups(); }
  int Run() { return 1; }
};

// Calls actor.Meet("task", 1) in concurrency group `group` from a task, a
// process that did not create the actor, and returns what the call's
// RuntimeError says ("no error" when it succeeds).
std::string MeetInGroupFromATask(rayk::ActorHandle<GroupedActor> actor, std::string group);

}  // namespace group_functions
