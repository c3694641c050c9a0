// PushStreams: a worker's side of batched pushes (protocol::PushTasks), the
// replies to each caller's stream of tasks.
//
// A caller sends its tasks for this worker several to a message, each
// message a request on its stream; the worker answers a request as soon as
// it has replies of that stream to send, with all of them. While the caller
// keeps a request out (it does while any of its tasks here is unanswered),
// a finished task's reply leaves at once; a reply that finds no request out
// waits for the next one, with the others that finish meanwhile, so that a
// burst of short tasks costs a message each way per burst, not per task.
// No reply waits for another task: a request is answered by the first reply.
//
// Thread-safety: everything here takes its own mutex; Push runs on the
// server's thread, the reply functions it hands out run on the executor's.
// Callers: the worker service (Push).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core_worker/task_executor.h"
#include "rpc/protocol.h"

namespace rayk {

class PushStreams {
 public:
  explicit PushStreams(TaskExecutor& executor) : executor_(executor) {}

  // A PushTasks request: its tasks go to the executor in order, and `reply`
  // is answered with the stream's next replies.
  void Push(protocol::PushTasks push, ReplyFn reply);

 private:
  using Key = std::pair<std::string, uint64_t>;  // caller, stream
  struct Stream {
    std::vector<protocol::PushedTaskReply> ready;  // not yet sent
    std::deque<ReplyFn> requests;                  // out, oldest first
    size_t running = 0;                            // tasks pushed and not replied
  };

  // A task of the stream replied: sent now if a request is out.
  void OnReply(const Key& key, protocol::PushedTaskReply reply);
  // With mu_: the oldest request out, and the ready replies it takes, if
  // both are there (then sent without mu_ by Answer); a stream left with
  // nothing goes.
  ReplyFn TakeAnswerLocked(const Key& key, std::vector<protocol::PushedTaskReply>& replies);
  static void Answer(ReplyFn& reply, std::vector<protocol::PushedTaskReply> replies);

  TaskExecutor& executor_;
  std::mutex mu_;
  std::map<Key, Stream> streams_;
};

}  // namespace rayk
