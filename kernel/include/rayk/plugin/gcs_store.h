// GcsStore: the slot the GCS server keeps its tables in.
//
// A GcsStore is a set of named tables, each a map from a byte-string key to a
// byte-string value. The GCS server builds its node, job, actor,
// placement-group and KV tables on it; a durable plugin (sqlite) lets a
// restarted GCS reload them, a volatile one (memory) forgets on exit.
//
// Thread safety: every method may be called from any thread concurrently.
// Writes are atomic: a Put, a Delete or a whole Write(batch) is either fully
// applied or not at all, and a durable plugin has it on disk when the call
// returns OK. Failure: kIoError names the file and the cause (disk full,
// locked, corrupt); a failed write leaves the previous contents intact.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rayk/plugin/plugin.h"
#include "rayk/status.h"

namespace rayk {

// A group of writes applied atomically by GcsStore::Write.
struct GcsWriteBatch {
  struct Op {
    std::string table;
    std::string key;
    std::optional<std::string> value;  // empty: delete
  };
  std::vector<Op> ops;

  void Put(std::string table, std::string key, std::string value) {
    ops.push_back({std::move(table), std::move(key), std::move(value)});
  }
  void Delete(std::string table, std::string key) {
    ops.push_back({std::move(table), std::move(key), std::nullopt});
  }
};

class GcsStore {
 public:
  virtual ~GcsStore() = default;

  virtual Status Put(std::string_view table, std::string_view key, std::string_view value) = 0;
  // An empty optional when the key is absent.
  virtual Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) = 0;
  // Every entry of a table, ordered by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> GetAll(
      std::string_view table) = 0;
  // Deleting an absent key is OK.
  virtual Status Delete(std::string_view table, std::string_view key) = 0;
  virtual Status Write(const GcsWriteBatch& batch) = 0;
};

}  // namespace rayk
