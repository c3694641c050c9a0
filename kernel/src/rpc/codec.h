// The wire encoding of rayk's messages.
//
// Every message is a 4-byte header (magic 'R' 'K', protocol version, message
// type) followed by the body, the struct for that type (BodyOf below) in
// Boost's binary format, fields only (wire_archive.h). Decoding checks the
// header, bounds every length and count by the bytes left
// (bounded_iarchive.h), rejects trailing bytes and catches every archive
// error, so a malformed frame is a Status, never a crash or a huge
// allocation. Bump kProtocolVersion when any message struct changes shape or
// a message type is added.
//
// A server that refuses a request (malformed, unknown type, over a limit)
// answers kErrorReply with a StatusReply body; Decode<T> of such a reply
// returns that status, so every caller sees the refusal as an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rayk/status.h"
#include "rpc/bounded_iarchive.h"
#include "rpc/message_type.h"
#include "rpc/wire_archive.h"

namespace rayk::protocol {

constexpr uint8_t kProtocolVersion = 15;
constexpr size_t kHeaderSize = 4;

// The body struct of each message type, declared next to the structs with
// RAYK_MESSAGE_BODY; servers decode a request as exactly this (service.h).
template <MessageType type>
struct BodyOf;

#define RAYK_MESSAGE_BODY(type, Body) \
  template <>                         \
  struct BodyOf<MessageType::type> {  \
    using Body_type = Body;           \
  }

template <MessageType type>
using Body = typename BodyOf<type>::Body_type;

template <typename T>
std::string Encode(MessageType type, const T& body) {
  std::string out;
  out.reserve(64);
  out.push_back('R');
  out.push_back('K');
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(static_cast<char>(type));
  WireOArchive archive(out);
  archive << body;
  return out;
}

// The type of a message, after checking its header.
Result<MessageType> PeekType(std::string_view message);

// "KvPut (type 10)", or "type 77" for a number that is no message type.
std::string DescribeType(MessageType type);

namespace internal_codec {
using LoadFn = void (*)(BoundedIArchive& archive, void* body);
// Decodes the body of `message` (header already checked) with `load`; the
// error, if any, says why without naming the message.
Status DecodeBody(std::string_view message, LoadFn load, void* body);
// The status a kErrorReply carries.
Status ErrorReplyStatus(std::string_view message);
template <typename T>
void Load(BoundedIArchive& archive, void* body) {
  archive >> *static_cast<T*>(body);
}
}  // namespace internal_codec

// Decodes the body of `message`, whose header must already be checked, into
// `body`. The error says why ("a string of 1073741824 bytes does not fit in
// the 30 bytes left in the message"), for the caller to name the message.
template <typename T>
Status DecodeBodyInto(std::string_view message, T& body) {
  return internal_codec::DecodeBody(message, &internal_codec::Load<T>, &body);
}

template <typename T>
Result<T> Decode(std::string_view message) {
  auto type = PeekType(message);
  if (!type.ok()) return type.status();
  if (*type == MessageType::kErrorReply) return internal_codec::ErrorReplyStatus(message);
  T body;
  Status status = DecodeBodyInto(message, body);
  if (!status.ok()) {
    return Status::InvalidArgument("malformed rayk message " + DescribeType(*type) + ": " +
                                   status.message());
  }
  return body;
}

}  // namespace rayk::protocol
