// The GcsStore contract (gcs_store.h), run against every gcs plugin on the
// search path: basic table operations, ordering, atomic batches (also when
// one of their writes fails), arbitrary bytes, large values and concurrent use.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/conformance.h"
#include "rayk/plugin/gcs_store.h"
#include "redis_server.h"
#include "test_util.h"

namespace rayk {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;
using testing::CountLines;

// The redis plugin's settings for a server this process started; each store
// gets its own key prefix, as clusters sharing one Redis would.
RawSettingTable RedisSettings(const testing::RedisServer& server) {
  static int stores = 0;
  return RawSettingTable{
      {"address", {SettingValue(server.address()), 0}},
      {"key_prefix", {SettingValue("conformance" + std::to_string(++stores) + ":"), 0}}};
}

// Plugin-specific settings a test run needs go here, by plugin name; the
// session folder in the context gives a durable plugin somewhere to write.
// The redis plugin gets a real redis-server, started on first use and
// stopped when the test program exits.
RawSettingTable GcsSettings(const std::string& plugin) {
  if (plugin == "redis") {
    static testing::RedisServer server;
    return RedisSettings(server);
  }
  return {};
}

// Settings that bound how much the plugin holds, for plugins that have such a
// bound: a write past it is how the failed-batch case makes a write fail.
std::optional<RawSettingTable> BoundedGcsSettings(const std::string& plugin) {
  if (plugin == "sqlite")
    return RawSettingTable{{"max_size", {SettingValue(std::string("256KiB")), 0}}};
  if (plugin == "redis") {
    static testing::RedisServer full({"--maxmemory", "3mb", "--maxmemory-policy", "noeviction"});
    return RedisSettings(full);
  }
  return std::nullopt;
}

class GcsConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "rayk_gcs_test_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    session_dir_ = pattern;
    PluginContext context;
    context.role = ProcessRole::kGcs;
    context.session_dir = session_dir_;
    store_ = testing::CreatePlugin<GcsStore>(GetParam(), GcsSettings(GetParam()), context);
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(session_dir_, ignored);
  }

  std::optional<std::string> Get(std::string_view table, std::string_view key) {
    auto got = store_->Get(table, key);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::nullopt;
  }

  Entries GetAll(std::string_view table) {
    auto got = store_->GetAll(table);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Entries();
  }

  std::string session_dir_;
  std::shared_ptr<GcsStore> store_;
};

TEST_P(GcsConformance, PutGetOverwriteDelete) {
  ASSERT_TRUE(store_->Put("nodes", "n1", "alive").ok());
  EXPECT_EQ(Get("nodes", "n1"), "alive");
  ASSERT_TRUE(store_->Put("nodes", "n1", "dead").ok());
  EXPECT_EQ(Get("nodes", "n1"), "dead");
  ASSERT_TRUE(store_->Delete("nodes", "n1").ok());
  EXPECT_EQ(Get("nodes", "n1"), std::nullopt);
  EXPECT_TRUE(GetAll("nodes").empty());
}

TEST_P(GcsConformance, AbsentKeysAndTables) {
  EXPECT_EQ(Get("never_written", "k"), std::nullopt);
  EXPECT_TRUE(GetAll("never_written").empty());
  ASSERT_TRUE(store_->Put("t", "k", "v").ok());
  EXPECT_EQ(Get("t", "other"), std::nullopt);
  EXPECT_TRUE(store_->Delete("t", "other").ok()) << "deleting an absent key is OK";
  EXPECT_TRUE(store_->Delete("never_written", "k").ok());
  EXPECT_EQ(Get("t", "k"), "v");
}

TEST_P(GcsConformance, EmptyValueIsPresent) {
  ASSERT_TRUE(store_->Put("t", "k", "").ok());
  auto value = Get("t", "k");
  ASSERT_TRUE(value.has_value()) << "an empty value is not an absent key";
  EXPECT_EQ(*value, "");
}

TEST_P(GcsConformance, TablesAreSeparate) {
  ASSERT_TRUE(store_->Put("actors", "id", "a").ok());
  ASSERT_TRUE(store_->Put("jobs", "id", "j").ok());
  EXPECT_EQ(Get("actors", "id"), "a");
  EXPECT_EQ(Get("jobs", "id"), "j");
  ASSERT_TRUE(store_->Delete("actors", "id").ok());
  EXPECT_EQ(Get("jobs", "id"), "j");
  EXPECT_EQ(GetAll("jobs").size(), 1u);
}

TEST_P(GcsConformance, GetAllIsOrderedByKeyBytes) {
  // Keys written out of order, including bytes above 0x7f, which must sort
  // after ASCII (byte order, as memcmp compares).
  std::vector<std::string> keys = {
      "m", "a", "zz", "b", std::string("\xff\x01", 2), "ab", std::string("\x80", 1), "", "A", "a0"};
  for (const std::string& key : keys) ASSERT_TRUE(store_->Put("t", key, "v" + key).ok());
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  Entries all = GetAll("t");
  ASSERT_EQ(all.size(), keys.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].first, expected[i]) << "position " << i;
    EXPECT_EQ(all[i].second, "v" + expected[i]);
  }
}

TEST_P(GcsConformance, BinaryKeysAndValuesWithNulBytes) {
  std::string key1("a\0b", 3), key2("a", 1), key3("a\0", 2);
  std::string value;
  for (int i = 0; i < 256; ++i) value += static_cast<char>(i);
  ASSERT_TRUE(store_->Put("bin", key1, value).ok());
  ASSERT_TRUE(store_->Put("bin", key2, std::string("\0", 1)).ok());
  ASSERT_TRUE(store_->Put("bin", key3, "x").ok());
  EXPECT_EQ(Get("bin", key1), value);
  EXPECT_EQ(Get("bin", key2), std::string("\0", 1));
  EXPECT_EQ(Get("bin", key3), "x");
  Entries all = GetAll("bin");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].first, key2);
  EXPECT_EQ(all[1].first, key3);
  EXPECT_EQ(all[2].first, key1);
  EXPECT_EQ(all[2].second, value);
  ASSERT_TRUE(store_->Delete("bin", key3).ok());
  EXPECT_EQ(Get("bin", key2), std::string("\0", 1)) << "deleting \"a\\0\" touched \"a\"";
  EXPECT_EQ(Get("bin", key1), value);
}

TEST_P(GcsConformance, LargeValue) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) >> 3);
  ASSERT_TRUE(store_->Put("kv", "big", big).ok());
  auto value = Get("kv", "big");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(*value == big) << "1 MiB value came back different";
}

TEST_P(GcsConformance, BatchAppliesEveryOpInOrder) {
  ASSERT_TRUE(store_->Put("t", "old", "1").ok());
  GcsWriteBatch batch;
  batch.Put("t", "a", "1");
  batch.Put("u", "b", "2");
  batch.Delete("t", "old");
  batch.Put("t", "twice", "first");
  batch.Put("t", "twice", "second");  // later ops win
  batch.Put("t", "gone", "x");
  batch.Delete("t", "gone");
  batch.Delete("t", "back");
  batch.Put("t", "back", "y");
  ASSERT_TRUE(store_->Write(batch).ok());
  EXPECT_EQ(GetAll("t"), (Entries{{"a", "1"}, {"back", "y"}, {"twice", "second"}}));
  EXPECT_EQ(GetAll("u"), (Entries{{"b", "2"}}));
  ASSERT_TRUE(store_->Write(GcsWriteBatch()).ok()) << "an empty batch";
}

TEST_P(GcsConformance, FailedBatchAppliesNothing) {
  auto settings = BoundedGcsSettings(GetParam());
  if (!settings) GTEST_SKIP() << GetParam() << " has no size bound to make a write fail";
  PluginContext context;
  context.role = ProcessRole::kGcs;
  context.session_dir = session_dir_ + "/bounded";
  std::filesystem::create_directory(context.session_dir);
  auto store = testing::CreatePlugin<GcsStore>(GetParam(), *settings, context);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("t", "kept", "1").ok());
  ASSERT_TRUE(store->Put("t", "deleted_by_batch", "2").ok());

  GcsWriteBatch batch;
  batch.Put("t", "new", "3");
  batch.Put("other", "new", "4");
  batch.Put("t", "kept", "overwritten");
  batch.Delete("t", "deleted_by_batch");
  batch.Put("t", "too_big", std::string(4 << 20, 'x'));  // past the bound: the batch must fail
  Status st = store->Write(batch);
  ASSERT_FALSE(st.ok()) << "a batch past the plugin's bound was accepted";
  EXPECT_EQ(CountLines(st.message()), 1) << st.message();

  auto all = store->GetAll("t");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, (Entries{{"deleted_by_batch", "2"}, {"kept", "1"}}))
      << "part of a failed batch was applied";
  auto other = store->GetAll("other");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
  // The failure left the store usable.
  ASSERT_TRUE(store->Put("t", "after", "5").ok());
  auto after = store->Get("t", "after");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, "5");
}

TEST_P(GcsConformance, BatchIsVisibleAllAtOnce) {
  constexpr int kBatches = 200;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done) {
      auto all = store_->GetAll("pair");
      if (!all.ok()) {
        ++torn;
        continue;
      }
      if (all->empty()) continue;
      // Both keys always carry the same generation.
      if (all->size() != 2 || (*all)[0].second != (*all)[1].second) ++torn;
    }
  });
  for (int i = 0; i < kBatches; ++i) {
    GcsWriteBatch batch;
    batch.Put("pair", "left", std::to_string(i));
    batch.Put("pair", "right", std::to_string(i));
    ASSERT_TRUE(store_->Write(batch).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0) << "a reader saw half of a batch";
  EXPECT_EQ(GetAll("pair"), (Entries{{"left", std::to_string(kBatches - 1)},
                                     {"right", std::to_string(kBatches - 1)}}));
}

TEST_P(GcsConformance, ConcurrentWritersAndReaders) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        std::string key = "t" + std::to_string(t) + "_" + std::to_string(1000 + i);
        if (!store_->Put("shared", key, key + "=v").ok()) ++failures;
        auto got = store_->Get("shared", key);
        if (!got.ok() || *got != key + "=v") ++failures;
        if (i % 10 == 0 && !store_->GetAll("shared").ok()) ++failures;
        if (i % 2 == 1) {
          GcsWriteBatch batch;
          batch.Put("private" + std::to_string(t), key, "p");
          batch.Delete("shared", key);
          if (!store_->Write(batch).ok()) ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(GetAll("shared").size(), static_cast<size_t>(kThreads * kKeys / 2));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(GetAll("private" + std::to_string(t)).size(), static_cast<size_t>(kKeys / 2));
  }
}

INSTANTIATE_TEST_SUITE_P(AllGcsStores, GcsConformance,
                         ::testing::ValuesIn(testing::PluginsOfKind(PluginKind::kGcs)),
                         testing::ParamName);

}  // namespace
}  // namespace rayk
