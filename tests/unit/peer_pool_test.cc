// The CoreWorker's pool of channels to other processes (worker_context.h):
// one channel per address, connected without any lock held, refused with the
// transport's reason for a bad address, and closed by Clear without holding
// its lock (a closed call's callback may use the pool again).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core_worker/worker_context.h"
#include "rayk/host/plugin_loader.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class PeerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginLoader loader;
    PluginContext member;
    member.cluster_secret = "peer-pool-test-secret-0123456789";
    auto transport = loader.CreateSlot<Transport>(Config::Defaults(), member);
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    transport_ = *transport;
    auto server = transport_->Serve("tcp://127.0.0.1:0", [](std::string message, ReplyFn reply) {
      if (reply) reply("echo:" + message);
    });
    ASSERT_TRUE(server.ok()) << server.status().message();
    echo_ = std::move(*server);
  }

  std::shared_ptr<Transport> transport_;
  std::unique_ptr<Server> echo_;
};

TEST_F(PeerPoolTest, OneChannelPerAddress) {
  PeerPool pool(*transport_);
  auto first = pool.Get(echo_->endpoint());
  auto second = pool.Get(echo_->endpoint());
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(first->get(), second->get());
  auto reply = (*first)->CallSync("hello", std::chrono::seconds(20));
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(*reply, "echo:hello");
}

TEST_F(PeerPoolTest, ThreadsRacingToConnectShareOneChannel) {
  PeerPool pool(*transport_);
  std::vector<Channel*> channels(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < channels.size(); ++i) {
    threads.emplace_back([&, i] {
      auto channel = pool.Get(echo_->endpoint());
      if (channel.ok()) channels[i] = channel->get();
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_NE(channels[0], nullptr);
  for (Channel* channel : channels) EXPECT_EQ(channel, channels[0]);
}

TEST_F(PeerPoolTest, BadAddressIsAnErrorNamingIt) {
  PeerPool pool(*transport_);
  auto channel = pool.Get("nowhere:1");
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(), HasSubstr("'nowhere:1'"));
  EXPECT_THAT(channel.status().message(), HasSubstr("tcp://host:port"));
  // Nothing was cached for it, and other addresses still work.
  EXPECT_FALSE(pool.Get("nowhere:1").ok());
  EXPECT_TRUE(pool.Get(echo_->endpoint()).ok());
}

TEST_F(PeerPoolTest, ClearCompletesPendingCallsWhoseCallbacksUseThePool) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ReplyFn> unanswered;
  std::optional<Status> outcome;
  // A server that never answers keeps the call pending until its channel closes.
  auto silent = transport_->Serve("tcp://127.0.0.1:0", [&](std::string, ReplyFn reply) {
    std::lock_guard<std::mutex> lock(mu);
    unanswered.push_back(std::move(reply));
    cv.notify_all();
  });
  ASSERT_TRUE(silent.ok()) << silent.status().message();
  PeerPool pool(*transport_);
  auto channel = pool.Get((*silent)->endpoint());
  ASSERT_TRUE(channel.ok()) << channel.status().message();
  (*channel)->Call(
      "anyone?",
      [&](Result<std::string> reply) {
        // Would deadlock if Clear held the pool's lock while closing.
        auto again = pool.Get(echo_->endpoint());
        std::lock_guard<std::mutex> lock(mu);
        if (!again.ok()) {
          outcome = again.status();
        } else {
          outcome = reply.ok() ? Status::Internal("the silent server answered") : reply.status();
        }
        cv.notify_all();
      },
      kForever);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return !unanswered.empty(); }));
  }
  channel->reset();  // the pool now holds the only reference
  pool.Clear();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return outcome.has_value(); }));
  EXPECT_EQ(outcome->code(), StatusCode::kUnavailable) << outcome->message();
}

TEST_F(PeerPoolTest, TheRayletsAddressGivesTheRayletsChannel) {
  CoreWorkerOptions options;
  options.raylet_address = echo_->endpoint();
  WorkerContext context(options, transport_);
  auto raylet = transport_->Connect(echo_->endpoint());
  ASSERT_TRUE(raylet.ok()) << raylet.status().message();
  context.raylet = std::move(*raylet);
  auto channel = context.Connect(options.raylet_address);
  ASSERT_TRUE(channel.ok()) << channel.status().message();
  EXPECT_EQ(channel->get(), context.raylet.get());
}

}  // namespace
}  // namespace rayk
