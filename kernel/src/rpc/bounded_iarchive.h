// BoundedIArchive: Boost's binary input archive, made safe for bytes from
// the network.
//
// It reads what WireOArchive (wire_archive.h) writes. Boost's
// binary_iarchive trusts the lengths it reads: a 46-byte message
// that claims a 2^30-byte string makes it allocate (and zero) 1 GiB before
// it notices the bytes are not there, and a vector's element count is
// reserved and default-constructed up front. This archive reads the same
// wire format (it is what binary_oarchive writes, with no header and no
// codecvt) but checks every string length and collection count against the
// bytes left in the message before anything is allocated, so decoding a
// message never allocates much more than the message's own size. It also
// refuses a bool byte other than 0 or 1, which Boost would copy into the bool
// as is (undefined behaviour: code reading it may see neither true nor false).
//
// The count check assumes every element of a collection takes at least one
// byte on the wire, which holds for every message struct (ids, numbers,
// strings, structs of those). It reads straight out of the message's bytes
// (rayk/internal/binary_archive.h: no stream, no locale). Not thread-safe:
// one archive per decode.
#pragma once

#include <boost/archive/basic_binary_iarchive.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/mpl/bool.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/item_version_type.hpp>
#include <boost/serialization/library_version_type.hpp>
#include <boost/serialization/nvp.hpp>
#include <boost/serialization/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rayk/internal/binary_archive.h"
#include "rpc/wire_archive.h"

namespace rayk::protocol {

// What a decode of bytes that cannot be a message (a length that would
// overrun it, a bool that is neither 0 nor 1) throws; Decode turns it into a
// Status.
class DecodeLimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class BoundedIArchive : public internal::ByteIPrimitive<BoundedIArchive>,
                        public boost::archive::basic_binary_iarchive<BoundedIArchive> {
 public:
  // Reads `body`, which must outlive the archive.
  explicit BoundedIArchive(std::string_view body)
      : ByteIPrimitive<BoundedIArchive>(body),
        basic_binary_iarchive<BoundedIArchive>(internal::kBinaryArchiveFlags) {}

  // Throws DecodeLimitError unless `count` units (bytes of a string, items
  // of a collection, each at least a byte) fit in the bytes left.
  void CheckFits(uint64_t count, const char* what, const char* unit) const;

  // Boost's archive machinery calls these on the most derived archive.
  using ByteIPrimitive<BoundedIArchive>::load;
  void load(std::string& text);
  void load(bool& value);
  template <class T>
  void load_override(T& value) {
    if constexpr (kFieldsOnly<T>) {
      SerializeFields(*this, value);  // as WireOArchive writes it: the fields alone
    } else {
      basic_binary_iarchive<BoundedIArchive>::load_override(value);
    }
  }
  void load_override(boost::serialization::collection_size_type& count);
  void load_override(boost::archive::class_name_type& name) { LoadClassName(name); }

 private:
  friend class boost::archive::load_access;
  friend class boost::archive::detail::interface_iarchive<BoundedIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedIArchive>;
};

}  // namespace rayk::protocol

BOOST_SERIALIZATION_REGISTER_ARCHIVE(rayk::protocol::BoundedIArchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(rayk::protocol::BoundedIArchive)

namespace rayk::protocol {

// A vector of structs: Boost reserves and default-constructs all `count`
// elements before reading the first; this grows it as elements arrive, so a
// lying count costs at most the message's size. Found by argument-dependent
// lookup, and preferred to Boost's as the more specialized overload. Vectors
// of plain bytes keep Boost's path (one bulk read), already bounded by the
// count check.
template <class U, class Allocator>
void load(BoundedIArchive& archive, std::vector<U, Allocator>& items, const unsigned int version) {
  using Optimized = typename boost::serialization::use_array_optimization<
      BoundedIArchive>::template apply<U>::type;
  if constexpr (Optimized::value) {
    boost::serialization::load(archive, items, version, boost::mpl::true_());
  } else {
    boost::serialization::collection_size_type count;
    archive >> BOOST_SERIALIZATION_NVP(count);  // checked against the bytes left
    if (boost::serialization::library_version_type(3) < archive.get_library_version()) {
      boost::serialization::item_version_type item_version(0);
      archive >> BOOST_SERIALIZATION_NVP(item_version);
    }
    items.clear();
    items.reserve(std::min<size_t>(count, archive.remaining() / sizeof(U) + 1));
    for (size_t i = 0; i < count; ++i) {
      items.emplace_back();
      archive >> boost::serialization::make_nvp("item", items.back());
    }
  }
}

}  // namespace rayk::protocol
