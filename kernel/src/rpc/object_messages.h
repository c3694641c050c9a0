// The object manager's messages (served by each raylet): pulls between
// nodes' stores, chunk reads, frees and `rayk memory`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rpc/common_messages.h"

namespace rayk::protocol {

// Copies an object from another node's store into this node's, in chunks.
struct PullObject {
  ObjectId object_id;
  internal::StoreLocation from;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& from;
  }
};

struct ReadObjectChunk {
  ObjectId object_id;
  uint64_t offset = 0;
  uint64_t length = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& offset& length;
  }
};

struct ObjectChunk {
  bool found = false;
  uint64_t total_size = 0;
  std::string data;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& total_size& data;
  }
};

struct FreeObjects {
  std::vector<ObjectId> object_ids;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_ids;
  }
};

// kRecordPrimaries (one-way, to the raylet of the node whose store holds
// them): the primary copies of `object_ids` were made for `owner` (a core
// worker's address; `owner_pid` its pid when it runs on this node, else 0).
// Sent before the copies are written, so that the raylet frees them when the
// owner dies (Ray frees the objects of a dead owner) even when the writer
// dies right after writing.
struct RecordPrimaries {
  std::string owner;
  int64_t owner_pid = 0;
  std::vector<ObjectId> object_ids;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& owner& owner_pid& object_ids;
  }
};

struct StoreObjectInfo {
  ObjectId object_id;
  uint64_t size = 0;
  bool primary = false, pinned = false, spilled = false, in_memory = false;
  int64_t creator_pid = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& size& primary& pinned& spilled& in_memory& creator_pid;
  }
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
    ar& node_id& plugin& capacity_bytes& used_bytes& pinned_bytes& spilled_bytes& num_objects&
        num_evicted& num_spilled& largest;
  }
};

struct GetStoreStats {
  template <class A>
  void serialize(A&, unsigned) {}
};

// `rayk list objects`: the `limit` largest objects of the node's store,
// answered as a StoreStats whose `largest` holds them (kGetStoreStats lists
// ten).
struct ListObjects {
  uint32_t limit = 0;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& limit;
  }
};

// The most ListObjects returns of one node: the reply stays far below the
// raylet's message limit (about 60 bytes an object).
constexpr uint32_t kMaxListedObjects = 100000;

RAYK_MESSAGE_BODY(kPullObject, PullObject);
RAYK_MESSAGE_BODY(kReadObjectChunk, ReadObjectChunk);
RAYK_MESSAGE_BODY(kFreeObjects, FreeObjects);
RAYK_MESSAGE_BODY(kRecordPrimaries, RecordPrimaries);
RAYK_MESSAGE_BODY(kGetStoreStats, GetStoreStats);
RAYK_MESSAGE_BODY(kListObjects, ListObjects);
RAYK_MESSAGE_BODY(kObjectChunk, ObjectChunk);
RAYK_MESSAGE_BODY(kStoreStats, StoreStats);

}  // namespace rayk::protocol
