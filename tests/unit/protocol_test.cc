// The wire protocol: round trips, and malformed frames as Status values.
#include "rpc/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rayk::protocol {
namespace {

using ::testing::HasSubstr;

TEST(ProtocolTest, TaskSpecRoundTrip) {
  PushTask push;
  push.spec.task_id = TaskId::FromRandom();
  push.spec.function = "Add";
  push.spec.args.push_back({false, {}, "", std::string("\0\1\2", 3), {}});
  push.spec.args.push_back({true, ObjectId::FromRandom(), "tcp://127.0.0.1:1", "", {}});
  push.spec.resources = ResourceSet{{"CPU", 1}, {"GPU", 0.5}};
  push.spec.max_retries = 3;
  std::string wire = Encode(MessageType::kPushTask, push);
  ASSERT_EQ(*PeekType(wire), MessageType::kPushTask);
  auto back = Decode<PushTask>(wire);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->spec.task_id, push.spec.task_id);
  EXPECT_EQ(back->spec.function, "Add");
  EXPECT_EQ(back->spec.args[0].value, std::string("\0\1\2", 3));
  EXPECT_EQ(back->spec.args[1].ref, push.spec.args[1].ref);
  EXPECT_EQ(back->spec.resources, push.spec.resources);
}

TEST(ProtocolTest, ErrorInfoRoundTrip) {
  PushTaskReply reply;
  reply.error = internal::ErrorInfo{internal::ErrorInfo::Kind::kTaskError,
                                    "std::invalid_argument",
                                    "boom",
                                    "here",
                                    {"std::logic_error", "std::exception"}};
  auto back = Decode<PushTaskReply>(Encode(MessageType::kPushTaskReply, reply));
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->error.has_value());
  EXPECT_EQ(back->error->remote_type, "std::invalid_argument");
  EXPECT_EQ(back->error->message, "boom");
  EXPECT_EQ(back->error->remote_bases,
            (std::vector<std::string>{"std::logic_error", "std::exception"}));
}

TEST(ProtocolTest, NotARaykMessage) {
  auto type = PeekType("hello");
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.status().message(), HasSubstr("not a rayk message"));
  EXPECT_FALSE(PeekType("").ok());
}

TEST(ProtocolTest, OtherProtocolVersion) {
  std::string wire = Encode(MessageType::kAck, Empty{});
  wire[2] = static_cast<char>(kProtocolVersion + 1);
  auto type = PeekType(wire);
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.status().message(), HasSubstr("run the same rayk version on every node"));
}

TEST(ProtocolTest, TruncatedAndGarbageBodies) {
  std::string wire = Encode(MessageType::kRegisterJob, RegisterJob{});
  for (size_t cut = kHeaderSize; cut < wire.size(); cut += 3) {
    auto body = Decode<RegisterJob>(std::string_view(wire).substr(0, cut));
    EXPECT_FALSE(body.ok()) << "cut at " << cut;
  }
  std::string garbage = wire.substr(0, kHeaderSize) + std::string(64, '\xff');
  auto body = Decode<PushTask>(garbage);
  ASSERT_FALSE(body.ok());
  EXPECT_THAT(body.status().message(), HasSubstr("malformed rayk message"));
}

}  // namespace
}  // namespace rayk::protocol
