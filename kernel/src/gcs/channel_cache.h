// What the GCS's managers share for talking to raylets and workers: a cache
// of channels by address, and deferred actions.
//
// A manager decides under its own lock and calls the transport after
// releasing it: it collects what to send as Actions and runs them once
// unlocked (RunActions). ChannelCache is not synchronized: its owner's lock
// guards it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rayk/plugin/transport.h"

namespace rayk {

using GcsActions = std::vector<std::function<void()>>;

inline void RunActions(GcsActions& actions) {
  for (auto& action : actions) action();
  actions.clear();
}

class ChannelCache {
 public:
  explicit ChannelCache(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

  // The channel to `address`, connected on first use; null when it cannot be.
  std::shared_ptr<Channel> To(const std::string& address) {
    auto& channel = channels_[address];
    if (!channel) {
      auto connected = transport_->Connect(address);
      if (!connected.ok()) {
        channels_.erase(address);
        return nullptr;
      }
      channel = std::move(*connected);
    }
    return channel;
  }

  // Every channel, taken out, so that its owner can close them unlocked.
  std::map<std::string, std::shared_ptr<Channel>> TakeAll() { return std::exchange(channels_, {}); }

 private:
  std::shared_ptr<Transport> transport_;
  std::map<std::string, std::shared_ptr<Channel>> channels_;
};

}  // namespace rayk
