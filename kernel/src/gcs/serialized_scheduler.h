// SerializedScheduler: one scheduler plugin instance shared by several
// callers that each hold their own lock (the GCS's actor and placement-group
// managers). The slot's contract is that the kernel serializes calls on an
// instance, so every call goes through one mutex here.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "rayk/plugin/scheduler.h"

namespace rayk {

class SerializedScheduler : public Scheduler {
 public:
  explicit SerializedScheduler(std::shared_ptr<Scheduler> plugin) : plugin_(std::move(plugin)) {}

  SchedulingDecision Schedule(const SchedulingRequest& request, const ClusterView& view) override {
    std::lock_guard<std::mutex> lock(mu_);
    return plugin_->Schedule(request, view);
  }
  BundlePlacement PlaceBundles(const std::vector<ResourceSet>& bundles, BundleStrategy strategy,
                               const ClusterView& view) override {
    std::lock_guard<std::mutex> lock(mu_);
    return plugin_->PlaceBundles(bundles, strategy, view);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<Scheduler> plugin_;
};

}  // namespace rayk
