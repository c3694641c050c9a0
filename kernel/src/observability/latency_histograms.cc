#include "observability/latency_histograms.h"

#include <algorithm>

namespace rayk::observability {

void LatencyHistograms::Record(protocol::MessageType type, std::chrono::nanoseconds duration) {
  PerType& histogram = types_[static_cast<uint8_t>(type)];
  double seconds = std::chrono::duration<double>(duration).count();
  size_t bucket =
      std::lower_bound(kBucketBounds.begin(), kBucketBounds.end(), seconds) - kBucketBounds.begin();
  histogram.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  histogram.sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(duration.count(), 0)),
                             std::memory_order_relaxed);
}

std::vector<LatencyHistograms::Entry> LatencyHistograms::Snapshot() const {
  std::vector<Entry> out;
  for (size_t type = 0; type < types_.size(); ++type) {
    const PerType& histogram = types_[type];
    Entry entry{static_cast<protocol::MessageType>(type), {}};
    entry.data.upper_bounds.assign(kBucketBounds.begin(), kBucketBounds.end());
    uint64_t total = 0;
    for (const auto& count : histogram.counts) {
      entry.data.counts.push_back(count.load(std::memory_order_relaxed));
      total += entry.data.counts.back();
    }
    if (total == 0) continue;
    entry.data.sum = static_cast<double>(histogram.sum_ns.load(std::memory_order_relaxed)) / 1e9;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace rayk::observability
