#include "asio_stream.h"

#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace rayk::asio_transport {
namespace {

// Frames written by one sendmsg at most: three pieces each, within IOV_MAX (1024).
constexpr size_t kFramesPerWrite = 256;
// Reads per ReadAvailable, so that one busy peer cannot starve the others of
// a server's loop thread.
constexpr int kReadsPerTurn = 64;

void Nonce(uint64_t counter, unsigned char out[crypto_aead_chacha20poly1305_ietf_NPUBBYTES]) {
  std::memset(out, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<unsigned char>(counter >> (8 * i));
}

}  // namespace

Stream::Stream(boost::asio::io_context& io, Socket socket, std::optional<SessionKeys> keys,
               uint64_t max_payload, std::function<void(std::shared_ptr<Stream>)> on_write_error)
    : io_(io),
      socket_(std::move(socket)),
      fd_(socket_->native_handle()),
      keys_(keys),
      on_write_error_(std::move(on_write_error)),
      reader_(max_payload, keys ? kTagSize : 0) {}

Stream::~Stream() {
  // An open socket_ closes the descriptor itself; a released one is ours.
  if (!socket_) ::close(fd_);
}

Status Stream::Send(FrameType type, uint64_t request_id, std::string& payload, Write write) {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (closed_) return Status::Unavailable("the connection is closed");
  Outgoing& out = queue_.emplace_back();
  EncodeFrameHeader(FrameHeader{type, static_cast<uint32_t>(payload.size()), request_id},
                    out.header);
  out.payload = std::move(payload);
  SealLocked(out);
  // Behind a full socket, or within a batch the loop thread handles: written
  // with the rest.
  if (write_armed_ || corked_) return Status::Ok();
  if (write == Write::kBatched) {
    if (flush_posted_) return Status::Ok();  // the flush asked for takes this one too
    flush_posted_ = true;
    boost::asio::post(io_, [self = shared_from_this()] {
      std::unique_lock<std::mutex> lock(self->write_mu_);
      self->flush_posted_ = false;
      self->FlushOrFailLocked(lock);
    });
    return Status::Ok();
  }
  // Now: this frame and the batched ones before it, in one sendmsg; a flush
  // asked of the loop thread then finds nothing left.
  if (!FlushLocked()) {
    closed_ = true;
    queue_.clear();
    boost::asio::post(io_, [self = shared_from_this()] { self->on_write_error_(self); });
    return Status::IoError(std::string("write failed: ") + std::strerror(errno));
  }
  if (!queue_.empty()) ArmWriteLocked();
  return Status::Ok();
}

size_t Stream::queued() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return queue_.size();
}

void Stream::SealLocked(Outgoing& out) {
  out.size = kFrameHeaderSize + out.payload.size();
  if (!keys_) return;
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  Nonce(tx_counter_++, nonce);
  auto* data = reinterpret_cast<unsigned char*>(out.payload.data());
  // In place: libsodium's AEAD allows the ciphertext over the message.
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      data, out.tag, nullptr, data, out.payload.size(), out.header, kFrameHeaderSize, nullptr,
      nonce, keys_->tx.data());
  out.size += kTagSize;
}

bool Stream::FlushLocked() {
  while (!queue_.empty()) {
    iovec iov[kFramesPerWrite * 3];
    int count = 0;
    size_t frames = 0;
    for (auto it = queue_.begin(); it != queue_.end() && frames < kFramesPerWrite; ++it, ++frames) {
      const Outgoing& out = *it;
      const size_t tag_size = out.size - kFrameHeaderSize - out.payload.size();
      size_t skip = out.written;
      auto add = [&](const void* data, size_t size) {
        if (skip >= size) {
          skip -= size;
          return;
        }
        iov[count].iov_base = const_cast<char*>(static_cast<const char*>(data) + skip);
        iov[count].iov_len = size - skip;
        skip = 0;
        ++count;
      };
      add(out.header, kFrameHeaderSize);
      if (!out.payload.empty()) add(out.payload.data(), out.payload.size());
      if (tag_size > 0) add(out.tag, tag_size);
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t sent = ::sendmsg(fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      return false;
    }
    size_t left = static_cast<size_t>(sent);
    while (left > 0 && !queue_.empty()) {
      Outgoing& out = queue_.front();
      const size_t rest = out.size - out.written;
      if (left < rest) {
        out.written += left;
        return true;  // the socket is full
      }
      left -= rest;
      queue_.pop_front();
    }
  }
  return true;
}

void Stream::ArmWriteLocked() {
  write_armed_ = true;
  boost::asio::post(io_, [self = shared_from_this()] {
    if (!self->socket_) return;  // closed meanwhile
    self->socket_->async_wait(Socket::wait_write, [self](boost::system::error_code) {
      // Cancelled (WaitReadable's owner cancels both) or not: try again.
      std::unique_lock<std::mutex> lock(self->write_mu_);
      self->write_armed_ = false;
      self->FlushOrFailLocked(lock);
    });
  });
}

void Stream::FlushOrFailLocked(std::unique_lock<std::mutex>& lock) {
  if (closed_ || corked_ || write_armed_) return;
  if (!FlushLocked()) {
    closed_ = true;
    queue_.clear();
    lock.unlock();
    on_write_error_(shared_from_this());
    return;
  }
  if (!queue_.empty()) ArmWriteLocked();
}

void Stream::Cork() {
  std::lock_guard<std::mutex> lock(write_mu_);
  corked_ = true;
}

void Stream::Uncork() {
  std::unique_lock<std::mutex> lock(write_mu_);
  corked_ = false;
  FlushOrFailLocked(lock);
}

bool Stream::ReadAvailable(std::vector<Frame>* frames, std::string* why) {
  for (int i = 0; i < kReadsPerTurn; ++i) {
    auto [target, room] = reader_.ReadTarget();
    ssize_t n = ::recv(fd_, target, room, MSG_DONTWAIT);
    if (n == 0) {
      *why = "closed by the peer";
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      *why = std::strerror(errno);
      return false;
    }
    reader_.Commit(static_cast<size_t>(n));
    while (true) {
      auto next = reader_.Next();
      if (!next.ok()) {
        *why = next.status().message();
        return false;
      }
      if (!next->has_value()) break;
      Frame& frame = **next;
      if (keys_) {
        unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
        Nonce(rx_counter_++, nonce);
        uint8_t header[kFrameHeaderSize];
        EncodeFrameHeader(frame.header, header);
        auto* data = reinterpret_cast<unsigned char*>(frame.payload.data());
        const size_t size = frame.header.payload_size;
        if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                data, nullptr, data, size, data + size, header, kFrameHeaderSize, nonce,
                keys_->rx.data()) != 0) {
          *why = "a frame failed authentication (tampered with, or not from the peer)";
          return false;
        }
        frame.payload.resize(size);
      }
      frames->push_back(std::move(frame));
    }
    if (static_cast<size_t>(n) < room) return true;  // drained
  }
  return true;
}

bool Stream::PeerClosed() const {
  char byte;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void Stream::Fail() {
  std::lock_guard<std::mutex> lock(write_mu_);
  closed_ = true;
  queue_.clear();
}

void Stream::Close() {
  Fail();
  ::shutdown(fd_, SHUT_RDWR);
  if (socket_) {
    boost::system::error_code ignored;
    socket_->release(ignored);
    socket_.reset();
  }
}

void Stream::Linger(int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  std::unique_lock<std::mutex> lock(write_mu_);
  while (!closed_ && !queue_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd item{fd_, POLLOUT, 0};
    lock.unlock();
    ::poll(&item, 1, static_cast<int>(left.count()));
    lock.lock();
    if (!FlushLocked()) return;
  }
}

void Stream::WaitReadable(std::function<void(boost::system::error_code)> on_readable) {
  if (!socket_) {
    boost::asio::post(io_, [on_readable] { on_readable(boost::asio::error::operation_aborted); });
    return;
  }
  socket_->async_wait(Socket::wait_read, std::move(on_readable));
}

void Stream::CancelWait() {
  if (!socket_) return;
  boost::system::error_code ignored;
  socket_->cancel(ignored);
}

}  // namespace rayk::asio_transport
