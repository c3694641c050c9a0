// The worker service: requests other processes send this CoreWorker, on the
// server's thread (one at a time, in arrival order). Each goes to the part
// that owns it; none blocks the server thread for long.
//   PushTask      an owner's task for this worker: queued for the task loop
//   PushTasks     several of them, replied as they finish (push_streams.h)
//   GetObject     a borrower asks for an object this process owns
//   AddBorrower, AddBorrowers, RemoveBorrowers
//                 a borrower of objects this process owns registers, or
//                 lets go (reference_counter.h)
//   ListOwnedObjects  `rayk memory`: the objects this process owns
//   WorkerDied    the raylet: a worker leased by this process died
//   LeaseWarning  the raylet: a task of ours waits for resources no node has
//   ExitWorker    the raylet: this worker should exit
//   ReportGeneratorItem  a worker running our streaming call: its next item
//   CancelTask    rayk::Cancel: from a borrower, of a task this process owns;
//                 from the owner, of a task this worker runs
#include <spdlog/spdlog.h>

#include <iostream>

#include "core_worker/core_worker.h"

namespace rayk {

using protocol::MessageType;

void CoreWorker::Handle(std::string message, ReplyFn reply) {
  auto type = protocol::PeekType(message);
  if (!type.ok()) {
    spdlog::error("core worker: dropped a message: {}", type.status().message());
    return;
  }
  switch (*type) {
    case MessageType::kPushTask: {
      auto body = protocol::Decode<protocol::PushTask>(message);
      if (!body.ok() || !reply) break;
      executor_.Enqueue(std::move(body->spec), std::move(reply));
      return;
    }
    case MessageType::kPushTasks: {
      auto body = protocol::Decode<protocol::PushTasks>(message);
      if (!body.ok() || !reply) break;
      push_streams_.Push(std::move(*body), std::move(reply));
      return;
    }
    case MessageType::kGetObject: {
      auto body = protocol::Decode<protocol::GetObject>(message);
      if (!body.ok() || !reply) break;
      references_.HandleGetObject(body->object_id, std::move(reply));
      return;
    }
    case MessageType::kAddBorrower: {
      auto body = protocol::Decode<protocol::AddBorrower>(message);
      if (!body.ok()) break;
      references_.HandleAddBorrower(*body, std::move(reply));
      return;
    }
    case MessageType::kAddBorrowers: {
      auto body = protocol::Decode<protocol::AddBorrowers>(message);
      if (!body.ok()) break;
      references_.HandleAddBorrowers(*body, std::move(reply));
      return;
    }
    case MessageType::kRemoveBorrowers: {
      auto body = protocol::Decode<protocol::RemoveBorrowers>(message);
      if (!body.ok()) break;
      references_.HandleRemoveBorrowers(*body);
      return;
    }
    case MessageType::kListOwnedObjects: {
      auto body = protocol::Decode<protocol::ListOwnedObjects>(message);
      if (!body.ok() || !reply) break;
      reply(protocol::Encode(MessageType::kOwnedObjects, references_.ListOwned(body->limit)));
      return;
    }
    case MessageType::kWorkerDied: {
      auto body = protocol::Decode<protocol::WorkerDied>(message);
      if (!body.ok()) break;
      task_submitter_.OnWorkerDied(*body);
      return;
    }
    case MessageType::kLeaseWarning: {
      auto body = protocol::Decode<protocol::LeaseWarning>(message);
      if (!body.ok()) break;
      // Ray prints the same warning for a task that no node can run.
      spdlog::warn("{}", body->message);
      std::cerr << "rayk: warning: " << body->message << std::endl;
      return;
    }
    case MessageType::kCancelTask: {
      auto body = protocol::Decode<protocol::CancelTask>(message);
      if (!body.ok()) break;
      if (body->to_executor) {
        executor_.Cancel(body->task_id, body->force, body->recursive);
        return;
      }
      Actions actions;
      Status status;
      {
        std::lock_guard<std::mutex> lock(context_.mu);
        TaskId task_id = tasks_.TaskMakingLocked(body->return_id);
        if (!task_id.IsNil()) {
          status = CancelOwnedLocked(task_id, body->force, body->recursive, actions);
        }
      }
      RunActions(actions);
      if (reply) {
        reply(protocol::Encode(MessageType::kStatusReply, protocol::StatusReply::From(status)));
      }
      return;
    }
    case MessageType::kReportGeneratorItem: {
      auto body = protocol::Decode<protocol::ReportGeneratorItem>(message);
      if (!body.ok() || !reply) break;
      streams_.HandleItem(std::move(*body), std::move(reply));
      return;
    }
    case MessageType::kExitWorker:
      executor_.RequestExit();
      if (reply) reply(protocol::Encode(MessageType::kAck, protocol::Empty{}));
      return;
    default:
      spdlog::error("core worker: unexpected message type {}", static_cast<int>(*type));
      return;
  }
  spdlog::error("core worker: dropped a malformed message of type {}", static_cast<int>(*type));
}

}  // namespace rayk
