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
// Failover: `endpoint` may list several GCS endpoints separated by commas
// ("tcp://10.0.0.1:6379,tcp://10.0.0.2:6379"), the heads that may serve the
// cluster one after another (a GCS store that outlives its head, such as
// gcs/redis, lets a new head take over). The client talks to one of them; an
// attempt that gets no answer moves it on to the next, so calls reach
// whichever head is up, within the same retry window.
//
// Thread-safe. Destroying the client completes pending calls with
// kUnavailable without retrying them.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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
  // The endpoints as given (a comma-separated list when there are several).
  const std::string& endpoint() const { return endpoint_; }
  // Whether `address` is one of the GCS endpoints: the GCS's own requests
  // (its actor leases) carry it as their owner.
  bool IsGcsEndpoint(const std::string& address) const;

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

// The endpoints of a comma-separated list, in order; one for a plain endpoint.
std::vector<std::string> SplitGcsEndpoints(const std::string& endpoints);

// One KV request (kKvPut, kKvGet, kKvDelete or kKvList) and its reply; a
// store failure the GCS reports becomes kIoError.
Result<protocol::KvReply> CallKv(
    GcsClient& gcs, protocol::MessageType type, const protocol::KvRequest& request,
    std::chrono::milliseconds limit = std::chrono::milliseconds::max());

}  // namespace rayk
