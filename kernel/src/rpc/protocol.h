// Every message rayk's processes exchange, for code that speaks to several
// services. Code that speaks to one may include its header alone: codec.h
// (the frame and encoding), gcs_messages.h, raylet_messages.h,
// worker_messages.h, object_messages.h,
// placement_group_messages.h, log_messages.h.
#pragma once

#include <type_traits>

#include "rpc/codec.h"
#include "rpc/common_messages.h"
#include "rpc/gcs_messages.h"
#include "rpc/log_messages.h"
#include "rpc/object_messages.h"
#include "rpc/placement_group_messages.h"
#include "rpc/raylet_messages.h"
#include "rpc/task_event_messages.h"
#include "rpc/worker_messages.h"

namespace rayk::protocol {

// The type of a message, as a compile-time constant: Body<decltype(t)::value>.
template <MessageType type>
using MessageTypeConstant = std::integral_constant<MessageType, type>;

// Calls visitor(MessageTypeConstant<type>{}) for a runtime `type`, so that
// code handling any message (tests, fuzz targets) can name its body type
// without a second list of the types to keep in step with message_type.h.
// Returns false, without calling the visitor, for a number that is no type.
template <class Visitor>
bool VisitMessageType(MessageType type, Visitor&& visitor) {
  switch (type) {
#define RAYK_VISIT_MESSAGE_TYPE(name, number)             \
  case MessageType::k##name:                              \
    visitor(MessageTypeConstant<MessageType::k##name>{}); \
    return true;
    RAYK_MESSAGE_TYPES(RAYK_VISIT_MESSAGE_TYPE)
#undef RAYK_VISIT_MESSAGE_TYPE
  }
  return false;
}

}  // namespace rayk::protocol
