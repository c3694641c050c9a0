// The `memory` object store: objects on the heap of one process.
//
// Everything lives in one State behind one mutex. Buffers handed to readers
// hold the object's bytes and the State through shared_ptrs, so a pin stays
// valid after Delete() and even after the store object itself is gone; the
// last pin of a deleted object gives its bytes back to the capacity count.
// Primary copies are never evicted (this store has no disk to spill them to);
// unpinned sealed secondary copies are evicted least recently used first.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "rayk/plugin/object_store.h"
#include "rayk/plugin/plugin.h"

namespace {

using rayk::ObjectId;
using rayk::Status;

const rayk::SettingSpec kMemoryStoreSettings[] = {
    {"capacity", rayk::SettingType::kBytes, "2GiB",
     "Most bytes of objects held at once; when full, unpinned secondary copies are evicted "
     "(least recently used first).",
     "0", "memory"},
};

// The bytes of one object. Shared by the entry, the writer's buffer and every
// reader's buffer, so none of them can outlive the memory it points at.
struct Block {
  explicit Block(size_t n) : bytes(new uint8_t[n == 0 ? 1 : n]), size(n) {}
  std::unique_ptr<uint8_t[]> bytes;
  size_t size;
};

struct Entry {
  std::shared_ptr<Block> block;
  bool sealed = false;
  bool primary = false;
  uint64_t pins = 0;
  bool in_lru = false;
  std::list<ObjectId>::iterator lru_pos;  // valid when in_lru
};

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

struct State {
  explicit State(uint64_t capacity_bytes) : capacity(capacity_bytes) {}

  std::mutex mu;
  std::condition_variable sealed_cv;  // notified on every Seal
  const uint64_t capacity;
  std::unordered_map<ObjectId, Entry> objects;
  // Sealed objects, least recently used first. Pinned and primary objects stay
  // in the list (they may become evictable) and are skipped when evicting.
  std::list<ObjectId> lru;
  // Deleted objects that readers still pin, by block; their bytes still count
  // as used until the last pin goes.
  std::unordered_map<const Block*, uint64_t> deleted_pins;
  uint64_t used = 0;
  uint64_t pinned = 0;  // bytes of objects that are primary or have readers
  uint64_t num_evicted = 0;

  // Marks an object most recently used; splicing moves the node without allocating.
  void Touch(const ObjectId& id, Entry& e) {
    if (e.in_lru) {
      lru.splice(lru.end(), lru, e.lru_pos);
    } else {
      e.lru_pos = lru.insert(lru.end(), id);
      e.in_lru = true;
    }
  }

  // Drops an entry from the table; a reader's pin keeps its bytes counted.
  void Remove(std::unordered_map<ObjectId, Entry>::iterator it) {
    Entry& e = it->second;
    if (e.in_lru) lru.erase(e.lru_pos);
    if (e.pins > 0) {
      // Still pinned by readers (and counted once in `pinned` already).
      deleted_pins[e.block.get()] = e.pins;
    } else {
      used -= e.block->size;
      if (e.primary) pinned -= e.block->size;
    }
    objects.erase(it);
  }

  // Evicts unpinned sealed secondary copies, oldest first, until `need` more
  // bytes fit. Returns whether they fit.
  bool MakeRoom(uint64_t need) {
    if (need > capacity) return false;  // first: a huge `need` would overflow the sums below
    if (used + need <= capacity) return true;
    // Evicting cannot be undone: only start when it is enough.
    uint64_t evictable = 0;
    for (const ObjectId& id : lru) {
      auto it = objects.find(id);
      if (it != objects.end() && !it->second.primary && it->second.pins == 0) {
        evictable += it->second.block->size;
      }
    }
    if (used - evictable + need > capacity) return false;
    auto pos = lru.begin();
    while (used + need > capacity && pos != lru.end()) {
      auto it = objects.find(*pos);
      ++pos;
      if (it == objects.end() || it->second.primary || it->second.pins > 0) continue;
      Remove(it);
      ++num_evicted;
    }
    return used + need <= capacity;
  }

  void Unpin(const Block* block, const ObjectId& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = objects.find(id);
    if (it != objects.end() && it->second.block.get() == block) {
      Entry& e = it->second;
      if (--e.pins == 0 && !e.primary) pinned -= block->size;
      return;
    }
    auto dead = deleted_pins.find(block);
    if (dead == deleted_pins.end()) return;
    if (--dead->second == 0) {
      used -= block->size;
      pinned -= block->size;
      deleted_pins.erase(dead);
    }
  }
};

class PinnedBuffer : public rayk::ObjectBuffer {
 public:
  PinnedBuffer(std::shared_ptr<State> state, ObjectId id, std::shared_ptr<Block> block)
      : state_(std::move(state)), id_(id), block_(std::move(block)) {}
  ~PinnedBuffer() override { state_->Unpin(block_.get(), id_); }
  const uint8_t* data() const override { return block_->bytes.get(); }
  size_t size() const override { return block_->size; }

 private:
  std::shared_ptr<State> state_;
  ObjectId id_;
  std::shared_ptr<Block> block_;
};

class WritableBuffer : public rayk::MutableObjectBuffer {
 public:
  explicit WritableBuffer(std::shared_ptr<Block> block) : block_(std::move(block)) {}
  uint8_t* data() override { return block_->bytes.get(); }
  size_t size() const override { return block_->size; }

 private:
  std::shared_ptr<Block> block_;
};

// Readers' buffers may outlive the store (the contract lets them), but their
// destructor is code in this library, which the loader unloads together with
// the store. Marking the library RTLD_NODELETE keeps that code mapped for the
// life of the process; the cost is one small library that never unloads.
void KeepThisLibraryLoaded() {
  static const bool kept = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&KeepThisLibraryLoaded), &info) == 0 ||
        info.dli_fname == nullptr) {
      return false;
    }
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
  }();
  (void)kept;
}

uint64_t CapacitySetting(const rayk::PluginContext& ctx) {
  // Never negative: the loader checked it against the SettingSpec.
  return static_cast<uint64_t>(ctx.settings().GetInteger("capacity"));
}

class MemoryStore : public rayk::ObjectStore {
 public:
  explicit MemoryStore(const rayk::PluginContext& ctx)
      : state_(std::make_shared<State>(CapacitySetting(ctx))) {
    KeepThisLibraryLoaded();
  }

  rayk::Result<std::unique_ptr<rayk::MutableObjectBuffer>> Create(const ObjectId& id, size_t size,
                                                                  bool primary) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->objects.count(id) > 0) {
      return Status::AlreadyExists("object " + id.Hex() + " is already in the memory store");
    }
    if (!state_->MakeRoom(size)) return OutOfMemory(id, size);
    std::shared_ptr<Block> block;
    try {
      block = std::make_shared<Block>(size);
    } catch (const std::bad_alloc&) {
      return Status::OutOfMemory("memory store: the heap has no room for object " + id.Hex() +
                                 " of " + Bytes(size) +
                                 " (capacity allows it; the process "
                                 "is out of memory)");
    }
    Entry& e = state_->objects[id];
    e.block = block;
    e.primary = primary;
    state_->used += size;
    if (primary) state_->pinned += size;
    return std::unique_ptr<rayk::MutableObjectBuffer>(new WritableBuffer(std::move(block)));
  }

  Status Seal(const ObjectId& id) override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      auto it = state_->objects.find(id);
      if (it == state_->objects.end()) {
        return Status::NotFound("cannot seal object " + id.Hex() +
                                ": it was not created "
                                "(or was aborted or deleted)");
      }
      if (it->second.sealed) {
        return Status::AlreadyExists("object " + id.Hex() + " is already sealed");
      }
      it->second.sealed = true;
      state_->Touch(id, it->second);
    }
    state_->sealed_cv.notify_all();
    return Status::Ok();
  }

  Status Abort(const ObjectId& id) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->objects.find(id);
    if (it == state_->objects.end()) {
      return Status::NotFound("cannot abort object " + id.Hex() + ": it is not in the store");
    }
    if (it->second.sealed) {
      return Status::InvalidArgument("cannot abort object " + id.Hex() +
                                     ": it is sealed; use Delete");
    }
    state_->Remove(it);
    return Status::Ok();
  }

  rayk::Result<std::vector<std::shared_ptr<const rayk::ObjectBuffer>>> Get(
      const std::vector<ObjectId>& ids, std::chrono::milliseconds timeout) override {
    std::vector<std::shared_ptr<const rayk::ObjectBuffer>> out(ids.size());
    std::unique_lock<std::mutex> lock(state_->mu);
    auto all_sealed = [&] {
      for (const ObjectId& id : ids) {
        auto it = state_->objects.find(id);
        if (it == state_->objects.end() || !it->second.sealed) return false;
      }
      return true;
    };
    if (timeout.count() > 0 && !all_sealed()) {
      // A huge timeout (milliseconds::max() for "forever") would overflow a deadline.
      constexpr auto kForever = std::chrono::hours(24 * 365);
      if (timeout >= kForever) {
        state_->sealed_cv.wait(lock, all_sealed);
      } else {
        state_->sealed_cv.wait_until(lock, std::chrono::steady_clock::now() + timeout, all_sealed);
      }
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = state_->objects.find(ids[i]);
      if (it == state_->objects.end() || !it->second.sealed) continue;
      Entry& e = it->second;
      if (e.pins++ == 0 && !e.primary) state_->pinned += e.block->size;
      state_->Touch(ids[i], e);
      out[i] = std::make_shared<PinnedBuffer>(state_, ids[i], e.block);
    }
    return out;
  }

  Status Delete(const std::vector<ObjectId>& ids) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const ObjectId& id : ids) {
      auto it = state_->objects.find(id);
      if (it != state_->objects.end()) state_->Remove(it);
    }
    return Status::Ok();
  }

  bool Contains(const ObjectId& id) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->objects.find(id);
    return it != state_->objects.end() && it->second.sealed;
  }

  rayk::ObjectStoreStats Stats() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    rayk::ObjectStoreStats stats;
    stats.capacity_bytes = state_->capacity;
    stats.used_bytes = state_->used;
    stats.pinned_bytes = state_->pinned;
    stats.num_objects = state_->objects.size();
    stats.num_evicted = state_->num_evicted;
    return stats;
  }

  std::vector<rayk::ObjectStoreEntry> List(size_t limit) override {
    std::vector<rayk::ObjectStoreEntry> out;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      out.reserve(state_->objects.size());
      for (const auto& [id, e] : state_->objects) {
        rayk::ObjectStoreEntry entry;
        entry.id = id;
        entry.size = e.block->size;
        entry.primary = e.primary;
        entry.sealed = e.sealed;
        entry.pinned = e.pins > 0;
        entry.in_memory = true;
        entry.creator_pid = getpid();  // one process holds every object
        out.push_back(entry);
      }
    }
    auto larger = [](const rayk::ObjectStoreEntry& a, const rayk::ObjectStoreEntry& b) {
      return a.size > b.size;
    };
    if (out.size() > limit) {
      std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(limit), out.end(),
                        larger);
      out.resize(limit);
    } else {
      std::sort(out.begin(), out.end(), larger);
    }
    return out;
  }

 private:
  Status OutOfMemory(const ObjectId& id, size_t size) const {
    return Status::OutOfMemory("memory store is full: cannot create object " + id.Hex() + " of " +
                               Bytes(size) + "; capacity is " + Bytes(state_->capacity) + ", " +
                               Bytes(state_->used) + " in use, " + Bytes(state_->pinned) +
                               " pinned (by readers or as primary copies) and nothing more can "
                               "be evicted; raise [store.memory] capacity or release references");
  }

  std::shared_ptr<State> state_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kStore, "memory", "1.0",
            "Objects on the heap of one process; LRU eviction of secondary copies", MemoryStore,
            kMemoryStoreSettings);
