// StringOArchive and ViewIArchive: Boost's binary archive format, written
// straight into a std::string and read straight out of a byte range.
//
// Boost's binary_oarchive and binary_iarchive sit on a std::streambuf and,
// whatever their flags, build a std::locale with a codecvt facet in their
// constructor (a copy of every facet of the stream's locale, then freed):
// about as costly as the encoding of a small message itself, and rayk builds
// one archive per message, argument and result. These archives write and read
// the same bytes as those (flags no_header | no_codecvt: Boost's
// basic_binary_oarchive/iarchive lay out the class, version and tracking
// fields; the primitives here are Boost's: a fundamental type as its bytes in
// host order, a bool as one byte, a string as its size_t length then its
// bytes, an array of bitwise-serializable elements as one block), with no
// stream, no locale and no allocation beyond the output string's own growth.
//
// StringOPrimitive and ByteIPrimitive are the writing and reading halves,
// shared by these (values: rayk/internal/serialization.h) and the protocol's
// WireOArchive and BoundedIArchive (rpc/wire_archive.h, rpc/bounded_iarchive.h).
// A read past the end throws boost::archive::archive_exception
// (input_stream_error), as Boost's archives do for a short stream.
#pragma once

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/basic_binary_iarchive.hpp>
#include <boost/archive/basic_binary_oarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/is_bitwise_serializable.hpp>
#include <boost/serialization/throw_exception.hpp>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rayk::internal {

inline constexpr unsigned kBinaryArchiveFlags =
    boost::archive::no_header | boost::archive::no_codecvt;

// Writes primitives into a string for the archive `Archive` built on it.
template <class Archive>
class StringOPrimitive {
 public:
  // Appends to `out`, which must outlive the archive.
  explicit StringOPrimitive(std::string& out) : out_(out) {}

  void save_binary(const void* data, size_t size) {
    out_.append(static_cast<const char*>(data), size);
  }

  // Arrays of bitwise-serializable elements go out as one block.
  struct use_array_optimization {
    template <class T>
    struct apply : public boost::serialization::is_bitwise_serializable<T> {};
  };
  template <class T>
  void save_array(const boost::serialization::array_wrapper<T>& array, unsigned int) {
    save_binary(array.address(), array.count() * sizeof(T));
  }

  template <class T>
  void save(const T& value) {
    save_binary(&value, sizeof(T));
  }
  void save(const std::string& text) {
    size_t size = text.size();
    save(size);
    save_binary(text.data(), size);
  }
  void save(const std::wstring& text) {
    size_t size = text.size();
    save(size);
    save_binary(text.data(), size * sizeof(wchar_t));
  }
  void save(const char* text) { save(std::string(text)); }

 private:
  std::string& out_;
};

class StringOArchive : public StringOPrimitive<StringOArchive>,
                       public boost::archive::basic_binary_oarchive<StringOArchive> {
 public:
  // Appends to `out`, which must outlive the archive.
  explicit StringOArchive(std::string& out)
      : StringOPrimitive<StringOArchive>(out),
        boost::archive::basic_binary_oarchive<StringOArchive>(kBinaryArchiveFlags) {}

 private:
  friend class boost::archive::save_access;
  friend class boost::archive::detail::interface_oarchive<StringOArchive>;
  friend class boost::archive::basic_binary_oarchive<StringOArchive>;

  template <class T>
  void save_override(const T& value) {
    basic_binary_oarchive<StringOArchive>::save_override(value);
  }
};

// Reads primitives from a byte range for the archive `Archive` built on it.
template <class Archive>
class ByteIPrimitive {
 public:
  explicit ByteIPrimitive(std::string_view bytes)
      : next_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - next_); }

  void load_binary(void* data, size_t size) {
    Need(size);
    if (size > 0) std::memcpy(data, next_, size);
    next_ += size;
  }

  struct use_array_optimization {
    template <class T>
    struct apply : public boost::serialization::is_bitwise_serializable<T> {};
  };
  template <class T>
  void load_array(boost::serialization::array_wrapper<T>& array, unsigned int) {
    load_binary(array.address(), array.count() * sizeof(T));
  }

  // An exported class's name (Boost's basic_binary_iarchive reads it the
  // same way, out of line).
  void LoadClassName(boost::archive::class_name_type& name) {
    size_t size = 0;
    load_binary(&size, sizeof(size));
    if (size > BOOST_SERIALIZATION_MAX_KEY_SIZE - 1) {
      boost::serialization::throw_exception(
          boost::archive::archive_exception(boost::archive::archive_exception::invalid_class_name));
    }
    load_binary(name.t, size);
    name.t[size] = '\0';
  }

  // The next `size` bytes as `text`. A length beyond the bytes left throws
  // std::length_error before anything is allocated (Boost's own archive
  // would first try to allocate it).
  void ReadString(std::string& text, size_t size) {
    if (size > remaining()) ThrowLengthOutOfRange(size);
    text.assign(next_, size);
    next_ += size;
  }

  template <class T>
  void load(T& value) {
    load_binary(&value, sizeof(T));
  }
  void load(std::string& text) {
    size_t size = 0;
    load_binary(&size, sizeof(size));
    ReadString(text, size);
  }
  void load(std::wstring& text) {
    size_t size = 0;
    load_binary(&size, sizeof(size));
    if (size > remaining() / sizeof(wchar_t)) ThrowLengthOutOfRange(size);
    text.resize(size);
    load_binary(text.data(), size * sizeof(wchar_t));
  }
  // A bool byte other than 0 or 1 reads as true (Boost would copy it into
  // the bool as is, which is undefined behaviour).
  void load(bool& value) {
    unsigned char byte = 0;
    load_binary(&byte, 1);
    value = byte != 0;
  }

 private:
  // What Boost's archives throw for a stream that ends too soon.
  static void ThrowShort() {
    boost::serialization::throw_exception(
        boost::archive::archive_exception(boost::archive::archive_exception::input_stream_error));
  }
  void ThrowLengthOutOfRange(size_t size) const {
    throw std::length_error("a string of " + std::to_string(size) + " characters in " +
                            std::to_string(remaining()) + " bytes");
  }
  void Need(size_t size) const {
    if (size > remaining()) ThrowShort();
  }

  const char* next_;
  const char* end_;
};

class ViewIArchive : public ByteIPrimitive<ViewIArchive>,
                     public boost::archive::basic_binary_iarchive<ViewIArchive> {
 public:
  // Reads `bytes`, which must outlive the archive.
  explicit ViewIArchive(std::string_view bytes)
      : ByteIPrimitive<ViewIArchive>(bytes),
        boost::archive::basic_binary_iarchive<ViewIArchive>(kBinaryArchiveFlags) {}

 private:
  friend class boost::archive::load_access;
  friend class boost::archive::detail::interface_iarchive<ViewIArchive>;
  friend class boost::archive::basic_binary_iarchive<ViewIArchive>;

  using ByteIPrimitive<ViewIArchive>::load;
  template <class T>
  void load_override(T& value) {
    basic_binary_iarchive<ViewIArchive>::load_override(value);
  }
  void load_override(boost::archive::class_name_type& name) { LoadClassName(name); }
};

}  // namespace rayk::internal

BOOST_SERIALIZATION_REGISTER_ARCHIVE(rayk::internal::StringOArchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(rayk::internal::StringOArchive)
BOOST_SERIALIZATION_REGISTER_ARCHIVE(rayk::internal::ViewIArchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(rayk::internal::ViewIArchive)
