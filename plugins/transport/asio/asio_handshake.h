// The asio transport's handshake: how two ends of a new connection prove to
// each other that they hold the cluster secret, and agree on the keys that
// encrypt what follows.
//
// Every connection starts with three messages, before any frame:
//   client hello   37 bytes: "RKA" 1, mode, the client's ephemeral X25519 public key
//   server hello   69 bytes: "RKA" 1, status, the server's ephemeral public key,
//                  MAC_s = HMAC(auth_key, "S" || transcript)
//   client finish  32 bytes: MAC_c = HMAC(auth_key, "C" || transcript)
// where the transcript is both hellos (the server's without its MAC), and
// auth_key is a BLAKE2b-256 hash of the cluster secret under this
// transport's own domain string. Each side checks the other's MAC, so whoever
// lacks the secret is refused by both sides, and fresh ephemeral keys make
// every connection's MACs (and keys) new, so nothing recorded can be
// replayed. The session keys are crypto_kx's, hashed with auth_key, one per
// direction: frames are then sealed with ChaCha20-Poly1305 (a counter nonce
// per direction), so a connection's traffic can be neither read nor changed.
//
// Modes: kOpen (auth = false: no keys, no MACs, no finish), kAuthenticated
// (Unix sockets: the MACs, then plain frames; the socket file is the
// session folder's, mode 0600) and kEncrypted (tcp). Both ends must agree:
// a server answers a hello of another mode with status kRefused and closes.
//
// Pure: no I/O; the transport moves the bytes. Thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "rayk/status.h"

namespace rayk::asio_transport {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kClientHelloSize = 37;
inline constexpr size_t kServerHelloSize = 69;
inline constexpr size_t kClientFinishSize = 32;

using Key = std::array<uint8_t, kKeySize>;

enum class Mode : uint8_t { kOpen = 0, kAuthenticated = 1, kEncrypted = 2 };

// The keys of one direction each; encrypted connections only.
struct SessionKeys {
  Key tx;
  Key rx;
};

// What a peer that does not prove membership is told (after "asio transport: ENDPOINT ").
inline constexpr char kRefusedHandshake[] =
    "refused the secure handshake: it holds another cluster secret than this process "
    "(docs/security.md)";

// auth_key from the cluster secret; an error for an empty secret.
Result<Key> DeriveAuthKey(const std::string& cluster_secret);

class ClientHandshake {
 public:
  // `auth_key` is empty with auth = false, when `mode` must be kOpen.
  ClientHandshake(std::optional<Key> auth_key, Mode mode);
  std::string Hello();
  // Checks the server's hello; gives the finish message to send (empty for
  // kOpen). Its error is the one-line reason the server is not to be trusted.
  Result<std::string> OnServerHello(const std::string& hello);
  // After OnServerHello succeeded on an encrypted connection.
  std::optional<SessionKeys> session() const { return session_; }

 private:
  std::optional<Key> auth_key_;
  Mode mode_;
  std::array<uint8_t, 32> public_{}, secret_{};
  std::string hello_;
  std::optional<SessionKeys> session_;
};

class ServerHandshake {
 public:
  ServerHandshake(std::optional<Key> auth_key, Mode mode);
  // Reads the client's hello and gives the answer to send. `refused` is set
  // when the modes differ: send the answer (it says so) and close.
  std::string OnClientHello(const std::string& hello, bool* refused);
  bool ExpectsFinish() const { return mode_ != Mode::kOpen; }
  // Checks the client's finish; an error means it does not hold the secret.
  Status OnClientFinish(const std::string& finish);
  std::optional<SessionKeys> session() const { return session_; }

 private:
  std::optional<Key> auth_key_;
  Mode mode_;
  std::string transcript_;
  std::optional<SessionKeys> session_;
};

}  // namespace rayk::asio_transport
