// The codec on hostile input: every message type's decoder against truncated
// bodies, trailing bytes and lying lengths and counts, with a check that no
// decode allocates much more than the message's own size.
#include "rpc/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "message_samples.h"
#include "rpc/protocol.h"

// The largest single allocation while tracking is on, through the global
// operator new that every allocation in the process (the kernel's too) uses.
namespace {
std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_largest{0};
}  // namespace

void* operator new(size_t size) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size)) {
    }
  }
  void* memory = std::malloc(size == 0 ? 1 : size);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, size_t) noexcept { std::free(memory); }

namespace rayk::protocol {
namespace {

using samples::Samples;
using samples::Wire;
using ::testing::HasSubstr;

// Decodes `bytes` as the body of `type` and encodes it again.
Result<std::string> Reencode(MessageType type, std::string_view bytes) {
  Result<std::string> out = Status::InvalidArgument("no such type");
  VisitMessageType(type, [&](auto constant) {
    Body<decltype(constant)::value> body;
    Status decoded = DecodeBodyInto(bytes, body);
    out = decoded.ok() ? Result<std::string>(Encode(constant, body)) : decoded;
  });
  return out;
}

// Decodes with allocation tracking on; returns the largest allocation.
size_t LargestAllocationDecoding(MessageType type, std::string_view bytes, Status* status) {
  g_largest = 0;
  g_tracking = true;
  auto back = Reencode(type, bytes);
  g_tracking = false;
  *status = back.status();
  return g_largest;
}

TEST(CodecTest, EveryMessageRoundTripsThroughTheBoundedArchive) {
  for (const Wire& wire : Samples()) {
    auto back = Reencode(wire.type, wire.bytes);
    ASSERT_TRUE(back.ok()) << DescribeType(wire.type) << ": " << back.status().ToString();
    EXPECT_EQ(*back, wire.bytes) << DescribeType(wire.type);
  }
}

TEST(CodecTest, EveryTruncatedBodyFails) {
  for (const Wire& wire : Samples()) {
    for (size_t cut = kHeaderSize; cut < wire.bytes.size(); ++cut) {
      auto back = Reencode(wire.type, std::string_view(wire.bytes).substr(0, cut));
      EXPECT_FALSE(back.ok()) << DescribeType(wire.type) << " cut at " << cut;
    }
  }
}

TEST(CodecTest, TrailingBytesFail) {
  for (const Wire& wire : Samples()) {
    auto back = Reencode(wire.type, wire.bytes + "x");
    ASSERT_FALSE(back.ok()) << DescribeType(wire.type);
    EXPECT_THAT(back.status().message(), HasSubstr("1 bytes left over"));
  }
}

// Every 8 bytes of every body overwritten with a lying length or count: the
// decode may fail or succeed, but never allocates beyond the message's size.
TEST(CodecTest, LyingLengthsAndCountsNeverAllocateBeyondTheMessage) {
  for (uint64_t lie : {uint64_t{1} << 30, uint64_t{1} << 40, ~uint64_t{0}, uint64_t{0x7fffffff}}) {
    for (const Wire& wire : Samples()) {
      for (size_t at = kHeaderSize; at + 8 <= wire.bytes.size(); ++at) {
        std::string bytes = wire.bytes;
        for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>(lie >> (8 * i));
        Status status;
        size_t largest = LargestAllocationDecoding(wire.type, bytes, &status);
        ASSERT_LE(largest, bytes.size() + 4096) << DescribeType(wire.type) << " with " << lie
                                                << " at " << at << ": " << status.ToString();
      }
    }
  }
}

// The case from the report: a small KvPut claiming a 1 GiB (or 1 TiB) value.
TEST(CodecTest, ASmallKvPutClaimingAHugeValueFailsFast) {
  std::string wire = Encode(MessageType::kKvPut, KvRequest{"", "k", "", true});
  // The value's 8-byte length follows the key's: length 1, then 'k'.
  size_t value_length_at = wire.find(std::string("\x01\0\0\0\0\0\0\0k", 9)) + 9;
  ASSERT_LT(value_length_at, wire.size());
  for (uint64_t lie : {uint64_t{1} << 30, uint64_t{1} << 40}) {
    std::string bytes = wire;
    for (int i = 0; i < 8; ++i) bytes[value_length_at + i] = static_cast<char>(lie >> (8 * i));
    Status status;
    size_t largest = LargestAllocationDecoding(MessageType::kKvPut, bytes, &status);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), HasSubstr("a string of " + std::to_string(lie) +
                                            " bytes does not fit in the 1 bytes left"));
    EXPECT_LT(largest, 4096u);
  }
}

TEST(CodecTest, ACountBeyondTheMessageFailsFast) {
  std::string wire = Encode(MessageType::kFreeObjects, FreeObjects{{ObjectId::FromRandom()}});
  // The vector's count is the first 8-byte 1 in the body.
  size_t at = wire.find(std::string("\x01\0\0\0\0\0\0\0", 8), kHeaderSize);
  ASSERT_LT(at, wire.size());
  std::string bytes = wire;
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>((uint64_t{1} << 40) >> (8 * i));
  auto back = Decode<FreeObjects>(bytes);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(),
              HasSubstr("a collection of 1099511627776 items does not fit"));
  EXPECT_THAT(back.status().message(), HasSubstr("malformed rayk message FreeObjects (type 32)"));
}

// Found by tests/fuzz/message_fuzz: Boost reads a bool as the byte itself,
// and a bool holding 2 is undefined behaviour (UBSan aborts at the read).
// Every bool on the wire must be 0 or 1.
TEST(CodecTest, ABoolOtherThanZeroOrOneIsRefused) {
  std::string wire = Encode(MessageType::kReturnWorker, ReturnWorker{11, true});
  ASSERT_EQ(wire.back(), '\x01');  // worker_exiting, the last field
  for (char lie : {'\x02', '\x7f', '\xff'}) {
    std::string bytes = wire;
    bytes.back() = lie;
    auto back = Decode<ReturnWorker>(bytes);
    ASSERT_FALSE(back.ok()) << static_cast<int>(lie);
    EXPECT_THAT(back.status().message(),
                HasSubstr("a bool of value " + std::to_string(static_cast<uint8_t>(lie))));
  }
  std::string no = wire;
  no.back() = '\0';
  auto exiting = Decode<ReturnWorker>(no);
  ASSERT_TRUE(exiting.ok()) << exiting.status().ToString();
  EXPECT_FALSE(exiting->worker_exiting);
}

TEST(CodecTest, AnErrorReplyDecodesAsItsStatusWhateverTheCallerExpected) {
  std::string wire = Encode(MessageType::kErrorReply,
                            StatusReply::From(Status::InvalidArgument("malformed KvPut request")));
  auto kv = Decode<KvReply>(wire);
  ASSERT_FALSE(kv.ok());
  EXPECT_EQ(kv.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(kv.status().message(), "malformed KvPut request");
  // An error reply that claims success is still an error.
  auto odd = Decode<Empty>(Encode(MessageType::kErrorReply, StatusReply::From(Status::Ok())));
  EXPECT_FALSE(odd.ok());
}

TEST(CodecTest, TypesHaveNames) {
  EXPECT_STREQ(MessageTypeName(MessageType::kKvPut), "KvPut");
  EXPECT_EQ(DescribeType(MessageType::kKvPut), "KvPut (type 10)");
  EXPECT_EQ(MessageTypeName(static_cast<MessageType>(77)), nullptr);
  EXPECT_EQ(DescribeType(static_cast<MessageType>(77)), "type 77");
}

}  // namespace
}  // namespace rayk::protocol
