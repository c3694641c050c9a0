// GeneratorStreams: the streaming generators (rayk/generator.h) whose calls
// this process made, as Ray's ObjectRefStream table in its TaskManager.
//
// A streaming call's result id is its stream's end: its value is set, as any
// task result's, when the call ends (the number of items, or the error that
// ended it). Item i of the stream is object StreamItemId(end, i). The
// producer's worker reports each item as it is yielded (ReportGeneratorItem),
// one at a time and in order, and waits for the ack before it goes on; the
// end comes after the last item's ack, so an ended stream has all its items.
// An item is an owned object from its arrival, with one local reference held
// by the stream until Next hands it (and that reference) to the caller. The
// references serialized into an item come with it (`contained`, as with a
// task's results) and are held by the item while it lives.
//
// Backpressure: with a window n > 0, the ack of item i is held until the
// caller took item i - n (i < taken + n), so the producer waits in that
// co_yield. Closing the stream frees the items not taken and answers the
// held ack, and every later report, with `stop`.
//
// Retries: a new run of the call reports the same items again; those already
// received are acknowledged (or held, by the same rule) and dropped.
//
// Thread-safety: guarded by WorkerContext::mu, taken by each method here.
// Callers: CoreWorker (Add, Next, Close; the end object's readiness wakes
// Next through OnEnd) and the worker service (HandleItem).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core_worker/reference_counter.h"
#include "core_worker/worker_context.h"
#include "rpc/protocol.h"

namespace rayk {

// The id of item `index` of the stream whose end is `stream`: the same on
// every run of the call, so the owner knows a retry's items.
ObjectId StreamItemId(const ObjectId& stream, uint64_t index);

class GeneratorStreams {
 public:
  using BlockedFn = ReferenceCounter::BlockedFn;
  GeneratorStreams(WorkerContext& context, ReferenceCounter& references, BlockedFn set_blocked);

  // A streaming call was submitted (before it can run); `window` > 0 bounds
  // the items made ahead of the caller.
  void AddLocked(const ObjectId& stream, uint64_t window);
  // The worker service: an item of one of our streams (or of one closed).
  void HandleItem(protocol::ReportGeneratorItem item, ReplyFn reply);
  // The stream's end object has its value: wakes Next.
  void OnEnd();
  // The next item's id, whose local reference passes to the caller; after
  // the last one, the end's id (with a new local reference) when the call
  // failed, then nothing. kTimedOut when `timeout` (negative: none) passes
  // first; kInvalidArgument for a stream closed or not ours.
  Result<std::optional<ObjectId>> Next(const ObjectId& stream, std::chrono::milliseconds timeout);
  // The caller dropped the generator: items not taken are freed, the
  // producer is told to stop. The caller then drops its end reference.
  void Close(const ObjectId& stream);

 private:
  struct Stream {
    uint64_t window = 0;       // 0: the producer never waits
    uint64_t received = 0;     // items 0 .. received-1 are recorded
    uint64_t taken = 0;        // items 0 .. taken-1 were handed to the caller
    bool error_taken = false;  // the failed end was handed out as the last item
    // The ack of the item the producer waits on (backpressure), by index.
    std::optional<std::pair<uint64_t, ReplyFn>> held_ack;
  };
  // The ack of item `index` may go now.
  static bool MayAck(const Stream& stream, uint64_t index) {
    return stream.window == 0 || index < stream.taken + stream.window;
  }
  static void Ack(ReplyFn reply, bool stop, Actions& actions);

  WorkerContext& context_;
  ReferenceCounter& references_;
  const BlockedFn set_blocked_;
  std::condition_variable changed_;               // with context_.mu: an item or an end came in
  std::unordered_map<ObjectId, Stream> streams_;  // by end id
};

}  // namespace rayk
