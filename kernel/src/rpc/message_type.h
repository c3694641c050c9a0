// The message types of rayk's wire protocol, one X-macro list so that each
// type's number and name are written once (names go into error replies and
// logs: "malformed KvPut request").
//
// Numbers are part of the wire format: never renumber one; add new types at
// the end of their group and bump kProtocolVersion (codec.h).
#pragma once

#include <cstdint>

namespace rayk::protocol {

#define RAYK_MESSAGE_TYPES(X)                                            \
  /* To the GCS. */                                                      \
  X(RegisterNode, 1)                                                     \
  X(ReportResources, 2)                                                  \
  X(GetClusterStatus, 3)                                                 \
  X(RegisterJob, 4)                                                      \
  X(FinishJob, 5)                                                        \
  X(RegisterActor, 6)                                                    \
  X(GetActor, 7)                                                         \
  X(KillActor, 8)                                                        \
  X(ListActors, 9)                                                       \
  X(KvPut, 10)                                                           \
  X(KvGet, 11)                                                           \
  X(KvDelete, 12)                                                        \
  X(KvList, 13)                                                          \
  X(GetClusterView, 14)                                                  \
  X(PutCode, 15)                                                         \
  X(GetCode, 16)                                                         \
  X(GetJob, 17)                                                          \
  X(ReportWorkerLife, 18)                                                \
  X(GetWorkerLife, 19)                                                   \
  /* To the GCS: placement groups. */                                    \
  X(CreatePlacementGroup, 60)                                            \
  X(RemovePlacementGroup, 61)                                            \
  X(GetPlacementGroup, 62)                                               \
  X(ListPlacementGroups, 63)                                             \
  /* To a raylet. */                                                     \
  X(RequestWorkerLease, 20)                                              \
  X(ReturnWorker, 21)                                                    \
  X(RegisterWorker, 22)                                                  \
  X(WorkerBlocked, 23)                                                   \
  X(WorkerUnblocked, 24)                                                 \
  X(ShutdownRaylet, 25)                                                  \
  X(WatchDriver, 85)                                                     \
  /* To a raylet: placement-group bundles (prepare, commit, release). */ \
  X(PrepareBundles, 26)                                                  \
  X(CommitBundles, 27)                                                   \
  X(ReleaseBundles, 28)                                                  \
  X(CancelBundles, 64)                                                   \
  /* To a raylet's object manager. */                                    \
  X(PullObject, 30)                                                      \
  X(ReadObjectChunk, 31)                                                 \
  X(FreeObjects, 32)                                                     \
  X(GetStoreStats, 33)                                                   \
  X(RecordPrimaries, 87)                                                 \
  /* To a core worker (worker or driver). */                             \
  X(PushTask, 40)                                                        \
  X(GetObject, 41)                                                       \
  X(WorkerDied, 42)                                                      \
  X(RemoveBorrower, 43)                                                  \
  X(ExitWorker, 44)                                                      \
  X(LeaseWarning, 45)                                                    \
  X(CancelTask, 46)                                                      \
  X(PushTasks, 75)                                                       \
  /* To an object's owner: its borrowers; `rayk memory`. */              \
  X(AddBorrower, 82)                                                     \
  X(RemoveBorrowers, 83)                                                 \
  X(ListOwnedObjects, 84)                                                \
  X(AddBorrowers, 88)                                                    \
  /* To the GCS: task events. */                                         \
  X(ReportTaskEvents, 50)                                                \
  X(ListTasks, 51)                                                       \
  /* Worker output: raylet -> GCS, CLI -> raylet. */                     \
  X(PublishLogs, 70)                                                     \
  X(ReadLogs, 71)                                                        \
  /* Worker -> owner: a streaming generator's items. */                  \
  X(ReportGeneratorItem, 72)                                             \
  /* The state API's lists: CLI -> raylet. */                            \
  X(ListObjects, 80)                                                     \
  X(ListWorkers, 81)                                                     \
  /* Replies. */                                                         \
  X(Ack, 100)                                                            \
  X(LeaseReply, 101)                                                     \
  X(PushTaskReply, 102)                                                  \
  X(GetObjectReply, 103)                                                 \
  X(ClusterStatus, 104)                                                  \
  X(ActorInfo, 105)                                                      \
  X(ActorList, 106)                                                      \
  X(StatusReply, 107)                                                    \
  X(KvReply, 108)                                                        \
  X(ClusterViewDelta, 109)                                               \
  X(ObjectChunk, 110)                                                    \
  X(StoreStats, 111)                                                     \
  X(CodeChunk, 113)                                                      \
  X(JobReply, 114)                                                       \
  X(WorkerLife, 115)                                                     \
  X(PushTasksReply, 117)                                                 \
  X(TaskList, 120)                                                       \
  X(LogLines, 140)                                                       \
  X(GeneratorItemAck, 141)                                               \
  X(WorkerList, 150)                                                     \
  X(OwnedObjects, 152)                                                   \
  X(BorrowersAdded, 153)                                                 \
  X(PlacementGroupInfo, 130)                                             \
  X(PlacementGroupList, 131)                                             \
  /* A request was refused: malformed, unknown or over a limit. */       \
  X(ErrorReply, 112)

enum class MessageType : uint8_t {
#define RAYK_MESSAGE_TYPE_ENUMERATOR(name, number) k##name = number,
  RAYK_MESSAGE_TYPES(RAYK_MESSAGE_TYPE_ENUMERATOR)
#undef RAYK_MESSAGE_TYPE_ENUMERATOR
};

// "KvPut" for kKvPut; nullptr for a number that is no message type.
const char* MessageTypeName(MessageType type);

}  // namespace rayk::protocol
