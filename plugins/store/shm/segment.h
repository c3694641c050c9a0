// Segment: one mapping of a node's shared-memory segment (shm_layout.h) and
// the table operations on it. It knows nothing of spilling or eviction policy;
// the store (shm_store.cc) builds those on the primitives here.
//
// Every method whose name does not say otherwise must be called with the
// segment locked (Segment::Lock). The lock is a robust process-shared mutex: if
// its holder died, the next locker rebuilds the index, free list and counters
// from the entries (Recover) and checks the allocator before going on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "rayk/ids.h"
#include "rayk/status.h"
#include "shm_layout.h"

namespace rayk::shm {

struct SegmentOptions {
  std::string name;               // shm_open name, "/rayk-..."
  bool create = false;            // create (and own) it, or attach to an existing one
  bool unlink_after_map = false;  // a private segment: nobody else will attach
  uint64_t capacity = 0;          // when creating
  uint32_t max_objects = 0;       // when creating
  uint64_t spill_batch_bytes = 0;
  std::string spill_dir;  // when creating
  bool prefault = false;
  std::string describe;  // for errors: "node <id> of session <dir>"
};

// The pid recorded as the creator of segment `name` ("/rayk-..."), or 0 when
// there is no such segment or it is not (yet) a valid one.
int32_t SegmentOwner(const std::string& name);

// Removes this user's node segments whose creating raylet is gone: a raylet
// killed with SIGKILL cannot unlink its own, and a segment is sized to the
// node's whole store. Raylets call it when they create their store; tools and
// test fixtures may call it at any time. Returns how many it removed.
int ReapOrphanedSegments();

class Segment {
 public:
  // Creates or attaches per `options`; one-line errors name the segment file and the fix.
  static Result<std::unique_ptr<Segment>> Open(const SegmentOptions& options);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Holds the segment's mutex; recovers the segment if a holder died.
  class Lock {
   public:
    explicit Lock(Segment& segment);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    Segment& segment_;
  };

  Header& header() { return *header_; }
  const std::string& name() const { return name_; }
  uint8_t* base() { return base_; }
  Entry& entry(uint32_t slot) { return entries_[slot]; }
  // Removes the name from /dev/shm (the owner does, at its store's end). Lock-free.
  void Unlink();

  // The index: id -> slot of the object in state kCreated or kSealed.
  int64_t Find(const ObjectId& id);
  void IndexInsert(uint32_t slot);
  void IndexErase(uint32_t slot);

  // Slots.
  int64_t AllocSlot();
  void FreeSlot(uint32_t slot);

  // Heap: offsets from the segment start; 0 when there is no block big enough.
  uint64_t Allocate(uint64_t size);
  void Deallocate(uint64_t offset);

  // Adds (sign +1) or removes (-1) an entry's share of used/pinned/spilled.
  void Account(const Entry& e, int sign);
  static bool Pinned(const Entry& e);
  static bool PinnedBy(const Entry& e, uint32_t client) {
    return (e.pins[client / 64] >> (client % 64)) & 1;
  }
  void SetPin(uint32_t slot, uint32_t client, bool on);

  // Frees an entry's memory, spill copy, index position and slot.
  void FreeEntry(uint32_t slot);
  // Drops the in-memory bytes of an entry whose copy is on disk.
  void DropMemory(uint32_t slot);
  // Spill files: a slot in Header::spill_files per file.
  std::string SpillPath(uint64_t number) const;
  void DropSpillRef(int32_t file);

  // Clients: a slot per store instance, with its pid for liveness checks.
  // Registering first sweeps dead clients when no slot is free.
  Result<uint32_t> RegisterClient();
  // Gives up a client's pins and aborts the objects it created but never
  // sealed; its slot becomes free.
  void ReleaseClient(uint32_t client);
  // Releases every client whose process is gone; returns how many.
  int SweepDeadClients();
  static bool ProcessAlive(int32_t pid, uint64_t start_time);
  static uint64_t ProcessStartTime(int32_t pid);

  // Rebuilds derived state from the entries; called when the lock's holder died.
  void Recover();

 private:
  Segment() = default;
  Status Map(int fd, uint64_t size, bool prefault);
  void Initialize(const SegmentOptions& options, uint64_t total);

  std::string name_;
  uint8_t* base_ = nullptr;
  uint64_t mapped_size_ = 0;
  Header* header_ = nullptr;
  Entry* entries_ = nullptr;
  uint32_t* index_ = nullptr;
  uint32_t* free_ = nullptr;
};

// The total size of a segment for `capacity` bytes of objects and `max_objects` entries.
uint64_t SegmentSize(uint64_t capacity, uint32_t max_objects);

}  // namespace rayk::shm
