// An async actor for the async actor tests (async_actors_test.cc), in the
// same test library as test_functions.h: its methods are coroutines
// (rayk::Async), so its calls interleave on its event loop.
#pragma once

#include <rayk/api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_functions.h"

namespace async_functions {

class AsyncWorker {
 public:
  static AsyncWorker* Create() { return new AsyncWorker(); }

  // a + b, computed by a test_functions::Add task it awaits.
  rayk::Async<int> AddByTask(int a, int b);
  // Fans out Add(i, i) for i in 0..n-1 and awaits the vector of their refs
  // at once: the sum of 2i.
  rayk::Async<int> SumOfTasks(int n);
  // Awaits counter.Incr(by).
  rayk::Async<int> IncrThrough(rayk::ActorHandle<test_functions::Counter> counter, int by);
  // Awaits a ref it Puts itself (holding `mine`) and one its caller owns.
  rayk::Async<int> AddPuts(int mine, rayk::ObjectRef<int> theirs);
  // 1 + 2 + ... + n, each step a helper coroutine that awaits an Add task.
  rayk::Async<int64_t> SumThroughHelper(int n);
  // The next number, without awaiting anything (calls start in order).
  rayk::Async<int> Next();

  // Logs "enter <i>", awaits `gate`, logs "leave <i>", and returns how many
  // PassGate calls had entered by then.
  rayk::Async<int> PassGate(rayk::ObjectRef<std::string> gate, int i);
  // A plain method (it runs on the same loop, to its end): how many
  // PassGate calls have entered.
  int Entered() { return entered_; }
  std::vector<std::string> Log() { return log_; }

  // Awaits test_functions::Throws(message) and returns what the
  // rayk::TaskError it caught says: "<remote type>|<what()>".
  rayk::Async<std::string> CatchTaskError(std::string message);
  // The same without catching: the call fails with the task's error.
  rayk::Async<int> LetTaskErrorThrough(std::string message);
  // Throws std::out_of_range after an await.
  rayk::Async<void> ThrowAfterAwait();
  // co_await of an empty ObjectRef.
  rayk::Async<int> AwaitEmptyRef();
  // Awaits a task, calls rayk::ExitActor(), and returns 7.
  rayk::Async<int> ExitAfterAwait();

 private:
  rayk::Async<int> AddOne(int x);  // a helper coroutine, not a remote method

  int entered_ = 0;
  int next_ = 0;
  std::vector<std::string> log_;
};

// An actor class whose coroutine methods are all inherited: it is async all
// the same (its calls interleave on one loop).
class DerivedAsyncWorker : public AsyncWorker {
 public:
  static DerivedAsyncWorker* Create() { return new DerivedAsyncWorker(); }
};

}  // namespace async_functions
