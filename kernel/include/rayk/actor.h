// Actors: stateful workers. rayk::Actor(Factory).Remote(args) creates one (in
// its own worker process, placed by the GCS through the scheduler plugin) and
// returns an ActorHandle; handle.Task(&T::Method).Remote(args) calls it.
//
//   class Counter {
//    public:
//     static Counter* Create(int start) { return new Counter(start); }
//     int Incr(int by) { return n_ += by; }
//     ...
//   };
//   RAYK_REMOTE(Counter::Create, &Counter::Incr);
//
//   auto counter = rayk::Actor(Counter::Create).SetName("c").SetMaxRestarts(1).Remote(0);
//   rayk::ObjectRef<int> seven = counter.Task(&Counter::Incr).Remote(7);
//
// A method returning rayk::Generator<T> streams its items back as it yields
// them (rayk/generator.h, "Actor methods").
//
// Calls from one process run in the order they were submitted (an async
// actor, rayk/async.h, starts them in that order and interleaves them where
// they co_await). When the
// actor's process dies, the calls fail with rayk::ActorDiedError unless
// max_restarts allows re-creating it through its factory (and
// max_task_retries re-sends the calls it was running). Handles are values:
// copy them, pass them to tasks and other actors, or find a named actor
// with rayk::GetActor<T>(name) from any driver of the cluster.
// Handles may be used from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rayk/async.h"
#include "rayk/concurrency_group.h"
#include "rayk/errors.h"
#include "rayk/generator.h"
#include "rayk/ids.h"
#include "rayk/internal/actor_impl.h"
#include "rayk/internal/api_impl.h"
#include "rayk/internal/function_registry.h"
#include "rayk/internal/function_traits.h"
#include "rayk/internal/split_refs.h"
#include "rayk/object_ref.h"
#include "rayk/placement_group.h"

namespace rayk {

// A call of one actor method being prepared: Remote(args) sends it.
// kSplit: SetNumReturns was called, and Remote() returns one ref per element.
template <class T, class M, bool kSplit = false>
class ActorTaskCaller : public internal::CallOptions<ActorTaskCaller<T, M, kSplit>> {
  using Traits = internal::FunctionTraits<M>;
  template <class, class, bool>
  friend class ActorTaskCaller;

 public:
  // The type of the object Remote() returns: the method's return type without
  // reference or const (void for a method that returns nothing; T for a
  // coroutine returning rayk::Async<T>).
  using Return = typename internal::CallValue<std::decay_t<typename Traits::Return>>::type;

  // Made by ActorHandle::Task.
  ActorTaskCaller(ActorId actor, std::string method) : actor_(actor), method_(std::move(method)) {}

  // Sends the call and returns its result's reference at once (or, after
  // SetNumReturns, its results' references; for a method returning
  // rayk::Generator<T>, an ObjectRefGenerator of its items, as
  // rayk/generator.h says). Arguments are converted and encoded as for
  // rayk::Task(f).Remote, ObjectRefs included.
  template <class... A>
  auto Remote(A&&... args) const {
    static_assert(sizeof...(A) == Traits::kArity,
                  "Remote() takes as many arguments as the method has parameters");
    internal::Runtime& runtime = internal::RequireRuntime();
    internal::ActorRuntime& actors = internal::RequireActorRuntime();
    internal::ActorCall call;
    call.actor = actor_;
    call.method = method_;
    call.args = internal::MakeTaskArgs<Traits>(runtime, method_, std::index_sequence_for<A...>(),
                                               std::forward<A>(args)...);
    call.retry_exceptions = this->retry_exceptions_;
    call.name = this->call_name_;
    call.concurrency_group = concurrency_group_;
    call.num_returns = num_returns_;
    call.generator_backpressure = generator_backpressure_;
    if constexpr (kSplit) {
      return internal::SplitRefs<Return>::Adopt(actors.SubmitSplitActorTask(std::move(call)));
    } else if constexpr (internal::GeneratorTraits<Return>::kIsGenerator) {
      call.streaming = true;
      return ObjectRefGenerator<typename internal::GeneratorTraits<Return>::Item>(
          actors.SubmitStreamingActorTask(std::move(call)));
    } else {
      return ObjectRef<Return>(actors.SubmitActorTask(std::move(call)),
                               typename ObjectRef<Return>::AdoptTag());
    }
  }

  // For a method returning rayk::Generator<T> (rayk/generator.h): the
  // producer pauses in its co_yield while `count` items wait untaken by the
  // caller, as TaskCaller::SetGeneratorBackpressure. Throws RuntimeError for 0.
  ActorTaskCaller& SetGeneratorBackpressure(size_t count) {
    static_assert(internal::GeneratorTraits<Return>::kIsGenerator,
                  "SetGeneratorBackpressure is for methods that return rayk::Generator<T>");
    generator_backpressure_ = internal::CheckGeneratorBackpressure("a call of " + method_, count);
    return *this;
  }

  // Multiple returns, as Ray's num_returns on an actor method, and as
  // TaskCaller::SetNumReturns: a method returning std::tuple<A, B> (or
  // rayk::Async of one) gives std::tuple<ObjectRef<A>, ObjectRef<B>>; one
  // returning std::vector<T> gives `count` ObjectRef<T>, and a call that
  // returns another number of elements fails every one of them. Each result
  // is its own object, passed, got and freed on its own. Throws RuntimeError
  // for a count of 0, above 2^20, or other than a tuple's size.
  ActorTaskCaller<T, M, true> SetNumReturns(size_t count) const requires(!kSplit) {
    internal::CheckNumReturns<Return>(
        "SetNumReturns(" + std::to_string(count) + ") on a call of " + method_, count);
    ActorTaskCaller<T, M, true> split(actor_, method_);
    split.concurrency_group_ = concurrency_group_;
    split.num_returns_ = static_cast<uint32_t>(count);
    split.retry_exceptions_ = this->retry_exceptions_;
    split.call_name_ = this->call_name_;
    return split;
  }

  // Runs this call in concurrency group `group` (one the actor declared, or
  // "default") instead of its method's, as Ray's
  // .options(concurrency_group=...). Throws RuntimeError for a name that is
  // not valid; Remote() throws for a group the actor lacks when this process
  // created it, and otherwise the call fails with RuntimeError.
  ActorTaskCaller& SetConcurrencyGroup(std::string group) {
    internal::CheckConcurrencyGroupName("SetConcurrencyGroup on a call of " + method_, group);
    concurrency_group_ = std::move(group);
    return *this;
  }

  const std::string& method() const { return method_; }

 private:
  ActorId actor_;
  std::string method_;
  std::string concurrency_group_;        // "": the method's group
  uint32_t num_returns_ = 0;             // with kSplit: SetNumReturns's count
  uint32_t generator_backpressure_ = 0;  // SetGeneratorBackpressure's count (0: none)
};

// A handle to an actor of class T. Handles are values: copies name the same
// actor, and a handle encoded with Boost.Serialization (as an argument or a
// result) is just the actor's id, so any process of the cluster can call
// through the copy it decodes. A handle does not keep its actor alive; a
// default-constructed one names no actor.
template <class T>
class ActorHandle {
 public:
  ActorHandle() = default;
  // For rayk's own use (Actor().Remote, GetActor) and tests.
  explicit ActorHandle(ActorId id) : id_(id) {}

  const ActorId& ID() const { return id_; }
  bool IsNil() const { return id_.IsNil(); }

  // Starts a call of a method registered with RAYK_REMOTE(&T::Method). Throws
  // RuntimeError("method not registered with RAYK_REMOTE: ...") for one that
  // is not.
  template <class M>
  ActorTaskCaller<T, M> Task(M method) const {
    static_assert(internal::IsRemoteCallable<M>::value && internal::FunctionTraits<M>::kIsMethod,
                  "Task() on an actor handle takes a member function: &Class::Method");
    static_assert(std::is_base_of_v<typename internal::FunctionTraits<M>::Class, T>,
                  "the method belongs to another class than the actor's");
    internal::RequireActorRuntime();
    internal::RequireActor(id_, "Task()");
    return ActorTaskCaller<T, M>(id_, internal::RegisteredName(method, "method"));
  }

  // Ends the actor's process. With no_restart (the default) it stays dead and
  // later calls fail with ActorDiedError; otherwise it is re-created if
  // max_restarts allows. Calls already sent may fail either way.
  void Kill(bool no_restart = true) const {
    internal::ActorRuntime& actors = internal::RequireActorRuntime();
    internal::RequireActor(id_, "Kill()");
    Status status = actors.KillActor(id_, no_restart);
    if (!status.ok()) {
      throw RuntimeError("cannot kill actor " + id_.Hex() + ": " + status.message());
    }
  }

  friend bool operator==(const ActorHandle& a, const ActorHandle& b) { return a.id_ == b.id_; }
  friend bool operator!=(const ActorHandle& a, const ActorHandle& b) { return a.id_ != b.id_; }

  // Boost.Serialization: the actor id's 16 bytes. Unlike an ObjectRef there is
  // no owner to tell: the GCS resolves an actor id from any process.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& id_;
  }

 private:
  ActorId id_;
};

// An actor being prepared: options, then Remote(args) creates it.
template <class T, class F>
class ActorCreator {
  using Traits = internal::FunctionTraits<F>;

 public:
  // Made by rayk::Actor.
  explicit ActorCreator(std::string factory) : factory_(std::move(factory)) {}

  // A name, for rayk::GetActor<T>(name), unique in the job's namespace (or
  // the one SetNamespace gives); Remote() fails if an actor there has it.
  ActorCreator& SetName(std::string name) {
    options_.name = std::move(name);
    return *this;
  }
  // The namespace of the actor's name, when not the job's (InitOptions::
  // namespace_name), as Ray's options(namespace=...).
  ActorCreator& SetNamespace(std::string ns) {
    internal::CheckNamespaceOption("rayk::Actor(...).SetNamespace", ns);
    options_.namespace_name = std::move(ns);
    return *this;
  }
  // Resources held for the actor's whole life. By default an actor holds none
  // (as in Ray), so that idle actors do not use up a node's CPUs.
  // Throws RuntimeError for an invalid name or amount, as TaskCaller does.
  ActorCreator& SetResource(const std::string& name, double amount) {
    internal::CheckResource("rayk::Actor(" + factory_ + ")", name, amount);
    options_.resources.Set(name, amount);
    return *this;
  }
  // SetResource for each entry; resources not named keep their demand.
  ActorCreator& SetResources(const std::map<std::string, double>& resources) {
    for (const auto& [name, amount] : resources) SetResource(name, amount);
    return *this;
  }
  // How many times the actor is re-created through its factory (with the same
  // arguments, so with fresh state) after its process dies; -1: without limit.
  ActorCreator& SetMaxRestarts(int max_restarts) {
    internal::CheckRetryCount("SetMaxRestarts", max_restarts);
    options_.max_restarts = max_restarts;
    return *this;
  }
  // How many times a call that was running when the actor died is re-sent to
  // the restarted actor; 0 fails it with ActorDiedError; -1: without limit.
  ActorCreator& SetMaxTaskRetries(int max_task_retries) {
    internal::CheckRetryCount("SetMaxTaskRetries", max_task_retries);
    options_.max_task_retries = max_task_retries;
    return *this;
  }
  // Up to n calls run at once (in the default group, when the actor has
  // concurrency groups). A plain actor runs them on n threads of its
  // process (its methods must then be thread-safe); 1, its default, runs
  // calls one after the other, in order. An async actor (one with methods
  // returning rayk::Async<T>, rayk/async.h) interleaves up to n calls on its
  // one event-loop thread; its default is 1000, as in Ray. Throws
  // RuntimeError for n < 1.
  ActorCreator& SetMaxConcurrency(int n) {
    if (n < 1) {
      throw RuntimeError("SetMaxConcurrency(" + std::to_string(n) + ") on rayk::Actor(" + factory_ +
                         "): give 1 or more calls at once");
    }
    options_.max_concurrency = n;
    return *this;
  }
  // Declares concurrency group `name` (rayk/concurrency_group.h): up to
  // max_concurrency calls of its methods run at once, beside the other
  // groups' (a plain actor gives it that many threads of its own). Calling
  // it again for a name sets the new limit. Throws RuntimeError for a name
  // that is not valid, for "default" (whose limit is SetMaxConcurrency), and
  // for max_concurrency < 1.
  ActorCreator& SetConcurrencyGroup(const std::string& name, int max_concurrency) {
    const std::string what = "SetConcurrencyGroup(\"" + name + "\", " +
                             std::to_string(max_concurrency) + ") on rayk::Actor(" + factory_ + ")";
    internal::CheckConcurrencyGroupName(what, name);
    if (name == internal::kDefaultConcurrencyGroup) {
      throw RuntimeError(what + ": the default group's limit is SetMaxConcurrency(n)");
    }
    if (max_concurrency < 1) throw RuntimeError(what + ": give 1 or more calls at once");
    options_.concurrency_groups[name] = max_concurrency;
    return *this;
  }
  // The actor outlives the job that created it, until it is killed.
  ActorCreator& SetLifetimeDetached() {
    options_.detached = true;
    return *this;
  }
  // Placement, with Ray's meaning. SetSpread: spread actors over the nodes
  // that fit. SetNodeAffinity: run on that node (rayk::Nodes() lists them);
  // hard fails clearly when it is dead or can never fit, soft falls back to
  // the default policy. SetLabelSelector: only nodes where every condition
  // holds ({"zone", "a"}, {"zone", "in(a,b)"}, {"gpu", "!exists()"}:
  // rayk/label_selector.h); throws RuntimeError for one that is not valid.
  ActorCreator& SetSpread() {
    options_.placement.strategy = SchedulingStrategy::kSpread;
    return *this;
  }
  ActorCreator& SetNodeAffinity(const NodeId& node, bool soft = false) {
    options_.placement.strategy = SchedulingStrategy::kNodeAffinity;
    options_.placement.affinity_node = node;
    options_.placement.affinity_soft = soft;
    return *this;
  }
  ActorCreator& SetLabelSelector(std::map<std::string, std::string> labels) {
    internal::CheckLabelSelectorOption("rayk::Actor(" + factory_ + ")", labels);
    options_.placement.label_selector = std::move(labels);
    return *this;
  }
  // Creates the actor inside bundle `bundle_index` of the placement group
  // (-1: any of its bundles), out of the bundle's resources; it waits while
  // the group is pending, and ends when the group is removed. Throws
  // RuntimeError for an empty handle or an index out of range.
  ActorCreator& SetPlacementGroup(const PlacementGroup& group, int bundle_index = -1) {
    internal::SetPlacementGroupOption("rayk::Actor(" + factory_ + ")", group, bundle_index,
                                      &options_.placement);
    return *this;
  }

  // Creates the actor and returns its handle at once; the factory runs on the
  // actor's node, and calls sent before it finishes wait for it. Arguments are
  // converted and encoded as for rayk::Task(f).Remote.
  template <class... A>
  ActorHandle<T> Remote(A&&... args) const {
    static_assert(sizeof...(A) == Traits::kArity,
                  "Remote() takes as many arguments as the actor's factory has parameters");
    internal::Runtime& runtime = internal::RequireRuntime();
    internal::ActorRuntime& actors = internal::RequireActorRuntime();
    internal::CheckMethodGroups("rayk::Actor(" + factory_ + ")", typeid(T),
                                options_.concurrency_groups);
    internal::ActorCreation creation;
    creation.factory = factory_;
    creation.class_name = internal::TypeName<T>();
    creation.options = options_;
    creation.args = internal::MakeTaskArgs<Traits>(
        runtime, factory_, std::index_sequence_for<A...>(), std::forward<A>(args)...);
    const std::string class_name = creation.class_name;
    Result<ActorId> id = actors.CreateActor(std::move(creation));
    if (!id.ok()) internal::ThrowCreateActorError(id.status(), class_name, options_.name);
    return ActorHandle<T>(*id);
  }

  const std::string& factory() const { return factory_; }

 private:
  std::string factory_;
  internal::ActorOptions options_;
};

// Starts creating an actor from its factory, a static T* T::Create(...)
// registered with RAYK_REMOTE. Throws RuntimeError("actor factory not
// registered with RAYK_REMOTE: ...") for one that is not.
template <class F>
auto Actor(F factory) {
  static_assert(internal::IsRemoteCallable<F>::value && internal::kIsActorFactory<F>,
                "rayk::Actor takes a static factory returning a pointer to the actor's class");
  using T = std::remove_pointer_t<typename internal::FunctionTraits<F>::Return>;
  internal::RequireActorRuntime();
  return ActorCreator<T, F>(internal::RegisteredName(factory, "actor factory"));
}

// The actor created with SetName(name) in namespace `ns` (empty: this job's,
// InitOptions::namespace_name), from any driver or worker of the cluster.
// Throws RuntimeError("no actor named 'name' in namespace ...") when there is
// none, and when T is not the class the actor was created as (its factory's
// class), whose methods would otherwise run on an object of another type.
template <class T>
ActorHandle<T> GetActor(const std::string& name, const std::string& ns = "") {
  internal::ActorRuntime& actors = internal::RequireActorRuntime();
  if (!ns.empty()) internal::CheckNamespaceOption("rayk::GetActor", ns);
  Result<internal::NamedActor> found = actors.GetNamedActor(name, ns);
  if (!found.ok()) internal::ThrowGetActorError(found.status(), name);
  internal::CheckActorClass(name, found->class_name, internal::TypeName<T>());
  return ActorHandle<T>(found->id);
}

// Inside an actor method: ends the actor, for good (no restart), once the
// method returns and its result is sent.
inline void ExitActor() { internal::RequireActorRuntime().ExitActor(); }

// True inside an actor that was restarted (its process died or was killed
// with restarts left, and the GCS created it again), from its factory on, so
// that it can restore state it saved; false in its first incarnation and
// outside actors, as Ray's WasCurrentActorRestarted().
inline bool WasCurrentActorRestarted() {
  return internal::RequireActorRuntime().WasCurrentActorRestarted();
}

}  // namespace rayk

template <class T>
struct std::hash<rayk::ActorHandle<T>> {
  size_t operator()(const rayk::ActorHandle<T>& handle) const noexcept {
    return std::hash<rayk::ActorId>()(handle.ID());
  }
};
