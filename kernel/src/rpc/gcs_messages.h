// The GCS's messages: nodes and the cluster view, jobs, actors, the KV store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rayk/plugin/scheduler.h"
#include "rpc/common_messages.h"

namespace rayk::protocol {

// The largest value kKvPut takes. The KV store holds small shared settings
// and handles; large data belongs in the object store (rayk::Put), whose id
// can be stored here instead. Bigger puts get an error reply naming this.
constexpr size_t kMaxKvValueBytes = 16 << 20;

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
  // Workers whose process is stopped (SIGSTOP): "worker pid 12 stopped for 40 s, holding a lease".
  std::vector<std::string> stopped_workers;
  // Kept by the GCS: when it registered, and why and when it was marked dead.
  int64_t start_time_ms = 0;
  int64_t death_time_ms = 0;
  std::string death_cause;
  // The ports its workers (and drivers on its host) listen on; 0-0: any.
  int32_t min_worker_port = 0;
  int32_t max_worker_port = 0;
  // Its accelerators' devices and how much of each is in use, by resource name.
  std::vector<AcceleratorUse> accelerators;

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node_id& raylet_address& total& available& labels& pid& alive& num_workers& pending_leases&
        pending_demands& infeasible_demands& start_time_ms& death_time_ms& death_cause&
            min_worker_port& max_worker_port& stopped_workers& accelerators;
  }
};

// What a scheduler plugin sees of a node.
NodeView ToNodeView(const NodeInfo& node);

struct RegisterNode {
  NodeInfo node;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node;
  }
};

struct ReportResources {
  NodeInfo node;  // the whole current state of the node
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& node;
  }
};

// The cluster view's changes. The GCS publishes them on topic "view" (at
// most every kViewPublishPeriod, only when something changed), and answers a
// raylet's request with the nodes that changed since the version it has. A
// node that died comes with alive = false. Versions count within one
// incarnation of the GCS: a restarted or new head begins again, with a new
// random `incarnation`, so a raylet that knew another incarnation gets a
// `full` answer, which replaces the whole view (so does the first one).
constexpr char kViewTopic[] = "view";

struct GetClusterView {
  uint64_t known_version = 0;
  uint64_t known_incarnation = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& known_version& known_incarnation;
  }
};

struct ClusterViewDelta {
  uint64_t version = 0;
  bool full = false;
  std::vector<NodeInfo> nodes;
  // Not full: every change after version `since` is here, so a raylet whose
  // view is at least that new applies it; an older one missed a publication
  // and asks for the rest.
  uint64_t since = 0;
  uint64_t incarnation = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& full& nodes& since& incarnation;
  }
};

struct GetClusterStatus {
  template <class A>
  void serialize(A&, unsigned) {}
};

// One library of a job's code, named by its content (job_code/ ships it).
struct CodeLibrary {
  std::string name;    // the file name on the driver's host, for messages and logs
  std::string sha256;  // hex digest of the bytes: the library's identity
  uint64_t size = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& name& sha256& size;
  }
};

struct JobInfo {
  JobId job_id;
  int64_t driver_pid = 0;
  std::string driver_address;
  // The job's code: raylets start its workers with these libraries and no
  // others, fetched by digest from the GCS (job_code/code_cache.h).
  std::vector<CodeLibrary> code_libraries;
  int64_t start_time_ms = 0;
  int64_t end_time_ms = 0;
  bool finished = false;
  // Names of its actors and placement groups live in this namespace
  // (InitOptions::namespace_name; an anonymous job gets one of its own).
  std::string namespace_name;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id& driver_pid& driver_address& code_libraries& start_time_ms& end_time_ms& finished&
        namespace_name;
  }
};

struct RegisterJob {
  JobInfo job;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job;
  }
};

struct FinishJob {
  JobId job_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id;
  }
};

// What the GCS says of itself, for `rayk status`.
struct GcsInfo {
  std::string publisher_address;  // node changes are published here (topic "node")
  uint32_t restarts = 0;          // times the supervisor restarted the GCS server
  int64_t start_time_ms = 0;      // of this incarnation
  // Set after a restart that found no saved tables: what was lost.
  std::string lost_state;
  // Set while the GCS's store fails (an external Redis down, a full disk):
  // the last failure's message, and when the failures began (0: none).
  std::string store_error;
  int64_t store_error_since_ms = 0;
  // The plugin of each slot (Config::SelectedPlugins) in the GCS's
  // configuration, which `rayk start` and `rayk dev up` give every raylet.
  std::map<std::string, std::string> plugins;
  // HOST:PORT of the head's Prometheus metrics (http://.../metrics); empty: none.
  std::string metrics_address;
  // A node whose reports stop for this long is marked dead; raylets size
  // their heartbeat to it (kHeartbeatsPerNodeTimeout).
  int64_t node_timeout_ms = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& publisher_address& restarts& start_time_ms& lost_state& store_error& store_error_since_ms&
        plugins& metrics_address& node_timeout_ms;
  }
};

struct ClusterStatus {
  std::vector<NodeInfo> nodes;
  std::vector<JobInfo> jobs;
  GcsInfo gcs;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& nodes& jobs& gcs;
  }
};

// The GCS's internal key-value store (rayk::Kv*, `rayk kv`). Keys live in
// namespaces; the empty namespace is the default one.
struct KvRequest {
  std::string ns;
  std::string key;        // a prefix for kKvList
  std::string value;      // with kKvPut
  bool overwrite = true;  // with kKvPut
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& ns& key& value& overwrite;
  }
};

struct KvReply {
  bool found = false;  // kKvGet: the key exists; kKvPut: it was written; kKvDelete: it existed
  std::string value;   // kKvGet
  std::vector<std::string> keys;  // kKvList
  std::string error;              // the store failed
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& value& keys& error;
  }
};

// ---- Actors ----

// Job code travels to the GCS in chunks of this size (the last one smaller),
// and a library may be at most kMaxCodeLibraryBytes.
constexpr uint64_t kCodeChunkBytes = 4 << 20;
constexpr uint64_t kMaxCodeLibraryBytes = uint64_t{1} << 30;

// kPutCode: one chunk of a library, sent in order by the driver that
// registers it. The GCS keeps the library once the last chunk's bytes hash to
// `sha256`; before that, nobody can fetch it. Answered with a StatusReply.
struct PutCode {
  std::string sha256;
  uint64_t total_size = 0;
  uint64_t offset = 0;  // a multiple of kCodeChunkBytes
  std::string bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& sha256& total_size& offset& bytes;
  }
};

// kGetCode: up to `max_bytes` (at most one chunk) of a complete library from
// `offset`; max_bytes 0 only asks whether the GCS has it. Answered with CodeChunk.
struct GetCode {
  std::string sha256;
  uint64_t offset = 0;
  uint64_t max_bytes = kCodeChunkBytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& sha256& offset& max_bytes;
  }
};

struct CodeChunk {
  bool found = false;
  uint64_t total_size = 0;
  uint64_t offset = 0;
  std::string bytes;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& total_size& offset& bytes;
  }
};

// kGetJob: a job's record (its code, above all). Answered with JobReply.
struct GetJob {
  JobId job_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& job_id;
  }
};

struct JobReply {
  bool found = false;
  JobInfo job;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& job;
  }
};

// kReportWorkerLife (raylet to GCS, one way): a process that owns objects
// (a worker, or a driver) at `address` died, or a new one registered there.
// The GCS publishes deaths on the "worker" topic, so that borrowers of the
// dead owner's objects fail their Gets with OwnerDiedError at once.
// kGetWorkerLife {address}: the record, answered with kWorkerLife (dead is
// false when the GCS knows of no death there).
struct WorkerLife {
  std::string address;
  bool dead = false;
  std::string cause;  // with dead: "worker pid 12 on node 3f2a1b0c killed by signal 9"
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& address& dead& cause;
  }
};

enum class ActorState : uint8_t { kPending = 0, kAlive, kRestarting, kDead };
const char* ActorStateName(ActorState state);

struct ActorSpec {
  ActorId actor_id;
  JobId job_id;
  std::string factory;
  std::string class_name;
  std::vector<internal::TaskArg> args;  // values only: the creator resolves refs first
  std::string name;
  std::string namespace_name;  // of `name`
  ResourceSet resources;
  int max_restarts = 0;
  int max_task_retries = 0;
  int max_concurrency = 0;                        // 0: the default, which the actor's worker picks
  std::map<std::string, int> concurrency_groups;  // named groups and their limits
  bool detached = false;
  std::string owner_address;
  internal::Placement placement;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& job_id& factory& class_name& args& name& namespace_name& resources& max_restarts&
        max_task_retries& max_concurrency& concurrency_groups& detached& owner_address& placement;
  }
};

struct ActorInfo {
  ActorId actor_id;
  ActorState state = ActorState::kPending;
  uint64_t epoch = 0;   // bumped on every state change
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
  // Why a pending actor is not placed yet, when no alive node can ever hold
  // it (its demand, its label selector); it waits for a node that fits.
  std::string pending_reason;
  std::string namespace_name;  // of `name`
  // Its named concurrency groups and their limits (rayk/concurrency_group.h),
  // so that a handle from GetActor checks a call's group at submission.
  std::map<std::string, int> concurrency_groups;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& state& epoch& address& pid& node_id& name& class_name& job_id& restarts&
        max_task_retries& detached& death_cause& pending_reason& namespace_name& concurrency_groups;
  }
};

struct RegisterActor {
  ActorSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& spec;
  }
};

struct GetActor {
  enum class Wait : uint8_t { kNow = 0, kUntilSettled, kUntilChanged };
  ActorId actor_id;  // or
  std::string name;  // when actor_id is nil, in namespace_name
  std::string namespace_name;
  Wait wait = Wait::kNow;
  uint64_t epoch = 0;  // with kUntilChanged: reply once the epoch is past this one
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& name& namespace_name& wait& epoch;
  }
};

struct KillActor {
  ActorId actor_id;
  bool no_restart = true;
  std::string cause;
  // From the actor itself (rayk::ExitActor): it exits on its own once its
  // last reply is out; the GCS only records that it must not restart.
  bool exiting_by_itself = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& no_restart& cause& exiting_by_itself;
  }
};

struct ActorList {
  std::vector<ActorInfo> actors;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actors;
  }
};

struct ListActors {
  template <class A>
  void serialize(A&, unsigned) {}
};

RAYK_MESSAGE_BODY(kRegisterNode, RegisterNode);
RAYK_MESSAGE_BODY(kReportResources, ReportResources);
RAYK_MESSAGE_BODY(kGetClusterStatus, GetClusterStatus);
RAYK_MESSAGE_BODY(kRegisterJob, RegisterJob);
RAYK_MESSAGE_BODY(kFinishJob, FinishJob);
RAYK_MESSAGE_BODY(kRegisterActor, RegisterActor);
RAYK_MESSAGE_BODY(kGetActor, GetActor);
RAYK_MESSAGE_BODY(kKillActor, KillActor);
RAYK_MESSAGE_BODY(kListActors, ListActors);
RAYK_MESSAGE_BODY(kKvPut, KvRequest);
RAYK_MESSAGE_BODY(kKvGet, KvRequest);
RAYK_MESSAGE_BODY(kKvDelete, KvRequest);
RAYK_MESSAGE_BODY(kKvList, KvRequest);
RAYK_MESSAGE_BODY(kGetClusterView, GetClusterView);
RAYK_MESSAGE_BODY(kPutCode, PutCode);
RAYK_MESSAGE_BODY(kGetCode, GetCode);
RAYK_MESSAGE_BODY(kGetJob, GetJob);
RAYK_MESSAGE_BODY(kReportWorkerLife, WorkerLife);
RAYK_MESSAGE_BODY(kGetWorkerLife, WorkerLife);
RAYK_MESSAGE_BODY(kWorkerLife, WorkerLife);
RAYK_MESSAGE_BODY(kClusterStatus, ClusterStatus);
RAYK_MESSAGE_BODY(kActorInfo, ActorInfo);
RAYK_MESSAGE_BODY(kActorList, ActorList);
RAYK_MESSAGE_BODY(kKvReply, KvReply);
RAYK_MESSAGE_BODY(kClusterViewDelta, ClusterViewDelta);
RAYK_MESSAGE_BODY(kCodeChunk, CodeChunk);
RAYK_MESSAGE_BODY(kJobReply, JobReply);

}  // namespace rayk::protocol
