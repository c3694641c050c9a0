// ObjectStore: the slot that holds a node's immutable objects (task results
// and Put values too large to travel inline).
//
// Lifecycle of one object: Create() reserves space and returns a writable
// buffer; the writer fills it and calls Seal(), after which the bytes never
// change and readers may Get() them; Abort() instead drops an unsealed object.
// Get() returns pinned read-only buffers: while a buffer handle lives the
// object is neither evicted nor moved, and readers see the writer's bytes in
// place (the shared-memory plugin maps them into every process of the node).
// Delete() frees an object once its owner no longer references it; the space
// is reused when the last pin is released.
//
// Thread safety: every method may be called from any thread concurrently.
// Ownership: a store instance is owned by the kernel; buffers returned to the
// caller keep what they point at alive (and pinned) on their own.
// Failure: calls return Status values; a full store returns kOutOfMemory only
// after it has evicted and spilled what it could.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rayk/ids.h"
#include "rayk/object_buffer.h"
#include "rayk/plugin/plugin.h"
#include "rayk/status.h"

namespace rayk {

// The writable space of an object between Create() and Seal()/Abort().
class MutableObjectBuffer {
 public:
  virtual ~MutableObjectBuffer() = default;
  virtual uint8_t* data() = 0;
  virtual size_t size() const = 0;
};

struct ObjectStoreStats {
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;     // in the store's memory, sealed or not
  uint64_t pinned_bytes = 0;   // held by readers or by owners as primary copies
  uint64_t spilled_bytes = 0;  // on disk, restorable
  uint64_t num_objects = 0;
  uint64_t num_evicted = 0;
  uint64_t num_spilled = 0;
};

// One object as List() shows it (for `rayk memory` and leak hunting).
struct ObjectStoreEntry {
  ObjectId id;
  uint64_t size = 0;
  bool primary = false;
  bool sealed = false;
  bool pinned = false;     // a reader or the writer holds a buffer of it
  bool in_memory = false;  // false: only its spilled copy exists
  bool spilled = false;    // a copy is on disk
  int64_t creator_pid = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Reserves `size` bytes for a new object. kAlreadyExists when the id is
  // present; kOutOfMemory when the space cannot be found even after eviction
  // and spilling. `primary` marks the owner's copy: it is spilled, never
  // evicted, when space runs short.
  virtual Result<std::unique_ptr<MutableObjectBuffer>> Create(const ObjectId& id, size_t size,
                                                              bool primary) = 0;
  // Makes a created object immutable and visible to Get(); the buffer from
  // Create() may be dropped afterwards. Sealing twice is kAlreadyExists.
  virtual Status Seal(const ObjectId& id) = 0;
  // Drops an object that was created but not sealed; a sealed one is
  // kInvalidArgument (use Delete).
  virtual Status Abort(const ObjectId& id) = 0;

  // Waits up to `timeout` for each object to be sealed and returns pinned
  // buffers in the order asked; an entry is empty for an object that did not
  // appear in time. A zero or negative timeout only looks.
  virtual Result<std::vector<std::shared_ptr<const ObjectBuffer>>> Get(
      const std::vector<ObjectId>& ids, std::chrono::milliseconds timeout) = 0;

  // Frees objects; pinned ones are freed when their last pin goes. Unknown ids
  // are ignored.
  virtual Status Delete(const std::vector<ObjectId>& ids) = 0;
  // True for sealed objects only.
  virtual bool Contains(const ObjectId& id) = 0;
  virtual ObjectStoreStats Stats() = 0;
  // True when the stores of every process of a node (the raylet's, its
  // workers', local drivers') are one store, so that the kernel can hand
  // large objects between them through it. False (the default): each
  // process has its own, and the kernel sends values inline instead.
  virtual bool SharedByTheNode() const { return false; }
  // The `limit` largest objects (created or sealed; not deleted ones that
  // readers still pin), largest first.
  virtual std::vector<ObjectStoreEntry> List(size_t limit) = 0;
};

}  // namespace rayk
