// GcsClient with several GCS endpoints (failover, gcs_client.h), over the
// real zmq transport: a call given a silent endpoint first moves on to the
// one that answers, and stays there; asynchronous calls do the same; a client
// with pending calls on a silent endpoint closes cleanly.
#include "gcs/gcs_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "cluster_fixture.h"
#include "process/daemons.h"
#include "rayk/host/plugin_loader.h"

namespace rayk {
namespace {

class GcsClientListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginLoader loader;
    PluginContext member;
    member.cluster_secret = "gcs-client-test-secret-0123456789";
    auto transport = loader.CreateSlot<Transport>(Config::Defaults(), member);
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    transport_ = *transport;
    auto server = transport_->Serve("tcp://127.0.0.1:0", [](std::string message, ReplyFn reply) {
      if (reply) reply("answered:" + message);
    });
    ASSERT_TRUE(server.ok()) << server.status().message();
    live_ = std::move(*server);
    // Nothing listens here: a lost head.
    silent_ = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  }

  std::shared_ptr<Transport> transport_;
  std::unique_ptr<Server> live_;
  std::string silent_;
};

TEST_F(GcsClientListTest, SplitsAndConvertsLists) {
  EXPECT_EQ(SplitGcsEndpoints("tcp://a:1,tcp://b:2"),
            (std::vector<std::string>{"tcp://a:1", "tcp://b:2"}));
  EXPECT_EQ(SplitGcsEndpoints("tcp://a:1"), (std::vector<std::string>{"tcp://a:1"}));
  EXPECT_EQ(EndpointFromAddress("10.0.0.1:6379,10.0.0.2:6379"),
            "tcp://10.0.0.1:6379,tcp://10.0.0.2:6379");
  EXPECT_EQ(AddressFromEndpoint("tcp://10.0.0.1:6379,tcp://10.0.0.2:6379"),
            "10.0.0.1:6379,10.0.0.2:6379");
}

TEST_F(GcsClientListTest, SyncCallMovesOnFromASilentGcsAndStays) {
  auto client = GcsClient::Connect(*transport_, silent_ + "," + live_->endpoint());
  ASSERT_TRUE(client.ok()) << client.status().message();
  EXPECT_TRUE((*client)->IsGcsEndpoint(live_->endpoint()));
  EXPECT_TRUE((*client)->IsGcsEndpoint(silent_));
  EXPECT_FALSE((*client)->IsGcsEndpoint("tcp://127.0.0.1:1"));
  auto reply = (*client)->CallSync("first");
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(*reply, "answered:first");
  // Now on the live one: the next call gets its answer in one attempt.
  reply = (*client)->CallSync("second", GcsClient::kAttemptTimeout / 2);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(*reply, "answered:second");
}

TEST_F(GcsClientListTest, AsyncCallMovesOnFromASilentGcs) {
  auto client = GcsClient::Connect(*transport_, silent_ + "," + live_->endpoint());
  ASSERT_TRUE(client.ok()) << client.status().message();
  std::promise<Result<std::string>> done;
  (*client)->Call("async", [&](Result<std::string> reply) { done.set_value(std::move(reply)); });
  auto reply = done.get_future().get();
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(*reply, "answered:async");
}

TEST_F(GcsClientListTest, ClosingWithACallPendingOnASilentGcs) {
  std::promise<Result<std::string>> done;
  {
    auto client = GcsClient::Connect(*transport_, silent_ + "," + live_->endpoint());
    ASSERT_TRUE(client.ok()) << client.status().message();
    (*client)->Call("pending",
                    [&](Result<std::string> reply) { done.set_value(std::move(reply)); });
  }
  auto reply = done.get_future().get();
  EXPECT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rayk
