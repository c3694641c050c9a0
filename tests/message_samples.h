// A filled-in sample of every message body, so that every length and count
// field is present (empty strings and vectors would leave most of a decoder
// unexercised): the codec's hostile-input tests mutate them, and the message
// fuzz target's seeds are made from them (tests/fuzz/make_message_seeds.cc).
#pragma once

#include <string>
#include <vector>

#include "rpc/protocol.h"

namespace rayk::protocol::samples {

inline internal::StoreLocation SampleLocation() {
  return {NodeId::FromRandom(), "tcp://127.0.0.1:7001", 4096};
}
inline internal::TaskArg SampleArg() {
  internal::TaskArg arg;
  arg.is_ref = true;
  arg.ref = ObjectId::FromRandom();
  arg.owner_address = "tcp://127.0.0.1:7002";
  arg.value = "value";
  arg.location = SampleLocation();
  return arg;
}
inline std::vector<AcceleratorIds> SampleAccelerators() {
  return {{"GPU", "CUDA_VISIBLE_DEVICES", {0, 1}}, {"TPU", "TPU_VISIBLE_CHIPS", {3}}};
}
inline internal::Placement SamplePlacement() {
  internal::Placement placement;
  placement.affinity_node = NodeId::FromRandom();
  placement.label_selector = {{"zone", "a"}};
  placement.placement_group = PlacementGroupId::FromRandom();
  placement.bundle_index = 1;
  return placement;
}
inline NodeInfo SampleNode() {
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
inline JobInfo SampleJob() {
  return {JobId::FromRandom(),
          42,
          "tcp://127.0.0.1:7004",
          {{"libjob.so", std::string(64, 'a'), 1000}, {"libmore.so", std::string(64, 'b'), 2000}},
          1,
          2,
          false,
          "analytics"};
}
inline ActorInfo SampleActorInfo() {
  ActorInfo info;
  info.actor_id = ActorId::FromRandom();
  info.address = "tcp://127.0.0.1:7005";
  info.name = "counter";
  info.class_name = "Counter";
  info.death_cause = "none";
  info.pending_reason = "no node has {\"GPU\": 1}";
  info.namespace_name = "analytics";
  return info;
}

inline PlacementGroupSpec SamplePlacementGroupSpec() {
  PlacementGroupSpec spec;
  spec.group_id = PlacementGroupId::FromRandom();
  spec.job_id = JobId::FromRandom();
  spec.name = "group";
  spec.namespace_name = "analytics";
  spec.bundles = {ResourceSet{{"CPU", 1}}, ResourceSet{{"GPU", 1}, {"CPU", 2}}};
  spec.strategy = PlacementStrategy::kStrictSpread;
  spec.detached = true;
  return spec;
}
inline PlacementGroupInfo SamplePlacementGroupInfo() {
  PlacementGroupInfo info;
  info.found = true;
  info.spec = SamplePlacementGroupSpec();
  info.state = PlacementGroupState::kCreated;
  info.bundle_nodes = {NodeId::FromRandom(), NodeId::FromRandom()};
  info.pending_reason = "waiting";
  return info;
}

template <class T>
T Sample() {
  return T{};
}
template <>
inline CreatePlacementGroup Sample() {
  return {SamplePlacementGroupSpec()};
}
template <>
inline RemovePlacementGroup Sample() {
  return {PlacementGroupId::FromRandom()};
}
template <>
inline GetPlacementGroup Sample() {
  return {PlacementGroupId::FromRandom(), "group", "analytics", 1000};
}
template <>
inline BundleReservation Sample() {
  return {
      PlacementGroupId::FromRandom(), {0, 1}, {ResourceSet{{"CPU", 1}}, ResourceSet{{"CPU", 2}}}};
}
template <>
inline ReleaseBundles Sample() {
  return {PlacementGroupId::FromRandom(), true};
}
template <>
inline PlacementGroupInfo Sample() {
  return SamplePlacementGroupInfo();
}
template <>
inline PlacementGroupList Sample() {
  return {{SamplePlacementGroupInfo(), SamplePlacementGroupInfo()}};
}
template <>
inline RegisterNode Sample() {
  return {SampleNode()};
}
template <>
inline ReportResources Sample() {
  return {SampleNode()};
}
template <>
inline RegisterJob Sample() {
  return {SampleJob()};
}
template <>
inline FinishJob Sample() {
  return {JobId::FromRandom()};
}
template <>
inline RegisterActor Sample() {
  RegisterActor actor;
  actor.spec.actor_id = ActorId::FromRandom();
  actor.spec.factory = "MakeCounter";
  actor.spec.class_name = "Counter";
  actor.spec.args = {SampleArg(), SampleArg()};
  actor.spec.name = "counter";
  actor.spec.namespace_name = "analytics";
  actor.spec.resources = ResourceSet{{"CPU", 1}};
  actor.spec.owner_address = "tcp://127.0.0.1:7006";
  actor.spec.placement = SamplePlacement();
  actor.spec.concurrency_groups = {{"io", 4}};
  return actor;
}
template <>
inline GetActor Sample() {
  return {ActorId::FromRandom(), "counter", "analytics", GetActor::Wait::kUntilChanged, 3};
}
template <>
inline KillActor Sample() {
  return {ActorId::FromRandom(), true, "killed by a test", false};
}
template <>
inline KvRequest Sample() {
  return {"namespace", "key", "value", false};
}
template <>
inline GetClusterView Sample() {
  return {7, 11};
}
template <>
inline RequestWorkerLease Sample() {
  RequestWorkerLease lease;
  lease.request_id = 9;
  lease.resources = ResourceSet{{"CPU", 1}};
  lease.owner_address = "tcp://127.0.0.1:7007";
  lease.owner_host = "host";
  lease.placement = SamplePlacement();
  lease.argument_bytes = {{NodeId::FromRandom(), 100}};
  return lease;
}
template <>
inline PutCode Sample() {
  return {std::string(64, 'c'), 10, 0, "0123456789"};
}
template <>
inline GetCode Sample() {
  return {std::string(64, 'd'), 4, 6};
}
template <>
inline CodeChunk Sample() {
  return {true, 10, 4, "456789"};
}
template <>
inline GetJob Sample() {
  return {JobId::FromRandom()};
}
template <>
inline JobReply Sample() {
  return {true, SampleJob()};
}
template <>
inline WorkerLife Sample() {
  return {"tcp://127.0.0.1:7009", true, "worker pid 13 killed by signal 9"};
}
template <>
inline ReturnWorker Sample() {
  return {11, true};
}
template <>
inline WatchDriver Sample() {
  return {JobId::FromRandom(), 4242, "host-a"};
}
template <>
inline RegisterWorker Sample() {
  return {WorkerId::FromRandom(), "tcp://127.0.0.1:7008", 12};
}
template <>
inline WorkerBlockState Sample() {
  return {WorkerId::FromRandom()};
}
template <>
inline PullObject Sample() {
  return {ObjectId::FromRandom(), SampleLocation()};
}
template <>
inline ReadObjectChunk Sample() {
  return {ObjectId::FromRandom(), 8, 16};
}
template <>
inline FreeObjects Sample() {
  return {{ObjectId::FromRandom(), ObjectId::FromRandom()}};
}
template <>
inline RecordPrimaries Sample() {
  return {"tcp://127.0.0.1:7010", 4242, {ObjectId::FromRandom(), ObjectId::FromRandom()}};
}
template <>
inline PushTask Sample() {
  PushTask push;
  push.spec.task_id = TaskId::FromRandom();
  push.spec.function = "Add";
  push.spec.args = {SampleArg(), SampleArg()};
  push.spec.resources = ResourceSet{{"CPU", 1}};
  push.spec.owner_address = "tcp://127.0.0.1:7009";
  push.spec.name = "add-first";
  push.spec.concurrency_groups = {{"io", 4}, {"compute", 2}};
  push.spec.concurrency_group = "io";
  push.spec.accelerators = SampleAccelerators();
  push.spec.streaming = true;
  return push;
}
template <>
inline PushTasks Sample() {
  return {"tcp://127.0.0.1:7009", 7, {Sample<PushTask>().spec, Sample<PushTask>().spec}};
}
template <>
inline GetObject Sample() {
  return {ObjectId::FromRandom()};
}
template <>
inline WorkerDied Sample() {
  return {WorkerId::FromRandom(), 13, "killed by signal 9"};
}
template <>
inline RemoveBorrower Sample() {
  return {ObjectId::FromRandom()};
}
template <>
inline AddBorrower Sample() {
  return {ObjectId::FromRandom(), "tcp://127.0.0.1:7012"};
}
template <>  // also kAddBorrowers's body
inline RemoveBorrowers Sample() {
  return {"tcp://127.0.0.1:7012", {ObjectId::FromRandom(), ObjectId::FromRandom()}};
}
template <>
inline BorrowersAdded Sample() {
  return {{1, 0, 1}};
}
template <>
inline OwnedObjects Sample() {
  return {"tcp://127.0.0.1:7012", 77, 3, {{ObjectId::FromRandom(), 1 << 20, true, 1, 2, 3}}};
}
template <>
inline LeaseWarning Sample() {
  return {14, "no node fits"};
}
template <>
inline LeaseReply Sample() {
  LeaseReply reply;
  reply.result = LeaseReply::Result::kSpillback;
  reply.worker_address = "tcp://127.0.0.1:7010";
  reply.reason = "elsewhere";
  reply.spillback_address = "tcp://127.0.0.1:7011";
  reply.accelerators = SampleAccelerators();
  return reply;
}
template <>
inline PushTaskReply Sample() {
  PushTaskReply reply;
  reply.value = "result";
  reply.error = internal::ErrorInfo{internal::ErrorInfo::Kind::kTaskError,
                                    "type",
                                    "boom",
                                    "here",
                                    {"std::runtime_error", "std::exception"}};
  reply.location = SampleLocation();
  return reply;
}
template <>
inline PushTasksReply Sample() {
  return {{{TaskId::FromRandom(), 2, Encode(MessageType::kPushTaskReply, Sample<PushTaskReply>())},
           {TaskId::FromRandom(), 0, "reply"}}};
}
template <>
inline GetObjectReply Sample() {
  GetObjectReply reply;
  reply.found = true;
  reply.value = "value";
  reply.error =
      internal::ErrorInfo{internal::ErrorInfo::Kind::kObjectLost, "", "lost", "there", {}};
  reply.location = SampleLocation();
  return reply;
}
template <>
inline ClusterStatus Sample() {
  return {{SampleNode(), SampleNode()},
          {SampleJob()},
          {"tcp://127.0.0.1:7012",
           1,
           2,
           "lost",
           "gcs.redis: Redis at 127.0.0.1:6380 is full",
           3,
           {{"scheduler", "hybrid"}},
           "127.0.0.1:8080",
           10000}};
}
template <>
inline ActorInfo Sample() {
  return SampleActorInfo();
}
template <>
inline ActorList Sample() {
  return {{SampleActorInfo(), SampleActorInfo()}};
}
template <>
inline StatusReply Sample() {
  return StatusReply::From(Status::NotFound("not there"));
}
template <>
inline KvReply Sample() {
  return {true, "value", {"a", "b"}, "error"};
}
template <>
inline ClusterViewDelta Sample() {
  return {5, false, {SampleNode(), SampleNode()}, 3, 11};
}
template <>
inline ObjectChunk Sample() {
  return {true, 100, "chunk"};
}
template <>
inline StoreStats Sample() {
  StoreStats stats;
  stats.plugin = "shm";
  stats.largest = {{ObjectId::FromRandom(), 1}, {ObjectId::FromRandom(), 2}};
  return stats;
}
template <>
inline ListObjects Sample() {
  return {500};
}
template <>
inline WorkerList Sample() {
  WorkerRow row{WorkerId::FromRandom(), 4321,
                JobId::FromRandom(),    "LEASED",
                "tcp://127.0.0.1:7005", "tcp://127.0.0.1:7006",
                1700000000000,          true};
  return {NodeId::FromRandom(), {row, row}};
}
inline TaskEvent SampleTaskEvent() {
  return {TaskId::FromRandom(), 1,
          JobId::FromRandom(),  ActorId::FromRandom(),
          "Counter::Incr",      "FAILED",
          NodeId::FromRandom(), 1234,
          1700000000000000,     1700000000000100,
          1700000000000200,     "std::runtime_error: boom"};
}
template <>
inline ReportTaskEvents Sample() {
  return {{SampleTaskEvent(), SampleTaskEvent()}, 3};
}
template <>
inline ListTasks Sample() {
  return {JobId::FromRandom()};
}
template <>
inline TaskList Sample() {
  return {{SampleTaskEvent(), SampleTaskEvent()}, 4, 5};
}

inline LogBatch SampleLogBatch() {
  return {JobId::FromRandom(),  NodeId::FromRandom(),  4321,
          TaskId::FromRandom(), ActorId::FromRandom(), "Counter::Incr",
          {"a line", "another"}};
}
template <>
inline PublishLogs Sample() {
  return {{SampleLogBatch(), SampleLogBatch()}};
}
template <>
inline ReadLogs Sample() {
  return {JobId::FromRandom(),
          ActorId::FromRandom(),
          TaskId::FromRandom(),
          {{"worker-0a1b2c3d.log", 120}}};
}
template <>
inline LogLines Sample() {
  return {{SampleLogBatch()}, {{"worker-0a1b2c3d.log", 240}}, true};
}
template <>
inline ReportGeneratorItem Sample() {
  ContainedRef contained;
  contained.object_id = ObjectId::FromRandom();
  contained.owner = "tcp://127.0.0.1:7011";
  contained.registered = true;
  contained.borrow_handed_over = true;
  contained.worker = "tcp://127.0.0.1:7012";
  return {ObjectId::FromRandom(), 7, "item", SampleLocation(), {contained}, true};
}
template <>
inline GeneratorItemAck Sample() {
  return {true};
}

struct Wire {
  MessageType type;
  std::string bytes;
};

// A sample of every message type, encoded.
inline std::vector<Wire> Samples() {
  std::vector<Wire> wires;
#define RAYK_SAMPLE(name, number) \
  wires.push_back(                \
      {MessageType::k##name, Encode(MessageType::k##name, Sample<Body<MessageType::k##name>>())});
  RAYK_MESSAGE_TYPES(RAYK_SAMPLE)
#undef RAYK_SAMPLE
  return wires;
}

}  // namespace rayk::protocol::samples
