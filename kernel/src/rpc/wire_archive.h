// WireOArchive: how a message struct becomes the body of a message
// (codec.h), and what BoundedIArchive (bounded_iarchive.h) reads back.
//
// Boost's binary format (rayk/internal/binary_archive.h) with one change: a
// class is written as its fields alone, without the class information Boost
// puts before the first object of each class (a tracking flag and a version)
// and without Boost's per-archive bookkeeping for it (a set of the classes
// seen so far, ordered by comparing mangled type names: a third of the time
// of encoding a small message). Message structs are plain values (no
// pointers, no versions: a change of shape bumps the protocol version
// instead), so nothing is lost. Standard containers keep Boost's layout (a
// count, then the items); primitives are as in Boost's binary archives.
#pragma once

#include <boost/archive/basic_binary_oarchive.hpp>
#include <boost/serialization/array_optimization.hpp>
#include <boost/serialization/level.hpp>
#include <boost/serialization/serialization.hpp>
#include <boost/serialization/version.hpp>
#include <string>
#include <type_traits>

#include "rayk/internal/binary_archive.h"

namespace rayk::protocol {

// The classes Boost would write with their class information: these go
// on the wire as their fields alone.
template <class T>
inline constexpr bool kFieldsOnly = std::is_class_v<T> &&
                                    (boost::serialization::implementation_level<T>::value >=
                                     boost::serialization::object_class_info);

// Calls the serialize function of `value` (a member, or a free one found by
// argument-dependent lookup, as Boost does).
template <class Archive, class T>
void SerializeFields(Archive& archive, T& value) {
  boost::serialization::serialize_adl(archive, value, boost::serialization::version<T>::value);
}

class WireOArchive : public internal::StringOPrimitive<WireOArchive>,
                     public boost::archive::basic_binary_oarchive<WireOArchive> {
 public:
  // Appends to `out`, which must outlive the archive.
  explicit WireOArchive(std::string& out)
      : StringOPrimitive<WireOArchive>(out),
        basic_binary_oarchive<WireOArchive>(internal::kBinaryArchiveFlags) {}

 private:
  friend class boost::archive::save_access;
  friend class boost::archive::detail::interface_oarchive<WireOArchive>;
  friend class boost::archive::basic_binary_oarchive<WireOArchive>;

  template <class T>
  void save_override(const T& value) {
    if constexpr (kFieldsOnly<T>) {
      SerializeFields(*this, const_cast<T&>(value));  // serialize only reads, when saving
    } else {
      basic_binary_oarchive<WireOArchive>::save_override(value);
    }
  }
};

}  // namespace rayk::protocol

// Vectors of numbers go out as one block, as BoundedIArchive reads them.
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(rayk::protocol::WireOArchive)
