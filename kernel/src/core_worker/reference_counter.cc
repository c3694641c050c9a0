#include "core_worker/reference_counter.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "rayk/errors.h"

namespace rayk {

namespace {

using internal::ErrorInfo;
using internal::ObjectValue;
using protocol::MessageType;

class StringBuffer : public ObjectBuffer {
 public:
  explicit StringBuffer(std::string bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
};

// References serialized on this thread, each holding one local reference,
// until a Put or a task claims them (see KeepSerializedReferences).
thread_local std::vector<ObjectId> serialized_references;

// The decoding bracket of this thread (BeginDecoding): its depth, and the
// borrowed references decoded inside that are not known to be registered,
// each holding one local reference until the outermost End.
struct DecodingBracket {
  int depth = 0;
  std::vector<ObjectId> unregistered;
};
thread_local DecodingBracket decoding;

}  // namespace

ObjectValue ValueOf(std::string bytes) {
  return ObjectValue{std::make_shared<StringBuffer>(std::move(bytes)), {}};
}

ObjectValue ErrorValue(ErrorInfo::Kind kind, std::string message, std::string where) {
  ErrorInfo error;
  error.kind = kind;
  error.message = std::move(message);
  error.where = std::move(where);
  return ObjectValue{nullptr, error};
}

ReferenceCounter::ReferenceCounter(WorkerContext& context, BlockedFn set_blocked)
    : context_(context), set_blocked_(std::move(set_blocked)) {}

// ---------------------------------------------------------------- references

std::unique_ptr<StoreSpace> ReferenceCounter::CreateInStore(size_t size) {
  if (!context_.node_objects || size <= kInlineLimit) return nullptr;
  auto created = context_.node_objects->Create(ObjectId::FromRandom(), size);
  if (created.ok()) return std::move(*created);
  if (created.status().code() == StatusCode::kOutOfMemory) {
    throw ObjectStoreFullError("rayk::Put of " + std::to_string(size) +
                               " bytes: " + created.status().message());
  }
  spdlog::warn("rayk::Put of {} bytes keeps the value in this process: {}", size,
               created.status().message());
  return nullptr;
}

std::unique_ptr<internal::ObjectSpace> ReferenceCounter::CreateObject(size_t size) {
  if (auto stored = CreateInStore(size)) return stored;
  return std::make_unique<internal::HeapObjectSpace>(size);
}

ObjectId ReferenceCounter::SealObject(std::unique_ptr<internal::ObjectSpace> space) {
  auto* stored = dynamic_cast<StoreSpace*>(space.get());
  if (stored == nullptr) return Put(static_cast<internal::HeapObjectSpace&>(*space).Release());
  ObjectId id = stored->id();
  auto location = stored->Seal();
  if (!location.ok()) {
    throw RuntimeError("rayk::Put could not seal object " + id.Hex() +
                       " in the node's object store: " + location.status().message());
  }
  return AddOwned(id, *location, ObjectValue{});
}

ObjectId ReferenceCounter::Put(std::string data) {
  if (auto stored = CreateInStore(data.size())) {
    std::memcpy(stored->data(), data.data(), data.size());
    return SealObject(std::move(stored));
  }
  return AddOwned(ObjectId::FromRandom(), {}, ValueOf(std::move(data)));
}

ObjectId ReferenceCounter::AddOwned(const ObjectId& id, const internal::StoreLocation& location,
                                    ObjectValue value) {
  std::lock_guard<std::mutex> lock(context_.mu);
  ObjectEntry& entry = objects_[id];
  entry.owned = true;
  entry.local_refs = 1;
  entry.location = location;
  entry.value = location.valid() ? InStoreMark() : std::move(value);
  // The value's bytes were serialized on this thread just before: the
  // references in them stay held until this object is freed.
  entry.contained = std::move(serialized_references);
  serialized_references.clear();
  return id;
}

void ReferenceCounter::AddLocalReference(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(context_.mu);
  ++objects_[id].local_refs;
}

void ReferenceCounter::RemoveLocalReference(const ObjectId& id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto it = objects_.find(id);
    if (it == objects_.end()) return;
    --it->second.local_refs;
    MaybeFreeLocked(id, actions);
  }
  RunActions(actions);
}

std::string ReferenceCounter::OwnerAddress(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(context_.mu);
  auto it = objects_.find(id);
  if (it == objects_.end()) return context_.address;  // freed: nothing to hold
  // Serialized into a value that may leave this process: held until what
  // carries the value claims the hold, so it cannot go while in flight.
  ++it->second.local_refs;
  serialized_references.push_back(id);
  return it->second.owned ? context_.address : it->second.owner_address;
}

void ReferenceCounter::KeepSerializedReferences() { serialized_references.clear(); }

void ReferenceCounter::DropSerializedReferences() {
  std::vector<ObjectId> held = std::move(serialized_references);
  serialized_references.clear();
  if (held.empty()) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const ObjectId& id : held) {
      auto it = objects_.find(id);
      if (it == objects_.end()) continue;
      --it->second.local_refs;
      MaybeFreeLocked(id, actions);
    }
  }
  RunActions(actions);
}

void ReferenceCounter::RemoveBorrowerAction(const ObjectId& id, const std::string& owner,
                                            Actions& actions) {
  actions.push_back([this, id, owner] {
    if (context_.stopping) return;
    auto channel = context_.peers.Get(owner);
    if (!channel.ok()) return;  // the owner is gone, and its objects with it
    (void)(*channel)->Send(protocol::Encode(MessageType::kRemoveBorrowers,
                                            protocol::RemoveBorrowers{context_.address, {id}}));
  });
}

std::vector<protocol::ContainedRef> ReferenceCounter::HandOverSerializedReferences(
    const std::string& caller) {
  std::vector<ObjectId> held = std::move(serialized_references);
  serialized_references.clear();
  std::vector<protocol::ContainedRef> out;
  if (held.empty()) return out;
  std::unordered_map<ObjectId, int> holds;  // a reference serialized twice holds twice
  for (const ObjectId& id : held) ++holds[id];
  std::vector<size_t> remote;  // indexes into `out` owned by a third process
  bool lends_own = false;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const auto& [id, count] : holds) {
      ObjectEntry& entry = objects_[id];
      protocol::ContainedRef ref;
      ref.object_id = id;
      ref.owner = entry.owned ? context_.address : entry.owner_address;
      if (entry.owned) {
        ++entry.borrowers[caller];
        ref.registered = true;
        lends_own = true;
      } else if (ref.owner == caller) {
        // This process's last hold goes with the hand-over: the caller ends
        // its registration after taking its own hold (a RemoveBorrowers from
        // here could reach it before the reply does).
        if (entry.registered && entry.local_refs == count && entry.task_refs == 0) {
          entry.registered = false;
          ref.borrow_handed_over = true;
          ref.worker = context_.address;
        }
      } else if (!ref.owner.empty()) {
        remote.push_back(out.size());
      }
      out.push_back(std::move(ref));
    }
  }
  if (lends_own) WatchBorrower(caller);
  // One registration per third-party owner, for all of its objects.
  std::unordered_map<std::string, std::vector<size_t>> remote_by_owner;
  for (size_t i : remote) remote_by_owner[out[i].owner].push_back(i);
  for (const auto& [owner, indexes] : remote_by_owner) {
    auto channel = context_.peers.Get(owner);
    if (!channel.ok()) continue;  // the owner is gone: the caller's Get says so
    protocol::AddBorrowers request{caller, {}};
    for (size_t i : indexes) request.object_ids.push_back(out[i].object_id);
    std::vector<uint8_t> accepted =
        AcceptedOf((*channel)->CallSync(protocol::Encode(MessageType::kAddBorrowers, request),
                                        kControlTimeout),
                   indexes.size());
    for (size_t k = 0; k < indexes.size(); ++k) out[indexes[k]].registered = accepted[k] != 0;
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const auto& [id, count] : holds) {
      auto it = objects_.find(id);
      if (it == objects_.end()) continue;
      it->second.local_refs -= count;
      MaybeFreeLocked(id, actions);
    }
  }
  RunActions(actions);
  return out;
}

void ReferenceCounter::AdoptContainedLocked(const std::vector<protocol::ContainedRef>& refs,
                                            const std::vector<ObjectId>& holders,
                                            Actions& actions) {
  for (const protocol::ContainedRef& ref : refs) {
    const bool own = ref.owner == context_.address;
    if (own && objects_.find(ref.object_id) == objects_.end()) continue;  // already gone
    ObjectEntry& entry = objects_[ref.object_id];
    // One hold for the adoption itself, given back below, so that the
    // bookkeeping cannot free the entry half-way.
    ++entry.local_refs;
    for (const ObjectId& holder : holders) {
      ++entry.local_refs;
      objects_[holder].contained.push_back(ref.object_id);
    }
    if (own) {
      if (ref.borrow_handed_over) {
        auto borrower = entry.borrowers.find(ref.worker);
        if (borrower != entry.borrowers.end() && --borrower->second <= 0) {
          entry.borrowers.erase(borrower);
        }
      }
    } else {
      if (entry.owner_address.empty()) entry.owner_address = ref.owner;
      if (ref.registered) {
        if (entry.registered || entry.registering) {
          // Registered already: the worker's registration for it is one too many.
          RemoveBorrowerAction(ref.object_id, ref.owner, actions);
        } else {
          entry.registered = true;
          actions.push_back([this, owner = ref.owner] { WatchOwner(owner); });
        }
      }
    }
    --entry.local_refs;
    MaybeFreeLocked(ref.object_id, actions);
  }
}

void ReferenceCounter::HoldSerializedReferencesForTaskLocked(std::vector<ObjectId>& arg_refs) {
  for (const ObjectId& id : serialized_references) {
    ObjectEntry& entry = objects_[id];
    ++entry.task_refs;
    --entry.local_refs;
    arg_refs.push_back(id);
  }
  serialized_references.clear();
}

void ReferenceCounter::AddBorrowedReference(const ObjectId& id, const std::string& owner_address) {
  BeginDecoding();  // alone, a bracket of one
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    ObjectEntry& entry = objects_[id];
    ++entry.local_refs;
    if (!entry.owned && entry.owner_address.empty()) entry.owner_address = owner_address;
    // Registered (or being registered) before the bracket ends, unless
    // registered already, or nobody needs to hear of this borrower (its own
    // object, or an owner known dead: then its Get fails with
    // OwnerDiedError at once).
    if (!entry.owned && !entry.registered && !entry.owner_address.empty() &&
        entry.owner_address != context_.address && dead_owners_.count(entry.owner_address) == 0) {
      ++entry.local_refs;  // the bracket's hold, until its End
      decoding.unregistered.push_back(id);
    }
  }
  EndDecoding();
}

void ReferenceCounter::BeginDecoding() { ++decoding.depth; }

void ReferenceCounter::EndDecoding() {
  if (--decoding.depth > 0 || decoding.unregistered.empty()) return;
  std::vector<ObjectId> waiting = std::move(decoding.unregistered);
  decoding.unregistered.clear();
  // One registration per entry: those another bracket registers already
  // (another thread's, or this one's for a reference decoded twice) are
  // waited for, not sent again.
  std::unordered_map<std::string, std::vector<ObjectId>> by_owner;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const ObjectId& id : waiting) {
      ObjectEntry& entry = objects_[id];
      if (entry.registered || entry.registering) continue;
      entry.registering = true;
      by_owner[entry.owner_address].push_back(id);
    }
  }
  for (const auto& [owner, ids] : by_owner) RegisterWithOwner(ids, owner);
  Actions actions;
  {
    std::unique_lock<std::mutex> lock(context_.mu);
    // Until every owner answers, or is known dead (then nobody needs to
    // hear of this borrower, and its Get fails with OwnerDiedError at once).
    // An answered entry stays answered, so the scan resumes where it stopped.
    size_t first_unanswered = 0;
    ready_cv_.wait(lock, [&] {
      for (; first_unanswered < waiting.size(); ++first_unanswered) {
        const ObjectEntry& entry = objects_[waiting[first_unanswered]];
        if (entry.registering && dead_owners_.count(entry.owner_address) == 0) return false;
      }
      return true;
    });
    for (const auto& [owner, ids] : by_owner) {
      for (const ObjectId& id : ids) objects_[id].registering = false;  // gave up on a dead owner
    }
    ready_cv_.notify_all();
    for (const ObjectId& id : waiting) {
      --objects_[id].local_refs;
      MaybeFreeLocked(id, actions);
    }
  }
  RunActions(actions);
}

void ReferenceCounter::RegisterWithOwner(const std::vector<ObjectId>& ids,
                                         const std::string& owner) {
  WatchOwner(owner);  // a dead owner ends the wait at once
  auto answered = [this, ids](const std::vector<uint8_t>& accepted) {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = objects_.find(ids[i]);
      if (it == objects_.end() || !it->second.registering) continue;  // gave up: the owner died
      it->second.registering = false;
      it->second.registered = accepted[i] != 0;
    }
    ready_cv_.notify_all();
  };
  auto channel = context_.peers.Get(owner);
  if (!channel.ok()) return answered(std::vector<uint8_t>(ids.size(), 0));  // its Get says why
  (*channel)->Call(
      protocol::Encode(MessageType::kAddBorrowers, protocol::AddBorrowers{context_.address, ids}),
      // Also while stopping (the table outlives the channels): a decoder
      // may be waiting for this answer.
      [ids, owner, answered](Result<std::string> reply) {
        if (!reply.ok()) {
          spdlog::warn("cannot register as a borrower of {} object(s) with their owner at {}: {}",
                       ids.size(), owner, reply.status().message());
        }
        answered(AcceptedOf(reply, ids.size()));
      },
      kControlTimeout);
}

std::vector<uint8_t> ReferenceCounter::AcceptedOf(const Result<std::string>& reply, size_t count) {
  if (reply.ok()) {
    auto added = protocol::Decode<protocol::BorrowersAdded>(*reply);
    if (added.ok() && added->accepted.size() == count) return std::move(added->accepted);
  }
  return std::vector<uint8_t>(count, 0);
}

size_t ReferenceCounter::NumBorrowers(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(context_.mu);
  auto it = objects_.find(id);
  return it == objects_.end() || !it->second.owned ? 0 : it->second.borrowers.size();
}

protocol::OwnedObjects ReferenceCounter::ListOwned(size_t limit) {
  protocol::OwnedObjects out;
  out.owner = context_.address;
  out.pid = getpid();
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const auto& [id, entry] : objects_) {
      if (!entry.owned) continue;
      ++out.num_owned;
      protocol::OwnedObject object;
      object.object_id = id;
      object.in_store = entry.location.valid();
      if (object.in_store) {
        object.size = entry.location.size;
      } else if (entry.value && entry.value->data) {
        object.size = entry.value->data->size();
      }
      object.local_refs = entry.local_refs;
      object.task_refs = entry.task_refs;
      object.borrowers = static_cast<uint32_t>(entry.borrowers.size());
      out.objects.push_back(object);
    }
  }
  auto first = [](const protocol::OwnedObject& a, const protocol::OwnedObject& b) {
    return a.borrowers != b.borrowers ? a.borrowers > b.borrowers : a.size > b.size;
  };
  if (out.objects.size() > limit) {
    std::partial_sort(out.objects.begin(), out.objects.begin() + limit, out.objects.end(), first);
    out.objects.resize(limit);
  } else {
    std::sort(out.objects.begin(), out.objects.end(), first);
  }
  return out;
}

std::vector<uint8_t> ReferenceCounter::AddBorrowers(const std::string& borrower,
                                                    const std::vector<ObjectId>& ids) {
  std::vector<uint8_t> accepted(ids.size(), 0);
  bool held = false;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = objects_.find(ids[i]);
      if (it == objects_.end() || !it->second.owned) continue;
      ++it->second.borrowers[borrower];
      accepted[i] = 1;
      held = true;
    }
  }
  if (held) WatchBorrower(borrower);
  return accepted;
}

void ReferenceCounter::HandleAddBorrower(const protocol::AddBorrower& request, ReplyFn reply) {
  const bool held = AddBorrowers(request.borrower, {request.object_id})[0] != 0;
  Status status = held ? Status::Ok()
                       : Status::NotFound("object " + request.object_id.Hex() +
                                          " is no longer held by its owner at " + context_.address);
  if (!reply) return;
  reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(status)));
}

void ReferenceCounter::HandleAddBorrowers(const protocol::AddBorrowers& request, ReplyFn reply) {
  protocol::BorrowersAdded out{AddBorrowers(request.borrower, request.object_ids)};
  if (reply) reply(protocol::Encode(MessageType::kBorrowersAdded, out));
}

void ReferenceCounter::HandleRemoveBorrowers(const protocol::RemoveBorrowers& request) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    for (const ObjectId& id : request.object_ids) {
      auto it = objects_.find(id);
      if (it == objects_.end()) continue;
      auto borrower = it->second.borrowers.find(request.borrower);
      if (borrower == it->second.borrowers.end()) continue;
      if (--borrower->second <= 0) it->second.borrowers.erase(borrower);
      MaybeFreeLocked(id, actions);
    }
  }
  RunActions(actions);
}

size_t ReferenceCounter::NumObjects() {
  std::lock_guard<std::mutex> lock(context_.mu);
  return objects_.size();
}

void ReferenceCounter::AddTaskReturnLocked(const ObjectId& id) {
  ObjectEntry& result = objects_[id];
  result.owned = true;
  result.local_refs = 1;
}

void ReferenceCounter::AddTaskArgLocked(const ObjectId& id, const std::string& owner_address) {
  ObjectEntry& entry = objects_[id];
  ++entry.task_refs;
  if (!entry.owned && entry.owner_address.empty()) entry.owner_address = owner_address;
}

void ReferenceCounter::RemoveTaskArgLocked(const ObjectId& id, Actions& actions) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  --it->second.task_refs;
  MaybeFreeLocked(id, actions);
}

void ReferenceCounter::MaybeFreeLocked(const ObjectId& id, Actions& actions) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  ObjectEntry& entry = it->second;
  if (entry.local_refs > 0 || entry.task_refs > 0 || !entry.borrowers.empty() ||
      entry.registering || !entry.on_ready.empty()) {
    return;
  }
  if (entry.owned && entry.location.valid() && context_.node_objects) {
    // Freeing a copy on another node is a message to its raylet: after mu.
    actions.push_back(
        [this, id, location = entry.location] { context_.node_objects->Free(id, location); });
  }
  if (!entry.owned && entry.registered) {
    // The owner may free it once its other borrowers and it let go.
    RemoveBorrowerAction(id, entry.owner_address, actions);
  }
  const bool kept_lineage = entry.lineage == ObjectEntry::Lineage::kKept;
  std::vector<ObjectId> contained = std::move(entry.contained);
  objects_.erase(it);
  if (kept_lineage && on_owned_freed_) on_owned_freed_(id, actions);
  // Its value is gone, so nobody can decode the references in it any more.
  for (const ObjectId& inner : contained) {
    auto held = objects_.find(inner);
    if (held == objects_.end()) continue;
    --held->second.local_refs;
    MaybeFreeLocked(inner, actions);
  }
}

void ReferenceCounter::MarkLostOnNodeLocked(const NodeId& node, const std::string& cause,
                                            Actions& actions) {
  std::vector<ObjectId> lost;
  for (const auto& [id, entry] : objects_) {
    // Kept lineage still in the store mark was left to be made again when
    // needed (TaskManager::RebuildObjectsOnNodeLocked).
    if (entry.owned && entry.value && IsInStoreMark(*entry.value) && entry.location.node == node &&
        entry.lineage != ObjectEntry::Lineage::kKept) {
      lost.push_back(id);
    }
  }
  for (const ObjectId& id : lost) {
    ObjectEntry& entry = objects_[id];
    entry.location = {};
    SetValueLocked(
        id,
        ErrorValue(ErrorInfo::Kind::kObjectLost, "object " + id.Hex() + " was lost with node " +
                                                     node.Hex().substr(0, 8) + " (" + cause +
                                                     "); " + LineageText(entry.lineage)),
        actions);
  }
}

// ---------------------------------------------------------------- values

void ReferenceCounter::SetValueLocked(const ObjectId& id, ObjectValue value, Actions& actions) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;  // nobody holds it any more
  it->second.value = std::move(value);
  it->second.fetching = false;
  for (auto& callback : it->second.on_ready) actions.push_back(std::move(callback));
  it->second.on_ready.clear();
  if (it->second.value_waiters > 0 || wait_any_waiters_ > 0) ready_cv_.notify_all();
}

ObjectValue ReferenceCounter::StoredResultLocked(const ObjectId& id,
                                                 const internal::StoreLocation& location,
                                                 Actions& actions) {
  auto result = objects_.find(id);
  if (result != objects_.end()) {
    result->second.location = location;
  } else if (context_.node_objects) {
    // Nobody wants it any more.
    actions.push_back([this, id, location] { context_.node_objects->Free(id, location); });
  }
  return InStoreMark();
}

void ReferenceCounter::Resolve(const ObjectId& id, ObjectValue value,
                               const internal::StoreLocation& location) {
  Actions after;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (auto entry = objects_.find(id); entry != objects_.end()) entry->second.location = location;
    SetValueLocked(id, std::move(value), after);
  }
  RunActions(after);
}

void ReferenceCounter::FetchLocked(const ObjectId& id, Actions& actions) {
  ObjectEntry& entry = objects_[id];
  if (entry.owned || entry.value || entry.fetching) return;
  if (entry.owner_address.empty()) {
    SetValueLocked(
        id,
        ErrorValue(ErrorInfo::Kind::kObjectLost,
                   "object " + id.Hex() + " is not known to this process and has no owner"),
        actions);
    return;
  }
  if (auto dead = dead_owners_.find(entry.owner_address); dead != dead_owners_.end()) {
    SetValueLocked(id, OwnerDiedValue(id, dead->first, dead->second), actions);
    return;
  }
  entry.fetching = true;
  actions.push_back([this, id, owner = entry.owner_address] { Fetch(id, owner); });
}

void ReferenceCounter::Fetch(const ObjectId& id, const std::string& owner) {
  WatchOwner(owner);
  auto channel = context_.peers.Get(owner);
  if (!channel.ok()) {
    Resolve(id, ErrorValue(ErrorInfo::Kind::kObjectLost, channel.status().message()), {});
    return;
  }
  (*channel)->Call(
      protocol::Encode(MessageType::kGetObject, protocol::GetObject{id}),
      [this, id, owner](Result<std::string> reply) {
        if (context_.stopping) return;
        OnFetchReply(id, owner, std::move(reply));
      },
      kForever);
}

void ReferenceCounter::OnFetchReply(const ObjectId& id, const std::string& owner,
                                    Result<std::string> reply) {
  if (!reply.ok()) {
    Resolve(id,
            ErrorValue(ErrorInfo::Kind::kObjectLost,
                       "the owner of object " + id.Hex() + " at " + owner +
                           " did not answer: " + reply.status().message()),
            {});
    return;
  }
  auto body = protocol::Decode<protocol::GetObjectReply>(*reply);
  if (!body.ok() || !body->found) {
    Resolve(id,
            ErrorValue(ErrorInfo::Kind::kObjectLost,
                       "object " + id.Hex() + " is no longer held by its owner at " + owner),
            {});
  } else if (body->error) {
    Resolve(id, ObjectValue{nullptr, body->error}, {});
  } else if (body->location.valid()) {
    Resolve(id, InStoreMark(), body->location);
  } else {
    Resolve(id, ValueOf(std::move(body->value)), {});
  }
}

internal::ObjectValue ReferenceCounter::OwnerDiedValue(const ObjectId& id, const std::string& owner,
                                                       const std::string& cause) {
  return ErrorValue(ErrorInfo::Kind::kOwnerDied, "object " + id.Hex() + " is lost: its owner at " +
                                                     owner + " died (" + cause + ")");
}

void ReferenceCounter::WatchForDeath(std::unordered_set<std::string>& watched,
                                     const std::string& address) {
  bool subscribe = false;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (context_.stopping || !context_.gcs || !watched.insert(address).second) return;
    subscribe = !watching_owner_deaths_;
    watching_owner_deaths_ = true;
  }
  if (subscribe) SubscribeToOwnerDeaths();
  // Asked after subscribing: a death is either published to this process or
  // already in the GCS's record (or, should the publication be lost while the
  // subscription connects, found by RecheckFetchedOwners for owners).
  AskWhetherOwnerDied(address);
}

void ReferenceCounter::WatchBorrower(const std::string& borrower) {
  WatchForDeath(watched_borrowers_, borrower);
}

void ReferenceCounter::WatchOwner(const std::string& owner) {
  WatchForDeath(watched_owners_, owner);
}

void ReferenceCounter::RecheckFetchedOwners() {
  std::unordered_set<std::string> owners;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto now = std::chrono::steady_clock::now();
    if (now < next_owner_recheck_ || watched_owners_.empty()) return;
    next_owner_recheck_ = now + std::chrono::seconds(1);
    for (const auto& [id, entry] : objects_) {
      if (entry.fetching && !entry.value) owners.insert(entry.owner_address);
    }
  }
  for (const std::string& owner : owners) AskWhetherOwnerDied(owner);
}

void ReferenceCounter::FollowGcs() {
  std::shared_ptr<GcsSubscription> subscription;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    subscription = owner_deaths_;
  }
  if (subscription) subscription->Check();
}

void ReferenceCounter::AskWhetherOwnerDied(const std::string& owner) {
  if (!context_.gcs) return;
  context_.gcs->Call(
      protocol::Encode(MessageType::kGetWorkerLife, protocol::WorkerLife{owner, false, ""}),
      [this, owner](Result<std::string> reply) {
        if (context_.stopping || !reply.ok()) return;
        auto life = protocol::Decode<protocol::WorkerLife>(*reply);
        if (life.ok() && life->dead) OnWorkerDied(owner, life->cause);
      });
}

void ReferenceCounter::StopWatchingOwners() {
  std::shared_ptr<GcsSubscription> subscription;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    subscription.swap(owner_deaths_);
  }
  subscription.reset();  // without mu: it joins a thread that may want it
}

void ReferenceCounter::SubscribeToOwnerDeaths() {
  auto subscription = GcsSubscription::Start(
      *context_.transport, *context_.gcs, {"worker"},
      [this](const std::string&, std::string payload) {
        auto life = protocol::Decode<protocol::WorkerLife>(payload);
        if (life.ok() && life->dead && !context_.stopping) {
          OnWorkerDied(life->address, life->cause);
        }
      },
      // Deaths published while nobody listened are found by asking
      // (RecheckFetchedOwners), as the status does not list workers.
      [](const protocol::ClusterStatus&) {});
  if (!subscription.ok()) {
    spdlog::warn("cannot subscribe to owner deaths (they are learnt only by asking): {}",
                 subscription.status().message());
    return;
  }
  std::lock_guard<std::mutex> lock(context_.mu);
  owner_deaths_ = std::move(*subscription);
}

void ReferenceCounter::OnWorkerDied(const std::string& address, const std::string& cause) {
  DropBorrower(address);
  OnOwnerDied(address, cause);
}

void ReferenceCounter::DropBorrower(const std::string& borrower) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (watched_borrowers_.erase(borrower) == 0) return;  // borrowed nothing here
    std::vector<ObjectId> lent;
    for (auto& [id, entry] : objects_) {
      if (entry.borrowers.erase(borrower) > 0) lent.push_back(id);
    }
    for (const ObjectId& id : lent) MaybeFreeLocked(id, actions);
  }
  RunActions(actions);
}

void ReferenceCounter::OnOwnerDied(const std::string& owner, const std::string& cause) {
  std::vector<ObjectId> lost;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    if (watched_owners_.count(owner) == 0) return;  // another process's owner
    dead_owners_.emplace(owner, cause);
    ready_cv_.notify_all();  // registrations with it end
    for (const auto& [id, entry] : objects_) {
      if (!entry.owned && !entry.value && entry.owner_address == owner) lost.push_back(id);
    }
  }
  for (const ObjectId& id : lost) {
    Resolve(
        id,
        ErrorValue(ErrorInfo::Kind::kOwnerDied, "object " + id.Hex() + " is lost: its owner at " +
                                                    owner + " died (" + cause + ")"),
        {});
  }
}

// ---------------------------------------------------------------- Get, Wait

Result<std::vector<ObjectValue>> ReferenceCounter::Get(const std::vector<ObjectId>& ids,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // An owned object its node cannot serve any more is made again when its
  // lineage is kept (TaskManager): then it is waited for once more.
  for (int round = 0;; ++round) {
    auto left = timeout.count() < 0
                    ? timeout
                    : std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    std::vector<NodeId> unreadable_nodes;
    auto values = GetOnce(ids, left, &unreadable_nodes);
    if (!values.ok() || unreadable_nodes.empty() || round >= kMaxRebuildRounds) return values;
    Actions actions;
    bool rebuilding = false;
    {
      std::lock_guard<std::mutex> lock(context_.mu);
      for (const NodeId& node : unreadable_nodes) {
        if (rebuild_node_objects_ && rebuild_node_objects_(node, actions)) rebuilding = true;
      }
    }
    RunActions(actions);
    if (!rebuilding) return values;
  }
}

Result<std::vector<ObjectValue>> ReferenceCounter::GetOnce(const std::vector<ObjectId>& ids,
                                                           std::chrono::milliseconds timeout,
                                                           std::vector<NodeId>* unreadable_nodes) {
  Actions actions;
  std::unique_lock<std::mutex> lock(context_.mu);
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.owned && !it->second.value) FetchLocked(id, actions);
  }
  lock.unlock();
  RunActions(actions);
  lock.lock();
  if (!WaitReadyLocked(lock, ids, timeout)) {
    return Status::TimedOut("Get timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for " + std::to_string(ids.size()) + " object(s)");
  }
  std::vector<ObjectValue> values;
  std::vector<std::pair<size_t, internal::StoreLocation>> in_store;
  std::vector<std::pair<size_t, ObjectEntry::Lineage>> owned_in_store;
  values.reserve(ids.size());
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it == objects_.end()) {
      values.push_back(ErrorValue(
          ErrorInfo::Kind::kObjectLost,
          "object " + id.Hex() + " has no reference in this process (freed or never made)"));
    } else {
      if (IsInStoreMark(*it->second.value)) {
        if (it->second.owned) owned_in_store.emplace_back(values.size(), it->second.lineage);
        in_store.emplace_back(values.size(), it->second.location);
      }
      values.push_back(*it->second.value);
    }
  }
  lock.unlock();
  ReadFromStores(ids, in_store, values);
  for (const auto& [index, lineage] : owned_in_store) {
    if (!values[index].error) continue;
    for (const auto& [at, location] : in_store) {
      if (at == index) unreadable_nodes->push_back(location.node);
    }
    values[index].error->message += "; " + LineageText(lineage);
  }
  return values;
}

std::string ReferenceCounter::LineageText(ObjectEntry::Lineage lineage) {
  switch (lineage) {
    case ObjectEntry::Lineage::kKept:
      return "it is being made again by re-running its task";
    case ObjectEntry::Lineage::kNoRetriesLeft:
      return "it cannot be made again: its task has no retries left (SetMaxRetries)";
    case ObjectEntry::Lineage::kLimitReached:
      return "it cannot be made again: this process keeps the tasks of at most " +
             std::to_string(context_.options.max_lineage_tasks) +
             " objects (InitOptions::max_lineage_tasks)";
    case ObjectEntry::Lineage::kActorCall:
      return "it cannot be made again: an actor call's result is not re-run";
    case ObjectEntry::Lineage::kSplitResults:
      return "it cannot be made again: the results of a call split by SetNumReturns are not "
             "re-made";
    case ObjectEntry::Lineage::kGeneratorItem:
      return "it cannot be made again: a streaming generator's items are not re-made";
    case ObjectEntry::Lineage::kPut:
      break;
  }
  return "it cannot be made again: it was stored by Put, not made by a task";
}

bool ReferenceCounter::WaitReadyLocked(std::unique_lock<std::mutex>& lock,
                                       const std::vector<ObjectId>& ids,
                                       std::chrono::milliseconds timeout) {
  // Values never go back to unset, so the scan resumes where it stopped:
  // waiting for n objects costs O(n) lookups, not O(n) per wake-up.
  size_t first_unready = 0;
  auto all_ready = [&] {
    for (; first_unready < ids.size(); ++first_unready) {
      auto it = objects_.find(ids[first_unready]);
      if (it != objects_.end() && !it->second.value) return false;
    }
    return true;
  };
  if (all_ready()) return true;
  // A worker waiting here lends its CPU back so the tasks it waits for can run.
  lock.unlock();
  set_blocked_(true);
  lock.lock();
  // Waits on the first unready object only (SetValueLocked wakes nobody for
  // an object nobody waits on): a Get of many results wakes about once per
  // batch of replies instead of once per value.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ready = true;
  while (!all_ready()) {
    const ObjectId awaited = ids[first_unready];
    ++objects_[awaited].value_waiters;
    bool timed_out = false;
    if (timeout.count() < 0) {
      ready_cv_.wait(lock);
    } else {
      timed_out = ready_cv_.wait_until(lock, deadline) == std::cv_status::timeout;
    }
    if (auto it = objects_.find(awaited); it != objects_.end()) --it->second.value_waiters;
    if (timed_out) {
      ready = all_ready();
      break;
    }
  }
  lock.unlock();
  set_blocked_(false);
  lock.lock();
  return ready;
}

void ReferenceCounter::ReadFromStores(
    const std::vector<ObjectId>& ids,
    const std::vector<std::pair<size_t, internal::StoreLocation>>& in_store,
    std::vector<ObjectValue>& values) {
  // Objects in a store are read there (pulled to this node first if need
  // be): the buffer is the store's own pages, pinned while the caller holds it.
  for (const auto& [index, location] : in_store) {
    if (!context_.node_objects) {
      auto bytes = ReadObjectFromNode(*context_.transport, ids[index], location);
      values[index] = bytes.ok()
                          ? ValueOf(std::move(*bytes))
                          : ErrorValue(ErrorInfo::Kind::kObjectLost, bytes.status().message());
      continue;
    }
    auto buffer = context_.node_objects->Get(ids[index], location);
    values[index] = buffer.ok()
                        ? ObjectValue{*buffer, std::nullopt}
                        : ErrorValue(ErrorInfo::Kind::kObjectLost, buffer.status().message());
  }
}

bool ReferenceCounter::WhenReady(const std::vector<ObjectId>& ids, std::function<void()> ready) {
  Actions actions;
  bool waiting = false;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    std::vector<ObjectId> unready;
    for (const ObjectId& id : ids) {
      auto it = objects_.find(id);
      if (it == objects_.end() || it->second.value) continue;
      if (!it->second.owned) FetchLocked(id, actions);  // may settle it at once
      if (!it->second.value) unready.push_back(id);
    }
    if (!unready.empty()) {
      waiting = true;
      // Each object's on_ready runs without mu, maybe on different threads:
      // the last of them to run calls `ready`. Nothing runs before mu is
      // released, so the count is complete by then.
      auto left = std::make_shared<std::atomic<size_t>>(unready.size());
      auto shared_ready = std::make_shared<std::function<void()>>(std::move(ready));
      for (const ObjectId& id : unready) {
        objects_[id].on_ready.push_back([left, shared_ready] {
          if (left->fetch_sub(1) == 1) (*shared_ready)();
        });
      }
    }
  }
  RunActions(actions);
  return waiting;
}

std::vector<bool> ReferenceCounter::Wait(const std::vector<ObjectId>& ids, size_t num_returns,
                                         std::chrono::milliseconds timeout) {
  Actions actions;
  std::unique_lock<std::mutex> lock(context_.mu);
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.owned && !it->second.value) FetchLocked(id, actions);
  }
  lock.unlock();
  RunActions(actions);
  lock.lock();
  std::vector<bool> ready(ids.size());
  auto enough = [&] {
    size_t count = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = objects_.find(ids[i]);
      ready[i] = it == objects_.end() || it->second.value.has_value();
      count += ready[i];
    }
    return count >= std::min(num_returns, ids.size());
  };
  ++wait_any_waiters_;  // any of ids may be the one that makes enough
  if (timeout.count() < 0) {
    ready_cv_.wait(lock, enough);
  } else {
    ready_cv_.wait_for(lock, timeout, enough);
  }
  --wait_any_waiters_;
  enough();
  return ready;
}

// ---------------------------------------------------------------- serving

void ReferenceCounter::HandleGetObject(const ObjectId& id, ReplyFn reply) {
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.value) {
      // Answered when the value comes in.
      it->second.on_ready.push_back([this, id, reply] { AnswerGetObject(id, reply); });
      return;
    }
  }
  AnswerGetObject(id, reply);
}

void ReferenceCounter::AnswerGetObject(const ObjectId& id, const ReplyFn& reply) {
  protocol::GetObjectReply out;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto it = objects_.find(id);
    if (it != objects_.end() && it->second.value) {
      out.found = true;
      if (it->second.value->error) {
        out.error = it->second.value->error;
      } else if (IsInStoreMark(*it->second.value)) {
        out.location = it->second.location;
      } else {
        out.value = std::string(BytesOf(*it->second.value));
      }
    }
  }
  reply(protocol::Encode(MessageType::kGetObjectReply, out));
}

}  // namespace rayk
