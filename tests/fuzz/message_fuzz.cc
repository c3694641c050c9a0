// Fuzz target: the decoder of every protocol message, on bytes as they come
// off the network.
//
// The input is a whole message, header and body. It is decoded with
// Decode<Body<type>> for the type its header names, the call a client makes
// on a reply (an error reply included) and, through DecodeBodyInto, the one
// a server's handler table makes on a request (service.h). Beyond the
// sanitizers (and libFuzzer's allocation limit, which a lying length would
// trip), it checks that a body that decodes encodes to bytes that decode
// again, to a body that encodes to the same bytes: decoder and encoder agree
// on the format.
//
// Seeds are one encoded sample of every message type (make_seeds.cc). So
// that they stay useful after kProtocolVersion is bumped, an input of another
// protocol version is decoded a second time as the current one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rpc/protocol.h"

namespace {

using namespace rayk::protocol;

void Check(bool holds) {
  if (!holds) std::abort();
}

void DecodeMessage(std::string_view message) {
  auto type = PeekType(message);
  if (!type.ok()) return;
  VisitMessageType(*type, [&](auto constant) {
    using T = Body<decltype(constant)::value>;
    auto body = Decode<T>(message);
    if (!body.ok()) return;
    std::string encoded = Encode(constant, *body);
    auto again = Decode<T>(encoded);
    Check(again.ok());
    Check(Encode(constant, *again) == encoded);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  DecodeMessage(message);
  if (size >= kHeaderSize && static_cast<uint8_t>(message[2]) != kProtocolVersion) {
    std::string current(message);
    current[2] = static_cast<char>(kProtocolVersion);
    DecodeMessage(current);
  }
  return 0;
}
