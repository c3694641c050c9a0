// Stream: one connection of the asio transport after its handshake, tcp or
// Unix, carrying the frames of asio_frame.h, sealed with the session keys on
// an encrypted connection.
//
// Writing is done by whichever thread sends: Send() writes the frame, with
// any queued before it, in one sendmsg on the caller's thread (no thread
// hand-off; each costs 15-20 us on the 2-vCPU machine), unless the caller
// knows more frames follow (Write::kBatched): then the loop thread (the
// io_context's) writes them all together soon. When the socket is full the
// rest waits, and the loop thread finishes when the socket can take more.
// Frames are sealed in place, in their own payload string, in the order they
// are queued, so the nonce counter matches the order they go out.
//
// Reading is done by one reader at a time, which the owner decides (the loop
// thread, or a thread in a synchronous call): ReadAvailable() reads what the
// socket holds without blocking.
//
// Lifetime: Close() runs on the loop thread, before the io_context goes; it
// detaches the socket from the io_context (no later Send touches it), and the
// descriptor stays open until the last reference goes, so that a reader that
// still holds the stream never polls a descriptor number reused meanwhile.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asio_frame.h"
#include "asio_handshake.h"
#include "rayk/status.h"

namespace rayk::asio_transport {

using Socket = boost::asio::generic::stream_protocol::socket;

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  // `on_write_error` runs on the loop thread when a write fails (the peer is
  // gone); the owner then closes the stream.
  Stream(boost::asio::io_context& io, Socket socket, std::optional<SessionKeys> keys,
         uint64_t max_payload, std::function<void(std::shared_ptr<Stream>)> on_write_error);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // How Send writes: at once on the calling thread (with any batched frames
  // queued before it), or by the loop thread soon, together with whatever
  // else is queued by then (one system call and one TCP segment for many
  // frames: the peer wakes once for all of them). kBatched is for a frame
  // that more are known to follow: requests while others are in flight,
  // replies while the connection owes more.
  enum class Write { kNow, kBatched };

  // Any thread. kUnavailable, with `payload` untouched, when the stream was
  // closed (or failed) before this call; kIoError when the write failed.
  Status Send(FrameType type, uint64_t request_id, std::string& payload, Write write = Write::kNow);
  // The loop thread, around a batch of requests it handles: replies sent
  // meanwhile are queued, and Uncork writes them all at once.
  void Cork();
  void Uncork();
  // Frames queued behind a full socket.
  size_t queued() const;

  // The reader: reads what the socket holds without blocking and appends the
  // whole frames (payloads opened). False when the connection is over,
  // *why saying why; frames read before that are still appended.
  bool ReadAvailable(std::vector<Frame>* frames, std::string* why);
  // The reader, when nobody reads the socket: whether the peer has closed it.
  bool PeerClosed() const;
  int fd() const { return fd_; }

  // Any thread: later Sends fail with kUnavailable; nothing is written.
  void Fail();
  // The loop thread: Fail(), then wake any reader (shutdown) and detach the
  // socket from the io_context.
  void Close();
  // The loop thread: waits (up to `ms`) for queued frames to go out, as a
  // closed ZeroMQ socket lingers.
  void Linger(int ms);
  // The loop thread: calls `on_readable` once the socket has bytes (or an
  // error, or Close()).
  void WaitReadable(std::function<void(boost::system::error_code)> on_readable);
  // The loop thread: cancels WaitReadable.
  void CancelWait();

 private:
  struct Outgoing {
    uint8_t header[kFrameHeaderSize];
    std::string payload;
    uint8_t tag[kTagSize];
    size_t size = 0;     // header + payload + tag (if sealed)
    size_t written = 0;  // bytes of it already written
  };

  void SealLocked(Outgoing& out);
  // Writes queued frames until done or the socket is full; false on an error.
  bool FlushLocked();
  void ArmWriteLocked();
  // Loop thread: writes what is queued unless someone else will; a failed
  // write closes the stream and tells the owner (unlocking `lock`).
  void FlushOrFailLocked(std::unique_lock<std::mutex>& lock);

  boost::asio::io_context& io_;
  std::optional<Socket> socket_;  // the loop thread's; reset by Close()
  const int fd_;
  const std::optional<SessionKeys> keys_;
  const std::function<void(std::shared_ptr<Stream>)> on_write_error_;

  mutable std::mutex write_mu_;  // guards the members below
  std::deque<Outgoing> queue_;
  bool write_armed_ = false;   // the socket is full: the loop thread writes when it can take more
  bool flush_posted_ = false;  // the loop thread has been asked to write what is queued
  bool corked_ = false;
  bool closed_ = false;
  uint64_t tx_counter_ = 0;

  // The reader's.
  FrameReader reader_;
  uint64_t rx_counter_ = 0;
};

}  // namespace rayk::asio_transport
