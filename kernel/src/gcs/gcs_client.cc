#include "gcs/gcs_client.h"

#include <algorithm>
#include <mutex>

namespace rayk {

namespace {

bool Retryable(const Status& status) {
  return status.code() == StatusCode::kTimedOut || status.code() == StatusCode::kUnavailable;
}

}  // namespace

// Shared with the callbacks of calls in flight, which may outlive the client.
// The mutex is recursive because a transport may run a callback on the
// calling thread, inside Channel::Call.
struct GcsClient::State {
  std::recursive_mutex mu;
  bool closing = false;
  std::unique_ptr<Channel> channel;
};

GcsClient::GcsClient(std::string endpoint, std::chrono::milliseconds reconnect_timeout,
                     std::shared_ptr<State> state)
    : endpoint_(std::move(endpoint)),
      reconnect_timeout_(reconnect_timeout),
      state_(std::move(state)) {}

Result<std::unique_ptr<GcsClient>> GcsClient::Connect(Transport& transport,
                                                      const std::string& endpoint,
                                                      std::chrono::milliseconds reconnect_timeout) {
  auto channel = transport.Connect(endpoint);
  if (!channel.ok()) return channel.status();
  auto state = std::make_shared<State>();
  state->channel = std::move(*channel);
  return std::unique_ptr<GcsClient>(new GcsClient(endpoint, reconnect_timeout, std::move(state)));
}

GcsClient::~GcsClient() {
  std::unique_ptr<Channel> channel;
  {
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    state_->closing = true;
    channel.swap(state_->channel);
  }
  channel.reset();  // pending calls complete now, and are not retried
}

Result<std::string> GcsClient::CallSync(const std::string& request,
                                        std::chrono::milliseconds limit) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::min(limit, reconnect_timeout_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    auto attempt = std::min<std::chrono::milliseconds>(
        kAttemptTimeout, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    Result<std::string> reply = Status::Unavailable("the GCS client is closing");
    {
      std::lock_guard<std::recursive_mutex> lock(state_->mu);
      if (state_->closing) return reply;
    }
    // CallSync blocks, so it runs without the lock; the channel lives until
    // the destructor, which cannot run while this call is in progress.
    reply = state_->channel->CallSync(request, std::max(attempt, std::chrono::milliseconds(1)));
    if (reply.ok() || !Retryable(reply.status())) return reply;
    if (std::chrono::steady_clock::now() >= deadline) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      return Status(reply.status().code(), "no answer from the GCS at " + endpoint_ + " for " +
                                               std::to_string(waited.count()) + " ms (" +
                                               reply.status().message() + "); is it running?");
    }
  }
}

void GcsClient::Attempt(std::shared_ptr<State> state, std::string request, ReplyCallback on_reply,
                        std::chrono::steady_clock::time_point deadline) {
  std::lock_guard<std::recursive_mutex> lock(state->mu);
  if (state->closing) {
    on_reply(Status::Unavailable("the GCS client is closing"));
    return;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  auto attempt = std::clamp(left, std::chrono::milliseconds(1), kAttemptTimeout);
  std::string copy = request;
  state->channel->Call(
      std::move(copy),
      [state, request = std::move(request), on_reply = std::move(on_reply),
       deadline](Result<std::string> reply) mutable {
        if (reply.ok() || !Retryable(reply.status()) ||
            std::chrono::steady_clock::now() >= deadline) {
          on_reply(std::move(reply));
          return;
        }
        Attempt(std::move(state), std::move(request), std::move(on_reply), deadline);
      },
      attempt);
}

void GcsClient::Call(std::string request, ReplyCallback on_reply) {
  Attempt(state_, std::move(request), std::move(on_reply),
          std::chrono::steady_clock::now() + reconnect_timeout_);
}

void GcsClient::CallOnce(std::string request, ReplyCallback on_reply,
                         std::chrono::milliseconds timeout) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->closing) {
    on_reply(Status::Unavailable("the GCS client is closing"));
    return;
  }
  state_->channel->Call(std::move(request), std::move(on_reply), timeout);
}

Status GcsClient::Send(std::string message) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->closing) return Status::Unavailable("the GCS client is closing");
  return state_->channel->Send(std::move(message));
}

Result<protocol::KvReply> CallKv(GcsClient& gcs, protocol::MessageType type,
                                 const protocol::KvRequest& request,
                                 std::chrono::milliseconds limit) {
  auto reply = gcs.CallSync(protocol::Encode(type, request), limit);
  if (!reply.ok()) return reply.status();
  auto body = protocol::Decode<protocol::KvReply>(*reply);
  if (!body.ok()) return body.status();
  if (!body->error.empty()) return Status::IoError("the GCS's store failed: " + body->error);
  return body;
}

}  // namespace rayk
