// GcsSubscription over the real zmq transport, against two stand-in heads
// that answer kGetClusterStatus with their own publisher and publish the
// GCS heartbeat: a subscription made at the first head hears its messages;
// once that head is gone and a second one publishes elsewhere, Check()
// notices the silence and subscribes at the second head, and catch_up gets
// each head's status.
#include "gcs/gcs_subscription.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "rayk/host/plugin_loader.h"

namespace rayk {
namespace {

using Clock = std::chrono::steady_clock;

// A GCS as far as a subscriber can tell: it answers every request with a
// cluster status naming its publisher, and publishes heartbeats.
class StandInHead {
 public:
  StandInHead(Transport& transport, const std::string& endpoint, int restarts) {
    auto publisher = transport.Publish("tcp://127.0.0.1:0");
    EXPECT_TRUE(publisher.ok()) << publisher.status().message();
    publisher_ = std::move(*publisher);
    protocol::ClusterStatus status;
    status.gcs.publisher_address = publisher_->endpoint();
    status.gcs.restarts = static_cast<uint32_t>(restarts);
    std::string answer = protocol::Encode(protocol::MessageType::kClusterStatus, status);
    auto server = transport.Serve(endpoint, [answer](std::string, ReplyFn reply) {
      if (reply) reply(answer);
    });
    EXPECT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    heartbeat_ = std::thread([this] {
      while (!stopping_) {
        (void)publisher_->Publish(kGcsHeartbeatTopic, "");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~StandInHead() {
    stopping_ = true;
    heartbeat_.join();
  }
  void Publish(const std::string& topic, const std::string& payload) {
    (void)publisher_->Publish(topic, payload);
  }
  std::string publisher() const { return publisher_->endpoint(); }

 private:
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<Server> server_;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

class GcsSubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginLoader loader;
    PluginContext member;
    member.cluster_secret = "gcs-subscription-test-secret-0123";
    auto transport = loader.CreateSlot<Transport>(Config::Defaults(), member);
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    transport_ = *transport;
  }

  // Publishes `payload` on `head` until the subscription has heard it (a
  // subscription misses what is published while it connects).
  bool Hears(StandInHead& head, const std::string& payload) {
    for (auto end = Clock::now() + std::chrono::seconds(30); Clock::now() < end;) {
      head.Publish("node", payload);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::string& heard : heard_) {
        if (heard == payload) return true;
      }
    }
    return false;
  }

  std::shared_ptr<Transport> transport_;
  std::mutex mu_;
  std::vector<std::string> heard_;        // with mu_
  std::vector<uint32_t> caught_up_with_;  // with mu_: the restarts field of each status
};

TEST_F(GcsSubscriptionTest, FollowsTheGcsToANewHeadThatPublishesElsewhere) {
  const std::string first_address = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string second_address = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  auto first = std::make_unique<StandInHead>(*transport_, first_address, 1);
  auto client = GcsClient::Connect(*transport_, first_address + "," + second_address);
  ASSERT_TRUE(client.ok()) << client.status().message();
  auto subscription = GcsSubscription::Start(
      *transport_, **client, {"node"},
      [this](const std::string& topic, std::string payload) {
        EXPECT_EQ(topic, "node");
        std::lock_guard<std::mutex> lock(mu_);
        heard_.push_back(std::move(payload));
      },
      [this](const protocol::ClusterStatus& status) {
        std::lock_guard<std::mutex> lock(mu_);
        caught_up_with_.push_back(status.gcs.restarts);
      });
  ASSERT_TRUE(subscription.ok()) << subscription.status().message();
  EXPECT_EQ((*subscription)->publisher(), first->publisher());
  ASSERT_TRUE(Hears(*first, "from the first head"));
  (*subscription)->Check();  // heartbeats come: nothing to do
  EXPECT_EQ((*subscription)->publisher(), first->publisher());

  first.reset();  // the head is lost
  StandInHead second(*transport_, second_address, 2);
  for (auto end = Clock::now() + std::chrono::seconds(60);
       (*subscription)->publisher() != second.publisher() && Clock::now() < end;) {
    (*subscription)->Check();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ((*subscription)->publisher(), second.publisher());
  EXPECT_TRUE(Hears(second, "from the second head"));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_GE(caught_up_with_.size(), 2u);
  EXPECT_EQ(caught_up_with_.front(), 1u);
  EXPECT_EQ(caught_up_with_.back(), 2u);
}

TEST_F(GcsSubscriptionTest, StartFailsWithTheReasonWhenNoGcsAnswers) {
  const std::string silent = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  auto client = GcsClient::Connect(*transport_, silent, std::chrono::milliseconds(500));
  ASSERT_TRUE(client.ok()) << client.status().message();
  auto subscription = GcsSubscription::Start(
      *transport_, **client, {"node"}, [](const std::string&, std::string) {},
      [](const protocol::ClusterStatus&) {});
  ASSERT_FALSE(subscription.ok());
  EXPECT_FALSE(subscription.status().message().empty());
}

}  // namespace
}  // namespace rayk
