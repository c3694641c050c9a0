// Borrowers (Ray's ownership protocol) end to end on an embedded two-CPU
// cluster: refs passed inside values (Put values, task and actor arguments)
// are freed once every holder lets go, so loops that pass them run at a
// constant object count and store size; an actor keeping a borrowed ref keeps
// the object alive; nested borrowing (driver -> actor A -> actor B) frees when
// the last holder lets go; a SIGKILLed borrower does not pin the object; refs
// inside task results and streaming generators' items are held by the
// caller's result or item ("contained in"), so loops returning them run at a
// constant store size too; refs inside an actor's creation arguments are held
// until the actor dies for good; the refs of one value register together,
// before the call that decoded them replies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_fixture.h"
#include "core_worker/core_worker.h"
#include "functions/borrow_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using borrow_functions::AsyncBagMaker;
using borrow_functions::BagsOfNewBlobs;
using borrow_functions::Blob;
using borrow_functions::BlobRef;
using borrow_functions::EchoBag;
using borrow_functions::Keeper;
using borrow_functions::MakeBag;
using borrow_functions::PassBack;
using borrow_functions::RefBag;
using borrow_functions::TotalLength;

// Large enough to live in the object store (over the inline limit).
constexpr size_t kBlobBytes = 150 * 1024;

class BorrowersTest : public testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    core_ = dynamic_cast<CoreWorker*>(internal::CurrentRuntime());
    ASSERT_NE(core_, nullptr);
  }

  struct StoreUse {
    uint64_t objects = 0;
    uint64_t bytes = 0;
    bool operator==(const StoreUse&) const = default;
  };
  // `rayk memory` (`format` "json" or "text")'s output.
  std::string Memory(const std::string& format) {
    std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
    auto run =
        testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " + RAYK_CLI_PATH +
                            " memory --format " + format + " --address " + address);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return run.exit_code == 0 ? run.output : "";
  }
  // The node's store, from `rayk memory --format json`.
  StoreUse Store() {
    std::string json = Memory("json");
    if (json.empty()) return {};
    auto node = nlohmann::json::parse(json)["nodes"][0];
    return {node["num_objects"].get<uint64_t>(), node["used_bytes"].get<uint64_t>()};
  }

  // Waits (bounded by kPatience) until `done` holds.
  template <class Condition>
  static bool Eventually(Condition done) {
    auto deadline = std::chrono::steady_clock::now() + testing::kPatience;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  static Blob MakeBlob(char fill) { return Blob(kBlobBytes, fill); }

  // Waits until this driver's objects and the store are back to `objects`
  // and `store`.
  void ExpectBackTo(size_t objects, const StoreUse& store) {
    EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects; }))
        << core_->NumObjects() << " objects, " << objects << " before";
    EXPECT_TRUE(Eventually([&] { return Store() == store; }))
        << Store().objects << " objects in the store, " << store.objects << " before";
  }

  // Puts a blob and gives `keeper` its ref inside a bag; the driver's own
  // handle goes on return. Returns the object's id.
  static ObjectId LendToKeeper(const rayk::ActorHandle<Keeper>& keeper, char fill) {
    BlobRef blob = rayk::Put(MakeBlob(fill));
    auto taken = keeper.Task(&Keeper::Take).Remote(RefBag{{blob}, "lent"}, 1);
    EXPECT_EQ(*rayk::Get(taken, testing::kPatience), 1);
    return blob.ID();
  }

  CoreWorker* core_ = nullptr;
};

TEST_F(BorrowersTest, PutValuesHoldingRefsLoopAtConstantObjectsAndStoreBytes) {
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  const Blob blob = MakeBlob('p');
  constexpr int kIterations = 20000;
  for (int i = 0; i < kIterations; ++i) {
    BlobRef inner = rayk::Put(blob);
    auto outer = rayk::Put(std::vector<BlobRef>{inner});
    auto decoded = *rayk::Get(outer, testing::kPatience);
    ASSERT_EQ(decoded.size(), 1u);
    ASSERT_EQ(decoded[0], inner);
    if (i % 5000 == 4999) {
      // Nothing of the earlier iterations stays: this one's two objects and
      // the decoded copy of the inner ref (one entry) are all there is.
      EXPECT_EQ(core_->NumObjects(), objects_before + 2) << "after " << i + 1 << " iterations";
    }
  }
  EXPECT_EQ(core_->NumObjects(), objects_before);
  EXPECT_TRUE(Eventually([&] { return Store() == store_before; }));
}

TEST_F(BorrowersTest, RefsInsideArgumentsOfTasksAndActorsLoopAtConstantObjects) {
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  constexpr int kIterations = 2000;
  std::vector<size_t> counts;
  for (int i = 0; i < kIterations; ++i) {
    RefBag bag{{rayk::Put(MakeBlob('a')), rayk::Put(MakeBlob('b'))}, "iteration"};
    // The actor keeps the first (letting go of the one it kept before) and
    // drops the second; a task reads both and drops both.
    ASSERT_EQ(*rayk::Get(keeper.Task(&Keeper::Take).Remote(bag, 1), testing::kPatience), 1);
    ASSERT_EQ(*rayk::Get(rayk::Task(TotalLength).Remote(bag), testing::kPatience),
              static_cast<int64_t>(2 * kBlobBytes));
    if (i % 500 == 499) counts.push_back(core_->NumObjects());
  }
  // The last iteration's first blob is kept by the actor; everything else went.
  // (Task results are freed as their refs go, so the count is constant.)
  ASSERT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before + 1; }))
      << core_->NumObjects() << " objects, " << objects_before << " before";
  for (size_t count : counts) EXPECT_LE(count, objects_before + 4);
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            static_cast<int64_t>(kBlobBytes));
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before; }));
  EXPECT_TRUE(Eventually([&] { return Store() == store_before; }));
}

TEST_F(BorrowersTest, AnActorKeepingABorrowedRefKeepsTheObjectUntilItLetsGo) {
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  const ObjectId id = LendToKeeper(keeper, 'k');
  EXPECT_EQ(core_->NumBorrowers(id), 1u);
  // The driver let go; the actor's borrow keeps it, in the store too.
  EXPECT_EQ(core_->NumObjects(), objects_before + 1);
  EXPECT_EQ(Store().objects, store_before.objects + 1);
  // `rayk memory` lists it under its owner, this driver, with one borrower.
  nlohmann::json listed;
  const nlohmann::json memory = nlohmann::json::parse(Memory("json"));
  for (const auto& owner : memory["owners"]) {
    for (const auto& object : owner["objects"]) {
      if (object["object_id"] == id.Hex()) listed = object;
    }
  }
  ASSERT_FALSE(listed.is_null()) << memory.dump(2);
  EXPECT_EQ(listed["borrowers"], 1);
  EXPECT_EQ(listed["local_refs"], 0);
  EXPECT_EQ(listed["in_store"], true);
  EXPECT_GE(listed["size"].get<uint64_t>(), kBlobBytes);
  std::string text = Memory("text");
  EXPECT_THAT(text, ::testing::HasSubstr("BORROWERS"));
  EXPECT_THAT(text, ::testing::HasSubstr(id.Hex().substr(0, 16)));
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            static_cast<int64_t>(kBlobBytes));
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before; }));
  EXPECT_TRUE(Eventually([&] { return Store() == store_before; }));
}

TEST_F(BorrowersTest, ARefInFlightIsHeldUntilTheReceiverRegisters) {
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  const size_t objects_before = core_->NumObjects();
  // The only handle is a temporary, gone before the actor decodes the bag:
  // the task's hold keeps the object until the actor has registered.
  auto taken = keeper.Task(&Keeper::Take).Remote(RefBag{{rayk::Put(MakeBlob('f'))}, "fly"}, 1);
  EXPECT_EQ(*rayk::Get(taken, testing::kPatience), 1);
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            static_cast<int64_t>(kBlobBytes));
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before + 1; }))
      << "only the result of Take should be left";
}

TEST_F(BorrowersTest, ManyRefsInOneValueAreRegisteredBeforeTheCallReturns) {
  // 2,000 refs of this driver's, one of another owner's and a repeated one,
  // in one argument: they register together (one message per owner), and
  // all before the actor's call replies, so the driver's handles can go at
  // once without freeing anything the actor keeps.
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  auto maker = rayk::Actor(Keeper::Create).Remote();
  const size_t objects_before = core_->NumObjects();
  RefBag theirs = *rayk::Get(maker.Task(&Keeper::MakeAndKeep).Remote(int64_t{100}));
  ASSERT_EQ(theirs.refs.size(), 1u);
  constexpr int kRefs = 2000;
  RefBag bag{{}, "many"};
  std::vector<ObjectId> ids;
  for (int i = 0; i < kRefs; ++i) {
    bag.refs.push_back(rayk::Put(Blob(10, 'm')));
    ids.push_back(bag.refs.back().ID());
  }
  bag.refs.push_back(theirs.refs[0]);
  bag.refs.push_back(bag.refs[0]);
  const int kept = static_cast<int>(bag.refs.size());
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Take).Remote(bag, kept), testing::kPatience), kept);
  for (const ObjectId& id : ids) ASSERT_EQ(core_->NumBorrowers(id), 1u) << id.Hex();
  bag.refs.clear();
  theirs.refs.clear();
  // The actor's borrows keep every blob; nothing else of the call stays.
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before + kRefs; }))
      << core_->NumObjects() << " objects, " << objects_before << " before";
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            int64_t{10} * (kRefs + 1) + 100);
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Release).Remote(), testing::kPatience), kept);
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before; }))
      << core_->NumObjects() << " objects, " << objects_before << " before";
  for (const ObjectId& id : ids) EXPECT_EQ(core_->NumBorrowers(id), 0u);
}

TEST_F(BorrowersTest, NestedBorrowingFreesWhenTheLastHolderLetsGo) {
  auto first = rayk::Actor(Keeper::Create).Remote();
  auto second = rayk::Actor(Keeper::Create).Remote();
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  const ObjectId id = LendToKeeper(first, 'n');
  // A passes it on to B, which registers with the owner (this driver) itself.
  ASSERT_EQ(*rayk::Get(first.Task(&Keeper::PassTo).Remote(second), testing::kPatience), 1);
  EXPECT_EQ(core_->NumBorrowers(id), 2u);
  EXPECT_EQ(*rayk::Get(first.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_TRUE(Eventually([&] { return core_->NumBorrowers(id) == 1; }));
  EXPECT_EQ(*rayk::Get(second.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            static_cast<int64_t>(kBlobBytes));
  EXPECT_EQ(Store().objects, store_before.objects + 1);
  EXPECT_EQ(*rayk::Get(second.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before; }));
  EXPECT_TRUE(Eventually([&] { return Store() == store_before; }));
}

TEST_F(BorrowersTest, AKilledBorrowerDoesNotPinTheObject) {
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  const auto pid =
      static_cast<pid_t>(*rayk::Get(keeper.Task(&Keeper::Pid).Remote(), testing::kPatience));
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  const ObjectId id = LendToKeeper(keeper, 's');
  EXPECT_EQ(core_->NumBorrowers(id), 1u);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // The raylet reports the death to the GCS, which publishes it; the owner
  // drops the dead borrower and frees the object everywhere.
  ExpectBackTo(objects_before, store_before);
}

TEST_F(BorrowersTest, RefsInsideTaskResultsLoopAtConstantStoreBytes) {
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  constexpr int kIterations = 300;
  for (int i = 0; i < kIterations; ++i) {
    // The worker owns the blob; only the result's bag refers to it.
    RefBag bag = *rayk::Get(rayk::Task(MakeBag).Remote(int64_t{kBlobBytes}), testing::kPatience);
    ASSERT_EQ(bag.refs.size(), 1u);
    ASSERT_EQ(rayk::Get(bag.refs[0], testing::kPatience)->size(), kBlobBytes);
  }
  // Before, each worker kept every blob it had returned a ref to (45 MB here).
  ExpectBackTo(objects_before, store_before);
}

TEST_F(BorrowersTest, RefsHandedBackByTasksStayReadableUntilTheResultGoes) {
  const StoreUse store_before = Store();
  const size_t objects_before = core_->NumObjects();
  // The caller's own object, handed back: the worker's borrow ends with the
  // reply, and the result's hold keeps the object after the caller's handle goes.
  ObjectId own;
  rayk::ObjectRef<RefBag> back;
  {
    BlobRef blob = rayk::Put(MakeBlob('o'));
    own = blob.ID();
    back = rayk::Task(PassBack).Remote(RefBag{{blob}, "own"});
    ASSERT_EQ(rayk::Get(back, testing::kPatience)->refs.size(), 1u);
  }
  EXPECT_TRUE(Eventually([&] { return core_->NumBorrowers(own) == 0; }));
  EXPECT_EQ(rayk::Get(rayk::Get(back, testing::kPatience)->refs[0], testing::kPatience)->size(),
            kBlobBytes);
  back = {};
  EXPECT_TRUE(Eventually([&] { return core_->NumObjects() == objects_before; }));

  // An actor's object, handed back by a task: the task registers this
  // driver with the actor before it lets go, so the object outlives both
  // the actor's hold and the first result.
  auto keeper = rayk::Actor(Keeper::Create).Remote();
  auto made = keeper.Task(&Keeper::MakeAndKeep).Remote(int64_t{kBlobBytes});
  auto passed = rayk::Task(PassBack).Remote(*rayk::Get(made, testing::kPatience));
  ASSERT_EQ(rayk::Get(passed, testing::kPatience)->refs.size(), 1u);
  made = {};
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::Release).Remote(), testing::kPatience), 1);
  EXPECT_EQ(rayk::Get(rayk::Get(passed, testing::kPatience)->refs[0], testing::kPatience)->size(),
            kBlobBytes);
  passed = {};
  EXPECT_TRUE(Eventually([&] { return Store() == store_before; }))
      << Store().objects << " objects in the store, " << store_before.objects << " before";
}

TEST_F(BorrowersTest, RefsInsideGeneratorItemsLoopAtConstantStoreBytes) {
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  constexpr int64_t kItems = 300;
  constexpr uint64_t kWindow = 4;
  std::vector<uint64_t> stored;
  {
    // The worker owns each item's blob; only the item's bag refers to it.
    // Backpressure keeps the producer at most a few items ahead (items not
    // yet taken are held by the stream, and their blobs with them).
    rayk::ObjectRefGenerator<RefBag> items = rayk::Task(BagsOfNewBlobs)
                                                 .SetGeneratorBackpressure(kWindow)
                                                 .Remote(kItems, int64_t{kBlobBytes});
    int64_t taken = 0;
    for (rayk::ObjectRef<RefBag> item : items) {
      RefBag bag = *rayk::Get(item, testing::kPatience);
      ASSERT_EQ(bag.refs.size(), 1u);
      ASSERT_EQ(rayk::Get(bag.refs[0], testing::kPatience)->size(), kBlobBytes);
      if (++taken % 100 == 0) stored.push_back(Store().objects);
    }
    ASSERT_EQ(taken, kItems);
  }
  // Before, the worker kept every blob it had yielded a ref to (45 MB here).
  for (uint64_t count : stored) EXPECT_LE(count, store_before.objects + kWindow + 4);
  ExpectBackTo(objects_before, store_before);

  // The caller's own object, yielded back in every item: held by the items,
  // freed once the handle and the items are gone.
  ObjectId own;
  {
    BlobRef blob = rayk::Put(MakeBlob('e'));
    own = blob.ID();
    rayk::ObjectRefGenerator<RefBag> echoes = rayk::Task(EchoBag).Remote(RefBag{{blob}, "e"}, 50);
    std::vector<rayk::ObjectRef<RefBag>> kept;
    for (rayk::ObjectRef<RefBag> item : echoes) kept.push_back(item);
    ASSERT_EQ(kept.size(), 50u);
    blob = {};
    EXPECT_TRUE(Eventually([&] { return core_->NumBorrowers(own) == 0; }));
    EXPECT_EQ(
        rayk::Get(rayk::Get(kept.back(), testing::kPatience)->refs[0], testing::kPatience)->size(),
        kBlobBytes);
  }
  ExpectBackTo(objects_before, store_before);
}

TEST_F(BorrowersTest, RefsInsideActorCreationArgumentsGoWhenTheActorDies) {
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  ObjectId id;
  rayk::ActorHandle<Keeper> keeper;
  {
    BlobRef blob = rayk::Put(MakeBlob('c'));
    id = blob.ID();
    // Restartable: its restarts decode the same arguments again.
    keeper = rayk::Actor(Keeper::CreateWith).SetMaxRestarts(1).Remote(RefBag{{blob}, "created"});
  }
  EXPECT_EQ(*rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience),
            static_cast<int64_t>(kBlobBytes));
  EXPECT_EQ(core_->NumObjects(), objects_before + 1);
  // A restart (its process killed) reads the arguments again.
  const auto pid =
      static_cast<pid_t>(*rayk::Get(keeper.Task(&Keeper::Pid).Remote(), testing::kPatience));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(Eventually([&] {
    try {
      return *rayk::Get(keeper.Task(&Keeper::KeptLength).Remote(), testing::kPatience) ==
             static_cast<int64_t>(kBlobBytes);
    } catch (const rayk::ActorDiedError&) {
      return false;  // a call that met the dying process
    }
  }));
  EXPECT_EQ(core_->NumObjects(), objects_before + 1);
  // Killed for good: the creator's holds go, then the dead process's borrow.
  keeper.Kill();
  ExpectBackTo(objects_before, store_before);
}

TEST_F(BorrowersTest, AnAsyncActorsInterleavedCallsHandOverTheirRefs) {
  // Each call's result (and each item) is encoded and handed over in one step
  // of the actor's loop, whatever other calls run between their steps.
  auto maker = rayk::Actor(AsyncBagMaker::Create).SetMaxConcurrency(8).Remote();
  const size_t objects_before = core_->NumObjects();
  const StoreUse store_before = Store();
  for (int round = 0; round < 5; ++round) {
    std::vector<rayk::ObjectRef<RefBag>> bags;
    for (int i = 0; i < 16; ++i) {
      bags.push_back(maker.Task(&AsyncBagMaker::MakeBagLater).Remote(int64_t{kBlobBytes}));
    }
    for (const auto& made : bags) {
      RefBag bag = *rayk::Get(made, testing::kPatience);
      ASSERT_EQ(bag.refs.size(), 1u);
      ASSERT_EQ(rayk::Get(bag.refs[0], testing::kPatience)->size(), kBlobBytes);
    }
  }
  int64_t items = 0;
  for (rayk::ObjectRef<RefBag> item : maker.Task(&AsyncBagMaker::Bags)
                                          .SetGeneratorBackpressure(4)
                                          .Remote(int64_t{100}, int64_t{kBlobBytes})) {
    RefBag bag = *rayk::Get(item, testing::kPatience);
    ASSERT_EQ(rayk::Get(bag.refs.at(0), testing::kPatience)->size(), kBlobBytes);
    ++items;
  }
  EXPECT_EQ(items, 100);
  ExpectBackTo(objects_before, store_before);
}

}  // namespace
}  // namespace rayk
