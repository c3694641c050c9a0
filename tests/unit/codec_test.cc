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

using ::testing::HasSubstr;

// ---- A filled-in sample of every body, so that every length field is there.

internal::StoreLocation SampleLocation() {
  return {NodeId::FromRandom(), "tcp://127.0.0.1:7001", 4096};
}
internal::TaskArg SampleArg() {
  internal::TaskArg arg;
  arg.is_ref = true;
  arg.ref = ObjectId::FromRandom();
  arg.owner_address = "tcp://127.0.0.1:7002";
  arg.value = "value";
  arg.location = SampleLocation();
  return arg;
}
internal::Placement SamplePlacement() {
  internal::Placement placement;
  placement.affinity_node = NodeId::FromRandom();
  placement.label_selector = {{"zone", "a"}};
  return placement;
}
NodeInfo SampleNode() {
  NodeInfo node;
  node.node_id = NodeId::FromRandom();
  node.raylet_address = "tcp://127.0.0.1:7003";
  node.total = ResourceSet{{"CPU", 4}};
  node.available = ResourceSet{{"CPU", 2}};
  node.labels = {{"zone", "a"}, {"rack", "b"}};
  node.pending_demands = {"{\"CPU\": 4} x 2"};
  node.infeasible_demands = {"{\"GPU\": 1}"};
  node.death_cause = "none";
  return node;
}
JobInfo SampleJob() {
  return {
      JobId::FromRandom(), 42, "tcp://127.0.0.1:7004", {"libjob.so", "libmore.so"}, 1, 2, false};
}
ActorInfo SampleActorInfo() {
  ActorInfo info;
  info.actor_id = ActorId::FromRandom();
  info.address = "tcp://127.0.0.1:7005";
  info.name = "counter";
  info.class_name = "Counter";
  info.death_cause = "none";
  return info;
}

template <class T>
T Sample() {
  return T{};
}
template <>
RegisterNode Sample() {
  return {SampleNode()};
}
template <>
ReportResources Sample() {
  return {SampleNode()};
}
template <>
RegisterJob Sample() {
  return {SampleJob()};
}
template <>
FinishJob Sample() {
  return {JobId::FromRandom()};
}
template <>
RegisterActor Sample() {
  RegisterActor actor;
  actor.spec.actor_id = ActorId::FromRandom();
  actor.spec.factory = "MakeCounter";
  actor.spec.class_name = "Counter";
  actor.spec.args = {SampleArg(), SampleArg()};
  actor.spec.name = "counter";
  actor.spec.resources = ResourceSet{{"CPU", 1}};
  actor.spec.owner_address = "tcp://127.0.0.1:7006";
  actor.spec.code_libraries = {"libactor.so"};
  actor.spec.placement = SamplePlacement();
  return actor;
}
template <>
GetActor Sample() {
  return {ActorId::FromRandom(), "counter", GetActor::Wait::kUntilChanged, 3};
}
template <>
KillActor Sample() {
  return {ActorId::FromRandom(), true, "killed by a test", false};
}
template <>
KvRequest Sample() {
  return {"namespace", "key", "value", false};
}
template <>
GetClusterView Sample() {
  return {7};
}
template <>
RequestWorkerLease Sample() {
  RequestWorkerLease lease;
  lease.request_id = 9;
  lease.resources = ResourceSet{{"CPU", 1}};
  lease.owner_address = "tcp://127.0.0.1:7007";
  lease.owner_host = "host";
  lease.code_libraries = {"libjob.so"};
  lease.placement = SamplePlacement();
  lease.argument_bytes = {{NodeId::FromRandom(), 100}};
  return lease;
}
template <>
ReturnWorker Sample() {
  return {11, true};
}
template <>
RegisterWorker Sample() {
  return {WorkerId::FromRandom(), "tcp://127.0.0.1:7008", 12};
}
template <>
WorkerBlockState Sample() {
  return {WorkerId::FromRandom()};
}
template <>
PullObject Sample() {
  return {ObjectId::FromRandom(), SampleLocation()};
}
template <>
ReadObjectChunk Sample() {
  return {ObjectId::FromRandom(), 8, 16};
}
template <>
FreeObjects Sample() {
  return {{ObjectId::FromRandom(), ObjectId::FromRandom()}};
}
template <>
PushTask Sample() {
  PushTask push;
  push.spec.task_id = TaskId::FromRandom();
  push.spec.function = "Add";
  push.spec.args = {SampleArg(), SampleArg()};
  push.spec.resources = ResourceSet{{"CPU", 1}};
  push.spec.owner_address = "tcp://127.0.0.1:7009";
  return push;
}
template <>
GetObject Sample() {
  return {ObjectId::FromRandom()};
}
template <>
WorkerDied Sample() {
  return {WorkerId::FromRandom(), 13, "killed by signal 9"};
}
template <>
RemoveBorrower Sample() {
  return {ObjectId::FromRandom()};
}
template <>
LeaseWarning Sample() {
  return {14, "no node fits"};
}
template <>
LeaseReply Sample() {
  LeaseReply reply;
  reply.result = LeaseReply::Result::kSpillback;
  reply.worker_address = "tcp://127.0.0.1:7010";
  reply.reason = "elsewhere";
  reply.spillback_address = "tcp://127.0.0.1:7011";
  return reply;
}
template <>
PushTaskReply Sample() {
  PushTaskReply reply;
  reply.value = "result";
  reply.error = internal::ErrorInfo{internal::ErrorInfo::Kind::kTaskError, "type", "boom", "here"};
  reply.location = SampleLocation();
  return reply;
}
template <>
GetObjectReply Sample() {
  GetObjectReply reply;
  reply.found = true;
  reply.value = "value";
  reply.error = internal::ErrorInfo{internal::ErrorInfo::Kind::kObjectLost, "", "lost", "there"};
  reply.location = SampleLocation();
  return reply;
}
template <>
ClusterStatus Sample() {
  return {{SampleNode(), SampleNode()}, {SampleJob()}, {"tcp://127.0.0.1:7012", 1, 2, "lost"}};
}
template <>
ActorInfo Sample() {
  return SampleActorInfo();
}
template <>
ActorList Sample() {
  return {{SampleActorInfo(), SampleActorInfo()}};
}
template <>
StatusReply Sample() {
  return StatusReply::From(Status::NotFound("not there"));
}
template <>
KvReply Sample() {
  return {true, "value", {"a", "b"}, "error"};
}
template <>
ClusterViewDelta Sample() {
  return {5, true, {SampleNode(), SampleNode()}};
}
template <>
ObjectChunk Sample() {
  return {true, 100, "chunk"};
}
template <>
StoreStats Sample() {
  StoreStats stats;
  stats.plugin = "shm";
  stats.largest = {{ObjectId::FromRandom(), 1}, {ObjectId::FromRandom(), 2}};
  return stats;
}

struct Wire {
  MessageType type;
  std::string bytes;
};

// A sample of every message type, encoded.
std::vector<Wire> Samples() {
  std::vector<Wire> wires;
#define RAYK_SAMPLE(name, number) \
  wires.push_back(                \
      {MessageType::k##name, Encode(MessageType::k##name, Sample<Body<MessageType::k##name>>())});
  RAYK_MESSAGE_TYPES(RAYK_SAMPLE)
#undef RAYK_SAMPLE
  return wires;
}

// Decodes `bytes` as the body of `type` and encodes it again.
Result<std::string> Reencode(MessageType type, std::string_view bytes) {
  switch (type) {
#define RAYK_REENCODE(name, number)                    \
  case MessageType::k##name: {                         \
    Body<MessageType::k##name> body;                   \
    RAYK_RETURN_IF_ERROR(DecodeBodyInto(bytes, body)); \
    return Encode(MessageType::k##name, body);         \
  }
    RAYK_MESSAGE_TYPES(RAYK_REENCODE)
#undef RAYK_REENCODE
  }
  return Status::InvalidArgument("no such type");
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

// A bool is one byte on the wire; any other value than 0 or 1 is refused
// rather than read into a bool (undefined behaviour, which UBSan reports).
TEST(CodecTest, ABoolThatIsNeitherZeroNorOneFails) {
  std::string wire = Encode(MessageType::kKvPut, KvRequest{"", "k", "", true});
  ASSERT_EQ(wire.back(), '\x01');  // overwrite, the body's last field
  for (char lie : {'\x02', '\x40', '\xff'}) {
    std::string bytes = wire;
    bytes.back() = lie;
    auto back = Decode<KvRequest>(bytes);
    ASSERT_FALSE(back.ok());
    EXPECT_THAT(back.status().message(), HasSubstr("is neither 0 nor 1"));
  }
  wire.back() = '\0';
  auto back = Decode<KvRequest>(wire);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->overwrite);
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
