// ObjectWriter: an object written in place, then sealed.
//
// rayk::Put copies a value into the object store. A producer that can write
// its output where it will be read (a decoder filling a frame, a loader
// reading a file, a kernel writing a tensor) skips that copy: Create reserves
// the object's space, in the node's shared store when the object is large,
// and the producer fills it through data() before Seal makes it an
// immutable object owned by this process:
//
//   rayk::ObjectWriter<std::vector<float>> writer = rayk::Create<std::vector<float>>(n);
//   FillFrame(writer.data(), writer.size());
//   rayk::ObjectRef<std::vector<float>> frame = std::move(writer).Seal();
//
// The object is then exactly what rayk::Put(std::vector<float>{...}) would
// have stored: tasks take it as an argument, rayk::Get copies it out and
// rayk::GetView reads it in place. T is a std::vector of a trivially copyable
// type or rayk::Buffer (bytes). The space's contents are unspecified until
// written. A writer dropped without Seal gives its space back; Seal on a
// moved-from or sealed writer throws RuntimeError.
//
// Thread safety: a writer is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "rayk/errors.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/internal/serialization.h"
#include "rayk/object_ref.h"

namespace rayk {

template <class T>
class ObjectWriter {
  static_assert(internal::kHasRawLayout<T>,
                "rayk::Create writes arrays in place: T is a std::vector of a trivially copyable "
                "type or rayk::Buffer");

 public:
  using Element = typename internal::RawElement<T>::type;
  static_assert(alignof(Element) <= internal::kRawHeaderSize,
                "rayk::Create: elements aligned beyond 16 bytes cannot follow the object header");

  ObjectWriter(ObjectWriter&&) noexcept = default;
  ObjectWriter& operator=(ObjectWriter&&) noexcept = default;

  Element* data() { return space_ ? Elements() : nullptr; }
  size_t size() const { return count_; }
  Element* begin() { return data(); }
  Element* end() { return data() + count_; }

  // Makes the written elements an immutable object owned by this process.
  ObjectRef<T> Seal() && {
    if (!space_)
      throw RuntimeError("rayk::ObjectWriter::Seal: the writer was sealed or moved from");
    internal::Runtime& runtime = internal::RequireRuntime();
    return ObjectRef<T>(runtime.SealObject(std::move(space_)), typename ObjectRef<T>::AdoptTag());
  }

 private:
  template <class U>
  friend ObjectWriter<U> Create(size_t count);

  ObjectWriter(std::unique_ptr<internal::ObjectSpace> space, size_t count)
      : space_(std::move(space)), count_(count) {
    internal::WriteRawHeader(space_->data(), count_, sizeof(Element));
  }
  Element* Elements() {
    return reinterpret_cast<Element*>(space_->data() + internal::kRawHeaderSize);
  }

  std::unique_ptr<internal::ObjectSpace> space_;
  size_t count_ = 0;
};

// Reserves an object of `count` elements for the caller to fill; throws
// ObjectStoreFullError when the node's store cannot hold it.
template <class T>
ObjectWriter<T> Create(size_t count) {
  using Element = typename ObjectWriter<T>::Element;
  if (count > (SIZE_MAX - internal::kRawHeaderSize) / sizeof(Element))
    throw RuntimeError("rayk::Create of " + std::to_string(count) +
                       " elements: larger than memory can address; create a smaller object");
  internal::Runtime& runtime = internal::RequireRuntime();
  return ObjectWriter<T>(runtime.CreateObject(internal::kRawHeaderSize + count * sizeof(Element)),
                         count);
}

}  // namespace rayk
