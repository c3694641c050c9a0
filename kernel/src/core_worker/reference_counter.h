// ReferenceCounter: the object table of one CoreWorker, Ray's
// ReferenceCounter and in-process memory store in one.
//
// For every object this process knows of it counts the references held here
// (ObjectRef handles, and pending tasks that take it as an argument) and keeps
// its value once known: bytes, an error, or the mark that the bytes are in an
// object store (then Get reads them there each time, so the store may spill
// them while nobody looks). A borrowed object is fetched from its owner the
// first time someone waits for it.
//
// Borrowers (Ray's ownership protocol, docs/object-store.md): a process that
// decodes a reference it does not own from a value registers with the owner
// before the decoded handle is used, and tells the owner when its last
// reference goes (kRemoveBorrowers). The references decoded from one value
// (or one call's arguments, one Get's values) register together, one
// kAddBorrowers per owner, and the decoding waits for the answers once. An
// owned object is freed, in every store, when its own count is zero and no
// borrower remains; borrowers whose process died (the GCS's "worker" topic)
// are dropped. A reference serialized into a value is held from the moment
// it is serialized (so it cannot go while in flight) until what carries it
// ends: a Put value's object is freed, or a task that takes it in an
// argument finishes (or its lineage is forgotten), or an actor created with
// it in its arguments dies for good. References in a task's result or a
// generator's item are handed over to the caller, which holds them as long
// as it holds the result or item.
//
// Thread-safety: the table is guarded by WorkerContext::mu (see
// worker_context.h). Methods without a suffix take it; *Locked ones expect it
// held and leave transport calls and callbacks in `actions`.
// Callers: the user API through CoreWorker (Put, Get, Wait, references),
// TaskManager (task results and arguments), ActorSubmitter (actor creation
// arguments) and the worker service (other processes' GetObject, AddBorrower,
// RemoveBorrowers).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core_worker/worker_context.h"
#include "gcs/gcs_subscription.h"
#include "rayk/internal/runtime.h"

namespace rayk {

// Values as the table holds them.
internal::ObjectValue ValueOf(std::string bytes);
internal::ObjectValue ErrorValue(internal::ErrorInfo::Kind kind, std::string message,
                                 std::string where = "");
// The mark of a value that lives in an object store (ObjectEntry::location).
inline internal::ObjectValue InStoreMark() { return internal::ObjectValue{nullptr, std::nullopt}; }
inline bool IsInStoreMark(const internal::ObjectValue& value) {
  return value.data == nullptr && !value.error;
}
inline std::string_view BytesOf(const internal::ObjectValue& value) {
  return {reinterpret_cast<const char*>(value.data->data()), value.data->size()};
}

class ReferenceCounter {
 public:
  struct ObjectEntry {
    std::optional<internal::ObjectValue> value;
    bool owned = false;
    std::string owner_address;
    // Owned: the processes that borrow it (by core-worker address), each with
    // the number of its registrations not yet removed.
    std::unordered_map<std::string, int> borrowers;
    // Borrowed: this process is registered with the owner (and tells it when
    // the entry goes), or is registering now.
    bool registered = false;
    bool registering = false;
    // References serialized into this object's value (a Put): each holds one
    // local reference, released when this entry is freed.
    std::vector<ObjectId> contained;
    int local_refs = 0;
    int task_refs = 0;
    bool fetching = false;
    std::vector<std::function<void()>> on_ready;  // run (without mu) once the value is in
    int value_waiters = 0;  // Gets blocked until this value is in (WaitReadyLocked)
    // Valid: the value is in that node's object store, and `value` holds
    // neither bytes nor error (InStoreMark).
    internal::StoreLocation location;
    // Owned objects: whether the task that made it is kept to make it again
    // should its node die (TaskManager's lineage), or why not.
    enum class Lineage : uint8_t {
      kPut,
      kKept,
      kNoRetriesLeft,
      kLimitReached,
      kActorCall,
      kSplitResults,
      kGeneratorItem,
    };
    Lineage lineage = Lineage::kPut;
  };
  // Lineage hooks, set by the TaskManager: an owned object was freed; and the
  // objects of node `node` could not be read, so rebuild those that can be
  // (true when some object's value was reset to be made again).
  using FreedFn = std::function<void(const ObjectId&, Actions&)>;
  using RebuildFn = std::function<bool(const NodeId& node, Actions&)>;
  // Called with true before a Get starts waiting and with false after: a
  // worker lends its CPU back meanwhile (TaskExecutor::SetBlocked).
  using BlockedFn = std::function<void(bool blocked)>;

  ReferenceCounter(WorkerContext& context, BlockedFn set_blocked);

  // A value this process owns; the caller holds one local reference.
  ObjectId Put(std::string data);
  // The same, written in place (Runtime::CreateObject, SealObject): in the
  // node's store when large and the store is shared, else in this process.
  std::unique_ptr<internal::ObjectSpace> CreateObject(size_t size);
  ObjectId SealObject(std::unique_ptr<internal::ObjectSpace> space);
  Result<std::vector<internal::ObjectValue>> Get(const std::vector<ObjectId>& ids,
                                                 std::chrono::milliseconds timeout);
  std::vector<bool> Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                         std::chrono::milliseconds timeout);
  // Without waiting: false when every object in `ids` has its value (or is
  // unknown here, as Get treats it); otherwise true, and `ready` runs once
  // they all have, on the thread that set the last one (without mu).
  // Borrowed objects are fetched from their owners meanwhile.
  bool WhenReady(const std::vector<ObjectId>& ids, std::function<void()> ready);
  void AddLocalReference(const ObjectId& id);
  void RemoveLocalReference(const ObjectId& id);
  std::string OwnerAddress(const ObjectId& id);
  // A reference decoded from a value: one local reference; a borrowed one
  // registers this process with its owner first (waits for the answer, at
  // the end of the decoding bracket it is in, if any).
  void AddBorrowedReference(const ObjectId& id, const std::string& owner_address);
  // The decoding bracket of this thread (Runtime::BeginDecoding): borrowed
  // references decoded inside wait, each holding one local reference, and
  // the outermost End registers them, one kAddBorrowers per owner, and
  // waits until every owner answered (or is known dead).
  void BeginDecoding();
  void EndDecoding();
  size_t NumObjects();
  // The borrowers of an owned object `id` (0 when not owned or unknown).
  size_t NumBorrowers(const ObjectId& id);
  // The objects this process owns, for `rayk memory`: at most `limit`
  // listed, most borrowed first, then largest.
  protocol::OwnedObjects ListOwned(size_t limit);

  // References serialized on this thread (OwnerAddress) wait, each holding a
  // local reference, for what carries them to claim them. Put claims them
  // for its object, TaskManager for a task (and ActorSubmitter for an
  // actor's creation arguments, until the actor dies),
  // HandOverSerializedReferences for a task's results and a generator's
  // items. DropSerializedReferences lets them go (a value that will not be
  // sent); KeepSerializedReferences makes them permanent (an executor with
  // no reference table to hand them to). Every claim follows its
  // serialization on the same thread within one call into rayk (Put and
  // Remote() encode and submit in one call; a worker encodes a result or an
  // item and hands it over in one step of its loop, async actors included),
  // so no other thread or coroutine comes between. Holds left by an
  // encoding that threw half-way go to the next claim on the thread.
  static void KeepSerializedReferences();
  void DropSerializedReferences();
  // The worker's side of "contained in" tracking: the references serialized
  // on this thread into a task's results go to `caller`, which will hold them
  // as long as it holds a result. The caller is registered as a borrower with
  // each owner first (this process's own objects here, a third process's
  // with AddBorrower on its behalf; waits for the answer, without mu), then
  // this process lets go of its holds, so no object is left unheld between.
  std::vector<protocol::ContainedRef> HandOverSerializedReferences(const std::string& caller);
  // The caller's side: takes one hold of each reference in `refs` for each
  // of `holders` (the results still held; each frees its holds with
  // itself), settles the registrations the worker made or ended for it,
  // and with no holders lets go at once.
  void AdoptContainedLocked(const std::vector<protocol::ContainedRef>& refs,
                            const std::vector<ObjectId>& holders, Actions& actions);
  // Turns the references serialized on this thread into `arg_refs` of a
  // pending task (task references, released with its arguments).
  void HoldSerializedReferencesForTaskLocked(std::vector<ObjectId>& arg_refs);

  // The owner's side of the borrower protocol (from the worker service).
  void HandleAddBorrower(const protocol::AddBorrower& request, ReplyFn reply);
  void HandleAddBorrowers(const protocol::AddBorrowers& request, ReplyFn reply);
  void HandleRemoveBorrowers(const protocol::RemoveBorrowers& request);
  // Asks the GCS again, once a second, whether the owners of objects being
  // fetched died: a published death can be lost while a subscription
  // connects. Called by the CoreWorker's reaper thread.
  void RecheckFetchedOwners();
  // Keeps the owner-death subscription on the GCS wherever it publishes
  // (the reaper's round; cheap unless the GCS went silent).
  void FollowGcs();
  // Ends the watch on owners' deaths (at shutdown, after `stopping` is set).
  void StopWatchingOwners();
  // Another process asks for an object this one owns: answered now, or when
  // its value comes in.
  void HandleGetObject(const ObjectId& id, ReplyFn reply);

  // The entry of `id`, made if new.
  ObjectEntry& EntryLocked(const ObjectId& id) { return objects_[id]; }
  // The entry of `id`, or null.
  ObjectEntry* FindLocked(const ObjectId& id) {
    auto it = objects_.find(id);
    return it == objects_.end() ? nullptr : &it->second;
  }
  void SetLineageHooks(FreedFn on_freed, RebuildFn rebuild) {
    on_owned_freed_ = std::move(on_freed);
    rebuild_node_objects_ = std::move(rebuild);
  }
  // The result of a task this process submits: owned, one local reference.
  void AddTaskReturnLocked(const ObjectId& id);
  // A pending task takes `id` as an argument (owned by `owner_address`).
  void AddTaskArgLocked(const ObjectId& id, const std::string& owner_address);
  void RemoveTaskArgLocked(const ObjectId& id, Actions& actions);
  // Sets the value and wakes whoever waits for it.
  void SetValueLocked(const ObjectId& id, internal::ObjectValue value, Actions& actions);
  // A task result that a worker put in its node's store: recorded (or, when
  // nobody holds the result any more, freed there). Returns the value to set.
  internal::ObjectValue StoredResultLocked(const ObjectId& id,
                                           const internal::StoreLocation& location,
                                           Actions& actions);
  // Starts fetching a borrowed object from its owner, unless its value is
  // here or on the way.
  void FetchLocked(const ObjectId& id, Actions& actions);
  void MaybeFreeLocked(const ObjectId& id, Actions& actions);
  // Node `node` died (`cause`): owned objects whose value was only in its
  // store, and that are not being made again, fail with ObjectLostError at
  // once, saying why they cannot come back.
  void MarkLostOnNodeLocked(const NodeId& node, const std::string& cause, Actions& actions);

 private:
  // Space for a new owned object in the node's store; null when it belongs
  // in this process instead (small, no shared store, or the store failed
  // otherwise). Throws ObjectStoreFullError when the store is full.
  std::unique_ptr<StoreSpace> CreateInStore(size_t size);
  // Records a new object this process owns, holding the references
  // serialized on this thread; the caller holds one local reference.
  ObjectId AddOwned(const ObjectId& id, const internal::StoreLocation& location,
                    internal::ObjectValue value);
  // Asks the owner for the value (without mu: it may connect).
  void Fetch(const ObjectId& id, const std::string& owner);
  // Watches an owner this process fetches from for its death (the GCS's
  // "worker" topic, and its record of deaths before), so that fetches from a
  // dead owner fail with OwnerDiedError at once instead of waiting on a
  // connection nobody answers. Without mu.
  void WatchOwner(const std::string& owner);
  // Watches a borrower of objects this process owns the same way, so that a
  // dead borrower's registrations do not pin the objects. Without mu.
  void WatchBorrower(const std::string& borrower);
  // Both: adds `address` to `watched` (with mu), subscribes to the "worker"
  // topic once, and asks the GCS whether it died already.
  void WatchForDeath(std::unordered_set<std::string>& watched, const std::string& address);
  void SubscribeToOwnerDeaths();
  void AskWhetherOwnerDied(const std::string& owner);
  // A process died: its borrowings end, and objects it owned are lost.
  void OnWorkerDied(const std::string& address, const std::string& cause);
  void DropBorrower(const std::string& borrower);
  // Tells the owner of borrowed `id` that one registration of this process
  // ends (after mu).
  void RemoveBorrowerAction(const ObjectId& id, const std::string& owner, Actions& actions);
  void OnOwnerDied(const std::string& owner, const std::string& cause);
  // Registers with `owner` as a borrower of `ids` (without mu): the answer
  // clears each entry's `registering` (and sets `registered` when the owner
  // accepted it).
  void RegisterWithOwner(const std::vector<ObjectId>& ids, const std::string& owner);
  // The owner's side: registers `borrower` for each of `ids` it holds;
  // whether it did, for each.
  std::vector<uint8_t> AddBorrowers(const std::string& borrower, const std::vector<ObjectId>& ids);
  // What a kBorrowersAdded reply says for each of `count` objects: all
  // refused when the call failed or the answer does not fit.
  static std::vector<uint8_t> AcceptedOf(const Result<std::string>& reply, size_t count);
  static internal::ObjectValue OwnerDiedValue(const ObjectId& id, const std::string& owner,
                                              const std::string& cause);
  void OnFetchReply(const ObjectId& id, const std::string& owner, Result<std::string> reply);
  // Sets a value from outside mu, then runs what waited for it.
  void Resolve(const ObjectId& id, internal::ObjectValue value,
               const internal::StoreLocation& location);
  // One Get: the values, with the nodes that could not serve an owned
  // object added to `unreadable_nodes`.
  Result<std::vector<internal::ObjectValue>> GetOnce(const std::vector<ObjectId>& ids,
                                                     std::chrono::milliseconds timeout,
                                                     std::vector<NodeId>* unreadable_nodes);
  // Why an owned object that could not be read will or will not come back.
  std::string LineageText(ObjectEntry::Lineage lineage);
  // How often one Get waits for objects being made again.
  static constexpr int kMaxRebuildRounds = 3;
  // Waits (mu held by `lock`) until every object in `ids` has a value.
  bool WaitReadyLocked(std::unique_lock<std::mutex>& lock, const std::vector<ObjectId>& ids,
                       std::chrono::milliseconds timeout);
  // Replaces the in-store marks in `values` with the bytes (without mu).
  void ReadFromStores(const std::vector<ObjectId>& ids,
                      const std::vector<std::pair<size_t, internal::StoreLocation>>& in_store,
                      std::vector<internal::ObjectValue>& values);
  void AnswerGetObject(const ObjectId& id, const ReplyFn& reply);

  WorkerContext& context_;
  const BlockedFn set_blocked_;
  std::condition_variable ready_cv_;  // with context_.mu: a value came in
  int wait_any_waiters_ = 0;          // Waits blocked: every value wakes them
  std::unordered_map<ObjectId, ObjectEntry> objects_;
  std::unordered_set<std::string> watched_owners_;     // with mu
  std::unordered_set<std::string> watched_borrowers_;  // with mu
  // Watched owners that died, with the cause: later fetches fail at once.
  std::unordered_map<std::string, std::string> dead_owners_;  // with mu
  bool watching_owner_deaths_ = false;                        // with mu
  std::shared_ptr<GcsSubscription> owner_deaths_;             // with mu
  std::chrono::steady_clock::time_point next_owner_recheck_;  // with mu
  FreedFn on_owned_freed_;                                    // called with mu
  RebuildFn rebuild_node_objects_;                            // called with mu
};

}  // namespace rayk
