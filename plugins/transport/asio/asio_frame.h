// The asio transport's wire format: length-prefixed frames on a byte stream.
//
// Every frame is a 16-byte header followed by its payload, and on an
// encrypted connection by the payload's 16-byte authentication tag:
//   0..1   magic "RA"
//   2      version (kFrameVersion); a peer with another version is rejected,
//          not misread
//   3      frame type (FrameType)
//   4..7   payload size, little-endian; a header announcing more than the
//          receiver's limit (the max_frame setting) ends the connection
//          before anything is allocated for it
//   8..15  request id, little-endian: a reply carries its request's id, which
//          is how pipelined calls are matched; 0 for one-way messages
//
// A publication's payload is [topic size, 4 bytes LE][topic][body]; a
// subscription opens with one kSubscribe frame whose payload is its topic
// prefixes, each as [size, 4 bytes LE][prefix].
//
// FrameReader cuts frames out of the stream: small frames come out of one
// buffer that many of them share (one read, many frames), a large one is read
// straight into the string that becomes its payload (no copy after the
// socket's). Header-only and free of Asio so that it can be fuzzed on its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rayk/status.h"

namespace rayk::asio_transport {

inline constexpr char kFrameMagic[2] = {'R', 'A'};
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr size_t kTagSize = 16;  // crypto_aead_chacha20poly1305_ietf_ABYTES

enum class FrameType : uint8_t {
  kRequest = 1,    // channel -> server, wants a reply
  kReply = 2,      // server -> channel
  kOneWay = 3,     // channel -> server, no reply
  kPublish = 4,    // publisher -> subscriber
  kSubscribe = 5,  // subscriber -> publisher, once: the topic prefixes
};

struct FrameHeader {
  FrameType type = FrameType::kOneWay;
  uint32_t payload_size = 0;
  uint64_t request_id = 0;
};

struct Frame {
  FrameHeader header;
  std::string payload;  // with the tag still after it on an encrypted connection
};

inline void PutLe32(uint32_t value, uint8_t* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
inline uint32_t GetLe32(const uint8_t* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[i]) << (8 * i);
  return value;
}

// Writes the header into `out`, which must hold kFrameHeaderSize bytes.
inline void EncodeFrameHeader(const FrameHeader& header, void* out) {
  auto* bytes = static_cast<uint8_t*>(out);
  bytes[0] = static_cast<uint8_t>(kFrameMagic[0]);
  bytes[1] = static_cast<uint8_t>(kFrameMagic[1]);
  bytes[2] = kFrameVersion;
  bytes[3] = static_cast<uint8_t>(header.type);
  PutLe32(header.payload_size, bytes + 4);
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<uint8_t>(header.request_id >> (8 * i));
}

// Decodes the kFrameHeaderSize bytes at `data`; the error says what was
// wrong, for the log.
inline Result<FrameHeader> DecodeFrameHeader(const void* data, uint64_t max_payload) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes[0] != static_cast<uint8_t>(kFrameMagic[0]) ||
      bytes[1] != static_cast<uint8_t>(kFrameMagic[1])) {
    return Status::InvalidArgument("frame does not start with the asio transport's magic \"RA\"");
  }
  if (bytes[2] != kFrameVersion) {
    return Status::InvalidArgument("frame version " + std::to_string(bytes[2]) +
                                   ", this peer speaks " + std::to_string(kFrameVersion) +
                                   ": upgrade both ends together");
  }
  uint8_t type = bytes[3];
  if (type < static_cast<uint8_t>(FrameType::kRequest) ||
      type > static_cast<uint8_t>(FrameType::kSubscribe)) {
    return Status::InvalidArgument("unknown frame type " + std::to_string(type));
  }
  FrameHeader header;
  header.type = static_cast<FrameType>(type);
  header.payload_size = GetLe32(bytes + 4);
  if (header.payload_size > max_payload) {
    return Status::InvalidArgument("frame of " + std::to_string(header.payload_size) +
                                   " bytes is over the limit of " + std::to_string(max_payload) +
                                   " ([transport.asio] max_frame)");
  }
  for (int i = 0; i < 8; ++i) header.request_id |= static_cast<uint64_t>(bytes[8 + i]) << (8 * i);
  return header;
}

// [size][topic][body], a publication's payload.
inline std::string EncodePublication(const std::string& topic, const std::string& body) {
  std::string out(4 + topic.size() + body.size(), '\0');
  PutLe32(static_cast<uint32_t>(topic.size()), reinterpret_cast<uint8_t*>(out.data()));
  std::memcpy(out.data() + 4, topic.data(), topic.size());
  if (!body.empty()) std::memcpy(out.data() + 4 + topic.size(), body.data(), body.size());
  return out;
}

// Splits a publication's payload into its topic and (in place) its body.
inline Result<std::string> DecodePublication(std::string* payload) {
  if (payload->size() < 4)
    return Status::InvalidArgument("publication shorter than its topic size");
  uint32_t topic_size = GetLe32(reinterpret_cast<const uint8_t*>(payload->data()));
  if (topic_size > payload->size() - 4) {
    return Status::InvalidArgument("publication's topic runs past its end");
  }
  std::string topic = payload->substr(4, topic_size);
  payload->erase(0, 4 + static_cast<size_t>(topic_size));
  return topic;
}

inline std::string EncodePrefixes(const std::vector<std::string>& prefixes) {
  std::string out;
  for (const std::string& prefix : prefixes) {
    uint8_t size[4];
    PutLe32(static_cast<uint32_t>(prefix.size()), size);
    out.append(reinterpret_cast<const char*>(size), 4);
    out += prefix;
  }
  return out;
}

inline Result<std::vector<std::string>> DecodePrefixes(std::string_view payload) {
  std::vector<std::string> prefixes;
  while (!payload.empty()) {
    if (payload.size() < 4) return Status::InvalidArgument("topic prefix list is cut short");
    uint32_t size = GetLe32(reinterpret_cast<const uint8_t*>(payload.data()));
    if (size > payload.size() - 4) {
      return Status::InvalidArgument("topic prefix runs past the end of its list");
    }
    prefixes.emplace_back(payload.substr(4, size));
    payload.remove_prefix(4 + static_cast<size_t>(size));
  }
  return prefixes;
}

// Cuts frames out of a byte stream. Use: write up to ReadTarget().second
// bytes at ReadTarget().first, Commit(n), then take frames with Next() until
// it gives none. Not thread-safe: one reader at a time.
class FrameReader {
 public:
  // `tag_size` bytes follow each payload (kTagSize on an encrypted
  // connection, else 0); they come out at the end of Frame::payload. Frames
  // bigger than `buffer_size` are read into their own string.
  FrameReader(uint64_t max_payload, size_t tag_size, size_t buffer_size = 64 * 1024)
      : max_payload_(max_payload), tag_size_(tag_size), buffer_(buffer_size, '\0') {}

  std::pair<char*, size_t> ReadTarget() {
    if (in_body_) return {body_.payload.data() + body_filled_, body_.payload.size() - body_filled_};
    if (end_ == buffer_.size()) Compact();
    return {buffer_.data() + end_, buffer_.size() - end_};
  }

  void Commit(size_t n) {
    if (in_body_) {
      body_filled_ += n;
    } else {
      end_ += n;
    }
  }

  // The next whole frame, nothing when more bytes are needed, or an error
  // when the stream is not frames (the connection must then be closed: the
  // frame boundaries are lost).
  Result<std::optional<Frame>> Next() {
    if (in_body_) {
      if (body_filled_ < body_.payload.size()) return std::optional<Frame>();
      in_body_ = false;
      return std::optional<Frame>(std::move(body_));
    }
    if (end_ - begin_ < kFrameHeaderSize) return std::optional<Frame>();
    auto header = DecodeFrameHeader(buffer_.data() + begin_, max_payload_);
    if (!header.ok()) return header.status();
    const size_t body_size = header->payload_size + tag_size_;
    const size_t buffered = end_ - begin_ - kFrameHeaderSize;
    if (buffered >= body_size) {
      Frame frame{*header, buffer_.substr(begin_ + kFrameHeaderSize, body_size)};
      begin_ += kFrameHeaderSize + body_size;
      if (begin_ == end_) begin_ = end_ = 0;
      return std::optional<Frame>(std::move(frame));
    }
    if (kFrameHeaderSize + body_size <= buffer_.size()) {
      // A small frame: wait for the rest in the shared buffer.
      if (begin_ + kFrameHeaderSize + body_size > buffer_.size()) Compact();
      return std::optional<Frame>();
    }
    // A large frame: its own string, which the rest is read straight into.
    // Its size is bounded by max_payload, checked above.
    body_.header = *header;
    body_.payload.assign(body_size, '\0');
    std::memcpy(body_.payload.data(), buffer_.data() + begin_ + kFrameHeaderSize, buffered);
    body_filled_ = buffered;
    begin_ = end_ = 0;
    in_body_ = true;
    return std::optional<Frame>();
  }

 private:
  void Compact() {
    if (begin_ == 0) return;
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }

  const uint64_t max_payload_;
  const size_t tag_size_;
  std::string buffer_;
  size_t begin_ = 0, end_ = 0;  // the unread bytes of buffer_
  bool in_body_ = false;        // reading a large frame into body_
  Frame body_;
  size_t body_filled_ = 0;
};

}  // namespace rayk::asio_transport
