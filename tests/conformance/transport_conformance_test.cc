// Conformance suite for the transport slot: every transport plugin on the
// plugin search path runs the same cases against the contract of
// rayk/plugin/transport.h. zmq and asio run them twice, over tcp:// and over ipc://
// (Unix sockets); a plugin this file does not know is tested on tcp://127.0.0.1:0.
//
// The last tests are zmq-only: they speak to the plugin with raw ZeroMQ
// sockets to check that frames which do not decode are dropped (with
// authentication off, which zmq_auth_test.cc covers).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../../plugins/transport/zmq/zmq_frame.h"
#include "conformance/conformance.h"
#include "rayk/plugin/transport.h"

namespace rayk {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ::rayk::testing::CreatePlugin;

// Generous bounds against hangs, never performance checks (DESIGN.md 7).
constexpr auto kLong = 30s;
constexpr auto kWait = 10s;

// Every transport here is a member of one cluster (zmq authenticates with it).
PluginContext Member() {
  PluginContext context;
  context.cluster_secret = "transport-conformance-secret-0123456789";
  return context;
}

// zmq without authentication, for raw ZeroMQ peers.
const RawSettingTable kNoAuth = {{"auth", RawSetting{false, 0}}};

// A test parameter is "<plugin>" or "<plugin>#<flavor>".
std::vector<std::string> TransportCases() {
  std::vector<std::string> cases;
  for (const std::string& name : ::rayk::testing::PluginsOfKind(PluginKind::kTransport)) {
    if (name == "zmq" || name == "asio") {
      cases.push_back(name + "#tcp");
      cases.push_back(name + "#ipc");
    } else {
      cases.push_back(name);
    }
  }
  return cases;
}

bool HasPlugin(const std::string& name) {
  for (const std::string& found : ::rayk::testing::PluginsOfKind(PluginKind::kTransport)) {
    if (found == name) return true;
  }
  return false;
}

// Counts events and waits for a count to be reached.
class Counter {
 public:
  void Add(int n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    count_ += n;
    cv_.notify_all();
  }
  bool WaitFor(int target, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= target; });
  }
  int value() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// The reply, or the error as text, so that a failed call fails the check
// rather than the test binary.
std::string Text(const Result<std::string>& result) {
  return result.ok() ? result.value() : "<" + result.status().ToString() + ">";
}

void Echo(std::string message, ReplyFn reply) {
  if (reply) reply("echo:" + message);
}

// Collects what a subscription receives.
class Inbox {
 public:
  TopicHandler Handler() {
    return [this](const std::string& topic, std::string payload) {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.emplace_back(topic, std::move(payload));
      cv_.notify_all();
    };
  }
  bool Has(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : messages_) {
      if (m.first == topic) return true;
    }
    return false;
  }
  bool WaitFor(const std::string& topic, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& m : messages_) {
        if (m.first == topic) return true;
      }
      return false;
    });
  }
  // "topic=payload" for every message but the warm-up ones.
  std::vector<std::string> Received(const std::string& skip_topic) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [topic, payload] : messages_) {
      if (topic != skip_topic) out.push_back(topic + "=" + payload);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

class TransportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& param = GetParam();
    // "zmq#tcp": a plugin and its flavour ('#', as a plugin file's path has slashes).
    size_t mark = param.rfind('#');
    plugin_ = param.substr(0, mark);
    flavor_ = mark == std::string::npos ? "" : param.substr(mark + 1);
    transport_ = CreatePlugin<Transport>(plugin_, {}, Member());
    ASSERT_NE(transport_, nullptr);
  }

  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // An endpoint to serve or publish on: each call gives a fresh one.
  std::string ServeEndpoint(const std::string& name) {
    if (flavor_ == "ipc") return "ipc://" + Dir() + "/" + name + "-" + std::to_string(++counter_);
    if (plugin_ == "inproc") return "inproc://" + name + ":0";
    return "tcp://127.0.0.1:0";
  }

  // An endpoint known before anything serves it.
  std::string FixedEndpoint(const std::string& name) {
    if (flavor_ == "ipc") return ServeEndpoint(name);
    if (plugin_ == "inproc") return "inproc://" + name + "-" + std::to_string(++counter_);
    // Ask the kernel for a free port and free it again at once. (Not through
    // the plugin: ZeroMQ closes listeners in the background, and a channel
    // could reach the dying one.)
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
              getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    if (fd >= 0) close(fd);
    EXPECT_TRUE(ok) << "no free tcp port";
    return ok ? "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) : "";
  }

  std::unique_ptr<Server> Serve(const std::string& name, MessageHandler handler) {
    auto server = transport_->Serve(ServeEndpoint(name), std::move(handler));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  }

  std::unique_ptr<Channel> Connect(const std::string& endpoint) {
    auto channel = transport_->Connect(endpoint);
    EXPECT_TRUE(channel.ok()) << channel.status().ToString();
    return channel.ok() ? std::move(*channel) : nullptr;
  }

  std::string Dir() {
    if (dir_.empty()) {
      // Under /tmp, not TMPDIR: ipc:// paths must stay short (108 bytes).
      char pattern[] = "/tmp/rayk-transport-XXXXXX";
      dir_ = mkdtemp(pattern);
    }
    return dir_;
  }

  std::string plugin_;
  std::string flavor_;
  std::shared_ptr<Transport> transport_;

 private:
  std::string dir_;
  int counter_ = 0;
};

TEST_P(TransportTest, RequestReply) {
  auto server = Serve("rr", Echo);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  ASSERT_NE(channel, nullptr);
  EXPECT_EQ(channel->endpoint(), server->endpoint());

  auto reply = channel->CallSync("hello", kLong);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "echo:hello");

  std::promise<Result<std::string>> async_reply;
  channel->Call(
      "async", [&](Result<std::string> r) { async_reply.set_value(std::move(r)); }, kLong);
  auto future = async_reply.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  auto value = future.get();
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(*value, "echo:async");

  auto empty = channel->CallSync("", kLong);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "echo:");
  std::string binary("a\0b\xff", 4);
  auto binary_reply = channel->CallSync(binary, kLong);
  ASSERT_TRUE(binary_reply.ok());
  EXPECT_EQ(*binary_reply, "echo:" + binary);
}

TEST_P(TransportTest, PortZeroGivesEachServerItsOwnEndpoint) {
  auto a = Serve("twin", [](std::string m, ReplyFn r) { r("a:" + m); });
  auto b = Serve("twin", [](std::string m, ReplyFn r) { r("b:" + m); });
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->endpoint(), b->endpoint());
  EXPECT_EQ(a->endpoint().find(":0", a->endpoint().size() - 2), std::string::npos) << a->endpoint();
  auto to_a = Connect(a->endpoint());
  auto to_b = Connect(b->endpoint());
  EXPECT_EQ(Text(to_a->CallSync("x", kLong)), "a:x");
  EXPECT_EQ(Text(to_b->CallSync("x", kLong)), "b:x");
}

TEST_P(TransportTest, RejectsMalformedEndpoints) {
  EXPECT_EQ(transport_->Serve("no-scheme-here", Echo).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->Connect("no-scheme-here").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->Publish("no-scheme-here").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_->Subscribe("no-scheme-here", {""}, [](const std::string&, std::string) {})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_P(TransportTest, ServingATakenEndpointFails) {
  if (plugin_ == "zmq" && flavor_ == "ipc") {
    GTEST_SKIP() << "ZeroMQ's ipc:// takes over a path that is in use";
  }
  auto first = Serve("taken", Echo);
  ASSERT_NE(first, nullptr);
  auto second = transport_->Serve(first->endpoint(), Echo);
  EXPECT_FALSE(second.ok());
  auto channel = Connect(first->endpoint());
  EXPECT_EQ(Text(channel->CallSync("still", kLong)), "echo:still");
}

TEST_P(TransportTest, TenThousandPipelinedCallsAreMatched) {
  constexpr int kCalls = 10000;
  Counter done;
  std::atomic<int> failed{0}, mismatched{0};
  auto server = Serve("pipe", Echo);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  for (int i = 0; i < kCalls; ++i) {
    channel->Call(
        std::to_string(i),
        [&, i](Result<std::string> r) {
          if (!r.ok()) {
            ++failed;
          } else if (*r != "echo:" + std::to_string(i)) {
            ++mismatched;
          }
          done.Add();
        },
        kLong);
  }
  ASSERT_TRUE(done.WaitFor(kCalls, kLong)) << done.value() << " of " << kCalls << " completed";
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(mismatched, 0);
}

TEST_P(TransportTest, RepliesSentLaterFromAnotherThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, ReplyFn>> held;
  bool stop = false;
  std::thread replier([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait(lock, [&] { return stop || !held.empty(); });
      if (stop) return;
      auto [message, reply] = std::move(held.front());
      held.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(100us);
      reply("later:" + message);
      lock.lock();
    }
  });
  Counter done;
  std::atomic<int> bad{0};
  {
    auto server = Serve("later", [&](std::string message, ReplyFn reply) {
      std::lock_guard<std::mutex> lock(mu);
      held.emplace_back(std::move(message), std::move(reply));
      cv.notify_one();
    });
    ASSERT_NE(server, nullptr);
    auto channel = Connect(server->endpoint());
    auto reply = channel->CallSync("sync", kLong);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(*reply, "later:sync");
    for (int i = 0; i < 200; ++i) {
      channel->Call(
          std::to_string(i),
          [&, i](Result<std::string> r) {
            if (!r.ok() || *r != "later:" + std::to_string(i)) ++bad;
            done.Add();
          },
          kLong);
    }
    EXPECT_TRUE(done.WaitFor(200));
    EXPECT_EQ(bad, 0);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_one();
  }
  replier.join();
}

// Replies made in bursts by several threads (as executors answer pipelined
// calls) all arrive, matched, while the connection still owes one it holds
// back: a transport that writes a burst together (asio leaves a reply to its
// loop thread while more are owed) must not wait for the held one. A ReplyFn
// dropped unanswered must not hold anything back either.
TEST_P(TransportTest, BurstsOfRepliesArriveWhileOneIsStillOwed) {
  constexpr int kThreads = 3;
  constexpr int kCalls = 600;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, ReplyFn>> queued;
  ReplyFn held;
  bool stop = false;
  std::vector<std::thread> repliers;
  for (int t = 0; t < kThreads; ++t) {
    repliers.emplace_back([&] {
      std::unique_lock<std::mutex> lock(mu);
      while (true) {
        cv.wait(lock, [&] { return stop || !queued.empty(); });
        if (stop) return;
        // Take a run of them, then answer them back to back.
        std::vector<std::pair<std::string, ReplyFn>> run;
        while (!queued.empty() && run.size() < 16) {
          run.push_back(std::move(queued.front()));
          queued.pop_front();
        }
        lock.unlock();
        for (auto& [message, reply] : run) reply("burst:" + message);
        lock.lock();
      }
    });
  }
  Counter done;
  std::atomic<int> bad{0};
  {
    auto server = Serve("burst", [&](std::string message, ReplyFn reply) {
      if (message == "drop") return;  // never answered: ends at its timeout
      std::lock_guard<std::mutex> lock(mu);
      if (message == "hold") {
        held = std::move(reply);
        return;
      }
      queued.emplace_back(std::move(message), std::move(reply));
      cv.notify_one();
    });
    ASSERT_NE(server, nullptr);
    auto channel = Connect(server->endpoint());
    std::promise<Result<std::string>> held_reply;
    channel->Call(
        "hold", [&](Result<std::string> r) { held_reply.set_value(std::move(r)); }, kLong);
    Counter dropped;
    channel->Call(
        "drop", [&](Result<std::string> r) { dropped.Add(r.ok() ? 100 : 1); }, 300ms);
    for (int i = 0; i < kCalls; ++i) {
      channel->Call(
          std::to_string(i),
          [&, i](Result<std::string> r) {
            if (!r.ok() || *r != "burst:" + std::to_string(i)) ++bad;
            done.Add();
          },
          kLong);
    }
    EXPECT_TRUE(done.WaitFor(kCalls, kLong)) << done.value() << " of " << kCalls;
    EXPECT_EQ(bad, 0);
    ASSERT_TRUE(dropped.WaitFor(1));
    EXPECT_EQ(dropped.value(), 1) << "the dropped call must time out, not be answered";
    // With only the held reply owed, a lone call is answered as before.
    EXPECT_EQ(Text(channel->CallSync("lone", kLong)), "burst:lone");
    {
      std::lock_guard<std::mutex> lock(mu);
      ASSERT_TRUE(held != nullptr);
      held("released");
    }
    auto future = held_reply.get_future();
    ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(Text(future.get()), "released");
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  }
  for (std::thread& replier : repliers) replier.join();
}

TEST_P(TransportTest, OutOfOrderRepliesAreMatched) {
  constexpr int kCalls = 64;
  std::vector<std::pair<std::string, ReplyFn>> held;
  Counter done;
  std::atomic<int> bad{0};
  std::vector<int> completion_order;
  std::mutex order_mu;
  // The handler holds every request and answers them all, last first, once the
  // last has come in.
  auto server = Serve("ooo", [&](std::string message, ReplyFn reply) {
    held.emplace_back(std::move(message), std::move(reply));
    if (held.size() < kCalls) return;
    for (auto it = held.rbegin(); it != held.rend(); ++it) it->second("re:" + it->first);
    held.clear();
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  for (int i = 0; i < kCalls; ++i) {
    channel->Call(
        std::to_string(i),
        [&, i](Result<std::string> r) {
          if (!r.ok() || *r != "re:" + std::to_string(i)) ++bad;
          {
            std::lock_guard<std::mutex> lock(order_mu);
            completion_order.push_back(i);
          }
          done.Add();
        },
        kLong);
  }
  ASSERT_TRUE(done.WaitFor(kCalls));
  EXPECT_EQ(bad, 0);
  std::lock_guard<std::mutex> lock(order_mu);
  EXPECT_EQ(completion_order.front(), kCalls - 1);
}

TEST_P(TransportTest, OneWayMessagesArriveInOrder) {
  constexpr int kMessages = 2000;
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> with_reply{0};
  auto server = Serve("oneway", [&](std::string message, ReplyFn reply) {
    {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(std::move(message));
    }
    if (reply) {
      ++with_reply;
      reply("done");
    }
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(channel->Send(std::to_string(i)).ok());
  // A call sent after the one-way messages is handled after them.
  auto reply = channel->CallSync("last", kLong);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(with_reply, 1);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(got.size(), kMessages + 1u);
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[i], std::to_string(i));
  EXPECT_EQ(got.back(), "last");
}

TEST_P(TransportTest, TimesOutWhenTheHandlerNeverReplies) {
  std::mutex mu;
  std::vector<ReplyFn> held;
  auto server = Serve("silent", [&](std::string message, ReplyFn reply) {
    if (message.rfind("hold", 0) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(reply));
    } else {
      Echo(std::move(message), std::move(reply));
    }
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());

  auto start = Clock::now();
  auto sync = channel->CallSync("hold-sync", 200ms);
  EXPECT_EQ(sync.status().code(), StatusCode::kTimedOut) << sync.status().ToString();
  EXPECT_GE(Clock::now() - start, 150ms);

  std::promise<Result<std::string>> async_reply;
  channel->Call(
      "hold-async", [&](Result<std::string> r) { async_reply.set_value(std::move(r)); }, 200ms);
  auto future = async_reply.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(future.get().status().code(), StatusCode::kTimedOut);

  // Late replies to the timed-out calls must not be taken for later ones.
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(held.size(), 2u);
    for (ReplyFn& reply : held) reply("late");
  }
  auto after = channel->CallSync("fresh", kLong);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, "echo:fresh");
  std::promise<Result<std::string>> second;
  channel->Call(
      "fresh2", [&](Result<std::string> r) { second.set_value(std::move(r)); }, kLong);
  auto second_future = second.get_future();
  ASSERT_EQ(second_future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(Text(second_future.get()), "echo:fresh2");
}

TEST_P(TransportTest, CallsBeforeTheServerIsUpAreDeliveredOnceItIs) {
  Counter one_way;
  std::string endpoint = FixedEndpoint("late");
  ASSERT_FALSE(endpoint.empty());
  auto channel = Connect(endpoint);
  ASSERT_NE(channel, nullptr);
  std::promise<Result<std::string>> early;
  channel->Call(
      "early", [&](Result<std::string> r) { early.set_value(std::move(r)); }, kLong);
  ASSERT_TRUE(channel->Send("early-one-way").ok());
  std::this_thread::sleep_for(150ms);

  auto server = transport_->Serve(endpoint, [&](std::string message, ReplyFn reply) {
    if (!reply) one_way.Add();
    Echo(std::move(message), std::move(reply));
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto future = early.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  auto reply = future.get();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "echo:early");
  EXPECT_TRUE(one_way.WaitFor(1));
  EXPECT_EQ(Text(channel->CallSync("now", kLong)), "echo:now");
}

TEST_P(TransportTest, DestroyingAChannelFailsItsPendingCallsWithUnavailable) {
  constexpr int kCalls = 100;
  std::mutex mu;
  std::vector<ReplyFn> held;
  Counter received, unavailable;
  std::atomic<int> other{0};
  auto server = Serve("pending", [&](std::string, ReplyFn reply) {
    std::lock_guard<std::mutex> lock(mu);
    held.push_back(std::move(reply));
    received.Add();
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  for (int i = 0; i < kCalls; ++i) {
    channel->Call(
        "x",
        [&](Result<std::string> r) {
          if (r.status().code() == StatusCode::kUnavailable) {
            unavailable.Add();
          } else {
            ++other;
          }
        },
        kLong);
  }
  ASSERT_TRUE(received.WaitFor(kCalls));
  auto start = Clock::now();
  channel.reset();
  EXPECT_TRUE(unavailable.WaitFor(kCalls, 5s)) << unavailable.value();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(other, 0);
  // Replying to a channel that is gone is harmless.
  std::lock_guard<std::mutex> lock(mu);
  for (ReplyFn& reply : held) reply("too late");
}

TEST_P(TransportTest, CarriesEightMebibyteMessages) {
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
  auto server = Serve("big", [](std::string message, ReplyFn reply) {
    message.push_back('!');
    reply(std::move(message));
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  auto reply = channel->CallSync(big, kLong);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  ASSERT_EQ(reply->size(), big.size() + 1);
  EXPECT_TRUE(reply->compare(0, big.size(), big) == 0);

  std::promise<Result<std::string>> async_reply;
  channel->Call(
      big, [&](Result<std::string> r) { async_reply.set_value(std::move(r)); }, kLong);
  auto future = async_reply.get_future();
  ASSERT_EQ(future.wait_for(kLong), std::future_status::ready);
  auto value = future.get();
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->size(), big.size() + 1);
}

TEST_P(TransportTest, PublishSubscribeFiltersByPrefix) {
  Inbox nodes, mixed, all;
  auto publisher = transport_->Publish(ServeEndpoint("pub"));
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  std::string endpoint = (*publisher)->endpoint();
  auto sub_nodes = transport_->Subscribe(endpoint, {"node."}, nodes.Handler());
  auto sub_mixed = transport_->Subscribe(endpoint, {"node.1", "job."}, mixed.Handler());
  auto sub_all = transport_->Subscribe(endpoint, {""}, all.Handler());
  ASSERT_TRUE(sub_nodes.ok() && sub_mixed.ok() && sub_all.ok());

  // Subscriptions connect in the background; publish a topic all of them
  // take until each has seen it.
  const std::string warmup = "node.1.warmup";
  auto deadline = Clock::now() + kWait;
  while (!(nodes.Has(warmup) && mixed.Has(warmup) && all.Has(warmup)) && Clock::now() < deadline) {
    ASSERT_TRUE((*publisher)->Publish(warmup, "").ok());
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(nodes.Has(warmup) && mixed.Has(warmup) && all.Has(warmup));

  for (const auto& [topic, payload] :
       std::vector<std::pair<std::string, std::string>>{{"node.1", "p1"},
                                                        {"node.2", "p2"},
                                                        {"job.7", "p3"},
                                                        {"other", "p4"},
                                                        {"nodes", "p5"},
                                                        {"node.1.done", "end"}}) {
    ASSERT_TRUE((*publisher)->Publish(topic, payload).ok());
  }
  ASSERT_TRUE(nodes.WaitFor("node.1.done"));
  ASSERT_TRUE(mixed.WaitFor("node.1.done"));
  ASSERT_TRUE(all.WaitFor("node.1.done"));
  EXPECT_EQ(nodes.Received(warmup),
            (std::vector<std::string>{"node.1=p1", "node.2=p2", "node.1.done=end"}));
  EXPECT_EQ(mixed.Received(warmup),
            (std::vector<std::string>{"node.1=p1", "job.7=p3", "node.1.done=end"}));
  EXPECT_EQ(all.Received(warmup),
            (std::vector<std::string>{"node.1=p1", "node.2=p2", "job.7=p3", "other=p4", "nodes=p5",
                                      "node.1.done=end"}));

  // A subscription that is gone gets nothing more, and the rest still work.
  sub_nodes->reset();
  ASSERT_TRUE((*publisher)->Publish("node.9", "after").ok());
  EXPECT_TRUE(all.WaitFor("node.9"));
}

TEST_P(TransportTest, DestroyingABusyServerIsSafe) {
  constexpr int kCalls = 2000;
  std::mutex mu;
  std::vector<ReplyFn> held;
  std::atomic<int> handled{0};
  Counter done;
  auto server = Serve("busy", [&](std::string message, ReplyFn reply) {
    if (++handled % 10 == 0) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(reply));
      return;
    }
    std::this_thread::sleep_for(50us);
    Echo(std::move(message), std::move(reply));
  });
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  for (int i = 0; i < kCalls; ++i) {
    channel->Call(
        "x", [&](Result<std::string>) { done.Add(); }, 500ms);
  }
  auto deadline = Clock::now() + kWait;
  while (handled < 100 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  auto start = Clock::now();
  server.reset();
  EXPECT_LT(Clock::now() - start, 5s);
  // Every call completes: answered before the server went, or timed out.
  EXPECT_TRUE(done.WaitFor(kCalls)) << done.value();
  // ReplyFns kept past their server are harmless.
  {
    std::lock_guard<std::mutex> lock(mu);
    for (ReplyFn& reply : held) reply("orphan");
  }
  channel.reset();
}

TEST_P(TransportTest, DestroyingABusyChannelIsSafe) {
  constexpr int kCalls = 5000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<ReplyFn> held;
  bool stop = false;
  // Replies come from another thread while the channel goes away.
  std::thread replier([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait(lock, [&] { return stop || !held.empty(); });
      if (stop) return;
      ReplyFn reply = std::move(held.front());
      held.pop_front();
      lock.unlock();
      reply("ok");
      lock.lock();
    }
  });
  std::atomic<int> completions{0};
  Counter ok;
  {
    auto server = Serve("busychan", [&](std::string, ReplyFn reply) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(reply));
      cv.notify_one();
    });
    ASSERT_NE(server, nullptr);
    auto channel = Connect(server->endpoint());
    for (int i = 0; i < kCalls; ++i) {
      channel->Call(
          "x",
          [&](Result<std::string> r) {
            ++completions;
            if (r.ok()) ok.Add();
          },
          kLong);
    }
    ok.WaitFor(100);
    channel.reset();
    // Every call completed exactly once: with its reply or kUnavailable.
    auto deadline = Clock::now() + kWait;
    while (completions < kCalls && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(completions, kCalls);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_one();
  }
  replier.join();
  EXPECT_EQ(completions, kCalls);
}

TEST_P(TransportTest, ConcurrentCallSyncFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 300;
  std::atomic<int> bad{0};
  Counter async_done;
  auto server = Serve("concurrent", Echo);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(server->endpoint());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        std::string request = std::to_string(t) + "-" + std::to_string(i);
        auto reply = channel->CallSync(request, kLong);
        if (!reply.ok() || *reply != "echo:" + request) ++bad;
      }
    });
  }
  // Async calls in the middle of it all.
  for (int i = 0; i < kCallsPerThread; ++i) {
    channel->Call(
        "async-" + std::to_string(i),
        [&, i](Result<std::string> r) {
          if (!r.ok() || *r != "echo:async-" + std::to_string(i)) ++bad;
          async_done.Add();
        },
        kLong);
    if (i % 50 == 0) std::this_thread::sleep_for(1ms);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(async_done.WaitFor(kCallsPerThread));
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, TransportTest, ::testing::ValuesIn(TransportCases()),
                         ::rayk::testing::ParamName);

TEST(TransportPlugins, BuiltInTransportsAreFound) {
  EXPECT_TRUE(HasPlugin("inproc"));
  EXPECT_TRUE(HasPlugin("zmq"));
  EXPECT_TRUE(HasPlugin("asio"));
}

// --- zmq only: raw ZeroMQ peers that send what the plugin never would. ---

using zmq_transport::DecodeFrameHeader;
using zmq_transport::DecodeFramePrefix;
using zmq_transport::EncodeFrameHeader;
using zmq_transport::FrameType;

void SendParts(zmq::socket_t& socket, const std::vector<std::string>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    ASSERT_TRUE(socket.send(zmq::buffer(parts[i]), flags));
  }
}

std::vector<zmq::message_t> ReceiveParts(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  std::vector<zmq::message_t> parts;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return parts;
  auto received = zmq::recv_multipart(socket, std::back_inserter(parts));
  EXPECT_TRUE(received.has_value());
  return parts;
}

TEST(ZmqTransport, FramesThatDoNotDecodeAreDroppedAndTheServerKeepsServing) {
  if (!HasPlugin("zmq")) GTEST_SKIP() << "no zmq plugin";
  auto transport = CreatePlugin<Transport>("zmq", kNoAuth);
  ASSERT_NE(transport, nullptr);
  Counter handled;
  auto server = transport->Serve("tcp://127.0.0.1:0", [&](std::string message, ReplyFn reply) {
    handled.Add();
    Echo(std::move(message), std::move(reply));
  });
  ASSERT_TRUE(server.ok());

  zmq::context_t context;
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect((*server)->endpoint());
  std::string good = EncodeFrameHeader(FrameType::kRequest, 42);
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  std::string bad_version = good;
  bad_version[2] = 99;
  std::string bad_type = good;
  bad_type[3] = 77;
  SendParts(raw, {"garbage"});
  SendParts(raw, {""});
  SendParts(raw, {"a frame of garbage longer than a header"});
  SendParts(raw, {bad_magic, "p"});
  SendParts(raw, {bad_version, "p"});
  SendParts(raw, {bad_type, "p"});
  SendParts(raw, {good.substr(0, 11), "p"});
  SendParts(raw, {EncodeFrameHeader(FrameType::kReply, 1), "a reply is not a request"});
  SendParts(raw, {good, "p", "one frame too many"});
  SendParts(raw, {good + "extra", "a long header frame"});
  // Both shapes of a good body: [header][payload], and header and payload in one frame.
  SendParts(raw, {good, "raw"});
  SendParts(raw, {EncodeFrameHeader(FrameType::kRequest, 43) + "raw2"});

  for (auto [id, payload] : {std::pair<uint64_t, std::string>{42, "echo:raw"}, {43, "echo:raw2"}}) {
    auto reply = ReceiveParts(raw, kWait);
    ASSERT_EQ(reply.size(), 1u);
    auto header = DecodeFramePrefix(reply[0].data(), reply[0].size());
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->type, FrameType::kReply);
    EXPECT_EQ(header->request_id, id);
    EXPECT_EQ(reply[0].to_string().substr(zmq_transport::kFrameHeaderSize), payload);
  }
  EXPECT_EQ(handled.value(), 2);

  auto channel = transport->Connect((*server)->endpoint());
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ(Text((*channel)->CallSync("still", kLong)), "echo:still");
}

TEST(ZmqTransport, AHighWaterMarkHoldsMessagesBackButLosesNone) {
  if (!HasPlugin("zmq")) GTEST_SKIP() << "no zmq plugin";
  auto server_transport = CreatePlugin<Transport>("zmq", {}, Member());
  auto client_transport =
      CreatePlugin<Transport>("zmq", {{"hwm", RawSetting{int64_t{10}, 0}}}, Member());
  ASSERT_NE(server_transport, nullptr);
  ASSERT_NE(client_transport, nullptr);
  char pattern[] = "/tmp/rayk-transport-XXXXXX";
  std::string dir = mkdtemp(pattern);
  std::string endpoint = "ipc://" + dir + "/hwm";
  constexpr int kMessages = 50;
  std::mutex mu;
  std::vector<std::string> one_way;
  Counter replies;
  std::atomic<int> bad{0};
  {
    // Nothing serves the endpoint yet, so the channel's queue fills up to the
    // high-water mark and the rest waits in the plugin.
    auto channel = client_transport->Connect(endpoint);
    ASSERT_TRUE(channel.ok());
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE((*channel)->Send(std::to_string(i)).ok());
    for (int i = 0; i < kMessages; ++i) {
      (*channel)->Call(
          "call" + std::to_string(i),
          [&, i](Result<std::string> r) {
            if (Text(r) != "echo:call" + std::to_string(i)) ++bad;
            replies.Add();
          },
          kLong);
    }
    std::this_thread::sleep_for(100ms);
    auto server = server_transport->Serve(endpoint, [&](std::string message, ReplyFn reply) {
      if (!reply) {
        std::lock_guard<std::mutex> lock(mu);
        one_way.push_back(std::move(message));
      }
      Echo(std::move(message), std::move(reply));
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    EXPECT_TRUE(replies.WaitFor(kMessages)) << replies.value();
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(Text((*channel)->CallSync("sync", kLong)), "echo:sync");
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(one_way.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(one_way[i], std::to_string(i));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(ZmqTransport, RepliesThatDoNotDecodeAreDropped) {
  if (!HasPlugin("zmq")) GTEST_SKIP() << "no zmq plugin";
  auto transport = CreatePlugin<Transport>("zmq", kNoAuth);
  ASSERT_NE(transport, nullptr);
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  auto channel = transport->Connect(router.get(zmq::sockopt::last_endpoint));
  ASSERT_TRUE(channel.ok());

  // Answers one request with garbage, a stale reply, and then the real one.
  auto answer = [&](const std::string& payload) {
    auto request = ReceiveParts(router, kWait);
    ASSERT_EQ(request.size(), 2u);
    std::string peer = request[0].to_string();
    auto header = DecodeFramePrefix(request[1].data(), request[1].size());
    ASSERT_TRUE(header.ok());
    ASSERT_EQ(header->type, FrameType::kRequest);
    std::string reply_header = EncodeFrameHeader(FrameType::kReply, header->request_id);
    std::string bad_version = reply_header;
    bad_version[2] = 2;
    SendParts(router, {peer, "garbage"});
    SendParts(router, {peer, bad_version, "wrong"});
    SendParts(router, {peer, EncodeFrameHeader(FrameType::kRequest, header->request_id), "wrong"});
    SendParts(router,
              {peer, EncodeFrameHeader(FrameType::kReply, header->request_id + 1000), "stale"});
    SendParts(router, {peer, reply_header + "x", "header frame too long"});
    SendParts(router, {peer, reply_header, payload});
  };

  // Through CallSync, which may read the socket on the calling thread ...
  auto sync = std::async(std::launch::async, [&] { return (*channel)->CallSync("q", kLong); });
  answer("sync-ok");
  auto sync_reply = sync.get();
  ASSERT_TRUE(sync_reply.ok()) << sync_reply.status().ToString();
  EXPECT_EQ(*sync_reply, "sync-ok");

  // ... and through Call, whose replies the channel's I/O thread reads.
  std::promise<Result<std::string>> async_reply;
  (*channel)->Call(
      "q", [&](Result<std::string> r) { async_reply.set_value(std::move(r)); }, kLong);
  answer("async-ok");
  auto future = async_reply.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(Text(future.get()), "async-ok");
  channel->reset();
}

}  // namespace
}  // namespace rayk
