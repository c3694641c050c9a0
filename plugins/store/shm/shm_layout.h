// The layout of a `shm` store segment: one POSIX shared-memory object per node
// that the raylet creates and its workers and drivers map, each at its own
// address. Everything inside is addressed by offsets from the segment's start.
//
//   [Header | Entry[max_objects] | index uint32[index_size] | free slots uint32[max_objects] |
//   heap]
//
// The Header's robust, process-shared mutex guards everything but the bytes of
// sealed objects (immutable) and of unsealed ones (owned by their writer).
// The heap is managed by Boost.Interprocess's rbtree_best_fit (best fit over a
// red-black tree of free blocks, with coalescing), driven without its own lock.
//
// This header is plain data on purpose: tests map a segment and take its
// mutex directly to play a process that dies while holding it.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "rayk/ids.h"

namespace rayk::shm {

constexpr uint64_t kMagic = 0x316d68736b796172ull;  // "raykshm1", written last by the creator
constexpr uint32_t kLayoutVersion = 1;
// Processes (store instances) attached to one segment at once; each one is a
// "client" with a bit in every entry's pin mask.
constexpr uint32_t kMaxClients = 256;
constexpr uint32_t kMaxSpillFiles = 4096;
constexpr uint64_t kObjectAlignment = 64;  // cache line: friendly to vectorised readers

enum EntryState : uint32_t {
  kFree = 0,     // slot unused
  kCreated = 1,  // reserved, being written; in the index, invisible to Get
  kSealed = 2,   // immutable and visible; in memory, spilled, or both
  kDeleted = 3,  // removed from the index but still pinned; freed on the last unpin
};

struct Entry {
  uint8_t id[ObjectId::kSize];
  uint32_t state;  // EntryState
  uint32_t primary;
  uint64_t generation;  // bumped on each reuse of the slot
  uint64_t size;
  uint64_t offset;     // of the bytes from the segment start; 0: not in memory
  uint64_t last_use;   // LRU clock value of the last Seal or Get
  int32_t spill_file;  // index into Header::spill_files; -1: no copy on disk
  uint32_t creator_client;
  int32_t creator_pid;
  uint32_t reserved;
  uint64_t spill_offset;            // of the bytes in the spill file
  uint64_t pins[kMaxClients / 64];  // bit c: client c holds at least one buffer of it
};

struct Client {
  int32_t pid;  // 0: slot free
  uint32_t reserved;
  uint64_t start_time;  // from /proc/<pid>/stat, so a reused pid is not taken for the old process
};

struct SpillFile {
  uint64_t number;  // the file is <spill_dir>/<segment>-<number>.spill
  uint32_t refs;    // entries whose copy is in it; 0: slot free and file deleted
  uint32_t reserved;
};

struct Header {
  pthread_mutex_t mu;  // first, robust and process-shared
  std::atomic<uint64_t> magic;
  uint32_t version;
  std::atomic<uint32_t> seal_seq;  // futex word: bumped on every Seal
  std::atomic<uint32_t> waiters;   // Gets asleep on seal_seq; Seal skips the wake at 0
  uint32_t reserved0;
  uint64_t total_size;
  uint64_t capacity;  // logical limit on bytes of objects held in memory
  uint32_t max_objects;
  uint32_t index_size;  // a power of two >= 2 * max_objects
  uint64_t entries_offset, index_offset, free_offset, heap_offset, heap_size;
  int32_t owner_pid;
  uint32_t corrupted;  // set when a dead process left the allocator inconsistent
  // Accounting, all derivable from the entries (and rebuilt after a crash).
  uint64_t used;     // bytes of objects in memory (any state)
  uint64_t pinned;   // bytes in memory that are primary copies or have a pin
  uint64_t spilled;  // bytes of live objects with a copy on disk
  uint64_t num_indexed;
  uint32_t free_top;    // number of slot numbers on the free stack
  uint32_t high_water;  // slots [0, high_water) have ever been used
  uint64_t num_evicted, num_spilled, num_restored;
  uint64_t clock;  // LRU clock
  uint64_t next_spill_file;
  uint64_t spill_batch_bytes;
  Client clients[kMaxClients];
  SpillFile spill_files[kMaxSpillFiles];
  char spill_dir[1024];
  char name[64];
};

// FNV-1a: a stable hash (std::hash may differ between builds).
inline uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The name of a node's segment (for shm_open; the file is /dev/shm/<name without '/'>).
inline std::string SegmentName(const std::string& session_dir, const NodeId& node_id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/rayk-%016llx",
                static_cast<unsigned long long>(Fnv1a(session_dir + "|" + node_id.Hex())));
  return buf;
}

}  // namespace rayk::shm
