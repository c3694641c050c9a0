#include "protocol.h"

namespace rayk::protocol {

Result<MessageType> PeekType(std::string_view message) {
  if (message.size() < kHeaderSize || message[0] != 'R' || message[1] != 'K') {
    return Status::InvalidArgument("not a rayk message (" + std::to_string(message.size()) +
                                   " bytes without the 'RK' header)");
  }
  if (static_cast<uint8_t>(message[2]) != kProtocolVersion) {
    return Status::InvalidArgument("rayk protocol version " + std::to_string(static_cast<uint8_t>(message[2])) +
                                   " but this process speaks " + std::to_string(kProtocolVersion) +
                                   "; run the same rayk version on every node");
  }
  return static_cast<MessageType>(message[2 + 1]);
}

const char* ActorStateName(ActorState state) {
  switch (state) {
    case ActorState::kPending: return "PENDING";
    case ActorState::kAlive: return "ALIVE";
    case ActorState::kRestarting: return "RESTARTING";
    case ActorState::kDead: return "DEAD";
  }
  return "UNKNOWN";
}

}  // namespace rayk::protocol
