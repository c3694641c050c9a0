// Serialize<T> and Deserialize<T>: how task arguments, results and Put values
// become bytes and back.
//
// Most types go through one Boost.Serialization binary archive per value
// (rayk/internal/binary_archive.h: Boost's binary format, no signature, no
// stream, no locale), so any type with a
// `serialize` member or a Boost adapter works; the standard containers'
// adapters are included here, with rayk's own for std::optional, std::variant
// and std::tuple (rayk/internal/serialization_std.h).
//
// Raw layout. A top-level std::vector<T> of a trivially copyable T (not bool,
// not a pointer) and a top-level rayk::Buffer skip archives: their bytes are
// copied with one memcpy behind a 16-byte header, so that a large array costs
// a copy rather than per-element encoding, and rayk::GetView can point
// straight into the stored object:
//
//   offset 0   uint32  kRawMagic ("RKRB" in memory)
//   offset 4   uint32  element size in bytes (sizeof(T); 1 for Buffer)
//   offset 8   uint64  element count
//   offset 16  count * element size bytes: the elements as they lie in memory
//
// Integers are in host byte order (as in Boost's binary archives: every
// process of a cluster runs the same build). The header is 16 bytes so that
// the elements are aligned for any T with alignof(T) <= 16 whenever the
// object's bytes start 16-aligned, as store buffers do. A vector nested inside
// another value is written by Boost, which also copies such arrays in one
// block.
//
// Deserialize throws DecodeError (a rayk::RuntimeError) for bytes that are not
// a T: too short, trailing bytes left over, a length out of range, or a raw
// header that does not match. Both functions are thread-safe (no shared
// state).
#pragma once

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/basic_archive.hpp>
#include <boost/serialization/array.hpp>
#include <boost/serialization/deque.hpp>
#include <boost/serialization/list.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/shared_ptr.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unique_ptr.hpp>
#include <boost/serialization/unordered_map.hpp>
#include <boost/serialization/unordered_set.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "rayk/buffer.h"
#include "rayk/errors.h"
#include "rayk/internal/binary_archive.h"
#include "rayk/internal/serialization_std.h"

namespace rayk::internal {

// Bytes that cannot be decoded as the type asked for. what() is the whole
// sentence ("cannot decode int from 3 bytes: ..."); detail() is the reason
// alone, for callers that phrase their own ("argument 2 of Add cannot be
// decoded as int: <detail>").
class DecodeError : public RuntimeError {
 public:
  DecodeError(const std::string& type, size_t size, std::string detail)
      : RuntimeError("cannot decode " + type + " from " + std::to_string(size) +
                     " bytes: " + detail),
        detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// The readable name of a mangled type name ("std::invalid_argument"), with
// std::string spelled as such; the input itself when it does not demangle.
std::string Demangle(const char* mangled);

template <class T>
std::string TypeName() {
  return Demangle(typeid(T).name());
}

// ---------------------------------------------------------------------------
// Raw layout.

inline constexpr uint32_t kRawMagic = 0x42524b52;  // bytes 'R' 'K' 'R' 'B' on little-endian
inline constexpr size_t kRawHeaderSize = 16;

template <class T>
struct IsRawVector : std::false_type {};
template <class T>
struct IsRawVector<std::vector<T, std::allocator<T>>>
    : std::bool_constant<std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool> &&
                         !std::is_pointer_v<T> && !std::is_member_pointer_v<T>> {};

// True for the types written in the raw layout (see the comment atop).
template <class T>
inline constexpr bool kHasRawLayout = IsRawVector<T>::value || std::is_same_v<T, Buffer>;

// The element type of a raw-layout type: a vector's, or a Buffer's bytes.
template <class T>
struct RawElement {
  using type = typename T::value_type;
};
template <>
struct RawElement<Buffer> {
  using type = uint8_t;
};

// The elements of a raw-layout value: `count` elements of `element_size`
// bytes at `data` (which need not be aligned for the element type).
struct RawPayload {
  const uint8_t* data = nullptr;
  size_t count = 0;
};

// Header plus a copy of `count` elements at `data`.
std::string EncodeRaw(const void* data, size_t count, size_t element_size);
// The same, written into the kRawHeaderSize + count * element_size bytes at `out`.
void WriteRaw(uint8_t* out, const void* data, size_t count, size_t element_size);
// Writes the header of `count` elements of `element_size` bytes into the first
// kRawHeaderSize bytes at `out`, for a writer that puts the elements after it.
void WriteRawHeader(uint8_t* out, size_t count, size_t element_size);

// A raw-layout value not encoded yet: its elements, kept alive by `keep`
// (null: no value). A task's large array result goes so from the function
// to its worker, which encodes it once, where it will be read (straight into
// the node's store, as rayk::Put writes), rather than into a string first.
struct UnencodedRaw {
  std::shared_ptr<const void> keep;
  const void* data = nullptr;
  size_t count = 0;
  size_t element_size = 0;

  template <class T>
  static UnencodedRaw Of(T&& value) {
    using Value = std::decay_t<T>;
    auto kept = std::make_shared<const Value>(std::forward<T>(value));
    return {kept, kept->data(), kept->size(), sizeof(typename RawElement<Value>::type)};
  }
  explicit operator bool() const { return keep != nullptr; }
  size_t EncodedSize() const { return kRawHeaderSize + count * element_size; }
  void WriteTo(uint8_t* out) const { WriteRaw(out, data, count, element_size); }
  std::string Encode() const { return EncodeRaw(data, count, element_size); }
};
// Checks the header against `element_size` and the total size; throws
// DecodeError naming `type` when they do not match.
RawPayload DecodeRaw(std::string_view bytes, size_t element_size, const std::string& type);

// Why Boost (or a serialize function) failed, in words a user can act on.
std::string DescribeDecodeFailure(const std::exception& error);

// ---------------------------------------------------------------------------

template <class T>
std::string Serialize(const T& value) {
  if constexpr (IsRawVector<T>::value) {
    return EncodeRaw(value.data(), value.size(), sizeof(typename T::value_type));
  } else if constexpr (std::is_same_v<T, Buffer>) {
    return EncodeRaw(value.data(), value.size(), 1);
  } else {
    std::string out;
    StringOArchive archive(out);
    archive << value;
    return out;
  }
}

template <class T>
T Deserialize(std::string_view bytes) {
  static_assert(std::is_default_constructible_v<T>,
                "rayk decodes values into a default-constructed T: give the type a default "
                "constructor (it may be private if boost::serialization::access is a friend)");
  if constexpr (IsRawVector<T>::value) {
    using Element = typename T::value_type;
    RawPayload payload = DecodeRaw(bytes, sizeof(Element), TypeName<T>());
    T value;
    if (payload.count == 0) return value;
    if (reinterpret_cast<uintptr_t>(payload.data) % alignof(Element) == 0) {
      // Constructing from a pointer range copies trivially copyable elements
      // with one memmove, without first zero-filling the vector.
      const Element* first = reinterpret_cast<const Element*>(payload.data);
      value.assign(first, first + payload.count);
    } else {
      value.resize(payload.count);
      std::memcpy(value.data(), payload.data, payload.count * sizeof(Element));
    }
    return value;
  } else if constexpr (std::is_same_v<T, Buffer>) {
    RawPayload payload = DecodeRaw(bytes, 1, "rayk::Buffer");
    return Buffer(payload.data, payload.count);
  } else {
    T value;
    ViewIArchive archive(bytes);
    try {
      archive >> value;
    } catch (const RuntimeError&) {
      throw;  // already rayk's own words (a nested ObjectRef without a runtime, ...)
    } catch (const std::exception& error) {
      throw DecodeError(TypeName<T>(), bytes.size(), DescribeDecodeFailure(error));
    }
    if (archive.remaining() != 0) {
      // A value of another type, or more than one value: decoding "succeeded"
      // only by reading a prefix.
      throw DecodeError(TypeName<T>(), bytes.size(),
                        std::to_string(archive.remaining()) +
                            " bytes are left over after the value (the bytes hold another type)");
    }
    return value;
  }
}

}  // namespace rayk::internal
