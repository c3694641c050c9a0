// The `shm` object store: one shared-memory segment per node (segment.h),
// created by the raylet and mapped by its workers and drivers. Readers get
// buffers that point into the mapping, so a Get costs the same for 1 KiB and
// 1 GiB. When full, unpinned secondary copies are evicted (least recently used
// first), then unpinned primary copies are spilled to files in batches and
// restored on Get. See README.md for the rules on roles, pins and crashes.
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "rayk/plugin/object_store.h"
#include "rayk/plugin/plugin.h"
#include "segment.h"

namespace {

using rayk::ObjectId;
using rayk::Result;
using rayk::Status;
using rayk::shm::Entry;
using rayk::shm::Segment;

const rayk::SettingSpec kShmStoreSettings[] = {
    {"capacity", rayk::SettingType::kBytes, "0",
     "Most bytes of objects held in memory; 0: 30% of physical memory (at most 200GB and what "
     "/dev/shm has free). Only the creating process (the raylet) uses it.",
     "0", "memory"},
    {"spill_dir", rayk::SettingType::kString, "\"\"",
     "Folder for spilled primary copies; empty: <session_dir>/spill (or a temporary folder "
     "outside a session)."},
    {"spill_batch_bytes", rayk::SettingType::kBytes, "16MiB",
     "Least bytes written per spill file when spilling (several objects per file).", "0", "1GiB"},
    {"max_objects", rayk::SettingType::kInteger, "65536",
     "Most objects held at once (the size of the segment's object table).", "1", "16777216"},
    {"prefault", rayk::SettingType::kBool, "false",
     "Touch every page of the segment when creating it, so first writes need no page faults."},
};

// How often the node's store looks for processes that died attached to it
// and takes back what they held. An allocation that finds the store full
// sweeps at once, so this only returns their space in the background: every
// 5 s keeps an idle node's wake-ups few (issue 19, an idle cluster).
constexpr auto kSweepPeriod = std::chrono::milliseconds(5000);
// A Get sleeps on the seal counter at most this long before looking again:
// a sealer that died between sealing and waking must not stall readers.
constexpr auto kMaxSleep = std::chrono::milliseconds(100);

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  // Not FUTEX_PRIVATE: the word is shared between processes.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// Readers' buffers may outlive the store (the contract allows it) and their
// destructors are code in this library: keep it mapped for the process's life.
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

// One attachment of this process to a segment: the mapping, its client slot
// and the process-local pin counts. Shared by the store and every buffer, so
// the mapping outlives the store while buffers remain.
struct Client {
  std::unique_ptr<Segment> segment;
  uint32_t slot = 0;
  pid_t pid = 0;
  // slot -> (generation, buffers of this client). Guarded by the segment lock;
  // the shared pin bit is set while the count is non-zero.
  struct LocalPin {
    uint64_t generation;
    uint64_t count;
  };
  std::unordered_map<uint32_t, LocalPin> local_pins;

  ~Client() {
    if (!segment) return;
    Segment::Lock lock(*segment);
    segment->ReleaseClient(slot);
  }

  void Pin(uint32_t entry_slot) {
    Entry& e = segment->entry(entry_slot);
    LocalPin& pin = local_pins[entry_slot];
    if (pin.count == 0) {
      pin.generation = e.generation;
      segment->SetPin(entry_slot, slot, true);
    }
    ++pin.count;
  }

  void Unpin(uint32_t entry_slot, uint64_t generation) {
    Segment::Lock lock(*segment);
    auto it = local_pins.find(entry_slot);
    if (it == local_pins.end() || it->second.generation != generation) return;
    if (--it->second.count > 0) return;
    local_pins.erase(it);
    Entry& e = segment->entry(entry_slot);
    if (e.generation != generation || !Segment::PinnedBy(e, slot)) return;
    segment->SetPin(entry_slot, slot, false);
    if (e.state == rayk::shm::kDeleted && !Segment::Pinned(e)) segment->FreeEntry(entry_slot);
  }
};

class ShmBuffer : public rayk::ObjectBuffer {
 public:
  ShmBuffer(std::shared_ptr<Client> client, uint32_t slot, uint64_t generation, uint8_t* data,
            size_t size)
      : client_(std::move(client)),
        slot_(slot),
        generation_(generation),
        data_(data),
        size_(size) {}
  ~ShmBuffer() override { client_->Unpin(slot_, generation_); }
  const uint8_t* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<Client> client_;
  uint32_t slot_;
  uint64_t generation_;
  uint8_t* data_;
  size_t size_;
};

// The writer's buffer pins its object too, so an Abort or Delete while it is
// being written cannot hand its bytes to another object.
class ShmWriteBuffer : public rayk::MutableObjectBuffer {
 public:
  ShmWriteBuffer(std::shared_ptr<Client> client, uint32_t slot, uint64_t generation, uint8_t* data,
                 size_t size)
      : client_(std::move(client)),
        slot_(slot),
        generation_(generation),
        data_(data),
        size_(size) {}
  ~ShmWriteBuffer() override { client_->Unpin(slot_, generation_); }
  uint8_t* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<Client> client_;
  uint32_t slot_;
  uint64_t generation_;
  uint8_t* data_;
  size_t size_;
};

constexpr char kDevShmFull[] =
    "/dev/shm has no room left for it (the store's capacity counts on space that other files "
    "have taken since it started); free space in /dev/shm or lower [store.shm] capacity";

uint64_t DevShmFree() {
  struct statvfs fs;
  if (statvfs("/dev/shm", &fs) != 0) return 0;
  return uint64_t{fs.f_bavail} * fs.f_frsize;
}

// Ray's rule: 30% of physical memory, at most 200 GB; and what /dev/shm can hold.
uint64_t DefaultCapacity() {
  uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                      static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
  uint64_t capacity = std::min<uint64_t>(physical / 10 * 3, 200'000'000'000ull);
  uint64_t shm_free = DevShmFree();
  uint64_t fits = shm_free / 10 * 9;  // leave room for the segment's table and other users
  if (capacity > fits) {
    if (fits < (64u << 20)) {
      throw std::runtime_error("store.shm: /dev/shm has only " + Bytes(shm_free) +
                               " free, too little for an object store; enlarge it (mount -o "
                               "remount,size=<size> /dev/shm) or set [store.shm] capacity");
    }
    spdlog::warn(
        "store.shm: /dev/shm has {} bytes free, less than 30% of memory; the store "
        "gets {} bytes (set [store.shm] capacity, or enlarge /dev/shm)",
        shm_free, fits);
    capacity = fits;
  }
  return capacity;
}

const char* RoleName(rayk::ProcessRole role) {
  switch (role) {
    case rayk::ProcessRole::kRaylet:
      return "raylet";
    case rayk::ProcessRole::kWorker:
      return "worker";
    case rayk::ProcessRole::kDriver:
      return "driver";
    case rayk::ProcessRole::kGcs:
      return "gcs";
    default:
      return "tool";
  }
}

class ShmStore : public rayk::ObjectStore {
 public:
  explicit ShmStore(const rayk::PluginContext& ctx) {
    KeepThisLibraryLoaded();
    const rayk::PluginSettings& settings = ctx.settings();
    static std::atomic<uint64_t> private_counter{0};

    rayk::shm::SegmentOptions options;
    const bool node_role = ctx.role == rayk::ProcessRole::kRaylet ||
                           ctx.role == rayk::ProcessRole::kWorker ||
                           ctx.role == rayk::ProcessRole::kDriver;
    options.describe =
        std::string("node ") + ctx.node_id.Hex() + " of session '" + ctx.session_dir + "'";
    if (node_role) {
      if (ctx.session_dir.empty() && ctx.node_id.IsNil()) {
        throw std::runtime_error(std::string("store.shm: a ") + RoleName(ctx.role) +
                                 " needs a session_dir or node_id in its plugin context to "
                                 "name its node's segment");
      }
      // Node ids are unique, so the node id alone names the segment: a driver
      // that joins a cluster knows its node's id but not the raylet's folder.
      options.name =
          rayk::shm::SegmentName(ctx.node_id.IsNil() ? ctx.session_dir : "", ctx.node_id);
      options.create = ctx.role == rayk::ProcessRole::kRaylet;
    } else {
      // Outside a node (tests, tools): a private segment nobody else attaches to.
      char name[64];
      std::snprintf(name, sizeof(name), "/rayk-p%d-%llu-%08x", static_cast<int>(getpid()),
                    static_cast<unsigned long long>(private_counter++),
                    static_cast<unsigned>(ObjectId::FromRandom().data()[0] << 24 |
                                          ObjectId::FromRandom().data()[1]));
      options.name = name;
      options.create = true;
      options.unlink_after_map = true;
      options.describe = "a private store of process " + std::to_string(getpid());
    }
    owner_ = options.create;
    named_ = options.create && !options.unlink_after_map;
    if (options.create) {
      // The loader has checked every value against the ranges of kShmStoreSettings.
      int64_t capacity = settings.GetInteger("capacity");
      options.capacity = capacity > 0 ? static_cast<uint64_t>(capacity) : DefaultCapacity();
      options.max_objects = static_cast<uint32_t>(settings.GetInteger("max_objects"));
      options.spill_batch_bytes = static_cast<uint64_t>(settings.GetInteger("spill_batch_bytes"));
      options.spill_dir = settings.GetString("spill_dir");
      if (options.spill_dir.empty()) {
        if (!ctx.session_dir.empty()) {
          options.spill_dir = ctx.session_dir + "/spill";
        } else {
          options.spill_dir =
              (std::filesystem::temp_directory_path() / ("rayk-spill" + options.name.substr(1)))
                  .string();
          remove_spill_dir_ = true;
        }
      }
      if (options.spill_dir.size() >= sizeof(rayk::shm::Header::spill_dir) - 64) {
        throw std::runtime_error("store.shm: spill_dir '" + options.spill_dir +
                                 "' is too long; set [store.shm] spill_dir to a shorter path");
      }
      options.prefault = settings.GetBool("prefault");
    }
    auto segment = Segment::Open(options);
    if (!segment.ok()) throw std::runtime_error(segment.status().message());
    client_ = std::make_shared<Client>();
    client_->segment = std::move(*segment);
    client_->pid = getpid();
    {
      Segment::Lock lock(seg());
      auto slot = seg().RegisterClient();
      if (!slot.ok()) {
        client_->segment.reset();
        throw std::runtime_error(slot.status().message());
      }
      client_->slot = *slot;
    }
    spill_dir_ = seg().header().spill_dir;
    if (owner_) sweeper_ = std::thread([this] { SweepLoop(); });
  }

  ~ShmStore() override {
    if (owner_) {
      {
        std::lock_guard<std::mutex> lock(stop_mu_);
        stop_ = true;
      }
      stop_cv_.notify_all();
      sweeper_.join();
      // The node ends: nobody can restore from its spill files any more.
      {
        Segment::Lock lock(seg());
        auto& h = seg().header();
        for (auto& f : h.spill_files) {
          if (f.refs > 0) unlink(seg().SpillPath(f.number).c_str());
        }
      }
      if (named_) seg().Unlink();
      if (remove_spill_dir_) {
        std::error_code ignored;
        std::filesystem::remove(spill_dir_, ignored);
      }
    }
  }

  Result<std::unique_ptr<rayk::MutableObjectBuffer>> Create(const ObjectId& id, size_t size,
                                                            bool primary) override {
    if (Status st = Usable(); !st.ok()) return st;
    // The allocator writes block headers next to the object before its pages
    // can be committed (below): refuse early when neither /dev/shm nor the
    // segment's own committed but unused pages (objects freed earlier) can
    // hold it.
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    if (size > 0 && DevShmFree() + CommittedUnused() < size + 2 * page) {
      return Status::OutOfMemory("store.shm: cannot store object " + id.Hex() + " (" +
                                 std::to_string(size) + " bytes): " + kDevShmFull);
    }
    std::unique_ptr<rayk::MutableObjectBuffer> buffer;
    {
      Segment::Lock lock(seg());
      auto& h = seg().header();
      if (seg().Find(id) >= 0) {
        return Status::AlreadyExists("object " + id.Hex() + " is already in the shm store");
      }
      if (size > h.capacity) return Full(id, size, "it is larger than the whole store");
      auto offset = MakeRoom(id, size);
      if (!offset.ok()) return offset.status();
      int64_t slot = seg().AllocSlot();
      if (slot < 0 && seg().SweepDeadClients() > 0) slot = seg().AllocSlot();
      if (slot < 0) {
        seg().Deallocate(*offset);
        return Status::OutOfMemory("store.shm: the object table is full (" +
                                   std::to_string(h.max_objects) +
                                   " objects); raise "
                                   "[store.shm] max_objects or release references");
      }
      Entry& e = seg().entry(static_cast<uint32_t>(slot));
      std::memcpy(e.id, id.data(), ObjectId::kSize);
      e.primary = primary ? 1 : 0;
      e.size = size;
      e.offset = *offset;
      e.last_use = 0;
      e.spill_file = -1;
      e.spill_offset = 0;
      e.creator_client = client_->slot;
      e.creator_pid = client_->pid;
      std::memset(e.pins, 0, sizeof(e.pins));
      e.state = rayk::shm::kCreated;  // last: Recover() trusts complete entries only
      seg().IndexInsert(static_cast<uint32_t>(slot));
      seg().Account(e, +1);
      client_->Pin(static_cast<uint32_t>(slot));
      buffer = std::make_unique<ShmWriteBuffer>(client_, static_cast<uint32_t>(slot), e.generation,
                                                seg().base() + e.offset, size);
    }
    // The segment is sparse: its pages get memory only when first written,
    // and a /dev/shm that filled up since the store started would then kill
    // the writer with SIGBUS. Asking for the pages now turns that into an
    // error (the kernel answers EFAULT where a write would raise SIGBUS).
    if (Status st = CommitPages(buffer->data(), size); !st.ok()) {
      buffer.reset();
      (void)Abort(id);
      return Status::OutOfMemory("store.shm: cannot store object " + id.Hex() + " (" +
                                 std::to_string(size) + " bytes): " + st.message());
    }
    return buffer;
  }

  // Bytes of the segment's file that have memory but hold no table and no
  // object: room a new object can take without new pages.
  uint64_t CommittedUnused() {
    struct stat st {};
    if (stat(("/dev/shm" + seg().name()).c_str(), &st) != 0) return UINT64_MAX / 2;  // unknown
    const uint64_t committed = static_cast<uint64_t>(st.st_blocks) * 512;
    const uint64_t taken = seg().header().used + seg().header().heap_offset;
    return committed > taken ? committed - taken : 0;
  }

  // Gives the pages under [data, data + size) memory, or says why not.
  static Status CommitPages(uint8_t* data, size_t size) {
    if (size == 0) return Status::Ok();
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
    uintptr_t end = reinterpret_cast<uintptr_t>(data) + size;
    if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE) == 0 ||
        errno == EINVAL) {  // EINVAL: a kernel before 5.14, which cannot check
      return Status::Ok();
    }
    if (errno == EFAULT || errno == ENOMEM) return Status::OutOfMemory(kDevShmFull);
    return Status::IoError(std::string("cannot commit its memory: ") + std::strerror(errno));
  }

  Status Seal(const ObjectId& id) override {
    auto& h = seg().header();
    {
      Segment::Lock lock(seg());
      int64_t slot = seg().Find(id);
      if (slot < 0) {
        return Status::NotFound("cannot seal object " + id.Hex() +
                                ": it was not created (or was aborted or deleted)");
      }
      Entry& e = seg().entry(static_cast<uint32_t>(slot));
      if (e.state == rayk::shm::kSealed) {
        return Status::AlreadyExists("object " + id.Hex() + " is already sealed");
      }
      e.state = rayk::shm::kSealed;
      e.last_use = ++h.clock;
      h.seal_seq.fetch_add(1, std::memory_order_release);
    }
    if (h.waiters.load(std::memory_order_acquire) > 0) FutexWakeAll(&h.seal_seq);
    return Status::Ok();
  }

  Status Abort(const ObjectId& id) override {
    Segment::Lock lock(seg());
    int64_t slot = seg().Find(id);
    if (slot < 0) {
      return Status::NotFound("cannot abort object " + id.Hex() + ": it is not in the store");
    }
    if (seg().entry(static_cast<uint32_t>(slot)).state == rayk::shm::kSealed) {
      return Status::InvalidArgument("cannot abort object " + id.Hex() +
                                     ": it is sealed; use Delete");
    }
    Remove(static_cast<uint32_t>(slot));
    return Status::Ok();
  }

  Result<std::vector<std::shared_ptr<const rayk::ObjectBuffer>>> Get(
      const std::vector<ObjectId>& ids, std::chrono::milliseconds timeout) override {
    if (Status st = Usable(); !st.ok()) return st;
    auto& h = seg().header();
    constexpr auto kForever = std::chrono::hours(24 * 365);
    const bool forever = timeout >= kForever;
    const auto deadline = std::chrono::steady_clock::now() + (forever ? kForever : timeout);
    std::vector<std::shared_ptr<const rayk::ObjectBuffer>> out(ids.size());
    Status failed;
    while (true) {
      uint32_t seq;
      {
        Segment::Lock lock(seg());
        seq = h.seal_seq.load(std::memory_order_acquire);
        bool all = true;
        for (const ObjectId& id : ids) {
          int64_t slot = seg().Find(id);
          if (slot < 0 || seg().entry(static_cast<uint32_t>(slot)).state != rayk::shm::kSealed) {
            all = false;
            break;
          }
        }
        auto now = std::chrono::steady_clock::now();
        if (all || timeout.count() <= 0 || now >= deadline) {
          failed = PinAll(ids, out);
          break;
        }
        h.waiters.fetch_add(1, std::memory_order_acq_rel);
      }
      auto left = deadline - std::chrono::steady_clock::now();
      FutexWait(&h.seal_seq, seq,
                std::min<std::chrono::nanoseconds>(std::max<std::chrono::nanoseconds>(left, {}),
                                                   kMaxSleep));
      h.waiters.fetch_sub(1, std::memory_order_acq_rel);
    }
    if (!failed.ok()) {
      out.clear();  // releases the pins taken so far, outside the lock
      return failed;
    }
    return out;
  }

  Status Delete(const std::vector<ObjectId>& ids) override {
    Segment::Lock lock(seg());
    for (const ObjectId& id : ids) {
      int64_t slot = seg().Find(id);
      if (slot >= 0) Remove(static_cast<uint32_t>(slot));
    }
    return Status::Ok();
  }

  bool Contains(const ObjectId& id) override {
    Segment::Lock lock(seg());
    int64_t slot = seg().Find(id);
    return slot >= 0 && seg().entry(static_cast<uint32_t>(slot)).state == rayk::shm::kSealed;
  }

  bool SharedByTheNode() const override { return true; }

  rayk::ObjectStoreStats Stats() override {
    Segment::Lock lock(seg());
    const auto& h = seg().header();
    rayk::ObjectStoreStats stats;
    stats.capacity_bytes = h.capacity;
    stats.used_bytes = h.used;
    stats.pinned_bytes = h.pinned;
    stats.spilled_bytes = h.spilled;
    stats.num_objects = h.num_indexed;
    stats.num_evicted = h.num_evicted;
    stats.num_spilled = h.num_spilled;
    return stats;
  }

  std::vector<rayk::ObjectStoreEntry> List(size_t limit) override {
    std::vector<rayk::ObjectStoreEntry> out;
    {
      Segment::Lock lock(seg());
      for (uint32_t slot = 0; slot < seg().header().high_water; ++slot) {
        const Entry& e = seg().entry(slot);
        if (e.state != rayk::shm::kCreated && e.state != rayk::shm::kSealed) continue;
        rayk::ObjectStoreEntry entry;
        entry.id = ObjectId::FromBinary(
            std::string_view(reinterpret_cast<const char*>(e.id), ObjectId::kSize));
        entry.size = e.size;
        entry.primary = e.primary != 0;
        entry.sealed = e.state == rayk::shm::kSealed;
        entry.pinned = Segment::Pinned(e);
        entry.in_memory = e.offset != 0;
        entry.spilled = e.spill_file >= 0;
        entry.creator_pid = e.creator_pid;
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
  Segment& seg() { return *client_->segment; }

  Status Usable() {
    if (getpid() != client_->pid) {
      return Status::InvalidArgument(
          "store.shm: this store was opened by process " + std::to_string(client_->pid) +
          "; a forked child must create its own store (role worker) to attach");
    }
    if (seg().header().corrupted != 0) {
      return Status::Internal("store.shm: /dev/shm" + seg().name() +
                              " was left inconsistent by a process that died while changing "
                              "it; restart the node");
    }
    return Status::Ok();
  }

  // Deletes or aborts: pinned objects linger (invisible) until their last pin goes.
  void Remove(uint32_t slot) {
    Entry& e = seg().entry(slot);
    if (!Segment::Pinned(e)) {
      seg().FreeEntry(slot);
      return;
    }
    seg().IndexErase(slot);
    e.state = rayk::shm::kDeleted;
    if (e.spill_file >= 0) {  // pinned means in memory: the disk copy is not needed
      seg().Account(e, -1);
      int32_t file = e.spill_file;
      e.spill_file = -1;
      seg().Account(e, +1);
      seg().DropSpillRef(file);
    }
  }

  // Pins every sealed object of `ids` into `out`, restoring spilled ones.
  Status PinAll(const std::vector<ObjectId>& ids,
                std::vector<std::shared_ptr<const rayk::ObjectBuffer>>& out) {
    auto& h = seg().header();
    for (size_t i = 0; i < ids.size(); ++i) {
      int64_t found = seg().Find(ids[i]);
      if (found < 0) continue;
      uint32_t slot = static_cast<uint32_t>(found);
      Entry& e = seg().entry(slot);
      if (e.state != rayk::shm::kSealed) continue;
      if (e.offset == 0) {
        if (Status st = Restore(ids[i], slot); !st.ok()) return st;
      }
      client_->Pin(slot);
      e.last_use = ++h.clock;
      out[i] =
          std::make_shared<ShmBuffer>(client_, slot, e.generation, seg().base() + e.offset, e.size);
    }
    return Status::Ok();
  }

  // Finds `size` bytes: allocates, else sweeps dead clients, evicts unpinned
  // secondary copies (LRU), then spills unpinned primary copies (LRU) in
  // batches. Evicts or spills nothing unless that would make the bytes fit.
  Result<uint64_t> MakeRoom(const ObjectId& id, uint64_t size) {
    auto& h = seg().header();
    auto attempt = [&]() -> uint64_t {
      return h.used + size <= h.capacity ? seg().Allocate(size) : 0;
    };
    if (uint64_t at = attempt()) return at;
    if (seg().SweepDeadClients() > 0) {
      if (uint64_t at = attempt()) return at;
    }
    std::vector<std::pair<uint64_t, uint32_t>> evictable, spillable;  // (last_use, slot)
    uint64_t reclaimable = 0;
    for (uint32_t slot = 0; slot < h.high_water; ++slot) {
      const Entry& e = seg().entry(slot);
      if (e.state != rayk::shm::kSealed || e.offset == 0 || Segment::Pinned(e)) continue;
      (e.primary ? spillable : evictable).emplace_back(e.last_use, slot);
      reclaimable += e.size;
    }
    if (h.used - reclaimable + size > h.capacity) {
      return Full(id, size, "everything left is pinned or being written");
    }
    std::sort(evictable.begin(), evictable.end());
    std::sort(spillable.begin(), spillable.end());
    for (const auto& [last_use, slot] : evictable) {
      seg().FreeEntry(slot);
      ++h.num_evicted;
      if (uint64_t at = attempt()) return at;
    }
    size_t next = 0;
    while (next < spillable.size()) {
      uint64_t deficit = h.used + size > h.capacity ? h.used + size - h.capacity : size;
      // Batching amortises file creation, but a small store should not
      // empty itself for one object.
      uint64_t target = std::max(deficit, std::min(h.spill_batch_bytes, h.capacity / 8));
      std::vector<uint32_t> batch;
      uint64_t batch_bytes = 0;
      while (next < spillable.size() && batch_bytes < target) {
        batch.push_back(spillable[next].second);
        batch_bytes += seg().entry(spillable[next].second).size;
        ++next;
      }
      if (Status st = Spill(batch); !st.ok()) return st;
      if (uint64_t at = attempt()) return at;
    }
    return Full(id, size, "the free space is too fragmented even after evicting and spilling");
  }

  // Writes the objects of `batch` without a disk copy into one new file, then
  // drops all of them from memory.
  Status Spill(const std::vector<uint32_t>& batch) {
    auto& h = seg().header();
    std::vector<uint32_t> to_write;
    for (uint32_t slot : batch) {
      if (seg().entry(slot).spill_file < 0) to_write.push_back(slot);
    }
    if (!to_write.empty()) {
      int32_t file = -1;
      for (uint32_t f = 0; f < rayk::shm::kMaxSpillFiles; ++f) {
        if (h.spill_files[f].refs == 0 && h.spill_files[f].number == 0) {
          file = static_cast<int32_t>(f);
          break;
        }
      }
      if (file < 0) {
        return Status::OutOfMemory("store.shm: " + std::to_string(rayk::shm::kMaxSpillFiles) +
                                   " spill files are in use; raise [store.shm] capacity or "
                                   "spill_batch_bytes");
      }
      uint64_t number = h.next_spill_file++;
      std::string path = seg().SpillPath(number);
      std::error_code ec;
      // Spilled objects are this user's data: a folder made here is 0700.
      if (std::filesystem::create_directories(spill_dir_, ec)) {
        std::filesystem::permissions(spill_dir_, std::filesystem::perms::owner_all, ec);
      }
      int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) return SpillError(path, errno);
      uint64_t at = 0;
      for (uint32_t slot : to_write) {
        const Entry& e = seg().entry(slot);
        const uint8_t* p = seg().base() + e.offset;
        for (uint64_t done = 0; done < e.size;) {
          ssize_t n = write(fd, p + done, std::min<uint64_t>(e.size - done, 1u << 30));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            close(fd);
            unlink(path.c_str());
            return SpillError(path, err);
          }
          done += static_cast<uint64_t>(n);
        }
      }
      close(fd);  // no fsync: a spilled copy need not survive the machine
      h.spill_files[file].number = number;
      for (uint32_t slot : to_write) {
        Entry& e = seg().entry(slot);
        seg().Account(e, -1);
        e.spill_file = file;
        e.spill_offset = at;
        at += e.size;
        seg().Account(e, +1);
        ++h.spill_files[file].refs;
        ++h.num_spilled;
      }
    }
    for (uint32_t slot : batch) seg().DropMemory(slot);
    return Status::Ok();
  }

  Status SpillError(const std::string& path, int err) {
    return Status::IoError("store.shm: cannot write spill file " + path + ": " +
                           std::strerror(err) +
                           "; point [store.shm] spill_dir at a writable "
                           "folder with free space");
  }

  // Reads a spilled object back into the segment.
  Status Restore(const ObjectId& id, uint32_t slot) {
    uint64_t size = seg().entry(slot).size;
    auto offset = MakeRoom(id, size);
    if (!offset.ok()) {
      return Status::OutOfMemory("store.shm: cannot restore spilled object " + id.Hex() + ": " +
                                 offset.status().message());
    }
    Entry& e = seg().entry(slot);
    std::string path = seg().SpillPath(seg().header().spill_files[e.spill_file].number);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    uint64_t done = 0;
    int err = 0;
    if (fd < 0) {
      err = errno;
    } else {
      while (done < size) {
        ssize_t n =
            pread(fd, seg().base() + *offset + done, std::min<uint64_t>(size - done, 1u << 30),
                  static_cast<off_t>(e.spill_offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          err = n < 0 ? errno : EIO;
          break;
        }
        done += static_cast<uint64_t>(n);
      }
      close(fd);
    }
    if (done < size) {
      seg().Deallocate(*offset);
      return Status::IoError("store.shm: cannot restore object " + id.Hex() + " from " + path +
                             ": " + (err ? std::strerror(err) : "file too short"));
    }
    seg().Account(e, -1);
    e.offset = *offset;
    seg().Account(e, +1);
    ++seg().header().num_restored;
    return Status::Ok();
  }

  Status Full(const ObjectId& id, uint64_t size, const std::string& why) {
    const auto& h = seg().header();
    uint64_t reader_pinned = 0, unsealed = 0;
    for (uint32_t slot = 0; slot < h.high_water; ++slot) {
      const Entry& e = seg().entry(slot);
      if (e.state == rayk::shm::kFree || e.offset == 0) continue;
      if (e.state == rayk::shm::kCreated) {
        unsealed += e.size;
      } else if (Segment::Pinned(e)) {
        reader_pinned += e.size;
      }
    }
    return Status::OutOfMemory("shm store is full: cannot create object " + id.Hex() + " of " +
                               Bytes(size) + " (" + why + "); capacity is " + Bytes(h.capacity) +
                               ", " + Bytes(h.used) + " in use, " + Bytes(reader_pinned) +
                               " pinned by readers, " + Bytes(unsealed) +
                               " being written; raise [store.shm] capacity or release references");
  }

  void SweepLoop() {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kSweepPeriod, [this] { return stop_; })) {
      lock.unlock();
      {
        Segment::Lock seg_lock(seg());
        seg().SweepDeadClients();
      }
      lock.lock();
    }
  }

  std::shared_ptr<Client> client_;
  bool owner_ = false;
  bool named_ = false;
  bool remove_spill_dir_ = false;
  std::string spill_dir_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread sweeper_;
};

}  // namespace

RAYK_PLUGIN(
    rayk::PluginKind::kStore, "shm", "1.0",
    "One shared-memory segment per node, zero-copy reads; LRU eviction and spilling to disk",
    ShmStore, kShmStoreSettings);
