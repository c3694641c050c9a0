// Runtime: what the typed user API (api.h) needs from the process's core
// worker. Users do not call this; api.h turns its results into values and
// exceptions.
//
// One Runtime exists per process between rayk::Init() and rayk::Shutdown()
// (in a worker, for the worker's whole life). Every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rayk/node.h"
#include "rayk/object_buffer.h"
#include "rayk/placement_group.h"
#include "rayk/resources.h"

namespace rayk::internal {

// Retry and restart counts (max_retries, max_restarts, max_task_retries):
// 0 or more, or kUnlimited, as Ray's -1.
inline constexpr int kUnlimited = -1;
// True while `done` attempts leave another under `limit` (kUnlimited: always).
inline bool AnotherTry(int done, int limit) { return limit == kUnlimited || done < limit; }
// "retry 2 of 3", "retry 2 of unlimited": a limit as logs spell it.
inline std::string LimitText(int limit) {
  return limit == kUnlimited ? "unlimited" : std::to_string(limit);
}

// One argument of a task call: a value serialized by the caller, or a
// reference the runtime resolves to its value before the call (Ray's rule for
// ObjectRefs at the top level of the arguments).
// Where an object too large to travel inline lives: one node's object store.
struct StoreLocation {
  NodeId node;                 // Nil: not in a store
  std::string raylet_address;  // that node's raylet, which serves pulls of it
  uint64_t size = 0;
  bool valid() const { return !node.IsNil(); }
};

struct TaskArg {
  bool is_ref = false;
  ObjectId ref;
  std::string owner_address;  // with is_ref
  std::string value;          // without is_ref: the serialized argument
  // Without is_ref, for a large argument: its bytes are object `ref` in this
  // store, read (pulled first, if on another node) by the executing worker.
  StoreLocation location;
};

// Where a task or actor may run, beyond its resources (Ray's scheduling
// strategies and label selectors); see rayk::TaskCaller::SetSpread and friends.
struct Placement {
  SchedulingStrategy strategy = SchedulingStrategy::kDefault;
  NodeId affinity_node;        // with kNodeAffinity
  bool affinity_soft = false;  // soft: may run elsewhere when that node cannot
  std::map<std::string, std::string> label_selector;  // node labels that must match
  // Run inside a bundle of this placement group (SetPlacementGroup): on the
  // bundle's node, with the bundle's resources. bundle_index -1: any bundle.
  PlacementGroupId placement_group;
  int64_t bundle_index = -1;

  // Tasks with equal placement (and resources) share leased workers.
  std::string Key() const;
  bool operator==(const Placement&) const = default;
};

struct ErrorInfo;

// Which exceptions thrown by a task are retried (within its max_retries), as
// Ray's retry_exceptions: none (the default), all, or those whose type is one
// of `types` or derives from one (names as TypeName<E>() spells them).
struct RetryExceptions {
  bool all = false;
  std::vector<std::string> types;
  bool Matches(const ErrorInfo& error) const;
};

struct TaskOptions {
  ResourceSet resources{{"CPU", 1}};
  int max_retries = 3;  // retries after the worker dies (and, with retry_exceptions, after a throw)
  RetryExceptions retry_exceptions;
  // > 0: a run not finished this long after it reached its worker is killed
  // and counts as a failed attempt (TaskCaller::SetTimeout).
  std::chrono::milliseconds timeout{0};
  Placement placement;
  std::string name;  // SetName: the call's name in task listings ("": the function's)
  // SetNumReturns: the result (a tuple or vector) is split into this many
  // objects (SubmitSplitTask); 0: one object, the whole result.
  uint32_t num_returns = 0;
  // A streaming generator's call (rayk/generator.h, SubmitStreamingTask),
  // and SetGeneratorBackpressure's bound on items made ahead (0: none).
  bool streaming = false;
  uint32_t generator_backpressure = 0;
};

struct TaskCall {
  std::string function;  // the registered name, as RAYK_REMOTE spelled it
  std::vector<TaskArg> args;
  TaskOptions options;
};

// What went wrong making an object, as Get() reports it.
struct ErrorInfo {
  enum class Kind {
    kTaskError,
    kWorkerCrashed,
    kUnschedulable,
    kObjectLost,
    kRuntime,
    kActorDied,
    kObjectStoreFull,
    kTaskTimedOut,
    kOwnerDied,
    kTaskCancelled
  };
  Kind kind = Kind::kRuntime;
  std::string remote_type;  // kTaskError: the exception's type
  std::string message;
  std::string where;  // "task Add on node 3f2a1b0c, worker pid 1234"
  // kTaskError: the public base classes of remote_type, nearest first
  // ("std::runtime_error", "std::exception"), so an owner can match a thrown
  // type by a base it names (RetryExceptions).
  std::vector<std::string> remote_bases;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& kind& remote_type& message& where& remote_bases;
  }
};

inline bool RetryExceptions::Matches(const ErrorInfo& error) const {
  if (error.kind != ErrorInfo::Kind::kTaskError) return false;
  if (all) return true;
  for (const std::string& type : types) {
    if (type == error.remote_type) return true;
    for (const std::string& base : error.remote_bases) {
      if (type == base) return true;
    }
  }
  return false;
}

// An object's value: its bytes, or the error that took their place.
struct ObjectValue {
  std::shared_ptr<const ObjectBuffer> data;  // set when !error
  std::optional<ErrorInfo> error;
};

// The bytes of a new object, written in place by its maker before
// Runtime::SealObject turns them into the object. A runtime with a store
// shared by the node hands out space in that store for a large object, so
// its bytes are written once, where every reader on the node reads them.
// Dropped without being sealed, the space is given back.
class ObjectSpace {
 public:
  virtual ~ObjectSpace() = default;
  virtual uint8_t* data() = 0;
  virtual size_t size() const = 0;
};

// Space in this process's memory: the default, and the fallback for small
// objects or a store that the node does not share.
class HeapObjectSpace : public ObjectSpace {
 public:
  explicit HeapObjectSpace(size_t size) : bytes_(size, '\0') {}
  uint8_t* data() override { return reinterpret_cast<uint8_t*>(bytes_.data()); }
  size_t size() const override { return bytes_.size(); }
  std::string Release() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Submits a task; returns the id of the object its result will be. The
  // caller holds one local reference to it.
  virtual ObjectId SubmitTask(TaskCall call) = 0;
  // Submits a task whose result is split (call.options.num_returns > 0);
  // returns the ids of its num_returns results, in order. The caller holds
  // one local reference to each.
  virtual std::vector<ObjectId> SubmitSplitTask(TaskCall call) = 0;
  // Stores a value owned by this process; the caller holds one local reference.
  virtual ObjectId Put(std::string data) = 0;
  // Space for the `size` bytes of a new object that this process will own;
  // throws ObjectStoreFullError when the node's store cannot hold it.
  virtual std::unique_ptr<ObjectSpace> CreateObject(size_t size) {
    return std::make_unique<HeapObjectSpace>(size);
  }
  // Makes space from CreateObject, now written, an object (as Put does);
  // the caller holds one local reference.
  virtual ObjectId SealObject(std::unique_ptr<ObjectSpace> space) {
    return Put(static_cast<HeapObjectSpace&>(*space).Release());
  }
  // Waits up to `timeout` (negative: forever) for every object. Fails with
  // kTimedOut when one is not ready in time; an object made by a failed task
  // comes back with its error set.
  virtual Result<std::vector<ObjectValue>> Get(const std::vector<ObjectId>& ids,
                                               std::chrono::milliseconds timeout) = 0;
  // Which of `ids` are ready, once `num_returns` are or `timeout` passes.
  virtual std::vector<bool> Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                                 std::chrono::milliseconds timeout) = 0;

  // Reference counting by ObjectRef handles: the object is freed when its
  // count (with pending tasks and borrowers) reaches zero.
  virtual void AddLocalReference(const ObjectId& id) = 0;
  virtual void RemoveLocalReference(const ObjectId& id) = 0;
  // The owner's address, for serializing a reference.
  virtual std::string OwnerAddress(const ObjectId& id) = 0;
  // A reference arrived from another process (inside a value): remember its
  // owner so Get() can fetch it; counts as one local reference.
  virtual void AddBorrowedReference(const ObjectId& id, const std::string& owner_address) = 0;
  // Bracket the decoding of values (DecodingScope): references decoded on
  // this thread in between register with their owners together, one message
  // per owner, when the outermost bracket ends, which waits for the answers.
  virtual void BeginDecoding() {}
  virtual void EndDecoding() {}

  // rayk::Cancel (rayk/cancel.h): cancels the task or actor call that makes
  // object `id`, here if this process submitted it, else through its owner.
  // A runtime without remote workers cannot cancel (kUnimplemented).
  virtual Status Cancel(const ObjectId& id, bool force, bool recursive);
  // Inside a task or actor call: whether it was cancelled (false elsewhere).
  virtual bool IsCancelled() { return false; }

  // Streaming generators (rayk/generator.h). Submits a call whose items
  // stream back as it runs (call.options.streaming); returns the id of its
  // end object, of which the caller holds one local reference. A runtime
  // without remote workers throws RuntimeError.
  virtual ObjectId SubmitStreamingTask(TaskCall call);
  // The next item's id (the caller takes over one local reference), or
  // nothing at the stream's end; kTimedOut when `timeout` (negative:
  // forever) passes first.
  virtual Result<std::optional<ObjectId>> NextStreamItem(const ObjectId& stream,
                                                         std::chrono::milliseconds timeout);
  // The caller dropped its generator: the producer stops, the items not
  // taken are freed, and the caller's end reference goes.
  virtual void CloseStream(const ObjectId& stream);
};

// The process's runtime, or null outside Init()/Shutdown().
Runtime* CurrentRuntime();

// While one lives, the values decoded on this thread (a call's arguments,
// the values of one Get) register the references inside them in one round
// trip per owner rather than one per reference; the scope's end waits for
// the answers, so no decoded handle is handed out before its owner knows of
// this borrower. Scopes nest: the outermost one registers.
class DecodingScope {
 public:
  DecodingScope() : runtime_(CurrentRuntime()) {
    if (runtime_ != nullptr) runtime_->BeginDecoding();
  }
  ~DecodingScope() {
    if (runtime_ != nullptr) runtime_->EndDecoding();
  }
  DecodingScope(const DecodingScope&) = delete;
  DecodingScope& operator=(const DecodingScope&) = delete;

 private:
  Runtime* const runtime_;
};

}  // namespace rayk::internal

namespace rayk::internal {

// ---- Actors (see api.h: rayk::Actor, ActorHandle) ----

// ActorOptions::max_concurrency when the user did not set it; the actor's
// worker picks 1, or kDefaultAsyncMaxConcurrency (Ray's default) for an actor
// with coroutine methods (rayk/async.h).
inline constexpr int kDefaultMaxConcurrency = 0;
inline constexpr int kDefaultAsyncMaxConcurrency = 1000;

struct ActorOptions {
  std::string name;            // empty: anonymous; else unique in its namespace
  std::string namespace_name;  // of the name; empty: the job's
  ResourceSet resources;       // held for the actor's life; empty by default, as in Ray
  int max_restarts = 0;        // re-create through the factory after the process dies
  int max_task_retries = 0;    // re-send in-flight calls after a restart
  // Calls run at once (a plain actor with more than 1 is threaded; an async
  // one interleaves them on one thread); kDefaultMaxConcurrency: unset.
  int max_concurrency = kDefaultMaxConcurrency;
  // Named concurrency groups and their limits (rayk/concurrency_group.h);
  // the default group's limit is max_concurrency.
  std::map<std::string, int> concurrency_groups;
  bool detached = false;  // outlives the job that created it
  Placement placement;    // where the GCS may place it
};

struct ActorCreation {
  std::string factory;  // registered name of a static T* T::Create(...)
  std::string class_name;
  std::vector<TaskArg> args;
  ActorOptions options;
};

// One call of an actor's method (ActorTaskCaller::Remote).
struct ActorCall {
  ActorId actor;
  std::string method;  // the registered name, as RAYK_REMOTE spelled it
  std::vector<TaskArg> args;
  RetryExceptions retry_exceptions;
  std::string name;               // SetName: the call's name in task listings ("": the method's)
  std::string concurrency_group;  // SetConcurrencyGroup ("": its method's group)
  // SetNumReturns: the result is split into this many objects
  // (SubmitSplitActorTask); 0: one object, the whole result.
  uint32_t num_returns = 0;
  // A streaming generator's call (SubmitStreamingActorTask), and
  // SetGeneratorBackpressure's bound on items made ahead (0: none).
  bool streaming = false;
  uint32_t generator_backpressure = 0;
};

struct NamedActor {
  ActorId id;
  std::string class_name;
};

// Actor entry points of Runtime, kept apart so that task-only runtimes (the
// API's local test harness) can leave them unimplemented.
class ActorRuntime {
 public:
  virtual ~ActorRuntime() = default;
  // Registers the actor with the GCS, which creates it on a node. Fails
  // (kAlreadyExists) when the name is taken.
  virtual Result<ActorId> CreateActor(ActorCreation creation) = 0;
  // Calls `call.method` on the actor; the result is the returned object, of
  // which the caller holds one local reference. Calls from one process run
  // in the order they were submitted (a call retried for `retry_exceptions`
  // runs again after them). Throws RuntimeError for a concurrency group the
  // actor is known not to have. call.num_returns and call.streaming are not
  // looked at: the two entries below make those calls.
  virtual ObjectId SubmitActorTask(ActorCall call) = 0;
  // SubmitActorTask for a call whose result is split into call.num_returns
  // objects (ActorTaskCaller::SetNumReturns); returns their ids, in order,
  // the caller holding one local reference to each. A runtime that cannot
  // split results throws RuntimeError.
  virtual std::vector<ObjectId> SubmitSplitActorTask(ActorCall call);
  // SubmitActorTask for a method returning rayk::Generator<T>: its items
  // stream back as it runs, as SubmitStreamingTask's do (Runtime's
  // NextStreamItem and CloseStream take them); returns the id of its end
  // object. A runtime that cannot stream throws RuntimeError.
  virtual ObjectId SubmitStreamingActorTask(ActorCall call);
  // The actor created with that name (kNotFound when there is none), and the
  // class it was created as (ActorCreation::class_name), which GetActor<T>
  // checks against T.
  // `ns` empty: the job's namespace.
  virtual Result<NamedActor> GetNamedActor(const std::string& name, const std::string& ns) = 0;
  // Ends the actor's process; with `no_restart` it stays dead.
  virtual Status KillActor(const ActorId& actor, bool no_restart) = 0;
  // Inside an actor's method: ends this actor once the method returns, for good.
  virtual void ExitActor() = 0;
  // True inside an actor (its factory included) whose process is a restart.
  virtual bool WasCurrentActorRestarted() = 0;
  // Inside an actor's call (rayk/async.h): false when every object in `ids`
  // is ready already; otherwise true, and `resume` runs on the actor's
  // event loop once they all are. A runtime without event loops throws
  // RuntimeError.
  virtual bool ResumeWhenReady(const std::vector<ObjectId>& ids, std::function<void()> resume);
};

// The process's actor runtime (the core worker), or null.
ActorRuntime* CurrentActorRuntime();

// What a process can ask of the cluster as a whole: its nodes (rayk/cluster.h)
// and the internal key-value store (rayk/kv.h), both kept by the GCS.
class ClusterRuntime {
 public:
  virtual ~ClusterRuntime() = default;
  virtual Result<std::vector<NodeView>> Nodes() = 0;
  virtual NodeId CurrentNodeId() = 0;
  // The KV calls take the key first and the namespace after it, as rayk/kv.h
  // and Ray's internal_kv do, so that no layer swaps the two strings.
  // False when `overwrite` is off and the key exists (nothing written).
  virtual Result<bool> KvPut(const std::string& key, const std::string& value,
                             const std::string& ns, bool overwrite) = 0;
  virtual Result<std::optional<std::string>> KvGet(const std::string& key,
                                                   const std::string& ns) = 0;
  // False when there was no such key.
  virtual Result<bool> KvDelete(const std::string& key, const std::string& ns) = 0;
  virtual Result<std::vector<std::string>> KvList(const std::string& prefix,
                                                  const std::string& ns) = 0;
  // Placement groups (rayk/placement_group.h), kept by the GCS. Create fails
  // with kInvalidArgument for bad bundles and kAlreadyExists for a taken
  // name; Wait answers whether every bundle is reserved within `timeout`
  // (kNotFound for an unknown or removed group); Get fails with kNotFound
  // for an unknown name.
  virtual Result<PlacementGroup> CreatePlacementGroup(const std::vector<ResourceSet>& bundles,
                                                      PlacementStrategy strategy,
                                                      const std::string& name, bool detached) = 0;
  virtual Status RemovePlacementGroup(const PlacementGroupId& id) = 0;
  virtual Result<bool> WaitPlacementGroup(const PlacementGroupId& id,
                                          std::chrono::milliseconds timeout) = 0;
  // `ns` empty: the job's namespace.
  virtual Result<PlacementGroup> GetPlacementGroup(const std::string& name,
                                                   const std::string& ns) = 0;
};

// The process's cluster runtime (the core worker), or null.
ClusterRuntime* CurrentClusterRuntime();

}  // namespace rayk::internal
