// Malformed requests to a real GCS and a real raylet, sent as a hostile
// client would: a raw ZeroMQ DEALER speaking the zmq transport's frame
// format. Each gets a prompt error reply naming what was wrong, and both
// servers keep answering well-formed requests afterwards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../../plugins/transport/zmq/zmq_curve.h"
#include "../../plugins/transport/zmq/zmq_frame.h"
#include "gcs/gcs_server.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/gcs_store.h"
#include "raylet/raylet.h"
#include "rpc/protocol.h"
#include "test_util.h"

namespace rayk {
namespace {

using protocol::MessageType;
using ::testing::HasSubstr;
using zmq_transport::EncodeFrameHeader;
using zmq_transport::FrameType;
using zmq_transport::kFrameHeaderSize;

// Generous: a reply is expected, and the test only fails if none comes.
constexpr auto kWait = std::chrono::seconds(20);

// A raw DEALER socket, not rayk's transport: it sends whatever bytes it is given.
constexpr char kSecret[] = "malformed-request-test-secret-0123456789";

class RawClient {
 public:
  explicit RawClient(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    // A member of the cluster (it holds the secret) whose bytes are broken:
    // what the decoders must survive once authentication keeps others out.
    zmq_transport::MakeCurveClient(socket_, zmq_transport::DeriveCurveKeys(kSecret).value());
    socket_.connect(endpoint);
  }

  // Sends `payload` as request `id` and returns the reply's payload, or
  // nullopt if none came within kWait.
  std::optional<std::string> Call(uint64_t id, const std::string& payload) {
    std::string header = EncodeFrameHeader(FrameType::kRequest, id);
    socket_.send(zmq::buffer(header), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(payload), zmq::send_flags::none);
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::duration_cast<std::chrono::milliseconds>(kWait)) == 0) {
      return std::nullopt;
    }
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(socket_, std::back_inserter(parts));
    // One frame (header and payload) or two ([header][payload]).
    std::string reply;
    for (const zmq::message_t& part : parts) reply += part.to_string();
    EXPECT_GE(reply.size(), kFrameHeaderSize);
    uint64_t reply_id = 0;
    for (int i = 0; i < 8; ++i) reply_id |= uint64_t{static_cast<uint8_t>(reply[4 + i])} << (8 * i);
    EXPECT_EQ(reply_id, id);
    return reply.substr(kFrameHeaderSize);
  }

  // The error an error reply to `payload` carries.
  std::string ErrorFor(uint64_t id, const std::string& payload) {
    auto reply = Call(id, payload);
    if (!reply) return "no reply";
    auto type = protocol::PeekType(*reply);
    if (!type.ok() || *type != MessageType::kErrorReply) return "not an error reply";
    return protocol::Decode<protocol::Empty>(*reply).status().message();
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

// Overwrites the 8 bytes at `at` with `value`, little-endian.
std::string WithLength(std::string bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i));
  return bytes;
}

class MalformedRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PluginLoader loader;
    Config config = Config::Defaults();
    config.SelectPlugin(PluginKind::kGcs, "memory");  // sqlite would need a session folder
    // The raw client below speaks the zmq transport's frames, whatever the default.
    config.SelectPlugin(PluginKind::kTransport, "zmq");
    PluginContext member;
    member.cluster_secret = kSecret;
    transport_ = *loader.CreateSlot<Transport>(config, member);
    auto store = *loader.CreateSlot<GcsStore>(config, {});
    auto scheduler = *loader.CreateSlot<Scheduler>(config, {});
    gcs_ = std::move(GcsServer::Start(GcsServer::Options{}, transport_, store, scheduler).value());
    std::filesystem::create_directories(session_.path() + "/logs");
    Raylet::Options options;
    options.resources = ResourceSet{{"CPU", 1}};
    options.gcs_address = gcs_->endpoint();
    options.session_dir = session_.path();
    raylet_ = std::move(
        Raylet::Start(options, transport_, *loader.CreateSlot<Scheduler>(config, {})).value());
  }
  void TearDown() override {
    raylet_.reset();
    gcs_.reset();
  }

  // A well-formed call through rayk's own transport.
  Result<std::string> Call(const std::string& endpoint, std::string request) {
    auto channel = transport_->Connect(endpoint);
    if (!channel.ok()) return channel.status();
    return (*channel)->CallSync(std::move(request), kWait);
  }

  testing::TempDir session_;
  std::shared_ptr<Transport> transport_;
  std::unique_ptr<GcsServer> gcs_;
  std::unique_ptr<Raylet> raylet_;
};

TEST_F(MalformedRequestTest, TheGcsAnswersMalformedRequestsAndKeepsServing) {
  RawClient raw(gcs_->endpoint());
  // A small KvPut whose value claims 2^30 bytes, then 2^40.
  std::string put = protocol::Encode(MessageType::kKvPut, protocol::KvRequest{"", "k", "", true});
  size_t value_length_at = put.find(std::string("\x01\0\0\0\0\0\0\0k", 9)) + 9;
  for (uint64_t lie : {uint64_t{1} << 30, uint64_t{1} << 40}) {
    EXPECT_THAT(raw.ErrorFor(lie, WithLength(put, value_length_at, lie)),
                HasSubstr("gcs: malformed KvPut request: a string of " + std::to_string(lie) +
                          " bytes does not fit in the 1 bytes left"));
  }
  std::string actor = protocol::Encode(MessageType::kRegisterActor, protocol::RegisterActor{});
  EXPECT_THAT(raw.ErrorFor(3, actor.substr(0, actor.size() / 2)),
              HasSubstr("malformed RegisterActor request"));
  EXPECT_THAT(raw.ErrorFor(4, actor + "garbage"), HasSubstr("7 bytes left over"));
  std::string unknown = protocol::Encode(MessageType::kAck, protocol::Empty{});
  unknown[3] = 77;
  EXPECT_THAT(raw.ErrorFor(5, unknown), HasSubstr("unknown message type 77"));
  EXPECT_THAT(raw.ErrorFor(6, "not rayk at all"), HasSubstr("not a rayk message"));

  // A value over the KV limit is refused by name, and nothing is written.
  std::string big(protocol::kMaxKvValueBytes + 1, 'v');
  auto refused =
      Call(gcs_->endpoint(),
           protocol::Encode(MessageType::kKvPut, protocol::KvRequest{"", "big", big, true}));
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  auto refusal = protocol::Decode<protocol::KvReply>(*refused);
  ASSERT_FALSE(refusal.ok());
  EXPECT_THAT(refusal.status().message(), HasSubstr("kMaxKvValueBytes"));

  // Still serving: a put and a get through the real transport.
  auto put_reply =
      Call(gcs_->endpoint(),
           protocol::Encode(MessageType::kKvPut, protocol::KvRequest{"", "k", "v", true}));
  ASSERT_TRUE(put_reply.ok()) << put_reply.status().ToString();
  EXPECT_TRUE(protocol::Decode<protocol::KvReply>(*put_reply)->found);
  auto got = Call(gcs_->endpoint(),
                  protocol::Encode(MessageType::kKvGet, protocol::KvRequest{"", "k", "", true}));
  ASSERT_TRUE(got.ok());
  auto value = protocol::Decode<protocol::KvReply>(*got);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, "v");
  auto big_get = Call(gcs_->endpoint(), protocol::Encode(MessageType::kKvGet,
                                                         protocol::KvRequest{"", "big", "", true}));
  ASSERT_TRUE(big_get.ok());
  EXPECT_FALSE(protocol::Decode<protocol::KvReply>(*big_get)->found);
}

TEST_F(MalformedRequestTest, TheRayletAnswersMalformedRequestsAndKeepsServing) {
  RawClient raw(raylet_->endpoint());
  protocol::RequestWorkerLease lease;
  lease.owner_address = "tcp://127.0.0.1:1";
  std::string wire = protocol::Encode(MessageType::kRequestWorkerLease, lease);
  EXPECT_THAT(raw.ErrorFor(1, wire.substr(0, wire.size() - 5)),
              HasSubstr("raylet: malformed RequestWorkerLease request"));
  size_t owner_length_at = wire.find(std::string("\x11\0\0\0\0\0\0\0tcp://", 14));
  ASSERT_NE(owner_length_at, std::string::npos);
  EXPECT_THAT(raw.ErrorFor(2, WithLength(wire, owner_length_at, uint64_t{1} << 40)),
              HasSubstr("a string of 1099511627776 bytes does not fit"));
  // This raylet has no object store: object requests are refused by name.
  EXPECT_THAT(
      raw.ErrorFor(3, protocol::Encode(MessageType::kGetStoreStats, protocol::GetStoreStats{})),
      HasSubstr("the raylet does not serve GetStoreStats (type 33) messages"));
  EXPECT_THAT(raw.ErrorFor(4, std::string(protocol::kRayletMaxMessageBytes + 1, 'x')),
              HasSubstr("over the raylet's limit"));

  // Still serving: returning an unknown lease is acknowledged.
  auto reply = Call(raylet_->endpoint(), protocol::Encode(MessageType::kReturnWorker,
                                                          protocol::ReturnWorker{12345, false}));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*protocol::PeekType(*reply), MessageType::kAck);
}

}  // namespace
}  // namespace rayk
