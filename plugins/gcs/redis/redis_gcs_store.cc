// The `redis` GcsStore: the GCS tables live in an external Redis, so a head
// machine can be lost and a new head started elsewhere on the same Redis
// finds the cluster's jobs, actors and KV where the old one left them.
//
// Layout: each table is one Redis hash, "<key_prefix>table:<name>", whose
// fields are the keys. Hashes keep any bytes (NUL included); GetAll sorts the
// fields in memcmp order, the order of the other plugins.
//
// Atomic writes and ownership: every write (Put, Delete, a batch) is one Lua
// script. Redis runs a script as one indivisible command, and the script's
// shebang (no allow-oom flag) makes a Redis past its maxmemory refuse the
// whole script before it starts, so a batch is applied entirely or not at
// all. The script first checks the lease "<key_prefix>lease", which names the
// GCS that owns the prefix: a GCS that lost it (another took over while it
// was cut off) can never overwrite the new owner's tables. The owner renews
// the lease on its own connection every lease_ms / 3; a GCS that dies stops
// renewing, so the lease lapses after lease_ms and a new head can take over.
// The owner's name is the host and session folder, so a GCS that its
// supervisor restarts in the same session takes its own lease back at once.
//
// Faults: a call that finds Redis unreachable (or loading its append-only
// file after a restart) reconnects with backoff for up to retry_timeout_ms,
// then fails with one line; until Redis answers again later calls try once
// and fail at once, so a long outage does not stall every caller for the
// whole window. Retrying a write whose reply was lost is safe: the store's
// mutex is held meanwhile, so the replay lands on the same state and gives
// the same result.
//
// Threads: one connection for calls, one mutex around it; the lease renewer
// has its own connection and thread.
#include <hiredis/hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/plugin.h"

namespace {

using rayk::Status;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const rayk::SettingSpec kRedisSettings[] = {
    {"address", rayk::SettingType::kString, nullptr,
     "The Redis server as host:port (\"10.0.0.5:6380\"). Required: rayk's own GCS port is 6379 "
     "too, so there is no safe default."},
    {"password", rayk::SettingType::kString, "\"\"",
     "Sent with AUTH when not empty: the server's requirepass, or the ACL user's password."},
    {"username", rayk::SettingType::kString, "\"\"",
     "An ACL user (Redis 6 and later) to AUTH as; empty: the default user."},
    {"database", rayk::SettingType::kInteger, "0", "The Redis database number (SELECT).", "0",
     "2147483647"},
    {"key_prefix", rayk::SettingType::kString, "\"rayk:\"",
     "Put before every key this GCS writes, so that several clusters can share one Redis: give "
     "each its own. A prefix is owned by one live GCS at a time."},
    {"connect_timeout_ms", rayk::SettingType::kInteger, "2000",
     "How long one attempt to connect may take.", "1", "600000"},
    {"command_timeout_ms", rayk::SettingType::kInteger, "5000",
     "How long one command may wait for its reply before the connection counts as lost.", "1",
     "600000"},
    {"retry_timeout_ms", rayk::SettingType::kInteger, "10000",
     "How long a call keeps reconnecting (with backoff) to a Redis that is down or loading before "
     "it fails; 0: one attempt.",
     "0", "3600000"},
    {"lease_ms", rayk::SettingType::kInteger, "5000",
     "The lease on key_prefix lapses this long after its GCS stops renewing it (dies); a new "
     "head waits at most this long to take the prefix over.",
     "300", "600000"},
    {"require_aof", rayk::SettingType::kBool, "true",
     "Refuse a Redis whose append-only file is off: a restart of such a Redis loses the tables. "
     "false: accept it (tests, throwaway clusters).",
     nullptr, nullptr, nullptr},
};

// Applies a batch. KEYS[1] is the lease, KEYS[2..] one hash per op; ARGV[1]
// the owner, ARGV[2] the lease length, then per op "p" or "d", the field and
// the value ("" for a delete). A lease that lapsed (Redis was unreachable for
// longer than lease_ms, say) is taken back; one held by another GCS refuses
// the whole batch.
constexpr char kWriteScriptBody[] = R"(
local owner = redis.call('GET', KEYS[1])
if owner == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif owner ~= ARGV[1] then
  return redis.error_reply('LEASE ' .. owner)
end
for i = 2, #KEYS do
  local a = 3 * i - 3
  if ARGV[a] == 'p' then
    redis.call('HSET', KEYS[i], ARGV[a + 1], ARGV[a + 2])
  else
    redis.call('HDEL', KEYS[i], ARGV[a + 1])
  end
end
return #KEYS - 1
)";
// A batch that puts is refused whole by a Redis past its maxmemory (no
// allow-oom flag); one that only deletes may run then, since it makes room.
const std::string kWriteScript = std::string("#!lua") + kWriteScriptBody;
const std::string kDeleteScript = std::string("#!lua flags=allow-oom") + kWriteScriptBody;

// Takes or renews the lease: returns 1, or the name of the live owner. It may
// run when Redis is full (it only rewrites one small key), so that a full
// Redis does not also cost the lease.
constexpr char kClaimScript[] = R"(#!lua flags=allow-oom
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return owner
)";

// Gives the lease up, if it is still ours.
constexpr char kReleaseScript[] = R"(#!lua flags=allow-oom
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)";

// hiredis's C objects, freed by their own functions.
template <auto free_fn>
struct FreeWith {
  template <typename T>
  void operator()(T* object) const {
    free_fn(object);
  }
};
using Context = std::unique_ptr<redisContext, FreeWith<redisFree>>;
using Reply = std::unique_ptr<redisReply, FreeWith<freeReplyObject>>;

timeval ToTimeval(int64_t ms) {
  return timeval{ms / 1000, static_cast<suseconds_t>(ms % 1000) * 1000};
}

std::string ReplyText(const redisReply& reply) { return std::string(reply.str, reply.len); }

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// What a call reports: a one-line status, and whether trying again could help.
struct Failure {
  Status status;
  bool transient;  // the connection broke, or Redis is loading: reconnect and retry
};

class RedisGcsStore : public rayk::GcsStore {
 public:
  // Connects, checks the server and takes the lease on key_prefix; throws a
  // one-line std::runtime_error naming Redis and the fix, which the plugin
  // loader reports as the reason the plugin failed to start.
  explicit RedisGcsStore(const rayk::PluginContext& ctx) {
    const rayk::PluginSettings& settings = ctx.settings();
    address_ = settings.GetString("address");
    ParseAddress();
    password_ = settings.GetString("password");
    username_ = settings.GetString("username");
    database_ = settings.GetInteger("database");
    prefix_ = settings.GetString("key_prefix");
    connect_timeout_ms_ = settings.GetInteger("connect_timeout_ms");
    command_timeout_ms_ = settings.GetInteger("command_timeout_ms");
    retry_timeout_ = milliseconds(settings.GetInteger("retry_timeout_ms"));
    lease_ms_ = settings.GetInteger("lease_ms");
    lease_key_ = prefix_ + "lease";
    owner_ = OwnerName(ctx);

    std::unique_lock<std::mutex> lock(mu_);
    // At open, an unreachable Redis fails at once: the GCS is starting, and
    // `rayk start` should say so rather than wait.
    auto connected = Connect();
    if (!connected.ok()) throw std::runtime_error(connected.message());
    if (settings.GetBool("require_aof")) CheckAppendOnly();
    TakeLease();
    lock.unlock();
    renewer_ = std::thread([this] { RenewLoop(); });
  }

  ~RedisGcsStore() override {
    {
      std::lock_guard<std::mutex> lock(renew_mu_);
      stopping_ = true;
    }
    renew_cv_.notify_all();
    if (renewer_.joinable()) renewer_.join();
    std::lock_guard<std::mutex> lock(mu_);
    // Best effort: a lease left behind lapses by itself after lease_ms.
    if (connection_) {
      Reply released(static_cast<redisReply*>(
          Command(connection_.get(), {"EVAL", kReleaseScript, "1", lease_key_, owner_})));
    }
  }

  Status Put(std::string_view table, std::string_view key, std::string_view value) override {
    rayk::GcsWriteBatch batch;
    batch.Put(std::string(table), std::string(key), std::string(value));
    return Apply(batch, "a Put");
  }

  rayk::Result<std::optional<std::string>> Get(std::string_view table,
                                               std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto reply = Call({"HGET", TableKey(table), key}, "a Get");
    if (!reply.ok()) return reply.status();
    if ((*reply)->type == REDIS_REPLY_NIL) return std::optional<std::string>();
    if ((*reply)->type != REDIS_REPLY_STRING) return Unexpected("a Get", **reply);
    return std::optional<std::string>(ReplyText(**reply));
  }

  rayk::Result<std::vector<std::pair<std::string, std::string>>> GetAll(
      std::string_view table) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto reply = Call({"HGETALL", TableKey(table)}, "a GetAll");
    if (!reply.ok()) return reply.status();
    const redisReply& all = **reply;
    if (all.type != REDIS_REPLY_ARRAY || all.elements % 2 != 0) return Unexpected("a GetAll", all);
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(all.elements / 2);
    for (size_t i = 0; i + 1 < all.elements; i += 2) {
      entries.emplace_back(ReplyText(*all.element[i]), ReplyText(*all.element[i + 1]));
    }
    // std::string compares as memcmp does (char_traits<char> compares bytes
    // as unsigned), the order the contract asks for.
    std::sort(entries.begin(), entries.end());
    return entries;
  }

  Status Delete(std::string_view table, std::string_view key) override {
    rayk::GcsWriteBatch batch;
    batch.Delete(std::string(table), std::string(key));
    return Apply(batch, "a Delete");
  }

  Status Write(const rayk::GcsWriteBatch& batch) override {
    if (batch.ops.empty()) return Status::Ok();
    return Apply(batch, "a batch of " + std::to_string(batch.ops.size()) + " writes");
  }

 private:
  std::string Where() const { return "gcs.redis: Redis at " + address_; }

  void ParseAddress() {
    size_t colon = address_.rfind(':');
    int port = 0;
    if (colon != std::string::npos && colon > 0 && colon + 1 < address_.size() &&
        address_.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
        address_.size() - colon - 1 <= 5) {
      port = std::stoi(address_.substr(colon + 1));
    }
    if (port < 1 || port > 65535) {
      throw std::runtime_error("gcs.redis: address '" + address_ +
                               "' is not host:port; set [gcs.redis] address to the Redis server, "
                               "such as \"127.0.0.1:6380\"");
    }
    host_ = address_.substr(0, colon);
    // "[::1]:6380": hiredis wants the bare IPv6 address.
    if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']')
      host_ = host_.substr(1, host_.size() - 2);
    port_ = port;
  }

  static std::string OwnerName(const rayk::PluginContext& ctx) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    if (!ctx.session_dir.empty()) return std::string(host) + ":" + ctx.session_dir;
    // Outside a cluster (a tool, a test) every store is its own owner.
    std::random_device random;
    return std::string(host) + ":pid" + std::to_string(getpid()) + ":" + std::to_string(random());
  }

  std::string TableKey(std::string_view table) const {
    return prefix_ + "table:" + std::string(table);
  }

  // Sends one command and waits for its reply (null: the connection broke).
  static void* Command(redisContext* context, std::vector<std::string_view> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (std::string_view arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }

  // Opens a connection, authenticates and selects the database. A refused
  // password or database is final (retrying cannot fix it); anything else is
  // transient.
  rayk::Result<Context> OpenConnection(bool* final_failure) {
    *final_failure = false;
    Context context(redisConnectWithTimeout(host_.c_str(), port_, ToTimeval(connect_timeout_ms_)));
    if (!context || context->err) {
      std::string why = context ? context->errstr : "out of memory";
      return Status::Unavailable("gcs.redis: cannot reach Redis at " + address_ + " (" + why +
                                 "); start redis-server there or fix [gcs.redis] address");
    }
    redisSetTimeout(context.get(), ToTimeval(command_timeout_ms_));
    redisEnableKeepAlive(context.get());
    if (!password_.empty()) {
      std::vector<std::string_view> auth = {"AUTH"};
      if (!username_.empty()) auth.push_back(username_);
      auth.push_back(password_);
      Reply reply(static_cast<redisReply*>(Command(context.get(), auth)));
      if (!reply) return Status::Unavailable(Where() + " dropped the connection during AUTH");
      if (reply->type == REDIS_REPLY_ERROR) {
        *final_failure = !StartsWith(ReplyText(*reply), "LOADING");
        if (!*final_failure) return Status::Unavailable(Where() + " is loading its data");
        return Status::InvalidArgument(
            Where() + " refused the password (" + ReplyText(*reply) +
            "); set [gcs.redis] password (and username) to what the server requires");
      }
    }
    if (database_ != 0) {
      const std::string db = std::to_string(database_);
      Reply reply(static_cast<redisReply*>(Command(context.get(), {"SELECT", db})));
      if (!reply) return Status::Unavailable(Where() + " dropped the connection during SELECT");
      if (reply->type == REDIS_REPLY_ERROR) {
        *final_failure = true;
        return Status::InvalidArgument(Where() + " cannot select database " + db + " (" +
                                       ReplyText(*reply) +
                                       "); set [gcs.redis] database below the server's "
                                       "'databases' setting");
      }
    }
    return context;
  }

  Status Connect() {
    bool final_failure = false;
    auto opened = OpenConnection(&final_failure);
    if (!opened.ok()) return opened.status();
    connection_ = std::move(*opened);
    return Status::Ok();
  }

  // Turns an error reply into a status; `what` names the call.
  Failure ErrorReply(const std::string& what, const std::string& error) const {
    if (StartsWith(error, "LOADING") || StartsWith(error, "BUSY") ||
        StartsWith(error, "TRYAGAIN")) {
      return {Status::Unavailable(Where() + " is not ready (" + error + ")"), true};
    }
    if (StartsWith(error, "OOM")) {
      return {Status::IoError(Where() + " is full (" + error + "); nothing of " + what +
                              " was applied; raise its maxmemory or free memory there"),
              false};
    }
    if (StartsWith(error, "NOAUTH") || StartsWith(error, "WRONGPASS")) {
      return {Status::InvalidArgument(Where() + " requires a password (" + error +
                                      "); set [gcs.redis] password"),
              false};
    }
    if (StartsWith(error, "READONLY")) {
      return {Status::IoError(Where() + " is a read-only replica (" + error +
                              "); point [gcs.redis] address at the primary"),
              false};
    }
    // The write script's refusal: another GCS holds the prefix.
    if (StartsWith(error, "LEASE ")) {
      return {Status::IoError("gcs.redis: key prefix '" + prefix_ + "' on Redis at " + address_ +
                              " is now held by another GCS (" + error.substr(6) + "); nothing of " +
                              what + " was applied; this GCS lost its lease and must stop"),
              false};
    }
    return {Status::IoError(Where() + " failed " + what + ": " + error.substr(0, error.find('\n'))),
            false};
  }

  Status Unexpected(const std::string& what, const redisReply& reply) const {
    return Status::IoError(Where() + " gave " + what + " a reply of unexpected type " +
                           std::to_string(reply.type) + " (is it a Redis server?)");
  }

  // Runs one command on the call connection, reconnecting with backoff while
  // Redis is unreachable or loading (see the top of the file). Holds mu_.
  rayk::Result<Reply> Call(std::vector<std::string_view> args, const std::string& what) {
    const auto deadline = Clock::now() + (down_ ? milliseconds(0) : retry_timeout_);
    auto backoff = milliseconds(20);
    Status last;
    for (;;) {
      if (!connection_) {
        bool final_failure = false;
        auto opened = OpenConnection(&final_failure);
        if (opened.ok()) {
          connection_ = std::move(*opened);
        } else if (final_failure) {
          return opened.status();
        } else {
          last = opened.status();
        }
      }
      if (connection_) {
        Reply reply(static_cast<redisReply*>(Command(connection_.get(), args)));
        if (!reply) {
          last = Status::Unavailable("gcs.redis: lost the connection to Redis at " + address_ +
                                     " (" + connection_->errstr + ")");
          connection_.reset();
        } else if (reply->type == REDIS_REPLY_ERROR) {
          Failure failure = ErrorReply(what, ReplyText(*reply));
          // The refused request's bytes stay in this connection's query
          // buffer, counted against maxmemory, until Redis trims it; a new
          // connection frees them now, so a smaller write can go through.
          if (StartsWith(ReplyText(*reply), "OOM")) connection_.reset();
          if (!failure.transient) {
            down_ = false;
            return failure.status;
          }
          last = failure.status;
        } else {
          down_ = false;
          return reply;
        }
      }
      if (Clock::now() + backoff > deadline) break;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(1000));
    }
    down_ = true;
    return Status::Unavailable(last.message() + "; gave up on " + what + " after " +
                               std::to_string(retry_timeout_.count()) +
                               " ms of retries (it may not have been applied; [gcs.redis] "
                               "retry_timeout_ms sets how long to retry)");
  }

  Status Apply(const rayk::GcsWriteBatch& batch, const std::string& what) {
    const std::string lease_ms = std::to_string(lease_ms_);
    std::vector<std::string> keys;
    keys.reserve(batch.ops.size());
    bool puts = false;
    for (const auto& op : batch.ops) {
      keys.push_back(TableKey(op.table));
      puts |= op.value.has_value();
    }
    const std::string num_keys = std::to_string(batch.ops.size() + 1);
    std::vector<std::string_view> args = {"EVAL", puts ? kWriteScript : kDeleteScript, num_keys,
                                          lease_key_};
    args.insert(args.end(), keys.begin(), keys.end());
    args.push_back(owner_);
    args.push_back(lease_ms);
    for (const auto& op : batch.ops) {
      args.push_back(op.value ? "p" : "d");
      args.push_back(op.key);
      args.push_back(op.value ? std::string_view(*op.value) : std::string_view());
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto reply = Call(std::move(args), what);
    return reply.ok() ? Status::Ok() : reply.status();
  }

  void CheckAppendOnly() {
    auto reply = Call({"INFO", "persistence"}, "INFO persistence");
    if (!reply.ok()) throw std::runtime_error(reply.status().message());
    if ((*reply)->type != REDIS_REPLY_STRING && (*reply)->type != REDIS_REPLY_STATUS) return;
    if (ReplyText(**reply).find("aof_enabled:1") == std::string::npos) {
      throw std::runtime_error(
          Where() +
          " keeps no append-only file, so its restart would lose the GCS tables; start it with "
          "--appendonly yes (or set [gcs.redis] require_aof = false for a throwaway cluster)");
    }
  }

  // Runs the claim script on `context`: OK, or the live owner's name.
  static rayk::Result<std::optional<std::string>> Claim(redisContext* context,
                                                        const std::string& lease_key,
                                                        const std::string& owner,
                                                        const std::string& lease_ms) {
    Reply reply(static_cast<redisReply*>(
        Command(context, {"EVAL", kClaimScript, "1", lease_key, owner, lease_ms})));
    if (!reply) return Status::Unavailable(context->errstr);
    if (reply->type == REDIS_REPLY_ERROR) {
      // A Redis restarting from its append-only file answers LOADING meanwhile.
      if (StartsWith(ReplyText(*reply), "LOADING")) return Status::Unavailable(ReplyText(*reply));
      return Status::IoError(ReplyText(*reply));
    }
    if (reply->type == REDIS_REPLY_STRING) return std::optional<std::string>(ReplyText(*reply));
    return std::optional<std::string>();
  }

  // Takes the lease on key_prefix, waiting up to one lease length for a dead
  // holder's lease to lapse; a live holder renews it, so it never does.
  void TakeLease() {
    const std::string lease_ms = std::to_string(lease_ms_);
    const auto start = Clock::now();
    const auto deadline = start + milliseconds(lease_ms_ + 500);
    for (;;) {
      auto claimed = Claim(connection_.get(), lease_key_, owner_, lease_ms);
      const bool loading = !claimed.ok() && StartsWith(claimed.status().message(), "LOADING");
      if (loading && Clock::now() < std::max(deadline, start + retry_timeout_)) {
        std::this_thread::sleep_for(milliseconds(100));
        continue;
      }
      if (!claimed.ok()) {
        throw std::runtime_error(Where() + " cannot take the lease on key prefix '" + prefix_ +
                                 "': " + claimed.status().message());
      }
      if (!claimed->has_value()) return;
      if (Clock::now() > deadline) {
        throw std::runtime_error("gcs.redis: key prefix '" + prefix_ + "' on Redis at " + address_ +
                                 " is held by a live cluster (GCS " + **claimed +
                                 "); stop that cluster or choose another [gcs.redis] key_prefix");
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  // Renews the lease every lease_ms / 3 on its own connection, reconnecting
  // as needed; a failed renewal is tried again at the next round.
  void RenewLoop() {
    const std::string lease_ms = std::to_string(lease_ms_);
    Context context;
    std::unique_lock<std::mutex> lock(renew_mu_);
    while (!renew_cv_.wait_for(lock, milliseconds(lease_ms_ / 3), [this] { return stopping_; })) {
      lock.unlock();
      if (!context) {
        bool final_failure = false;
        auto opened = OpenConnection(&final_failure);
        if (opened.ok()) context = std::move(*opened);
      }
      if (context) {
        auto claimed = Claim(context.get(), lease_key_, owner_, lease_ms);
        if (!claimed.ok() && claimed.status().code() == rayk::StatusCode::kUnavailable)
          context.reset();
      }
      lock.lock();
    }
  }

  std::string address_, host_;
  int port_ = 0;
  std::string password_, username_;
  int64_t database_ = 0;
  std::string prefix_, lease_key_, owner_;
  int64_t connect_timeout_ms_ = 0, command_timeout_ms_ = 0, lease_ms_ = 0;
  milliseconds retry_timeout_{0};

  std::mutex mu_;  // guards the call connection and down_
  Context connection_;
  bool down_ = false;  // the last call gave up on an unreachable Redis

  std::mutex renew_mu_;
  std::condition_variable renew_cv_;
  bool stopping_ = false;
  std::thread renewer_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kGcs, "redis", "1.0",
            "Tables in an external Redis (atomic Lua writes, leased key prefix); a new head on "
            "the same Redis takes over",
            RedisGcsStore, kRedisSettings);
