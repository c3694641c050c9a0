// The sqlite GcsStore beyond the shared contract (gcs_conformance_test.cc):
// what survives closing and a SIGKILL, where the file goes, its schema
// version, and the one-line error for each way the file can be unusable
// (locked, corrupt, read-only, full).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "gcs_store_test_util.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/gcs_store.h"
#include "test_util.h"

namespace rayk {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Entries = std::vector<std::pair<std::string, std::string>>;

using testing::Settings;

RawSettingTable PathSetting(const std::string& path) { return Settings({{"path", path}}); }

Result<std::shared_ptr<GcsStore>> OpenStore(const RawSettingTable& table,
                                            const std::string& session_dir = "") {
  return testing::OpenGcsStore("sqlite", table, session_dir);
}

std::string OpenError(const RawSettingTable& table, const std::string& session_dir = "") {
  return testing::GcsOpenError("sqlite", table, session_dir);
}

// Runs SQL on the file directly, as another program would.
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
}

int UserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(statement), SQLITE_ROW);
  int version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return version;
}

Entries GetAll(GcsStore& store, std::string_view table) {
  auto all = store.GetAll(table);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  return all.ok() ? *all : Entries();
}

std::optional<std::string> Get(GcsStore& store, std::string_view table, std::string_view key) {
  auto got = store.Get(table, key);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::nullopt;
}

// Reads everything from `fd` until the writer closes it.
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buffer, n);
  }
  return out;
}

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += n;
  }
}

// Runs `body` in a forked child and returns what it printed. With
// `unprivileged`, the child first becomes nobody: root writes through any
// permission bits, so a read-only file only stays read-only for a user.
// Returns nullopt when the child cannot drop root.
constexpr int kCannotDropRoot = 77;
std::optional<std::string> RunInChild(const std::function<std::string()>& body, bool unprivileged) {
  int out[2];
  if (pipe(out) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    if (unprivileged && geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
      _exit(kCannotDropRoot);
    WriteAll(out[1], body());
    _exit(0);
  }
  close(out[1]);
  std::string result = ReadAll(out[0]);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status)) << "the child crashed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotDropRoot) return std::nullopt;
  return result;
}

class SqliteGcsStoreTest : public ::testing::Test {
 protected:
  std::string File(const std::string& name = "gcs.sqlite") const {
    return dir_.path() + "/" + name;
  }
  testing::TempDir dir_;
};

TEST_F(SqliteGcsStoreTest, ReopenedStoreHasEverything) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + (i >> 9));
  const std::string binary_key("k\0\xff", 3);
  {
    auto store = OpenStore(PathSetting(File()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          (*store)->Put("nodes", "n" + std::to_string(100 + i), "alive" + std::to_string(i)).ok());
    }
    ASSERT_TRUE((*store)->Delete("nodes", "n100").ok());
    ASSERT_TRUE((*store)->Put("kv", binary_key, big).ok());
    ASSERT_TRUE((*store)->Put("kv", "empty", "").ok());
    GcsWriteBatch batch;
    batch.Put("actors", "a1", "ALIVE");
    batch.Delete("nodes", "n101");
    batch.Put("jobs", "j1", "RUNNING");
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
  auto store = OpenStore(PathSetting(File()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Entries nodes = GetAll(**store, "nodes");
  ASSERT_EQ(nodes.size(), 48u);
  EXPECT_EQ(nodes.front(), (std::pair<std::string, std::string>("n102", "alive2")));
  EXPECT_EQ(nodes.back(), (std::pair<std::string, std::string>("n149", "alive49")));
  EXPECT_TRUE(Get(**store, "kv", binary_key) == big);
  EXPECT_EQ(Get(**store, "kv", "empty"), "");
  EXPECT_EQ(GetAll(**store, "actors"), (Entries{{"a1", "ALIVE"}}));
  EXPECT_EQ(GetAll(**store, "jobs"), (Entries{{"j1", "RUNNING"}}));
}

TEST_F(SqliteGcsStoreTest, SynchronousNormalAlsoKeepsWrites) {
  auto settings = Settings({{"path", File()}, {"synchronous", std::string("normal")}});
  {
    auto store = OpenStore(settings);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Put("t", "k", "v").ok());
  }
  auto store = OpenStore(settings);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(Get(**store, "t", "k"), "v");
}

// The child writes key i, and only once Put returned OK tells the parent i;
// whatever the parent was told must be in the file after a SIGKILL.
TEST_F(SqliteGcsStoreTest, SigkilledWriterLosesNoAcknowledgedWrite) {
  constexpr uint32_t kAckedBeforeKill = 300;
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(acks[0]);
    auto store = OpenStore(PathSetting(File()));
    if (!store.ok()) _exit(2);
    for (uint32_t i = 0; i < 1000000; ++i) {
      std::string key = "key" + std::to_string(i);
      Status st;
      if (i % 10 == 0) {  // every tenth write a batch, which must land whole or not at all
        GcsWriteBatch batch;
        batch.Put("t", key, "value" + std::to_string(i));
        batch.Put("pairs", key, "twin" + std::to_string(i));
        st = (*store)->Write(batch);
      } else {
        st = (*store)->Put("t", key, "value" + std::to_string(i));
      }
      if (!st.ok()) _exit(3);
      if (write(acks[1], &i, sizeof i) != sizeof i) _exit(4);
    }
    _exit(0);
  }
  close(acks[1]);
  uint32_t acked = 0;  // writes 0 .. acked-1 were acknowledged
  uint32_t value;
  while (acked < kAckedBeforeKill && read(acks[0], &value, sizeof value) == sizeof value) {
    ASSERT_EQ(value, acked);
    ++acked;
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // Acknowledgements already in the pipe count too.
  while (read(acks[0], &value, sizeof value) == sizeof value) ++acked;
  close(acks[0]);
  ASSERT_TRUE(WIFSIGNALED(status))
      << "the writer ended before the kill, exit code " << WEXITSTATUS(status);
  ASSERT_GE(acked, kAckedBeforeKill);

  auto store = OpenStore(PathSetting(File()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Entries written = GetAll(**store, "t");
  // Every acknowledged write, plus at most the one in flight at the kill.
  ASSERT_GE(written.size(), acked);
  ASSERT_LE(written.size(), acked + 1);
  for (uint32_t i = 0; i < acked; ++i) {
    EXPECT_EQ(Get(**store, "t", "key" + std::to_string(i)), "value" + std::to_string(i))
        << "write " << i;
  }
  for (const auto& [key, v] : written) {
    bool twin = Get(**store, "pairs", key).has_value();
    EXPECT_EQ(twin, std::stoul(key.substr(3)) % 10 == 0) << "half of batch " << key << " survived";
  }
  EXPECT_TRUE((*store)->Put("t", "after", "restart").ok());
}

TEST_F(SqliteGcsStoreTest, DefaultFileIsInTheSessionFolder) {
  auto store = OpenStore({}, dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Put("t", "k", "v").ok());
  EXPECT_TRUE(fs::exists(dir_.path() + "/gcs.sqlite"));
}

TEST_F(SqliteGcsStoreTest, NoPathAndNoSessionIsAnError) {
  std::string error = OpenError({});
  EXPECT_THAT(
      error,
      HasSubstr(
          "gcs.sqlite: no file to keep the GCS tables in: set path in [gcs.sqlite] of test.toml"));
}

TEST_F(SqliteGcsStoreTest, MissingFoldersAreCreated) {
  std::string path = dir_.path() + "/a/b/tables.db";
  auto store = OpenStore(PathSetting(path));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Put("t", "k", "v").ok());
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(SqliteGcsStoreTest, PathThatIsAFolderIsAnError) {
  std::string error = OpenError(PathSetting(dir_.path()));
  EXPECT_THAT(error, HasSubstr("gcs.sqlite: " + dir_.path() +
                               " is a folder; set [gcs.sqlite] path to a file"));
}

TEST_F(SqliteGcsStoreTest, BadSettingsAreErrors) {
  EXPECT_THAT(OpenError(Settings({{"path", File()}, {"synchronous", std::string("sometimes")}})),
              HasSubstr("[gcs.sqlite] synchronous = \"sometimes\" is not one of the allowed values "
                        "\"full\", \"normal\""));
  EXPECT_THAT(OpenError(Settings({{"path", File()}, {"busy_timeout_ms", int64_t{-1}}})),
              HasSubstr("[gcs.sqlite] busy_timeout_ms = -1 is out of range; the allowed values "
                        "are from 0 to 2147483647"));
}

TEST_F(SqliteGcsStoreTest, SecondStoreOnTheSameFileIsLocked) {
  auto first = OpenStore(PathSetting(File()));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_THAT(OpenError(PathSetting(File())),
              HasSubstr("gcs.sqlite: " + File() +
                        " is locked by another process (is another GCS running on it?)"));
  first->reset();
  auto again = OpenStore(PathSetting(File()));
  EXPECT_TRUE(again.ok()) << "the lock outlived the store: " << again.status().ToString();
}

TEST_F(SqliteGcsStoreTest, SymlinkToAnOpenFileIsLocked) {
  auto first = OpenStore(PathSetting(File()));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  fs::create_symlink(File(), File("link.sqlite"));
  EXPECT_THAT(OpenError(PathSetting(File("link.sqlite"))),
              HasSubstr("gcs.sqlite: " + File("link.sqlite") + " is locked by another process"));
}

TEST_F(SqliteGcsStoreTest, FileOfAnotherGcsProcessIsLocked) {
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    auto store = OpenStore(PathSetting(File()));
    WriteAll(ready[1], store.ok() ? "open" : store.status().message());
    close(ready[1]);
    ReadAll(release[0]);  // holds the store until the parent closes the pipe
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  ASSERT_EQ(ReadAll(ready[0]), "open");
  close(ready[0]);
  std::string error = OpenError(PathSetting(File()));
  close(release[1]);
  waitpid(pid, nullptr, 0);
  EXPECT_THAT(error, HasSubstr("gcs.sqlite: " + File() +
                               " is locked by another process (is another GCS running on it?)"));
  auto store = OpenStore(PathSetting(File()));
  EXPECT_TRUE(store.ok()) << "the lock outlived its process: " << store.status().ToString();
}

// A program other than rayk (a sqlite3 shell, say) in a write transaction.
TEST_F(SqliteGcsStoreTest, FileLockedBySqliteItselfIsLocked) {
  ASSERT_TRUE(OpenStore(PathSetting(File())).ok());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(File().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string error = OpenError(Settings({{"path", File()}, {"busy_timeout_ms", int64_t{0}}}));
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_THAT(error, HasSubstr("gcs.sqlite: " + File() +
                               " is locked by another process (is another GCS running on it?)"));
}

TEST_F(SqliteGcsStoreTest, RandomBytesAreNotADatabase) {
  std::string noise(16384, '\0');
  std::mt19937 random(7);
  for (char& c : noise) c = static_cast<char>(random());
  std::ofstream(File(), std::ios::binary) << noise;
  EXPECT_THAT(
      OpenError(PathSetting(File())),
      HasSubstr(
          "gcs.sqlite: " + File() +
          " is not a valid rayk GCS database (corrupt?); move it away or choose another path"));
}

TEST_F(SqliteGcsStoreTest, DamagedPagesAreFoundAtOpen) {
  {
    auto store = OpenStore(PathSetting(File()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(
          (*store)->Put("t", "key" + std::to_string(i), std::string(1000, 'a' + i % 26)).ok());
    }
  }
  // Keep the header (page 1) and scribble over pages further in.
  ASSERT_GT(fs::file_size(File()), 20 * 4096u);
  {
    std::fstream file(File(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4 * 4096);
    std::mt19937 random(11);
    for (int i = 0; i < 8 * 4096; ++i) file.put(static_cast<char>(random()));
  }
  EXPECT_THAT(
      OpenError(PathSetting(File())),
      HasSubstr(
          "gcs.sqlite: " + File() +
          " is not a valid rayk GCS database (corrupt?); move it away or choose another path"));
}

TEST_F(SqliteGcsStoreTest, OtherSqliteDatabaseIsRefused) {
  Sql(File(), "CREATE TABLE users(name TEXT)");
  EXPECT_THAT(OpenError(PathSetting(File())),
              HasSubstr("gcs.sqlite: " + File() + " is an SQLite database but not a rayk GCS one"));
}

TEST_F(SqliteGcsStoreTest, NewerSchemaVersionIsRefused) {
  ASSERT_TRUE(OpenStore(PathSetting(File())).ok());
  Sql(File(), "PRAGMA user_version = 7");
  EXPECT_THAT(
      OpenError(PathSetting(File())),
      HasSubstr(
          "gcs.sqlite: " + File() +
          " has schema version 7, newer than this rayk's 1; use a newer rayk or another path"));
  EXPECT_EQ(UserVersion(File()), 7) << "a refused file was changed";
}

TEST_F(SqliteGcsStoreTest, NegativeSchemaVersionIsRefused) {
  ASSERT_TRUE(OpenStore(PathSetting(File())).ok());
  Sql(File(), "PRAGMA user_version = -3");
  EXPECT_THAT(OpenError(PathSetting(File())),
              HasSubstr("gcs.sqlite: " + File() + " has schema version -3, which no rayk writes"));
}

TEST_F(SqliteGcsStoreTest, EmptyFileGetsTheCurrentSchema) {
  std::ofstream(File()).close();  // version 0: an empty file, as `touch` leaves it
  auto store = OpenStore(PathSetting(File()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Put("t", "k", "v").ok());
  store->reset();
  EXPECT_EQ(UserVersion(File()), 1);
}

// The on-disk format, written by hand: a file of the current version opens as
// it is, and its rows read back (BLOB keys, memcmp order).
TEST_F(SqliteGcsStoreTest, CurrentVersionFileOpensAsItIs) {
  Sql(File(),
      "CREATE TABLE entries(tbl BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
      "PRIMARY KEY (tbl, key)) WITHOUT ROWID;"
      "INSERT INTO entries VALUES (CAST('jobs' AS BLOB), X'FF', X'00'), (CAST('jobs' AS BLOB), "
      "X'41', X'');"
      "PRAGMA user_version = 1;");
  auto store = OpenStore(PathSetting(File()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(GetAll(**store, "jobs"), (Entries{{"A", ""}, {"\xff", std::string("\0", 1)}}));
}

TEST_F(SqliteGcsStoreTest, FullDatabaseFailsWritesAndKeepsEarlierData) {
  const std::string value(4000, 'v');
  std::vector<std::string> acked;
  {
    auto store = OpenStore(Settings({{"path", File()}, {"max_size", std::string("256KiB")}}));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Status failure;
    for (int i = 0; i < 1000 && failure.ok(); ++i) {
      std::string key = "key" + std::to_string(1000 + i);
      failure = (*store)->Put("t", key, value);
      if (failure.ok()) acked.push_back(key);
    }
    ASSERT_FALSE(failure.ok()) << "256KiB held 1000 values of 4000 bytes";
    EXPECT_EQ(failure.code(), StatusCode::kIoError);
    EXPECT_THAT(failure.message(), HasSubstr("gcs.sqlite: " + File() + " cannot grow: disk full"));
    EXPECT_THAT(failure.message(),
                HasSubstr("(or past max_size, 262144 bytes); nothing of this write was applied"));
    EXPECT_EQ(testing::CountLines(failure.message()), 1) << failure.message();
    ASSERT_GT(acked.size(), 10u);

    GcsWriteBatch batch;
    batch.Put("t", "small", "s");
    batch.Delete("t", acked.front());
    batch.Put("t", "large", std::string(1 << 20, 'x'));
    Status st = (*store)->Write(batch);
    EXPECT_EQ(st.code(), StatusCode::kIoError);
    EXPECT_THAT(st.message(), HasSubstr("disk full"));
    EXPECT_EQ(GetAll(**store, "t").size(), acked.size()) << "part of a failed batch was applied";
    EXPECT_EQ(Get(**store, "t", acked.front()), value);

    // Deleting makes room again.
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE((*store)->Delete("t", acked.back()).ok());
      acked.pop_back();
    }
    ASSERT_TRUE((*store)->Put("t", acked.back() + "+", value).ok());
    acked.push_back(acked.back() + "+");
  }
  // Reopened without the bound, the file is whole and has every acknowledged write.
  auto store = OpenStore(PathSetting(File()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Entries all = GetAll(**store, "t");
  ASSERT_EQ(all.size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) {
    EXPECT_EQ(all[i].first, acked[i]);
    EXPECT_EQ(all[i].second, value);
  }
  EXPECT_TRUE((*store)->Put("t", "large", std::string(1 << 20, 'x')).ok());
}

// Read-only cases run in a child; as root the child becomes nobody first.
class SqliteReadOnlyTest : public SqliteGcsStoreTest {
 protected:
  void SetUp() override {
    // Let nobody into the test folder.
    fs::permissions(dir_.path(), fs::perms::all);
  }
  void TearDown() override {
    std::error_code ignored;  // so that the folder can be removed
    fs::permissions(dir_.path() + "/ro", fs::perms::all, ignored);
  }

  // What opening `path` printed in an unprivileged child ("opened" if it
  // worked); nullopt if the child could not drop root.
  std::optional<std::string> OpenAsUser(const std::string& path) {
    return RunInChild(
        [&] {
          auto store = OpenStore(PathSetting(path));
          if (!store.ok()) return store.status().message();
          Status st = (*store)->Put("t", "k", "v");
          return st.ok() ? std::string("opened") : "write failed: " + st.message();
        },
        /*unprivileged=*/true);
  }
};

TEST_F(SqliteReadOnlyTest, ReadOnlyFile) {
  ASSERT_TRUE(OpenStore(PathSetting(File())).ok());
  fs::permissions(File(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  auto result = OpenAsUser(File());
  if (!result) GTEST_SKIP() << "running as root and cannot become nobody";
  EXPECT_THAT(
      *result,
      HasSubstr("gcs.sqlite: " + File() +
                " cannot be written (read-only); fix its permissions or choose another path"));
  EXPECT_EQ(testing::CountLines(*result), 1) << *result;
}

TEST_F(SqliteReadOnlyTest, ReadOnlyFolderForANewFile) {
  std::string folder = dir_.path() + "/ro";
  fs::create_directory(folder);
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  auto result = OpenAsUser(folder + "/gcs.sqlite");
  if (!result) GTEST_SKIP() << "running as root and cannot become nobody";
  EXPECT_THAT(*result,
              HasSubstr("gcs.sqlite: " + folder + "/gcs.sqlite cannot be written (read-only)"));
  EXPECT_THAT(*result, HasSubstr("fix its permissions or choose another path"));
  EXPECT_EQ(testing::CountLines(*result), 1) << *result;
}

// The file itself may be written but its folder not, so SQLite cannot make
// the WAL beside it.
TEST_F(SqliteReadOnlyTest, WritableFileInReadOnlyFolder) {
  std::string folder = dir_.path() + "/ro";
  fs::create_directory(folder);
  std::string path = folder + "/gcs.sqlite";
  {
    auto store = OpenStore(PathSetting(path));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Put("t", "k", "v").ok());
  }
  ASSERT_FALSE(fs::exists(path + "-wal")) << "closing should have removed the WAL";
  fs::permissions(path, fs::perms::all & ~(fs::perms::owner_exec | fs::perms::group_exec |
                                           fs::perms::others_exec));
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  auto result = OpenAsUser(path);
  if (!result) GTEST_SKIP() << "running as root and cannot become nobody";
  EXPECT_THAT(*result, HasSubstr("gcs.sqlite: " + path + " cannot be written (read-only)"));
  EXPECT_EQ(testing::CountLines(*result), 1) << *result;
}

}  // namespace
}  // namespace rayk
