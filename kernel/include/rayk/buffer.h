// Buffer: an owned, contiguous block of bytes for large values.
//
// A Buffer passed to or returned from a task, or given to rayk::Put, is
// written into the object store as raw bytes (one memcpy, no per-byte
// encoding), and rayk::GetView reads it back in place without a copy. Use it
// for images, tensors, file contents and other opaque data; use std::vector<T>
// of a trivially copyable T for typed arrays, which take the same fast path.
//
// A Buffer is a plain value (copying copies the bytes); not synchronized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace rayk {

class Buffer {
 public:
  Buffer() = default;
  // `size` zero bytes.
  explicit Buffer(size_t size) : Buffer(Uninitialized(size)) {
    if (size_ > 0) std::memset(bytes_.get(), 0, size_);
  }
  // A copy of `size` bytes at `data`.
  Buffer(const void* data, size_t size) : Buffer(Uninitialized(size)) {
    if (size_ > 0) std::memcpy(bytes_.get(), data, size_);
  }
  static Buffer FromString(std::string_view text) { return Buffer(text.data(), text.size()); }
  // `size` bytes whose contents are unspecified: for a caller that fills them
  // all anyway, this saves clearing memory that is about to be overwritten.
  static Buffer Uninitialized(size_t size) {
    Buffer buffer;
    if (size > 0) buffer.bytes_ = std::make_unique_for_overwrite<uint8_t[]>(size);
    buffer.size_ = size;
    return buffer;
  }

  Buffer(const Buffer& other) : Buffer(other.data(), other.size()) {}
  Buffer& operator=(const Buffer& other) {
    if (this != &other) *this = Buffer(other);
    return *this;
  }
  Buffer(Buffer&& other) noexcept
      : bytes_(std::move(other.bytes_)), size_(std::exchange(other.size_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    bytes_ = std::move(other.bytes_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* begin() { return data(); }
  uint8_t* end() { return data() + size_; }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size_; }
  uint8_t& operator[](size_t i) { return bytes_[i]; }
  const uint8_t& operator[](size_t i) const { return bytes_[i]; }
  std::string_view AsStringView() const { return {reinterpret_cast<const char*>(data()), size_}; }

  friend bool operator==(const Buffer& a, const Buffer& b) {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data(), b.data(), a.size_) == 0);
  }

  // Boost.Serialization, for a Buffer nested inside another value (a
  // top-level Buffer bypasses archives altogether; see
  // rayk/internal/serialization.h). Written as a 64-bit size and the raw bytes.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    uint64_t size = size_;
    ar& size;
    if constexpr (!Archive::is_saving::value) *this = Uninitialized(static_cast<size_t>(size));
    if (size_ > 0) {
      if constexpr (Archive::is_saving::value) {
        ar.save_binary(data(), size_);
      } else {
        ar.load_binary(data(), size_);
      }
    }
  }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
};

}  // namespace rayk
