// Every message rayk's processes exchange, for code that speaks to several
// services. Code that speaks to one may include its header alone: codec.h
// (the frame and encoding), gcs_messages.h, raylet_messages.h,
// worker_messages.h, object_messages.h.
#pragma once

#include "rpc/codec.h"
#include "rpc/common_messages.h"
#include "rpc/gcs_messages.h"
#include "rpc/object_messages.h"
#include "rpc/raylet_messages.h"
#include "rpc/worker_messages.h"
