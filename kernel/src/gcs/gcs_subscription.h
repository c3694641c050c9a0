// GcsSubscription: a subscription to the GCS's published topics ("node",
// "worker") that follows the GCS wherever it goes.
//
// A subscription is made to the publisher address the GCS reports. That
// address changes when a new head takes over (failover on a shared GCS store)
// or a restarted GCS publishes on another port, and a plain subscription then
// hears nothing ever again: a driver would miss every node death. So the GCS
// publishes a heartbeat on topic "gcs" every kGcsHeartbeatPeriod, and Check(),
// which its owner calls often (it is cheap), notices when none came for
// kSilenceLimit: it then asks the GCS again, through the GcsClient (which
// reaches whichever head is up), and subscribes to the address it reports.
// `catch_up` gets the cluster status of every (re)subscription, so that the
// owner can act on what was published while nobody listened (nodes that died).
//
// Thread safety: `on_message` and the heartbeat run on the transport's
// subscriber thread; Check() on one thread of the owner's (it may block up to
// kAskLimit while it asks). Destroy it without holding a lock that
// `on_message` or `catch_up` takes: destruction waits for the transport's
// thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gcs/gcs_client.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {

// How often the GCS publishes its heartbeat, and the topic it uses. Three
// fit in kSilenceLimit, so a subscriber looks for the GCS elsewhere only
// after three are missed; no more often, since each one wakes every
// subscriber (every raylet of the cluster).
constexpr auto kGcsHeartbeatPeriod = std::chrono::milliseconds(1000);
constexpr const char* kGcsHeartbeatTopic = "gcs";

class GcsSubscription {
 public:
  // No heartbeat for this long: the publisher is asked for again.
  static constexpr std::chrono::milliseconds kSilenceLimit{3000};
  // How long one Check() may wait for the GCS's answer.
  static constexpr std::chrono::milliseconds kAskLimit{2000};

  using CatchUp = std::function<void(const protocol::ClusterStatus&)>;

  // Asks the GCS for its publisher and subscribes to `topics` there; fails
  // with the reason when the GCS does not answer or the subscription fails.
  static Result<std::unique_ptr<GcsSubscription>> Start(Transport& transport, GcsClient& gcs,
                                                        std::vector<std::string> topics,
                                                        TopicHandler on_message, CatchUp catch_up);
  ~GcsSubscription();

  // Resubscribes when the GCS has been silent for kSilenceLimit (at most
  // once per kSilenceLimit while it stays silent).
  void Check();

  // The publisher address subscribed to now.
  std::string publisher() const;

 private:
  GcsSubscription(Transport& transport, GcsClient& gcs, std::vector<std::string> topics,
                  TopicHandler on_message, CatchUp catch_up);
  // Asks for the status, subscribes at its publisher, then calls catch_up.
  Status Subscribe(std::chrono::milliseconds limit);
  static int64_t NowTicks();

  Transport& transport_;
  GcsClient& gcs_;
  const std::vector<std::string> topics_;
  const TopicHandler on_message_;
  const CatchUp catch_up_;
  // Steady-clock milliseconds of the last heartbeat (or subscription), and
  // of the last time Check() asked.
  std::shared_ptr<std::atomic<int64_t>> last_heard_;
  int64_t last_asked_ = 0;  // Check()'s thread only
  mutable std::mutex mu_;
  std::unique_ptr<Subscription> subscription_;  // with mu_
  std::string publisher_;                       // with mu_
};

}  // namespace rayk
