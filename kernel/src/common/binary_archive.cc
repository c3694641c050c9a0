// The out-of-line parts of rayk's binary archives (rayk/internal/binary_archive.h),
// instantiated once here as Boost does for its own archives
// (libs/serialization/src/binary_oarchive.cpp, binary_iarchive.cpp): the
// map of their serializers for pointers to exported classes. The rest is
// inline; the input archives read class names themselves (LoadClassName).
#include "rayk/internal/binary_archive.h"

#include <boost/archive/impl/archive_serializer_map.ipp>

namespace boost::archive {
template class detail::archive_serializer_map<rayk::internal::StringOArchive>;
template class detail::archive_serializer_map<rayk::internal::ViewIArchive>;
}  // namespace boost::archive
