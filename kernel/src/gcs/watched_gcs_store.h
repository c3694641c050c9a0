// WatchedGcsStore: the GCS server's view of its store's health.
//
// It wraps the gcs plugin's store, passes every call through, and remembers
// whether the last call failed, since when and why, so that `rayk status`
// can say that the store (an external Redis, say) is failing instead of
// leaving users to find it in the logs. The first success after a failure
// clears it. Thread-safe, as every GcsStore is.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "rayk/plugin/gcs_store.h"

namespace rayk {

class WatchedGcsStore : public GcsStore {
 public:
  explicit WatchedGcsStore(std::shared_ptr<GcsStore> store) : store_(std::move(store)) {}

  Status Put(std::string_view table, std::string_view key, std::string_view value) override {
    return Watch(store_->Put(table, key, value));
  }
  Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) override {
    auto got = store_->Get(table, key);
    (void)Watch(got.status());
    return got;
  }
  Result<std::vector<std::pair<std::string, std::string>>> GetAll(std::string_view table) override {
    auto all = store_->GetAll(table);
    (void)Watch(all.status());
    return all;
  }
  Status Delete(std::string_view table, std::string_view key) override {
    return Watch(store_->Delete(table, key));
  }
  Status Write(const GcsWriteBatch& batch) override { return Watch(store_->Write(batch)); }

  // Empty while the last call succeeded; else when the failures began and
  // the last one's message.
  struct Problem {
    std::string message;
    int64_t since_ms = 0;  // wall clock, ms since the epoch
  };
  Problem problem() const {
    std::lock_guard<std::mutex> lock(mu_);
    return problem_;
  }

 private:
  Status Watch(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      problem_ = {};
    } else {
      if (problem_.message.empty()) {
        problem_.since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      }
      problem_.message = status.message();
    }
    return status;
  }

  std::shared_ptr<GcsStore> store_;
  mutable std::mutex mu_;
  Problem problem_;
};

}  // namespace rayk
