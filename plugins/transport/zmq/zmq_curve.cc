#include "zmq_curve.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace rayk::zmq_transport {
namespace {

// Distinct domains keep the two keypairs unrelated although they come from one
// secret; "v1" leaves room to change the derivation without ambiguity.
constexpr char kServerDomain[] = "rayk zmq curve server key v1";
constexpr char kMemberDomain[] = "rayk zmq curve member key v1";
constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapDomain[] = "rayk";
constexpr size_t kKeyBytes = 32;
// RFC 27: version, request id, domain, address, identity, mechanism, credentials...
constexpr size_t kZapRequestFrames = 6;
constexpr size_t kMaxZapFrames = 16;

Status DeriveKeypair(const std::string& secret, const char* domain, std::string* public_key,
                     std::string* secret_key) {
  unsigned char seed[crypto_box_SEEDBYTES];
  static_assert(crypto_box_SEEDBYTES == 32);
  if (crypto_generichash(seed, sizeof(seed), reinterpret_cast<const unsigned char*>(secret.data()),
                         secret.size(), reinterpret_cast<const unsigned char*>(domain),
                         std::strlen(domain)) != 0) {
    return Status::Internal("zmq transport: cannot hash the cluster secret");
  }
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  unsigned char sk[crypto_box_SECRETKEYBYTES];
  int rc = crypto_box_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof(seed));
  if (rc != 0) return Status::Internal("zmq transport: cannot derive a CURVE keypair");
  public_key->assign(reinterpret_cast<char*>(pk), sizeof(pk));
  secret_key->assign(reinterpret_cast<char*>(sk), sizeof(sk));
  sodium_memzero(sk, sizeof(sk));
  return Status::Ok();
}

// The first refusals are logged, then one in a thousand: a peer retrying with
// a wrong key reconnects every few hundred milliseconds.
bool ShouldLogRefusal(uint64_t n) { return n <= 5 || n % 1000 == 0; }

}  // namespace

bool CurveAvailable() { return zmq_has("curve") == 1; }

Result<CurveKeys> DeriveCurveKeys(const std::string& cluster_secret) {
  if (cluster_secret.empty()) {
    return Status::InvalidArgument("zmq transport: the cluster secret is empty");
  }
  if (sodium_init() < 0) return Status::Internal("zmq transport: libsodium failed to initialize");
  CurveKeys keys;
  RAYK_RETURN_IF_ERROR(
      DeriveKeypair(cluster_secret, kServerDomain, &keys.server_public, &keys.server_secret));
  RAYK_RETURN_IF_ERROR(
      DeriveKeypair(cluster_secret, kMemberDomain, &keys.member_public, &keys.member_secret));
  return keys;
}

void MakeCurveServer(zmq::socket_t& socket, const CurveKeys& keys) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, keys.server_secret);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
}

void MakeCurveClient(zmq::socket_t& socket, const CurveKeys& keys) {
  socket.set(zmq::sockopt::curve_serverkey, keys.server_public);
  socket.set(zmq::sockopt::curve_publickey, keys.member_public);
  socket.set(zmq::sockopt::curve_secretkey, keys.member_secret);
}

ZapHandler::ZapHandler(zmq::context_t& context, std::string member_public)
    : socket_(context, zmq::socket_type::rep),
      member_public_(std::move(member_public)),
      stop_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  socket_.set(zmq::sockopt::linger, 0);
  // Bound here, before the constructor returns, so that no server socket of
  // this context can take a peer while nobody answers ZAP requests.
  socket_.bind(kZapEndpoint);
  thread_ = std::thread([this] { Loop(); });
}

ZapHandler::~ZapHandler() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(stop_fd_);
}

void ZapHandler::Loop() {
  std::vector<zmq::message_t> frames(kMaxZapFrames);
  while (true) {
    zmq_pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                              {nullptr, stop_fd_, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("zmq transport: the ZAP handler stops: {}", e.what());
      break;
    }
    if (items[1].revents & ZMQ_POLLIN) break;
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    size_t count = 0;
    bool more = true;
    while (more) {
      zmq::message_t scratch;
      zmq::message_t& frame = count < kMaxZapFrames ? frames[count] : scratch;
      if (!socket_.recv(frame, zmq::recv_flags::none)) break;
      more = frame.more();
      ++count;
    }
    Answer(frames.data(), std::min(count, kMaxZapFrames));
  }
  socket_.close();
}

void ZapHandler::Answer(zmq::message_t* frames, size_t count) {
  std::string request_id = count > 1 ? frames[1].to_string() : "";
  bool admitted = count >= kZapRequestFrames + 1 && frames[0].to_string() == "1.0" &&
                  frames[5].to_string() == "CURVE" && frames[6].size() == kKeyBytes &&
                  frames[6].to_string() == member_public_;
  if (!admitted) {
    uint64_t n = refused_.fetch_add(1) + 1;
    if (ShouldLogRefusal(n)) {
      std::string address = count > 3 ? frames[3].to_string() : "?";
      spdlog::warn(
          "zmq transport: refused a peer at {}: it does not hold this cluster's secret (set "
          "RAYK_AUTH_TOKEN to the cluster's token); {} refused so far",
          address, n);
    }
  }
  const std::string reply[] = {
      "1.0", request_id, admitted ? "200" : "400", admitted ? "OK" : "not a member of this cluster",
      "",    ""};
  try {
    for (size_t i = 0; i < std::size(reply); ++i) {
      socket_.send(zmq::buffer(reply[i]),
                   i + 1 < std::size(reply) ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("zmq transport: cannot answer a ZAP request: {}", e.what());
  }
}

}  // namespace rayk::zmq_transport
