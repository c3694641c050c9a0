// The `sqlite` GcsStore: every table lives in one SQLite file, so a GCS
// server that restarts finds its nodes, jobs, actors and KV where it left them.
//
// Layout: one SQL table, entries(tbl, key, value), all BLOBs, keyed by
// (tbl, key) WITHOUT ROWID. SQLite compares BLOBs with memcmp and then by
// length, which is exactly std::string's order, so `ORDER BY key` gives
// GetAll the byte order the memory plugin has. Binding everything as BLOB
// (never TEXT) keeps NUL bytes and avoids SQLite's text/blob ordering rules.
//
// Durability: the file is in WAL mode and every Put, Delete and batch is one
// transaction; with synchronous=FULL (the default) SQLite fsyncs the WAL
// before the commit returns, so an OK write survives a crash of the process
// and of the machine.
//
// Ownership: while a store is open it holds an flock on "<file>.lock". Two
// GCS servers (or two stores in one process) can then never write the same
// file, and the second one is told so at open instead of failing later on
// SQLITE_BUSY. A lock file rather than a lock on the database itself keeps
// the database readable by a sqlite3 shell while the GCS runs, and flock
// cannot interfere with SQLite's own POSIX locks on the database file.
//
// Threads: one connection, one mutex around every call, statements prepared
// once at open. GCS traffic is small and each write waits for an fsync, so a
// second connection for readers would buy little.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/plugin.h"

namespace {

namespace fs = std::filesystem;
using rayk::Status;

const rayk::SettingSpec kSqliteSettings[] = {
    {"path", rayk::SettingType::kString, "\"\"",
     "The SQLite file that holds the GCS tables (created with its folder if missing); "
     "empty: gcs.sqlite in the cluster's session folder. A relative path is taken from the "
     "GCS server's working directory."},
    {"synchronous", rayk::SettingType::kString, "\"full\"",
     "\"full\": a write is fsynced to disk before it returns OK, so it survives a power loss; "
     "\"normal\": fewer fsyncs, survives a crash of the GCS but may lose the last writes on a "
     "power loss.",
     nullptr, nullptr, "full|normal"},
    {"busy_timeout_ms", rayk::SettingType::kInteger, "5000",
     "How long to wait when another program (a sqlite3 shell, say) holds a lock on the file "
     "before failing with 'is locked by another process'.",
     "0", "2147483647"},
    {"max_size", rayk::SettingType::kBytes, "0",
     "Largest size of the database file; a write that needs more fails with 'disk full' and "
     "changes nothing. 0: only the disk limits it.",
     "0", "1048576GiB"},
};

// The schema version this build writes, kept in PRAGMA user_version.
constexpr int kSchemaVersion = 1;

// kMigrations[v] turns a version-v file into version v+1; they run in order,
// all in the one transaction that opens the file, so a file is never left
// half-migrated. Version 0 is an empty file, so the first step creates the
// schema. To change the schema, append a step (never edit a shipped one)
// and bump kSchemaVersion.
struct Migration {
  const char* what;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {"create the entries table",
     "CREATE TABLE entries(tbl BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
     "PRIMARY KEY (tbl, key)) WITHOUT ROWID"},
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration step per schema version");

// What went wrong with the file, as the part of a message after its name.
// `code` is an extended SQLite result code, `sys_errno` the errno behind it;
// `max_size` is the setting (0: none), which a full file may have hit.
std::string Problem(int code, int sys_errno, const std::string& detail, int64_t max_size) {
  const bool no_space = sys_errno == ENOSPC || sys_errno == EDQUOT;
  const bool denied = sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "is locked by another process (is another GCS running on it?); stop that process or "
             "choose another path";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return "is not a valid rayk GCS database (corrupt?); move it away or choose another path";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "cannot be written (read-only); fix its permissions or choose another path";
    case SQLITE_FULL:
      if (max_size > 0) {
        return "cannot grow: disk full (or past max_size, " + std::to_string(max_size) +
               " bytes); nothing of this write was applied; free disk space or raise [gcs.sqlite] "
               "max_size";
      }
      return "cannot grow: disk full; nothing of this write was applied; free disk space or choose "
             "another path";
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      if (denied)
        return "cannot be written (read-only); fix its permissions or choose another path";
      if (no_space) return Problem(SQLITE_FULL, 0, detail, max_size);
      break;
  }
  return "failed: " + detail +
         (sys_errno != 0 ? std::string(" (") + std::strerror(sys_errno) + ")" : "");
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Closes a file descriptor (and so drops its flock) on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  ~UniqueFd() { reset(-1); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// A null pointer would bind SQL NULL rather than an empty blob.
int BindBytes(sqlite3_stmt* statement, int index, std::string_view bytes) {
  return sqlite3_bind_blob64(statement, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

std::string ColumnBytes(sqlite3_stmt* statement, int column) {
  const void* data = sqlite3_column_blob(statement, column);
  int size = sqlite3_column_bytes(statement, column);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

class SqliteGcsStore : public rayk::GcsStore {
 public:
  // Opens (creating if needed) and checks the file; throws a one-line
  // std::runtime_error naming the file and the fix, which the plugin loader
  // reports as the reason the plugin failed to start.
  explicit SqliteGcsStore(const rayk::PluginContext& ctx) {
    const rayk::PluginSettings& settings = ctx.settings();
    path_ = ResolvePath(settings.GetString("path"), ctx);
    TakeOwnership();
    Open(settings, ctx);
    Migrate();
    Prepare();
  }

  Status Put(std::string_view table, std::string_view key, std::string_view value) override {
    std::lock_guard<std::mutex> lock(mu_);
    // A single statement outside BEGIN is its own transaction: atomic, and
    // as durable as a COMMIT.
    int rc = Run(put_.get(), {table, key, value});
    return rc == SQLITE_DONE ? Status::Ok() : Failure(rc, "a Put");
  }

  rayk::Result<std::optional<std::string>> Get(std::string_view table,
                                               std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* statement = get_.get();
    int rc = Bind(statement, {table, key});
    if (rc == SQLITE_OK) rc = Step(statement);
    std::optional<std::string> value;
    if (rc == SQLITE_ROW) {
      value = ColumnBytes(statement, 0);
      rc = SQLITE_DONE;
    }
    Status status = rc == SQLITE_DONE ? Status::Ok() : Failure(rc, "a Get");
    Reset(statement);
    if (!status.ok()) return status;
    return value;
  }

  rayk::Result<std::vector<std::pair<std::string, std::string>>> GetAll(
      std::string_view table) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* statement = get_all_.get();
    std::vector<std::pair<std::string, std::string>> entries;
    int rc = Bind(statement, {table});
    if (rc == SQLITE_OK) {
      while ((rc = Step(statement)) == SQLITE_ROW) {
        entries.emplace_back(ColumnBytes(statement, 0), ColumnBytes(statement, 1));
      }
    }
    Status status = rc == SQLITE_DONE ? Status::Ok() : Failure(rc, "a GetAll");
    Reset(statement);
    if (!status.ok()) return status;
    return entries;
  }

  Status Delete(std::string_view table, std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    int rc = Run(delete_.get(), {table, key});
    return rc == SQLITE_DONE ? Status::Ok() : Failure(rc, "a Delete");
  }

  Status Write(const rayk::GcsWriteBatch& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string what = "a batch of " + std::to_string(batch.ops.size()) + " writes";
    int rc = Run(begin_.get(), {});
    if (rc != SQLITE_DONE) return Failure(rc, what);
    for (const auto& op : batch.ops) {
      rc = op.value ? Run(put_.get(), {op.table, op.key, *op.value})
                    : Run(delete_.get(), {op.table, op.key});
      if (rc != SQLITE_DONE) return RollBack(Failure(rc, what));
    }
    rc = Run(commit_.get(), {});
    if (rc != SQLITE_DONE) return RollBack(Failure(rc, what));
    return Status::Ok();
  }

 private:
  static std::string ResolvePath(const std::string& setting, const rayk::PluginContext& ctx) {
    std::string path = setting;
    if (path.empty()) {
      if (ctx.session_dir.empty()) {
        throw std::runtime_error(
            "gcs.sqlite: no file to keep the GCS tables in: set path in [gcs.sqlite] of " +
            (ctx.config_file.empty() ? std::string("the config") : ctx.config_file) +
            " (the default, gcs.sqlite in the session folder, needs a cluster session)");
      }
      path = (fs::path(ctx.session_dir) / "gcs.sqlite").string();
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    return ec ? path : absolute.lexically_normal().string();
  }

  [[noreturn]] void Fail(const std::string& problem) const {
    throw std::runtime_error("gcs.sqlite: " + path_ + " " + problem);
  }

  // Creates the folder if needed and takes the flock on "<file>.lock".
  void TakeOwnership() {
    std::error_code ec;
    if (fs::is_directory(path_, ec))
      Fail("is a folder; set [gcs.sqlite] path to a file (inside it, say)");
    fs::path folder = fs::path(path_).parent_path();
    if (!folder.empty() && !fs::exists(folder, ec)) {
      fs::create_directories(folder, ec);
      if (ec) {
        if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system ||
            ec == std::errc::operation_not_permitted) {
          Fail("cannot be written (read-only): its folder cannot be created (" + ec.message() +
               "); fix its permissions or choose another path");
        }
        Fail("cannot be created: its folder " + folder.string() + " cannot be made (" +
             ec.message() + "); choose another path");
      }
    }
    // Beside the real file, so that two paths to it (a symlink) share one lock.
    fs::path real = fs::weakly_canonical(path_, ec);
    const std::string lock_path = (ec ? path_ : real.string()) + ".lock";
    // Read-only access is enough for flock, so a lock file left by another
    // user does not get in the way; creating it needs a writable folder,
    // which SQLite's WAL needs anyway.
    // It holds no data, so its mode is left to the umask (077 in the daemons).
    lock_.reset(open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644));
    if (lock_.get() < 0) {
      int error = errno;
      if (error == EACCES || error == EPERM || error == EROFS) {
        Fail("cannot be written (read-only): cannot create " + lock_path + " (" +
             std::strerror(error) + "); fix its permissions or choose another path");
      }
      Fail("cannot be opened: cannot create " + lock_path + " (" + std::strerror(error) + ")");
    }
    if (flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
      int error = errno;
      if (error == EWOULDBLOCK) {
        Fail(
            "is locked by another process (is another GCS running on it?); stop that process or "
            "choose another path");
      }
      Fail("cannot be locked: flock on " + lock_path + " failed (" + std::strerror(error) + ")");
    }
  }

  // Fails the open with the problem behind SQLite result `rc`.
  [[noreturn]] void FailSqlite(int rc, const std::string& doing) const {
    std::string detail = doing + ": " + (db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
    Fail(Problem(rc, db_ ? sqlite3_system_errno(db_.get()) : 0, detail, max_size_));
  }

  // Runs `sql` and gives the first column of its first row as text ("" if
  // it returns none). `doing` names the step in an error; default: the SQL.
  std::string Query(const std::string& sql, const std::string& doing = "") {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
    Statement statement(raw);
    if (rc != SQLITE_OK) FailSqlite(rc, doing.empty() ? sql : doing);
    rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) return "";
    if (rc != SQLITE_ROW) FailSqlite(rc, doing.empty() ? sql : doing);
    const unsigned char* text = sqlite3_column_text(raw, 0);
    return text ? reinterpret_cast<const char*>(text) : "";
  }

  void Open(const rayk::PluginSettings& settings, const rayk::PluginContext& /*ctx*/) {
    // The loader has checked these against kSqliteSettings' choices and ranges.
    const std::string synchronous = settings.GetString("synchronous");
    const int64_t busy_timeout_ms = settings.GetInteger("busy_timeout_ms");
    max_size_ = settings.GetInteger("max_size");

    // The tables hold the KV, secrets included: a new file is 0600, and SQLite
    // gives its -wal and -shm files the mode of the database file.
    if (int fd = open(path_.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); fd >= 0) {
      close(fd);
    }
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path_.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // closed even when opening failed
    if (rc != SQLITE_OK) FailSqlite(rc, "open");
    sqlite3_extended_result_codes(db_.get(), 1);
    // SQLite quietly opens a file it may not write read-only.
    if (sqlite3_db_readonly(db_.get(), "main") == 1) {
      Fail("cannot be written (read-only); fix its permissions or choose another path");
    }
    sqlite3_busy_timeout(db_.get(), static_cast<int>(busy_timeout_ms));
    // The first statement reads the header: random bytes fail here.
    if (Query("PRAGMA journal_mode=WAL") != "wal") {
      Fail("cannot be switched to WAL mode; keep it on a local file system or choose another path");
    }
    Query("PRAGMA synchronous=" + synchronous);
    if (max_size_ > 0) {
      int64_t page_size = std::stoll(Query("PRAGMA page_size"));
      // SQLite never lowers the bound below the file's current size.
      Query("PRAGMA max_page_count=" + std::to_string(std::max<int64_t>(1, max_size_ / page_size)));
    }
    // A file with a valid header can still have broken pages; find out now
    // rather than on some later read.
    std::string check = Query("PRAGMA quick_check");
    if (check != "ok") {
      // SQLite's report spans lines; keep the start of it, on one line.
      std::replace(check.begin(), check.end(), '\n', ' ');
      Fail(
          "is not a valid rayk GCS database (corrupt?); move it away or choose another path "
          "(quick_check: " +
          check.substr(0, 100) + ")");
    }
  }

  // Brings the file to kSchemaVersion in one transaction (see kMigrations).
  void Migrate() {
    Query("BEGIN IMMEDIATE");
    const int version = std::stoi(Query("PRAGMA user_version"));
    if (version < 0) {
      Fail("has schema version " + std::to_string(version) +
           ", which no rayk writes; move it away or choose another path");
    }
    if (version > kSchemaVersion) {
      Fail("has schema version " + std::to_string(version) + ", newer than this rayk's " +
           std::to_string(kSchemaVersion) + "; use a newer rayk or another path");
    }
    if (version == 0 && Query("SELECT count(*) FROM sqlite_schema") != "0") {
      Fail(
          "is an SQLite database but not a rayk GCS one (it has tables and no rayk schema "
          "version); move it away or choose another path");
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      Query(kMigrations[v].sql, "migrating from schema version " + std::to_string(v) + " to " +
                                    std::to_string(v + 1) + " (" + kMigrations[v].what + ")");
    }
    if (version != kSchemaVersion) Query("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    Query("COMMIT");
  }

  Statement PrepareOne(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) FailSqlite(rc, sql);
    return Statement(raw);
  }

  void Prepare() {
    put_ = PrepareOne("INSERT OR REPLACE INTO entries(tbl, key, value) VALUES (?1, ?2, ?3)");
    get_ = PrepareOne("SELECT value FROM entries WHERE tbl = ?1 AND key = ?2");
    get_all_ = PrepareOne("SELECT key, value FROM entries WHERE tbl = ?1 ORDER BY key");
    delete_ = PrepareOne("DELETE FROM entries WHERE tbl = ?1 AND key = ?2");
    // IMMEDIATE takes the write lock at once, so a batch cannot fail halfway
    // for want of it.
    begin_ = PrepareOne("BEGIN IMMEDIATE");
    commit_ = PrepareOne("COMMIT");
    rollback_ = PrepareOne("ROLLBACK");
  }

  // SQLITE_OK, or the error of the first value that cannot be bound (one
  // past SQLite's 1 GB limit on a blob, say), kept for Failure.
  int Bind(sqlite3_stmt* statement, std::initializer_list<std::string_view> values) {
    int index = 1;
    for (std::string_view value : values) {
      int rc = BindBytes(statement, index++, value);
      if (rc != SQLITE_OK) {
        last_error_ = sqlite3_errstr(rc);
        last_errno_ = 0;
        return rc;
      }
    }
    return SQLITE_OK;
  }

  void Reset(sqlite3_stmt* statement) {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
  }

  // sqlite3_step that keeps the connection's error for Failure, as the
  // reset (or rollback) that follows a failure replaces it.
  int Step(sqlite3_stmt* statement) {
    int rc = sqlite3_step(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      last_error_ = sqlite3_errmsg(db_.get());
      last_errno_ = sqlite3_system_errno(db_.get());
    }
    return rc;
  }

  // Runs a statement that returns no rows.
  int Run(sqlite3_stmt* statement, std::initializer_list<std::string_view> values) {
    int rc = Bind(statement, values);
    if (rc == SQLITE_OK) rc = Step(statement);
    Reset(statement);
    return rc;
  }

  // Undoes an open batch (SQLite may already have rolled it back itself,
  // after SQLITE_FULL for one) and passes `status` on.
  Status RollBack(Status status) {
    if (!sqlite3_get_autocommit(db_.get())) (void)Run(rollback_.get(), {});
    return status;
  }

  // The status of a call whose statement failed with `rc` (see Step).
  Status Failure(int rc, const std::string& what) {
    std::string message = "gcs.sqlite: " + path_ + " " +
                          Problem(rc, last_errno_, what + ": " + last_error_, max_size_);
    last_error_.clear();
    last_errno_ = 0;
    if ((rc & 0xff) == SQLITE_NOMEM) return Status::OutOfMemory(message);
    return Status::IoError(message);
  }

  std::mutex mu_;
  std::string path_;
  int64_t max_size_ = 0;
  std::string last_error_;  // the SQLite message and errno of the last failed Step
  int last_errno_ = 0;
  // Declared in release order reversed: statements go before the database,
  // which is closed (checkpointing its WAL) before the lock is dropped.
  UniqueFd lock_;
  Db db_;
  Statement put_, get_, get_all_, delete_, begin_, commit_, rollback_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kGcs, "sqlite", "1.0",
            "Tables in one SQLite file (WAL, fsynced commits); a restarted GCS reloads them",
            SqliteGcsStore, kSqliteSettings);
