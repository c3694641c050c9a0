// The zmq transport's wire header: the first frame of every message it sends.
//
// A message body is either one ZeroMQ frame, the header followed by the
// payload (small payloads: ZeroMQ's cost is per frame), or two frames,
// [header][payload] (large payloads, which then go without a copy). A ROUTER
// prepends the peer's routing id; a published message starts with a topic
// frame, so that SUB sockets filter on it.
//
// The header is 12 bytes:
//   0..1  magic "RK"
//   2     version (kFrameVersion); a peer with another version is rejected,
//         not misread
//   3     message type (FrameType)
//   4..11 request id, little-endian: replies carry their request's id, which
//         is how pipelined calls are matched; 0 for one-way messages, the
//         sequence number for published ones
//
// Header-only and free of ZeroMQ so that it can be tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "rayk/status.h"

namespace rayk::zmq_transport {

inline constexpr char kFrameMagic[2] = {'R', 'K'};
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderSize = 12;

enum class FrameType : uint8_t {
  kRequest = 1,  // channel -> server, wants a reply
  kReply = 2,    // server -> channel
  kOneWay = 3,   // channel -> server, no reply
  kPublish = 4,  // publisher -> subscribers
};

struct FrameHeader {
  FrameType type;
  uint64_t request_id;
};

// Writes the header into `out`, which must hold kFrameHeaderSize bytes.
inline void EncodeFrameHeader(FrameType type, uint64_t request_id, void* out) {
  auto* bytes = static_cast<uint8_t*>(out);
  bytes[0] = static_cast<uint8_t>(kFrameMagic[0]);
  bytes[1] = static_cast<uint8_t>(kFrameMagic[1]);
  bytes[2] = kFrameVersion;
  bytes[3] = static_cast<uint8_t>(type);
  for (int i = 0; i < 8; ++i) bytes[4 + i] = static_cast<uint8_t>(request_id >> (8 * i));
}

inline std::string EncodeFrameHeader(FrameType type, uint64_t request_id) {
  std::string out(kFrameHeaderSize, '\0');
  EncodeFrameHeader(type, request_id, out.data());
  return out;
}

// Decodes a header frame; the error says what was wrong, for the log.
inline Result<FrameHeader> DecodeFrameHeader(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (size != kFrameHeaderSize) {
    return Status::InvalidArgument("header frame has " + std::to_string(size) +
                                   " bytes, expected " + std::to_string(kFrameHeaderSize));
  }
  if (bytes[0] != static_cast<uint8_t>(kFrameMagic[0]) ||
      bytes[1] != static_cast<uint8_t>(kFrameMagic[1])) {
    return Status::InvalidArgument("header frame does not start with the rayk magic \"RK\"");
  }
  if (bytes[2] != kFrameVersion) {
    return Status::InvalidArgument("frame version " + std::to_string(bytes[2]) +
                                   ", this peer speaks " + std::to_string(kFrameVersion) +
                                   ": upgrade both ends together");
  }
  uint8_t type = bytes[3];
  if (type < static_cast<uint8_t>(FrameType::kRequest) ||
      type > static_cast<uint8_t>(FrameType::kPublish)) {
    return Status::InvalidArgument("unknown message type " + std::to_string(type));
  }
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id |= static_cast<uint64_t>(bytes[4 + i]) << (8 * i);
  return FrameHeader{static_cast<FrameType>(type), id};
}

// Decodes the header at the start of a frame that may carry the payload
// after it.
inline Result<FrameHeader> DecodeFramePrefix(const void* data, size_t size) {
  if (size < kFrameHeaderSize) {
    return Status::InvalidArgument("frame has " + std::to_string(size) +
                                   " bytes, less than a header");
  }
  return DecodeFrameHeader(data, kFrameHeaderSize);
}

}  // namespace rayk::zmq_transport
