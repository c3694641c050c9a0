#include "rpc/bounded_iarchive.h"

// The archive's out-of-line parts, instantiated once here as Boost does for
// its own archives (libs/serialization/src/binary_iarchive.cpp).
#include <boost/archive/impl/archive_serializer_map.ipp>

namespace boost::archive {
template class detail::archive_serializer_map<rayk::protocol::BoundedIArchive>;
}  // namespace boost::archive

namespace rayk::protocol {

void BoundedIArchive::CheckFits(uint64_t count, const char* what, const char* unit) const {
  size_t left = remaining();
  if (count <= left) return;
  throw DecodeLimitError(std::string(what) + " of " + std::to_string(count) + " " + unit +
                         " does not fit in the " + std::to_string(left) +
                         " bytes left in the message");
}

void BoundedIArchive::load(std::string& text) {
  uint64_t size = 0;
  load_binary(&size, sizeof(size));  // as binary_oarchive writes it: a size_t
  CheckFits(size, "a string", "bytes");
  ReadString(text, size);
}

void BoundedIArchive::load(bool& value) {
  static_assert(sizeof(bool) == 1, "binary_oarchive writes a bool as its one byte");
  uint8_t byte = 0;
  load_binary(&byte, 1);
  if (byte > 1) {
    throw DecodeLimitError("a bool of value " + std::to_string(byte) +
                           " (a bool on the wire is 0 or 1)");
  }
  value = byte == 1;
}

void BoundedIArchive::load_override(boost::serialization::collection_size_type& count) {
  basic_binary_iarchive<BoundedIArchive>::load_override(count);
  CheckFits(count, "a collection", "items");
}

}  // namespace rayk::protocol
