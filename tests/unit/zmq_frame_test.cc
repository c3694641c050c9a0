// The zmq transport's frame header: what goes on the wire, and that every
// malformed header is refused with a reason rather than misread.
#include "../../plugins/transport/zmq/zmq_frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace rayk::zmq_transport {
namespace {

Result<FrameHeader> Decode(const std::string& bytes) {
  return DecodeFrameHeader(bytes.data(), bytes.size());
}

TEST(ZmqFrame, RoundTripsEveryTypeAndId) {
  for (FrameType type :
       {FrameType::kRequest, FrameType::kReply, FrameType::kOneWay, FrameType::kPublish}) {
    for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0x8000000000000000}, ~uint64_t{0}}) {
      auto header = Decode(EncodeFrameHeader(type, id));
      ASSERT_TRUE(header.ok()) << header.status().ToString();
      EXPECT_EQ(header->type, type);
      EXPECT_EQ(header->request_id, id);
    }
  }
}

TEST(ZmqFrame, LayoutIsMagicVersionTypeThenLittleEndianId) {
  std::string bytes = EncodeFrameHeader(FrameType::kReply, 0x0102030405060708);
  ASSERT_EQ(bytes.size(), kFrameHeaderSize);
  EXPECT_EQ(bytes, std::string("RK\x01\x02\x08\x07\x06\x05\x04\x03\x02\x01", 12));
}

TEST(ZmqFrame, RefusesWrongSizes) {
  std::string good = EncodeFrameHeader(FrameType::kRequest, 7);
  EXPECT_FALSE(Decode("").ok());
  EXPECT_FALSE(Decode(good.substr(0, 11)).ok());
  EXPECT_FALSE(Decode(good + "x").ok());
  EXPECT_EQ(Decode("").status().code(), StatusCode::kInvalidArgument);
}

TEST(ZmqFrame, RefusesBadMagicVersionAndType) {
  std::string good = EncodeFrameHeader(FrameType::kRequest, 7);
  std::string bad = good;
  bad[1] = 'X';
  EXPECT_FALSE(Decode(bad).ok());

  bad = good;
  bad[2] = 2;
  auto version = Decode(bad);
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.status().message().find("version 2"), std::string::npos)
      << version.status().message();

  for (int type : {0, 5, 255}) {
    bad = good;
    bad[3] = static_cast<char>(type);
    EXPECT_FALSE(Decode(bad).ok()) << type;
  }
}

TEST(ZmqFrame, GarbageNeverDecodes) {
  // Printable text of the right length is refused by the magic alone.
  EXPECT_FALSE(Decode("hello world!").ok());
  EXPECT_FALSE(Decode(std::string(12, '\0')).ok());
  EXPECT_FALSE(Decode(std::string(12, '\xff')).ok());
}

TEST(ZmqFrame, PrefixDecodesAHeaderFollowedByThePayload) {
  std::string frame = EncodeFrameHeader(FrameType::kOneWay, 9) + "payload";
  auto header = DecodeFramePrefix(frame.data(), frame.size());
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->type, FrameType::kOneWay);
  EXPECT_EQ(header->request_id, 9u);
  EXPECT_TRUE(DecodeFramePrefix(frame.data(), kFrameHeaderSize).ok());
  EXPECT_FALSE(DecodeFramePrefix(frame.data(), kFrameHeaderSize - 1).ok());
  EXPECT_FALSE(DecodeFramePrefix("garbage, but long enough", 24).ok());
}

}  // namespace
}  // namespace rayk::zmq_transport
