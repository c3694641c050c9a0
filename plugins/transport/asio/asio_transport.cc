// asio: the transport over Boost.Asio, tcp:// and Unix domain sockets
// (ipc:// or unix://), with length-prefixed frames (asio_frame.h) on each
// connection, after a handshake that proves both ends hold the cluster secret
// (asio_handshake.h).
//
// Threads, and why (each wake-up of a thread on the other core costs 15-20 us,
// see DESIGN.md section 9). Each Server, Channel, Publisher and Subscription
// has one loop thread (an io_context of its own), as the zmq transport has one
// thread per socket; nothing of one waits on another's.
//
// - Server: the loop thread accepts, runs handshakes, reads requests and runs
//   the handler. A ReplyFn writes the reply on the thread that calls it
//   (Stream::Send), the loop thread or any other: no hand-off. Only while the
//   connection owes more replies does a reply made off the loop thread go
//   to the loop thread, to be written with the others made by then
//   (OwedReply).
// - Channel: requests are written by the calling thread (while many are in
//   flight, by the loop thread in batches: one sendmsg, one segment, one
//   wake-up of the peer for many). Replies are read by one reader at a time:
//   the loop thread while async calls are in flight (and, after async calls,
//   while idle too, so that starting the next wakes nobody), or, when nothing
//   is in flight after a CallSync, the thread in CallSync itself (the
//   "direct" path): it writes, polls the socket for its reply and returns, so
//   a sync call costs one bare round trip. An async call arriving meanwhile
//   asks for the socket back through an eventfd; the CallSync then leaves its
//   call to the loop thread and waits for it to be delivered. The loop thread
//   also connects (again, after a loss), and fires timeouts.
// - Publisher: Publish() writes to each subscriber from the caller's thread;
//   the loop thread accepts subscribers and reads their topic prefixes.
// - Subscription: the loop thread connects, reads and runs the handler.
//
// A lost connection is made again (every reconnect_ivl_ms); requests not yet
// written wait for it, and new calls are queued until it is up. Calls whose
// requests went out on the lost connection end at their timeout, as with
// ZeroMQ: the kernel learns of a dead peer from its raylet or the GCS and
// decides about retries from that, not from a transport error.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../common/pending_calls.h"
#include "asio_frame.h"
#include "asio_handshake.h"
#include "asio_stream.h"
#include "rayk/plugin/transport.h"

namespace rayk {
namespace {

namespace net = boost::asio;
using asio_transport::ClientHandshake;
using asio_transport::Frame;
using asio_transport::FrameType;
using asio_transport::Key;
using asio_transport::Mode;
using asio_transport::ServerHandshake;
using asio_transport::SessionKeys;
using asio_transport::Socket;
using asio_transport::Stream;
using transport_common::Clock;
using transport_common::DeadlineAfter;
using transport_common::PendingCalls;
using transport_common::ShouldLog;
using transport_common::SyncWait;
using transport_common::WakeFd;
using Acceptor = net::basic_socket_acceptor<net::generic::stream_protocol>;
using ErrorCode = boost::system::error_code;

const SettingSpec kAsioSettings[] = {
    {"auth", SettingType::kBool, "true",
     "authenticate every connection with the cluster secret and encrypt tcp traffic; false lets "
     "anyone who can reach a port act on the cluster (every process must agree)"},
    {"max_frame", SettingType::kBytes, "2GiB",
     "largest message accepted; a peer announcing more is disconnected before anything is "
     "allocated",
     "1KiB", "4095MiB"},
    {"reconnect_ivl_ms", SettingType::kInteger, "100",
     "pause between attempts to reach a server that is not up yet", "1", "60000"},
    {"pub_hwm", SettingType::kInteger, "100000",
     "messages queued per subscriber before a publisher drops them", "1", "100000000"},
    {"linger_ms", SettingType::kInteger, "200",
     "how long a closed channel keeps trying to deliver messages it still holds", "0", "60000"},
    {"handshake_timeout_ms", SettingType::kInteger, "10000",
     "how long a new connection may take to prove it holds the cluster secret", "100", "600000"},
};

struct Options {
  bool auth = true;
  uint64_t max_frame = 0;
  int reconnect_ivl_ms = 0;
  size_t pub_hwm = 0;
  int linger_ms = 0;
  int handshake_timeout_ms = 0;
};

// A message over the frame limit would be refused by the peer (which closes
// the connection): it is refused here instead, with the fix.
Status CheckSize(size_t size, const Options& options, const std::string& what) {
  if (size <= options.max_frame) return Status::Ok();
  return Status::InvalidArgument("asio transport: " + what + " of " + std::to_string(size) +
                                 " bytes is over max_frame (" + std::to_string(options.max_frame) +
                                 "); raise [transport.asio] max_frame on every process");
}

// Failed handshakes in a row (the server closing mid-way) that make a refusal.
constexpr int kRefusalsInARow = 3;

// Milliseconds for poll() until `deadline`, rounded up; -1 for never.
int PollTimeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

void LogBadFrame(std::atomic<uint64_t>& count, const std::string& where, const std::string& why) {
  uint64_t n;
  if (ShouldLog(count, &n)) {
    spdlog::error("asio transport: {}: dropped a message: {} ({} so far)", where, why, n);
  }
}

template <typename Fn, typename... Args>
void InvokeLogged(const char* what, Fn& fn, Args&&... args) {
  try {
    fn(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    spdlog::error("asio transport: {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("asio transport: {} threw a non-std exception", what);
  }
}

// ---------------------------------------------------------------------------
// Endpoints

struct Address {
  bool local = false;
  std::string path;  // local
  net::ip::tcp::endpoint tcp;
  net::generic::stream_protocol::endpoint Generic() const {
    if (local) return net::local::stream_protocol::endpoint(path);
    return tcp;
  }
};

Status BadEndpoint(const std::string& endpoint, const std::string& why) {
  return Status::InvalidArgument("asio transport: endpoint '" + endpoint + "' " + why);
}

Result<Address> ParseEndpoint(const std::string& endpoint, bool bind) {
  Address address;
  for (const char* scheme : {"ipc://", "unix://"}) {
    const size_t length = std::strlen(scheme);
    if (endpoint.compare(0, length, scheme) != 0) continue;
    address.local = true;
    address.path = endpoint.substr(length);
    if (address.path.empty()) return BadEndpoint(endpoint, "has no socket path");
    if (address.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return BadEndpoint(endpoint, "has a path longer than the " +
                                       std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                       " bytes a Unix socket allows; use a shorter folder");
    }
    return address;
  }
  if (endpoint.compare(0, 6, "tcp://") != 0) {
    return BadEndpoint(endpoint,
                       "is not tcp://host:port, ipc://path or unix://path (inproc:// belongs to "
                       "the inproc transport)");
  }
  const std::string rest = endpoint.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return BadEndpoint(endpoint, "has no host:port");
  std::string host = rest.substr(0, colon);
  const std::string port_text = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return BadEndpoint(endpoint, "has no port number (0-65535) after the last ':'");
  }
  const int port = std::stoi(port_text);
  if (port == 0 && !bind) return BadEndpoint(endpoint, "has port 0, which only a server binds");
  if (bind && host == "*") host = "0.0.0.0";
  ErrorCode ec;
  net::ip::address ip = net::ip::make_address(host, ec);
  if (ec) {
    // A host name: the first address it resolves to.
    net::io_context io;
    net::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) {
      return BadEndpoint(endpoint, "names a host that does not resolve: " + ec.message());
    }
    address.tcp = results.begin()->endpoint();
    return address;
  }
  address.tcp = net::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
  return address;
}

// A Unix socket path that nothing answers on is a leftover: remove it so that
// bind can take it; one that answers is in use.
Status ClaimSocketPath(const std::string& path, const std::string& endpoint) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  struct stat info;
  if (lstat(path.c_str(), &info) != 0) return Status::Ok();
  if (!S_ISSOCK(info.st_mode)) {
    return Status::AlreadyExists("asio transport: cannot serve " + endpoint + ": " + path +
                                 " exists and is not a socket");
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  const bool answers =
      fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0;
  if (fd >= 0) ::close(fd);
  if (answers) {
    return Status::AlreadyExists("asio transport: cannot serve " + endpoint +
                                 ": another server answers on it");
  }
  ::unlink(path.c_str());
  return Status::Ok();
}

// Opens, binds and listens; the endpoint it reports (the port picked for :0).
Result<std::string> Listen(Acceptor& acceptor, const Address& address,
                           const std::string& endpoint) {
  if (address.local) {
    Status claimed = ClaimSocketPath(address.path, endpoint);
    if (!claimed.ok()) return claimed;
  }
  auto generic = address.Generic();
  ErrorCode ec;
  acceptor.open(generic.protocol(), ec);
  if (!ec && !address.local) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(generic, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string message = "asio transport: cannot serve " + endpoint + ": " + ec.message();
    if (ec == net::error::address_in_use) return Status::AlreadyExists(message);
    if (ec == boost::system::errc::address_not_available) return Status::InvalidArgument(message);
    return Status::IoError(message);
  }
  if (address.local) {
    // Only this user may connect (the session folder is the user's too).
    ::chmod(address.path.c_str(), 0600);
    return endpoint;
  }
  auto bound = acceptor.local_endpoint(ec);
  if (ec) return Status::IoError("asio transport: " + endpoint + ": " + ec.message());
  net::ip::tcp::endpoint tcp;
  std::memcpy(tcp.data(), bound.data(), std::min<size_t>(bound.size(), sizeof(sockaddr_in6)));
  const std::string host =
      tcp.address().is_v6() ? "[" + tcp.address().to_string() + "]" : tcp.address().to_string();
  return "tcp://" + host + ":" + std::to_string(tcp.port());
}

void SetNoDelay(Socket& socket, bool local) {
  if (local) return;
  int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// ---------------------------------------------------------------------------
// Security and handshakes

// What every connection of one Transport needs to shake hands.
struct Security {
  std::optional<Key> auth_key;  // empty with auth = false
  std::chrono::milliseconds timeout{10000};
  Mode ModeFor(bool local) const {
    if (!auth_key) return Mode::kOpen;
    return local ? Mode::kAuthenticated : Mode::kEncrypted;
  }
};

// (status, the session keys on an encrypted connection, whether the peer
// refused for good rather than went away)
using HandshakeDone = std::function<void(Status, std::optional<SessionKeys>, bool refused)>;

struct HandshakeState {
  explicit HandshakeState(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
  std::string out, in;
  HandshakeDone done;
  bool finished = false;

  void Finish(Status status, std::optional<SessionKeys> keys, bool refused) {
    if (finished) return;
    finished = true;
    timer.cancel();
    done(std::move(status), keys, refused);
  }
};

// Loop thread. A socket whose handshake outlasts the timeout is closed, which
// fails the operation under way.
std::shared_ptr<HandshakeState> StartHandshake(net::io_context& io,
                                               const std::shared_ptr<Socket>& socket,
                                               const Security& security, HandshakeDone done) {
  auto state = std::make_shared<HandshakeState>(io);
  state->done = std::move(done);
  state->timer.expires_after(security.timeout);
  state->timer.async_wait([state, socket](ErrorCode ec) {
    if (ec || state->finished) return;
    ErrorCode ignored;
    socket->close(ignored);
  });
  return state;
}

void ClientSide(net::io_context& io, std::shared_ptr<Socket> socket, const Security& security,
                bool local, HandshakeDone done) {
  auto state = StartHandshake(io, socket, security, std::move(done));
  auto handshake = std::make_shared<ClientHandshake>(security.auth_key, security.ModeFor(local));
  state->out = handshake->Hello();
  net::async_write(*socket, net::buffer(state->out), [=](ErrorCode ec, size_t) {
    if (ec) return state->Finish(Status::IoError("handshake: " + ec.message()), {}, false);
    state->in.assign(asio_transport::kServerHelloSize, '\0');
    net::async_read(*socket, net::buffer(state->in), [=](ErrorCode ec, size_t) {
      if (ec) {
        return state->Finish(Status::IoError("closed the connection during the handshake"), {},
                             false);
      }
      auto finish = handshake->OnServerHello(state->in);
      if (!finish.ok()) return state->Finish(finish.status(), {}, true);
      if (finish->empty()) return state->Finish(Status::Ok(), {}, false);
      state->out = std::move(*finish);
      net::async_write(*socket, net::buffer(state->out), [=](ErrorCode ec, size_t) {
        if (ec) return state->Finish(Status::IoError("handshake: " + ec.message()), {}, false);
        state->Finish(Status::Ok(), handshake->session(), false);
      });
    });
  });
}

void ServerSide(net::io_context& io, std::shared_ptr<Socket> socket, const Security& security,
                bool local, HandshakeDone done) {
  auto state = StartHandshake(io, socket, security, std::move(done));
  auto handshake = std::make_shared<ServerHandshake>(security.auth_key, security.ModeFor(local));
  state->in.assign(asio_transport::kClientHelloSize, '\0');
  net::async_read(*socket, net::buffer(state->in), [=](ErrorCode ec, size_t) {
    if (ec) return state->Finish(Status::IoError("no handshake"), {}, false);
    bool refused = false;
    state->out = handshake->OnClientHello(state->in, &refused);
    net::async_write(*socket, net::buffer(state->out), [=](ErrorCode ec, size_t) {
      if (refused) {
        return state->Finish(
            Status::IoError("a peer with another auth setting, or not an asio transport"), {},
            true);
      }
      if (ec) return state->Finish(Status::IoError("handshake: " + ec.message()), {}, false);
      if (!handshake->ExpectsFinish()) return state->Finish(Status::Ok(), {}, false);
      state->in.assign(asio_transport::kClientFinishSize, '\0');
      net::async_read(*socket, net::buffer(state->in), [=](ErrorCode ec, size_t) {
        // A peer that closes here has refused us (another secret): not news.
        if (ec) return state->Finish(Status::IoError("left during the handshake"), {}, false);
        Status proven = handshake->OnClientFinish(state->in);
        state->Finish(proven, handshake->session(), !proven.ok());
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Loops

// One io_context and the thread that runs it. Owned by a shared_ptr that
// the thread holds too, so that an object destroyed from its own loop thread
// (a reply callback that drops its channel) leaves the loop to end there.
class Loop {
 public:
  static std::shared_ptr<Loop> Start() {
    auto loop = std::make_shared<Loop>();
    loop->thread_ = std::thread([loop] {
      loop->thread_id_.store(std::this_thread::get_id());
      loop->io_.run();
    });
    return loop;
  }
  Loop() : work_(net::make_work_guard(io_)) {}

  net::io_context& io() { return io_; }
  bool OnLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // Runs `fn` on the loop thread and waits for it (at once when on it).
  void RunAndWait(const std::function<void()>& fn) {
    if (OnLoopThread()) {
      fn();
      return;
    }
    std::promise<void> done;
    net::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void StopAndJoin() {
    work_.reset();
    io_.stop();
    if (OnLoopThread()) {
      thread_.detach();
    } else if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

// A core (ServerCore, ChannelCore, ...) and the loop it runs on, owned by
// the object the user holds: the core starts on the loop, and when the owner
// goes it is shut down there and the loop ends.
template <typename Core>
class OnLoop {
 public:
  OnLoop(std::shared_ptr<Loop> loop, std::shared_ptr<Core> core)
      : loop_(std::move(loop)), core_(std::move(core)) {
    net::post(loop_->io(), [core = core_] { core->Start(); });
  }
  ~OnLoop() {
    loop_->RunAndWait([this] { core_->Shutdown(); });
    core_.reset();
    loop_->StopAndJoin();
  }
  OnLoop(const OnLoop&) = delete;
  OnLoop& operator=(const OnLoop&) = delete;
  Core& core() { return *core_; }

 private:
  std::shared_ptr<Loop> loop_;
  std::shared_ptr<Core> core_;
};

// Connects (and reconnects) a client socket until a handshake succeeds: the
// part a Channel and a Subscription share. Loop thread only.
class Connector : public std::enable_shared_from_this<Connector> {
 public:
  using Connected = std::function<void(Socket, std::optional<SessionKeys>)>;
  using Refused = std::function<void(Status)>;

  Connector(net::io_context& io, Address address, Security security, Options options,
            std::string endpoint)
      : io_(io),
        address_(std::move(address)),
        security_(std::move(security)),
        options_(options),
        endpoint_(std::move(endpoint)),
        timer_(io) {}

  void Start(Connected on_connected, Refused on_refused) {
    on_connected_ = std::move(on_connected);
    on_refused_ = std::move(on_refused);
    Attempt();
  }

  // After a lost connection: try again after the usual pause.
  void Retry() { After(options_.reconnect_ivl_ms); }

  void Stop() {
    stopped_ = true;
    timer_.cancel();
    if (socket_) {
      ErrorCode ignored;
      socket_->close(ignored);
    }
    on_connected_ = nullptr;
    on_refused_ = nullptr;
  }

 private:
  void After(int ms) {
    if (stopped_) return;
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
      if (!ec) self->Attempt();
    });
  }

  void Attempt() {
    if (stopped_) return;
    auto socket = std::make_shared<Socket>(io_);
    socket_ = socket;
    socket->async_connect(address_.Generic(), [self = shared_from_this(), socket](ErrorCode ec) {
      if (self->stopped_) return;
      if (ec) return self->After(self->options_.reconnect_ivl_ms);
      SetNoDelay(*socket, self->address_.local);
      ClientSide(self->io_, socket, self->security_, self->address_.local,
                 [self, socket](Status status, std::optional<SessionKeys> keys, bool refused) {
                   self->Handshaken(socket, std::move(status), keys, refused);
                 });
    });
  }

  void Handshaken(const std::shared_ptr<Socket>& socket, Status status,
                  std::optional<SessionKeys> keys, bool refused) {
    if (stopped_) return;
    socket_.reset();
    if (status.ok()) {
      failed_in_a_row_ = 0;
      on_connected_(std::move(*socket), keys);
      return;
    }
    ErrorCode ignored;
    socket->close(ignored);
    if (refused || ++failed_in_a_row_ >= kRefusalsInARow) {
      std::string why = status.message();
      if (!refused) {
        why += " " + std::to_string(kRefusalsInARow) +
               " times in a row: it is not an asio transport (every process of a cluster must "
               "use the same [transport] plugin), or it keeps failing";
      }
      on_refused_(Status::IoError("asio transport: " + endpoint_ + " " + why));
      // The peer may yet change (a member restarted on that port): ask now
      // and then, not at the pace of an ordinary reconnection.
      return After(std::max(1000, options_.reconnect_ivl_ms * 10));
    }
    After(options_.reconnect_ivl_ms);
  }

  net::io_context& io_;
  const Address address_;
  const Security security_;
  const Options options_;
  const std::string endpoint_;
  net::steady_timer timer_;
  std::shared_ptr<Socket> socket_;  // the attempt under way
  Connected on_connected_;
  Refused on_refused_;
  int failed_in_a_row_ = 0;
  bool stopped_ = false;
};

// The accepting half a Server and a Publisher share: accepts, runs the
// server side of the handshake, hands over the stream. Loop thread only.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using Admitted = std::function<void(std::shared_ptr<Stream>)>;

  Listener(net::io_context& io, Acceptor acceptor, std::string endpoint, std::string socket_path,
           Security security, Options options)
      : io_(io),
        acceptor_(std::move(acceptor)),
        endpoint_(std::move(endpoint)),
        socket_path_(std::move(socket_path)),
        security_(std::move(security)),
        options_(options),
        retry_(io) {}

  // Starts accepting for `core`: each admitted stream goes to
  // (core->*admitted)(stream), and a stream whose write fails to
  // (core->*dropped)(stream). The core is held weakly.
  template <typename Core>
  void Start(const std::shared_ptr<Core>& core, void (Core::*admitted)(std::shared_ptr<Stream>),
             void (Core::*dropped)(const std::shared_ptr<Stream>&)) {
    std::weak_ptr<Core> weak = core;
    on_admitted_ = [weak, admitted](std::shared_ptr<Stream> stream) {
      if (auto self = weak.lock()) ((*self).*admitted)(std::move(stream));
    };
    on_write_error_ = [weak, dropped](std::shared_ptr<Stream> stream) {
      if (auto self = weak.lock()) ((*self).*dropped)(stream);
    };
    Accept();
  }

  void Stop() {
    stopped_ = true;
    ErrorCode ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    for (const auto& socket : handshaking_) socket->close(ignored);
    handshaking_.clear();
    on_admitted_ = nullptr;
    on_write_error_ = nullptr;
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  }

 private:
  void Accept() {
    acceptor_.async_accept([self = shared_from_this()](ErrorCode ec, Socket socket) {
      if (self->stopped_) return;
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        uint64_t n;
        if (ShouldLog(self->accept_errors_, &n)) {
          spdlog::warn("asio transport: {} cannot accept: {} ({} so far)", self->endpoint_,
                       ec.message(), n);
        }
        // Out of descriptors, most likely: give the process a moment.
        self->retry_.expires_after(std::chrono::milliseconds(100));
        self->retry_.async_wait([self](ErrorCode ec) {
          if (!ec) self->Accept();
        });
        return;
      }
      self->Admit(std::move(socket));
      self->Accept();
    });
  }

  void Admit(Socket accepted) {
    const bool local = !socket_path_.empty();
    SetNoDelay(accepted, local);
    auto socket = std::make_shared<Socket>(std::move(accepted));
    handshaking_.insert(socket);
    ServerSide(
        io_, socket, security_, local,
        [self = shared_from_this(), socket](Status status, std::optional<SessionKeys> keys,
                                            bool refused) {
          self->handshaking_.erase(socket);
          if (self->stopped_) return;
          if (!status.ok()) {
            uint64_t n;
            if (refused && ShouldLog(self->refusals_, &n)) {
              spdlog::warn("asio transport: {} refused a peer: {} (docs/security.md; {} so far)",
                           self->endpoint_, status.message(), n);
            }
            ErrorCode ignored;
            socket->close(ignored);
            return;
          }
          auto stream = std::make_shared<Stream>(self->io_, std::move(*socket), keys,
                                                 self->options_.max_frame, self->on_write_error_);
          self->on_admitted_(std::move(stream));
        });
  }

  net::io_context& io_;
  Acceptor acceptor_;
  const std::string endpoint_;
  const std::string socket_path_;  // Unix sockets: removed on Stop
  const Security security_;
  const Options options_;
  net::steady_timer retry_;
  std::set<std::shared_ptr<Socket>> handshaking_;
  Admitted on_admitted_;
  std::function<void(std::shared_ptr<Stream>)> on_write_error_;
  std::atomic<uint64_t> accept_errors_{0}, refusals_{0};
  bool stopped_ = false;
};

// ---------------------------------------------------------------------------
// Server

// The reply a server owes for one request. While its connection owes others
// too, a reply made off the loop thread (an actor's executor answering
// pipelined calls one after another) is left to the loop thread, which writes
// it with every other reply made by then: one sendmsg, one segment and one
// wake-up of the caller for a burst, instead of one each. The last reply owed
// is written at once by the thread that makes it, so a lone call, and the end
// of a burst, cost no hand-off; a reply held back for long (a lease that
// waits for a worker) delays the others by one wake-up of the loop thread at
// most. A ReplyFn dropped unanswered is no longer owed.
class OwedReply {
 public:
  OwedReply(std::shared_ptr<Stream> stream, uint64_t request_id,
            std::shared_ptr<std::atomic<int64_t>> owed)
      : stream_(std::move(stream)), request_id_(request_id), owed_(std::move(owed)) {
    owed_->fetch_add(1);
  }
  ~OwedReply() {
    if (!answered_.exchange(true)) owed_->fetch_sub(1);
  }
  OwedReply(const OwedReply&) = delete;
  OwedReply& operator=(const OwedReply&) = delete;

  // A peer that has gone gets nothing: its calls fail on its side.
  void Answer(std::string& payload) {
    const bool first = !answered_.exchange(true);
    const bool more_owed = first && owed_->fetch_sub(1) > 1;
    (void)stream_->Send(FrameType::kReply, request_id_, payload,
                        more_owed ? Stream::Write::kBatched : Stream::Write::kNow);
  }

 private:
  const std::shared_ptr<Stream> stream_;
  const uint64_t request_id_;
  const std::shared_ptr<std::atomic<int64_t>> owed_;  // by the connection, all requests
  std::atomic<bool> answered_{false};
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(std::shared_ptr<Listener> listener, std::string endpoint, MessageHandler handler,
             uint64_t max_frame)
      : listener_(std::move(listener)),
        endpoint_(std::move(endpoint)),
        handler_(std::move(handler)),
        max_frame_(max_frame) {}

  // Loop thread.
  void Start() { listener_->Start(shared_from_this(), &ServerCore::Admitted, &ServerCore::Drop); }

  // Loop thread. ReplyFns the user kept hold their streams, which are closed
  // now: calling them is harmless.
  void Shutdown() {
    stopped_ = true;
    listener_->Stop();
    for (const auto& connection : streams_) connection.first->Close();
    streams_.clear();
    handler_ = nullptr;
  }

 private:
  void Admitted(std::shared_ptr<Stream> stream) {
    streams_.emplace(stream, std::make_shared<std::atomic<int64_t>>(0));
    Read(stream);
  }

  void Read(const std::shared_ptr<Stream>& stream) {
    stream->WaitReadable([self = shared_from_this(), stream](ErrorCode) {
      if (self->stopped_ || !self->streams_.count(stream)) return;
      std::vector<Frame> frames;
      std::string why;
      const bool alive = stream->ReadAvailable(&frames, &why);
      // The replies to a batch of requests go out together.
      stream->Cork();
      const auto owed = self->streams_.at(stream);
      for (Frame& frame : frames) {
        self->Dispatch(stream, owed, frame);
        if (self->stopped_) return;  // the handler destroyed the server
      }
      stream->Uncork();
      if (!alive) {
        if (why != "closed by the peer") {
          LogBadFrame(self->bad_frames_, "server " + self->endpoint_,
                      "closing the connection: " + why);
        }
        return self->Drop(stream);
      }
      self->Read(stream);
    });
  }

  void Dispatch(const std::shared_ptr<Stream>& stream,
                const std::shared_ptr<std::atomic<int64_t>>& owed, Frame& frame) {
    ReplyFn reply;
    if (frame.header.type == FrameType::kRequest) {
      reply = [owed_reply = std::make_shared<OwedReply>(stream, frame.header.request_id, owed),
               endpoint = endpoint_, max_frame = max_frame_](std::string payload) {
        if (payload.size() > max_frame) {
          // The caller's call ends at its timeout; this says why.
          spdlog::error(
              "asio transport: server {} dropped a reply of {} bytes, over max_frame ({}); raise "
              "[transport.asio] max_frame on every process",
              endpoint, payload.size(), max_frame);
          return;
        }
        owed_reply->Answer(payload);
      };
    } else if (frame.header.type != FrameType::kOneWay) {
      LogBadFrame(bad_frames_, "server " + endpoint_, "a reply or publication sent to a server");
      return;
    }
    if (!handler_) return;
    try {
      handler_(std::move(frame.payload), std::move(reply));
    } catch (const std::exception& e) {
      uint64_t n;
      if (ShouldLog(handler_errors_, &n)) {
        spdlog::error("asio transport: handler of server {} threw: {} ({} so far)", endpoint_,
                      e.what(), n);
      }
    } catch (...) {
      uint64_t n;
      if (ShouldLog(handler_errors_, &n)) {
        spdlog::error("asio transport: handler of server {} threw a non-std exception ({} so far)",
                      endpoint_, n);
      }
    }
  }

  void Drop(const std::shared_ptr<Stream>& stream) {
    stream->Close();
    streams_.erase(stream);
  }

  const std::shared_ptr<Listener> listener_;
  const std::string endpoint_;
  MessageHandler handler_;
  const uint64_t max_frame_;
  // Each connection, and the replies it is owed (OwedReply).
  std::map<std::shared_ptr<Stream>, std::shared_ptr<std::atomic<int64_t>>> streams_;
  std::atomic<uint64_t> bad_frames_{0}, handler_errors_{0};
  bool stopped_ = false;
};

class AsioServer : public Server {
 public:
  AsioServer(std::shared_ptr<Loop> loop, std::shared_ptr<ServerCore> core, std::string endpoint)
      : running_(std::move(loop), std::move(core)), endpoint_(std::move(endpoint)) {}
  std::string endpoint() const override { return endpoint_; }

 private:
  OnLoop<ServerCore> running_;
  const std::string endpoint_;
};

// ---------------------------------------------------------------------------
// Channel

struct QueuedMessage {
  FrameType type;
  uint64_t id;
  std::string payload;
};

class ChannelCore : public std::enable_shared_from_this<ChannelCore> {
 public:
  ChannelCore(net::io_context& io, std::shared_ptr<Connector> connector, std::string endpoint,
              Options options)
      : io_(io),
        connector_(std::move(connector)),
        endpoint_(std::move(endpoint)),
        options_(options),
        timer_(io) {}

  // Loop thread.
  void Start() {
    loop_thread_.store(std::this_thread::get_id());
    std::weak_ptr<ChannelCore> weak = shared_from_this();
    connector_->Start(
        [weak](Socket socket, std::optional<SessionKeys> keys) {
          if (auto self = weak.lock()) self->Connected(std::move(socket), keys);
        },
        [weak](Status refusal) {
          if (auto self = weak.lock()) self->Refused(std::move(refusal));
        });
  }

  void Call(std::string request, ReplyCallback on_reply, std::chrono::milliseconds timeout) {
    Submit(std::move(request), std::move(on_reply), timeout, /*async=*/true);
  }

  // A call through the loop thread: `async` for Call, false for a CallSync
  // that could not read for itself.
  void Submit(std::string request, ReplyCallback on_reply, std::chrono::milliseconds timeout,
              bool async) {
    if (Status size = CheckSize(request.size(), options_, "a request to " + endpoint_);
        !size.ok()) {
      on_reply(std::move(size));
      return;
    }
    const Clock::time_point deadline = DeadlineAfter(timeout);
    std::shared_ptr<Stream> stream;
    Stream::Write write = Stream::Write::kNow;
    uint64_t id;
    bool arm_read = false, arm_timer = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (closed_ || refusal_) {
        Status status = closed_ ? Closed() : *refusal_;
        lock.unlock();
        on_reply(std::move(status));
        return;
      }
      id = next_id_++;
      const bool in_flight = !pending_.empty();
      AddPendingLocked(id, std::move(on_reply), deadline, &arm_timer);
      sticky_ = async;
      if (stream_ && !stream_down_) {
        stream = stream_;
        // With calls in flight the loop thread is busy with their replies:
        // it writes this request with the others queued by then.
        write =
            reader_ == Reader::kLoop && in_flight ? Stream::Write::kBatched : Stream::Write::kNow;
        arm_read = TakeReaderLocked();
      } else {
        queued_.push_back(QueuedMessage{FrameType::kRequest, id, std::move(request)});
      }
    }
    Wake(arm_read, arm_timer);
    if (!stream) return;
    // Nobody was reading: the peer may have gone while the channel was idle.
    // Then the request waits for the next connection rather than going out
    // on a dead one (Write queues it).
    if (arm_read && stream->PeerClosed()) LoseStream(stream, "closed by the peer");
    Write(stream, FrameType::kRequest, id, request, write);
  }

  Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) {
    if (loop_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
      return Status::Internal(
          "asio transport: CallSync from a reply callback of the same channel would deadlock; "
          "use Call");
    }
    RAYK_RETURN_IF_ERROR(CheckSize(request.size(), options_, "a request to " + endpoint_));
    const Clock::time_point deadline = DeadlineAfter(timeout);
    std::shared_ptr<Stream> stream;
    uint64_t id = 0;
    bool release = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return Closed();
      if (refusal_) return *refusal_;
      sticky_ = false;
      if (stream_ && !stream_down_ && reader_ == Reader::kNone && pending_.empty()) {
        reader_ = Reader::kDirect;
        id = next_id_++;
        stream = stream_;
      } else if (reader_ == Reader::kLoop && pending_.empty() && read_armed_) {
        // The loop thread kept reading after async calls: this call goes
        // through it, and the loop thread lets go so that the next may not.
        release = true;
      }
    }
    if (release) {
      net::post(io_, [self = shared_from_this()] { self->StopIdleRead(); });
    }
    if (stream) {
      if (stream->PeerClosed()) {
        // The peer went while the channel was idle: reconnect first.
        LoseStream(stream, "closed by the peer");
        ReleaseDirectReader();
      } else {
        return DirectCall(stream, id, request, deadline);
      }
    }
    auto wait = std::make_shared<SyncWait>();
    Submit(
        std::move(request), [wait](Result<std::string> result) { wait->Set(std::move(result)); },
        timeout, /*async=*/false);
    return wait->Wait();
  }

  Status Send(std::string message) {
    RAYK_RETURN_IF_ERROR(CheckSize(message.size(), options_, "a message to " + endpoint_));
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return Closed();
      if (refusal_) return *refusal_;
      if (!stream_ || stream_down_) {
        queued_.push_back(QueuedMessage{FrameType::kOneWay, 0, std::move(message)});
        return Status::Ok();
      }
      stream = stream_;
    }
    Write(stream, FrameType::kOneWay, 0, message);
    return Status::Ok();
  }

  // Loop thread: fails what is pending with kUnavailable, lets queued
  // one-way messages go out (up to linger_ms), closes.
  void Shutdown() {
    std::unordered_map<uint64_t, ReplyCallback> pending;
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      pending = pending_.TakeAll();
      queued_.clear();
      stream = std::move(stream_);
    }
    connector_->Stop();
    timer_.cancel();
    if (stream) {
      stream->Linger(options_.linger_ms);
      stream->Close();
    }
    for (auto& [id, callback] : pending) {
      InvokeLogged("reply callback", callback,
                   Status::Unavailable("asio transport: channel to " + endpoint_ +
                                       " closed before the reply"));
    }
  }

 private:
  // Who reads replies: nobody (idle), the loop thread, or a CallSync.
  enum class Reader { kNone, kLoop, kDirect };

  Status Closed() const {
    return Status::Unavailable("asio transport: channel to " + endpoint_ + " is closed");
  }

  // mu_ held. Becomes the reader's business to read the reply of a call just
  // added: true when the loop thread must start reading.
  bool TakeReaderLocked() {
    if (reader_ == Reader::kNone) {
      reader_ = Reader::kLoop;
      return true;
    }
    if (reader_ == Reader::kDirect && !handoff_requested_) {
      handoff_requested_ = true;
      handoff_.Signal();
    }
    return false;
  }

  void AddPendingLocked(uint64_t id, ReplyCallback on_reply, Clock::time_point deadline,
                        bool* arm_timer) {
    pending_.Add(id, std::move(on_reply), deadline);
    if (deadline < timer_deadline_) {
      timer_deadline_ = deadline;
      *arm_timer = true;
    }
  }

  // Any thread: has the loop thread start reading and/or re-arm its timer.
  void Wake(bool arm_read, bool arm_timer) {
    if (!arm_read && !arm_timer) return;
    net::post(io_, [self = shared_from_this(), arm_read, arm_timer] {
      if (arm_timer) self->ArmTimer();
      if (arm_read) self->ArmRead();
    });
  }

  // Any thread: writes a message on `stream`; when that stream turns out
  // closed, queues it for the next connection instead.
  void Write(std::shared_ptr<Stream> stream, FrameType type, uint64_t id, std::string& payload,
             Stream::Write write = Stream::Write::kNow) {
    while (true) {
      Status sent = stream->Send(type, id, payload, write);
      if (sent.ok()) return;
      if (sent.code() != StatusCode::kUnavailable) return;  // lost: LoseStream runs
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      if (stream_ && stream_ != stream && !stream_down_) {
        stream = stream_;
        continue;
      }
      queued_.push_back(QueuedMessage{type, id, std::move(payload)});
      return;
    }
  }

  // The direct path of CallSync: this thread is the reader.
  Result<std::string> DirectCall(const std::shared_ptr<Stream>& stream, uint64_t id,
                                 std::string& request, Clock::time_point deadline) {
    Status sent = stream->Send(FrameType::kRequest, id, request);
    std::optional<Result<std::string>> result;
    if (!sent.ok()) {
      result.emplace(Status::Unavailable("asio transport: connection to " + endpoint_ +
                                         " lost: " + sent.message()));
    }
    pollfd items[2] = {{stream->fd(), POLLIN, 0}, {handoff_.fd(), POLLIN, 0}};
    std::vector<Frame> frames;
    while (!result) {
      const int timeout = PollTimeout(deadline);
      if (timeout == 0) {
        result.emplace(TimedOut());
        break;
      }
      if (::poll(items, 2, timeout) < 0) continue;  // EINTR: a signal
      if (items[0].revents) {
        frames.clear();
        std::string why;
        const bool alive = stream->ReadAvailable(&frames, &why);
        for (Frame& frame : frames) {
          if (frame.header.type != FrameType::kReply) {
            LogBadFrame(bad_frames_, "channel to " + endpoint_, "a channel only takes replies");
          } else if (frame.header.request_id == id) {
            result.emplace(std::move(frame.payload));
          } else {
            DeliverFromElsewhere(frame);
          }
        }
        if (!alive) LoseStream(stream, why);
        if (!alive && !result) break;  // left to the loop thread, as a call in flight
      }
      if (!result && (items[1].revents & POLLIN)) break;  // the loop thread needs to read
    }
    if (!result) {
      // Leave our call to the loop thread.
      auto wait = std::make_shared<SyncWait>();
      bool arm_timer = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        AddPendingLocked(
            id, [wait](Result<std::string> r) { wait->Set(std::move(r)); }, deadline, &arm_timer);
        reader_ = Reader::kLoop;
        handoff_requested_ = false;
        handoff_.Drain();
      }
      Wake(true, arm_timer);
      return wait->Wait();
    }
    ReleaseDirectReader();
    return std::move(*result);
  }

  void ReleaseDirectReader() {
    bool arm_read = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reader_ != Reader::kDirect) return;
      reader_ = Reader::kNone;
      if (handoff_requested_) {
        handoff_requested_ = false;
        handoff_.Drain();
      }
      if (!pending_.empty()) {
        reader_ = Reader::kLoop;
        arm_read = true;
      }
    }
    Wake(arm_read, false);
  }

  // A direct reader read the reply of an async call: the loop thread runs
  // its callback, as for any other.
  void DeliverFromElsewhere(Frame& frame) {
    std::optional<ReplyCallback> callback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      callback = pending_.Take(frame.header.request_id);
      if (!callback) return;  // it timed out
    }
    net::post(io_, [callback = std::move(*callback), payload = std::move(frame.payload)]() mutable {
      InvokeLogged("reply callback", callback, std::move(payload));
    });
  }

  Status TimedOut() const {
    return Status::TimedOut("asio transport: no reply from " + endpoint_ + " within the timeout");
  }

  // Any thread: the connection is over. Later writes fail (and queue their
  // messages); the loop thread fails the calls it carried and reconnects.
  void LoseStream(const std::shared_ptr<Stream>& stream, const std::string& why) {
    stream->Fail();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_ != stream || stream_down_) return;
      stream_down_ = true;
    }
    net::post(io_, [self = shared_from_this(), stream, why] { self->Lost(stream, why); });
  }

  // Loop thread. Pending calls stay: the ones still queued go out on the
  // next connection, the others end at their timeout (see the file comment).
  void Lost(const std::shared_ptr<Stream>& stream, const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || stream_ != stream) return;
      stream_.reset();
      stream_down_ = false;
      if (reader_ == Reader::kLoop) reader_ = Reader::kNone;
    }
    spdlog::debug("asio transport: connection to {} lost ({}); connecting again", endpoint_, why);
    // A direct reader still polling this stream wakes up (shutdown) and sees it closed.
    stream->Close();
    connector_->Retry();
  }

  // Loop thread: a handshake succeeded.
  void Connected(Socket socket, std::optional<SessionKeys> keys) {
    std::weak_ptr<ChannelCore> weak = shared_from_this();
    auto stream = std::make_shared<Stream>(io_, std::move(socket), keys, options_.max_frame,
                                           [weak](std::shared_ptr<Stream> stream) {
                                             if (auto self = weak.lock())
                                               self->LoseStream(stream, "a write failed");
                                           });
    std::vector<QueuedMessage> queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        stream->Close();
        return;
      }
      refusal_.reset();
      stream_ = stream;
      queued.swap(queued_);
      // Sent under mu_, so that a message sent once the channel is up never
      // overtakes one queued before.
      for (QueuedMessage& m : queued) (void)stream->Send(m.type, m.id, m.payload);
      if (!pending_.empty() && reader_ == Reader::kNone) reader_ = Reader::kLoop;
    }
    ArmRead();
  }

  // Loop thread: the peer refused the handshake; fail everything until it
  // stops refusing.
  void Refused(Status refusal) {
    std::unordered_map<uint64_t, ReplyCallback> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      refusal_ = refusal;
      pending = pending_.TakeAll();
      queued_.clear();
      if (reader_ == Reader::kLoop) reader_ = Reader::kNone;
    }
    for (auto& [id, callback] : pending) InvokeLogged("reply callback", callback, refusal);
  }

  // Loop thread: reads while the loop thread is the reader.
  void ArmRead() {
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || reader_ != Reader::kLoop || read_armed_ || !stream_ || stream_down_) return;
      read_armed_ = true;
      stream = stream_;
    }
    stream->WaitReadable(
        [self = shared_from_this(), stream](ErrorCode ec) { self->Readable(stream, ec); });
  }

  void Readable(const std::shared_ptr<Stream>& stream, ErrorCode ec) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      read_armed_ = false;
      if (closed_ || stream_ != stream) return;
    }
    std::vector<Frame> frames;
    std::string why;
    const bool alive = ec == net::error::operation_aborted || stream->ReadAvailable(&frames, &why);
    std::vector<std::pair<ReplyCallback, std::string>> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Frame& frame : frames) {
        if (frame.header.type != FrameType::kReply) {
          LogBadFrame(bad_frames_, "channel to " + endpoint_, "a channel only takes replies");
          continue;
        }
        auto callback = pending_.Take(frame.header.request_id);
        if (!callback) continue;  // it timed out
        ready.emplace_back(std::move(*callback), std::move(frame.payload));
      }
    }
    for (auto& [callback, payload] : ready) {
      InvokeLogged("reply callback", callback, std::move(payload));
    }
    if (!alive) return LoseStream(stream, why);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty() && reader_ == Reader::kLoop && !sticky_) {
        // Idle after a CallSync: the next one may read for itself.
        reader_ = Reader::kNone;
        return;
      }
    }
    // Calls in flight, or idle after async calls: keep reading, so that the
    // next async call needs no wake-up of this thread to start it.
    ArmRead();
  }

  // Loop thread: stops an idle read kept after async calls (Readable then
  // lets go of the reader).
  void StopIdleRead() {
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_.empty() || reader_ != Reader::kLoop || !read_armed_ || sticky_) return;
      stream = stream_;
    }
    if (stream) stream->CancelWait();
  }

  // Loop thread: sets the timer for the earliest deadline.
  void ArmTimer() {
    Clock::time_point next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      next = pending_.NextDeadline();
      timer_deadline_ = next;
    }
    if (next == Clock::time_point::max()) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(next);
    timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
      if (!ec) self->Expire();
    });
  }

  void Expire() {
    std::vector<ReplyCallback> expired;
    std::shared_ptr<Stream> idle;
    {
      std::lock_guard<std::mutex> lock(mu_);
      expired = pending_.TakeExpired(Clock::now());
      // Nothing left to read for: stop waiting, so a CallSync may read.
      if (pending_.empty() && reader_ == Reader::kLoop && read_armed_ && !sticky_) idle = stream_;
    }
    for (ReplyCallback& callback : expired) InvokeLogged("reply callback", callback, TimedOut());
    if (idle) idle->CancelWait();
    ArmTimer();
  }

  net::io_context& io_;
  const std::shared_ptr<Connector> connector_;
  const std::string endpoint_;
  const Options options_;
  net::steady_timer timer_;  // the loop thread's
  WakeFd handoff_;           // wakes a direct CallSync: the loop thread must read
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<uint64_t> bad_frames_{0};

  std::mutex mu_;                      // guards the members below
  std::shared_ptr<Stream> stream_;     // the connection, once up
  bool stream_down_ = false;           // stream_ is lost; the loop thread will drop it
  std::vector<QueuedMessage> queued_;  // waiting for a connection
  PendingCalls pending_;
  Clock::time_point timer_deadline_ = Clock::time_point::max();
  uint64_t next_id_ = 1;
  Reader reader_ = Reader::kNone;
  bool read_armed_ = false;
  // The last call was async (Call): the loop thread keeps reading when idle.
  // After a CallSync it lets go, so that the next CallSync reads for itself.
  bool sticky_ = false;
  bool handoff_requested_ = false;
  bool closed_ = false;
  std::optional<Status> refusal_;
};

class AsioChannel : public Channel {
 public:
  AsioChannel(std::shared_ptr<Loop> loop, std::shared_ptr<ChannelCore> core, std::string endpoint)
      : running_(std::move(loop), std::move(core)), endpoint_(std::move(endpoint)) {}

  void Call(std::string request, ReplyCallback on_reply,
            std::chrono::milliseconds timeout) override {
    running_.core().Call(std::move(request), std::move(on_reply), timeout);
  }
  Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) override {
    return running_.core().CallSync(std::move(request), timeout);
  }
  Status Send(std::string message) override { return running_.core().Send(std::move(message)); }
  std::string endpoint() const override { return endpoint_; }

 private:
  OnLoop<ChannelCore> running_;
  const std::string endpoint_;
};

// ---------------------------------------------------------------------------
// Publish/subscribe

bool MatchesAny(const std::string& topic, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (topic.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

class PublisherCore : public std::enable_shared_from_this<PublisherCore> {
 public:
  PublisherCore(std::shared_ptr<Listener> listener, std::string endpoint, Options options)
      : listener_(std::move(listener)), endpoint_(std::move(endpoint)), options_(options) {}

  // Loop thread.
  void Start() { listener_->Start(shared_from_this(), &PublisherCore::Read, &PublisherCore::Drop); }

  void Shutdown() {
    listener_->Stop();
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    for (auto& [stream, prefixes] : subscribers_) stream->Close();
    subscribers_.clear();
  }

  // Any thread: writes to each subscriber whose prefixes match.
  Status Publish(const std::string& topic, const std::string& payload) {
    RAYK_RETURN_IF_ERROR(
        CheckSize(4 + topic.size() + payload.size(), options_, "a publication on " + endpoint_));
    const std::string body = asio_transport::EncodePublication(topic, payload);
    std::lock_guard<std::mutex> lock(mu_);
    ++sequence_;
    for (auto& [stream, prefixes] : subscribers_) {
      if (!MatchesAny(topic, prefixes)) continue;
      if (stream->queued() >= options_.pub_hwm) {
        uint64_t n;
        if (ShouldLog(dropped_, &n)) {
          spdlog::warn(
              "asio transport: publisher {} dropped a message for a subscriber that does not keep "
              "up (pub_hwm {}; {} so far)",
              endpoint_, options_.pub_hwm, n);
        }
        continue;
      }
      std::string copy = body;  // sealed in place, per connection
      (void)stream->Send(FrameType::kPublish, sequence_, copy);
    }
    return Status::Ok();
  }

 private:
  // Loop thread: a subscriber's frames (its topic prefixes, then nothing).
  void Read(std::shared_ptr<Stream> stream) {
    stream->WaitReadable([self = shared_from_this(), stream](ErrorCode) {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->stopped_) return;
      }
      std::vector<Frame> frames;
      std::string why;
      const bool alive = stream->ReadAvailable(&frames, &why);
      for (Frame& frame : frames) {
        if (frame.header.type != FrameType::kSubscribe) {
          LogBadFrame(self->bad_frames_, "publisher " + self->endpoint_,
                      "a subscriber sends only its topic prefixes");
          continue;
        }
        auto prefixes = asio_transport::DecodePrefixes(frame.payload);
        if (!prefixes.ok()) {
          LogBadFrame(self->bad_frames_, "publisher " + self->endpoint_,
                      prefixes.status().message());
          continue;
        }
        std::lock_guard<std::mutex> lock(self->mu_);
        self->subscribers_[stream] = std::move(*prefixes);
      }
      if (!alive) return self->Drop(stream);
      self->Read(stream);
    });
  }

  void Drop(const std::shared_ptr<Stream>& stream) {
    stream->Close();
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(stream);
  }

  const std::shared_ptr<Listener> listener_;
  const std::string endpoint_;
  const Options options_;
  std::atomic<uint64_t> bad_frames_{0}, dropped_{0};
  std::mutex mu_;  // guards the members below
  std::map<std::shared_ptr<Stream>, std::vector<std::string>> subscribers_;
  uint64_t sequence_ = 0;
  bool stopped_ = false;
};

class AsioPublisher : public Publisher {
 public:
  AsioPublisher(std::shared_ptr<Loop> loop, std::shared_ptr<PublisherCore> core,
                std::string endpoint)
      : running_(std::move(loop), std::move(core)), endpoint_(std::move(endpoint)) {}
  Status Publish(const std::string& topic, std::string payload) override {
    return running_.core().Publish(topic, payload);
  }
  std::string endpoint() const override { return endpoint_; }

 private:
  OnLoop<PublisherCore> running_;
  const std::string endpoint_;
};

class SubscriptionCore : public std::enable_shared_from_this<SubscriptionCore> {
 public:
  SubscriptionCore(net::io_context& io, std::shared_ptr<Connector> connector, std::string endpoint,
                   std::vector<std::string> prefixes, TopicHandler handler, Options options)
      : io_(io),
        connector_(std::move(connector)),
        endpoint_(std::move(endpoint)),
        prefixes_(std::move(prefixes)),
        handler_(std::move(handler)),
        options_(options) {}

  // Loop thread.
  void Start() {
    if (prefixes_.empty()) return;  // subscribed to nothing
    std::weak_ptr<SubscriptionCore> weak = shared_from_this();
    connector_->Start(
        [weak](Socket socket, std::optional<SessionKeys> keys) {
          if (auto self = weak.lock()) self->Connected(std::move(socket), keys);
        },
        [weak](Status refusal) {
          uint64_t n;
          if (auto self = weak.lock(); self && ShouldLog(self->refusals_, &n)) {
            spdlog::error("{} ({} so far)", refusal.message(), n);
          }
        });
  }

  void Shutdown() {
    stopped_ = true;
    connector_->Stop();
    if (stream_) stream_->Close();
    stream_.reset();
    handler_ = nullptr;
  }

 private:
  void Connected(Socket socket, std::optional<SessionKeys> keys) {
    std::weak_ptr<SubscriptionCore> weak = shared_from_this();
    stream_ = std::make_shared<Stream>(io_, std::move(socket), keys, options_.max_frame,
                                       [weak](std::shared_ptr<Stream> stream) {
                                         if (auto self = weak.lock()) self->Lost(stream);
                                       });
    std::string prefixes = asio_transport::EncodePrefixes(prefixes_);
    (void)stream_->Send(FrameType::kSubscribe, 0, prefixes);
    Read(stream_);
  }

  void Read(const std::shared_ptr<Stream>& stream) {
    stream->WaitReadable([self = shared_from_this(), stream](ErrorCode) {
      if (self->stopped_ || self->stream_ != stream) return;
      std::vector<Frame> frames;
      std::string why;
      const bool alive = stream->ReadAvailable(&frames, &why);
      for (Frame& frame : frames) {
        if (frame.header.type != FrameType::kPublish) {
          LogBadFrame(self->bad_frames_, "subscription to " + self->endpoint_, "not a publication");
          continue;
        }
        auto topic = asio_transport::DecodePublication(&frame.payload);
        if (!topic.ok()) {
          LogBadFrame(self->bad_frames_, "subscription to " + self->endpoint_,
                      topic.status().message());
          continue;
        }
        // The publisher filters too; this keeps a confused one from reaching the handler.
        if (!MatchesAny(*topic, self->prefixes_) || !self->handler_) continue;
        InvokeLogged("subscription handler", self->handler_, *topic, std::move(frame.payload));
        if (self->stopped_) return;
      }
      if (!alive) return self->Lost(stream);
      self->Read(stream);
    });
  }

  void Lost(const std::shared_ptr<Stream>& stream) {
    if (stream_ != stream) return;
    stream->Close();
    stream_.reset();
    if (!stopped_) connector_->Retry();
  }

  net::io_context& io_;
  const std::shared_ptr<Connector> connector_;
  const std::string endpoint_;
  const std::vector<std::string> prefixes_;
  TopicHandler handler_;
  const Options options_;
  std::shared_ptr<Stream> stream_;
  std::atomic<uint64_t> bad_frames_{0}, refusals_{0};
  bool stopped_ = false;
};

class AsioSubscription : public Subscription {
 public:
  AsioSubscription(std::shared_ptr<Loop> loop, std::shared_ptr<SubscriptionCore> core)
      : running_(std::move(loop), std::move(core)) {}

 private:
  OnLoop<SubscriptionCore> running_;
};

// ---------------------------------------------------------------------------

Options ReadOptions(const PluginContext& context) {
  // The loader has checked every value against kAsioSettings' ranges.
  const PluginSettings& s = context.settings();
  Options options;
  options.auth = s.GetBool("auth");
  options.max_frame = static_cast<uint64_t>(s.GetInteger("max_frame"));
  options.reconnect_ivl_ms = static_cast<int>(s.GetInteger("reconnect_ivl_ms"));
  options.pub_hwm = static_cast<size_t>(s.GetInteger("pub_hwm"));
  options.linger_ms = static_cast<int>(s.GetInteger("linger_ms"));
  options.handshake_timeout_ms = static_cast<int>(s.GetInteger("handshake_timeout_ms"));
  return options;
}

// Throws (the loader reports it as the plugin failing to start) when auth is
// on and cannot work.
Security SecurityFor(const Options& options, const PluginContext& context) {
  Security security;
  security.timeout = std::chrono::milliseconds(options.handshake_timeout_ms);
  if (!options.auth) {
    spdlog::warn(
        "asio transport: AUTHENTICATION IS OFF ([transport.asio] auth = false): anyone who can "
        "reach this process's ports can read and change the cluster, and traffic is not "
        "encrypted");
    return security;
  }
  if (context.cluster_secret.empty()) {
    throw std::runtime_error(
        "no cluster secret to authenticate with; set RAYK_AUTH_TOKEN to the cluster's token (it is "
        "in <session>/auth_token on the head node), or set [transport.asio] auth = false on every "
        "process of an insecure cluster");
  }
  auto key = asio_transport::DeriveAuthKey(context.cluster_secret);
  if (!key.ok()) throw std::runtime_error(key.status().message());
  security.auth_key = *key;
  return security;
}

class AsioTransport : public Transport {
 public:
  explicit AsioTransport(const PluginContext& context)
      : options_(ReadOptions(context)), security_(SecurityFor(options_, context)) {}

  Result<std::unique_ptr<Server>> Serve(const std::string& endpoint,
                                        MessageHandler handler) override {
    return Bind<Server>(endpoint,
                        [&](std::shared_ptr<Loop> loop, std::shared_ptr<Listener> listener,
                            const std::string& bound) -> std::unique_ptr<Server> {
                          auto core = std::make_shared<ServerCore>(
                              std::move(listener), bound, std::move(handler), options_.max_frame);
                          return std::make_unique<AsioServer>(std::move(loop), std::move(core),
                                                              bound);
                        });
  }

  Result<std::unique_ptr<Channel>> Connect(const std::string& endpoint) override {
    auto address = ParseEndpoint(endpoint, /*bind=*/false);
    if (!address.ok()) return address.status();
    auto loop = Loop::Start();
    auto connector =
        std::make_shared<Connector>(loop->io(), std::move(*address), security_, options_, endpoint);
    auto core = std::make_shared<ChannelCore>(loop->io(), std::move(connector), endpoint, options_);
    return std::unique_ptr<Channel>(new AsioChannel(std::move(loop), std::move(core), endpoint));
  }

  Result<std::unique_ptr<Publisher>> Publish(const std::string& endpoint) override {
    return Bind<Publisher>(
        endpoint,
        [&](std::shared_ptr<Loop> loop, std::shared_ptr<Listener> listener,
            const std::string& bound) -> std::unique_ptr<Publisher> {
          auto core = std::make_shared<PublisherCore>(std::move(listener), bound, options_);
          return std::make_unique<AsioPublisher>(std::move(loop), std::move(core), bound);
        });
  }

  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& endpoint,
                                                  const std::vector<std::string>& topic_prefixes,
                                                  TopicHandler handler) override {
    auto address = ParseEndpoint(endpoint, /*bind=*/false);
    if (!address.ok()) return address.status();
    auto loop = Loop::Start();
    auto connector =
        std::make_shared<Connector>(loop->io(), std::move(*address), security_, options_, endpoint);
    auto core = std::make_shared<SubscriptionCore>(loop->io(), std::move(connector), endpoint,
                                                   topic_prefixes, std::move(handler), options_);
    return std::unique_ptr<Subscription>(new AsioSubscription(std::move(loop), std::move(core)));
  }

 private:
  // Binds `endpoint` on a loop of its own and makes what serves it there:
  // make(loop, listener, the endpoint bound) gives the Server or Publisher.
  template <typename Made>
  Result<std::unique_ptr<Made>> Bind(
      const std::string& endpoint,
      const std::function<std::unique_ptr<Made>(std::shared_ptr<Loop>, std::shared_ptr<Listener>,
                                                const std::string&)>& make) {
    auto address = ParseEndpoint(endpoint, /*bind=*/true);
    if (!address.ok()) return address.status();
    auto loop = Loop::Start();
    auto listener = MakeListener(*loop, *address, endpoint);
    if (!listener.ok()) {
      loop->StopAndJoin();
      return listener.status();
    }
    auto [bound, shared] = std::move(*listener);
    return make(std::move(loop), std::move(shared), bound);
  }

  // A bound, listening acceptor on `loop` and the endpoint it reports.
  Result<std::pair<std::string, std::shared_ptr<Listener>>> MakeListener(
      Loop& loop, const Address& address, const std::string& endpoint) {
    Acceptor acceptor(loop.io());
    auto bound = Listen(acceptor, address, endpoint);
    if (!bound.ok()) return bound.status();
    auto listener =
        std::make_shared<Listener>(loop.io(), std::move(acceptor), *bound,
                                   address.local ? address.path : "", security_, options_);
    return std::make_pair(*bound, std::move(listener));
  }

  const Options options_;
  const Security security_;
};

}  // namespace
}  // namespace rayk

RAYK_PLUGIN(rayk::PluginKind::kTransport, "asio", "1.0",
            "Boost.Asio over tcp:// and Unix sockets: length-prefixed frames, authenticated and "
            "encrypted with the cluster secret",
            rayk::AsioTransport, rayk::kAsioSettings);
