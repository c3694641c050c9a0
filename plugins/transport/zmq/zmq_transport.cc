// zmq: the transport over ZeroMQ (tcp:// and ipc://), with cppzmq's modern API.
//
// Request/reply runs over ROUTER (server) and DEALER (channel) sockets, one-way
// messages share that path, and publish/subscribe uses PUB/SUB. Every message
// carries the 12-byte header of zmq_frame.h, whose request id matches
// pipelined replies to their calls; a message that does not decode is dropped
// and logged.
//
// Threads, and why (each wake-up of a thread on the other core costs 15-20 us,
// about a quarter of a whole ZeroMQ round trip, see DESIGN.md section 9):
//
// - Server: one thread owns the ROUTER socket. It polls the socket and an
//   eventfd, and runs the handler itself, so a handler that replies at once
//   sends straight from that thread with no hand-off. A ReplyFn called from
//   another thread queues the reply and signals the eventfd (only when the
//   queue was empty, so a burst of replies costs one wake-up); the thread
//   sends the whole queue in one go.
//
// - Channel: one I/O thread per channel owns the DEALER socket while async
//   calls are in flight: it sends what Call() queued, receives replies, runs
//   the callbacks and fires timeouts. When nothing is in flight it lets go of
//   the socket and sleeps on an eventfd. CallSync then takes the socket itself
//   (the "direct" path): it sends, polls for its own reply and returns, so a
//   sync call costs one bare ZeroMQ round trip instead of two more thread
//   hand-offs. Send() does the same when the socket is free. If an async call
//   arrives while a direct CallSync waits, the I/O thread asks for the socket
//   back through a second eventfd; the CallSync then registers its request as
//   a pending call and waits for the I/O thread to deliver the reply, so
//   async timeouts are never held up by a slow sync call. CallSync from
//   several threads at once also falls back to the I/O thread, which
//   pipelines their requests.
//
// - Subscription: one thread per subscription polls its SUB socket and runs
//   the handler. Publisher: Publish() sends from the caller's thread under a
//   mutex (PUB never blocks).
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "../common/pending_calls.h"
#include "rayk/plugin/transport.h"
#include "zmq_curve.h"
#include "zmq_frame.h"

namespace rayk {
namespace {

using transport_common::Clock;
using transport_common::DeadlineAfter;
using transport_common::kForever;
using transport_common::PendingCalls;
using transport_common::ShouldLog;
using transport_common::SyncWait;
using transport_common::WakeFd;
using zmq_transport::CurveKeys;
using zmq_transport::DecodeFrameHeader;
using zmq_transport::EncodeFrameHeader;
using zmq_transport::FrameHeader;
using zmq_transport::FrameType;
using zmq_transport::kFrameHeaderSize;
using zmq_transport::ZapHandler;

const SettingSpec kZmqSettings[] = {
    {"io_threads", SettingType::kInteger, "1",
     "ZeroMQ I/O threads per Transport; one moves about a gigabyte a second", "1", "64"},
    {"linger_ms", SettingType::kInteger, "200",
     "how long a closed socket keeps trying to deliver messages it still holds", "0", "60000"},
    {"hwm", SettingType::kInteger, "0",
     "high-water mark (messages) of request/reply sockets; 0 means unbounded, so a reply is never "
     "dropped",
     "0", "100000000"},
    {"pub_hwm", SettingType::kInteger, "100000",
     "messages queued per subscriber before a publisher drops them", "0", "100000000"},
    {"reconnect_ivl_ms", SettingType::kInteger, "100",
     "pause between attempts to reach a server that is not up yet", "1", "60000"},
    {"max_sockets", SettingType::kInteger, "4096",
     "most sockets open at once per Transport (each channel, server, publisher and subscription "
     "is one)",
     "16", "65536"},
    {"auth", SettingType::kBool, "true",
     "CURVE authentication and encryption with the cluster secret; false lets anyone who can "
     "reach a port act on the cluster (every process must agree)"},
};

// The settings of kZmqSettings, whose defaults they come from (ReadOptions).
struct Options {
  int io_threads = 0;
  int linger_ms = 0;
  int hwm = 0;
  int pub_hwm = 0;
  int reconnect_ivl_ms = 0;
  int max_sockets = 0;
  bool auth = true;
};

// Payloads at least this big are handed to ZeroMQ without a copy; below it a
// copy is cheaper than the extra allocation that zero-copy needs.
constexpr size_t kZeroCopyBytes = 16 * 1024;
// What a call to a peer that refused the CURVE handshake fails with (after
// "zmq transport: ENDPOINT "); `rayk` commands recognise it to name the fix.
constexpr int kRefusalsInARow = 3;  // failed handshakes that make a refusal
constexpr char kRefusedHandshake[] =
    "refused the secure handshake: it holds another cluster secret than this process "
    "(docs/security.md)";
// Messages handled per poll before the loop looks at its other work, so a
// flood of requests cannot starve the replies queued from other threads.
constexpr int kReceiveBatch = 256;
// Milliseconds for zmq_poll until `deadline`, rounded up so that the loop
// does not spin through the last fraction of a millisecond; -1 for never.
std::chrono::milliseconds PollTimeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return std::chrono::milliseconds(-1);
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

// See inproc_transport.cc: a thread that destroys its owner cannot join itself.
void JoinOrDetach(std::thread& thread) {
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) {
    thread.detach();
  } else {
    thread.join();
  }
}

void LogBadFrame(std::atomic<uint64_t>& count, const std::string& where, const std::string& why) {
  uint64_t n;
  if (ShouldLog(count, &n)) {
    spdlog::error("zmq transport: {}: dropped a message that does not decode: {} ({} so far)",
                  where, why, n);
  }
}

// zmq::poll, except that a signal (a raylet gets SIGCHLD whenever a worker
// exits) counts as "nothing ready" rather than an error.
int Poll(zmq_pollitem_t* items, size_t count, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (size_t i = 0; i < count; ++i) items[i].revents = 0;
    return 0;
  }
}

Status ErrorStatus(const std::string& what, const zmq::error_t& e) {
  std::string message = "zmq transport: " + what + ": " + e.what();
  switch (e.num()) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return Status::InvalidArgument(message);
    case EADDRINUSE:
      return Status::AlreadyExists(message);
    case ETERM:
      return Status::Unavailable(message);
    default:
      return Status::IoError(message);
  }
}

// Checks the scheme and turns "tcp://host:0" into ZeroMQ's "pick a free port".
Result<std::string> ZmqAddress(const std::string& endpoint, bool bind) {
  if (endpoint.rfind("tcp://", 0) == 0) {
    if (bind && endpoint.size() > 8 && endpoint.compare(endpoint.size() - 2, 2, ":0") == 0) {
      return endpoint.substr(0, endpoint.size() - 1) + "*";
    }
    return endpoint;
  }
  if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() > 6) {
    if (bind) {
      // A socket in a session folder that does not exist yet is the usual
      // case, not an error; if this fails, bind says why.
      std::error_code ignored;
      std::filesystem::create_directories(std::filesystem::path(endpoint.substr(6)).parent_path(),
                                          ignored);
    }
    return endpoint;
  }
  return Status::InvalidArgument("zmq transport: endpoint '" + endpoint +
                                 "' is not tcp://host:port or ipc://path (inproc:// belongs to the "
                                 "inproc transport)");
}

std::string ToString(const zmq::message_t& message) {
  return std::string(static_cast<const char*>(message.data()), message.size());
}

// Receives and discards the rest of a multipart message.
void DiscardRest(zmq::socket_t& socket, const zmq::message_t& last) {
  bool more = last.more();
  zmq::message_t part;
  while (more) {
    if (!socket.recv(part, zmq::recv_flags::none)) return;
    more = part.more();
  }
}

// Sends a message body (zmq_frame.h): one frame when the payload is small, else
// [header][payload] with the payload handed over without a copy. With
// `dontwait`, returns false, having sent nothing, if the socket is at its
// high-water mark: ZeroMQ only ever refuses the first frame of a message.
bool TrySendBody(zmq::socket_t& socket, FrameType type, uint64_t id, std::string& payload,
                 zmq::send_flags flags = zmq::send_flags::dontwait) {
  if (payload.size() < kZeroCopyBytes) {
    zmq::message_t frame(kFrameHeaderSize + payload.size());
    auto* bytes = static_cast<char*>(frame.data());
    EncodeFrameHeader(type, id, bytes);
    if (!payload.empty()) std::memcpy(bytes + kFrameHeaderSize, payload.data(), payload.size());
    return socket.send(frame, flags).has_value();
  }
  char header[kFrameHeaderSize];
  EncodeFrameHeader(type, id, header);
  if (!socket.send(zmq::const_buffer(header, sizeof(header)), zmq::send_flags::sndmore | flags)) {
    return false;
  }
  auto* owned = new std::string(std::move(payload));
  zmq::message_t body(
      owned->data(), owned->size(),
      [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
  [[maybe_unused]] auto sent = socket.send(body, zmq::send_flags::none);
  return true;
}

// Reads the rest of a message body whose first frame is `first` and decodes
// it; the payload goes to `payload`. Extra frames are read and discarded.
Result<FrameHeader> ReadBody(zmq::socket_t& socket, const zmq::message_t& first,
                             std::string* payload) {
  auto header = zmq_transport::DecodeFramePrefix(first.data(), first.size());
  if (!first.more()) {
    if (header.ok()) {
      payload->assign(static_cast<const char*>(first.data()) + kFrameHeaderSize,
                      first.size() - kFrameHeaderSize);
    }
    return header;
  }
  zmq::message_t second;
  [[maybe_unused]] auto got = socket.recv(second, zmq::recv_flags::none);
  if (second.more()) {
    DiscardRest(socket, second);
    return Status::InvalidArgument("more frames than [header][payload]");
  }
  if (first.size() != kFrameHeaderSize) return DecodeFrameHeader(first.data(), first.size());
  if (header.ok()) payload->assign(static_cast<const char*>(second.data()), second.size());
  return header;
}

void SetCommonOptions(zmq::socket_t& socket, const Options& options) {
  socket.set(zmq::sockopt::linger, options.linger_ms);
  socket.set(zmq::sockopt::reconnect_ivl, options.reconnect_ivl_ms);
}

// ---------------------------------------------------------------------------
// Server

struct QueuedReply {
  std::string routing_id;
  uint64_t id;
  std::string payload;
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(zmq::socket_t socket, std::string endpoint, MessageHandler handler)
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)), handler_(std::move(handler)) {}

  // Any thread; see the file comment.
  void Reply(const std::string& routing_id, uint64_t id, std::string payload) {
    if (std::this_thread::get_id() == loop_thread_.load(std::memory_order_relaxed)) {
      SendReply(routing_id, id, payload);
      return;
    }
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      was_empty = outbound_.empty();
      outbound_.push_back(QueuedReply{routing_id, id, std::move(payload)});
    }
    if (was_empty) wake_.Signal();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    stopping_.store(true, std::memory_order_relaxed);
    wake_.Signal();
  }

  void Loop() {
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    zmq_pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_.fd(), ZMQ_POLLIN, 0}};
    std::vector<QueuedReply> batch;
    while (!stopping_.load(std::memory_order_relaxed)) {
      try {
        Poll(items, 2, std::chrono::milliseconds(-1));
        if (items[1].revents & ZMQ_POLLIN) wake_.Drain();
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stop_) break;
          batch.swap(outbound_);
        }
        for (QueuedReply& reply : batch) SendReply(reply.routing_id, reply.id, reply.payload);
        batch.clear();
        if (items[0].revents & ZMQ_POLLIN) ReceiveBatch();
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("zmq transport: server {} stops: {}", endpoint_, e.what());
        break;
      }
    }
    // ReplyFns the user kept hold this core; release the handler (and the
    // user state it holds) and the socket now, so the context can close.
    loop_thread_.store(std::thread::id(), std::memory_order_relaxed);
    handler_ = nullptr;
    socket_.close();
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    outbound_.clear();
  }

 private:
  void SendReply(const std::string& routing_id, uint64_t id, std::string& payload) {
    try {
      // A ROUTER never blocks: a reply to a peer that has gone is dropped.
      [[maybe_unused]] auto sent = socket_.send(zmq::buffer(routing_id), zmq::send_flags::sndmore);
      TrySendBody(socket_, FrameType::kReply, id, payload, zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      spdlog::error("zmq transport: server {} could not send a reply: {}", endpoint_, e.what());
    }
  }

  void ReceiveBatch() {
    zmq::message_t routing_id, first;
    std::string payload;
    for (int i = 0; i < kReceiveBatch && !stopping_.load(std::memory_order_relaxed); ++i) {
      if (!socket_.recv(routing_id, zmq::recv_flags::dontwait)) return;
      // A ROUTER always prepends the routing id; the rest of a multipart
      // message is already here, so blocking receives return at once.
      if (!routing_id.more()) continue;
      [[maybe_unused]] auto got = socket_.recv(first, zmq::recv_flags::none);
      auto decoded = ReadBody(socket_, first, &payload);
      if (!decoded.ok()) {
        LogBadFrame(bad_frames_, "server " + endpoint_, decoded.status().message());
        continue;
      }
      ReplyFn reply;
      if (decoded->type == FrameType::kRequest) {
        reply = [core = shared_from_this(), routing = ToString(routing_id),
                 id = decoded->request_id](std::string r) {
          core->Reply(routing, id, std::move(r));
        };
      } else if (decoded->type != FrameType::kOneWay) {
        LogBadFrame(bad_frames_, "server " + endpoint_, "a reply or publication sent to a server");
        continue;
      }
      uint64_t n;
      try {
        handler_(std::move(payload), std::move(reply));
      } catch (const std::exception& e) {
        if (ShouldLog(handler_errors_, &n)) {
          spdlog::error("zmq transport: handler of server {} threw: {} ({} so far)", endpoint_,
                        e.what(), n);
        }
      } catch (...) {
        if (ShouldLog(handler_errors_, &n)) {
          spdlog::error("zmq transport: handler of server {} threw a non-std exception ({} so far)",
                        endpoint_, n);
        }
      }
    }
  }

  zmq::socket_t socket_;  // the loop thread's
  const std::string endpoint_;
  MessageHandler handler_;  // the loop thread's
  WakeFd wake_;
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bad_frames_{0};
  std::atomic<uint64_t> handler_errors_{0};
  std::mutex mu_;
  std::vector<QueuedReply> outbound_;  // replies from other threads
  bool stop_ = false;
};

class ZmqServer : public Server {
 public:
  explicit ZmqServer(std::shared_ptr<ServerCore> core, std::string endpoint)
      : core_(std::move(core)), endpoint_(std::move(endpoint)) {
    thread_ = std::thread([core = core_] { core->Loop(); });
  }
  ~ZmqServer() override {
    core_->Stop();
    JoinOrDetach(thread_);
  }
  std::string endpoint() const override { return endpoint_; }

 private:
  std::shared_ptr<ServerCore> core_;
  const std::string endpoint_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Channel

struct QueuedMessage {
  FrameType type;
  uint64_t id;
  std::string payload;
};

class ChannelCore {
 public:
  // `monitor`, when valid, is a PAIR socket connected to `socket`'s monitor
  // (MonitorHandshakes): a peer that refuses the CURVE handshake (another
  // cluster secret, or none) then fails the channel's calls at once, instead
  // of letting them wait out their timeouts for replies that never come.
  ChannelCore(zmq::socket_t socket, std::string endpoint, zmq::socket_t monitor = {})
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)), monitor_(std::move(monitor)) {}

  void Call(std::string request, ReplyCallback on_reply, std::chrono::milliseconds timeout) {
    Clock::time_point deadline = DeadlineAfter(timeout);
    bool was_empty;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_ || refused_) {
        lock.unlock();
        on_reply(stop_
                     ? Status::Unavailable("zmq transport: channel to " + endpoint_ + " is closed")
                     : Refused());
        return;
      }
      uint64_t id = next_id_++;
      AddPendingLocked(id, std::move(on_reply), deadline);
      was_empty = outbound_.empty();
      outbound_.push_back(QueuedMessage{FrameType::kRequest, id, std::move(request)});
    }
    if (was_empty) wake_.Signal();
  }

  Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) {
    if (std::this_thread::get_id() == io_thread_.load(std::memory_order_relaxed)) {
      return Status::Internal(
          "zmq transport: CallSync from a reply callback of the same channel "
          "would deadlock; use Call");
    }
    Clock::time_point deadline = DeadlineAfter(timeout);
    std::unique_lock<std::mutex> socket_lock(socket_mu_, std::try_to_lock);
    if (socket_lock.owns_lock()) {
      uint64_t id = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_)
          return Status::Unavailable("zmq transport: channel to " + endpoint_ + " is closed");
        if (refused_) return Refused();
        // With calls pending or queued, replies on the socket may not be ours.
        if (outbound_.empty() && pending_.empty()) {
          id = next_id_++;
          direct_active_ = true;
        }
      }
      if (id != 0) return DirectCall(socket_lock, id, std::move(request), deadline);
      socket_lock.unlock();
    }
    auto wait = std::make_shared<SyncWait>();
    Call(
        std::move(request), [wait](Result<std::string> result) { wait->Set(std::move(result)); },
        timeout);
    return wait->Wait();
  }

  Status Send(std::string message) {
    std::unique_lock<std::mutex> socket_lock(socket_mu_, std::defer_lock);
    // The I/O thread holds the socket while it runs reply callbacks; a Send
    // from one of them is queued.
    if (std::this_thread::get_id() != io_thread_.load(std::memory_order_relaxed)) {
      socket_lock.try_lock();
    }
    if (socket_lock.owns_lock()) {
      bool direct;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_)
          return Status::Unavailable("zmq transport: channel to " + endpoint_ + " is closed");
        // Anything still queued must go first.
        direct = outbound_.empty();
      }
      if (direct) {
        try {
          if (TrySendBody(socket_, FrameType::kOneWay, 0, message)) return Status::Ok();
        } catch (const zmq::error_t& e) {
          return ErrorStatus("send to " + endpoint_, e);
        }
      }
      socket_lock.unlock();
    }
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_)
        return Status::Unavailable("zmq transport: channel to " + endpoint_ + " is closed");
      was_empty = outbound_.empty();
      outbound_.push_back(QueuedMessage{FrameType::kOneWay, 0, std::move(message)});
    }
    if (was_empty) wake_.Signal();
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.Signal();
  }

  // The I/O thread.
  void Loop() {
    io_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    std::unique_lock<std::mutex> socket_lock(socket_mu_, std::defer_lock);
    while (true) {
      bool stopping, need_socket;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping = stop_;
        need_socket = stopping || !outbound_.empty() || !pending_.empty() || !unsent_.empty();
        if (need_socket && !socket_lock.owns_lock() && direct_active_ && !handoff_requested_) {
          handoff_requested_ = true;
          handoff_.Signal();
        }
      }
      if (need_socket && !socket_lock.owns_lock()) socket_lock.lock();
      if (!need_socket && socket_lock.owns_lock()) socket_lock.unlock();
      if (stopping) break;
      try {
        const size_t monitored = monitor_ ? 1 : 0;
        if (!socket_lock.owns_lock()) {
          zmq_pollitem_t items[2] = {{nullptr, wake_.fd(), ZMQ_POLLIN, 0},
                                     {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
          Poll(items, 1 + monitored, std::chrono::milliseconds(-1));
          wake_.Drain();
          if (monitored && (items[1].revents & ZMQ_POLLIN)) ReadHandshakeEvents();
          continue;
        }
        FailCallsIfRefused();
        SendQueued();
        ExpireCalls();
        zmq_pollitem_t items[3] = {
            {socket_.handle(), 0,
             static_cast<short>(ZMQ_POLLIN | (unsent_.empty() ? 0 : ZMQ_POLLOUT)), 0},
            {nullptr, wake_.fd(), ZMQ_POLLIN, 0},
            {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
        Poll(items, 2 + monitored, PollTimeout(NextDeadline()));
        if (items[1].revents & ZMQ_POLLIN) wake_.Drain();
        if (items[0].revents & ZMQ_POLLIN) ReceiveReplies();
        if (monitored && (items[2].revents & ZMQ_POLLIN)) ReadHandshakeEvents();
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("zmq transport: channel to {} stops: {}", endpoint_, e.what());
        break;
      }
    }
    Shutdown(socket_lock);
  }

 private:
  // kIoError, not kUnavailable: retrying (as a GCS client does while a GCS
  // restarts) cannot help until the secrets agree.
  Status Refused() const {
    return Status::IoError("zmq transport: " + endpoint_ + " " + std::string(kRefusedHandshake));
  }

  // I/O thread: the monitor's events. Failed handshakes in a row mark the
  // channel refused (and take the socket back from a direct CallSync, whose
  // call is then failed with the others); a successful one clears the mark.
  // libzmq reports a server closing the connection mid-handshake the same way
  // as a server refusing the keys, so one failure alone (a peer that died
  // just then) does not: a dead peer refuses connections, with no handshake.
  void ReadHandshakeEvents() {
    while (true) {
      zmq::message_t event;
      if (!monitor_.recv(event, zmq::recv_flags::dontwait)) return;
      zmq::message_t address;  // every event is two frames
      if (event.more()) (void)monitor_.recv(address);
      if (event.size() < sizeof(uint16_t)) continue;
      uint16_t id;
      std::memcpy(&id, event.data(), sizeof(id));
      std::lock_guard<std::mutex> lock(mu_);
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        failed_handshakes_ = 0;
        refused_ = false;
        continue;
      }
      if (++failed_handshakes_ < kRefusalsInARow) continue;
      refused_ = true;
      if (direct_active_ && !handoff_requested_) {
        handoff_requested_ = true;
        handoff_.Signal();
      }
    }
  }

  // I/O thread, holding the socket.
  void FailCallsIfRefused() {
    std::unordered_map<uint64_t, ReplyCallback> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!refused_) return;
      pending = pending_.TakeAll();
    }
    for (auto& [id, callback] : pending) Invoke(callback, Refused());
  }

  void AddPendingLocked(uint64_t id, ReplyCallback on_reply, Clock::time_point deadline) {
    pending_.Add(id, std::move(on_reply), deadline);
  }

  Clock::time_point NextDeadline() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.NextDeadline();
  }

  static void Invoke(ReplyCallback& callback, Result<std::string> result) {
    try {
      callback(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("zmq transport: reply callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("zmq transport: reply callback threw a non-std exception");
    }
  }

  // The direct path of CallSync: this thread holds the socket.
  Result<std::string> DirectCall(std::unique_lock<std::mutex>& socket_lock, uint64_t id,
                                 std::string request, Clock::time_point deadline) {
    std::optional<Result<std::string>> result;
    try {
      zmq_pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLOUT, 0},
                                 {nullptr, handoff_.fd(), ZMQ_POLLIN, 0}};
      bool sent = TrySendBody(socket_, FrameType::kRequest, id, request);
      while (!result) {
        items[0].events = sent ? ZMQ_POLLIN : ZMQ_POLLOUT;
        std::chrono::milliseconds timeout = PollTimeout(deadline);
        if (timeout.count() == 0) {
          result.emplace(Status::TimedOut("zmq transport: no reply from " + endpoint_ +
                                          " within the timeout"));
          break;
        }
        Poll(items, 2, timeout);
        if (!sent && (items[0].revents & ZMQ_POLLOUT)) {
          sent = TrySendBody(socket_, FrameType::kRequest, id, request);
        }
        if (sent && (items[0].revents & ZMQ_POLLIN)) {
          while (auto reply = ReceiveReply()) {
            if (reply->first == id) {
              result.emplace(std::move(reply->second));
              break;
            }
            // Anything else answers a call that already timed out.
          }
          if (result) break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
          // The I/O thread needs the socket: leave our call to it.
          auto wait = std::make_shared<SyncWait>();
          {
            std::lock_guard<std::mutex> lock(mu_);
            AddPendingLocked(
                id, [wait](Result<std::string> r) { wait->Set(std::move(r)); }, deadline);
            if (!sent)
              unsent_.push_front(QueuedMessage{FrameType::kRequest, id, std::move(request)});
            direct_active_ = false;
            handoff_requested_ = false;
            handoff_.Drain();
          }
          socket_lock.unlock();
          return wait->Wait();
        }
      }
    } catch (const zmq::error_t& e) {
      result.emplace(ErrorStatus("call to " + endpoint_, e));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      direct_active_ = false;
      if (handoff_requested_) {
        handoff_requested_ = false;
        handoff_.Drain();
      }
    }
    return std::move(*result);
  }

  // Receives one reply without waiting: (request id, payload), or nothing
  // when the socket has no more. Frames that do not decode are dropped.
  std::optional<std::pair<uint64_t, std::string>> ReceiveReply() {
    while (true) {
      zmq::message_t first;
      if (!socket_.recv(first, zmq::recv_flags::dontwait)) return std::nullopt;
      std::string payload;
      auto decoded = ReadBody(socket_, first, &payload);
      if (!decoded.ok()) {
        LogBadFrame(bad_frames_, "channel to " + endpoint_, decoded.status().message());
        continue;
      }
      if (decoded->type != FrameType::kReply) {
        LogBadFrame(bad_frames_, "channel to " + endpoint_, "a channel only takes replies");
        continue;
      }
      return std::make_pair(decoded->request_id, std::move(payload));
    }
  }

  // I/O thread, holding the socket.
  void SendQueued() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (QueuedMessage& m : outbound_) unsent_.push_back(std::move(m));
      outbound_.clear();
    }
    while (!unsent_.empty()) {
      QueuedMessage& m = unsent_.front();
      if (!TrySendBody(socket_, m.type, m.id, m.payload)) return;  // poll for POLLOUT
      unsent_.pop_front();
    }
  }

  // I/O thread, holding the socket.
  void ReceiveReplies() {
    replies_.clear();
    for (int i = 0; i < kReceiveBatch; ++i) {
      auto reply = ReceiveReply();
      if (!reply) break;
      replies_.push_back(std::move(*reply));
    }
    if (replies_.empty()) return;
    ready_.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, payload] : replies_) {
        auto callback = pending_.Take(id);
        if (!callback) continue;  // it timed out
        ready_.emplace_back(std::move(*callback), std::move(payload));
      }
    }
    for (auto& [callback, payload] : ready_) Invoke(callback, std::move(payload));
    ready_.clear();
  }

  void ExpireCalls() {
    std::vector<ReplyCallback> expired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      expired = pending_.TakeExpired(Clock::now());
    }
    for (ReplyCallback& callback : expired) {
      Invoke(callback,
             Status::TimedOut("zmq transport: no reply from " + endpoint_ + " within the timeout"));
    }
  }

  // Fails what is pending, flushes queued one-way messages (linger delivers
  // them after close, as Send promised) and closes the socket.
  void Shutdown(std::unique_lock<std::mutex>& socket_lock) {
    if (!socket_lock.owns_lock()) socket_lock.lock();
    std::unordered_map<uint64_t, ReplyCallback> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending = pending_.TakeAll();
      for (QueuedMessage& m : outbound_) unsent_.push_back(std::move(m));
      outbound_.clear();
    }
    try {
      for (QueuedMessage& m : unsent_) {
        if (m.type != FrameType::kOneWay) continue;
        if (!TrySendBody(socket_, m.type, m.id, m.payload)) break;
      }
    } catch (const zmq::error_t&) {
      // Closing anyway.
    }
    unsent_.clear();
    socket_.close();
    if (monitor_) monitor_.close();
    for (auto& [id, callback] : pending) {
      Invoke(callback, Status::Unavailable("zmq transport: channel to " + endpoint_ +
                                           " closed before the reply"));
    }
  }

  zmq::socket_t socket_;  // used only by the holder of socket_mu_
  const std::string endpoint_;
  zmq::socket_t monitor_;  // the I/O thread's; invalid without CURVE
  std::mutex socket_mu_;
  WakeFd wake_;     // wakes the I/O thread: queued messages, stop
  WakeFd handoff_;  // wakes a direct CallSync: the I/O thread needs the socket
  std::atomic<std::thread::id> io_thread_{};
  std::atomic<uint64_t> bad_frames_{0};

  std::mutex mu_;  // guards the members below
  std::vector<QueuedMessage> outbound_;
  PendingCalls pending_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  int failed_handshakes_ = 0;       // in a row
  bool refused_ = false;            // after kRefusalsInARow of them
  bool direct_active_ = false;      // a CallSync holds the socket
  bool handoff_requested_ = false;  // handoff_ is signalled

  // Used by whoever holds socket_mu_.
  std::deque<QueuedMessage> unsent_;  // refused at the high-water mark

  // Scratch buffers of the I/O thread.
  std::vector<std::pair<uint64_t, std::string>> replies_;
  std::vector<std::pair<ReplyCallback, std::string>> ready_;
};

class ZmqChannel : public Channel {
 public:
  ZmqChannel(std::shared_ptr<ChannelCore> core, std::string endpoint)
      : core_(std::move(core)), endpoint_(std::move(endpoint)) {
    thread_ = std::thread([core = core_] { core->Loop(); });
  }
  ~ZmqChannel() override {
    core_->Stop();
    JoinOrDetach(thread_);
  }

  void Call(std::string request, ReplyCallback on_reply,
            std::chrono::milliseconds timeout) override {
    core_->Call(std::move(request), std::move(on_reply), timeout);
  }
  Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) override {
    return core_->CallSync(std::move(request), timeout);
  }
  Status Send(std::string message) override { return core_->Send(std::move(message)); }
  std::string endpoint() const override { return endpoint_; }

 private:
  std::shared_ptr<ChannelCore> core_;
  const std::string endpoint_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Publish/subscribe

class ZmqPublisher : public Publisher {
 public:
  ZmqPublisher(zmq::socket_t socket, std::string endpoint)
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)) {}
  ~ZmqPublisher() override {
    std::lock_guard<std::mutex> lock(mu_);
    socket_.close();
  }

  Status Publish(const std::string& topic, std::string payload) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      // PUB never blocks: a subscriber at its high-water mark misses messages.
      [[maybe_unused]] auto sent = socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
      TrySendBody(socket_, FrameType::kPublish, ++sequence_, payload, zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      return ErrorStatus("publish on " + endpoint_, e);
    }
    return Status::Ok();
  }

  std::string endpoint() const override { return endpoint_; }

 private:
  std::mutex mu_;
  zmq::socket_t socket_;  // guarded by mu_
  const std::string endpoint_;
  uint64_t sequence_ = 0;
};

class SubscriptionCore {
 public:
  SubscriptionCore(zmq::socket_t socket, std::string endpoint, TopicHandler handler)
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)), handler_(std::move(handler)) {}

  void Stop() {
    stopping_.store(true, std::memory_order_relaxed);
    wake_.Signal();
  }

  void Loop() {
    zmq_pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_.fd(), ZMQ_POLLIN, 0}};
    zmq::message_t topic, first;
    std::string payload;
    while (!stopping_.load(std::memory_order_relaxed)) {
      try {
        Poll(items, 2, std::chrono::milliseconds(-1));
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        for (int i = 0; i < kReceiveBatch && !stopping_.load(std::memory_order_relaxed); ++i) {
          if (!socket_.recv(topic, zmq::recv_flags::dontwait)) break;
          if (!topic.more()) {
            LogBadFrame(bad_frames_, "subscription to " + endpoint_, "a topic and nothing else");
            continue;
          }
          [[maybe_unused]] auto got = socket_.recv(first, zmq::recv_flags::none);
          auto decoded = ReadBody(socket_, first, &payload);
          if (!decoded.ok() || decoded->type != FrameType::kPublish) {
            LogBadFrame(bad_frames_, "subscription to " + endpoint_,
                        decoded.ok() ? "not a publication" : decoded.status().message());
            continue;
          }
          try {
            handler_(ToString(topic), std::move(payload));
          } catch (const std::exception& e) {
            spdlog::error("zmq transport: subscription handler threw: {}", e.what());
          } catch (...) {
            spdlog::error("zmq transport: subscription handler threw a non-std exception");
          }
        }
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        spdlog::error("zmq transport: subscription to {} stops: {}", endpoint_, e.what());
        break;
      }
    }
    handler_ = nullptr;
    socket_.close();
  }

 private:
  zmq::socket_t socket_;  // the loop thread's
  const std::string endpoint_;
  TopicHandler handler_;
  WakeFd wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bad_frames_{0};
};

class ZmqSubscription : public Subscription {
 public:
  explicit ZmqSubscription(std::shared_ptr<SubscriptionCore> core) : core_(std::move(core)) {
    thread_ = std::thread([core = core_] { core->Loop(); });
  }
  ~ZmqSubscription() override {
    core_->Stop();
    JoinOrDetach(thread_);
  }

 private:
  std::shared_ptr<SubscriptionCore> core_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------

Options ReadOptions(const PluginContext& context) {
  Options options;
  // The loader has checked every value against kZmqSettings' ranges, which
  // all fit an int: nothing to clamp.
  const PluginSettings& s = context.settings();
  auto get = [&s](const char* key) { return static_cast<int>(s.GetInteger(key)); };
  options.io_threads = get("io_threads");
  options.linger_ms = get("linger_ms");
  options.hwm = get("hwm");
  options.pub_hwm = get("pub_hwm");
  options.reconnect_ivl_ms = get("reconnect_ivl_ms");
  options.max_sockets = get("max_sockets");
  options.auth = s.GetBool("auth");
  return options;
}

// The keys every socket of a Transport uses, or nothing with auth = false.
// Throws (the loader reports it as the plugin failing to start) when auth is
// on and cannot work.
std::optional<CurveKeys> KeysFor(const Options& options, const PluginContext& context) {
  if (!options.auth) {
    spdlog::warn(
        "zmq transport: AUTHENTICATION IS OFF ([transport.zmq] auth = false): anyone who can reach "
        "this process's ports can read and change the cluster, and traffic is not encrypted");
    return std::nullopt;
  }
  if (!zmq_transport::CurveAvailable()) {
    throw std::runtime_error(
        "this libzmq was built without CURVE, which cluster authentication needs; install a libzmq "
        "built with libsodium (Debian's libzmq5 is) or set [transport.zmq] auth = false");
  }
  if (context.cluster_secret.empty()) {
    throw std::runtime_error(
        "no cluster secret to authenticate with; set RAYK_AUTH_TOKEN to the cluster's token (it is "
        "in <session>/auth_token on the head node), or set [transport.zmq] auth = false on every "
        "process of an insecure cluster");
  }
  auto keys = zmq_transport::DeriveCurveKeys(context.cluster_secret);
  if (!keys.ok()) throw std::runtime_error(keys.status().message());
  return std::move(*keys);
}

class ZmqTransport : public Transport {
 public:
  explicit ZmqTransport(const PluginContext& context)
      : options_(ReadOptions(context)),
        keys_(KeysFor(options_, context)),
        context_(options_.io_threads, options_.max_sockets) {
    if (keys_) zap_ = std::make_unique<ZapHandler>(context_, keys_->member_public);
  }

  Result<std::unique_ptr<Server>> Serve(const std::string& endpoint,
                                        MessageHandler handler) override {
    auto address = ZmqAddress(endpoint, /*bind=*/true);
    if (!address.ok()) return address.status();
    try {
      zmq::socket_t socket(context_, zmq::socket_type::router);
      SetCommonOptions(socket, options_);
      SecureServer(socket);
      socket.set(zmq::sockopt::sndhwm, options_.hwm);
      socket.set(zmq::sockopt::rcvhwm, options_.hwm);
      socket.bind(*address);
      std::string bound = socket.get(zmq::sockopt::last_endpoint);
      auto core = std::make_shared<ServerCore>(std::move(socket), bound, std::move(handler));
      return std::unique_ptr<Server>(new ZmqServer(std::move(core), bound));
    } catch (const zmq::error_t& e) {
      return ErrorStatus("cannot serve " + endpoint, e);
    } catch (const std::exception& e) {
      return Status::IoError("zmq transport: cannot serve " + endpoint + ": " + e.what());
    }
  }

  Result<std::unique_ptr<Channel>> Connect(const std::string& endpoint) override {
    auto address = ZmqAddress(endpoint, /*bind=*/false);
    if (!address.ok()) return address.status();
    try {
      zmq::socket_t socket(context_, zmq::socket_type::dealer);
      SetCommonOptions(socket, options_);
      SecureClient(socket);
      socket.set(zmq::sockopt::sndhwm, options_.hwm);
      socket.set(zmq::sockopt::rcvhwm, options_.hwm);
      zmq::socket_t monitor = MonitorHandshakes(socket);
      socket.connect(*address);
      auto core = std::make_shared<ChannelCore>(std::move(socket), endpoint, std::move(monitor));
      return std::unique_ptr<Channel>(new ZmqChannel(std::move(core), endpoint));
    } catch (const zmq::error_t& e) {
      return ErrorStatus("cannot connect to " + endpoint, e);
    } catch (const std::exception& e) {
      return Status::IoError("zmq transport: cannot connect to " + endpoint + ": " + e.what());
    }
  }

  Result<std::unique_ptr<Publisher>> Publish(const std::string& endpoint) override {
    auto address = ZmqAddress(endpoint, /*bind=*/true);
    if (!address.ok()) return address.status();
    try {
      zmq::socket_t socket(context_, zmq::socket_type::pub);
      SetCommonOptions(socket, options_);
      SecureServer(socket);
      socket.set(zmq::sockopt::sndhwm, options_.pub_hwm);
      socket.bind(*address);
      std::string bound = socket.get(zmq::sockopt::last_endpoint);
      return std::unique_ptr<Publisher>(new ZmqPublisher(std::move(socket), bound));
    } catch (const zmq::error_t& e) {
      return ErrorStatus("cannot publish on " + endpoint, e);
    }
  }

  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& endpoint,
                                                  const std::vector<std::string>& topic_prefixes,
                                                  TopicHandler handler) override {
    auto address = ZmqAddress(endpoint, /*bind=*/false);
    if (!address.ok()) return address.status();
    try {
      zmq::socket_t socket(context_, zmq::socket_type::sub);
      SetCommonOptions(socket, options_);
      SecureClient(socket);
      socket.set(zmq::sockopt::rcvhwm, options_.pub_hwm);
      for (const std::string& prefix : topic_prefixes) socket.set(zmq::sockopt::subscribe, prefix);
      socket.connect(*address);
      auto core =
          std::make_shared<SubscriptionCore>(std::move(socket), endpoint, std::move(handler));
      return std::unique_ptr<Subscription>(new ZmqSubscription(std::move(core)));
    } catch (const zmq::error_t& e) {
      return ErrorStatus("cannot subscribe to " + endpoint, e);
    } catch (const std::exception& e) {
      return Status::IoError("zmq transport: cannot subscribe to " + endpoint + ": " + e.what());
    }
  }

 private:
  // Every socket this transport binds serves CURVE and asks the ZAP handler;
  // every socket it connects proves membership with the member keypair.
  void SecureServer(zmq::socket_t& socket) const {
    if (keys_) zmq_transport::MakeCurveServer(socket, *keys_);
  }
  void SecureClient(zmq::socket_t& socket) const {
    if (keys_) zmq_transport::MakeCurveClient(socket, *keys_);
  }
  // With CURVE, a PAIR socket that receives `socket`'s handshake events
  // (libzmq reports a refused handshake only to a socket monitor); without,
  // an invalid socket.
  zmq::socket_t MonitorHandshakes(zmq::socket_t& socket) {
    if (!keys_) return {};
    static std::atomic<uint64_t> next{0};
    const std::string endpoint = "inproc://rayk-handshakes-" + std::to_string(next++);
    if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw zmq::error_t();
    }
    zmq::socket_t monitor(context_, zmq::socket_type::pair);
    monitor.connect(endpoint);
    return monitor;
  }

  const Options options_;
  const std::optional<CurveKeys> keys_;
  // Closing the context waits for every socket, and the contract has the
  // Transport outlive everything it made.
  zmq::context_t context_;
  // Destroyed before the context, whose closing would otherwise wait for the
  // ZAP socket forever.
  std::unique_ptr<ZapHandler> zap_;
};

}  // namespace
}  // namespace rayk

RAYK_PLUGIN(rayk::PluginKind::kTransport, "zmq", "1.0",
            "ZeroMQ over tcp:// and ipc://: ROUTER/DEALER request/reply, PUB/SUB",
            rayk::ZmqTransport, rayk::kZmqSettings);
