// The asio transport's authentication (docs/security.md, asio_handshake.h):
// transports that share the cluster secret talk, over tcp:// and Unix
// sockets; a peer that skips the handshake, forges it, or holds another
// secret gets nothing through and nothing it sends is handled; a wrong secret
// fails the caller at once with a one-line error; tcp traffic cannot be read
// or changed on the wire. Then the frame decoder's defences (auth = false, so
// that a raw socket can speak frames): frames that do not decode close that
// connection only, and the server keeps serving.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../../plugins/transport/asio/asio_frame.h"
#include "../../plugins/transport/asio/asio_handshake.h"
#include "conformance/conformance.h"
#include "rayk/plugin/transport.h"

namespace rayk {
namespace {

using namespace std::chrono_literals;
using ::rayk::testing::CreatePlugin;
namespace wire = ::rayk::asio_transport;

constexpr char kSecret[] = "asio-auth-test-secret-0123456789abcdef";
constexpr char kOtherSecret[] = "another-secret-0123456789abcdef";
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
  return CreatePlugin<Transport>("asio", {}, WithSecret(secret));
}

const RawSettingTable kNoAuth = {{"auth", RawSetting{false, 0}}};

// A raw client socket to a tcp:// or ipc:// endpoint; -1 on failure.
int RawConnect(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, endpoint.c_str() + 6, sizeof(address.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  const std::string host_port = endpoint.substr(6);
  const size_t colon = host_port.rfind(':');
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the peer closed: what some tests expect
    done += static_cast<size_t>(n);
  }
}

// Reads exactly `size` bytes, or fewer when the peer closes or `timeout` passes.
std::string ReadBytes(int fd, size_t size, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < size) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd item{fd, POLLIN, 0};
    if (poll(&item, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[4096];
    ssize_t n = recv(fd, buffer, std::min(sizeof(buffer), size - out.size()), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// Whether the peer closes `fd` within `timeout` (reading and discarding).
bool ClosedByPeer(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd item{fd, POLLIN, 0};
    if (poll(&item, 1, 50) <= 0) continue;
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

std::string Frame(wire::FrameType type, uint64_t id, const std::string& payload) {
  std::string out(wire::kFrameHeaderSize, '\0');
  wire::EncodeFrameHeader(wire::FrameHeader{type, static_cast<uint32_t>(payload.size()), id},
                          out.data());
  return out + payload;
}

// A plain client hello (auth = false): the magic, mode 0, a zero key.
std::string OpenHello() {
  std::string hello("RKA\x01", 4);
  hello.push_back(static_cast<char>(wire::Mode::kOpen));
  hello.append(32, '\0');
  return hello;
}

class AsioAuthTest : public ::testing::TestWithParam<std::string> {
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
      char pattern[] = "/tmp/rayk-asioauth-XXXXXX";
      dir_ = mkdtemp(pattern);
    }
    return "ipc://" + dir_ + "/" + name;
  }

  std::shared_ptr<Transport> server_transport_;
  std::unique_ptr<Server> server_;
  std::atomic<int> handled_{0};

 private:
  std::string dir_;
};

TEST_P(AsioAuthTest, MembersTalk) {
  auto client = Member();
  auto channel = client->Connect(server_->endpoint());
  ASSERT_TRUE(channel.ok());
  auto reply = (*channel)->CallSync("hello", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "echo:hello");
}

TEST_P(AsioAuthTest, APeerThatSkipsTheHandshakeGetsNothingThrough) {
  int fd = RawConnect(server_->endpoint());
  ASSERT_GE(fd, 0);
  // Frames straight away: the server reads them as a hello, which they are not.
  WriteAll(fd, Frame(wire::FrameType::kRequest, 7, "intruder"));
  WriteAll(fd, std::string(64, 'x'));
  std::string answer = ReadBytes(fd, wire::kServerHelloSize + 1, kRefusedWait);
  close(fd);
  // At most a refusal: status 1, then the connection closes.
  if (!answer.empty()) {
    ASSERT_GE(answer.size(), 5u);
    EXPECT_EQ(answer[4], 1);
    EXPECT_LE(answer.size(), wire::kServerHelloSize);
  }
  EXPECT_EQ(handled_, 0);
}

TEST_P(AsioAuthTest, AForgedHandshakeIsRefused) {
  const wire::Mode mode = GetParam() == "tcp" ? wire::Mode::kEncrypted : wire::Mode::kAuthenticated;
  int fd = RawConnect(server_->endpoint());
  ASSERT_GE(fd, 0);
  std::string hello("RKA\x01", 4);
  hello.push_back(static_cast<char>(mode));
  hello.append(32, '\x42');
  WriteAll(fd, hello);
  std::string server_hello = ReadBytes(fd, wire::kServerHelloSize, kWait);
  ASSERT_EQ(server_hello.size(), wire::kServerHelloSize);
  EXPECT_EQ(server_hello[4], 0);
  // A MAC made up rather than computed with the secret, then a request.
  WriteAll(fd, std::string(wire::kClientFinishSize, '\x13'));
  WriteAll(fd, Frame(wire::FrameType::kRequest, 7, "intruder"));
  EXPECT_TRUE(ClosedByPeer(fd, kWait));
  close(fd);
  EXPECT_EQ(handled_, 0);
}

TEST_P(AsioAuthTest, ATransportWithAnotherSecretFailsFastWithAClearError) {
  auto outsider = Member(kOtherSecret);
  ASSERT_NE(outsider, nullptr);
  auto channel = outsider->Connect(server_->endpoint());
  ASSERT_TRUE(channel.ok());
  // The refused handshake fails the call at once (a timeout would be kTimedOut).
  auto refused = (*channel)->CallSync("let me in", std::chrono::seconds(60));
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
  EXPECT_THAT(
      refused.status().message(),
      ::testing::HasSubstr("refused the secure handshake: it holds another cluster secret"));
  EXPECT_EQ(refused.status().message().find('\n'), std::string::npos);
  // And so do later ones, sync, async or one-way.
  EXPECT_EQ((*channel)->CallSync("again", std::chrono::seconds(60)).status().code(),
            StatusCode::kIoError);
  EXPECT_EQ((*channel)->Send("one-way").code(), StatusCode::kIoError);
  // A member's call on the same server is answered: the outsider was
  // refused, not merely slow.
  auto member = Member();
  auto member_channel = member->Connect(server_->endpoint());
  ASSERT_TRUE(member_channel.ok());
  EXPECT_TRUE((*member_channel)->CallSync("member", kWait).ok());
  EXPECT_EQ(handled_, 1);
}

TEST_P(AsioAuthTest, OnlyMembersReceivePublications) {
  auto publisher = server_transport_->Publish(Endpoint("pub"));
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  auto outsider = Member(kOtherSecret);
  auto member = Member();
  std::atomic<int> outsider_got{0}, member_got{0};
  auto bad = outsider->Subscribe((*publisher)->endpoint(), {""},
                                 [&](const std::string&, std::string) { ++outsider_got; });
  auto good = member->Subscribe((*publisher)->endpoint(), {""},
                                [&](const std::string&, std::string) { ++member_got; });
  ASSERT_TRUE(bad.ok() && good.ok());
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

INSTANTIATE_TEST_SUITE_P(Asio, AsioAuthTest, ::testing::Values("tcp", "ipc"));

TEST(AsioAuth, NoSecretFailsClearlyUnlessAuthIsOff) {
  PluginLoader loader;
  auto created = loader.Create(PluginKind::kTransport, "asio", {}, "<test>", PluginContext{});
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("RAYK_AUTH_TOKEN"), std::string::npos)
      << created.status().message();
  EXPECT_NE(created.status().message().find("auth = false"), std::string::npos);
  auto insecure = loader.Create(PluginKind::kTransport, "asio", kNoAuth, "<test>", PluginContext{});
  EXPECT_TRUE(insecure.ok()) << insecure.status().ToString();
}

TEST(AsioAuth, AnInsecureTransportCannotReachASecureOneAndIsToldWhy) {
  auto secure = Member();
  auto insecure = CreatePlugin<Transport>("asio", kNoAuth);
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
  auto refused = (*channel)->CallSync("x", std::chrono::seconds(60));
  EXPECT_EQ(refused.status().code(), StatusCode::kIoError);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("auth = false"));
  EXPECT_EQ(handled, 0);
}

TEST(AsioAuth, KeysAreDeterministicAndDistinctPerSecret) {
  auto a = wire::DeriveAuthKey(kSecret);
  auto b = wire::DeriveAuthKey(kSecret);
  auto c = wire::DeriveAuthKey(kOtherSecret);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_FALSE(wire::DeriveAuthKey("").ok());
}

TEST(AsioAuth, BothEndsOfAHandshakeAgreeOnKeysThatOnlyTheyHold) {
  auto key = wire::DeriveAuthKey(kSecret);
  ASSERT_TRUE(key.ok());
  wire::ClientHandshake client(*key, wire::Mode::kEncrypted);
  wire::ServerHandshake server(*key, wire::Mode::kEncrypted);
  bool refused = true;
  std::string server_hello = server.OnClientHello(client.Hello(), &refused);
  ASSERT_FALSE(refused);
  auto finish = client.OnServerHello(server_hello);
  ASSERT_TRUE(finish.ok()) << finish.status().ToString();
  ASSERT_TRUE(server.OnClientFinish(*finish).ok());
  ASSERT_TRUE(client.session() && server.session());
  EXPECT_EQ(client.session()->tx, server.session()->rx);
  EXPECT_EQ(client.session()->rx, server.session()->tx);
  EXPECT_NE(client.session()->tx, client.session()->rx);
  // Another connection gets other keys (fresh ephemeral keys).
  wire::ClientHandshake client2(*key, wire::Mode::kEncrypted);
  wire::ServerHandshake server2(*key, wire::Mode::kEncrypted);
  auto finish2 = client2.OnServerHello(server2.OnClientHello(client2.Hello(), &refused));
  ASSERT_TRUE(finish2.ok());
  EXPECT_NE(client.session()->tx, client2.session()->tx);
  // A replayed finish from the first connection does not open the second.
  EXPECT_FALSE(server2.OnClientFinish(*finish).ok());
}

// A tcp relay between a channel and a server that records what crosses it and
// may flip one byte of the traffic after the handshake.
class Relay {
 public:
  Relay(const std::string& target, bool tamper) : target_(target), tamper_(tamper) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listen_fd_, 4);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    thread_ = std::thread([this] { Run(); });
  }
  ~Relay() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  const std::string& endpoint() const { return endpoint_; }
  std::string Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Run() {
    pollfd accept_item{listen_fd_, POLLIN, 0};
    while (!stop_ && poll(&accept_item, 1, 50) <= 0) {
    }
    if (stop_) return;
    int client = accept(listen_fd_, nullptr, nullptr);
    int server = RawConnect(target_);
    if (client < 0 || server < 0) return;
    size_t client_bytes = 0;
    bool tampered = false;
    while (!stop_) {
      pollfd items[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(items, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(items[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[65536];
        ssize_t n = recv(items[i].fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          close(client);
          close(server);
          return;
        }
        if (i == 0) {
          // Past the client's hello and finish, flip a bit in the first frame.
          const size_t handshake = wire::kClientHelloSize + wire::kClientFinishSize;
          if (tamper_ && !tampered && client_bytes + n > handshake + 20) {
            buffer[handshake + 20 - client_bytes] ^= 1;
            tampered = true;
          }
          client_bytes += static_cast<size_t>(n);
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          seen_.append(buffer, static_cast<size_t>(n));
        }
        WriteAll(i == 0 ? server : client, std::string(buffer, static_cast<size_t>(n)));
      }
    }
    close(client);
    close(server);
  }

  const std::string target_;
  const bool tamper_;
  int listen_fd_ = -1;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string seen_;
  std::thread thread_;
};

TEST(AsioAuth, TcpTrafficCannotBeReadOnTheWire) {
  auto server_transport = Member();
  auto server = server_transport->Serve("tcp://127.0.0.1:0",
                                        [](std::string m, ReplyFn reply) { reply("reply-" + m); });
  ASSERT_TRUE(server.ok());
  Relay relay((*server)->endpoint(), /*tamper=*/false);
  auto client = Member();
  auto channel = client->Connect(relay.endpoint());
  ASSERT_TRUE(channel.ok());
  const std::string marker = "plain-text-marker-0123456789";
  auto reply = (*channel)->CallSync(marker, kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "reply-" + marker);
  EXPECT_EQ(relay.Seen().find(marker), std::string::npos);
  EXPECT_GT(relay.Seen().size(), 2 * marker.size());
}

TEST(AsioAuth, ATamperedFrameIsRejectedNotDelivered) {
  std::atomic<int> handled{0};
  auto server_transport = Member();
  auto server = server_transport->Serve("tcp://127.0.0.1:0", [&](std::string m, ReplyFn reply) {
    ++handled;
    reply(m);
  });
  ASSERT_TRUE(server.ok());
  Relay relay((*server)->endpoint(), /*tamper=*/true);
  auto client = Member();
  auto channel = client->Connect(relay.endpoint());
  ASSERT_TRUE(channel.ok());
  // The server drops the connection on the bad frame: no reply ever comes.
  auto reply = (*channel)->CallSync(std::string(100, 'p'), kRefusedWait);
  EXPECT_EQ(reply.status().code(), StatusCode::kTimedOut) << reply.status().ToString();
  EXPECT_EQ(handled, 0);
}

// A server that goes and comes back on the same endpoint is reached again by
// channels that were idle meanwhile, whether their last call was sync (nobody
// was reading: the request must not go out on the dead connection) or async
// (the channel's thread was reading and saw the connection close).
TEST(AsioReconnect, IdleChannelsReachAServerRestartedOnItsEndpoint) {
  char pattern[] = "/tmp/rayk-asiore-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string endpoint = "ipc://" + dir + "/server";
  auto transport = Member();
  auto serve = [&](const std::string& tag) {
    auto server = transport->Serve(endpoint, [tag](std::string m, ReplyFn reply) {
      if (reply) reply(tag + m);
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  };
  auto async_call = [](Channel& channel, const std::string& request) {
    std::promise<Result<std::string>> promise;
    channel.Call(
        request, [&](Result<std::string> r) { promise.set_value(std::move(r)); }, kWait);
    auto future = promise.get_future();
    EXPECT_EQ(future.wait_for(kWait + 5s), std::future_status::ready);
    auto result = future.get();
    return result.ok() ? *result : "<" + result.status().ToString() + ">";
  };
  auto text = [](const Result<std::string>& r) {
    return r.ok() ? *r : "<" + r.status().ToString() + ">";
  };
  auto first = serve("a:");
  auto sync_user = transport->Connect(endpoint);
  auto async_user = transport->Connect(endpoint);
  ASSERT_TRUE(sync_user.ok() && async_user.ok());
  EXPECT_EQ(text((*sync_user)->CallSync("1", kWait)), "a:1");
  EXPECT_EQ(async_call(**async_user, "1"), "a:1");
  first.reset();
  std::this_thread::sleep_for(100ms);  // both channels see the close, or not: either way
  auto second = serve("b:");
  EXPECT_EQ(async_call(**sync_user, "2"), "b:2");
  EXPECT_EQ(text((*sync_user)->CallSync("3", kWait)), "b:3");
  EXPECT_EQ(async_call(**async_user, "2"), "b:2");
  sync_user->reset();
  async_user->reset();
  second.reset();
  std::filesystem::remove_all(dir);
}

// --- The frame decoder, with auth = false so that a raw socket speaks frames. ---

class AsioFramesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = CreatePlugin<Transport>(
        "asio", {{"auth", RawSetting{false, 0}}, {"max_frame", RawSetting{int64_t{4096}, 0}}});
    ASSERT_NE(transport_, nullptr);
    auto server = transport_->Serve("tcp://127.0.0.1:0", [this](std::string m, ReplyFn reply) {
      ++handled_;
      if (reply) reply("echo:" + m);
    });
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
  }

  // A raw connection past the (open) handshake; -1 on failure.
  int OpenRaw() {
    int fd = RawConnect(server_->endpoint());
    if (fd < 0) return -1;
    WriteAll(fd, OpenHello());
    std::string answer = ReadBytes(fd, wire::kServerHelloSize, kWait);
    if (answer.size() != wire::kServerHelloSize || answer[4] != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  // The server still answers a member.
  void ExpectStillServing() {
    auto channel = transport_->Connect(server_->endpoint());
    ASSERT_TRUE(channel.ok());
    auto reply = (*channel)->CallSync("ok", kWait);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(*reply, "echo:ok");
  }

  std::shared_ptr<Transport> transport_;
  std::unique_ptr<Server> server_;
  std::atomic<int> handled_{0};
};

TEST_F(AsioFramesTest, ARawPeerSpeakingFramesIsAnswered) {
  int fd = OpenRaw();
  ASSERT_GE(fd, 0);
  WriteAll(fd, Frame(wire::FrameType::kRequest, 42, "raw"));
  std::string reply = ReadBytes(fd, wire::kFrameHeaderSize + 8, kWait);
  close(fd);
  ASSERT_EQ(reply.size(), wire::kFrameHeaderSize + 8);
  auto header = wire::DecodeFrameHeader(reply.data(), 1 << 20);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->type, wire::FrameType::kReply);
  EXPECT_EQ(header->request_id, 42u);
  EXPECT_EQ(reply.substr(wire::kFrameHeaderSize), "echo:raw");
}

TEST_F(AsioFramesTest, GarbageClosesThatConnectionOnly) {
  int fd = OpenRaw();
  ASSERT_GE(fd, 0);
  WriteAll(fd, std::string(64, '\xee'));
  EXPECT_TRUE(ClosedByPeer(fd, kWait));
  close(fd);
  EXPECT_EQ(handled_, 0);
  ExpectStillServing();
}

TEST_F(AsioFramesTest, AFrameOverTheLimitClosesTheConnectionBeforeItsBytesArrive) {
  int fd = OpenRaw();
  ASSERT_GE(fd, 0);
  // Announces 4 GiB - 1 (over max_frame = 4096) and sends none of it.
  std::string header(wire::kFrameHeaderSize, '\0');
  wire::EncodeFrameHeader(wire::FrameHeader{wire::FrameType::kRequest, 0xffffffffu, 1},
                          header.data());
  WriteAll(fd, header);
  EXPECT_TRUE(ClosedByPeer(fd, kWait));
  close(fd);
  EXPECT_EQ(handled_, 0);
  ExpectStillServing();
}

TEST_F(AsioFramesTest, AFrameOfTheWrongKindIsDroppedAndTheConnectionGoesOn) {
  int fd = OpenRaw();
  ASSERT_GE(fd, 0);
  // A reply and a publication sent to a server, then a real request.
  WriteAll(fd, Frame(wire::FrameType::kReply, 5, "not for a server"));
  WriteAll(fd, Frame(wire::FrameType::kPublish, 6, "nor this"));
  WriteAll(fd, Frame(wire::FrameType::kRequest, 7, "real"));
  std::string reply = ReadBytes(fd, wire::kFrameHeaderSize + 9, kWait);
  close(fd);
  EXPECT_EQ(reply.substr(std::min(reply.size(), wire::kFrameHeaderSize)), "echo:real");
  EXPECT_EQ(handled_, 1);
}

TEST_F(AsioFramesTest, AMessageOverTheLimitFailsAtOnceNamingTheSetting) {
  auto channel = transport_->Connect(server_->endpoint());
  ASSERT_TRUE(channel.ok());
  auto reply = (*channel)->CallSync(std::string(5000, 'x'), kWait);
  EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), ::testing::HasSubstr("[transport.asio] max_frame"));
  EXPECT_EQ((*channel)->Send(std::string(5000, 'x')).code(), StatusCode::kInvalidArgument);
  auto publisher = transport_->Publish("tcp://127.0.0.1:0");
  ASSERT_TRUE(publisher.ok());
  EXPECT_EQ((*publisher)->Publish("t", std::string(5000, 'x')).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(handled_, 0);
  ExpectStillServing();
}

TEST_F(AsioFramesTest, AnUnknownVersionIsRejected) {
  int fd = OpenRaw();
  ASSERT_GE(fd, 0);
  std::string frame = Frame(wire::FrameType::kRequest, 1, "v9");
  frame[2] = 9;
  WriteAll(fd, frame);
  EXPECT_TRUE(ClosedByPeer(fd, kWait));
  close(fd);
  EXPECT_EQ(handled_, 0);
  ExpectStillServing();
}

}  // namespace
}  // namespace rayk
