// Service: a server's handler table, one typed handler per message type.
//
// A server (the GCS, a raylet) registers `On<MessageType::kX>(handler)` for
// each message it serves; the handler receives the decoded Body<kX>
// (codec.h) and the ReplyFn. Everything else is done here, once: the size
// limit, the header check, decoding as exactly that body, and the answer to
// a request that cannot be served. Every such request (over the size limit,
// a bad header, a body that does not decode or leaves bytes over, a type
// this server does not serve) is answered with kErrorReply naming what was
// wrong ("malformed KvPut request: ..."; "unknown message type 77"), so its
// caller fails at once instead of waiting out its timeout; one-way messages
// (no ReplyFn) are only logged. Log lines for refused requests are
// rate-limited, as a misbehaving peer could otherwise flood the log.
//
// Thread-safety: register every handler before serving; Handle() may then
// be called from any thread (the transport calls it from one).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "rayk/plugin/transport.h"
#include "rpc/codec.h"

namespace rayk::protocol {

// The largest request each kind of endpoint takes, checked before decoding.
// The GCS's bound leaves room for a KV value of kMaxKvValueBytes and for an
// actor's inline creation arguments; a raylet's requests (leases, object
// pulls and chunk reads, frees) are small, while chunks leave as replies.
constexpr size_t kGcsMaxMessageBytes = 64 << 20;
constexpr size_t kRayletMaxMessageBytes = 16 << 20;

class Service {
 public:
  // `name` prefixes log lines and error replies ("gcs", "raylet").
  Service(std::string name, size_t max_message_bytes)
      : name_(std::move(name)), max_message_bytes_(max_message_bytes) {}
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Serves messages of `type` with handler(Body<type> body, ReplyFn reply).
  template <MessageType type, class Handler>
  void On(Handler handler) {
    handlers_[static_cast<uint8_t>(type)] = [this, handler = std::move(handler)](
                                                std::string_view message, ReplyFn& reply) {
      Body<type> body;
      Status decoded = DecodeBodyInto(message, body);
      if (!decoded.ok()) {
        Refuse(reply, "malformed " + std::string(MessageTypeName(type)) +
                          " request: " + decoded.message());
        return;
      }
      handler(std::move(body), std::move(reply));
    };
  }

  // The same, with a member function: On<kX>(this, &Server::OnX).
  template <MessageType type, class Owner>
  void On(Owner* owner, void (Owner::*method)(Body<type>, ReplyFn)) {
    On<type>([owner, method](Body<type> body, ReplyFn reply) {
      (owner->*method)(std::move(body), std::move(reply));
    });
  }

  // The transport's MessageHandler.
  void Handle(std::string message, ReplyFn reply);
  MessageHandler AsHandler() {
    return [this](std::string message, ReplyFn reply) {
      Handle(std::move(message), std::move(reply));
    };
  }

  // For handlers: answers with kErrorReply carrying `status` (a request
  // that decoded but cannot be served), or with kAck. No-ops for one-way
  // messages.
  static void ReplyError(const ReplyFn& reply, const Status& status);
  static void ReplyAck(const ReplyFn& reply);

 private:
  // Logs (rate-limited) and answers a request that cannot be served.
  void Refuse(const ReplyFn& reply, const std::string& why);

  using Entry = std::function<void(std::string_view message, ReplyFn& reply)>;

  const std::string name_;
  const size_t max_message_bytes_;
  std::array<Entry, 256> handlers_;  // by message type

  std::mutex log_mu_;
  std::chrono::steady_clock::time_point log_window_start_;
  int logged_in_window_ = 0;  // guarded by log_mu_
  size_t suppressed_ = 0;     // guarded by log_mu_
};

}  // namespace rayk::protocol
