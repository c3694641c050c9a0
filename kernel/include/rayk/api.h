// The rayk user API: remote functions, object references, Put/Get/Wait,
// actors (rayk/actor.h), async actor methods (rayk/async.h, rayk/await.h),
// streaming generators (rayk/generator.h) and placement groups
// (rayk/placement_group.h), all included here.
//
//   int Add(int a, int b) { return a + b; }
//   RAYK_REMOTE(Add);
//
//   rayk::Init();
//   rayk::ObjectRef<int> three = rayk::Task(Add).Remote(1, 2);
//   rayk::ObjectRef<int> five = rayk::Task(Add).SetResource("CPU", 1).Remote(three, 2);
//   int v = *rayk::Get(five);
//   rayk::Shutdown();
//
// Arguments and results are encoded with Boost.Serialization (any type with a
// `serialize` member or a Boost adapter, the standard containers included);
// an ObjectRef at the top level of a call's arguments is replaced by its value
// before the call, as in Ray. A std::vector of a trivially copyable type and a
// rayk::Buffer are stored as raw bytes, which GetView reads in place and
// rayk::Create (rayk/object_writer.h) writes in place.
//
// Errors surface as the exceptions of rayk/errors.h: Get rethrows a remote
// exception as TaskError (with its type, message and where it ran), a dead
// worker as WorkerCrashedError, and so on. Every call below throws
// RuntimeError("rayk is not initialized; call rayk::Init() first") outside
// Init()/Shutdown(). All of them are thread-safe.
#pragma once

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "rayk/accelerators.h"
#include "rayk/actor.h"
#include "rayk/async.h"
#include "rayk/await.h"
#include "rayk/buffer.h"
#include "rayk/cancel.h"
#include "rayk/cluster.h"
#include "rayk/errors.h"
#include "rayk/generator.h"
#include "rayk/init.h"
#include "rayk/internal/api_impl.h"
#include "rayk/internal/function_registry.h"
#include "rayk/internal/split_refs.h"
#include "rayk/kv.h"
#include "rayk/object_ref.h"
#include "rayk/object_writer.h"
#include "rayk/placement_group.h"
#include "rayk/view.h"

// Registers functions for remote calls, by name, at namespace scope of the
// file that defines them (or any file that sees them):
//
//   RAYK_REMOTE(Add, math::Scale, Counter::Create, &Counter::Incr);
//
// Entries are free or static member functions (a static function returning a
// pointer to a class is an actor factory) and &Class::Method for actor
// methods. The name is the entry as written, so name a function the same way
// in every RAYK_REMOTE line, and qualify names that are not unique
// (ns::Add). For an overloaded function, register one overload with a cast.
#define RAYK_REMOTE(...) RAYK_INTERNAL_REMOTE(__VA_ARGS__)

namespace rayk {

// Get: waits for the value of an object and returns it. The timeout bounds
// the wait (forever by default); running out throws GetTimeoutError.
template <class T>
std::shared_ptr<T> Get(const ObjectRef<T>& ref,
                       std::chrono::milliseconds timeout = internal::kForever) {
  internal::Runtime& runtime = internal::RequireRuntime();
  if (ref.IsNil()) throw RuntimeError("rayk::Get of an empty ObjectRef");
  std::vector<internal::ObjectValue> values = internal::GetValues(runtime, {ref.ID()}, timeout);
  return internal::DecodeValue<T>(values[0], ref.ID());
}

// The values of several objects, in order. Throws for the first that failed.
template <class T>
std::vector<std::shared_ptr<T>> Get(const std::vector<ObjectRef<T>>& refs,
                                    std::chrono::milliseconds timeout = internal::kForever) {
  internal::Runtime& runtime = internal::RequireRuntime();
  std::vector<ObjectId> ids;
  ids.reserve(refs.size());
  for (const ObjectRef<T>& ref : refs) {
    if (ref.IsNil()) throw RuntimeError("rayk::Get of an empty ObjectRef");
    ids.push_back(ref.ID());
  }
  std::vector<internal::ObjectValue> values = internal::GetValues(runtime, ids, timeout);
  std::vector<std::shared_ptr<T>> out;
  out.reserve(values.size());
  internal::DecodingScope borrowing;  // the references in all the values register at once
  for (size_t i = 0; i < values.size(); ++i)
    out.push_back(internal::DecodeValue<T>(values[i], ids[i]));
  return out;
}

// A task that returns nothing: waits for it to finish, and throws what it threw.
void Get(const ObjectRef<void>& ref, std::chrono::milliseconds timeout = internal::kForever);
void Get(const std::vector<ObjectRef<void>>& refs,
         std::chrono::milliseconds timeout = internal::kForever);

// Stores a value in the cluster, owned by this process.
template <class T>
ObjectRef<T> Put(const T& value) {
  static_assert(
      !std::is_pointer_v<T> && !std::is_array_v<T>,
      "rayk::Put stores values: pass a std::string or std::vector, not a pointer or array");
  if constexpr (internal::kHasRawLayout<T>) {
    // Written once, straight into the object's space (the store's, when
    // large), rather than encoded into a string that is then copied there.
    ObjectWriter<T> writer = Create<T>(value.size());
    if (!value.empty()) std::memcpy(writer.data(), value.data(), value.size() * sizeof(value[0]));
    return std::move(writer).Seal();
  } else {
    internal::Runtime& runtime = internal::RequireRuntime();
    return ObjectRef<T>(runtime.Put(internal::Serialize<T>(value)),
                        typename ObjectRef<T>::AdoptTag());
  }
}

// A read-only view of a stored array, pinned and without a copy (view.h).
template <class T>
View<T> GetView(const ObjectRef<std::vector<T>>& ref,
                std::chrono::milliseconds timeout = internal::kForever) {
  static_assert(internal::kHasRawLayout<std::vector<T>>,
                "rayk::GetView reads vectors of trivially copyable types (numbers, PODs) in place; "
                "use rayk::Get for other element types");
  internal::Runtime& runtime = internal::RequireRuntime();
  if (ref.IsNil()) throw RuntimeError("rayk::GetView of an empty ObjectRef");
  std::vector<internal::ObjectValue> values = internal::GetValues(runtime, {ref.ID()}, timeout);
  return internal::ViewValue<T>(std::move(values[0]), ref.ID(),
                                internal::TypeName<std::vector<T>>());
}

View<uint8_t> GetView(const ObjectRef<Buffer>& ref,
                      std::chrono::milliseconds timeout = internal::kForever);

template <class T>
struct WaitResult {
  std::vector<ObjectRef<T>> ready;
  std::vector<ObjectRef<T>> unready;
};

// Returns once `num_returns` of the objects are ready or `timeout` passes
// (forever by default), whichever is first; ready and unready keep the order
// of `refs`. Running out of time is not an error: fewer are ready.
template <class T>
WaitResult<T> Wait(const std::vector<ObjectRef<T>>& refs, size_t num_returns,
                   std::chrono::milliseconds timeout = internal::kForever) {
  internal::Runtime& runtime = internal::RequireRuntime();
  if (num_returns > refs.size()) {
    throw RuntimeError("rayk::Wait for " + std::to_string(num_returns) + " of only " +
                       std::to_string(refs.size()) + " objects");
  }
  std::vector<ObjectId> ids;
  ids.reserve(refs.size());
  for (const ObjectRef<T>& ref : refs) ids.push_back(ref.ID());
  std::vector<bool> ready = runtime.Wait(ids, num_returns, timeout);
  if (ready.size() != refs.size())
    throw RuntimeError("rayk::Wait: the runtime answered for the wrong number of objects");
  WaitResult<T> result;
  for (size_t i = 0; i < refs.size(); ++i)
    (ready[i] ? result.ready : result.unready).push_back(refs[i]);
  return result;
}

// A call of a remote function being prepared: options, then Remote(args).
// kSplit: SetNumReturns was called, and Remote() returns one ref per element.
template <class F, bool kSplit = false>
class TaskCaller : public internal::CallOptions<TaskCaller<F, kSplit>> {
  using Traits = internal::FunctionTraits<F>;
  template <class, bool>
  friend class TaskCaller;

 public:
  // The type of the result: the function's return type without reference or
  // const (void for a function that returns nothing). Remote() returns an
  // ObjectRef<Return>, or with SetNumReturns a tuple or vector of refs.
  using Return = std::decay_t<typename Traits::Return>;

  TaskCaller(std::string name) : name_(std::move(name)) {}  // NOLINT: made by rayk::Task

  // Demands `amount` of a resource ("CPU", "GPU", "memory" or a custom one)
  // for each call. By default a task needs 1 CPU; SetResource("CPU", 0) drops
  // that. Throws RuntimeError, naming the resource and the rule, for an empty
  // name or one with spaces, and for an amount that is not finite, negative,
  // below 0.0001, or 0 for anything but CPU (internal::CheckResource).
  TaskCaller& SetResource(const std::string& name, double amount) {
    internal::CheckResource("rayk::Task(" + name_ + ")", name, amount);
    options_.resources.Set(name, amount);
    return *this;
  }
  // SetResource for each entry; resources not named keep their demand.
  TaskCaller& SetResources(const std::map<std::string, double>& resources) {
    for (const auto& [name, amount] : resources) SetResource(name, amount);
    return *this;
  }
  // How many times a call is retried when its worker dies (and, with
  // SetRetryExceptions, when it throws); -1: without limit.
  TaskCaller& SetMaxRetries(int max_retries) {
    internal::CheckRetryCount("SetMaxRetries", max_retries);
    options_.max_retries = max_retries;
    return *this;
  }
  // Bounds each run of the call: one not finished `timeout` after it reached
  // its worker has its worker process killed (a hung, deadlocked or stopped
  // run included) and counts as a failed attempt, retried within
  // SetMaxRetries; when none is left, Get() throws TaskTimedOutError. Calls
  // with a timeout are sent one at a time to each worker, so time spent
  // queued behind another call never counts. Throws RuntimeError for a
  // timeout that is not positive.
  TaskCaller& SetTimeout(std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
      throw RuntimeError("SetTimeout(" + std::to_string(timeout.count()) +
                         " ms): give a positive duration, or leave it unset for no limit");
    }
    options_.timeout = timeout;
    return *this;
  }
  // Placement, with Ray's meaning. SetSpread: spread calls over the nodes
  // that fit. SetNodeAffinity: run on that node (rayk::Nodes() lists them);
  // hard fails clearly when it is dead or can never fit, soft falls back to
  // the default policy. SetLabelSelector: only nodes where every condition
  // holds ({"zone", "a"}, {"zone", "in(a,b)"}, {"gpu", "!exists()"}:
  // rayk/label_selector.h); throws RuntimeError for one that is not valid.
  TaskCaller& SetSpread() {
    options_.placement.strategy = SchedulingStrategy::kSpread;
    return *this;
  }
  TaskCaller& SetNodeAffinity(const NodeId& node, bool soft = false) {
    options_.placement.strategy = SchedulingStrategy::kNodeAffinity;
    options_.placement.affinity_node = node;
    options_.placement.affinity_soft = soft;
    return *this;
  }
  TaskCaller& SetLabelSelector(std::map<std::string, std::string> labels) {
    internal::CheckLabelSelectorOption("rayk::Task(" + name_ + ")", labels);
    options_.placement.label_selector = std::move(labels);
    return *this;
  }
  // Runs each call inside bundle `bundle_index` of the placement group (-1:
  // any of its bundles): on that bundle's node, out of the bundle's
  // resources, which must hold the call's demand (1 CPU by default). Throws
  // RuntimeError for an empty handle or an index out of range.
  TaskCaller& SetPlacementGroup(const PlacementGroup& group, int bundle_index = -1) {
    internal::SetPlacementGroupOption("rayk::Task(" + name_ + ")", group, bundle_index,
                                      &options_.placement);
    return *this;
  }

  // Multiple returns, as Ray's num_returns: each element of the result is
  // stored as its own object, with its own ref, which can be passed, got and
  // freed on its own. For a function returning std::tuple<A, B>, `count` is
  // 2 and Remote() returns std::tuple<ObjectRef<A>, ObjectRef<B>>; for one
  // returning std::vector<T>, Remote() returns `count` ObjectRef<T>, and a
  // run that returns another number of elements fails every one of them (Get
  // throws TaskError saying both numbers). Throws RuntimeError for a count
  // of 0, above 2^20, or other than a tuple's size. The results of a split
  // call are not made again when their node dies (lineage reconstruction).
  TaskCaller<F, true> SetNumReturns(size_t count) const requires(!kSplit) {
    internal::CheckNumReturns<Return>(
        "SetNumReturns(" + std::to_string(count) + ") on rayk::Task(" + name_ + ")", count);
    TaskCaller<F, true> split(name_);
    split.options_ = options_;
    split.options_.num_returns = static_cast<uint32_t>(count);
    split.retry_exceptions_ = this->retry_exceptions_;
    split.call_name_ = this->call_name_;
    return split;
  }

  // For a streaming generator (a function returning rayk::Generator<T>,
  // rayk/generator.h): the producer pauses in its co_yield while `count`
  // items wait untaken by the caller. Throws RuntimeError for 0.
  TaskCaller& SetGeneratorBackpressure(size_t count) {
    static_assert(internal::GeneratorTraits<Return>::kIsGenerator,
                  "SetGeneratorBackpressure is for functions that return rayk::Generator<T>");
    options_.generator_backpressure =
        internal::CheckGeneratorBackpressure("rayk::Task(" + name_ + ")", count);
    return *this;
  }

  // Submits the call and returns its result's reference at once (or, after
  // SetNumReturns, its results' references; for a generator, an
  // ObjectRefGenerator of its items). Arguments convert to the
  // parameter types as in a direct call; an ObjectRef<P> for a parameter of
  // type P passes the object's value without fetching it here.
  template <class... A>
  auto Remote(A&&... args) const {
    static_assert(sizeof...(A) == Traits::kArity,
                  "Remote() takes as many arguments as the remote function has parameters");
    internal::Runtime& runtime = internal::RequireRuntime();
    internal::TaskCall call;
    call.function = name_;
    call.options = options_;
    call.options.retry_exceptions = this->retry_exceptions_;
    call.options.name = this->call_name_;
    call.args = internal::MakeTaskArgs<Traits>(runtime, name_, std::index_sequence_for<A...>(),
                                               std::forward<A>(args)...);
    if constexpr (kSplit) {
      return internal::SplitRefs<Return>::Adopt(runtime.SubmitSplitTask(std::move(call)));
    } else if constexpr (internal::GeneratorTraits<Return>::kIsGenerator) {
      call.options.streaming = true;
      return ObjectRefGenerator<typename internal::GeneratorTraits<Return>::Item>(
          runtime.SubmitStreamingTask(std::move(call)));
    } else {
      return ObjectRef<Return>(runtime.SubmitTask(std::move(call)),
                               typename ObjectRef<Return>::AdoptTag());
    }
  }

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  internal::TaskOptions options_;
};

// Starts a call of a function registered with RAYK_REMOTE. Throws
// RuntimeError("function not registered with RAYK_REMOTE: ...") for one that
// is not.
template <class F>
TaskCaller<F> Task(F function) {
  static_assert(
      internal::IsRemoteCallable<F>::value,
      "rayk::Task takes a function registered with RAYK_REMOTE (not a lambda or functor)");
  static_assert(!internal::FunctionTraits<F>::kIsMethod,
                "rayk::Task takes free and static functions; call methods on an actor handle");
  static_assert(!internal::kIsActorFactory<F>,
                "a function returning a pointer to a class is an actor factory: use rayk::Actor");
  internal::RequireRuntime();
  return TaskCaller<F>(internal::RegisteredName(function, "function"));
}

}  // namespace rayk
