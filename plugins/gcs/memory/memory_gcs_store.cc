// The `memory` GcsStore: every table is an ordered map in this process, gone
// when it exits. For tests and throwaway clusters.
//
// One shared_mutex guards all tables: reads share it, writes take it alone,
// which makes a whole batch visible at once.
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/plugin.h"

namespace {

using rayk::Status;

// std::less<> lets string_view keys look up without building a string.
using Table = std::map<std::string, std::string, std::less<>>;
using Tables = std::map<std::string, Table, std::less<>>;

class MemoryGcsStore : public rayk::GcsStore {
 public:
  explicit MemoryGcsStore(const rayk::PluginContext& /*ctx*/) {}

  Status Put(std::string_view table, std::string_view key, std::string_view value) override {
    rayk::GcsWriteBatch batch;
    batch.Put(std::string(table), std::string(key), std::string(value));
    return Write(batch);
  }

  rayk::Result<std::optional<std::string>> Get(std::string_view table,
                                               std::string_view key) override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto t = tables_.find(table);
    if (t == tables_.end()) return std::optional<std::string>();
    auto it = t->second.find(key);
    if (it == t->second.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  rayk::Result<std::vector<std::pair<std::string, std::string>>> GetAll(
      std::string_view table) override {
    std::vector<std::pair<std::string, std::string>> out;
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto t = tables_.find(table);
    if (t == tables_.end()) return out;
    out.reserve(t->second.size());
    for (const auto& entry : t->second) out.push_back(entry);
    return out;
  }

  Status Delete(std::string_view table, std::string_view key) override {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto t = tables_.find(table);
    if (t == tables_.end()) return Status::Ok();
    auto it = t->second.find(key);
    if (it != t->second.end()) t->second.erase(it);
    return Status::Ok();
  }

  // All-or-nothing even if memory runs out: every allocation (table, key and
  // value nodes) happens before the first change, and applying them then only
  // relinks nodes and moves strings, which cannot throw.
  Status Write(const rayk::GcsWriteBatch& batch) override {
    struct Prepared {
      std::string_view table;
      Table::node_type put;  // empty for a delete
      std::string_view key;  // for a delete
    };
    std::vector<Prepared> prepared;
    try {
      prepared.reserve(batch.ops.size());
      for (const auto& op : batch.ops) {
        Prepared p{op.table, {}, op.key};
        if (op.value) {
          Table scratch;
          p.put = scratch.extract(scratch.emplace(op.key, *op.value).first);
        }
        prepared.push_back(std::move(p));
      }
    } catch (const std::bad_alloc&) {
      return Status::OutOfMemory("memory gcs store: no memory for a batch of " +
                                 std::to_string(batch.ops.size()) + " writes; nothing was applied");
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    try {
      for (const auto& op : batch.ops) {
        if (op.value && tables_.find(op.table) == tables_.end()) tables_.emplace(op.table, Table());
      }
    } catch (const std::bad_alloc&) {
      // Only empty tables were added, which nobody can tell from absent ones.
      return Status::OutOfMemory("memory gcs store: no memory for a batch of " +
                                 std::to_string(batch.ops.size()) + " writes; nothing was applied");
    }
    for (Prepared& p : prepared) {
      auto t = tables_.find(p.table);
      if (p.put.empty()) {
        if (t != tables_.end()) {
          auto it = t->second.find(p.key);
          if (it != t->second.end()) t->second.erase(it);
        }
        continue;
      }
      auto it = t->second.find(p.put.key());
      if (it != t->second.end()) {
        it->second = std::move(p.put.mapped());
      } else {
        t->second.insert(std::move(p.put));
      }
    }
    return Status::Ok();
  }

 private:
  std::shared_mutex mu_;
  Tables tables_;
};

}  // namespace

RAYK_PLUGIN(rayk::PluginKind::kGcs, "memory", "1.0",
            "Tables in this process's memory, lost on exit; for tests and throwaway clusters",
            MemoryGcsStore, RAYK_NO_SETTINGS);
