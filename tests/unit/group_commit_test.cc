// GroupCommit over the real sqlite store: writes queued while a commit runs
// go out together in the next one, a write to a key already queued takes
// that write's place (the store gets the last value once), and every
// caller's `done` runs only once its value is in the store. The store is
// wrapped by a gate that holds the first commit, so that the test knows
// which writes queue behind it instead of racing the commit thread.
#include "gcs/group_commit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gcs_store_test_util.h"
#include "test_util.h"

namespace rayk {
namespace {

constexpr char kTable[] = "placement_groups";

// The sqlite store, whose first Write waits until Open(); it records how
// many operations each Write carried.
class GatedStore : public GcsStore {
 public:
  explicit GatedStore(std::shared_ptr<GcsStore> store) : store_(std::move(store)) {}

  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return held_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  std::vector<size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }

  Status Put(std::string_view table, std::string_view key, std::string_view value) override {
    return store_->Put(table, key, value);
  }
  Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) override {
    return store_->Get(table, key);
  }
  Result<std::vector<std::pair<std::string, std::string>>> GetAll(std::string_view table) override {
    return store_->GetAll(table);
  }
  Status Delete(std::string_view table, std::string_view key) override {
    return store_->Delete(table, key);
  }
  Status Write(const GcsWriteBatch& batch) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      held_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      batch_sizes_.push_back(batch.ops.size());
    }
    return store_->Write(batch);
  }

 private:
  std::shared_ptr<GcsStore> store_;
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false;
  bool open_ = false;
  std::vector<size_t> batch_sizes_;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store =
        testing::OpenGcsStore("sqlite", testing::Settings({{"path", dir_.path() + "/gcs.sqlite"}}));
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::make_shared<GatedStore>(*store);
    commits_ = std::make_unique<GroupCommit>(store_);
  }

  // Queues a put (or, without a value, a delete) of `key`; the future
  // holds what the store had for `key` when `done` ran.
  std::future<std::optional<std::string>> Queue(const std::string& key,
                                                std::optional<std::string> value) {
    GcsWriteBatch batch;
    if (value) {
      batch.Put(kTable, key, *value);
    } else {
      batch.Delete(kTable, key);
    }
    auto seen = std::make_shared<std::promise<std::optional<std::string>>>();
    auto future = seen->get_future();
    commits_->Write(std::move(batch), [this, key, seen](const Status& status) {
      EXPECT_TRUE(status.ok()) << status.message();
      auto stored = store_->Get(kTable, key);
      seen->set_value(stored.ok() ? *stored : std::nullopt);
    });
    return future;
  }

  std::optional<std::string> Stored(const std::string& key) {
    auto stored = store_->Get(kTable, key);
    EXPECT_TRUE(stored.ok()) << stored.status().message();
    return stored.ok() ? *stored : std::nullopt;
  }

  testing::TempDir dir_;
  std::shared_ptr<GatedStore> store_;
  std::unique_ptr<GroupCommit> commits_;
};

TEST_F(GroupCommitTest, WritesToAQueuedKeyLandOnceWithTheLastValueBeforeAnyDone) {
  auto first = Queue("first", "1");
  store_->WaitUntilHeld();  // the commit thread holds "first"; the rest queue behind it
  auto created = Queue("group", "created");
  auto placed = Queue("group", "placed");
  auto other = Queue("other", "x");
  auto other_removed = Queue("other", std::nullopt);
  store_->Open();

  EXPECT_EQ(first.get(), "1");
  // Both callers of "group" hear back once the last value is in the store.
  EXPECT_EQ(created.get(), "placed");
  EXPECT_EQ(placed.get(), "placed");
  EXPECT_EQ(other.get(), std::nullopt);
  EXPECT_EQ(other_removed.get(), std::nullopt);
  EXPECT_EQ(Stored("group"), "placed");
  EXPECT_EQ(Stored("other"), std::nullopt);

  // One commit for the held write, one for the four queued behind it,
  // which carried one operation per key.
  EXPECT_EQ(store_->batch_sizes(), (std::vector<size_t>{1, 2}));
  GroupCommit::Stats stats = commits_->stats();
  EXPECT_EQ(stats.commits, 2u);
  EXPECT_EQ(stats.writes, 5u);
  EXPECT_EQ(stats.coalesced, 2u);
}

TEST_F(GroupCommitTest, AWriteToAKeyBeingCommittedGoesInTheNextCommit) {
  auto created = Queue("group", "created");
  store_->WaitUntilHeld();  // "created" is being committed: no longer queued
  auto placed = Queue("group", "placed");
  store_->Open();

  // The held commit carried "created" alone, and its done ran before the
  // next commit took "placed".
  EXPECT_EQ(created.get(), "created");
  EXPECT_EQ(placed.get(), "placed");
  EXPECT_EQ(store_->batch_sizes(), (std::vector<size_t>{1, 1}));
  EXPECT_EQ(commits_->stats().coalesced, 0u);
}

TEST_F(GroupCommitTest, FlushReturnsOnceEveryWriteQueuedBeforeItIsDone) {
  auto first = Queue("first", "1");
  store_->WaitUntilHeld();
  auto second = Queue("second", "2");
  std::future<void> flushed = std::async(std::launch::async, [this] { commits_->Flush(); });
  // The commit is held: Flush must still be waiting.
  EXPECT_EQ(flushed.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  store_->Open();
  flushed.get();
  // Both writes, and their done callbacks, came before Flush returned.
  EXPECT_EQ(first.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(second.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(Stored("second"), "2");
}

}  // namespace
}  // namespace rayk
