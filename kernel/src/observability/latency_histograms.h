// LatencyHistograms: how long a server took to answer each type of request,
// one histogram per message type, for the `rayk_gcs_request_duration_seconds`
// metric.
//
// The buckets are fixed (100 us to 10 s), which covers a local GCS call
// (about 100 us) as well as a long poll. Recording is a few relaxed atomic
// increments, cheap enough for every request on the dispatch path.
// Thread-safe: Record and Snapshot may run on any threads at once; a snapshot
// taken during recording may lag a count behind its sum, which a scrape
// tolerates.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "observability/exposition.h"
#include "rpc/message_type.h"

namespace rayk::observability {

class LatencyHistograms {
 public:
  // Upper bounds in seconds.
  static constexpr std::array<double, 15> kBucketBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

  void Record(protocol::MessageType type, std::chrono::nanoseconds duration);

  struct Entry {
    protocol::MessageType type;
    HistogramData data;
  };
  // The histograms of every type seen at least once, by type number.
  std::vector<Entry> Snapshot() const;

 private:
  struct PerType {
    std::array<std::atomic<uint64_t>, kBucketBounds.size() + 1> counts{};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<PerType, 256> types_{};  // by message type number, 35 KiB
};

}  // namespace rayk::observability
