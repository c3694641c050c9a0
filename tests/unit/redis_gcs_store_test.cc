// The redis GcsStore beyond the shared contract (gcs_conformance_test.cc),
// against real redis-servers: the one-line error for each way a Redis can be
// unusable (unreachable, wrong password, full, no append-only file, a key
// prefix held by a live cluster), and riding out a Redis that goes down and
// comes back from its append-only file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "gcs_store_test_util.h"
#include "rayk/plugin/gcs_store.h"
#include "redis_server.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using Entries = std::vector<std::pair<std::string, std::string>>;

using testing::Settings;

Result<std::shared_ptr<GcsStore>> OpenStore(const RawSettingTable& table,
                                            const std::string& session_dir = "") {
  return testing::OpenGcsStore("redis", table, session_dir);
}

std::string OpenError(const RawSettingTable& table, const std::string& session_dir = "") {
  return testing::GcsOpenError("redis", table, session_dir);
}

std::shared_ptr<GcsStore> MustOpen(const RawSettingTable& table,
                                   const std::string& session_dir = "") {
  auto store = OpenStore(table, session_dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

TEST(RedisGcsStore, AddressIsRequiredAndChecked) {
  EXPECT_THAT(OpenError({}), HasSubstr("address"));
  EXPECT_THAT(OpenError(Settings({{"address", std::string("localhost")}})),
              HasSubstr("gcs.redis: address 'localhost' is not host:port"));
  EXPECT_THAT(OpenError(Settings({{"address", std::string("localhost:99999")}})),
              HasSubstr("is not host:port"));
}

TEST(RedisGcsStore, UnreachableRedisIsOneLine) {
  std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  EXPECT_THAT(OpenError(Settings({{"address", address}})),
              HasSubstr("gcs.redis: cannot reach Redis at " + address +
                        " (Connection refused); start redis-server there"));
}

TEST(RedisGcsStore, WrongOrMissingPasswordIsOneLine) {
  testing::RedisServer server({"--requirepass", "s3cret"});
  EXPECT_THAT(OpenError(Settings({{"address", server.address()}, {"password", std::string("no")}})),
              HasSubstr("Redis at " + server.address() + " refused the password"));
  EXPECT_THAT(OpenError(Settings({{"address", server.address()}})),
              HasSubstr("requires a password (NOAUTH"));
  auto store =
      MustOpen(Settings({{"address", server.address()}, {"password", std::string("s3cret")}}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("t", "k", "v").ok());
  EXPECT_EQ(*store->Get("t", "k"), std::optional<std::string>("v"));
}

TEST(RedisGcsStore, DatabaseAndPrefixKeepClustersApart) {
  testing::RedisServer server;
  auto in_db3 = MustOpen(Settings({{"address", server.address()}, {"database", int64_t{3}}}));
  auto prefixed =
      MustOpen(Settings({{"address", server.address()}, {"key_prefix", std::string("team-b/")}}));
  ASSERT_NE(in_db3, nullptr);
  ASSERT_NE(prefixed, nullptr);
  ASSERT_TRUE(in_db3->Put("jobs", "j", "3").ok());
  ASSERT_TRUE(prefixed->Put("jobs", "j", "b").ok());
  EXPECT_EQ(*in_db3->Get("jobs", "j"), std::optional<std::string>("3"));
  EXPECT_EQ(*prefixed->Get("jobs", "j"), std::optional<std::string>("b"));
  EXPECT_EQ(server.Cli("-n 3 HGET rayk:table:jobs j"), "3\n");
  EXPECT_EQ(server.Cli("HGET team-b/table:jobs j"), "b\n");
  EXPECT_THAT(OpenError(Settings({{"address", server.address()}, {"database", int64_t{99}}})),
              HasSubstr("cannot select database 99 (ERR DB index is out of range); set [gcs.redis] "
                        "database below"));
}

TEST(RedisGcsStore, RedisWithoutAppendOnlyFileIsRefusedUnlessAllowed) {
  testing::RedisServer server({"--appendonly", "no"});
  EXPECT_THAT(OpenError(Settings({{"address", server.address()}})),
              HasSubstr("keeps no append-only file, so its restart would lose the GCS tables; "
                        "start it with --appendonly yes"));
  auto store = MustOpen(Settings({{"address", server.address()}, {"require_aof", false}}));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Put("t", "k", "v").ok());
}

// A Redis at its maxmemory with noeviction refuses writes with OOM: the write
// fails with one line, applies nothing, and the store works again once there
// is room.
TEST(RedisGcsStore, FullRedisFailsTheWriteAndKeepsTheRest) {
  testing::RedisServer server({"--maxmemory", "4mb", "--maxmemory-policy", "noeviction"});
  auto store = MustOpen(Settings({{"address", server.address()}}));
  ASSERT_NE(store, nullptr);
  std::string value(64 << 10, 'v');
  Status failed;
  int written = 0;
  for (; written < 200; ++written) {
    failed = store->Put("kv", "k" + std::to_string(written), value);
    if (!failed.ok()) break;
  }
  ASSERT_FALSE(failed.ok()) << "200 x 64 KiB fit in a 4 MiB Redis";
  EXPECT_EQ(testing::CountLines(failed.message()), 1) << failed.message();
  EXPECT_THAT(failed.message(),
              HasSubstr("Redis at " + server.address() + " is full (OOM command not allowed"));
  EXPECT_THAT(failed.message(), HasSubstr("nothing of a Put was applied; raise its maxmemory"));
  // A batch that would also delete is refused whole.
  GcsWriteBatch batch;
  batch.Delete("kv", "k0");
  batch.Put("kv", "more", value);
  EXPECT_FALSE(store->Write(batch).ok());
  auto all = store->GetAll("kv");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), static_cast<size_t>(written)) << "a refused write changed the table";
  EXPECT_EQ(*store->Get("kv", "k0"), std::optional<std::string>(value));
  // Deleting makes room (Redis lets deletes through when full).
  for (int i = 0; i < written / 2; ++i)
    ASSERT_TRUE(store->Delete("kv", "k" + std::to_string(i)).ok());
  EXPECT_TRUE(store->Put("kv", "after", "x").ok());
}

// Two clusters on one prefix would overwrite each other's tables: while a GCS
// holds the prefix's lease, another GCS (another session) cannot open it; a
// GCS restarted in the same session takes it back at once; a GCS that closed
// gives it up.
TEST(RedisGcsStore, KeyPrefixHeldByALiveClusterIsRefused) {
  testing::RedisServer server;
  testing::TempDir first_session, second_session;
  auto settings = Settings({{"address", server.address()},
                            {"key_prefix", std::string("shared:")},
                            {"lease_ms", int64_t{600}}});
  auto owner = MustOpen(settings, first_session.path());
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(owner->Put("jobs", "j", "1").ok());
  // Past one lease length: the owner renews it meanwhile.
  EXPECT_THAT(OpenError(settings, second_session.path()),
              HasSubstr("gcs.redis: key prefix 'shared:' on Redis at " + server.address() +
                        " is held by a live cluster (GCS "));
  EXPECT_THAT(OpenError(settings, second_session.path()),
              HasSubstr(first_session.path() + "); stop that cluster or choose another"));
  ASSERT_TRUE(owner->Put("jobs", "j", "2").ok()) << "the refused GCS disturbed the owner";
  auto other_prefix =
      MustOpen(Settings({{"address", server.address()}, {"key_prefix", std::string("other:")}}),
               second_session.path());
  EXPECT_NE(other_prefix, nullptr);

  auto restarted = MustOpen(settings, first_session.path());  // its supervisor's new GCS
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(*restarted->Get("jobs", "j"), std::optional<std::string>("2"));
  restarted.reset();
  owner.reset();
  auto next = MustOpen(settings, second_session.path());
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next->Get("jobs", "j"), std::optional<std::string>("2"));
}

// A GCS whose lease another took over (it was cut off for longer than the
// lease) must not write over the new owner's tables.
TEST(RedisGcsStore, GcsThatLostItsLeaseCannotWrite) {
  testing::RedisServer server;
  auto store = MustOpen(Settings({{"address", server.address()}}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("t", "k", "mine").ok());
  EXPECT_EQ(server.Cli("SET rayk:lease newhead:/tmp/s PX 60000"), "OK\n");
  Status st = store->Put("t", "k", "stale");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(testing::CountLines(st.message()), 1) << st.message();
  EXPECT_THAT(st.message(), HasSubstr("key prefix 'rayk:' on Redis at " + server.address() +
                                      " is now held by another GCS (newhead:/tmp/s); nothing of a "
                                      "Put was applied; this GCS lost its lease"));
  EXPECT_EQ(server.Cli("HGET rayk:table:t k"), "mine\n");
}

// Redis SIGKILLed and restarted from its append-only file: a call made while
// it is down waits for it (within retry_timeout_ms) and every acknowledged
// write is there afterwards.
TEST(RedisGcsStore, RidesOutARedisRestartFromItsAppendOnlyFile) {
  testing::RedisServer server;
  auto store = MustOpen(Settings({{"address", server.address()}}));
  ASSERT_NE(store, nullptr);
  GcsWriteBatch batch;
  for (int i = 0; i < 100; ++i) batch.Put("actors", "a" + std::to_string(i), std::to_string(i));
  ASSERT_TRUE(store->Write(batch).ok());
  server.Kill();
  Status put;
  std::thread during([&] { put = store->Put("kv", "during", "outage"); });  // waits for Redis
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server.Restart();
  during.join();
  EXPECT_TRUE(put.ok()) << put.ToString();
  auto all = store->GetAll("actors");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 100u);
  EXPECT_EQ(*store->Get("kv", "during"), std::optional<std::string>("outage"));
  // Once more, with the server restarted under the store's feet between calls.
  server.Restart();
  EXPECT_EQ(*store->Get("kv", "during"), std::optional<std::string>("outage"));
  EXPECT_TRUE(store->Put("kv", "after", "restart").ok());
}

// Down for longer than retry_timeout_ms: the call fails with one line saying
// so, the next fails at once, and the store works again when Redis is back.
TEST(RedisGcsStore, LongOutageFailsTheCallWithOneLineAndRecovers) {
  testing::RedisServer server;
  auto store =
      MustOpen(Settings({{"address", server.address()}, {"retry_timeout_ms", int64_t{300}}}));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("kv", "before", "1").ok());
  server.Kill();
  Status st = store->Put("kv", "during", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(testing::CountLines(st.message()), 1) << st.message();
  EXPECT_THAT(st.message(), HasSubstr("Redis at " + server.address()));
  EXPECT_THAT(st.message(), HasSubstr("gave up on a Put after 300 ms of retries"));
  auto got = store->Get("kv", "before");
  EXPECT_FALSE(got.ok());
  server.Restart();
  EXPECT_EQ(*store->Get("kv", "before"), std::optional<std::string>("1"));
  EXPECT_TRUE(store->Put("kv", "after", "3").ok());
}

}  // namespace
}  // namespace rayk
