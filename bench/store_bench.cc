// Object store microbenchmark: memcpy bandwidth for reference, then Put
// (Create + memcpy + Seal) bandwidth by object size, Get latency of a small
// and a huge object (zero copy: the same), and small put/get calls per second.
//
//   build/bin/store_bench [--store shm|memory] [--capacity 4GiB] [--big 1GiB]
//
// The store is created as a raylet would (role raylet, a temporary session).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/object_store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMiB = 1 << 20;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double MemcpyGBps(size_t size) {
  std::vector<uint8_t> src(size, 1), dst(size, 0);
  std::memcpy(dst.data(), src.data(), size);  // fault both in first
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    std::memcpy(dst.data(), src.data(), size);
    best = std::min(best, Seconds(Clock::now() - start));
  }
  return size / best / 1e9;
}

// Put bandwidth: `rounds` objects of `size`, each deleted after the next one is
// written, so the store reuses (already faulted) space as a steady workload does.
double PutGBps(rayk::ObjectStore& store, size_t size, int rounds, const std::vector<uint8_t>& src,
               double* first_put_gbps) {
  double best = 1e9;
  rayk::ObjectId previous;
  for (int i = 0; i < rounds; ++i) {
    rayk::ObjectId id = rayk::ObjectId::FromRandom();
    auto start = Clock::now();
    auto created = store.Create(id, size, true);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      std::exit(1);
    }
    std::memcpy((*created)->data(), src.data(), size);
    (void)store.Seal(id);
    created->reset();
    double took = Seconds(Clock::now() - start);
    if (i == 0 && first_put_gbps) *first_put_gbps = size / took / 1e9;
    best = std::min(best, took);
    if (!previous.IsNil()) (void)store.Delete({previous});
    previous = id;
  }
  (void)store.Delete({previous});
  return size / best / 1e9;
}

double GetMicros(rayk::ObjectStore& store, size_t size, const std::vector<uint8_t>& src) {
  rayk::ObjectId id = rayk::ObjectId::FromRandom();
  auto created = store.Create(id, size, true);
  if (!created.ok()) std::exit(1);
  std::memcpy((*created)->data(), src.data(), size);
  (void)store.Seal(id);
  created->reset();
  constexpr int kRounds = 2000;
  auto start = Clock::now();
  uint64_t sink = 0;
  for (int i = 0; i < kRounds; ++i) {
    auto got = store.Get({id}, std::chrono::milliseconds(0));
    sink += (*got)[0]->data()[size - 1];
  }
  double us = Seconds(Clock::now() - start) / kRounds * 1e6;
  (void)store.Delete({id});
  return sink == 12345 ? 0 : us;
}

}  // namespace

int main(int argc, char** argv) {
  std::string plugin = "shm", capacity = "4GiB", big = "1GiB";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--store")
      plugin = argv[i + 1];
    else if (flag == "--capacity")
      capacity = argv[i + 1];
    else if (flag == "--big")
      big = argv[i + 1];
  }
  const size_t big_bytes = static_cast<size_t>(*rayk::ParseBytes(big));
  std::string dir = (std::filesystem::temp_directory_path() / "rayk_store_bench_XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return 1;
  rayk::PluginLoader loader;
  rayk::PluginContext context;
  context.role = rayk::ProcessRole::kRaylet;
  context.session_dir = dir;
  context.node_id = rayk::NodeId::FromRandom();
  auto created = loader.Create(rayk::PluginKind::kStore, plugin, {{"capacity", {capacity, 0}}},
                               "<bench>", context);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    return 1;
  }
  auto* store = static_cast<rayk::ObjectStore*>(created->get());
  std::printf("store: %s, capacity %s\n", plugin.c_str(), capacity.c_str());
  std::printf("memcpy, one thread, 256 MiB:        %6.2f GB/s\n", MemcpyGBps(256 * kMiB));

  std::vector<uint8_t> src(big_bytes, 7);
  struct Case {
    const char* name;
    size_t size;
    int rounds;
  };
  for (const Case& c : {Case{"1 MiB", kMiB, 200}, Case{"100 MiB", 100 * kMiB, 8},
                        Case{big.c_str(), big_bytes, 4}}) {
    double first = 0;
    double steady = PutGBps(*store, c.size, c.rounds, src, &first);
    std::printf("put %-8s  first (fresh pages) %6.2f GB/s, steady %6.2f GB/s\n", c.name, first,
                steady);
  }
  std::printf("get 1 MiB:   %8.2f us per call\n", GetMicros(*store, kMiB, src));
  std::printf("get %s:   %8.2f us per call\n", big.c_str(), GetMicros(*store, big_bytes, src));

  // Small objects: 100 B put (create+copy+seal) and get calls per second.
  constexpr int kSmall = 50000;  // under shm's default max_objects (65536)
  std::vector<rayk::ObjectId> ids(kSmall);
  for (auto& id : ids) id = rayk::ObjectId::FromRandom();
  uint8_t payload[100] = {1};
  auto start = Clock::now();
  for (const auto& id : ids) {
    auto buffer = store->Create(id, sizeof(payload), false);
    if (!buffer.ok()) {
      std::fprintf(stderr, "%s\n", buffer.status().ToString().c_str());
      return 1;
    }
    std::memcpy((*buffer)->data(), payload, sizeof(payload));
    (void)store->Seal(id);
  }
  double put_s = Seconds(Clock::now() - start);
  start = Clock::now();
  for (const auto& id : ids) {
    auto got = store->Get({id}, std::chrono::milliseconds(0));
    if (!got.ok() || (*got)[0] == nullptr) return 1;
  }
  double get_s = Seconds(Clock::now() - start);
  std::printf("100 B put:   %8.0f calls/s\n", kSmall / put_s);
  std::printf("100 B get:   %8.0f calls/s\n", kSmall / get_s);
  (void)store->Delete(ids);
  created->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
