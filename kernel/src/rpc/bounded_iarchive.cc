#include "rpc/bounded_iarchive.h"

// The archive's out-of-line parts, instantiated once here as Boost does for
// its own archives (libs/serialization/src/binary_iarchive.cpp).
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

namespace boost::archive {
template class detail::archive_serializer_map<rayk::protocol::BoundedIArchive>;
template class basic_binary_iprimitive<rayk::protocol::BoundedIArchive, char,
                                       std::char_traits<char>>;
template class basic_binary_iarchive<rayk::protocol::BoundedIArchive>;
template class binary_iarchive_impl<rayk::protocol::BoundedIArchive, char, std::char_traits<char>>;
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
  text.resize(size);
  if (size > 0) load_binary(text.data(), size);
}

void BoundedIArchive::load(bool& value) {
  // Boost reads the byte into the bool itself; a bool holding 2 or 0xff is
  // undefined behaviour, so the byte is checked before it becomes one.
  unsigned char byte = 0;
  load_binary(&byte, sizeof(byte));  // binary_oarchive writes a bool as one byte
  if (byte > 1) {
    throw DecodeLimitError("a bool byte of " + std::to_string(byte) + " is neither 0 nor 1");
  }
  value = byte == 1;
}

void BoundedIArchive::load_override(boost::serialization::collection_size_type& count) {
  binary_iarchive_impl::load_override(count);
  CheckFits(count, "a collection", "items");
}

}  // namespace rayk::protocol
