// ObjectBuffer: the bytes of one sealed object, as a task's result or a Put
// value is read back. The user API (rayk::GetView) and the store plugins share
// this one type: a store's Get() returns it, and the user's view holds it.
//
// Thread safety: immutable; any thread may read it. The object stays pinned
// in its store until the last shared_ptr to the buffer is released.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rayk {

// A read-only view of a sealed object. The object stays pinned until the
// last shared_ptr to this buffer is released.
class ObjectBuffer {
 public:
  virtual ~ObjectBuffer() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
};

}  // namespace rayk
