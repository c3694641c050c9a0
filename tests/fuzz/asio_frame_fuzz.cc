// Fuzz target: the asio transport's frame decoder (asio_frame.h), which sees
// every byte a peer sends after the handshake.
//
// The input is a byte stream, cut into reads of sizes taken from its first
// byte (so that frames split across reads are covered), into a small read
// buffer (so that large frames are read into their own string), with a small
// frame limit. Beyond the
// sanitizers, it checks that each frame that comes out is exactly what the
// encoder writes for its header and payload, that no frame exceeds the
// limit, and that publications and prefix lists decode within their payload.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../../plugins/transport/asio/asio_frame.h"

namespace {

namespace wire = rayk::asio_transport;

// Inputs are 4 KiB at most: a 256-byte read buffer sends frames above it down
// the large-frame path (read into their own string), and a limit below the
// input size lets the limit check fire too.
constexpr uint64_t kMaxPayload = 3000;
constexpr size_t kBufferSize = 256;

void Check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const size_t tag_size = (data[0] & 0x80) ? wire::kTagSize : 0;
  ++data;
  --size;
  wire::FrameReader reader(kMaxPayload, tag_size, kBufferSize);
  std::string consumed;  // the bytes of the frames that came out, re-encoded
  size_t offset = 0;
  while (offset < size) {
    auto [target, room] = reader.ReadTarget();
    Check(room > 0);
    const size_t n = std::min({room, chunk, size - offset});
    std::memcpy(target, data + offset, n);
    reader.Commit(n);
    offset += n;
    while (true) {
      auto next = reader.Next();
      if (!next.ok()) return 0;  // the connection would be closed here
      if (!next->has_value()) break;
      wire::Frame& frame = **next;
      Check(frame.header.payload_size <= kMaxPayload);
      Check(frame.payload.size() == frame.header.payload_size + tag_size);
      std::string encoded(wire::kFrameHeaderSize, '\0');
      wire::EncodeFrameHeader(frame.header, encoded.data());
      consumed += encoded + frame.payload;
      if (frame.header.type == wire::FrameType::kPublish) {
        std::string payload = frame.payload;
        auto topic = wire::DecodePublication(&payload);
        if (topic.ok()) Check(topic->size() + payload.size() + 4 == frame.payload.size());
      }
      if (frame.header.type == wire::FrameType::kSubscribe) {
        auto prefixes = wire::DecodePrefixes(frame.payload);
        if (prefixes.ok()) Check(wire::EncodePrefixes(*prefixes) == frame.payload);
      }
    }
  }
  // Every frame is the stream's next bytes, unchanged.
  Check(consumed.size() <= size && std::memcmp(consumed.data(), data, consumed.size()) == 0);
  return 0;
}
