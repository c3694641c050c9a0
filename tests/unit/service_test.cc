// The handler table: typed handlers get their bodies; every request that
// cannot be served gets an error reply naming why; refusals are logged at
// a bounded rate.
#include "rpc/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "rpc/protocol.h"

namespace rayk::protocol {
namespace {

using ::testing::HasSubstr;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_.On<MessageType::kKvPut>([this](KvRequest request, ReplyFn reply) {
      keys_.push_back(request.key);
      Service::ReplyAck(reply);
    });
  }

  // Hands `message` to the service; returns the replies it sent.
  std::vector<std::string> Send(std::string message) {
    std::vector<std::string> replies;
    service_.Handle(std::move(message),
                    [&replies](std::string reply) { replies.push_back(std::move(reply)); });
    return replies;
  }

  // The error the one reply to `message` carries.
  std::string ErrorFor(std::string message) {
    auto replies = Send(std::move(message));
    EXPECT_EQ(replies.size(), 1u);
    if (replies.empty()) return "";
    EXPECT_EQ(*PeekType(replies[0]), MessageType::kErrorReply);
    auto decoded = Decode<Empty>(replies[0]);
    EXPECT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    return decoded.status().message();
  }

  Service service_{"test", 1024};
  std::vector<std::string> keys_;
};

TEST_F(ServiceTest, ARegisteredHandlerGetsItsDecodedBody) {
  auto replies = Send(Encode(MessageType::kKvPut, KvRequest{"ns", "key", "value", true}));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(*PeekType(replies[0]), MessageType::kAck);
  EXPECT_EQ(keys_, std::vector<std::string>{"key"});
}

TEST_F(ServiceTest, EveryUnservableRequestGetsAnErrorReplySayingWhy) {
  std::string put = Encode(MessageType::kKvPut, KvRequest{"ns", "key", "value", true});
  EXPECT_THAT(ErrorFor(put.substr(0, put.size() - 1)),
              HasSubstr("test: malformed KvPut request: the body ends before its last field"));
  EXPECT_THAT(ErrorFor(put + "xy"),
              HasSubstr("malformed KvPut request: 2 bytes left over after the body"));
  // A body of the wrong message: a PushTask's bytes under a KvPut header.
  std::string push = Encode(MessageType::kPushTask, PushTask{});
  push[3] = static_cast<char>(MessageType::kKvPut);
  EXPECT_THAT(ErrorFor(push), HasSubstr("malformed KvPut request"));
  std::string unknown = Encode(MessageType::kAck, Empty{});
  unknown[3] = 77;
  EXPECT_THAT(ErrorFor(unknown), HasSubstr("test: unknown message type 77"));
  EXPECT_THAT(ErrorFor(Encode(MessageType::kPushTask, PushTask{})),
              HasSubstr("the test does not serve PushTask (type 40) messages"));
  EXPECT_THAT(ErrorFor("hello"), HasSubstr("not a rayk message"));
  std::string other_version = put;
  other_version[2] = static_cast<char>(kProtocolVersion + 1);
  EXPECT_THAT(ErrorFor(other_version), HasSubstr("run the same rayk version on every node"));
  EXPECT_THAT(ErrorFor(Encode(MessageType::kKvPut, KvRequest{"", "k", std::string(2000, 'v')})),
              HasSubstr("is over the test's limit of 1024 bytes per message"));
  EXPECT_TRUE(keys_.empty());
}

TEST_F(ServiceTest, AMalformedOneWayMessageIsDroppedWithoutAReply) {
  service_.Handle("hello", nullptr);
  service_.Handle(Encode(MessageType::kKvPut, KvRequest{}).substr(0, 6), nullptr);
  EXPECT_TRUE(keys_.empty());
  service_.Handle(Encode(MessageType::kKvPut, KvRequest{"", "one-way", "", true}), nullptr);
  EXPECT_EQ(keys_, std::vector<std::string>{"one-way"});
}

TEST_F(ServiceTest, RefusalsAreLoggedAtABoundedRate) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  spdlog::default_logger()->sinks().push_back(sink);
  for (int i = 0; i < 50; ++i) EXPECT_THAT(ErrorFor("hello"), HasSubstr("not a rayk message"));
  spdlog::default_logger()->sinks().pop_back();
  size_t logged = 0;
  for (const std::string& line : sink->last_formatted()) {
    logged += line.find("test: refused a request") != std::string::npos;
  }
  EXPECT_GE(logged, 1u);
  EXPECT_LE(logged, 10u);
}

}  // namespace
}  // namespace rayk::protocol
