#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <thread>

namespace rayk::shm {
namespace {

// Best fit over a red-black tree of free blocks, with neighbour coalescing:
// the allocator behind Boost's managed_shared_memory. Ours runs under the
// segment's robust mutex, so it gets no lock of its own.
using Allocator =
    boost::interprocess::rbtree_best_fit<boost::interprocess::null_mutex_family,
                                         boost::interprocess::offset_ptr<void>, kObjectAlignment>;

constexpr uint64_t kPage = 4096;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

uint32_t IndexSize(uint32_t max_objects) {
  uint32_t n = 1;
  while (n < 2 * max_objects) n <<= 1;
  return n;
}

// Room in the heap beyond `capacity`: block headers and alignment (up to two
// alignment units per object) and a margin that keeps fragmentation from
// failing allocations the capacity count allows.
uint64_t HeapSlack(uint64_t capacity, uint32_t max_objects) {
  return uint64_t{max_objects} * 2 * kObjectAlignment + capacity / 32 + (1u << 20);
}

uint64_t HashOf(const uint8_t* id) {
  uint64_t h;
  std::memcpy(&h, id, sizeof(h));  // ids are random bytes already
  return h;
}

std::string Errno(int err) { return std::strerror(err); }

std::string FileOf(const std::string& name) { return "/dev/shm" + name; }

// A pid of 0 (unknown) counts as dead; EPERM means alive under another user.
// A zombie (killed, not yet reaped by its parent) is dead too: it has let go
// of its mappings, and its parent may take a while to reap it.
bool OwnerAlive(int32_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // another pid namespace: trust kill()
  const size_t close = line.rfind(')');
  const char state = close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
  return state != 'Z' && state != 'X';
}

}  // namespace

int32_t SegmentOwner(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return 0;
  int32_t owner = 0;
  struct stat st;
  if (fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) >= sizeof(Header)) {
    void* p = mmap(nullptr, sizeof(Header), PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      owner = static_cast<const Header*>(p)->owner_pid;  // 0 until the creator set it
      munmap(p, sizeof(Header));
    }
  }
  close(fd);
  return owner;
}

int ReapOrphanedSegments() {
  int reaped = 0;
  std::error_code ec;
  for (const auto& file : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string base = file.path().filename().string();
    // Only node segments ("rayk-" and 16 hex digits, shm_layout.h's SegmentName),
    // never a private store ("rayk-p...") or anything else.
    if (base.size() != 21 || base.rfind("rayk-", 0) != 0 ||
        base.find_first_not_of("0123456789abcdef", 5) != std::string::npos) {
      continue;
    }
    struct stat st;
    if (stat(file.path().c_str(), &st) != 0 || st.st_uid != geteuid()) continue;
    const std::string name = "/" + base;
    int32_t owner = SegmentOwner(name);
    if (owner == 0 || OwnerAlive(owner)) continue;  // unreadable yet, or in use
    if (shm_unlink(name.c_str()) == 0) ++reaped;
  }
  return reaped;
}

namespace {}  // namespace

uint64_t SegmentSize(uint64_t capacity, uint32_t max_objects) {
  uint64_t size = RoundUp(sizeof(Header), kPage);
  size += RoundUp(uint64_t{max_objects} * sizeof(Entry), kPage);
  size += RoundUp(uint64_t{IndexSize(max_objects)} * 4, kPage);
  size += RoundUp(uint64_t{max_objects} * 4, kPage);
  size += RoundUp(capacity + HeapSlack(capacity, max_objects), kPage);
  return size;
}

Result<std::unique_ptr<Segment>> Segment::Open(const SegmentOptions& options) {
  std::unique_ptr<Segment> segment(new Segment());
  segment->name_ = options.name;
  const std::string file = FileOf(options.name);
  if (options.create) {
    // A node store is sized to the node; dead raylets' segments would crowd it out.
    if (!options.unlink_after_map) ReapOrphanedSegments();
    const uint64_t total = SegmentSize(options.capacity, options.max_objects);
    struct statvfs fs;
    if (statvfs("/dev/shm", &fs) == 0) {
      uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
      if (total > free_bytes) {
        return Status::OutOfMemory("store.shm: a segment of " + std::to_string(total) +
                                   " bytes (capacity " + std::to_string(options.capacity) +
                                   ") does not fit in /dev/shm, which has " +
                                   std::to_string(free_bytes) +
                                   " bytes free; lower [store.shm] capacity or enlarge /dev/shm "
                                   "(mount -o remount,size=<size> /dev/shm)");
      }
    }
    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
      fd = shm_open(options.name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
      if (fd >= 0 || errno != EEXIST) break;
      // A segment of the same name: another live store, or one left by a crash.
      int32_t owner = SegmentOwner(options.name);
      if (OwnerAlive(owner)) {
        return Status::AlreadyExists("store.shm: " + file + " (" + options.describe +
                                     ") is already owned by live process " + std::to_string(owner) +
                                     "; only one raylet per node creates the store, others "
                                     "attach with role worker or driver");
      }
      shm_unlink(options.name.c_str());  // stale: its owner is gone
    }
    if (fd < 0) {
      return Status::IoError("store.shm: cannot create " + file + ": " + Errno(errno) +
                             "; check that /dev/shm is mounted and writable");
    }
    if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
      int err = errno;
      close(fd);
      shm_unlink(options.name.c_str());
      return Status::IoError("store.shm: cannot size " + file + " to " + std::to_string(total) +
                             " bytes: " + Errno(err));
    }
    Status mapped = segment->Map(fd, total, options.prefault);
    close(fd);
    if (!mapped.ok()) {
      shm_unlink(options.name.c_str());
      return mapped;
    }
    if (options.unlink_after_map) shm_unlink(options.name.c_str());
    segment->Initialize(options, total);
    // The object table and the allocator's head get their memory now, while
    // /dev/shm has room: written later (freeing an entry when /dev/shm has
    // filled up), an untouched page would raise SIGBUS.
    size_t table = static_cast<size_t>(segment->header().heap_offset) + 4096;
    if (madvise(segment->base(), std::min<size_t>(table, total), MADV_POPULATE_WRITE) != 0 &&
        errno != EINVAL) {
      int err = errno;
      if (!options.unlink_after_map) shm_unlink(options.name.c_str());
      return Status::IoError("store.shm: cannot commit the object table of " + file + " (" +
                             std::to_string(table) + " bytes): " + Errno(err) +
                             "; free space in /dev/shm");
    }
    return segment;
  }

  int fd = shm_open(options.name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("store.shm: no shared-memory segment " + file + " for " +
                              options.describe +
                              "; the node's raylet creates it, so start the raylet first (and "
                              "give this process the raylet's session_dir and node_id)");
    }
    return Status::IoError("store.shm: cannot open " + file + ": " + Errno(errno));
  }
  // The creator sizes the file and then fills the header; wait for both.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  uint64_t total = 0;
  while (true) {
    struct stat st;
    if (fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) >= sizeof(Header)) {
      void* p = mmap(nullptr, sizeof(Header), PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        const Header* h = static_cast<const Header*>(p);
        if (h->magic.load(std::memory_order_acquire) == kMagic) total = h->total_size;
        bool version_ok = h->version == kLayoutVersion;
        munmap(p, sizeof(Header));
        if (total != 0 && !version_ok) {
          close(fd);
          return Status::InvalidArgument("store.shm: " + file +
                                         " was made by another version of the shm store; "
                                         "restart the node with one rayk version");
        }
      }
    }
    if (total != 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      close(fd);
      return Status::Unavailable("store.shm: " + file + " (" + options.describe +
                                 ") exists but was never initialised; its creator may have "
                                 "died: restart the node's raylet");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Status mapped = segment->Map(fd, total, options.prefault);
  close(fd);
  if (!mapped.ok()) return mapped;
  return segment;
}

Status Segment::Map(int fd, uint64_t size, bool prefault) {
  int flags = MAP_SHARED | (prefault ? MAP_POPULATE : 0);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) {
    return Status::IoError("store.shm: cannot map " + FileOf(name_) + " (" + std::to_string(size) +
                           " bytes): " + Errno(errno));
  }
  base_ = static_cast<uint8_t*>(p);
  mapped_size_ = size;
  header_ = reinterpret_cast<Header*>(base_);
  if (header_->magic.load(std::memory_order_acquire) == kMagic) {
    entries_ = reinterpret_cast<Entry*>(base_ + header_->entries_offset);
    index_ = reinterpret_cast<uint32_t*>(base_ + header_->index_offset);
    free_ = reinterpret_cast<uint32_t*>(base_ + header_->free_offset);
  }
  return Status::Ok();
}

void Segment::Initialize(const SegmentOptions& options, uint64_t total) {
  Header* h = header_;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&h->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  h->version = kLayoutVersion;
  h->seal_seq.store(0);
  h->total_size = total;
  h->capacity = options.capacity;
  h->max_objects = options.max_objects;
  h->index_size = IndexSize(options.max_objects);
  uint64_t at = RoundUp(sizeof(Header), kPage);
  h->entries_offset = at;
  at += RoundUp(uint64_t{options.max_objects} * sizeof(Entry), kPage);
  h->index_offset = at;
  at += RoundUp(uint64_t{h->index_size} * 4, kPage);
  h->free_offset = at;
  at += RoundUp(uint64_t{options.max_objects} * 4, kPage);
  h->heap_offset = at;
  h->heap_size = total - at;
  h->owner_pid = getpid();
  h->next_spill_file = 1;
  h->spill_batch_bytes = options.spill_batch_bytes;
  std::snprintf(h->spill_dir, sizeof(h->spill_dir), "%s", options.spill_dir.c_str());
  std::snprintf(h->name, sizeof(h->name), "%s", options.name.c_str());
  entries_ = reinterpret_cast<Entry*>(base_ + h->entries_offset);
  index_ = reinterpret_cast<uint32_t*>(base_ + h->index_offset);
  free_ = reinterpret_cast<uint32_t*>(base_ + h->free_offset);
  // ftruncate gave zeroed pages: every entry is kFree, the index empty.
  new (base_ + h->heap_offset) Allocator(h->heap_size, 0);
  h->magic.store(kMagic, std::memory_order_release);
}

Segment::~Segment() {
  if (base_ != nullptr) munmap(base_, mapped_size_);
}

void Segment::Unlink() { shm_unlink(name_.c_str()); }

Segment::Lock::Lock(Segment& segment) : segment_(segment) {
  int rc = pthread_mutex_lock(&segment.header_->mu);
  if (rc == EOWNERDEAD) {
    // The holder died mid-update: make the table consistent before anyone reads it.
    segment.Recover();
    pthread_mutex_consistent(&segment.header_->mu);
  } else if (rc != 0) {
    // Only possible if a recovering process died too before marking the mutex
    // consistent; nothing can be trusted then.
    std::fprintf(stderr, "store.shm: the lock of %s is unusable (%s); restart the node\n",
                 FileOf(segment.name_).c_str(), Errno(rc).c_str());
    std::abort();
  }
}

Segment::Lock::~Lock() { pthread_mutex_unlock(&segment_.header_->mu); }

int64_t Segment::Find(const ObjectId& id) {
  const uint32_t mask = header_->index_size - 1;
  for (uint32_t pos = HashOf(id.data()) & mask;; pos = (pos + 1) & mask) {
    uint32_t v = index_[pos];
    if (v == 0) return -1;
    if (std::memcmp(entries_[v - 1].id, id.data(), ObjectId::kSize) == 0) return v - 1;
  }
}

void Segment::IndexInsert(uint32_t slot) {
  const uint32_t mask = header_->index_size - 1;
  uint32_t pos = HashOf(entries_[slot].id) & mask;
  while (index_[pos] != 0) pos = (pos + 1) & mask;
  index_[pos] = slot + 1;
  ++header_->num_indexed;
}

// Linear probing with backward-shift deletion (Knuth's algorithm R): no tombstones.
void Segment::IndexErase(uint32_t slot) {
  const uint32_t mask = header_->index_size - 1;
  uint32_t pos = HashOf(entries_[slot].id) & mask;
  while (index_[pos] != slot + 1) {
    if (index_[pos] == 0) return;  // not indexed
    pos = (pos + 1) & mask;
  }
  --header_->num_indexed;
  uint32_t hole = pos;
  for (uint32_t next = (hole + 1) & mask; index_[next] != 0; next = (next + 1) & mask) {
    uint32_t home = HashOf(entries_[index_[next] - 1].id) & mask;
    // Move `next` into the hole unless its home lies cyclically in (hole, next].
    bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (!stays) {
      index_[hole] = index_[next];
      hole = next;
    }
  }
  index_[hole] = 0;
}

int64_t Segment::AllocSlot() {
  if (header_->free_top > 0) return free_[--header_->free_top];
  if (header_->high_water < header_->max_objects) return header_->high_water++;
  return -1;
}

void Segment::FreeSlot(uint32_t slot) { free_[header_->free_top++] = slot; }

uint64_t Segment::Allocate(uint64_t size) {
  auto* allocator = reinterpret_cast<Allocator*>(base_ + header_->heap_offset);
  void* p = allocator->allocate(size == 0 ? 1 : size);
  return p == nullptr ? 0 : static_cast<uint64_t>(static_cast<uint8_t*>(p) - base_);
}

void Segment::Deallocate(uint64_t offset) {
  auto* allocator = reinterpret_cast<Allocator*>(base_ + header_->heap_offset);
  allocator->deallocate(base_ + offset);
}

bool Segment::Pinned(const Entry& e) {
  for (uint64_t word : e.pins) {
    if (word != 0) return true;
  }
  return false;
}

void Segment::Account(const Entry& e, int sign) {
  const uint64_t n = e.size;
  auto add = [sign, n](uint64_t& counter) { counter = sign > 0 ? counter + n : counter - n; };
  if (e.offset != 0) {
    add(header_->used);
    if (e.primary || Pinned(e)) add(header_->pinned);
  }
  if (e.spill_file >= 0) add(header_->spilled);
}

void Segment::SetPin(uint32_t slot, uint32_t client, bool on) {
  Entry& e = entries_[slot];
  Account(e, -1);
  uint64_t bit = uint64_t{1} << (client % 64);
  if (on) {
    e.pins[client / 64] |= bit;
  } else {
    e.pins[client / 64] &= ~bit;
  }
  Account(e, +1);
}

std::string Segment::SpillPath(uint64_t number) const {
  return std::string(header_->spill_dir) + "/" + (header_->name + 1) + "-" +
         std::to_string(number) + ".spill";
}

void Segment::DropSpillRef(int32_t file) {
  SpillFile& f = header_->spill_files[file];
  if (f.refs > 0 && --f.refs == 0) {
    unlink(SpillPath(f.number).c_str());
    f.number = 0;
  }
}

void Segment::FreeEntry(uint32_t slot) {
  Entry& e = entries_[slot];
  if (e.state == kCreated || e.state == kSealed) IndexErase(slot);
  Account(e, -1);
  e.state = kFree;  // first: a crash below leaks bytes rather than freeing them twice
  if (e.offset != 0) Deallocate(e.offset);
  if (e.spill_file >= 0) DropSpillRef(e.spill_file);
  e.offset = 0;
  e.spill_file = -1;
  std::memset(e.pins, 0, sizeof(e.pins));
  ++e.generation;
  FreeSlot(slot);
}

void Segment::DropMemory(uint32_t slot) {
  Entry& e = entries_[slot];
  Account(e, -1);
  uint64_t offset = e.offset;
  e.offset = 0;
  Deallocate(offset);
  Account(e, +1);
}

uint64_t Segment::ProcessStartTime(int32_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // Field 22 (starttime); the command name (field 2) may hold spaces, so count after ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool Segment::ProcessAlive(int32_t pid, uint64_t start_time) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  uint64_t now = ProcessStartTime(pid);
  // A zombie's entry still exists; it holds nothing we could use.
  std::ifstream status("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(status, line)) {
    size_t close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z')
      return false;
  }
  return now == 0 || start_time == 0 || now == start_time;
}

Result<uint32_t> Segment::RegisterClient() {
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t c = 0; c < kMaxClients; ++c) {
      Client& client = header_->clients[c];
      if (client.pid == 0) {
        client.pid = getpid();
        client.start_time = ProcessStartTime(client.pid);
        return c;
      }
    }
    if (pass == 0 && SweepDeadClients() == 0) break;
  }
  return Status::Unavailable("store.shm: " + FileOf(name_) + " already has " +
                             std::to_string(kMaxClients) +
                             " attached store instances (processes); close some");
}

void Segment::ReleaseClient(uint32_t client) {
  for (uint32_t slot = 0; slot < header_->high_water; ++slot) {
    Entry& e = entries_[slot];
    if (e.state == kFree) continue;
    if (e.state == kCreated && e.creator_client == client) {
      FreeEntry(slot);  // a writer that never sealed: the object never existed
      continue;
    }
    if (!PinnedBy(e, client)) continue;
    SetPin(slot, client, false);
    if (e.state == kDeleted && !Pinned(e)) FreeEntry(slot);
  }
  header_->clients[client].pid = 0;
  header_->clients[client].start_time = 0;
}

int Segment::SweepDeadClients() {
  int released = 0;
  for (uint32_t c = 0; c < kMaxClients; ++c) {
    const Client& client = header_->clients[c];
    if (client.pid != 0 && !ProcessAlive(client.pid, client.start_time)) {
      ReleaseClient(c);
      ++released;
    }
  }
  return released;
}

void Segment::Recover() {
  Header* h = header_;
  std::memset(index_, 0, uint64_t{h->index_size} * 4);
  h->num_indexed = 0;
  h->free_top = 0;
  h->used = h->pinned = h->spilled = 0;
  for (SpillFile& f : h->spill_files) f.refs = 0;
  for (uint32_t slot = 0; slot < h->high_water; ++slot) {
    Entry& e = entries_[slot];
    if (e.state > kDeleted) e.state = kFree;  // torn: its bytes (if any) leak
    if (e.state == kFree) {
      FreeSlot(slot);
      continue;
    }
    if (e.state != kDeleted && Find(ObjectId::FromBinary(std::string_view(
                                   reinterpret_cast<const char*>(e.id), ObjectId::kSize))) < 0) {
      IndexInsert(slot);
    } else if (e.state != kDeleted) {
      e.state = kDeleted;  // a duplicate id: keep the first, let pins drain the other
    }
    if (e.spill_file >= 0) ++h->spill_files[e.spill_file].refs;
    Account(e, +1);
  }
  for (SpillFile& f : h->spill_files) {
    if (f.refs == 0 && f.number != 0) {
      unlink(SpillPath(f.number).c_str());
      f.number = 0;
    }
  }
  auto* allocator = reinterpret_cast<Allocator*>(base_ + h->heap_offset);
  if (!allocator->check_sanity()) h->corrupted = 1;
}

}  // namespace rayk::shm
