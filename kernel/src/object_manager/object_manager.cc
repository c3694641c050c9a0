#include "object_manager/object_manager.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <optional>

namespace rayk {

namespace {

using protocol::MessageType;

constexpr auto kPullTimeout = std::chrono::minutes(5);
constexpr auto kChunkTimeout = std::chrono::seconds(30);

}  // namespace

Result<std::string> ReadObjectFromNode(Transport& transport, const ObjectId& id,
                                       const internal::StoreLocation& where) {
  auto channel = transport.Connect(where.raylet_address);
  if (!channel.ok()) return channel.status();
  std::string bytes;
  bytes.reserve(where.size);
  while (bytes.size() < where.size) {
    protocol::ReadObjectChunk read{
        id, bytes.size(), std::min<uint64_t>(ObjectManager::kChunkSize, where.size - bytes.size())};
    auto reply =
        (*channel)->CallSync(protocol::Encode(MessageType::kReadObjectChunk, read), kChunkTimeout);
    if (!reply.ok()) {
      return Status::NotFound("cannot read object " + id.Hex() + " from node " +
                              where.node.Hex().substr(0, 8) + ": " + reply.status().message());
    }
    auto chunk = protocol::Decode<protocol::ObjectChunk>(*reply);
    if (!chunk.ok()) return chunk.status();
    if (!chunk->found || chunk->data.empty()) {
      return Status::NotFound("object " + id.Hex() + " is no longer in the store of node " +
                              where.node.Hex().substr(0, 8));
    }
    bytes += chunk->data;
  }
  return bytes;
}

// ---------------------------------------------------------------- NodeObjects

NodeObjects::NodeObjects(std::shared_ptr<ObjectStore> store, NodeId node,
                         std::string raylet_address, std::shared_ptr<Channel> raylet,
                         std::shared_ptr<Transport> transport)
    : store_(std::move(store)),
      node_(node),
      raylet_address_(std::move(raylet_address)),
      raylet_(std::move(raylet)),
      transport_(std::move(transport)) {}

void NodeObjects::SetSelf(std::string address) {
  std::lock_guard<std::mutex> lock(mu_);
  self_ = std::move(address);
}

Result<internal::StoreLocation> NodeObjects::Put(const ObjectId& id, std::string_view bytes,
                                                 const std::string& owner) {
  auto space = Create(id, bytes.size(), owner);
  if (!space.ok()) return space.status();
  std::memcpy((*space)->data(), bytes.data(), bytes.size());
  return (*space)->Seal();
}

Result<std::unique_ptr<StoreSpace>> NodeObjects::Create(const ObjectId& id, size_t size,
                                                        const std::string& owner) {
  // One-way, and before the write: should this process die right after
  // writing, the raylet already knows whose copy it is.
  protocol::RecordPrimaries record;
  record.object_ids = {id};
  if (owner.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    record.owner = self_;
    record.owner_pid = getpid();
  } else {
    record.owner = owner;
  }
  if (!record.owner.empty()) {
    (void)raylet_->Send(protocol::Encode(MessageType::kRecordPrimaries, record));
  }
  auto buffer = store_->Create(id, size, /*primary=*/true);
  if (!buffer.ok()) return buffer.status();
  return std::make_unique<StoreSpace>(*this, id, std::move(*buffer));
}

StoreSpace::~StoreSpace() {
  if (!buffer_) return;
  buffer_.reset();
  (void)objects_.store_->Abort(id_);
}

Result<internal::StoreLocation> StoreSpace::Seal() {
  const size_t size = buffer_->size();
  buffer_.reset();  // the store seals what no writer maps any more
  RAYK_RETURN_IF_ERROR(objects_.store_->Seal(id_));
  return internal::StoreLocation{objects_.node_, objects_.raylet_address_, size};
}

Result<std::shared_ptr<const ObjectBuffer>> NodeObjects::Get(const ObjectId& id,
                                                             const internal::StoreLocation& where) {
  if (where.node != node_ && !store_->Contains(id)) {
    protocol::PullObject pull{id, where};
    auto reply = raylet_->CallSync(protocol::Encode(MessageType::kPullObject, pull), kPullTimeout);
    if (!reply.ok())
      return Status::Unavailable("the local raylet did not pull object " + id.Hex() + ": " +
                                 reply.status().message());
    auto status = protocol::Decode<protocol::StatusReply>(*reply);
    if (!status.ok()) return status.status();
    RAYK_RETURN_IF_ERROR(status->ToStatus());
  }
  auto buffers = store_->Get({id}, std::chrono::milliseconds(0));
  if (!buffers.ok()) return buffers.status();
  if ((*buffers)[0] == nullptr) {
    return Status::NotFound("object " + id.Hex() + " is no longer in the object store of node " +
                            where.node.Hex().substr(0, 8));
  }
  return (*buffers)[0];
}

void NodeObjects::Free(const ObjectId& id, const internal::StoreLocation& where) {
  if (where.node == node_) {
    (void)store_->Delete({id});
    return;
  }
  // A secondary copy here goes too; the primary is freed by its node's raylet.
  (void)store_->Delete({id});
  std::lock_guard<std::mutex> lock(mu_);
  auto& channel = raylets_[where.raylet_address];
  if (!channel) {
    auto connected = transport_->Connect(where.raylet_address);
    if (!connected.ok()) return;
    channel = std::move(*connected);
  }
  (void)channel->Send(protocol::Encode(MessageType::kFreeObjects, protocol::FreeObjects{{id}}));
}

// ---------------------------------------------------------------- ObjectManager

ObjectManager::ObjectManager(std::shared_ptr<ObjectStore> store, NodeId node, std::string plugin,
                             std::shared_ptr<Transport> transport)
    : store_(std::move(store)),
      node_(node),
      plugin_(std::move(plugin)),
      transport_(std::move(transport)) {}

ObjectManager::~ObjectManager() {
  std::vector<PullThread> pulls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    pulls.swap(pulls_);
  }
  for (PullThread& pull : pulls) pull.thread.join();
  std::lock_guard<std::mutex> lock(mu_);
  raylets_.clear();
}

std::shared_ptr<Channel> ObjectManager::RayletChannel(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& channel = raylets_[address];
  if (!channel) {
    auto connected = transport_->Connect(address);
    if (!connected.ok()) return nullptr;
    channel = std::move(*connected);
  }
  return channel;
}

Status ObjectManager::Pull(const protocol::PullObject& pull) {
  const ObjectId& id = pull.object_id;
  if (store_->Contains(id)) return Status::Ok();
  auto source_died = [&] {
    return Status::NotFound("cannot pull object " + id.Hex() + " from node " +
                            pull.from.node.Hex().substr(0, 8) + ": the node died");
  };
  if (Dead(pull.from.node)) return source_died();
  std::shared_ptr<Channel> source = RayletChannel(pull.from.raylet_address);
  if (!source)
    return Status::Unavailable("cannot connect to the raylet at " + pull.from.raylet_address);
  std::unique_ptr<MutableObjectBuffer> buffer;
  for (auto deadline = std::chrono::steady_clock::now() + kPullTimeout;;) {
    auto created = store_->Create(id, pull.from.size, /*primary=*/false);
    if (created.ok()) {
      buffer = std::move(*created);
      break;
    }
    if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
    // Another pull of the same object is under way: wait for its seal. If
    // it gives up instead (its source died), this pull makes its own try or
    // fails too, rather than wait for a seal that never comes.
    auto buffers = store_->Get({id}, std::chrono::milliseconds(200));
    if (buffers.ok() && (*buffers)[0]) return Status::Ok();
    if (Dead(pull.from.node)) return source_died();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("object " + id.Hex() +
                                 " was being pulled by another request that did not finish");
    }
  }
  for (uint64_t offset = 0; offset < pull.from.size; offset += kChunkSize) {
    protocol::ReadObjectChunk read{id, offset,
                                   std::min<uint64_t>(kChunkSize, pull.from.size - offset)};
    auto reply =
        ReadChunk(*source, pull.from.node, protocol::Encode(MessageType::kReadObjectChunk, read));
    std::optional<protocol::ObjectChunk> chunk;
    if (reply.ok()) {
      auto body = protocol::Decode<protocol::ObjectChunk>(*reply);
      if (body.ok()) chunk = std::move(*body);
    }
    if (!chunk || !chunk->found || chunk->data.size() != read.length) {
      buffer.reset();
      (void)store_->Abort(id);
      std::string why = !reply.ok() ? reply.status().message()
                        : !chunk    ? "a malformed reply"
                                    : "the object is not there (freed, or its node restarted)";
      return Status::NotFound("cannot pull object " + id.Hex() + " from node " +
                              pull.from.node.Hex().substr(0, 8) + ": " + why);
    }
    std::memcpy(buffer->data() + offset, chunk->data.data(), chunk->data.size());
  }
  buffer.reset();
  return store_->Seal(id);
}

Result<std::string> ObjectManager::ReadChunk(Channel& source, const NodeId& from,
                                             std::string request) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<std::string>> reply;
  };
  // The callback may come after this returns (the node died first): it
  // touches only the shared state.
  auto wait = std::make_shared<Wait>();
  source.Call(
      std::move(request),
      [wait](Result<std::string> reply) {
        std::lock_guard<std::mutex> lock(wait->mu);
        wait->reply = std::move(reply);
        wait->cv.notify_all();
      },
      kChunkTimeout);
  // Looks at the node's fate a few times a second: a death comes from the
  // raylet's view, which has no way to wake this wait.
  std::unique_lock<std::mutex> lock(wait->mu);
  while (!wait->cv.wait_for(lock, std::chrono::milliseconds(100),
                            [&] { return wait->reply.has_value(); })) {
    lock.unlock();
    const bool dead = Dead(from);
    lock.lock();
    if (dead && !wait->reply) return Status::Unavailable("the node died");
  }
  return std::move(*wait->reply);
}

void ObjectManager::NodeDied(const NodeId& node) {
  std::lock_guard<std::mutex> lock(mu_);
  dead_nodes_.insert(node);
}

bool ObjectManager::Dead(const NodeId& node) {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_nodes_.count(node) != 0;
}

void ObjectManager::RegisterHandlers(protocol::Service& service) {
  service.On<MessageType::kPullObject>(this, &ObjectManager::OnPullObject);
  service.On<MessageType::kReadObjectChunk>(this, &ObjectManager::OnReadObjectChunk);
  service.On<MessageType::kFreeObjects>(this, &ObjectManager::OnFreeObjects);
  service.On<MessageType::kRecordPrimaries>([this](protocol::RecordPrimaries record, ReplyFn) {
    owners_.Record(record.owner, record.owner_pid, record.object_ids);
  });
  service.On<MessageType::kGetStoreStats>(this, &ObjectManager::OnGetStoreStats);
  service.On<MessageType::kListObjects>(this, &ObjectManager::OnListObjects);
}

void ObjectManager::OnPullObject(protocol::PullObject request, ReplyFn reply) {
  if (!reply) return;
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  for (auto it = pulls_.begin(); it != pulls_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = pulls_.erase(it);
    } else {
      ++it;
    }
  }
  pulls_.push_back(
      {std::thread([this, pull = std::move(request), reply = std::move(reply), done] {
         Status status = Pull(pull);
         if (!status.ok()) spdlog::warn("object manager: {}", status.message());
         reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(status)));
         *done = true;
       }),
       done});
}

void ObjectManager::OnReadObjectChunk(protocol::ReadObjectChunk request, ReplyFn reply) {
  if (!reply) return;
  protocol::ObjectChunk chunk;
  auto buffers = store_->Get({request.object_id}, std::chrono::milliseconds(0));
  if (buffers.ok() && (*buffers)[0]) {
    const ObjectBuffer& buffer = *(*buffers)[0];
    chunk.total_size = buffer.size();
    if (request.offset <= buffer.size()) {
      chunk.found = true;
      uint64_t length = std::min<uint64_t>(request.length, buffer.size() - request.offset);
      chunk.data.assign(reinterpret_cast<const char*>(buffer.data()) + request.offset, length);
    }
  }
  reply(protocol::Encode(MessageType::kObjectChunk, chunk));
}

void ObjectManager::OnFreeObjects(protocol::FreeObjects request, ReplyFn reply) {
  owners_.Forget(request.object_ids);
  (void)store_->Delete(request.object_ids);
  protocol::Service::ReplyAck(reply);
}

void ObjectManager::OwnerDied(const std::string& owner) {
  std::vector<ObjectId> owned = owners_.TakeOwnedBy(owner);
  if (owned.empty()) return;
  spdlog::info("object manager: freeing {} primary copies owned by {}, which died", owned.size(),
               owner);
  (void)store_->Delete(owned);
}

void ObjectManager::CheckLocalOwners() {
  for (const std::string& owner : owners_.DeadLocalOwners()) OwnerDied(owner);
}

void ObjectManager::OnGetStoreStats(protocol::GetStoreStats, ReplyFn reply) {
  if (!reply) return;
  reply(protocol::Encode(MessageType::kStoreStats, Stats(10)));
}

void ObjectManager::OnListObjects(protocol::ListObjects request, ReplyFn reply) {
  if (!reply) return;
  size_t limit = std::min(request.limit, protocol::kMaxListedObjects);
  reply(protocol::Encode(MessageType::kStoreStats, Stats(limit)));
}

protocol::StoreStats ObjectManager::Stats(size_t limit) {
  ObjectStoreStats stats = store_->Stats();
  protocol::StoreStats out;
  out.node_id = node_;
  out.plugin = plugin_;
  out.capacity_bytes = stats.capacity_bytes;
  out.used_bytes = stats.used_bytes;
  out.pinned_bytes = stats.pinned_bytes;
  out.spilled_bytes = stats.spilled_bytes;
  out.num_objects = stats.num_objects;
  out.num_evicted = stats.num_evicted;
  out.num_spilled = stats.num_spilled;
  for (const ObjectStoreEntry& entry : store_->List(limit)) {
    out.largest.push_back({entry.id, entry.size, entry.primary, entry.pinned, entry.spilled,
                           entry.in_memory, entry.creator_pid});
  }
  return out;
}

}  // namespace rayk
