// The zmq transport's CURVE authentication (docs/security.md): transports that
// share the cluster secret talk, over tcp:// and ipc://, encrypted; a peer
// without CURVE, with another secret, or with the right server key but a
// keypair of its own gets nothing through, and nothing it sends is handled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "../../plugins/transport/zmq/zmq_curve.h"
#include "../../plugins/transport/zmq/zmq_frame.h"
#include "conformance/conformance.h"
#include "rayk/plugin/transport.h"

namespace rayk {
namespace {

using namespace std::chrono_literals;
using ::rayk::testing::CreatePlugin;

constexpr char kSecret[] = "zmq-auth-test-secret-0123456789abcdef";
constexpr auto kWait = 10s;
// How long a refused peer is given to get an answer it must never get. Not a
// performance bound: a member's call in the same test answers well within it.
constexpr auto kRefusedWait = 1500ms;

PluginContext WithSecret(const std::string& secret) {
  PluginContext context;
  context.cluster_secret = secret;
  return context;
}

std::shared_ptr<Transport> Member(const std::string& secret = kSecret) {
  return CreatePlugin<Transport>("zmq", {}, WithSecret(secret));
}

class ZmqAuthTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_transport_ = Member();
    ASSERT_NE(server_transport_, nullptr);
    auto server = server_transport_->Serve(Endpoint("rr"), [this](std::string m, ReplyFn reply) {
      ++handled_;
      if (reply) reply("echo:" + m);
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    server_transport_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string Endpoint(const std::string& name) {
    if (GetParam() == "tcp") return "tcp://127.0.0.1:0";
    if (dir_.empty()) {
      char pattern[] = "/tmp/rayk-zmqauth-XXXXXX";
      dir_ = mkdtemp(pattern);
    }
    return "ipc://" + dir_ + "/" + name;
  }

  // Sends a well-formed request from a raw DEALER that `secure` sets up, and
  // reports whether any answer came back.
  bool RawPeerGetsAnAnswer(const std::function<void(zmq::socket_t&)>& secure) {
    zmq::context_t context;
    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    secure(raw);
    raw.connect(server_->endpoint());
    std::string request = zmq_transport::EncodeFrameHeader(zmq_transport::FrameType::kRequest, 7);
    raw.send(zmq::buffer(request), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("intruder"), zmq::send_flags::none);
    zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, std::chrono::milliseconds(kRefusedWait)) > 0;
  }

  std::shared_ptr<Transport> server_transport_;
  std::unique_ptr<Server> server_;
  std::atomic<int> handled_{0};

 private:
  std::string dir_;
};

TEST_P(ZmqAuthTest, MembersTalk) {
  auto client = Member();
  auto channel = client->Connect(server_->endpoint());
  ASSERT_TRUE(channel.ok());
  auto reply = (*channel)->CallSync("hello", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "echo:hello");
}

TEST_P(ZmqAuthTest, APeerWithoutCurveGetsNothingThrough) {
  EXPECT_FALSE(RawPeerGetsAnAnswer([](zmq::socket_t&) {}));
  EXPECT_EQ(handled_, 0);
}

TEST_P(ZmqAuthTest, APeerWithTheServerKeyButItsOwnKeypairIsRefused) {
  auto keys = zmq_transport::DeriveCurveKeys(kSecret);
  ASSERT_TRUE(keys.ok());
  char public_z85[41], secret_z85[41];
  ASSERT_EQ(zmq_curve_keypair(public_z85, secret_z85), 0);
  EXPECT_FALSE(RawPeerGetsAnAnswer([&](zmq::socket_t& raw) {
    raw.set(zmq::sockopt::curve_serverkey, keys->server_public);
    raw.set(zmq::sockopt::curve_publickey, std::string(public_z85));
    raw.set(zmq::sockopt::curve_secretkey, std::string(secret_z85));
  }));
  EXPECT_EQ(handled_, 0);
}

TEST_P(ZmqAuthTest, ATransportWithAnotherSecretGetsNothingThrough) {
  auto outsider = Member("another-secret-0123456789abcdef");
  ASSERT_NE(outsider, nullptr);
  auto channel = outsider->Connect(server_->endpoint());
  ASSERT_TRUE(channel.ok());
  // The refused handshake fails the call at once (a timeout would be kTimedOut).
  auto refused = (*channel)->CallSync("let me in", std::chrono::seconds(60));
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
  EXPECT_THAT(
      refused.status().message(),
      ::testing::HasSubstr("refused the secure handshake: it holds another cluster secret"));
  // And so does a later one, queued or not.
  EXPECT_EQ((*channel)->CallSync("again", std::chrono::seconds(60)).status().code(),
            StatusCode::kIoError);
  EXPECT_TRUE((*channel)->Send("one-way").ok());
  // A member's call after the outsider's, on the same server, is answered:
  // the outsider was refused, not merely slow.
  auto member = Member();
  auto member_channel = member->Connect(server_->endpoint());
  ASSERT_TRUE(member_channel.ok());
  EXPECT_TRUE((*member_channel)->CallSync("member", kWait).ok());
  EXPECT_EQ(handled_, 1);
}

TEST_P(ZmqAuthTest, OnlyMembersReceivePublications) {
  auto publisher = server_transport_->Publish(Endpoint("pub"));
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  auto outsider = Member("another-secret-0123456789abcdef");
  auto member = Member();
  std::atomic<int> outsider_got{0}, member_got{0};
  auto bad = outsider->Subscribe((*publisher)->endpoint(), {""},
                                 [&](const std::string&, std::string) { ++outsider_got; });
  auto good = member->Subscribe((*publisher)->endpoint(), {""},
                                [&](const std::string&, std::string) { ++member_got; });
  ASSERT_TRUE(bad.ok() && good.ok());
  // Publish until the member hears (a subscription connects asynchronously).
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (member_got == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*publisher)->Publish("t", "news").ok());
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GT(member_got, 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*publisher)->Publish("t", "more").ok());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(outsider_got, 0);
}

INSTANTIATE_TEST_SUITE_P(Zmq, ZmqAuthTest, ::testing::Values("tcp", "ipc"));

TEST(ZmqAuth, NoSecretFailsClearlyUnlessAuthIsOff) {
  PluginLoader loader;
  auto created = loader.Create(PluginKind::kTransport, "zmq", {}, "<test>", PluginContext{});
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("RAYK_AUTH_TOKEN"), std::string::npos)
      << created.status().message();
  EXPECT_NE(created.status().message().find("auth = false"), std::string::npos);
  auto insecure = loader.Create(PluginKind::kTransport, "zmq", {{"auth", RawSetting{false, 0}}},
                                "<test>", PluginContext{});
  EXPECT_TRUE(insecure.ok()) << insecure.status().ToString();
}

TEST(ZmqAuth, AnInsecureTransportCannotReachASecureOne) {
  auto secure = Member();
  auto insecure = CreatePlugin<Transport>("zmq", {{"auth", RawSetting{false, 0}}});
  ASSERT_NE(secure, nullptr);
  ASSERT_NE(insecure, nullptr);
  std::atomic<int> handled{0};
  auto server = secure->Serve("tcp://127.0.0.1:0", [&](std::string m, ReplyFn reply) {
    ++handled;
    reply(m);
  });
  ASSERT_TRUE(server.ok());
  auto channel = insecure->Connect((*server)->endpoint());
  ASSERT_TRUE(channel.ok());
  EXPECT_FALSE((*channel)->CallSync("x", kRefusedWait).ok());
  EXPECT_EQ(handled, 0);
}

TEST(ZmqAuth, KeysAreDeterministicAndDistinctPerSecret) {
  auto a = zmq_transport::DeriveCurveKeys(kSecret);
  auto b = zmq_transport::DeriveCurveKeys(kSecret);
  auto c = zmq_transport::DeriveCurveKeys("another-secret-0123456789abcdef");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->server_public, b->server_public);
  EXPECT_EQ(a->member_secret, b->member_secret);
  EXPECT_NE(a->server_public, a->member_public);
  EXPECT_NE(a->server_public, c->server_public);
  EXPECT_NE(a->member_public, c->member_public);
  EXPECT_EQ(a->server_public.size(), 32u);
  EXPECT_FALSE(zmq_transport::DeriveCurveKeys("").ok());
}

}  // namespace
}  // namespace rayk
