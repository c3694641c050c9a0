// GcsClient: a process's connection to the GCS that rides out GCS restarts.
//
// The GCS can die and be restarted by its supervisor on the same address
// (`rayk start --head`). Its clients (raylets, core workers, the CLI) do not
// need to notice: a call that gets no answer is sent again, every
// kAttemptTimeout, until `reconnect_timeout` has passed, and only then fails.
// The GCS handles every request idempotently, so a request that reached the
// old GCS and is repeated to the new one does no harm. Long polls (GetActor)
// are answered by the GCS within GcsActorManager::kLongPollLimit, well below
// kAttemptTimeout, so a silent poll means a lost GCS, not a slow actor.
//
// Thread-safe. Destroying the client completes pending calls with
// kUnavailable without retrying them.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace rayk {

class GcsClient {
 public:
  static constexpr std::chrono::milliseconds kAttemptTimeout{5000};
  static constexpr std::chrono::milliseconds kDefaultReconnectTimeout{60000};

  static Result<std::unique_ptr<GcsClient>> Connect(
      Transport& transport, const std::string& endpoint,
      std::chrono::milliseconds reconnect_timeout = kDefaultReconnectTimeout);
  ~GcsClient();

  // Waits for the reply, retrying as above; `limit` bounds the whole call
  // when it is shorter than the reconnect timeout.
  Result<std::string> CallSync(const std::string& request,
                               std::chrono::milliseconds limit = std::chrono::milliseconds::max());
  // The same, with the reply (or the final failure) given to `on_reply`.
  void Call(std::string request, ReplyCallback on_reply);
  // One attempt, no retry: for periodic calls whose next round replaces a lost one.
  void CallOnce(std::string request, ReplyCallback on_reply, std::chrono::milliseconds timeout);
  // A one-way message; not retried.
  Status Send(std::string message);
  const std::string& endpoint() const { return endpoint_; }

 private:
  struct State;
  GcsClient(std::string endpoint, std::chrono::milliseconds reconnect_timeout,
            std::shared_ptr<State> state);
  static void Attempt(std::shared_ptr<State> state, std::string request, ReplyCallback on_reply,
                      std::chrono::steady_clock::time_point deadline);

  std::string endpoint_;
  std::chrono::milliseconds reconnect_timeout_;
  std::shared_ptr<State> state_;
};

// One KV request (kKvPut, kKvGet, kKvDelete or kKvList) and its reply; a
// store failure the GCS reports becomes kIoError.
Result<protocol::KvReply> CallKv(
    GcsClient& gcs, protocol::MessageType type, const protocol::KvRequest& request,
    std::chrono::milliseconds limit = std::chrono::milliseconds::max());

}  // namespace rayk
