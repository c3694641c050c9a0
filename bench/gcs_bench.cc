// GCS store microbenchmark: table writes and reads per second through the gcs
// slot, for each store the GCS server can keep its tables in: memory, sqlite
// (synchronous full and normal, in a temporary folder) and redis (a
// redis-server this program starts on a free port in a temporary folder, with
// its append-only file fsynced per write, and one fsyncing once a second; or
// the one --redis names).
//
//   build/bin/gcs_bench [--seconds 2] [--redis HOST:PORT] [--stores memory,sqlite,redis]
//
// Values are 200 bytes, keys 16, as actor and job records roughly are.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/gcs_store.h"
#include "redis_server.h"
#include "test_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct StoreUnderTest {
  std::string label;
  std::string plugin;
  rayk::RawSettingTable settings;
};

std::string Key(int i) {
  char key[17];
  std::snprintf(key, sizeof(key), "key%013d", i);
  return key;
}

// Runs `op` (which returns how many entries it handled) for `seconds`; entries per second.
double PerSecond(double seconds, const std::function<int(int)>& op) {
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  long done = 0;
  for (int i = 0; Clock::now() < end; ++i) done += op(i);
  return done / std::chrono::duration<double>(Clock::now() - start).count();
}

void Bench(const StoreUnderTest& under_test, double seconds, const std::string& session) {
  rayk::PluginLoader loader;
  rayk::PluginContext context;
  context.role = rayk::ProcessRole::kGcs;
  context.session_dir = session;
  auto created = loader.Create(rayk::PluginKind::kGcs, under_test.plugin, under_test.settings,
                               "<bench>", context);
  if (!created.ok()) {
    std::printf("%-22s %s\n", under_test.label.c_str(), created.status().message().c_str());
    return;
  }
  auto* store = static_cast<rayk::GcsStore*>(created->get());
  const std::string value(200, 'v');
  auto must = [](const rayk::Status& st) {
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      std::exit(1);
    }
  };
  double puts = PerSecond(seconds, [&](int i) {
    must(store->Put("actors", Key(i % 10000), value));
    return 1;
  });
  double batched = PerSecond(seconds, [&](int i) {
    rayk::GcsWriteBatch batch;
    for (int k = 0; k < 100; ++k) batch.Put("jobs", Key((i * 100 + k) % 10000), value);
    must(store->Write(batch));
    return 100;
  });
  double gets = PerSecond(seconds, [&](int i) {
    auto got = store->Get("actors", Key(i % 1000));
    must(got.status());
    return 1;
  });
  // GetAll of a 1000-entry table, as a restarted GCS reloads one.
  rayk::GcsWriteBatch table;
  for (int k = 0; k < 1000; ++k) table.Put("nodes", Key(k), value);
  must(store->Write(table));
  double get_alls = PerSecond(seconds, [&](int) {
    auto all = store->GetAll("nodes");
    must(all.status());
    return 1000;
  });
  std::printf("%-22s %12.0f %16.0f %12.0f %16.0f\n", under_test.label.c_str(), puts, batched, gets,
              get_alls);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  std::string redis_address, stores = "memory,sqlite,redis";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::stod(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--redis"))
      redis_address = argv[i + 1];
    else if (!std::strcmp(argv[i], "--stores"))
      stores = argv[i + 1];
    else {
      std::fprintf(stderr, "gcs_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  rayk::testing::TempDir session;
  // Two servers: the append-only file fsynced per write (the durability of
  // sqlite "full") and once a second (may lose the last second on a crash of
  // the machine). A later option overrides an earlier one in redis-server.
  std::optional<rayk::testing::RedisServer> redis, redis_everysec;
  std::string everysec_address;
  if (stores.find("redis") != std::string::npos && redis_address.empty()) {
    redis.emplace();
    redis_address = redis->address();
    redis_everysec.emplace(std::vector<std::string>{"--appendfsync", "everysec"});
    everysec_address = redis_everysec->address();
  }
  using rayk::SettingValue;
  std::vector<StoreUnderTest> all = {
      {"memory", "memory", {}},
      {"sqlite (full)", "sqlite", {{"path", {SettingValue(session.path() + "/full.sqlite"), 0}}}},
      {"sqlite (normal)",
       "sqlite",
       {{"path", {SettingValue(session.path() + "/normal.sqlite"), 0}},
        {"synchronous", {SettingValue(std::string("normal")), 0}}}},
      {"redis (aof always)", "redis", {{"address", {SettingValue(redis_address), 0}}}},
  };
  if (!everysec_address.empty()) {
    all.push_back(
        {"redis (aof everysec)", "redis", {{"address", {SettingValue(everysec_address), 0}}}});
  }
  std::printf("%-22s %12s %16s %12s %16s\n", "store", "Put/s", "batched puts/s", "Get/s",
              "GetAll rows/s");
  for (const auto& under_test : all) {
    if (stores.find(under_test.plugin) == std::string::npos) continue;
    Bench(under_test, seconds, session.path());
  }
  return 0;
}
