// The messages rayk's processes exchange, and their wire encoding.
//
// Every message is a 4-byte header (magic 'R' 'K', protocol version, message
// type) followed by the body, a Boost.Serialization binary archive (no header,
// no codecvt) of the struct for that type. Decoding checks the header and
// catches every archive error, so a malformed frame is a Status, never a
// crash. Bump kProtocolVersion when any struct here changes shape.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/iostreams/device/array.hpp>
#include <boost/iostreams/device/back_inserter.hpp>
#include <boost/iostreams/stream.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/optional.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include "rayk/ids.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/serialization_std.h"  // std::optional, which Boost 1.74 lacks
#include "rayk/resources.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/status.h"

namespace rayk::protocol {

constexpr uint8_t kProtocolVersion = 2;

enum class MessageType : uint8_t {
  // To the GCS.
  kRegisterNode = 1,
  kReportResources,
  kGetClusterStatus,
  kRegisterJob,
  kFinishJob,
  kRegisterActor,
  kGetActor,
  kKillActor,
  kListActors,
  kKvPut,
  kKvGet,
  kKvDelete,
  kKvList,
  kGetClusterView,
  // To a raylet.
  kPullObject = 30,
  kReadObjectChunk,
  kFreeObjects,
  kGetStoreStats,
  kRequestWorkerLease = 20,
  kReturnWorker,
  kRegisterWorker,
  kWorkerBlocked,
  kWorkerUnblocked,
  kShutdownRaylet,
  // To a core worker (worker or driver).
  kPushTask = 40,
  kGetObject,
  kWorkerDied,
  kRemoveBorrower,
  kExitWorker,
  kLeaseWarning,
  // Replies.
  kAck = 100,
  kLeaseReply,
  kPushTaskReply,
  kGetObjectReply,
  kClusterStatus,
  kActorInfo,
  kActorList,
  kStatusReply,
  kKvReply,
  kClusterViewDelta,
  kObjectChunk,
  kStoreStats,
};

// ---- GCS ----

struct NodeInfo {
  NodeId node_id;
  std::string raylet_address;
  ResourceSet total;
  ResourceSet available;
  std::map<std::string, std::string> labels;
  int64_t pid = 0;
  bool alive = true;
  uint32_t num_workers = 0;
  uint32_t pending_leases = 0;
  // Demands of queued leases no node can satisfy now: {"CPU": 4} x 2, as text.
  std::vector<std::string> pending_demands;
  std::vector<std::string> infeasible_demands;
  // Kept by the GCS: when it registered, and why and when it was marked dead.
  int64_t start_time_ms = 0;
  int64_t death_time_ms = 0;
  std::string death_cause;

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node_id& raylet_address& total& available& labels& pid& alive& num_workers& pending_leases&
        pending_demands& infeasible_demands& start_time_ms& death_time_ms& death_cause;
  }
};

// What a scheduler plugin sees of a node.
NodeView ToNodeView(const NodeInfo& node);

struct RegisterNode {
  NodeInfo node;
  template <class A>
  void serialize(A& ar, unsigned) { ar& node; }
};

struct ReportResources {
  NodeInfo node;  // the whole current state of the node
  template <class A>
  void serialize(A& ar, unsigned) { ar& node; }
};

// A raylet's request for the cluster view (sent with each report), and the
// answer: the nodes that changed since the version it has. A node that died
// comes with alive = false. `full` replaces the whole view (the first answer,
// or one from a restarted GCS whose versions began again).
struct GetClusterView {
  uint64_t known_version = 0;
  template <class A>
  void serialize(A& ar, unsigned) { ar& known_version; }
};

struct ClusterViewDelta {
  uint64_t version = 0;
  bool full = false;
  std::vector<NodeInfo> nodes;
  template <class A>
  void serialize(A& ar, unsigned) { ar& version& full& nodes; }
};

struct GetClusterStatus {
  template <class A>
  void serialize(A&, unsigned) {}
};

struct JobInfo {
  JobId job_id;
  int64_t driver_pid = 0;
  std::string driver_address;
  std::vector<std::string> code_libraries;
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;
  bool finished = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id& driver_pid& driver_address& code_libraries& start_time_ms& end_time_ms& finished;
  }
};

struct RegisterJob {
  JobInfo job;
  template <class A>
  void serialize(A& ar, unsigned) { ar& job; }
};

struct FinishJob {
  JobId job_id;
  template <class A>
  void serialize(A& ar, unsigned) { ar& job_id; }
};

// What the GCS says of itself, for `rayk status`.
struct GcsInfo {
  std::string publisher_address;  // node changes are published here (topic "node")
  uint32_t restarts = 0;          // times the supervisor restarted the GCS server
  int64_t start_time_ms = 0;      // of this incarnation
  // Set after a restart that found no saved tables: what was lost.
  std::string lost_state;
  template <class A>
  void serialize(A& ar, unsigned) { ar& publisher_address& restarts& start_time_ms& lost_state; }
};

struct ClusterStatus {
  std::vector<NodeInfo> nodes;
  std::vector<JobInfo> jobs;
  GcsInfo gcs;
  template <class A>
  void serialize(A& ar, unsigned) { ar& nodes& jobs& gcs; }
};

// The GCS's internal key-value store (rayk::Kv*, `rayk kv`). Keys live in
// namespaces; the empty namespace is the default one.
struct KvRequest {
  std::string ns;
  std::string key;          // a prefix for kKvList
  std::string value;        // with kKvPut
  bool overwrite = true;    // with kKvPut
  template <class A>
  void serialize(A& ar, unsigned) { ar& ns& key& value& overwrite; }
};

struct KvReply {
  bool found = false;             // kKvGet: the key exists; kKvPut: it was written; kKvDelete: it existed
  std::string value;              // kKvGet
  std::vector<std::string> keys;  // kKvList
  std::string error;              // the store failed
  template <class A>
  void serialize(A& ar, unsigned) { ar& found& value& keys& error; }
};

// ---- Raylet ----

struct RequestWorkerLease {
  uint64_t request_id = 0;  // the owner's, echoed in the reply
  JobId job_id;
  ResourceSet resources;
  std::string owner_address;
  int64_t owner_pid = 0;   // with owner_host, lets the raylet notice a driver that died
  std::string owner_host;
  std::vector<std::string> code_libraries;
  internal::Placement placement;
  uint32_t spillbacks = 0;  // raylets that forwarded it already
  // Bytes of the first queued task's arguments held in each node's store,
  // for locality-aware placement.
  std::map<NodeId, uint64_t> argument_bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& request_id& job_id& resources& owner_address& owner_pid& owner_host& code_libraries& placement& spillbacks&
        argument_bytes;
  }
};

// Raylet -> owner, one-way: a lease request waits for something no node has.
struct LeaseWarning {
  uint64_t request_id = 0;
  std::string message;
  template <class A>
  void serialize(A& ar, unsigned) { ar& request_id& message; }
};

struct LeaseReply {
  // kSpillback: ask the raylet at spillback_address (node node_id) instead.
  enum class Result : uint8_t { kGranted, kInfeasible, kFailed, kSpillback };
  Result result = Result::kFailed;
  uint64_t request_id = 0;
  uint64_t lease_id = 0;
  WorkerId worker_id;
  std::string worker_address;
  int64_t worker_pid = 0;
  NodeId node_id;
  std::string reason;  // with kInfeasible and kFailed
  std::string spillback_address;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& result& request_id& lease_id& worker_id& worker_address& worker_pid& node_id& reason& spillback_address;
  }
};

struct ReturnWorker {
  uint64_t lease_id = 0;
  bool worker_exiting = false;
  template <class A>
  void serialize(A& ar, unsigned) { ar& lease_id& worker_exiting; }
};

struct RegisterWorker {
  WorkerId worker_id;
  std::string address;
  int64_t pid = 0;
  template <class A>
  void serialize(A& ar, unsigned) { ar& worker_id& address& pid; }
};

struct WorkerBlockState {
  WorkerId worker_id;
  template <class A>
  void serialize(A& ar, unsigned) { ar& worker_id; }
};

struct Empty {
  template <class A>
  void serialize(A&, unsigned) {}
};

// ---- Core worker ----

struct TaskSpec {
  // An actor call (actor_id set), an actor's creation (creates_actor), or a
  // plain task (neither).
  ActorId actor_id;
  bool creates_actor = false;
  int max_concurrency = 1;  // with creates_actor
  TaskId task_id;
  JobId job_id;
  std::string function;
  std::vector<internal::TaskArg> args;  // refs are resolved to values before the push
  ResourceSet resources;
  int max_retries = 0;
  int attempt = 0;
  ObjectId return_id;
  std::string owner_address;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& creates_actor& max_concurrency& task_id& job_id& function& args& resources& max_retries& attempt&
        return_id& owner_address;
  }
};

struct PushTask {
  TaskSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) { ar& spec; }
};

struct PushTaskReply {
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store, not here
  uint32_t run_us = 0;  // how long the function ran, for the owner's pipelining choice
  template <class A>
  void serialize(A& ar, unsigned) { ar& value& error& location& run_us; }
};

struct GetObject {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_id; }
};

struct GetObjectReply {
  bool found = false;
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store
  template <class A>
  void serialize(A& ar, unsigned) { ar& found& value& error& location; }
};

// ---- Object manager (raylet) ----

// Copies an object from another node's store into this node's, in chunks.
struct PullObject {
  ObjectId object_id;
  internal::StoreLocation from;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_id& from; }
};

struct ReadObjectChunk {
  ObjectId object_id;
  uint64_t offset = 0;
  uint64_t length = 0;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_id& offset& length; }
};

struct ObjectChunk {
  bool found = false;
  uint64_t total_size = 0;
  std::string data;
  template <class A>
  void serialize(A& ar, unsigned) { ar& found& total_size& data; }
};

struct FreeObjects {
  std::vector<ObjectId> object_ids;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_ids; }
};

struct StoreObjectInfo {
  ObjectId object_id;
  uint64_t size = 0;
  bool primary = false, pinned = false, spilled = false, in_memory = false;
  int64_t creator_pid = 0;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_id& size& primary& pinned& spilled& in_memory& creator_pid; }
};

// `rayk memory`: one node's store.
struct StoreStats {
  NodeId node_id;
  std::string plugin;
  uint64_t capacity_bytes = 0, used_bytes = 0, pinned_bytes = 0, spilled_bytes = 0;
  uint64_t num_objects = 0, num_evicted = 0, num_spilled = 0;
  std::vector<StoreObjectInfo> largest;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node_id& plugin& capacity_bytes& used_bytes& pinned_bytes& spilled_bytes& num_objects& num_evicted&
        num_spilled& largest;
  }
};

struct WorkerDied {
  WorkerId worker_id;
  uint64_t lease_id = 0;
  std::string reason;
  template <class A>
  void serialize(A& ar, unsigned) { ar& worker_id& lease_id& reason; }
};

struct RemoveBorrower {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) { ar& object_id; }
};

// ---- Actors (GCS) ----

enum class ActorState : uint8_t { kPending = 0, kAlive, kRestarting, kDead };
const char* ActorStateName(ActorState state);

struct ActorSpec {
  ActorId actor_id;
  JobId job_id;
  std::string factory;
  std::string class_name;
  std::vector<internal::TaskArg> args;  // values only: the creator resolves refs first
  std::string name;
  ResourceSet resources;
  int max_restarts = 0;
  int max_task_retries = 0;
  int max_concurrency = 1;
  bool detached = false;
  std::string owner_address;
  std::vector<std::string> code_libraries;
  internal::Placement placement;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& job_id& factory& class_name& args& name& resources& max_restarts& max_task_retries&
        max_concurrency& detached& owner_address& code_libraries& placement;
  }
};

struct ActorInfo {
  ActorId actor_id;
  ActorState state = ActorState::kPending;
  uint64_t epoch = 0;  // bumped on every state change
  std::string address;  // the worker hosting it, when alive
  int64_t pid = 0;
  NodeId node_id;
  std::string name;
  std::string class_name;
  JobId job_id;
  int restarts = 0;
  int max_task_retries = 0;
  bool detached = false;
  std::string death_cause;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& state& epoch& address& pid& node_id& name& class_name& job_id& restarts& max_task_retries&
        detached& death_cause;
  }
};

struct RegisterActor {
  ActorSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) { ar& spec; }
};

struct GetActor {
  enum class Wait : uint8_t { kNow = 0, kUntilSettled, kUntilChanged };
  ActorId actor_id;   // or
  std::string name;   // when actor_id is nil
  Wait wait = Wait::kNow;
  uint64_t epoch = 0;  // with kUntilChanged: reply once the epoch is past this one
  template <class A>
  void serialize(A& ar, unsigned) { ar& actor_id& name& wait& epoch; }
};

struct KillActor {
  ActorId actor_id;
  bool no_restart = true;
  std::string cause;
  // From the actor itself (rayk::ExitActor): it exits on its own once its
  // last reply is out; the GCS only records that it must not restart.
  bool exiting_by_itself = false;
  template <class A>
  void serialize(A& ar, unsigned) { ar& actor_id& no_restart& cause& exiting_by_itself; }
};

struct ActorList {
  std::vector<ActorInfo> actors;
  template <class A>
  void serialize(A& ar, unsigned) { ar& actors; }
};

// A reply that is just a status.
struct StatusReply {
  bool ok = true;
  int code = 0;
  std::string message;
  template <class A>
  void serialize(A& ar, unsigned) { ar& ok& code& message; }
  static StatusReply From(const Status& status) {
    return {status.ok(), static_cast<int>(status.code()), status.message()};
  }
  Status ToStatus() const { return ok ? Status::Ok() : Status(static_cast<StatusCode>(code), message); }
};

// ---- Encoding ----

constexpr unsigned kArchiveFlags = boost::archive::no_header | boost::archive::no_codecvt;
constexpr size_t kHeaderSize = 4;

template <typename T>
std::string Encode(MessageType type, const T& body) {
  std::string out;
  out.reserve(64);
  out.push_back('R');
  out.push_back('K');
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(static_cast<char>(type));
  {
    boost::iostreams::stream<boost::iostreams::back_insert_device<std::string>> stream(out);
    boost::archive::binary_oarchive archive(stream, kArchiveFlags);
    archive << body;
  }
  return out;
}

// The type of a message, after checking its header.
Result<MessageType> PeekType(std::string_view message);

template <typename T>
Result<T> Decode(std::string_view message) {
  auto type = PeekType(message);
  if (!type.ok()) return type.status();
  try {
    boost::iostreams::stream<boost::iostreams::array_source> stream(message.data() + kHeaderSize,
                                                                    message.size() - kHeaderSize);
    boost::archive::binary_iarchive archive(stream, kArchiveFlags);
    T body;
    archive >> body;
    return body;
  } catch (const std::exception& error) {
    return Status::InvalidArgument("malformed rayk message of type " +
                                   std::to_string(static_cast<int>(*type)) + ": " + error.what());
  }
}

}  // namespace rayk::protocol

namespace boost::serialization {
template <class A>
void serialize(A& ar, rayk::internal::StoreLocation& location, unsigned) {
  ar& location.node& location.raylet_address& location.size;
}
template <class A>
void serialize(A& ar, rayk::internal::TaskArg& arg, unsigned) {
  ar& arg.is_ref& arg.ref& arg.owner_address& arg.value& arg.location;
}
template <class A>
void serialize(A& ar, rayk::internal::Placement& placement, unsigned) {
  ar& placement.strategy& placement.affinity_node& placement.affinity_soft& placement.label_selector;
}
}  // namespace boost::serialization
