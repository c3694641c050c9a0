#include "rpc/service.h"

#include <spdlog/spdlog.h>

#include "rpc/common_messages.h"

namespace rayk::protocol {

namespace {

// At most this many refused requests are logged per window; the rest are
// counted and the count goes into the next line logged.
constexpr int kLogsPerWindow = 10;
constexpr auto kLogWindow = std::chrono::seconds(10);

}  // namespace

void Service::Handle(std::string message, ReplyFn reply) {
  if (message.size() > max_message_bytes_) {
    Refuse(reply, "a request of " + std::to_string(message.size()) + " bytes is over the " + name_ +
                      "'s limit of " + std::to_string(max_message_bytes_) + " bytes per message");
    return;
  }
  auto type = PeekType(message);
  if (!type.ok()) {
    Refuse(reply, type.status().message());
    return;
  }
  const Entry& handler = handlers_[static_cast<uint8_t>(*type)];
  if (!handler) {
    Refuse(reply, MessageTypeName(*type) == nullptr
                      ? "unknown message type " + std::to_string(static_cast<int>(*type))
                      : "the " + name_ + " does not serve " + DescribeType(*type) + " messages");
    return;
  }
  handler(message, reply);
}

void Service::ReplyError(const ReplyFn& reply, const Status& status) {
  if (reply) reply(Encode(MessageType::kErrorReply, StatusReply::From(status)));
}

void Service::ReplyAck(const ReplyFn& reply) {
  // Every ack is the same bytes: encode them once (an archive costs a locale).
  static const std::string kAck = Encode(MessageType::kAck, Empty{});
  if (reply) reply(kAck);
}

void Service::Refuse(const ReplyFn& reply, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - log_window_start_ >= kLogWindow) {
      log_window_start_ = now;
      logged_in_window_ = 0;
    }
    if (logged_in_window_ < kLogsPerWindow) {
      ++logged_in_window_;
      std::string held_back =
          suppressed_ == 0 ? "" : " (" + std::to_string(suppressed_) + " more not logged)";
      suppressed_ = 0;
      spdlog::warn("{}: refused a {}: {}{}", name_, reply ? "request" : "one-way message", why,
                   held_back);
    } else {
      ++suppressed_;
    }
  }
  ReplyError(reply, Status::InvalidArgument(name_ + ": " + why));
}

}  // namespace rayk::protocol
