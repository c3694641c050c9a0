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
// Calls from one process run in the order they were submitted. When the
// actor's process dies, the calls fail with rayk::ActorDiedError unless
// max_restarts allows re-creating it through its factory (and
// max_task_retries re-sends the calls it was running). Handles are values:
// copy them, pass them to tasks and other actors, or find a named actor
// with rayk::GetActor<T>(name) from any driver of the cluster.
// Handles may be used from any thread.
#pragma once

#include <map>
#include <string>
#include <utility>

#include <boost/serialization/split_member.hpp>

#include "rayk/internal/api_impl.h"

namespace rayk {

namespace internal {

inline ActorRuntime& RequireActorRuntime() {
  RequireRuntime();
  ActorRuntime* actors = CurrentActorRuntime();
  if (actors == nullptr) throw RuntimeError("this rayk runtime does not support actors");
  return *actors;
}

template <class F>
std::string RegisteredName(F function, const char* what) {
  std::optional<std::string> name = FunctionRegistry::Instance().NameOf(KeyOf(function));
  if (!name) {
    throw RuntimeError(std::string(what) + " not registered with RAYK_REMOTE: " + DescribeFunction(function) +
                       "; add it to a RAYK_REMOTE(...) line of the job");
  }
  return *name;
}

}  // namespace internal

template <class T>
class ActorHandle;

// A call of one actor method being prepared.
template <class T, class M>
class ActorTaskCaller {
  using Traits = internal::FunctionTraits<M>;

 public:
  using Return = std::decay_t<typename Traits::Return>;

  ActorTaskCaller(ActorId actor, std::string method) : actor_(actor), method_(std::move(method)) {}

  template <class... A>
  ObjectRef<Return> Remote(A&&... args) const {
    static_assert(sizeof...(A) == Traits::kArity,
                  "Remote() takes as many arguments as the method has parameters");
    internal::Runtime& runtime = internal::RequireRuntime();
    internal::ActorRuntime& actors = internal::RequireActorRuntime();
    std::vector<internal::TaskArg> call_args = internal::MakeTaskArgs<Traits>(
        runtime, method_, std::index_sequence_for<A...>(), std::forward<A>(args)...);
    return ObjectRef<Return>(actors.SubmitActorTask(actor_, method_, std::move(call_args)),
                             typename ObjectRef<Return>::AdoptTag());
  }

 private:
  ActorId actor_;
  std::string method_;
};

template <class T>
class ActorHandle {
 public:
  ActorHandle() = default;
  explicit ActorHandle(ActorId id) : id_(id) {}

  const ActorId& ID() const { return id_; }

  // Starts a call of a method registered with RAYK_REMOTE(&T::Method).
  template <class M>
  ActorTaskCaller<T, M> Task(M method) const {
    static_assert(internal::FunctionTraits<M>::kIsMethod, "Task() on an actor handle takes &Class::Method");
    static_assert(std::is_base_of_v<typename internal::FunctionTraits<M>::Class, T>,
                  "the method belongs to another class than the actor's");
    return ActorTaskCaller<T, M>(id_, internal::RegisteredName(method, "method"));
  }

  // Ends the actor's process. With no_restart (the default) it stays dead and
  // later calls fail with ActorDiedError; otherwise it restarts if
  // max_restarts allows.
  void Kill(bool no_restart = true) const {
    Status status = internal::RequireActorRuntime().KillActor(id_, no_restart);
    if (!status.ok()) throw RuntimeError("cannot kill actor " + id_.Hex() + ": " + status.message());
  }

  template <class Archive>
  void save(Archive& ar, unsigned /*version*/) const {
    ar << id_;
  }
  template <class Archive>
  void load(Archive& ar, unsigned /*version*/) {
    ar >> id_;
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()

 private:
  ActorId id_;
};

// An actor being prepared: options, then Remote(args) creates it.
template <class T, class F>
class ActorCreator {
  using Traits = internal::FunctionTraits<F>;

 public:
  ActorCreator(std::string factory) : factory_(std::move(factory)) {}  // NOLINT: made by rayk::Actor

  // A cluster-wide name, for rayk::GetActor<T>(name); creation fails if taken.
  ActorCreator& SetName(std::string name) {
    options_.name = std::move(name);
    return *this;
  }
  // Resources held for the actor's life. By default an actor holds none (as
  // in Ray), so actors do not use up a node's CPUs.
  ActorCreator& SetResource(const std::string& name, double amount) {
    options_.resources.Set(name, amount);
    return *this;
  }
  ActorCreator& SetResources(const std::map<std::string, double>& resources) {
    for (const auto& [name, amount] : resources) options_.resources.Set(name, amount);
    return *this;
  }
  ActorCreator& SetMaxRestarts(int max_restarts) {
    options_.max_restarts = max_restarts;
    return *this;
  }
  ActorCreator& SetMaxTaskRetries(int max_task_retries) {
    options_.max_task_retries = max_task_retries;
    return *this;
  }
  // Up to n calls run at once, on n threads of the actor's process.
  ActorCreator& SetMaxConcurrency(int n) {
    options_.max_concurrency = n;
    return *this;
  }
  // The actor outlives the job that created it (until killed).
  ActorCreator& SetLifetimeDetached() {
    options_.detached = true;
    return *this;
  }

  template <class... A>
  ActorHandle<T> Remote(A&&... args) const {
    static_assert(sizeof...(A) == Traits::kArity,
                  "Remote() takes as many arguments as the actor's factory has parameters");
    internal::Runtime& runtime = internal::RequireRuntime();
    internal::ActorRuntime& actors = internal::RequireActorRuntime();
    internal::ActorCreation creation;
    creation.factory = factory_;
    creation.class_name = internal::TypeName<T>();
    creation.options = options_;
    creation.args = internal::MakeTaskArgs<Traits>(runtime, factory_, std::index_sequence_for<A...>(),
                                                   std::forward<A>(args)...);
    const std::string class_name = creation.class_name;
    Result<ActorId> id = actors.CreateActor(std::move(creation));
    if (!id.ok()) throw RuntimeError("cannot create actor " + class_name + ": " + id.status().message());
    return ActorHandle<T>(*id);
  }

 private:
  std::string factory_;
  internal::ActorOptions options_;
};

// Starts creating an actor from its factory, a static T* T::Create(...)
// registered with RAYK_REMOTE.
template <class F>
auto Actor(F factory) {
  static_assert(internal::kIsActorFactory<F>,
                "rayk::Actor takes a static factory returning a pointer to the actor's class");
  using T = std::remove_pointer_t<typename internal::FunctionTraits<F>::Return>;
  return ActorCreator<T, F>(internal::RegisteredName(factory, "actor factory"));
}

// The actor created with SetName(name), from any driver or worker of the cluster.
template <class T>
ActorHandle<T> GetActor(const std::string& name) {
  Result<ActorId> id = internal::RequireActorRuntime().GetNamedActor(name);
  if (!id.ok()) throw RuntimeError(id.status().message());
  return ActorHandle<T>(*id);
}

// Inside an actor method: ends the actor (for good) once the method returns.
inline void ExitActor() { internal::RequireActorRuntime().ExitActor(); }

}  // namespace rayk
