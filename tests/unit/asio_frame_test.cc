// The asio transport's wire format (plugins/transport/asio/asio_frame.h):
// headers round-trip, frames come out of a stream however it is cut into
// reads, large frames go into their own string, and a header over the limit
// or not of this format is an error before anything is allocated for it.
#include "../../plugins/transport/asio/asio_frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace rayk::asio_transport {
namespace {

std::string Encode(FrameType type, uint64_t id, const std::string& payload) {
  std::string out(kFrameHeaderSize, '\0');
  EncodeFrameHeader(FrameHeader{type, static_cast<uint32_t>(payload.size()), id}, out.data());
  return out + payload;
}

// Feeds `stream` to a reader `chunk` bytes at a time; the frames, or the error.
Result<std::vector<Frame>> Read(const std::string& stream, size_t chunk, uint64_t max_payload,
                                size_t buffer_size) {
  FrameReader reader(max_payload, 0, buffer_size);
  std::vector<Frame> frames;
  size_t offset = 0;
  while (offset < stream.size()) {
    auto [target, room] = reader.ReadTarget();
    size_t n = std::min({room, chunk, stream.size() - offset});
    std::memcpy(target, stream.data() + offset, n);
    reader.Commit(n);
    offset += n;
    while (true) {
      auto next = reader.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) break;
      frames.push_back(std::move(**next));
    }
  }
  return frames;
}

TEST(AsioFrame, HeadersRoundTrip) {
  uint8_t bytes[kFrameHeaderSize];
  EncodeFrameHeader(FrameHeader{FrameType::kReply, 1234, 0x0102030405060708ull}, bytes);
  auto header = DecodeFrameHeader(bytes, 1 << 20);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->type, FrameType::kReply);
  EXPECT_EQ(header->payload_size, 1234u);
  EXPECT_EQ(header->request_id, 0x0102030405060708ull);
}

TEST(AsioFrame, FramesComeOutHoweverTheStreamIsCut) {
  std::string stream;
  std::vector<std::string> payloads = {"", "a", std::string(300, 'b'), std::string(5000, 'c')};
  for (size_t i = 0; i < payloads.size(); ++i)
    stream += Encode(FrameType::kRequest, i, payloads[i]);
  for (size_t chunk : {1, 7, 16, 17, 64, 100000}) {
    // A 1 KiB buffer: the 5000-byte payload goes the large-frame way.
    auto frames = Read(stream, chunk, 1 << 20, 1024);
    ASSERT_TRUE(frames.ok()) << frames.status().ToString();
    ASSERT_EQ(frames->size(), payloads.size()) << "chunk " << chunk;
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ((*frames)[i].header.request_id, i);
      EXPECT_EQ((*frames)[i].payload, payloads[i]) << "chunk " << chunk << " frame " << i;
    }
  }
}

TEST(AsioFrame, AFrameOverTheLimitIsAnErrorFromItsHeaderAlone) {
  std::string header(kFrameHeaderSize, '\0');
  EncodeFrameHeader(FrameHeader{FrameType::kRequest, 0xffffffffu, 1}, header.data());
  auto frames = Read(header, 1000, 4096, 1024);
  ASSERT_FALSE(frames.ok());
  EXPECT_NE(frames.status().message().find("max_frame"), std::string::npos)
      << frames.status().message();
}

TEST(AsioFrame, ForeignBytesAreRejected) {
  std::string frame = Encode(FrameType::kRequest, 1, "x");
  std::string bad_magic = frame;
  bad_magic[0] = 'Z';
  std::string bad_version = frame;
  bad_version[2] = 2;
  std::string bad_type = frame;
  bad_type[3] = 42;
  for (const std::string& bytes : {bad_magic, bad_version, bad_type}) {
    EXPECT_FALSE(Read(bytes, 100, 4096, 1024).ok());
  }
}

TEST(AsioFrame, PublicationsAndPrefixListsRoundTrip) {
  std::string payload = EncodePublication("node.1", "body");
  auto topic = DecodePublication(&payload);
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(*topic, "node.1");
  EXPECT_EQ(payload, "body");
  std::string lying(
      "\xff\xff\xff\x7f"
      "abc",
      7);
  EXPECT_FALSE(DecodePublication(&lying).ok());

  std::vector<std::string> prefixes = {"", "node.", "job."};
  auto decoded = DecodePrefixes(EncodePrefixes(prefixes));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, prefixes);
  EXPECT_FALSE(DecodePrefixes(std::string("\x09\x00\x00\x00"
                                          "abc",
                                          7))
                   .ok());
  EXPECT_FALSE(DecodePrefixes("ab").ok());
}

}  // namespace
}  // namespace rayk::asio_transport
