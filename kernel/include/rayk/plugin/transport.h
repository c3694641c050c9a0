// Transport: the slot every rayk process talks through.
//
// Three patterns, all on byte-string payloads (the transport adds its own
// framing; callers bring their own encoding, see protocol.h):
//   - request/reply: a Server answers requests from Channels. A Channel may
//     have many requests in flight (pipelining); replies are matched to their
//     requests by the transport, and may arrive in any order.
//   - one-way: Channel::Send delivers a message the server does not answer.
//   - publish/subscribe: a Publisher fans out (topic, payload) pairs to every
//     Subscription whose prefix matches the topic.
//
// Endpoints are URLs: "tcp://127.0.0.1:7000", "ipc:///tmp/rayk/x.sock",
// "inproc://name". Serving or publishing on a tcp port 0 binds a free port;
// endpoint() tells which. A plugin rejects an endpoint scheme it does not
// support with kInvalidArgument.
//
// Thread safety: Transport, Channel and Publisher methods may be called from any
// thread. A Server calls its handler on one transport-owned thread, one message
// at a time in arrival order, so server state needs no lock if only the
// handler touches it; the handler may keep the ReplyFn and call it later from
// any thread (exactly once). Reply callbacks and subscription handlers run on
// transport-owned threads and must not block for long.
// Ownership: destroying a Server, Channel, Publisher or Subscription stops it;
// a Channel's pending calls then complete with kUnavailable. The Transport
// must outlive everything it created.
// Failure: a peer that does not answer shows up as kTimedOut on the call; a
// frame that does not decode is dropped with a logged error, never a crash.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rayk/plugin/plugin.h"
#include "rayk/status.h"

namespace rayk {

// Sends the reply to one request; empty (false) for one-way messages.
using ReplyFn = std::function<void(std::string reply)>;
using MessageHandler = std::function<void(std::string message, ReplyFn reply)>;
using ReplyCallback = std::function<void(Result<std::string> reply)>;
using TopicHandler = std::function<void(const std::string& topic, std::string payload)>;

class Server {
 public:
  virtual ~Server() = default;
  virtual std::string endpoint() const = 0;
};

class Channel {
 public:
  virtual ~Channel() = default;
  // Sends a request; `on_reply` gets the reply, or kTimedOut after `timeout`,
  // or kUnavailable if the channel closes first. Returns at once.
  virtual void Call(std::string request, ReplyCallback on_reply,
                    std::chrono::milliseconds timeout) = 0;
  // Sends a request and waits for its reply.
  virtual Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) = 0;
  // Sends a message that gets no reply. Returns once it is queued.
  virtual Status Send(std::string message) = 0;
  virtual std::string endpoint() const = 0;
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual Status Publish(const std::string& topic, std::string payload) = 0;
  virtual std::string endpoint() const = 0;
};

class Subscription {
 public:
  virtual ~Subscription() = default;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual Result<std::unique_ptr<Server>> Serve(const std::string& endpoint,
                                                MessageHandler handler) = 0;
  // Connecting does not wait for the server: calls made before it is up are
  // delivered once it is (or time out).
  virtual Result<std::unique_ptr<Channel>> Connect(const std::string& endpoint) = 0;
  virtual Result<std::unique_ptr<Publisher>> Publish(const std::string& endpoint) = 0;
  // Subscribes to every topic that starts with one of `topic_prefixes`. The
  // prefix "" matches every topic; an empty list subscribes to nothing.
  // Messages published before the subscription is connected may be missed,
  // as with any pub/sub.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(
      const std::string& endpoint, const std::vector<std::string>& topic_prefixes,
      TopicHandler handler) = 0;
};

}  // namespace rayk
