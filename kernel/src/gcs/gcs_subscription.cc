#include "gcs/gcs_subscription.h"

#include <spdlog/spdlog.h>

namespace rayk {

using protocol::MessageType;

GcsSubscription::GcsSubscription(Transport& transport, GcsClient& gcs,
                                 std::vector<std::string> topics, TopicHandler on_message,
                                 CatchUp catch_up)
    : transport_(transport),
      gcs_(gcs),
      topics_(std::move(topics)),
      on_message_(std::move(on_message)),
      catch_up_(std::move(catch_up)),
      last_heard_(std::make_shared<std::atomic<int64_t>>(NowTicks())) {}

GcsSubscription::~GcsSubscription() {
  std::unique_ptr<Subscription> subscription;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscription.swap(subscription_);
  }
}

Result<std::unique_ptr<GcsSubscription>> GcsSubscription::Start(Transport& transport,
                                                                GcsClient& gcs,
                                                                std::vector<std::string> topics,
                                                                TopicHandler on_message,
                                                                CatchUp catch_up) {
  std::unique_ptr<GcsSubscription> self(new GcsSubscription(
      transport, gcs, std::move(topics), std::move(on_message), std::move(catch_up)));
  RAYK_RETURN_IF_ERROR(self->Subscribe(std::chrono::milliseconds(10000)));
  return self;
}

int64_t GcsSubscription::NowTicks() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status GcsSubscription::Subscribe(std::chrono::milliseconds limit) {
  auto reply = gcs_.CallSync(
      protocol::Encode(MessageType::kGetClusterStatus, protocol::GetClusterStatus{}), limit);
  if (!reply.ok()) return reply.status();
  auto status = protocol::Decode<protocol::ClusterStatus>(*reply);
  if (!status.ok()) return status.status();
  std::vector<std::string> topics = topics_;
  topics.push_back(kGcsHeartbeatTopic);
  // The handler holds the clock, not this object: it may still run while
  // an old subscription is being destroyed.
  auto heard = last_heard_;
  TopicHandler on_message = on_message_;
  auto subscription =
      transport_.Subscribe(status->gcs.publisher_address, topics,
                           [heard, on_message](const std::string& topic, std::string payload) {
                             if (topic == kGcsHeartbeatTopic) {
                               heard->store(NowTicks());
                               return;
                             }
                             on_message(topic, std::move(payload));
                           });
  if (!subscription.ok()) return subscription.status();
  last_heard_->store(NowTicks());
  std::unique_ptr<Subscription> old;
  bool moved = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    moved = !publisher_.empty() && publisher_ != status->gcs.publisher_address;
    old = std::move(subscription_);
    subscription_ = std::move(*subscription);
    publisher_ = status->gcs.publisher_address;
  }
  old.reset();  // without mu_: it waits for the transport's thread
  if (moved) {
    spdlog::info("the GCS publishes at {} now; subscribed there", status->gcs.publisher_address);
  }
  catch_up_(*status);
  return Status::Ok();
}

void GcsSubscription::Check() {
  int64_t now = NowTicks();
  if (now - last_heard_->load() < kSilenceLimit.count() ||
      now - last_asked_ < kSilenceLimit.count()) {
    return;
  }
  last_asked_ = now;
  Status st = Subscribe(kAskLimit);
  if (!st.ok()) spdlog::debug("the GCS is silent and does not answer yet: {}", st.message());
}

std::string GcsSubscription::publisher() const {
  std::lock_guard<std::mutex> lock(mu_);
  return publisher_;
}

}  // namespace rayk
