#include "async_functions.h"

#include <stdexcept>

namespace async_functions {

using test_functions::Add;

rayk::Async<int> AsyncWorker::SumOfTasks(int n) {
  std::vector<rayk::ObjectRef<int>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(rayk::Task(test_functions::Add).Remote(i, i));
  int sum = 0;
  for (int value : co_await refs) sum += value;
  co_return sum;
}

rayk::Async<int> AsyncWorker::AddByTask(int a, int b) {
  co_return co_await rayk::Task(Add).Remote(a, b);
}

rayk::Async<int> AsyncWorker::IncrThrough(rayk::ActorHandle<test_functions::Counter> counter,
                                          int by) {
  co_return co_await counter.Task(&test_functions::Counter::Incr).Remote(by);
}

rayk::Async<int> AsyncWorker::AddPuts(int mine, rayk::ObjectRef<int> theirs) {
  rayk::ObjectRef<int> own = rayk::Put(mine);
  int a = co_await own;
  int b = co_await theirs;
  co_return a + b;
}

rayk::Async<int> AsyncWorker::AddOne(int x) { co_return co_await rayk::Task(Add).Remote(x, 1); }

rayk::Async<int64_t> AsyncWorker::SumThroughHelper(int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await AddOne(i);
  co_return sum;
}

rayk::Async<int> AsyncWorker::Next() { co_return ++next_; }

rayk::Async<int> AsyncWorker::PassGate(rayk::ObjectRef<std::string> gate, int i) {
  ++entered_;
  log_.push_back("enter " + std::to_string(i));
  co_await gate;
  log_.push_back("leave " + std::to_string(i));
  co_return entered_;
}

rayk::Async<std::string> AsyncWorker::CatchTaskError(std::string message) {
  try {
    co_await rayk::Task(test_functions::Throws).Remote(message);
  } catch (const rayk::TaskError& error) {
    co_return error.remote_type() + "|" + error.what();
  }
  co_return "no exception";
}

rayk::Async<int> AsyncWorker::LetTaskErrorThrough(std::string message) {
  co_return co_await rayk::Task(test_functions::Throws).Remote(message);
}

rayk::Async<void> AsyncWorker::ThrowAfterAwait() {
  co_await rayk::Task(Add).Remote(1, 2);
  throw std::out_of_range("thrown after an await");
}

rayk::Async<int> AsyncWorker::AwaitEmptyRef() {
  rayk::ObjectRef<int> empty;
  co_return co_await empty;
}

rayk::Async<int> AsyncWorker::ExitAfterAwait() {
  co_await rayk::Task(Add).Remote(3, 4);
  rayk::ExitActor();
  co_return 7;
}

}  // namespace async_functions

using namespace async_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(AsyncWorker::Create, &AsyncWorker::AddByTask, &AsyncWorker::SumOfTasks,
            &AsyncWorker::IncrThrough, &AsyncWorker::AddPuts, &AsyncWorker::SumThroughHelper,
            &AsyncWorker::Next, &AsyncWorker::PassGate, &AsyncWorker::Entered, &AsyncWorker::Log,
            &AsyncWorker::CatchTaskError, &AsyncWorker::LetTaskErrorThrough,
            &AsyncWorker::ThrowAfterAwait, &AsyncWorker::AwaitEmptyRef,
            &AsyncWorker::ExitAfterAwait, DerivedAsyncWorker::Create);
