// Fuzz target: the zmq transport's frame header decoder (zmq_frame.h), which
// sees every frame a peer sends before anything else does.
//
// The input is the first frame of a message: decoded as a header frame on its
// own and as a header followed by its payload. Beyond the sanitizers, it
// checks that whatever decodes is exactly what the encoder writes for the
// decoded header, so that no two byte strings mean the same header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../../plugins/transport/zmq/zmq_frame.h"

namespace {

using rayk::zmq_transport::DecodeFrameHeader;
using rayk::zmq_transport::DecodeFramePrefix;
using rayk::zmq_transport::EncodeFrameHeader;
using rayk::zmq_transport::kFrameHeaderSize;

void Check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto header = DecodeFrameHeader(data, size);
  if (header.ok()) {
    Check(size == kFrameHeaderSize);
    uint8_t encoded[kFrameHeaderSize];
    EncodeFrameHeader(header->type, header->request_id, encoded);
    Check(std::memcmp(encoded, data, kFrameHeaderSize) == 0);
  }
  // A prefix decodes exactly when its first kFrameHeaderSize bytes do, to the
  // same header: the payload after it is never looked at.
  auto prefix = DecodeFramePrefix(data, size);
  if (size < kFrameHeaderSize) {
    Check(!prefix.ok());
    return 0;
  }
  auto first = DecodeFrameHeader(data, kFrameHeaderSize);
  Check(prefix.ok() == first.ok());
  if (prefix.ok()) {
    Check(prefix->type == first->type && prefix->request_id == first->request_id);
  }
  return 0;
}
