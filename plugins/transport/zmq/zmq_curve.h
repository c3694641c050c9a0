// CURVE authentication and encryption for the zmq transport.
//
// Both keypairs come from the cluster secret, so that whoever holds the secret
// is a member and nobody else is: every socket the transport binds is a CURVE
// server with the server keypair, every socket it connects is a CURVE client
// with the member keypair, and a ZAP handler (ZeroMQ RFC 27) in the transport's
// context admits only clients that prove they hold the member secret key. A
// peer without CURVE, or with any other key, never gets a message through.
//
// Thread safety: DeriveCurveKeys and the socket helpers are pure; a ZapHandler
// owns one thread and is stopped by its destructor.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "rayk/status.h"

namespace rayk::zmq_transport {

// Binary Curve25519 keys, 32 bytes each.
struct CurveKeys {
  std::string server_public;
  std::string server_secret;
  std::string member_public;
  std::string member_secret;
};

// Whether this libzmq was built with CURVE (Debian's is, through libsodium).
bool CurveAvailable();

// Derives the server and member keypairs from `cluster_secret`: each seed is a
// BLAKE2b-256 hash of the secret keyed with its own domain string, fed to
// crypto_box_seed_keypair. Deterministic: every member derives the same keys.
Result<CurveKeys> DeriveCurveKeys(const std::string& cluster_secret);

// Makes `socket` (before bind) a CURVE server that asks the ZAP handler.
void MakeCurveServer(zmq::socket_t& socket, const CurveKeys& keys);
// Makes `socket` (before connect) a CURVE client holding the member keypair.
void MakeCurveClient(zmq::socket_t& socket, const CurveKeys& keys);

// The ZAP handler of one ZeroMQ context. It must exist before any CURVE
// server socket of that context accepts a peer, and be destroyed before the
// context is closed.
class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 in `context` and starts answering.
  ZapHandler(zmq::context_t& context, std::string member_public);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Peers refused so far (for tests and logs).
  uint64_t refused() const { return refused_.load(); }

 private:
  void Loop();
  // Answers one request whose frames are already read; anything but a CURVE
  // request carrying the member public key is refused.
  void Answer(zmq::message_t* frames, size_t count);

  zmq::socket_t socket_;  // the loop thread's once it runs
  const std::string member_public_;
  int stop_fd_;
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace rayk::zmq_transport
