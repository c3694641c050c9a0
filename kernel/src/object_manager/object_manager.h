// The object store as rayk's processes use it, for objects too large to
// travel inline (over kInlineLimit bytes).
//
// Every process of a node maps the same store (the shm plugin): a worker
// writes a task's large result there once, and its owner, or a task on the
// same node that takes it as an argument, reads the same pages (zero copy).
// An object that lives on another node is first pulled into this node's
// store, in chunks, by this node's raylet (ObjectManager), as a secondary copy
// that the store may evict; the primary stays where it was made until its
// owner frees it.
//
// NodeObjects is a process's handle on this (null when the configured store
// is not shared by the node: values then travel inline as before).
// ObjectManager is the raylet's side: it serves chunks to other nodes,
// pulls for its processes, frees on owners' request and reports usage
// (`rayk memory`). Both are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "object_manager/primary_owners.h"
#include "rayk/plugin/object_store.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"
#include "rpc/service.h"

namespace rayk {

constexpr size_t kInlineLimit = 100 * 1024;

// Reads a whole object from the raylet of the node whose store holds it, in
// chunks, into this process's memory: for a process that cannot map that
// store (no shared store here, e.g. a driver on another host).
Result<std::string> ReadObjectFromNode(Transport& transport, const ObjectId& id,
                                       const internal::StoreLocation& where);

class NodeObjects;

// Space for a new primary copy in this node's store (NodeObjects::Create),
// which its writer fills in place: Seal publishes it, and space dropped
// unsealed is given back. Used by one thread at a time.
class StoreSpace : public internal::ObjectSpace {
 public:
  StoreSpace(NodeObjects& objects, ObjectId id, std::unique_ptr<MutableObjectBuffer> buffer)
      : objects_(objects), id_(std::move(id)), buffer_(std::move(buffer)) {}
  ~StoreSpace() override;
  uint8_t* data() override { return buffer_->data(); }
  size_t size() const override { return buffer_->size(); }
  const ObjectId& id() const { return id_; }
  // Where the object now is; the space is gone either way.
  Result<internal::StoreLocation> Seal();

 private:
  NodeObjects& objects_;
  ObjectId id_;
  std::unique_ptr<MutableObjectBuffer> buffer_;  // null once sealed
};

class NodeObjects {
 public:
  NodeObjects(std::shared_ptr<ObjectStore> store, NodeId node, std::string raylet_address,
              std::shared_ptr<Channel> raylet, std::shared_ptr<Transport> transport);

  const NodeId& node() const { return node_; }
  // This process's core-worker address, once it serves (the owner of what
  // it puts).
  void SetSelf(std::string address);
  // Writes `bytes` as the primary copy of `id` in this node's store, owned
  // by `owner` (a core worker's address; empty: this process). The raylet
  // is told the owner first (primary_owners.h).
  Result<internal::StoreLocation> Put(const ObjectId& id, std::string_view bytes,
                                      const std::string& owner = {});
  // The same in two steps, for a writer that fills the space in place (a
  // Put's or rayk::Create's object, a task's large array result): Create
  // reserves it, telling the raylet the owner as Put does; the space seals
  // or gives it back (StoreSpace). kOutOfMemory when the store cannot hold
  // it, kAlreadyExists when `id` is there already.
  Result<std::unique_ptr<StoreSpace>> Create(const ObjectId& id, size_t size,
                                             const std::string& owner = {});
  // A pinned view of the object's bytes in this node's store, pulled here
  // first when it lives on another node. kNotFound when it is gone (its node
  // died, or it was freed).
  Result<std::shared_ptr<const ObjectBuffer>> Get(const ObjectId& id,
                                                  const internal::StoreLocation& where);
  // Frees the primary copy (the owner's call), here or on its node.
  void Free(const ObjectId& id, const internal::StoreLocation& where);

 private:
  friend class StoreSpace;
  std::shared_ptr<ObjectStore> store_;
  NodeId node_;
  std::string raylet_address_;
  std::shared_ptr<Channel> raylet_;
  std::shared_ptr<Transport> transport_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Channel>> raylets_;  // of other nodes, for frees
  std::string self_;                                         // with mu_
};

class ObjectManager {
 public:
  static constexpr uint64_t kChunkSize = 8 << 20;

  ObjectManager(std::shared_ptr<ObjectStore> store, NodeId node, std::string plugin,
                std::shared_ptr<Transport> transport);
  ~ObjectManager();

  // Serves kPullObject, kReadObjectChunk, kFreeObjects, kRecordPrimaries,
  // kGetStoreStats and kListObjects on the raylet's service.
  void RegisterHandlers(protocol::Service& service);
  // The core worker at `owner` died: the primaries it owned here go.
  void OwnerDied(const std::string& owner);
  // Frees the primaries of local owners whose process is gone (the raylet's
  // monitor round: a driver that never leased is known only by its pid).
  void CheckLocalOwners();
  // The GCS declared `node` dead (the raylet's view says so): pulls from it
  // fail at once, rather than wait out the chunk timeout on a peer that
  // will never answer, so that the task waiting for the object learns of
  // the loss while its owner makes the object again.
  void NodeDied(const NodeId& node);

 private:
  void OnPullObject(protocol::PullObject request, ReplyFn reply);
  void OnReadObjectChunk(protocol::ReadObjectChunk request, ReplyFn reply);
  void OnFreeObjects(protocol::FreeObjects request, ReplyFn reply);
  void OnGetStoreStats(protocol::GetStoreStats request, ReplyFn reply);
  void OnListObjects(protocol::ListObjects request, ReplyFn reply);
  // The store's statistics with its `limit` largest objects.
  protocol::StoreStats Stats(size_t limit);
  Status Pull(const protocol::PullObject& pull);
  // One chunk's reply from `source`; kUnavailable as soon as `from` is dead.
  Result<std::string> ReadChunk(Channel& source, const NodeId& from, std::string request);
  bool Dead(const NodeId& node);
  std::shared_ptr<Channel> RayletChannel(const std::string& address);

  std::shared_ptr<ObjectStore> store_;
  NodeId node_;
  std::string plugin_;
  PrimaryOwners owners_{[this](const ObjectId& id) { return store_->Contains(id); }};
  std::shared_ptr<Transport> transport_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Channel>> raylets_;
  // A pull waits on the network, so it runs off the raylet's handler thread.
  struct PullThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<PullThread> pulls_;
  std::set<NodeId> dead_nodes_;
  bool stopping_ = false;
};

}  // namespace rayk
