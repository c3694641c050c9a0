#include "asio_handshake.h"

#include <sodium.h>

#include <cstring>

namespace rayk::asio_transport {
namespace {

constexpr char kHelloMagic[4] = {'R', 'K', 'A', 1};
constexpr uint8_t kStatusOk = 0;
constexpr uint8_t kStatusRefused = 1;
// BLAKE2b's key must be 16-64 bytes; the domain string is the key, the secret the message.
constexpr char kAuthDomain[] = "rayk asio transport auth key v1";

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::string Mac(const Key& auth_key, char role, const std::string& transcript) {
  std::string message(1, role);
  message += transcript;
  std::string mac(crypto_auth_BYTES, '\0');
  crypto_auth(reinterpret_cast<unsigned char*>(mac.data()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(),
              auth_key.data());
  return mac;
}

// A crypto_kx key hashed with auth_key, so that a session key needs the secret too.
Key Bind(const Key& auth_key, const unsigned char* kx_key) {
  Key out;
  crypto_generichash(out.data(), out.size(), kx_key, crypto_kx_SESSIONKEYBYTES, auth_key.data(),
                     auth_key.size());
  return out;
}

}  // namespace

Result<Key> DeriveAuthKey(const std::string& cluster_secret) {
  if (cluster_secret.empty()) return Status::InvalidArgument("the cluster secret is empty");
  if (!SodiumReady()) return Status::Internal("libsodium failed to initialise");
  Key key;
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(cluster_secret.data()),
                     cluster_secret.size(), reinterpret_cast<const unsigned char*>(kAuthDomain),
                     sizeof(kAuthDomain) - 1);
  return key;
}

ClientHandshake::ClientHandshake(std::optional<Key> auth_key, Mode mode)
    : auth_key_(auth_key), mode_(mode) {
  if (mode_ != Mode::kOpen && SodiumReady()) crypto_kx_keypair(public_.data(), secret_.data());
  hello_.assign(kHelloMagic, sizeof(kHelloMagic));
  hello_.push_back(static_cast<char>(mode_));
  hello_.append(reinterpret_cast<const char*>(public_.data()), public_.size());
}

std::string ClientHandshake::Hello() { return hello_; }

Result<std::string> ClientHandshake::OnServerHello(const std::string& hello) {
  if (hello.size() != kServerHelloSize || std::memcmp(hello.data(), kHelloMagic, 4) != 0) {
    return Status::IoError("answered the handshake with something else: not an asio transport");
  }
  if (static_cast<uint8_t>(hello[4]) == kStatusRefused) {
    return Status::IoError(
        mode_ == Mode::kOpen
            ? "refused the handshake: it requires authentication and this process has "
              "[transport.asio] auth = false (every process must agree)"
            : "refused the handshake: it has [transport.asio] auth = false and this process "
              "authenticates (every process must agree)");
  }
  if (mode_ == Mode::kOpen) return std::string();
  const std::string transcript = hello_ + hello.substr(0, 37);
  const std::string mac = hello.substr(37, crypto_auth_BYTES);
  const std::string expected = Mac(*auth_key_, 'S', transcript);
  if (sodium_memcmp(expected.data(), mac.data(), mac.size()) != 0) {
    return Status::IoError(kRefusedHandshake);
  }
  if (mode_ == Mode::kEncrypted) {
    unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    const auto* server_public = reinterpret_cast<const unsigned char*>(hello.data() + 5);
    if (crypto_kx_client_session_keys(rx, tx, public_.data(), secret_.data(), server_public) != 0) {
      return Status::IoError(kRefusedHandshake);
    }
    session_ = SessionKeys{Bind(*auth_key_, tx), Bind(*auth_key_, rx)};
  }
  return Mac(*auth_key_, 'C', transcript);
}

ServerHandshake::ServerHandshake(std::optional<Key> auth_key, Mode mode)
    : auth_key_(auth_key), mode_(mode) {}

std::string ServerHandshake::OnClientHello(const std::string& hello, bool* refused) {
  std::string answer(kHelloMagic, sizeof(kHelloMagic));
  *refused = hello.size() != kClientHelloSize || std::memcmp(hello.data(), kHelloMagic, 4) != 0 ||
             static_cast<uint8_t>(hello[4]) != static_cast<uint8_t>(mode_);
  if (*refused) {
    answer.push_back(static_cast<char>(kStatusRefused));
    answer.resize(kServerHelloSize, '\0');
    return answer;
  }
  answer.push_back(static_cast<char>(kStatusOk));
  std::array<uint8_t, 32> public_key{}, secret_key{};
  if (mode_ != Mode::kOpen) crypto_kx_keypair(public_key.data(), secret_key.data());
  answer.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  if (mode_ == Mode::kOpen) {
    answer.resize(kServerHelloSize, '\0');
    return answer;
  }
  transcript_ = hello + answer;
  if (mode_ == Mode::kEncrypted) {
    unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    const auto* client_public = reinterpret_cast<const unsigned char*>(hello.data() + 5);
    if (crypto_kx_server_session_keys(rx, tx, public_key.data(), secret_key.data(),
                                      client_public) != 0) {
      // A malformed client key: refuse it like any other stranger.
      *refused = true;
      answer[4] = static_cast<char>(kStatusRefused);
      answer.resize(kServerHelloSize, '\0');
      return answer;
    }
    session_ = SessionKeys{Bind(*auth_key_, tx), Bind(*auth_key_, rx)};
  }
  sodium_memzero(secret_key.data(), secret_key.size());
  answer += Mac(*auth_key_, 'S', transcript_);
  return answer;
}

Status ServerHandshake::OnClientFinish(const std::string& finish) {
  const std::string expected = Mac(*auth_key_, 'C', transcript_);
  if (finish.size() != expected.size() ||
      sodium_memcmp(finish.data(), expected.data(), expected.size()) != 0) {
    session_.reset();
    return Status::IoError("the peer does not hold the cluster secret");
  }
  return Status::Ok();
}

}  // namespace rayk::asio_transport
