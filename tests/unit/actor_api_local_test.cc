// The typed actor API (rayk/actor.h) against LocalActorRuntime: the task
// harness of local_runtime.h plus a minimal internal::ActorRuntime that keeps
// each actor's instance in a map, creates it through the registry's `create`
// and runs its methods synchronously through `invoke_method`. It tests the
// API layer alone (what reaches ActorCreation, handles as values, error
// mapping); ordering, placement and real restarts are the integration tests'.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "rayk/api.h"
#include "unit/local_runtime.h"

namespace actor_test {

class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  static Counter* Create(int start) { return new Counter(start); }
  int Incr(int by) { return n_ += by; }
  int Value() const { return n_; }
  void Reset() { n_ = 0; }
  std::string Describe(const std::string& prefix) const { return prefix + std::to_string(n_); }
  int Fail() { throw std::logic_error("counter failed"); }
  void Exit() { rayk::ExitActor(); }
  int NotRegistered() { return n_; }
  rayk::Generator<int> UpTo(int n) {
    for (int i = 0; i < n; ++i) co_yield i;
  }

 private:
  int n_;
};

Counter* UnregisteredFactory() { return new Counter(0); }

// Handles travel as arguments and results.
int IncrThrough(rayk::ActorHandle<Counter> counter, int by) {
  return *rayk::Get(counter.Task(&Counter::Incr).Remote(by));
}
rayk::ActorHandle<Counter> MakeCounter(int start) {
  return rayk::Actor(Counter::Create).Remote(start);
}

}  // namespace actor_test

using namespace actor_test;  // NOLINT: the registered names read as in user code

RAYK_REMOTE(Counter::Create, &Counter::Incr, &Counter::Value, &Counter::Reset, &Counter::Describe,
            &Counter::Fail, &Counter::Exit, &Counter::UpTo, IncrThrough, MakeCounter);

namespace rayk {
namespace {

using internal::ErrorInfo;
using ::testing::HasSubstr;

// Actors for the API tests: one instance per actor in a map, methods run on
// the caller's thread. Kill with a restart left re-runs the factory with the
// recorded arguments; ExitActor marks the running actor dead after its method.
class LocalActorRuntime : public local_test::LocalRuntime, public internal::ActorRuntime {
 public:
  Result<ActorId> CreateActor(internal::ActorCreation creation) override {
    {
      std::lock_guard lock(actors_mutex_);
      creations_.push_back(creation);
      if (!creation.options.name.empty() && names_.count(creation.options.name) != 0)
        return Status::AlreadyExists("an actor named '" + creation.options.name + "' exists");
    }
    const internal::RegisteredFunction* factory =
        internal::FunctionRegistry::Instance().Find(creation.factory);
    if (factory == nullptr || factory->kind != internal::FunctionKind::kActorFactory)
      return Status::InvalidArgument(creation.factory + " is not an actor factory");
    LocalActor actor;
    actor.creation = std::move(creation);
    Start(actor);
    const ActorId id = ActorId::FromRandom();
    std::lock_guard lock(actors_mutex_);
    if (!actor.creation.options.name.empty()) names_[actor.creation.options.name] = id;
    actors_[id] = std::move(actor);
    return id;
  }

  ObjectId SubmitActorTask(internal::ActorCall call) override {
    const ActorId& id = call.actor;
    const std::string& method = call.method;
    const std::vector<internal::TaskArg>& args = call.args;
    const std::string what = "actor task " + method;
    std::shared_ptr<void> instance;
    {
      std::lock_guard lock(actors_mutex_);
      auto it = actors_.find(id);
      if (it == actors_.end()) return AddError(internal::RuntimeErrorInfo("unknown actor"), what);
      if (it->second.instance == nullptr) {
        ErrorInfo died;
        died.kind = ErrorInfo::Kind::kActorDied;
        died.message = "actor " + id.Hex() + " is dead: " + it->second.death;
        return AddError(std::move(died), what);
      }
      instance = it->second.instance;
    }
    const internal::RegisteredFunction* entry = internal::FunctionRegistry::Instance().Find(method);
    exit_requested_ = false;
    ObjectId result = Run(what, args, [&](const internal::ArgList& decoded) {
      if (entry == nullptr || entry->kind != internal::FunctionKind::kMethod)
        return internal::InvokeResult{{}, internal::RuntimeErrorInfo(method + " not a method")};
      return entry->invoke_method(instance.get(), decoded, 0);
    });
    if (exit_requested_) {
      std::lock_guard lock(actors_mutex_);
      Die(actors_.at(id), "it called rayk::ExitActor()");
    }
    return result;
  }

  // One namespace: `ns` is not looked at.
  Result<internal::NamedActor> GetNamedActor(const std::string& name,
                                             const std::string& /*ns*/) override {
    std::lock_guard lock(actors_mutex_);
    auto it = names_.find(name);
    if (it == names_.end()) return Status::NotFound("no actor named '" + name + "'");
    return internal::NamedActor{it->second, actors_.at(it->second).creation.class_name};
  }

  Status KillActor(const ActorId& id, bool no_restart) override {
    std::unique_lock lock(actors_mutex_);
    auto it = actors_.find(id);
    if (it == actors_.end()) return Status::NotFound("unknown actor " + id.Hex());
    LocalActor& actor = it->second;
    if (no_restart || actor.restarts >= actor.creation.options.max_restarts) {
      Die(actor, "it was killed");
      return Status::Ok();
    }
    ++actor.restarts;
    LocalActor restarted = actor;
    lock.unlock();  // the factory may call the API
    Start(restarted);
    lock.lock();
    actors_[id] = std::move(restarted);
    return Status::Ok();
  }

  // Methods run on the caller's thread, so a thread-local flag tells which
  // call asked.
  void ExitActor() override { exit_requested_ = true; }
  bool WasCurrentActorRestarted() override { return false; }

  internal::ActorCreation LastCreation() {
    std::lock_guard lock(actors_mutex_);
    return creations_.back();
  }

 private:
  struct LocalActor {
    internal::ActorCreation creation;  // kept for restarts, as the GCS does
    std::shared_ptr<void> instance;    // null once dead
    std::string death;
    int restarts = 0;
  };

  // Runs the factory: the actor is alive with its instance or dead with why.
  void Start(LocalActor& actor) {
    ResolvedArgs args = Resolve(actor.creation.args);
    if (args.error) return Die(actor, "an argument failed: " + args.error->message);
    internal::ActorCreateResult created =
        internal::FunctionRegistry::Instance().Find(actor.creation.factory)->create(args.args);
    if (created.error) return Die(actor, "its factory failed: " + created.error->message);
    actor.instance = std::move(created.instance);
  }
  static void Die(LocalActor& actor, std::string why) {
    actor.instance.reset();
    actor.death = std::move(why);
  }

  static inline thread_local bool exit_requested_ = false;
  std::mutex actors_mutex_;
  std::map<ActorId, LocalActor> actors_;
  std::map<std::string, ActorId> names_;
  std::vector<internal::ActorCreation> creations_;
};

class ActorApiLocalTest : public ::testing::Test {
 protected:
  void SetUp() override { internal::SetCurrentRuntime(&runtime_); }
  void TearDown() override { internal::SetCurrentRuntime(nullptr); }

  LocalActorRuntime runtime_;
};

// Every actor entry point, for the tests of what they throw without actors.
void ExpectEveryEntryPointThrows(const std::string& message) {
  auto expect_message = [&](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "did not throw";
    } catch (const RuntimeError& e) {
      EXPECT_EQ(e.what(), message);
    }
  };
  ActorHandle<Counter> handle(ActorId::FromRandom());
  expect_message([] { Actor(Counter::Create); });
  expect_message([] { GetActor<Counter>("c"); });
  expect_message([] { ExitActor(); });
  expect_message([&] { handle.Task(&Counter::Incr); });
  expect_message([&] { handle.Kill(); });
}

TEST(ActorApiNotInitializedTest, EveryEntryPointSaysSo) {
  ASSERT_EQ(internal::CurrentRuntime(), nullptr);
  ExpectEveryEntryPointThrows("rayk is not initialized; call rayk::Init() first");
}

TEST(ActorApiTaskOnlyRuntimeTest, EveryEntryPointSaysActorsAreUnsupported) {
  local_test::LocalRuntime tasks_only;
  internal::SetCurrentRuntime(&tasks_only);
  ExpectEveryEntryPointThrows("this runtime does not support actors");
  internal::SetCurrentRuntime(nullptr);
}

TEST(ActorApiRegistryTest, RaykRemoteRegistersFactoriesAndMethods) {
  const internal::FunctionRegistry& registry = internal::FunctionRegistry::Instance();
  const internal::RegisteredFunction* create = registry.Find("Counter::Create");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->kind, internal::FunctionKind::kActorFactory);
  EXPECT_EQ(*create->actor_class, typeid(Counter));
  EXPECT_TRUE(create->create);
  EXPECT_EQ(registry.NameOf(internal::KeyOf(&Counter::Create)), "Counter::Create");

  const internal::RegisteredFunction* incr = registry.Find("&Counter::Incr");
  ASSERT_NE(incr, nullptr);
  EXPECT_EQ(incr->kind, internal::FunctionKind::kMethod);
  EXPECT_EQ(*incr->actor_class, typeid(Counter));
  EXPECT_TRUE(incr->invoke_method);
  EXPECT_EQ(registry.NameOf(internal::KeyOf(&Counter::Incr)), "&Counter::Incr");
  EXPECT_FALSE(registry.NameOf(internal::KeyOf(&Counter::NotRegistered)).has_value());

  // What a worker does with them: create an instance, call a method on it.
  internal::ActorCreateResult created = create->create({internal::Serialize(41)});
  ASSERT_FALSE(created.error);
  internal::InvokeResult result =
      incr->invoke_method(created.instance.get(), {internal::Serialize(1)}, 0);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(internal::Deserialize<int>(result.value), 42);
}

TEST_F(ActorApiLocalTest, CreationWithArgumentsAndStateAcrossCalls) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(5);
  EXPECT_FALSE(counter.IsNil());
  internal::ActorCreation creation = runtime_.LastCreation();
  EXPECT_EQ(creation.factory, "Counter::Create");
  EXPECT_EQ(creation.class_name, "actor_test::Counter");
  ASSERT_EQ(creation.args.size(), 1u);
  EXPECT_FALSE(creation.args[0].is_ref);
  EXPECT_EQ(internal::Deserialize<int>(creation.args[0].value), 5);

  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(2)), 7);
  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(3)), 10);
  EXPECT_EQ(*Get(counter.Task(&Counter::Value).Remote()), 10);  // a const method
  // Arguments convert and travel as for tasks: a string literal, a ref.
  EXPECT_EQ(*Get(counter.Task(&Counter::Describe).Remote("n=")), "n=10");
  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(Put(5))), 15);

  // A void method gives an ObjectRef<void>.
  ObjectRef<void> reset = counter.Task(&Counter::Reset).Remote();
  Get(reset);
  EXPECT_EQ(*Get(counter.Task(&Counter::Value).Remote()), 0);

  // A ref as a factory argument, and a second actor with its own state.
  ActorHandle<Counter> other = Actor(Counter::Create).Remote(Put(100));
  EXPECT_TRUE(runtime_.LastCreation().args[0].is_ref);
  EXPECT_NE(other, counter);
  EXPECT_EQ(*Get(other.Task(&Counter::Incr).Remote(1)), 101);
  EXPECT_EQ(*Get(counter.Task(&Counter::Value).Remote()), 0);
}

TEST_F(ActorApiLocalTest, OptionsReachActorCreation) {
  Actor(Counter::Create).Remote(0);
  internal::ActorOptions defaults = runtime_.LastCreation().options;
  EXPECT_EQ(defaults.name, "");
  EXPECT_EQ(defaults.resources, ResourceSet());  // actors hold no CPU by default
  EXPECT_EQ(defaults.max_restarts, 0);
  EXPECT_EQ(defaults.max_task_retries, 0);
  EXPECT_EQ(defaults.max_concurrency, internal::kDefaultMaxConcurrency);  // the worker picks
  EXPECT_FALSE(defaults.detached);

  Actor(Counter::Create)
      .SetName("configured")
      .SetResource("CPU", 1)
      .SetResources({{"GPU", 2}, {"memory", 1e9}})
      .SetMaxRestarts(2)
      .SetMaxTaskRetries(3)
      .SetMaxConcurrency(4)
      .SetLifetimeDetached()
      .Remote(0);
  internal::ActorOptions options = runtime_.LastCreation().options;
  EXPECT_EQ(options.name, "configured");
  EXPECT_EQ(options.resources, (ResourceSet{{"CPU", 1}, {"GPU", 2}, {"memory", 1e9}}));
  EXPECT_EQ(options.max_restarts, 2);
  EXPECT_EQ(options.max_task_retries, 3);
  EXPECT_EQ(options.max_concurrency, 4);
  EXPECT_TRUE(options.detached);
}

TEST_F(ActorApiLocalTest, MethodExceptionComesBackAsTaskError) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  try {
    Get(counter.Task(&Counter::Fail).Remote());
    FAIL() << "no exception";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.remote_type(), "std::logic_error");
    EXPECT_EQ(e.remote_message(), "counter failed");
    EXPECT_EQ(e.where(), "actor task &Counter::Fail in the local test runtime");
  }
  // The actor lives on.
  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(1)), 1);
}

TEST_F(ActorApiLocalTest, AStreamingMethodNeedsACluster) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  try {
    counter.Task(&Counter::UpTo).Remote(3);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("a call of &Counter::UpTo: this runtime runs actors in place "
                                    "and cannot stream a generator's items"));
  }
}

TEST_F(ActorApiLocalTest, HandlesSerializeAsTheActorId) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  std::string bytes = internal::Serialize(counter);
  EXPECT_NE(bytes.find(counter.ID().Binary()), std::string::npos);
  ActorHandle<Counter> decoded = internal::Deserialize<ActorHandle<Counter>>(bytes);
  EXPECT_EQ(decoded, counter);
  EXPECT_EQ(decoded.ID(), counter.ID());
  EXPECT_EQ(*Get(decoded.Task(&Counter::Incr).Remote(2)), 2);
  EXPECT_EQ(*Get(counter.Task(&Counter::Value).Remote()), 2);  // the same actor

  // As a task argument, a task result, and inside a container.
  EXPECT_EQ(*Get(Task(IncrThrough).Remote(counter, 3)), 5);
  ActorHandle<Counter> made = *Get(Task(MakeCounter).Remote(40));
  EXPECT_EQ(*Get(made.Task(&Counter::Incr).Remote(2)), 42);
  std::vector<ActorHandle<Counter>> both{counter, made};
  auto round_trip =
      internal::Deserialize<std::vector<ActorHandle<Counter>>>(internal::Serialize(both));
  EXPECT_EQ(round_trip, both);

  // Copies are equal and hash alike.
  std::unordered_set<ActorHandle<Counter>> set{counter, decoded, made};
  EXPECT_EQ(set.size(), 2u);
  ActorHandle<Counter> empty;
  EXPECT_TRUE(internal::Deserialize<ActorHandle<Counter>>(internal::Serialize(empty)).IsNil());
}

TEST_F(ActorApiLocalTest, GetActorByName) {
  ActorHandle<Counter> counter = Actor(Counter::Create).SetName("counter").Remote(7);
  ActorHandle<Counter> found = GetActor<Counter>("counter");
  EXPECT_EQ(found.ID(), counter.ID());
  EXPECT_EQ(*Get(found.Task(&Counter::Incr).Remote(1)), 8);

  try {
    GetActor<Counter>("nobody");
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "no actor named 'nobody'");
  }
  try {
    Actor(Counter::Create).SetName("counter").Remote(0);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot create actor actor_test::Counter: the name "
                                    "'counter' is already taken"));
  }
}

TEST_F(ActorApiLocalTest, KilledActorFailsLaterCalls) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  ActorHandle<Counter> copy = counter;
  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(1)), 1);
  counter.Kill();
  try {
    Get(copy.Task(&Counter::Incr).Remote(1));
    FAIL() << "no exception";
  } catch (const ActorDiedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is dead: it was killed"));
  }
  // Void calls too, and it is a RaykError like the others.
  EXPECT_THROW(Get(counter.Task(&Counter::Reset).Remote()), ActorDiedError);
  EXPECT_THROW(Get(counter.Task(&Counter::Value).Remote()), RaykError);

  // The runtime's refusal is a RuntimeError, and so is an empty handle.
  EXPECT_THROW(ActorHandle<Counter>(ActorId::FromRandom()).Kill(), RuntimeError);
  try {
    ActorHandle<Counter>().Task(&Counter::Incr);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Task() on an empty ActorHandle");
  }
}

TEST_F(ActorApiLocalTest, KillWithRestartRerunsTheFactory) {
  ActorHandle<Counter> counter = Actor(Counter::Create).SetMaxRestarts(1).Remote(5);
  EXPECT_EQ(*Get(counter.Task(&Counter::Incr).Remote(1)), 6);
  counter.Kill(/*no_restart=*/false);
  EXPECT_EQ(*Get(counter.Task(&Counter::Value).Remote()), 5);  // fresh state, same arguments
  counter.Kill(/*no_restart=*/false);                          // no restarts left
  EXPECT_THROW(Get(counter.Task(&Counter::Value).Remote()), ActorDiedError);
}

TEST_F(ActorApiLocalTest, ExitActorEndsTheActorAfterTheMethod) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  Get(counter.Task(&Counter::Exit).Remote());  // the exiting call itself succeeds
  EXPECT_THROW(Get(counter.Task(&Counter::Value).Remote()), ActorDiedError);
}

TEST_F(ActorApiLocalTest, ActorDiedErrorKindMapsToActorDiedError) {
  ObjectRef<int> ref(runtime_.AddFailed(ErrorInfo::Kind::kActorDied, "the actor is gone"),
                     ObjectRef<int>::AdoptTag());
  try {
    Get(ref);
    FAIL() << "no exception";
  } catch (const ActorDiedError& e) {
    EXPECT_STREQ(e.what(), "the actor is gone (node 1234abcd)");
  }
}

TEST_F(ActorApiLocalTest, UnregisteredMethodOrFactory) {
  ActorHandle<Counter> counter = Actor(Counter::Create).Remote(0);
  try {
    counter.Task(&Counter::NotRegistered);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("method not registered with RAYK_REMOTE: "));
    EXPECT_THAT(e.what(), HasSubstr("actor_test::Counter::*"));
  }
  try {
    Actor(UnregisteredFactory);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("actor factory not registered with RAYK_REMOTE: "));
  }
}

}  // namespace
}  // namespace rayk
