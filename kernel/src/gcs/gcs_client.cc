#include "gcs/gcs_client.h"

#include <algorithm>
#include <mutex>

namespace rayk {

namespace {

bool Retryable(const Status& status) {
  return status.code() == StatusCode::kTimedOut || status.code() == StatusCode::kUnavailable;
}

}  // namespace

std::vector<std::string> SplitGcsEndpoints(const std::string& endpoints) {
  std::vector<std::string> list;
  size_t start = 0;
  for (;;) {
    size_t comma = endpoints.find(',', start);
    std::string one = endpoints.substr(start, comma == std::string::npos ? comma : comma - start);
    if (!one.empty()) list.push_back(std::move(one));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (list.empty()) list.push_back(endpoints);
  return list;
}

// Shared with the callbacks of calls in flight, which may outlive the client.
// The mutex is recursive because a transport may run a callback on the
// calling thread, inside Channel::Call. One channel per GCS endpoint, made at
// Connect and kept to the end (a callback may run inside its own channel,
// which must then not be destroyed); `current` is the one calls go to.
struct GcsClient::State {
  std::recursive_mutex mu;
  bool closing = false;
  std::vector<std::unique_ptr<Channel>> channels;
  size_t current = 0;

  // After an attempt on channel `index` got no answer: the next endpoint's
  // turn (unless another call has moved on already).
  void NoAnswerFrom(size_t index) {
    std::lock_guard<std::recursive_mutex> lock(mu);
    // Closing completes pending calls with kUnavailable, with no channels left.
    if (closing || channels.empty()) return;
    if (index == current) current = (current + 1) % channels.size();
  }
};

GcsClient::GcsClient(std::string endpoint, std::chrono::milliseconds reconnect_timeout,
                     std::shared_ptr<State> state)
    : endpoint_(std::move(endpoint)),
      reconnect_timeout_(reconnect_timeout),
      state_(std::move(state)) {}

Result<std::unique_ptr<GcsClient>> GcsClient::Connect(Transport& transport,
                                                      const std::string& endpoint,
                                                      std::chrono::milliseconds reconnect_timeout) {
  auto state = std::make_shared<State>();
  for (const std::string& one : SplitGcsEndpoints(endpoint)) {
    auto channel = transport.Connect(one);
    if (!channel.ok()) return channel.status();
    state->channels.push_back(std::move(*channel));
  }
  return std::unique_ptr<GcsClient>(new GcsClient(endpoint, reconnect_timeout, std::move(state)));
}

GcsClient::~GcsClient() {
  std::vector<std::unique_ptr<Channel>> channels;
  {
    std::lock_guard<std::recursive_mutex> lock(state_->mu);
    state_->closing = true;
    channels.swap(state_->channels);
  }
  channels.clear();  // pending calls complete now, and are not retried
}

bool GcsClient::IsGcsEndpoint(const std::string& address) const {
  for (const std::string& one : SplitGcsEndpoints(endpoint_)) {
    if (one == address) return true;
  }
  return false;
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
    Channel* channel = nullptr;
    size_t index = 0;
    {
      std::lock_guard<std::recursive_mutex> lock(state_->mu);
      if (state_->closing) return reply;
      index = state_->current;
      channel = state_->channels[index].get();
    }
    // CallSync blocks, so it runs without the lock; the channel lives until
    // the destructor, which cannot run while this call is in progress.
    reply = channel->CallSync(request, std::max(attempt, std::chrono::milliseconds(1)));
    if (reply.ok() || !Retryable(reply.status())) return reply;
    state_->NoAnswerFrom(index);
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
  const size_t index = state->current;
  state->channels[index]->Call(
      std::move(copy),
      [state, index, request = std::move(request), on_reply = std::move(on_reply),
       deadline](Result<std::string> reply) mutable {
        if (reply.ok() || !Retryable(reply.status())) {
          on_reply(std::move(reply));
          return;
        }
        state->NoAnswerFrom(index);
        if (std::chrono::steady_clock::now() >= deadline) {
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
  const size_t index = state_->current;
  state_->channels[index]->Call(
      std::move(request),
      [state = state_, index, on_reply = std::move(on_reply)](Result<std::string> reply) {
        if (!reply.ok() && Retryable(reply.status())) state->NoAnswerFrom(index);
        on_reply(std::move(reply));
      },
      timeout);
}

Status GcsClient::Send(std::string message) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->closing) return Status::Unavailable("the GCS client is closing");
  return state_->channels[state_->current]->Send(std::move(message));
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
