// The object store contract (object_store.h), run against every store plugin
// on the search path: lifecycle, blocking gets, pins, capacity and eviction,
// and concurrent use. Sizes allow for a store that rounds allocations up, so
// byte counts are checked as lower bounds where the contract leaves slack.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "conformance/conformance.h"
#include "rayk/plugin/object_store.h"

namespace rayk {
namespace {

using std::chrono::milliseconds;

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;

// A store that declares a `spill_dir` setting spills primary copies to disk
// when full (the convention in plugins/store/memory/README.md); others refuse.
bool StoreSpills(const std::string& plugin) {
  PluginLoader loader;
  auto info = loader.Find(PluginKind::kStore, plugin);
  if (!info.ok()) return false;
  for (const SettingSpec& spec : info->settings) {
    if (std::string(spec.key) == "spill_dir") return true;
  }
  return false;
}

// Every store plugin takes its size as `capacity` (the convention in
// plugins/store/memory/README.md); a spilling store gets its folder too.
RawSettingTable StoreSettings(const std::string& plugin, const std::string& capacity,
                              const std::string& spill_dir) {
  RawSettingTable table = {{"capacity", {std::string(capacity), 0}}};
  if (StoreSpills(plugin)) table["spill_dir"] = {std::string(spill_dir), 0};
  return table;
}

// Regular files in `dir` (none when it does not exist).
size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) ++n;
  }
  return n;
}

std::vector<uint8_t> Pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 31);
  return bytes;
}

bool Equals(const ObjectBuffer& buffer, const std::vector<uint8_t>& bytes) {
  return buffer.size() == bytes.size() &&
         (bytes.empty() || std::memcmp(buffer.data(), bytes.data(), bytes.size()) == 0);
}

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "rayk_store_test_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    session_dir_ = pattern;
    store_ = MakeStore("64MiB");
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(session_dir_, ignored);
  }

  std::shared_ptr<ObjectStore> MakeStore(const std::string& capacity) {
    PluginContext context;
    context.role = ProcessRole::kRaylet;  // the owner of the node's store
    context.session_dir = session_dir_;
    context.node_id = NodeId::FromRandom();
    return testing::CreatePlugin<ObjectStore>(
        GetParam(), StoreSettings(GetParam(), capacity, spill_dir()), context);
  }

  // Creates, fills and seals an object; returns its bytes.
  std::vector<uint8_t> Put(ObjectStore& store, const ObjectId& id, size_t size,
                           bool primary = false, uint8_t seed = 7) {
    std::vector<uint8_t> bytes = Pattern(size, seed);
    auto created = store.Create(id, size, primary);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return bytes;
    EXPECT_EQ((*created)->size(), size);
    if (size > 0) std::memcpy((*created)->data(), bytes.data(), size);
    EXPECT_TRUE(store.Seal(id).ok());
    return bytes;
  }

  std::shared_ptr<const ObjectBuffer> GetOne(ObjectStore& store, const ObjectId& id,
                                             milliseconds timeout = milliseconds(0)) {
    auto got = store.Get({id}, timeout);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->size() != 1) return nullptr;
    return (*got)[0];
  }

  std::string spill_dir() const { return session_dir_ + "/spill"; }

  std::string session_dir_;
  std::shared_ptr<ObjectStore> store_;
};

TEST_P(StoreConformance, CreateSealGetReturnsTheWrittenBytes) {
  ObjectId id = ObjectId::FromRandom();
  auto created = store_->Create(id, 4096, /*primary=*/true);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::vector<uint8_t> bytes = Pattern(4096, 1);
  std::memcpy((*created)->data(), bytes.data(), bytes.size());
  EXPECT_FALSE(store_->Contains(id)) << "an unsealed object is not visible";
  EXPECT_EQ(GetOne(*store_, id), nullptr);
  ASSERT_TRUE(store_->Seal(id).ok());
  created->reset();
  EXPECT_TRUE(store_->Contains(id));
  auto buffer = GetOne(*store_, id);
  ASSERT_NE(buffer, nullptr);
  EXPECT_TRUE(Equals(*buffer, bytes));
}

TEST_P(StoreConformance, GetReturnsBuffersInTheOrderAsked) {
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom(), missing = ObjectId::FromRandom();
  auto bytes_a = Put(*store_, a, 100, false, 1);
  auto bytes_b = Put(*store_, b, 200, false, 2);
  auto got = store_->Get({b, missing, a}, milliseconds(0));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  ASSERT_NE((*got)[0], nullptr);
  EXPECT_TRUE(Equals(*(*got)[0], bytes_b));
  EXPECT_EQ((*got)[1], nullptr);
  ASSERT_NE((*got)[2], nullptr);
  EXPECT_TRUE(Equals(*(*got)[2], bytes_a));
}

TEST_P(StoreConformance, ZeroSizedObjects) {
  ObjectId id = ObjectId::FromRandom();
  Put(*store_, id, 0);
  auto buffer = GetOne(*store_, id);
  ASSERT_NE(buffer, nullptr);
  EXPECT_EQ(buffer->size(), 0u);
}

TEST_P(StoreConformance, GetBlocksUntilAnotherThreadSeals) {
  ObjectId id = ObjectId::FromRandom();
  std::vector<uint8_t> bytes = Pattern(1000, 3);
  std::atomic<bool> sealed{false};
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    auto created = store_->Create(id, bytes.size(), false);
    ASSERT_TRUE(created.ok());
    std::memcpy((*created)->data(), bytes.data(), bytes.size());
    sealed = true;
    ASSERT_TRUE(store_->Seal(id).ok());
  });
  auto buffer = GetOne(*store_, id, milliseconds(10000));
  writer.join();
  ASSERT_NE(buffer, nullptr) << "Get gave up before the object was sealed";
  EXPECT_TRUE(sealed);
  EXPECT_TRUE(Equals(*buffer, bytes));
}

TEST_P(StoreConformance, GetTimesOutWithEmptyEntries) {
  ObjectId unknown = ObjectId::FromRandom();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(GetOne(*store_, unknown, milliseconds(100)), nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(90)) << "did not wait";

  // Created but never sealed: still empty; a zero timeout only looks.
  ObjectId unsealed = ObjectId::FromRandom();
  auto created = store_->Create(unsealed, 10, false);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(GetOne(*store_, unsealed, milliseconds(0)), nullptr);
  EXPECT_EQ(GetOne(*store_, unsealed, milliseconds(50)), nullptr);
}

TEST_P(StoreConformance, AbortDropsAnUnsealedObject) {
  ObjectId id = ObjectId::FromRandom();
  {
    auto created = store_->Create(id, 1000, false);
    ASSERT_TRUE(created.ok());
  }
  ASSERT_TRUE(store_->Abort(id).ok());
  EXPECT_FALSE(store_->Contains(id));
  EXPECT_EQ(GetOne(*store_, id), nullptr);
  EXPECT_EQ(store_->Stats().num_objects, 0u);
  EXPECT_FALSE(store_->Seal(id).ok()) << "sealing an aborted object";
  // The id is free again.
  auto bytes = Put(*store_, id, 500);
  auto buffer = GetOne(*store_, id);
  ASSERT_NE(buffer, nullptr);
  EXPECT_TRUE(Equals(*buffer, bytes));
  EXPECT_FALSE(store_->Abort(ObjectId::FromRandom()).ok()) << "aborting an unknown object";
}

TEST_P(StoreConformance, DuplicateCreateIsAlreadyExists) {
  ObjectId id = ObjectId::FromRandom();
  auto first = store_->Create(id, 100, false);
  ASSERT_TRUE(first.ok());
  auto again = store_->Create(id, 100, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->Seal(id).ok());
  again = store_->Create(id, 100, true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(store_->Seal(ObjectId::FromRandom()).ok()) << "sealing an unknown object";
}

TEST_P(StoreConformance, DeleteWhilePinnedKeepsBytesUntilReleased) {
  ObjectId id = ObjectId::FromRandom();
  auto bytes = Put(*store_, id, 64 * kKiB);
  auto pin = GetOne(*store_, id);
  ASSERT_NE(pin, nullptr);
  ASSERT_TRUE(store_->Delete({id, ObjectId::FromRandom()}).ok()) << "unknown ids are ignored";
  EXPECT_FALSE(store_->Contains(id));
  EXPECT_EQ(GetOne(*store_, id), nullptr);
  // The reader's view is unchanged, and the space is still taken.
  EXPECT_TRUE(Equals(*pin, bytes));
  EXPECT_GE(store_->Stats().used_bytes, 64 * kKiB);
  pin.reset();
  EXPECT_LT(store_->Stats().used_bytes, 64 * kKiB) << "the last pin did not free the space";
}

TEST_P(StoreConformance, BuffersOutliveTheStore) {
  // The contract: a reader's buffer keeps what it points at alive on its own,
  // even after the kernel has dropped (and unloaded) the store.
  store_.reset();  // only this test's store may keep the plugin loaded
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  ObjectId id = ObjectId::FromRandom();
  auto bytes = Put(*store, id, 10 * kKiB);
  auto pin = GetOne(*store, id);
  ASSERT_NE(pin, nullptr);
  store.reset();
  EXPECT_TRUE(Equals(*pin, bytes));
  pin.reset();
}

TEST_P(StoreConformance, StatsCountObjectsAndPins) {
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  ObjectStoreStats empty = store->Stats();
  EXPECT_EQ(empty.capacity_bytes, 1 * kMiB);
  EXPECT_EQ(empty.num_objects, 0u);

  ObjectId primary = ObjectId::FromRandom(), secondary = ObjectId::FromRandom();
  Put(*store, primary, 10 * kKiB, /*primary=*/true);
  Put(*store, secondary, 20 * kKiB, /*primary=*/false);
  ObjectStoreStats two = store->Stats();
  EXPECT_EQ(two.num_objects, 2u);
  EXPECT_GE(two.used_bytes, 30 * kKiB);
  EXPECT_LE(two.used_bytes, two.capacity_bytes);
  EXPECT_GE(two.pinned_bytes, 10 * kKiB) << "a primary copy counts as pinned";

  auto pin = GetOne(*store, secondary);
  EXPECT_GE(store->Stats().pinned_bytes, 30 * kKiB) << "a reader's pin counts";
  pin.reset();
  EXPECT_LT(store->Stats().pinned_bytes, 30 * kKiB) << "a released pin still counts";

  ASSERT_TRUE(store->Delete({primary, secondary}).ok());
  EXPECT_EQ(store->Stats().num_objects, 0u);
  EXPECT_LT(store->Stats().used_bytes, 10 * kKiB);
}

TEST_P(StoreConformance, FullStoreEvictsUnpinnedSecondaryCopiesLeastRecentlyUsedFirst) {
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  constexpr size_t kSize = 200 * kKiB;
  std::vector<ObjectId> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(ObjectId::FromRandom());
    Put(*store, ids.back(), kSize, /*primary=*/false, static_cast<uint8_t>(i));
  }
  // Reading object 0 makes object 1 the least recently used.
  ASSERT_NE(GetOne(*store, ids[0]), nullptr);
  ObjectId newest = ObjectId::FromRandom();
  auto bytes = Put(*store, newest, kSize, false, 9);
  EXPECT_TRUE(store->Contains(newest));
  EXPECT_FALSE(store->Contains(ids[1])) << "the least recently used copy should go first";
  EXPECT_TRUE(store->Contains(ids[0])) << "a recently read copy was evicted before an older one";
  EXPECT_TRUE(store->Contains(ids[4])) << "evicted more than needed";
  EXPECT_GE(store->Stats().num_evicted, 1u);
  auto buffer = GetOne(*store, newest);
  ASSERT_NE(buffer, nullptr);
  EXPECT_TRUE(Equals(*buffer, bytes));
}

TEST_P(StoreConformance, PinnedObjectsAreNeverEvicted) {
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  constexpr size_t kSize = 240 * kKiB;
  std::vector<ObjectId> ids;
  std::vector<std::shared_ptr<const ObjectBuffer>> pins;
  std::vector<std::vector<uint8_t>> contents;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(ObjectId::FromRandom());
    contents.push_back(Put(*store, ids.back(), kSize, /*primary=*/false, static_cast<uint8_t>(i)));
    pins.push_back(GetOne(*store, ids.back()));
    ASSERT_NE(pins.back(), nullptr);
  }
  auto refused = store->Create(ObjectId::FromRandom(), 300 * kKiB, false);
  ASSERT_FALSE(refused.ok()) << "a pinned object was evicted to make room";
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("capacity"), std::string::npos) << "names the setting: " << message;
  EXPECT_NE(message.find(std::to_string(300 * kKiB)), std::string::npos)
      << "names the size asked: " << message;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(store->Contains(ids[i]));
    EXPECT_TRUE(Equals(*pins[i], contents[i]));
  }
  // Released pins make the copies evictable again.
  pins.clear();
  auto accepted = store->Create(ObjectId::FromRandom(), 300 * kKiB, false);
  EXPECT_TRUE(accepted.ok()) << accepted.status().ToString();
}

TEST_P(StoreConformance, ObjectLargerThanCapacityIsOutOfMemory) {
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  auto refused = store->Create(ObjectId::FromRandom(), 2 * kMiB, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(refused.status().message().find("capacity"), std::string::npos);
  refused = store->Create(ObjectId::FromRandom(), SIZE_MAX, false);
  ASSERT_FALSE(refused.ok()) << "SIZE_MAX bytes";
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
}

TEST_P(StoreConformance, ConcurrentWritersAndReaders) {
  constexpr int kThreads = 4;
  constexpr int kObjectsPerThread = 200;
  std::vector<std::vector<ObjectId>> ids(kThreads);
  for (auto& list : ids) {
    for (int i = 0; i < kObjectsPerThread; ++i) list.push_back(ObjectId::FromRandom());
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kObjectsPerThread; ++i) {
        const ObjectId& id = ids[t][i];
        size_t size = 1 + (i * 997) % (16 * kKiB);
        std::vector<uint8_t> bytes = Pattern(size, static_cast<uint8_t>(t * 50 + i));
        auto created = store_->Create(id, size, i % 2 == 0);
        if (!created.ok()) {
          ++failures;
          continue;
        }
        std::memcpy((*created)->data(), bytes.data(), size);
        if (!store_->Seal(id).ok()) ++failures;
        auto got = store_->Get({id}, milliseconds(0));
        if (!got.ok() || (*got)[0] == nullptr || !Equals(*(*got)[0], bytes)) ++failures;
        // Peek at a neighbour's objects: present or not, never torn.
        const ObjectId& other = ids[(t + 1) % kThreads][i];
        auto peek = store_->Get({other}, milliseconds(0));
        if (!peek.ok()) ++failures;
        store_->Contains(other);
        store_->Stats();
        if (i >= 10 && !store_->Delete({ids[t][i - 10]}).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->Stats().num_objects, static_cast<uint64_t>(kThreads * 10));
  for (auto& list : ids) ASSERT_TRUE(store_->Delete(list).ok());
  EXPECT_EQ(store_->Stats().num_objects, 0u);
}

TEST_P(StoreConformance, ManyReadersWaitForOneWriter) {
  ObjectId id = ObjectId::FromRandom();
  std::vector<uint8_t> bytes = Pattern(8 * kKiB, 5);
  std::atomic<int> seen{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      auto got = store_->Get({id}, milliseconds(10000));
      if (got.ok() && (*got)[0] != nullptr && Equals(*(*got)[0], bytes)) ++seen;
    });
  }
  std::this_thread::sleep_for(milliseconds(30));
  Put(*store_, id, bytes.size(), false, 5);
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(seen.load(), 4);
}

TEST_P(StoreConformance, LargeObjectFitsAfterFragmentingFrees) {
  // Mixed sizes fill the store; freeing every other one leaves holes no larger
  // than the biggest object, then a large object must still find room (by
  // evicting the rest if need be).
  std::vector<ObjectId> ids;
  size_t total = 0;
  for (int i = 0; total < 56 * kMiB; ++i) {
    size_t size = kKiB + (static_cast<size_t>(i) * 7919 * kKiB) % (2 * kMiB);
    ids.push_back(ObjectId::FromRandom());
    Put(*store_, ids.back(), size, /*primary=*/false, static_cast<uint8_t>(i));
    total += size;
  }
  std::vector<ObjectId> freed;
  for (size_t i = 0; i < ids.size(); i += 2) freed.push_back(ids[i]);
  ASSERT_TRUE(store_->Delete(freed).ok());
  ObjectId big = ObjectId::FromRandom();
  auto bytes = Put(*store_, big, 40 * kMiB, /*primary=*/true, 3);
  auto buffer = GetOne(*store_, big);
  ASSERT_NE(buffer, nullptr);
  EXPECT_TRUE(Equals(*buffer, bytes));
  EXPECT_LE(store_->Stats().used_bytes, store_->Stats().capacity_bytes);
}

TEST_P(StoreConformance, PrimaryCopiesBeyondCapacityAreSpilledAndRestored) {
  // 256 MiB of primary copies through a 64 MiB store.
  constexpr size_t kSize = 4 * kMiB;
  constexpr int kCount = 64;
  std::vector<ObjectId> ids;
  for (int i = 0; i < kCount; ++i) {
    ObjectId id = ObjectId::FromRandom();
    if (!StoreSpills(GetParam())) {
      // A store without a disk refuses once its memory is full of primaries.
      auto created = store_->Create(id, kSize, /*primary=*/true);
      if (created.ok()) {
        ASSERT_TRUE(store_->Seal(id).ok());
        continue;
      }
      EXPECT_EQ(created.status().code(), StatusCode::kOutOfMemory);
      EXPECT_NE(created.status().message().find("capacity"), std::string::npos);
      return;
    }
    Put(*store_, id, kSize, /*primary=*/true, static_cast<uint8_t>(i));
    ids.push_back(id);
  }
  ASSERT_TRUE(StoreSpills(GetParam())) << "a store without spill_dir took 256 MiB in 64 MiB";
  ObjectStoreStats stats = store_->Stats();
  EXPECT_GE(stats.num_spilled, static_cast<uint64_t>(kCount - 16));
  EXPECT_GE(stats.spilled_bytes, 48 * kMiB);
  EXPECT_LE(stats.used_bytes, stats.capacity_bytes);
  EXPECT_EQ(stats.num_objects, static_cast<uint64_t>(kCount));
  size_t spill_files = FilesIn(spill_dir());
  EXPECT_GE(spill_files, 1u);
  EXPECT_LT(spill_files, static_cast<size_t>(kCount)) << "spill files should hold several objects";
  // Every object reads back with its own bytes, oldest (spilled) first.
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(store_->Contains(ids[i])) << "a spilled object is still in the store";
    auto buffer = GetOne(*store_, ids[i]);
    ASSERT_NE(buffer, nullptr) << "object " << i;
    EXPECT_TRUE(Equals(*buffer, Pattern(kSize, static_cast<uint8_t>(i)))) << "object " << i;
  }
  ASSERT_TRUE(store_->Delete(ids).ok());
  EXPECT_EQ(FilesIn(spill_dir()), 0u) << "spill files outlive their objects";
  EXPECT_EQ(store_->Stats().spilled_bytes, 0u);
  EXPECT_EQ(store_->Stats().num_objects, 0u);
}

TEST_P(StoreConformance, OutOfMemoryOnlyWhenEverythingIsPinned) {
  auto store = MakeStore("1MiB");
  ASSERT_NE(store, nullptr);
  constexpr size_t kSize = 300 * kKiB;
  std::vector<ObjectId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(ObjectId::FromRandom());
    Put(*store, ids.back(), kSize, /*primary=*/true, static_cast<uint8_t>(i));
  }
  ObjectId fourth = ObjectId::FromRandom();
  auto created = store->Create(fourth, kSize, /*primary=*/true);
  if (!StoreSpills(GetParam())) {
    ASSERT_FALSE(created.ok()) << "a store without spilling took primaries beyond capacity";
    EXPECT_EQ(created.status().code(), StatusCode::kOutOfMemory);
    return;
  }
  ASSERT_TRUE(created.ok()) << "an unpinned primary copy could have been spilled: "
                            << created.status().ToString();
  ASSERT_TRUE(store->Seal(fourth).ok());
  created->reset();
  ids.push_back(fourth);
  // Pin what is in memory (and restore what was spilled, while there is room).
  std::vector<std::shared_ptr<const ObjectBuffer>> pins;
  for (int i = 3; i >= 0 && pins.size() < 3; --i) {
    auto pin = GetOne(*store, ids[static_cast<size_t>(i)]);
    ASSERT_NE(pin, nullptr);
    pins.push_back(pin);
  }
  auto refused = store->Create(ObjectId::FromRandom(), kSize, /*primary=*/true);
  ASSERT_FALSE(refused.ok()) << "pinned objects were spilled or evicted";
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find(std::to_string(kSize)), std::string::npos) << message;
  EXPECT_NE(message.find("pinned"), std::string::npos) << message;
  EXPECT_NE(message.find("capacity"), std::string::npos) << message;
  // The spilled one cannot come back while the others are pinned...
  auto restore = store->Get({ids[0]}, milliseconds(0));
  ASSERT_FALSE(restore.ok()) << "restored an object into a store full of pinned ones";
  EXPECT_EQ(restore.status().code(), StatusCode::kOutOfMemory);
  // ...and can once a pin goes.
  pins.pop_back();
  auto back = GetOne(*store, ids[0]);
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(Equals(*back, Pattern(kSize, 0)));
}

TEST_P(StoreConformance, ListShowsTheLargestObjectsFirst) {
  ObjectId small = ObjectId::FromRandom(), big = ObjectId::FromRandom(),
           middle = ObjectId::FromRandom(), unsealed = ObjectId::FromRandom();
  Put(*store_, small, 10, /*primary=*/false);
  Put(*store_, big, 3000, /*primary=*/true);
  Put(*store_, middle, 200, /*primary=*/false);
  auto writing = store_->Create(unsealed, 100, false);
  ASSERT_TRUE(writing.ok());
  auto pin = GetOne(*store_, middle);
  std::vector<ObjectStoreEntry> top = store_->List(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].id, big);
  EXPECT_EQ(top[0].size, 3000u);
  EXPECT_TRUE(top[0].primary);
  EXPECT_TRUE(top[0].sealed);
  EXPECT_TRUE(top[0].in_memory);
  EXPECT_EQ(top[0].creator_pid, static_cast<int64_t>(getpid()));
  EXPECT_EQ(top[1].id, middle);
  EXPECT_TRUE(top[1].pinned);
  EXPECT_FALSE(top[1].primary);
  std::vector<ObjectStoreEntry> all = store_->List(100);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[2].id, unsealed);
  EXPECT_FALSE(all[2].sealed);
  EXPECT_EQ(all[3].id, small);
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreConformance,
                         ::testing::ValuesIn(testing::PluginsOfKind(PluginKind::kStore)),
                         testing::ParamName);

}  // namespace
}  // namespace rayk
