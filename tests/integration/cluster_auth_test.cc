// A real `rayk start --head` cluster authenticates every peer
// (docs/security.md), on the default transport or $RAYK_CONFIG's. Outsiders
// (a raw peer without the transport's security: a DEALER without CURVE on
// zmq, a socket that skips the handshake on asio; and a transport holding
// another secret) send the requests that would hurt most: a KV put, an actor
// kill, a node registration, a lease request, an object chunk request and a
// raylet shutdown. Nothing answers and nothing changes. The same requests
// from a member (the cluster's token) are answered and take effect.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "../../plugins/transport/asio/asio_frame.h"
#include "../../plugins/transport/asio/asio_handshake.h"
#include "../../plugins/transport/zmq/zmq_frame.h"
#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/cluster_secret.h"
#include "process/daemons.h"
#include "process/session.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {
namespace {

using namespace std::chrono_literals;
using protocol::MessageType;
using test_functions::Counter;
using ::testing::HasSubstr;

// How long an outsider waits for answers that must never come; a member's
// same requests are answered well within it.
constexpr auto kRefusedWait = 2s;
constexpr auto kWait = 10s;

struct Request {
  std::string to;  // "gcs" or "raylet"
  std::string message;
};

class ClusterAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    unsetenv(kAuthTokenEnv);
    env_ = "RAYK_SESSION_ROOT=" + root_.path() + " ";
    port_ = testing::FreePort();
  }
  void TearDown() override {
    if (rayk::IsInitialized()) rayk::Shutdown();
    testing::RunCommand(env_ + RAYK_CLI_PATH + " stop");
  }

  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  std::string Session() const { return root_.path() + "/session_latest"; }
  std::string Gcs() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string Raylet() const { return ReadFile(Session() + "/raylet_address").value(); }

  // The requests that would hurt most, aimed at this cluster; the lease asks
  // for `lease_demand` for a job of the sender's invention. (A lease cannot
  // name code any more: workers load what the job's record in the GCS names;
  // job_code_test.cc covers that.)
  std::vector<Request> Attack(const ActorId& actor, const ResourceSet& lease_demand) {
    protocol::KvRequest kv{"", "intruder-key", "intruder-value", true};
    protocol::KillActor kill;
    kill.actor_id = actor;
    kill.cause = "intruder";
    protocol::RegisterNode node;
    node.node.node_id = NodeId::FromRandom();
    node.node.raylet_address = "tcp://127.0.0.1:1";
    node.node.total = ResourceSet{{"CPU", 64}};
    node.node.available = node.node.total;
    protocol::RequestWorkerLease lease;
    lease.request_id = 1;
    lease.job_id = JobId::FromRandom();
    lease.resources = lease_demand;
    lease.owner_address = "tcp://127.0.0.1:1";
    protocol::ReadObjectChunk chunk{ObjectId::FromRandom(), 0, 1024};
    return {{"gcs", protocol::Encode(MessageType::kKvPut, kv)},
            {"gcs", protocol::Encode(MessageType::kKillActor, kill)},
            {"gcs", protocol::Encode(MessageType::kRegisterNode, node)},
            {"raylet", protocol::Encode(MessageType::kRequestWorkerLease, lease)},
            {"raylet", protocol::Encode(MessageType::kReadObjectChunk, chunk)},
            {"raylet", protocol::Encode(MessageType::kShutdownRaylet, protocol::Empty{})}};
  }

  // Sends every request through `transport` at once; returns which were
  // answered, as "1" or "0" for each in order.
  std::string AnsweredThrough(Transport& transport, const std::vector<Request>& requests,
                              std::chrono::milliseconds wait) {
    auto gcs = transport.Connect(Gcs());
    auto raylet = transport.Connect(Raylet());
    EXPECT_TRUE(gcs.ok() && raylet.ok());
    std::vector<std::future<bool>> answers;
    for (const Request& request : requests) {
      auto promise = std::make_shared<std::promise<bool>>();
      answers.push_back(promise->get_future());
      Channel& channel = request.to == "gcs" ? **gcs : **raylet;
      channel.Call(
          request.message, [promise](Result<std::string> r) { promise->set_value(r.ok()); }, wait);
    }
    std::string answered;
    for (auto& answer : answers) answered += answer.get() ? "1" : "0";
    return answered;
  }

  // Sends every request from peers that speak the cluster's transport without
  // its security; returns how many answers came back.
  int AnsweredToPlainPeers(const std::vector<Request>& requests) {
    return testing::TestTransport() == "asio" ? AnsweredToPlainSockets(requests)
                                              : AnsweredToPlainDealers(requests);
  }

  // zmq: raw DEALERs without CURVE.
  int AnsweredToPlainDealers(const std::vector<Request>& requests) {
    zmq::context_t context;
    zmq::socket_t gcs(context, zmq::socket_type::dealer);
    zmq::socket_t raylet(context, zmq::socket_type::dealer);
    for (zmq::socket_t* s : {&gcs, &raylet}) s->set(zmq::sockopt::linger, 0);
    gcs.connect(Gcs());
    raylet.connect(Raylet());
    uint64_t id = 0;
    for (const Request& request : requests) {
      zmq::socket_t& socket = request.to == "gcs" ? gcs : raylet;
      std::string header =
          zmq_transport::EncodeFrameHeader(zmq_transport::FrameType::kRequest, ++id);
      socket.send(zmq::buffer(header), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(request.message), zmq::send_flags::none);
    }
    zmq::pollitem_t items[] = {{gcs.handle(), 0, ZMQ_POLLIN, 0},
                               {raylet.handle(), 0, ZMQ_POLLIN, 0}};
    return zmq::poll(items, 2, std::chrono::milliseconds(kRefusedWait));
  }

  // asio: raw tcp sockets that skip the handshake and send the requests as
  // asio frames. The server takes the first bytes for a hello, refuses it
  // (a server hello saying so, kServerHelloSize bytes) and closes: any byte
  // beyond that would be an answer.
  int AnsweredToPlainSockets(const std::vector<Request>& requests) {
    auto open = [](const std::string& endpoint) {
      // "tcp://127.0.0.1:PORT"
      const std::string port = endpoint.substr(endpoint.rfind(':') + 1);
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
      EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
          << endpoint << ": " << std::strerror(errno);
      return fd;
    };
    const int gcs = open(Gcs());
    const int raylet = open(Raylet());
    uint64_t id = 0;
    for (const Request& request : requests) {
      std::string frame(asio_transport::kFrameHeaderSize, '\0');
      asio_transport::EncodeFrameHeader({asio_transport::FrameType::kRequest,
                                         static_cast<uint32_t>(request.message.size()), ++id},
                                        frame.data());
      frame += request.message;
      // The server may have closed already: what it refused is not sent.
      (void)send(request.to == "gcs" ? gcs : raylet, frame.data(), frame.size(), MSG_NOSIGNAL);
    }
    int answered = 0;
    for (int fd : {gcs, raylet}) {
      size_t received = 0;
      const auto deadline = std::chrono::steady_clock::now() + kRefusedWait;
      while (std::chrono::steady_clock::now() < deadline) {
        pollfd item{fd, POLLIN, 0};
        if (poll(&item, 1, 100) <= 0) continue;
        char buffer[4096];
        ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;  // closed: refused
        received += static_cast<size_t>(n);
      }
      answered += received > asio_transport::kServerHelloSize;
      close(fd);
    }
    return answered;
  }

  // A member or an outsider, with the cluster's transport.
  std::shared_ptr<Transport> TransportWith(const std::string& secret) {
    PluginContext context;
    context.cluster_secret = secret;
    auto transport = PluginLoader().CreateSlot<Transport>(testing::TestConfig(), context);
    EXPECT_TRUE(transport.ok()) << transport.status().ToString();
    return transport.ok() ? *transport : nullptr;
  }

  pid_t RayletPid() {
    auto text = ReadFile(Session() + "/pids");
    std::istringstream pids(text.ok() ? *text : "");
    int64_t pid;
    std::string name;
    while (pids >> pid >> name) {
      if (name == "raylet") return static_cast<pid_t>(pid);
      std::getline(pids, name);
    }
    return 0;
  }

  // The cluster as the GCS sees it: alive nodes.
  int AliveNodes() {
    auto status = Rayk("list nodes --format json");
    EXPECT_EQ(status.exit_code, 0) << status.output;
    int alive = 0;
    const std::string kAlive = "\"alive\": true";
    for (size_t at = 0; (at = status.output.find(kAlive, at)) != std::string::npos; ++at) ++alive;
    return alive;
  }

  testing::TempDir root_;
  std::string env_;
  int port_ = 0;
};

TEST_F(ClusterAuthTest, OutsidersChangeNothingAndGetNoAnswerWhileMembersDo) {
  auto start = Rayk("start --head --num-cpus 1 --port " + std::to_string(port_));
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_THAT(start.output, HasSubstr("RAYK_AUTH_TOKEN=$(cat "));
  std::string token_file = Session() + "/" + kAuthTokenFileName;
  struct stat info;
  ASSERT_EQ(stat(token_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto secret = ReadClusterSecretFile(token_file);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_THAT(start.output, ::testing::Not(HasSubstr(*secret)));

  // A driver on the head node finds the token in the session by itself.
  InitOptions options;
  options.address = "127.0.0.1:" + std::to_string(port_);
  rayk::Init(options);
  auto counter = rayk::Actor(Counter::Create).SetName("guarded").Remote(5);
  ASSERT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(1)), 6);
  const ActorId actor = counter.ID();
  std::vector<Request> attack = Attack(actor, ResourceSet{{"CPU", 1}});
  ASSERT_EQ(AliveNodes(), 1);

  EXPECT_EQ(AnsweredToPlainPeers(attack), 0);
  auto outsider = TransportWith("not-the-cluster-token-0123456789");
  ASSERT_NE(outsider, nullptr);
  EXPECT_EQ(AnsweredThrough(*outsider, attack, kRefusedWait), "000000");

  EXPECT_EQ(rayk::KvGet("intruder-key"), std::nullopt);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(1)), 7) << "the actor must be untouched";
  EXPECT_EQ(AliveNodes(), 1) << "no node may have joined, none left";

  // The same requests with the token are answered and take effect. The lease
  // asks for what no node has: it waits, reported as infeasible demand.
  auto member = TransportWith(*secret);
  ASSERT_NE(member, nullptr);
  std::vector<Request> all = Attack(actor, ResourceSet{{"GPU", 1}});
  Request lease = all[3];
  Request shutdown = all[5];
  EXPECT_EQ(AnsweredThrough(*member, {all[0], all[1], all[2], all[4]}, kWait), "1111");
  EXPECT_EQ(AnsweredThrough(*member, {lease}, 500ms), "0");
  bool demand_seen = false;
  for (int i = 0; i < 100 && !demand_seen; ++i) {
    demand_seen = Rayk("status").output.find("GPU") != std::string::npos;
    if (!demand_seen) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(demand_seen) << Rayk("status").output;
  EXPECT_EQ(rayk::KvGet("intruder-key"), std::optional<std::string>("intruder-value"));
  auto actors = Rayk("list actors --format json");
  EXPECT_THAT(actors.output, HasSubstr("DEAD")) << "a member may kill the actor";
  pid_t raylet = RayletPid();
  ASSERT_GT(raylet, 0);
  EXPECT_EQ(AnsweredThrough(*member, {shutdown}, kWait), "1");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ProcessAlive(raylet) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(ProcessAlive(raylet)) << "the raylet should obey a member's shutdown";
}

TEST_F(ClusterAuthTest, JoiningWithoutATokenOrWithABadOneFailsInOneLine) {
  auto join = Rayk("start --address 127.0.0.1:" + std::to_string(port_));
  EXPECT_NE(join.exit_code, 0);
  EXPECT_EQ(testing::CountLines(join.output), 1) << join.output;
  EXPECT_THAT(join.output, HasSubstr("RAYK_AUTH_TOKEN"));
  auto bad = Rayk("start --head --auth-token short --port " + std::to_string(port_));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(testing::CountLines(bad.output), 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--auth-token must be 16 to 1024 characters"));
}

TEST_F(ClusterAuthTest, AGivenTokenIsKeptAndAJoiningNodeUsesIt) {
  const std::string token = "a-token-the-user-chose-0123456789";
  auto start = testing::RunCommand("RAYK_AUTH_TOKEN=" + token + " " + env_ + RAYK_CLI_PATH +
                                   " start --head --num-cpus 1 --port " + std::to_string(port_));
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_EQ(ReadClusterSecretFile(Session() + "/" + kAuthTokenFileName).value(), token);
  auto join = Rayk("start --num-cpus 1 --address 127.0.0.1:" + std::to_string(port_) +
                   " --auth-token " + token);
  ASSERT_EQ(join.exit_code, 0) << join.output;
  EXPECT_EQ(AliveNodes(), 2);
}

TEST_F(ClusterAuthTest, InsecureClustersAreExplicitAndLoud) {
  auto start = Rayk("start --head --insecure-no-auth --num-cpus 1 --port " + std::to_string(port_));
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_THAT(start.output, HasSubstr("WARNING: authentication is OFF"));
  EXPECT_FALSE(std::filesystem::exists(Session() + "/" + kAuthTokenFileName));
  // The raylet's log reaches its file a little after it serves.
  std::string log;
  for (int i = 0; i < 100 && log.find("AUTHENTICATION IS OFF") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto text = ReadFile(Session() + "/logs/raylet.log");
    if (text.ok()) log = *text;
  }
  EXPECT_THAT(log, HasSubstr("AUTHENTICATION IS OFF"));
  std::string config = root_.Write(
      "insecure.toml", "[transport]\nplugin = \"" + testing::TestTransport() + "\"\n[transport." +
                           testing::TestTransport() + "]\nauth = false\n");
  auto status = Rayk("status --config " + config);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("1 alive"));
}

}  // namespace
}  // namespace rayk
