#include "core_worker/generator_streams.h"

#include <cstring>
#include <string>

#include "rpc/service.h"

namespace rayk {

using protocol::MessageType;

ObjectId StreamItemId(const ObjectId& stream, uint64_t index) {
  // The end id's bytes with 1 + index mixed into its last eight: distinct
  // for every index, and as unlikely as any random id to meet another.
  std::string bytes = stream.Binary();
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + ObjectId::kSize - sizeof(tail), sizeof(tail));
  tail ^= (index + 1) * 0x9e3779b97f4a7c15ULL;
  std::memcpy(bytes.data() + ObjectId::kSize - sizeof(tail), &tail, sizeof(tail));
  return ObjectId::FromBinary(bytes);
}

GeneratorStreams::GeneratorStreams(WorkerContext& context, ReferenceCounter& references,
                                   BlockedFn set_blocked)
    : context_(context), references_(references), set_blocked_(std::move(set_blocked)) {}

void GeneratorStreams::AddLocked(const ObjectId& stream, uint64_t window) {
  streams_[stream].window = window;
}

void GeneratorStreams::Ack(ReplyFn reply, bool stop, Actions& actions) {
  if (!reply) return;
  actions.push_back([reply = std::move(reply), stop] {
    reply(protocol::Encode(MessageType::kGeneratorItemAck, protocol::GeneratorItemAck{stop}));
  });
}

void GeneratorStreams::HandleItem(protocol::ReportGeneratorItem item, ReplyFn reply) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto it = streams_.find(item.stream);
    // The references handed over with an item nobody takes are let go at
    // once (a report asked again was adopted the first time).
    auto let_go = [&] {
      if (!item.again) references_.AdoptContainedLocked(item.contained, {}, actions);
    };
    if (it == streams_.end()) {
      // Closed, or never ours: the producer stops; a stored item is freed
      // by its id's absence from the object table.
      let_go();
      if (item.location.valid()) {
        (void)references_.StoredResultLocked(StreamItemId(item.stream, item.index), item.location,
                                             actions);
      }
      Ack(std::move(reply), true, actions);
    } else if (item.index > it->second.received) {
      let_go();
      actions.push_back(
          [reply = std::move(reply), item = std::move(item), received = it->second.received] {
            protocol::Service::ReplyError(
                reply, Status::InvalidArgument("generator item " + std::to_string(item.index) +
                                               " came before item " + std::to_string(received) +
                                               ": items are reported in order, one at a time"));
          });
    } else {
      Stream& stream = it->second;
      if (item.index == stream.received) {
        const ObjectId id = StreamItemId(item.stream, item.index);
        references_.AddTaskReturnLocked(id);
        references_.EntryLocked(id).lineage =
            ReferenceCounter::ObjectEntry::Lineage::kGeneratorItem;
        internal::ObjectValue value =
            item.location.valid() ? references_.StoredResultLocked(id, item.location, actions)
                                  : ValueOf(std::move(item.value));
        references_.SetValueLocked(id, std::move(value), actions);
        // The references inside are held by the item, as by a result.
        references_.AdoptContainedLocked(item.contained, {id}, actions);
        ++stream.received;
        changed_.notify_all();
      } else {
        let_go();
      }
      // An item received before comes again from a new run: acknowledged
      // by the same rule, and otherwise dropped.
      if (MayAck(stream, item.index)) {
        Ack(std::move(reply), false, actions);
      } else {
        stream.held_ack.emplace(item.index, std::move(reply));
      }
    }
  }
  RunActions(actions);
}

void GeneratorStreams::OnEnd() {
  std::lock_guard<std::mutex> lock(context_.mu);
  changed_.notify_all();
}

Result<std::optional<ObjectId>> GeneratorStreams::Next(const ObjectId& stream_id,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool blocked = false;
  Actions actions;
  Result<std::optional<ObjectId>> out = std::optional<ObjectId>();
  {
    std::unique_lock<std::mutex> lock(context_.mu);
    while (true) {
      auto it = streams_.find(stream_id);
      if (it == streams_.end()) {
        out = Status::InvalidArgument("this generator was closed, or its call was not made here");
        break;
      }
      Stream& stream = it->second;
      if (stream.taken < stream.received) {
        out = std::optional<ObjectId>(StreamItemId(stream_id, stream.taken++));
        if (stream.held_ack && MayAck(stream, stream.held_ack->first)) {
          Ack(std::move(stream.held_ack->second), false, actions);
          stream.held_ack.reset();
        }
        break;
      }
      const ReferenceCounter::ObjectEntry* end = references_.FindLocked(stream_id);
      if (end != nullptr && end->value) {
        // The call ended, after its last item's ack: nothing more comes.
        if (end->value->error && !stream.error_taken) {
          stream.error_taken = true;
          references_.EntryLocked(stream_id).local_refs++;
          out = std::optional<ObjectId>(stream_id);
        }
        break;
      }
      if (!blocked) {
        // A worker waiting here lends its CPU back, as in Get.
        blocked = true;
        lock.unlock();
        set_blocked_(true);
        lock.lock();
        continue;
      }
      if (timeout.count() < 0) {
        changed_.wait(lock);
      } else if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
                 std::chrono::steady_clock::now() >= deadline) {
        out = Status::TimedOut("no item of the generator came within " +
                               std::to_string(timeout.count()) + " ms");
        break;
      }
    }
  }
  if (blocked) set_blocked_(false);
  RunActions(actions);
  return out;
}

void GeneratorStreams::Close(const ObjectId& stream_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(context_.mu);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;
    Stream& stream = it->second;
    for (uint64_t index = stream.taken; index < stream.received; ++index) {
      const ObjectId id = StreamItemId(stream_id, index);
      if (ReferenceCounter::ObjectEntry* entry = references_.FindLocked(id)) {
        --entry->local_refs;
        references_.MaybeFreeLocked(id, actions);
      }
    }
    if (stream.held_ack) Ack(std::move(stream.held_ack->second), true, actions);
    streams_.erase(it);
    changed_.notify_all();
  }
  RunActions(actions);
}

}  // namespace rayk
