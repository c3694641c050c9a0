// A core worker's messages (worker or driver): tasks pushed to it, objects
// asked of it as their owner, and notices from raylets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rpc/common_messages.h"

namespace rayk::protocol {

struct TaskSpec {
  // An actor call (actor_id set), an actor's creation (creates_actor), or a
  // plain task (neither).
  ActorId actor_id;
  bool creates_actor = false;
  int max_concurrency = 0;  // with creates_actor; 0: the default (1, or 1000 when async)
  // With creates_actor: the actor's named concurrency groups and their limits.
  std::map<std::string, int> concurrency_groups;
  // An actor call's group when its caller chose one (SetConcurrencyGroup);
  // empty: its method's.
  std::string concurrency_group;
  TaskId task_id;
  JobId job_id;
  std::string function;
  std::vector<internal::TaskArg> args;  // refs are resolved to values before the push
  ResourceSet resources;
  int max_retries = 0;
  int attempt = 0;
  ObjectId return_id;
  // SetNumReturns: the result is split into num_returns objects, return_id
  // and then more_return_ids (num_returns - 1 of them); 0: one object, the
  // whole result.
  uint32_t num_returns = 0;
  std::vector<ObjectId> more_return_ids;
  std::string owner_address;
  std::string name;  // SetName: shown in task listings instead of the function's name
  // The accelerator devices of the lease it runs on (LeaseReply), set by
  // whoever pushes it; empty for actor calls, which keep their creation's.
  std::vector<AcceleratorIds> accelerators;
  // A streaming generator's call (rayk/generator.h): its items go to the
  // owner one by one (ReportGeneratorItem) while it runs; return_id is then
  // the stream's end, whose value is the number of items (or the error).
  bool streaming = false;
  // Every result's id, in order: return_id, then more_return_ids.
  std::vector<ObjectId> ReturnIds() const {
    std::vector<ObjectId> ids{return_id};
    ids.insert(ids.end(), more_return_ids.begin(), more_return_ids.end());
    return ids;
  }
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& actor_id& creates_actor& max_concurrency& concurrency_groups& concurrency_group& task_id&
        job_id& function& args& resources& max_retries& attempt& return_id& num_returns&
            more_return_ids& owner_address& name& accelerators& streaming;
  }
};

struct PushTask {
  TaskSpec spec;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& spec;
  }
};

// One result of a call split into several (TaskSpec::more_return_ids).
struct ReturnValue {
  std::string value;
  internal::StoreLocation location;  // valid: the value is in that node's store, not here
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& value& location;
  }
};

// A reference the worker serialized into a task's results (Ray's "contained
// in" tracking): the caller holds it for as long as it holds a result, and
// the worker lets go of its own hold once it has handed it over.
struct ContainedRef {
  ObjectId object_id;
  std::string owner;  // the owner's core-worker address
  // The worker registered the caller as a borrower with the owner (the
  // owner being the worker itself or a third process); the caller's
  // registration is then in place before the worker's hold goes.
  bool registered = false;
  // The caller owns the object, and the worker's borrow of it ended with
  // the hand-over: the caller drops the worker from its borrowers after
  // taking its own hold (so no RemoveBorrowers can race the reply).
  bool borrow_handed_over = false;
  std::string worker;  // with borrow_handed_over: the borrower that ended (the worker)
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& owner& registered& borrow_handed_over& worker;
  }
};

struct PushTaskReply {
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store, not here
  uint32_t run_us = 0;               // how long the function ran, for the owner's pipelining choice
  // Without error, for a split call: the results of more_return_ids, in order.
  std::vector<ReturnValue> more_returns;
  // The references serialized into the results (also with an error: the
  // caller then lets go of them at once).
  std::vector<ContainedRef> contained;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& value& error& location& run_us& more_returns& contained;
  }
};

// Several tasks (or calls to one actor) in one message, and the replies to
// them in as few as can be: the caller's pushes to one worker form a stream,
// and each PushTasks request of the stream (with new tasks, or none: a poll)
// is answered as soon as the worker has replies of the stream to send, with
// every reply it has then. Replies ready together go in one message, and no
// reply waits for another task to finish, so a task that waits on something
// its caller does after an earlier reply cannot deadlock. The caller keeps
// one request out while any of its tasks there is unanswered.
struct PushTasks {
  std::string caller;           // the caller's core-worker address
  uint64_t stream = 0;          // the caller's stream to this worker (NewPushStream)
  std::vector<TaskSpec> specs;  // in the order they run (an actor's calls)
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& caller& stream& specs;
  }
};

// One task's reply in a PushTasksReply.
struct PushedTaskReply {
  TaskId task_id;
  int attempt = 0;
  std::string reply;  // the encoded PushTaskReply
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& task_id& attempt& reply;
  }
};

struct PushTasksReply {
  std::vector<PushedTaskReply> replies;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& replies;
  }
};

struct GetObject {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id;
  }
};

struct GetObjectReply {
  bool found = false;
  std::string value;
  std::optional<internal::ErrorInfo> error;
  internal::StoreLocation location;  // valid: the value is in that node's store
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& found& value& error& location;
  }
};

struct WorkerDied {
  WorkerId worker_id;
  uint64_t lease_id = 0;
  std::string reason;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& worker_id& lease_id& reason;
  }
};

struct RemoveBorrower {
  ObjectId object_id;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id;
  }
};

// Raylet -> owner, one-way: a lease request waits for something no node has.
struct LeaseWarning {
  uint64_t request_id = 0;
  std::string message;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& request_id& message;
  }
};

// rayk::Cancel. To the owner (to_executor false): cancel the task whose
// result is `return_id` (a borrower forwards its Cancel this way; the reply
// is a StatusReply). To the worker running it (to_executor true): drop the
// task if it has not started, else mark it cancelled (rayk::IsCancelled) or,
// with `force`, end the worker; one-way.
struct CancelTask {
  ObjectId return_id;
  TaskId task_id;
  bool force = false;
  bool recursive = true;
  bool to_executor = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& return_id& task_id& force& recursive& to_executor;
  }
};

// Worker -> owner: item `index` of the streaming generator whose end is
// `stream`, inline or in the worker's node store. Items come in order, one
// at a time; the reply (GeneratorItemAck) comes when the producer may go on.
struct ReportGeneratorItem {
  ObjectId stream;
  uint64_t index = 0;
  std::string value;
  internal::StoreLocation location;  // valid: the value is in that node's store
  // The references serialized into the item, handed over to the owner as a
  // task's results' are (PushTaskReply::contained): the item holds them.
  std::vector<ContainedRef> contained;
  // The same report sent again because its ack was held (backpressure): an
  // owner that has the item already adopted its `contained`.
  bool again = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& stream& index& value& location& contained& again;
  }
};

// `stop`: the caller dropped the generator (or never knew it): the producer
// ends at once.
struct GeneratorItemAck {
  bool stop = false;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& stop;
  }
};

// Borrowers (Ray's ownership protocol). kAddBorrower: a process that decoded
// a reference to `object_id` from a value registers with the object's owner,
// and waits for the answer (a StatusReply: NotFound when the owner no longer
// holds the object) before the decoded reference is used. kRemoveBorrowers
// (one-way): the borrower's last reference to each object went; one message
// for every kAddBorrower the owner accepted.
struct AddBorrower {
  ObjectId object_id;
  std::string borrower;  // the borrower's core-worker address
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& borrower;
  }
};

// kAddBorrowers: kAddBorrower for many objects of one owner in one round
// trip (the references decoded from one value, or those a worker hands to
// its caller), answered with kBorrowersAdded: for each object, in order,
// whether the owner holds it and registered the borrower (1) or not (0).
// Its body is that of kRemoveBorrowers: a borrower and its objects.
struct BorrowerObjects {
  std::string borrower;  // the borrower's core-worker address
  std::vector<ObjectId> object_ids;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& borrower& object_ids;
  }
};
using AddBorrowers = BorrowerObjects;
using RemoveBorrowers = BorrowerObjects;

struct BorrowersAdded {
  std::vector<uint8_t> accepted;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& accepted;
  }
};

// kListOwnedObjects (`rayk memory`): the objects a core worker owns, answered
// with kOwnedObjects (at most `limit` of them listed, most borrowed first,
// then largest; num_owned counts all).
struct ListOwnedObjects {
  uint32_t limit = 100;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& limit;
  }
};

struct OwnedObject {
  ObjectId object_id;
  uint64_t size = 0;  // 0 while its value is not in
  bool in_store = false;
  int32_t local_refs = 0;  // handles in the owner (serialization holds included)
  int32_t task_refs = 0;   // pending tasks (and kept lineage) taking it
  uint32_t borrowers = 0;  // processes that borrow it
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& object_id& size& in_store& local_refs& task_refs& borrowers;
  }
};

struct OwnedObjects {
  std::string owner;  // the core worker's address
  int64_t pid = 0;
  uint64_t num_owned = 0;
  std::vector<OwnedObject> objects;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& owner& pid& num_owned& objects;
  }
};

struct ExitWorker {
  template <class A>
  void serialize(A&, unsigned) {}
};

RAYK_MESSAGE_BODY(kPushTask, PushTask);
RAYK_MESSAGE_BODY(kPushTasks, PushTasks);
RAYK_MESSAGE_BODY(kGetObject, GetObject);
RAYK_MESSAGE_BODY(kWorkerDied, WorkerDied);
RAYK_MESSAGE_BODY(kRemoveBorrower, RemoveBorrower);
RAYK_MESSAGE_BODY(kExitWorker, ExitWorker);
RAYK_MESSAGE_BODY(kAddBorrower, AddBorrower);
RAYK_MESSAGE_BODY(kRemoveBorrowers, RemoveBorrowers);
RAYK_MESSAGE_BODY(kAddBorrowers, AddBorrowers);
RAYK_MESSAGE_BODY(kBorrowersAdded, BorrowersAdded);
RAYK_MESSAGE_BODY(kListOwnedObjects, ListOwnedObjects);
RAYK_MESSAGE_BODY(kOwnedObjects, OwnedObjects);
RAYK_MESSAGE_BODY(kLeaseWarning, LeaseWarning);
RAYK_MESSAGE_BODY(kCancelTask, CancelTask);
RAYK_MESSAGE_BODY(kReportGeneratorItem, ReportGeneratorItem);
RAYK_MESSAGE_BODY(kGeneratorItemAck, GeneratorItemAck);
RAYK_MESSAGE_BODY(kPushTaskReply, PushTaskReply);
RAYK_MESSAGE_BODY(kPushTasksReply, PushTasksReply);
RAYK_MESSAGE_BODY(kGetObjectReply, GetObjectReply);

}  // namespace rayk::protocol
