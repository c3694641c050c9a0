#include "core_worker/worker_context.h"

#include <spdlog/spdlog.h>

#include "raylet/raylet.h"  // LocalHostName

namespace rayk {

namespace {

// Task events: at most this many wait for the next batch, sent this often.
constexpr size_t kTaskEventBufferSize = 10000;
constexpr auto kTaskEventPeriod = std::chrono::milliseconds(1000);

// $RAYK_TASK_EVENTS; a driver checked it in Init, so a bad value reaching a
// worker (through the raylet's environment) leaves events on, with an error.
bool TaskEventsOn() {
  auto wanted = observability::TaskEventsWanted();
  if (wanted.ok()) return *wanted;
  spdlog::error("{}", wanted.status().message());
  return true;
}

}  // namespace

void RunActions(Actions& actions) {
  for (auto& action : actions) action();
  actions.clear();
}

Result<std::shared_ptr<Channel>> PeerPool::Get(const std::string& address) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(address);
    if (it != channels_.end()) return it->second;
  }
  auto connected = transport_.Connect(address);
  if (!connected.ok()) return connected.status();
  std::shared_ptr<Channel> channel = std::move(*connected);
  std::shared_ptr<Channel> loser;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = channels_.emplace(address, channel);
    if (!inserted) {
      loser = std::move(channel);
      channel = it->second;
    }
  }
  return channel;
}

void PeerPool::Clear() {
  std::map<std::string, std::shared_ptr<Channel>> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels.swap(channels_);
  }
  // Closing a channel completes its pending calls, whose callbacks may take
  // locks of their own: no lock is held here.
  channels.clear();
}

WorkerContext::WorkerContext(CoreWorkerOptions options, std::shared_ptr<Transport> transport)
    : options(std::move(options)),
      transport(std::move(transport)),
      host_name(LocalHostName()),
      peers(*this->transport),
      task_events(
          kTaskEventBufferSize, kTaskEventPeriod,
          [this](protocol::ReportTaskEvents batch) {
            if (gcs) {
              (void)gcs->Send(protocol::Encode(protocol::MessageType::kReportTaskEvents, batch));
            }
          },
          TaskEventsOn()) {}

Result<std::shared_ptr<Channel>> WorkerContext::Connect(const std::string& address) {
  if (address == options.raylet_address) return raylet;
  return peers.Get(address);
}

}  // namespace rayk
