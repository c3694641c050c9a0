// The shm store across real processes: attaching through the plugin loader,
// zero-copy reads in a forked child, and the crash cases (a writer, a reader
// or a lock holder that dies). The store's single-process contract is in
// tests/conformance/store_conformance_test.cc.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "../../plugins/store/shm/segment.h"
#include "../../plugins/store/shm/shm_layout.h"
#include "conformance/conformance.h"
#include "rayk/plugin/object_store.h"

namespace rayk {
namespace {

using std::chrono::milliseconds;
constexpr size_t kMiB = 1024 * 1024;

uint8_t PatternByte(size_t i, uint8_t seed) { return static_cast<uint8_t>(seed + i * 31); }

void Fill(uint8_t* p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; ++i) p[i] = PatternByte(i, seed);
}

bool Matches(const uint8_t* p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != PatternByte(i, seed)) return false;
  }
  return true;
}

// A kB figure from /proc/self/status ("RssAnon", "RssShmem").
int64_t StatusKb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return -1;
}

// A forked child running `body(from_parent, to_child)`; its return value is
// the exit code. The child never returns into gtest.
struct Child {
  pid_t pid = -1;
  int to_child = -1;    // parent writes
  int from_child = -1;  // parent reads

  template <typename Body>
  static Child Start(Body body) {
    int down[2], up[2];
    EXPECT_EQ(pipe(down), 0);
    EXPECT_EQ(pipe(up), 0);
    Child child;
    child.pid = fork();
    if (child.pid == 0) {
      close(down[1]);
      close(up[0]);
      int code = body(down[0], up[1]);
      _exit(code);
    }
    close(down[0]);
    close(up[1]);
    child.to_child = down[1];
    child.from_child = up[0];
    return child;
  }

  // Blocks until the child writes one byte (its "ready"); false if it exited first.
  bool WaitReady() {
    char c;
    return read(from_child, &c, 1) == 1;
  }
  void Go() {
    char c = 'g';
    EXPECT_EQ(write(to_child, &c, 1), 1);
  }
  template <typename T>
  bool Read(T* value) {
    return read(from_child, value, sizeof(T)) == static_cast<ssize_t>(sizeof(T));
  }
  // Exit code, or 128 + signal.
  int Wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    close(to_child);
    close(from_child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

void Signal(int fd) {
  char c = 'r';
  if (write(fd, &c, 1) != 1) _exit(90);
}
void AwaitGo(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) _exit(91);
}

class ShmStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "rayk_shm_test_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    session_dir_ = pattern;
    node_ = NodeId::FromRandom();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(session_dir_, ignored);
  }

  // A child that opens the store as node `node`'s raylet (making its
  // segment), says it is ready, and parks until the parent kills it.
  Child StartParkedRaylet(const NodeId& node) {
    return Child::Start([this, node](int from_parent, int to_parent) {
      node_ = node;
      auto raylet = Open(ProcessRole::kRaylet);
      if (!raylet.ok()) return 1;
      Signal(to_parent);
      AwaitGo(from_parent);
      return 0;
    });
  }
  Result<std::shared_ptr<ObjectStore>> Open(ProcessRole role,
                                            const std::string& capacity = "64MiB") {
    PluginLoader loader;
    PluginContext context;
    context.role = role;
    context.session_dir = session_dir_;
    context.node_id = node_;
    RawSettingTable table = {{"capacity", {capacity, 0}}};
    auto created = loader.Create(PluginKind::kStore, "shm", table, "<test>", context);
    if (!created.ok()) return created.status();
    return std::shared_ptr<ObjectStore>(*created, static_cast<ObjectStore*>(created->get()));
  }

  std::string SegmentFile() const {
    return "/dev/shm" + shm::SegmentName("", node_);
  }  // named by the node id alone

  static void Put(ObjectStore& store, const ObjectId& id, size_t size, bool primary, uint8_t seed) {
    auto created = store.Create(id, size, primary);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    Fill((*created)->data(), size, seed);
    ASSERT_TRUE(store.Seal(id).ok());
  }

  std::string session_dir_;
  NodeId node_;
};

TEST_F(ShmStoreTest, WorkerAttachesToTheRayletsSegmentThroughTheLoader) {
  auto raylet = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(raylet.ok()) << raylet.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(SegmentFile()));
  ObjectId from_raylet = ObjectId::FromRandom();
  Put(**raylet, from_raylet, 1 * kMiB, true, 1);

  // The worker's own settings do not matter: the segment carries the raylet's.
  auto worker = Open(ProcessRole::kWorker, "1GiB");
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();
  EXPECT_EQ((*worker)->Stats().capacity_bytes, 64 * kMiB);
  auto got = (*worker)->Get({from_raylet}, milliseconds(0));
  ASSERT_TRUE(got.ok());
  ASSERT_NE((*got)[0], nullptr);
  EXPECT_TRUE(Matches((*got)[0]->data(), 1 * kMiB, 1));

  ObjectId from_worker = ObjectId::FromRandom();
  Put(**worker, from_worker, 1000, false, 2);
  EXPECT_TRUE((*raylet)->Contains(from_worker));
  EXPECT_EQ((*raylet)->Stats().num_objects, 2u);
  auto pinned = (*raylet)->List(10);
  ASSERT_EQ(pinned.size(), 2u);
  EXPECT_TRUE(pinned[0].pinned) << "the worker's buffer pins it for every process";

  // The raylet's end removes the name; mapped processes keep their view.
  raylet->reset();
  EXPECT_FALSE(std::filesystem::exists(SegmentFile()));
  EXPECT_TRUE(Matches((*got)[0]->data(), 1 * kMiB, 1));
}

TEST_F(ShmStoreTest, WorkerWithoutARayletGetsAOneLineError) {
  auto worker = Open(ProcessRole::kWorker);
  ASSERT_FALSE(worker.ok());
  const std::string& message = worker.status().message();
  EXPECT_NE(message.find(SegmentFile()), std::string::npos) << message;
  EXPECT_NE(message.find("start the raylet"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_FALSE(Open(ProcessRole::kDriver).ok());
}

TEST_F(ShmStoreTest, ASecondRayletForTheNodeIsRefused) {
  auto first = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(first.ok());
  // From another process: a live owner keeps its segment.
  Child child = Child::Start([&](int, int) {
    auto second = Open(ProcessRole::kRaylet);
    if (second.ok()) return 1;
    return second.status().message().find("already owned by live process") != std::string::npos ? 0
                                                                                                : 2;
  });
  EXPECT_EQ(child.Wait(), 0);
  EXPECT_TRUE((*first)->Stats().capacity_bytes > 0);
}

TEST_F(ShmStoreTest, ASegmentLeftByADeadRayletIsReplaced) {
  Child child = Child::Start([&](int, int) {
    auto raylet = Open(ProcessRole::kRaylet);
    if (!raylet.ok()) return 1;
    ObjectId id = ObjectId::FromRandom();
    auto created = (*raylet)->Create(id, 100, true);
    _exit(created.ok() ? 0 : 2);  // no destructor runs: the segment stays
  });
  ASSERT_EQ(child.Wait(), 0);  // its segment stays (unless a raylet of a parallel test reaped it)
  auto raylet = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(raylet.ok()) << raylet.status().ToString();
  EXPECT_EQ((*raylet)->Stats().num_objects, 0u);
}

TEST_F(ShmStoreTest, ARayletRemovesTheSegmentsOfDeadRayletsOfOtherNodes) {
  // A raylet of another node that dies without cleaning up (as under SIGKILL).
  NodeId dead_node = NodeId::FromRandom();
  const std::string dead_file = "/dev/shm" + shm::SegmentName("", dead_node);
  Child dead = Child::Start([&](int, int) {
    node_ = dead_node;
    auto raylet = Open(ProcessRole::kRaylet);
    if (!raylet.ok()) return 1;
    _exit(0);  // no destructor runs: the segment stays
  });
  ASSERT_EQ(dead.Wait(), 0);  // the child created its segment and left it
  // A live raylet of a third node keeps its segment.
  NodeId live_node = NodeId::FromRandom();
  const std::string live_file = "/dev/shm" + shm::SegmentName("", live_node);
  Child live = StartParkedRaylet(live_node);
  ASSERT_TRUE(live.WaitReady());

  auto raylet = Open(ProcessRole::kRaylet);  // this node's raylet starts
  ASSERT_TRUE(raylet.ok()) << raylet.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dead_file)) << "the dead raylet's segment is still there";
  EXPECT_TRUE(std::filesystem::exists(live_file)) << "a live raylet's segment was removed";
  EXPECT_TRUE(std::filesystem::exists(SegmentFile()));
  kill(live.pid, SIGKILL);
  live.Wait();
  EXPECT_GE(shm::ReapOrphanedSegments(), 1);
  EXPECT_FALSE(std::filesystem::exists(live_file));
}

TEST_F(ShmStoreTest, TheSegmentOfAKilledRayletNotYetReapedIsRemoved) {
  // A raylet SIGKILLed a moment ago is a zombie until its parent reaps it:
  // its pid still answers kill(pid, 0), but its segment is no longer in use.
  NodeId killed_node = NodeId::FromRandom();
  const std::string killed_file = "/dev/shm" + shm::SegmentName("", killed_node);
  Child killed = StartParkedRaylet(killed_node);
  ASSERT_TRUE(killed.WaitReady());
  kill(killed.pid, SIGKILL);
  // A zombie, not reaped: waitid with WNOWAIT leaves it one.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(killed.pid), &info, WEXITED | WNOWAIT), 0);
  EXPECT_GE(shm::ReapOrphanedSegments(), 1);
  EXPECT_FALSE(std::filesystem::exists(killed_file)) << "the killed raylet's segment is left";
  killed.Wait();
}

TEST_F(ShmStoreTest, CapacityBeyondDevShmIsRefused) {
  // More than /dev/shm has free, yet (on a machine with swap or /dev/shm at
  // half of RAM) within RAM + swap, the loader's own bound.
  struct statvfs shm {};
  ASSERT_EQ(statvfs("/dev/shm", &shm), 0);
  const uint64_t free_bytes = uint64_t{shm.f_bavail} * shm.f_frsize;
  auto raylet = Open(ProcessRole::kRaylet, std::to_string(free_bytes + (64 << 20)));
  ASSERT_FALSE(raylet.ok());
  const std::string& message = raylet.status().message();
  EXPECT_NE(message.find("[store.shm] capacity"), std::string::npos) << message;
  EXPECT_TRUE(message.find("/dev/shm") != std::string::npos ||
              message.find("RAM + swap") != std::string::npos)
      << message;
  EXPECT_FALSE(std::filesystem::exists(SegmentFile()));
  // Beyond the machine itself, the loader refuses it before the plugin runs.
  auto absurd = Open(ProcessRole::kRaylet, "100TiB");
  ASSERT_FALSE(absurd.ok());
  EXPECT_NE(absurd.status().message().find("is out of range"), std::string::npos)
      << absurd.status().message();
  EXPECT_FALSE(std::filesystem::exists(SegmentFile()));
}

TEST_F(ShmStoreTest, StoresOutsideANodeArePrivate) {
  PluginContext context;  // role kTool: no node
  auto a =
      testing::CreatePlugin<ObjectStore>("shm", {{"capacity", {std::string("8MiB"), 0}}}, context);
  auto b =
      testing::CreatePlugin<ObjectStore>("shm", {{"capacity", {std::string("8MiB"), 0}}}, context);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ObjectId id = ObjectId::FromRandom();
  Put(*a, id, 10, false, 1);
  EXPECT_TRUE(a->Contains(id));
  EXPECT_FALSE(b->Contains(id));
}

TEST_F(ShmStoreTest, AChildProcessReadsALargeObjectInPlace) {
  auto raylet = Open(ProcessRole::kRaylet, "512MiB");
  ASSERT_TRUE(raylet.ok());
  constexpr size_t kSize = 256 * kMiB;
  ObjectId id = ObjectId::FromRandom();
  Put(**raylet, id, kSize, true, 9);

  struct Report {
    int64_t anon_kb_growth;
    int64_t shmem_kb_growth;
    int ok;
  };
  Child child = Child::Start([&](int, int up) {
    auto worker = Open(ProcessRole::kWorker);
    if (!worker.ok()) return 1;
    int64_t anon = StatusKb("RssAnon"), shmem = StatusKb("RssShmem");
    auto got = (*worker)->Get({id}, milliseconds(0));
    if (!got.ok() || (*got)[0] == nullptr || (*got)[0]->size() != kSize) return 2;
    // Every byte read where the writer put it (this touches all its pages).
    Report report{0, 0, Matches((*got)[0]->data(), kSize, 9) ? 1 : 0};
    report.anon_kb_growth = StatusKb("RssAnon") - anon;
    report.shmem_kb_growth = StatusKb("RssShmem") - shmem;
    return write(up, &report, sizeof(report)) == sizeof(report) ? 0 : 3;
  });
  Report report{};
  ASSERT_TRUE(child.Read(&report));
  EXPECT_EQ(child.Wait(), 0);
  EXPECT_EQ(report.ok, 1) << "the child saw other bytes than the writer wrote";
  // Private memory did not grow by the object: no copy was made...
  EXPECT_LT(report.anon_kb_growth, 16 * 1024)
      << "RssAnon grew by " << report.anon_kb_growth << " kB";
  // ...the child read the segment's own pages.
  EXPECT_GE(report.shmem_kb_growth, 250 * 1024)
      << "RssShmem grew by " << report.shmem_kb_growth << " kB";
}

TEST_F(ShmStoreTest, GetInOneProcessWakesOnSealInAnother) {
  auto raylet = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(raylet.ok());
  ObjectId id = ObjectId::FromRandom();
  Child child = Child::Start([&](int down, int) {
    auto worker = Open(ProcessRole::kWorker);
    if (!worker.ok()) return 1;
    AwaitGo(down);  // the parent is (about to be) waiting
    std::this_thread::sleep_for(milliseconds(50));
    auto created = (*worker)->Create(id, 4096, true);
    if (!created.ok()) return 2;
    Fill((*created)->data(), 4096, 4);
    return (*worker)->Seal(id).ok() ? 0 : 3;
  });
  child.Go();
  auto got = (*raylet)->Get({id}, milliseconds(20000));
  ASSERT_TRUE(got.ok());
  ASSERT_NE((*got)[0], nullptr) << "the seal in the child did not wake the Get";
  EXPECT_TRUE(Matches((*got)[0]->data(), 4096, 4));
  EXPECT_EQ(child.Wait(), 0);
}

TEST_F(ShmStoreTest, AWriterThatDiesBeforeSealLeavesNothingBehind) {
  auto raylet = Open(ProcessRole::kRaylet, "16MiB");
  ASSERT_TRUE(raylet.ok());
  ObjectId id = ObjectId::FromRandom();
  Child child = Child::Start([&](int, int up) {
    auto worker = Open(ProcessRole::kWorker);
    if (!worker.ok()) return 1;
    auto created = (*worker)->Create(id, 12 * kMiB, true);
    if (!created.ok()) return 2;
    Fill((*created)->data(), 12 * kMiB, 1);
    Signal(up);
    raise(SIGKILL);
    return 3;
  });
  ASSERT_TRUE(child.WaitReady());
  EXPECT_EQ(child.Wait(), 128 + SIGKILL);
  EXPECT_FALSE((*raylet)->Contains(id)) << "a half-written object became visible";
  auto got = (*raylet)->Get({id}, milliseconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0], nullptr);
  // Its 12 MiB come back (the allocation failure sweeps dead processes, if the
  // periodic sweep has not run yet), and its id is free again.
  ObjectId other = ObjectId::FromRandom();
  Put(**raylet, other, 12 * kMiB, true, 2);
  Put(**raylet, id, 1000, true, 3);
  EXPECT_TRUE((*raylet)->Contains(id));
}

TEST_F(ShmStoreTest, ThePeriodicSweepReclaimsADeadWritersSpace) {
  auto raylet = Open(ProcessRole::kRaylet, "16MiB");
  ASSERT_TRUE(raylet.ok());
  Child child = Child::Start([&](int, int) {
    auto worker = Open(ProcessRole::kWorker);
    if (!worker.ok()) return 1;
    auto created = (*worker)->Create(ObjectId::FromRandom(), 4 * kMiB, false);
    _exit(created.ok() ? 0 : 2);  // no Seal, no Abort, no destructors
  });
  ASSERT_EQ(child.Wait(), 0);
  // No allocation pressure here: only the raylet's timer can free it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*raylet)->Stats().used_bytes != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ((*raylet)->Stats().used_bytes, 0u);
  EXPECT_EQ((*raylet)->Stats().num_objects, 0u);
}

TEST_F(ShmStoreTest, AReaderThatDiesReleasesItsPins) {
  auto raylet = Open(ProcessRole::kRaylet, "16MiB");
  ASSERT_TRUE(raylet.ok());
  ObjectId id = ObjectId::FromRandom();
  Put(**raylet, id, 12 * kMiB, /*primary=*/false, 5);
  Child child = Child::Start([&](int down, int up) {
    auto worker = Open(ProcessRole::kWorker);
    if (!worker.ok()) return 1;
    auto got = (*worker)->Get({id}, milliseconds(0));
    if (!got.ok() || (*got)[0] == nullptr) return 2;
    Signal(up);
    AwaitGo(down);
    raise(SIGKILL);
    return 3;
  });
  ASSERT_TRUE(child.WaitReady());
  // While the child pins it, the copy can be neither evicted nor freed.
  auto refused = (*raylet)->Create(ObjectId::FromRandom(), 12 * kMiB, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  ASSERT_TRUE((*raylet)->Delete({id}).ok());
  EXPECT_GE((*raylet)->Stats().used_bytes, 12 * kMiB) << "freed under a live reader";
  child.Go();
  EXPECT_EQ(child.Wait(), 128 + SIGKILL);
  Put(**raylet, ObjectId::FromRandom(), 12 * kMiB, false, 6);
}

TEST_F(ShmStoreTest, AProcessThatDiesHoldingTheLockDoesNotHangTheNode) {
  auto raylet = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(raylet.ok());
  ObjectId kept = ObjectId::FromRandom();
  Put(**raylet, kept, 3 * kMiB, true, 7);
  Child child = Child::Start([&](int, int) {
    int fd = shm_open(shm::SegmentName("", node_).c_str(), O_RDWR, 0);
    if (fd < 0) return 1;
    void* p = mmap(nullptr, sizeof(shm::Header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return 2;
    auto* header = static_cast<shm::Header*>(p);
    if (pthread_mutex_lock(&header->mu) != 0) return 3;
    // Die mid-update: the counters are garbage now.
    header->used = 12345;
    header->num_indexed = 999;
    return 0;  // exits holding the lock
  });
  ASSERT_EQ(child.Wait(), 0);
  // The next locker recovers: counters rebuilt from the table, work goes on.
  ObjectStoreStats stats = (*raylet)->Stats();
  EXPECT_EQ(stats.num_objects, 1u);
  EXPECT_GE(stats.used_bytes, 3 * kMiB);
  EXPECT_LT(stats.used_bytes, 4 * kMiB);
  ObjectId next = ObjectId::FromRandom();
  Put(**raylet, next, 1000, false, 8);
  auto got = (*raylet)->Get({kept, next}, milliseconds(0));
  ASSERT_TRUE(got.ok());
  ASSERT_NE((*got)[0], nullptr);
  EXPECT_TRUE(Matches((*got)[0]->data(), 3 * kMiB, 7));
  ASSERT_NE((*got)[1], nullptr);
}

TEST_F(ShmStoreTest, AForkedChildMustOpenItsOwnStore) {
  auto raylet = Open(ProcessRole::kRaylet);
  ASSERT_TRUE(raylet.ok());
  Child child = Child::Start([&](int, int) {
    auto created = (*raylet)->Create(ObjectId::FromRandom(), 10, false);
    if (created.ok()) return 1;
    return created.status().message().find("forked child") != std::string::npos ? 0 : 2;
  });
  EXPECT_EQ(child.Wait(), 0);
}

TEST_F(ShmStoreTest, BadMaxObjectsIsRefused) {
  PluginLoader loader;
  PluginContext context;
  auto created = loader.Create(PluginKind::kStore, "shm", {{"max_objects", {int64_t{0}, 0}}},
                               "<test>", context);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("[store.shm] max_objects"), std::string::npos)
      << created.status().message();
}

TEST_F(ShmStoreTest, TheObjectTableFullIsOutOfMemory) {
  PluginLoader loader;
  PluginContext context;
  auto created =
      loader.Create(PluginKind::kStore, "shm",
                    {{"max_objects", {int64_t{4}, 0}}, {"capacity", {std::string("1MiB"), 0}}},
                    "<test>", context);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto* store = static_cast<ObjectStore*>(created->get());
  for (int i = 0; i < 4; ++i) Put(*store, ObjectId::FromRandom(), 10, true, 1);
  auto refused = store->Create(ObjectId::FromRandom(), 10, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(refused.status().message().find("[store.shm] max_objects"), std::string::npos);
}

// Issue 15: with /dev/shm filled by someone else after the store started, a
// put used to kill its writer with SIGBUS (the segment is sparse). Now Create
// fails with a clear error. The child gets a mount namespace of its own with
// an 80 MiB /dev/shm, so nothing outside it fills up.
TEST_F(ShmStoreTest, APutIntoAFullDevShmFailsCleanlyInsteadOfSigbus) {
  Child child = Child::Start([&](int, int) {
    if (unshare(CLONE_NEWNS) != 0) return 77;
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
    if (mount("rayk-test-shm", "/dev/shm", "tmpfs", 0, "size=80m") != 0) return 77;
    auto store = Open(ProcessRole::kRaylet, "40MiB");
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 10;
    }
    // Another program takes 50 MiB of the 80 (the segment's table takes some).
    {
      std::ofstream hog("/dev/shm/someone-elses-file", std::ios::binary);
      std::string block(kMiB, 'x');
      for (int i = 0; i < 50; ++i) hog.write(block.data(), block.size());
      if (!hog) return 11;
    }
    auto created = (*store)->Create(ObjectId::FromRandom(), 32 * kMiB, true);
    if (created.ok()) {
      std::memset((*created)->data(), 1, 32 * kMiB);  // SIGBUS here before the fix
      return 12;
    }
    if (created.status().message().find("/dev/shm has no room left") == std::string::npos)
      return 13;
    // The store still works for what fits.
    auto small = (*store)->Create(ObjectId::FromRandom(), kMiB, true);
    if (!small.ok()) return 14;
    std::memset((*small)->data(), 2, kMiB);
    return 0;
  });
  int code = child.Wait();
  if (code == 77) GTEST_SKIP() << "cannot make a private /dev/shm here (needs root)";
  EXPECT_EQ(code, 0) << "child exit " << code << " (128 + 7 is SIGBUS)";
}

}  // namespace
}  // namespace rayk
