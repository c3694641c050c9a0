#include "rpc/codec.h"

#include <boost/archive/archive_exception.hpp>
#include <exception>

#include "rpc/common_messages.h"

namespace rayk::protocol {

Result<MessageType> PeekType(std::string_view message) {
  if (message.size() < kHeaderSize || message[0] != 'R' || message[1] != 'K') {
    return Status::InvalidArgument("not a rayk message (" + std::to_string(message.size()) +
                                   " bytes without the 'RK' header)");
  }
  if (static_cast<uint8_t>(message[2]) != kProtocolVersion) {
    return Status::InvalidArgument("rayk protocol version " +
                                   std::to_string(static_cast<uint8_t>(message[2])) +
                                   " but this process speaks " + std::to_string(kProtocolVersion) +
                                   "; run the same rayk version on every node");
  }
  return static_cast<MessageType>(message[3]);
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
#define RAYK_MESSAGE_TYPE_CASE(name, number) \
  case MessageType::k##name:                 \
    return #name;
    RAYK_MESSAGE_TYPES(RAYK_MESSAGE_TYPE_CASE)
#undef RAYK_MESSAGE_TYPE_CASE
  }
  return nullptr;
}

std::string DescribeType(MessageType type) {
  std::string number = "type " + std::to_string(static_cast<int>(type));
  const char* name = MessageTypeName(type);
  return name == nullptr ? number : std::string(name) + " (" + number + ")";
}

namespace internal_codec {

Status DecodeBody(std::string_view message, LoadFn load, void* body) {
  BoundedIArchive archive(message.substr(kHeaderSize));
  try {
    load(archive, body);
  } catch (const DecodeLimitError& error) {
    return Status::InvalidArgument(error.what());
  } catch (const boost::archive::archive_exception& error) {
    // The one a short body raises reads "input stream error": say what it means.
    if (error.code == boost::archive::archive_exception::input_stream_error) {
      return Status::InvalidArgument("the body ends before its last field (" +
                                     std::to_string(message.size() - kHeaderSize) +
                                     " bytes: truncated, or not this message's body)");
    }
    return Status::InvalidArgument(error.what());
  } catch (const std::exception& error) {
    return Status::InvalidArgument(error.what());
  }
  if (archive.remaining() != 0) {
    return Status::InvalidArgument(std::to_string(archive.remaining()) +
                                   " bytes left over after the body (trailing garbage, or not "
                                   "this message's body)");
  }
  return Status::Ok();
}

Status ErrorReplyStatus(std::string_view message) {
  StatusReply reply;
  Status decoded = DecodeBody(message, &Load<StatusReply>, &reply);
  if (!decoded.ok()) {
    return Status::InvalidArgument("malformed rayk error reply: " + decoded.message());
  }
  Status status = reply.ToStatus();
  // An error reply always carries an error, even from a confused peer.
  return status.ok() ? Status::Internal("the peer refused the request without saying why") : status;
}

}  // namespace internal_codec
}  // namespace rayk::protocol
