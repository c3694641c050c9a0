// Boost.Serialization adapters for the standard types Boost 1.74 does not
// cover: std::optional, std::variant and std::tuple. Included by
// rayk/internal/serialization.h, so every type a task can take or return may
// use them.
//
// Each is written compactly (a presence flag, an alternative index, or the
// elements in order), with no per-type class information, since rayk never
// serializes them through pointers.
#pragma once

#include <boost/mpl/int.hpp>
#include <boost/mpl/integral_c_tag.hpp>
#include <boost/serialization/level.hpp>
#include <boost/serialization/tracking.hpp>
#include <boost/version.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>

// Boost 1.84 serializes std::optional itself; rayk's own adapter is for older
// releases, where neither exists.
#if BOOST_VERSION < 108400
#define RAYK_INTERNAL_STD_OPTIONAL 1
#endif
// Boost 1.78 added boost/serialization/std_variant.hpp.
#if __has_include(<boost/serialization/std_variant.hpp>)
#include <boost/serialization/std_variant.hpp>
#else
#define RAYK_INTERNAL_STD_VARIANT 1
#endif

// Marks a standard class template as written without class information and
// never tracked: the value's bytes only.
#define RAYK_INTERNAL_PLAIN_SERIALIZABLE(TEMPLATE_PARAMS, TYPE)                 \
  namespace boost::serialization {                                              \
  template <TEMPLATE_PARAMS>                                                    \
  struct implementation_level_impl<const TYPE> {                                \
    typedef mpl::integral_c_tag tag;                                            \
    typedef mpl::int_<object_serializable> type;                                \
    BOOST_STATIC_CONSTANT(int, value = implementation_level_impl::type::value); \
  };                                                                            \
  template <TEMPLATE_PARAMS>                                                    \
  struct tracking_level<TYPE> {                                                 \
    typedef mpl::integral_c_tag tag;                                            \
    typedef mpl::int_<track_never> type;                                        \
    BOOST_STATIC_CONSTANT(int, value = tracking_level::type::value);            \
  };                                                                            \
  }

namespace boost::serialization {

// One serialize() each rather than save()/load() pairs: Boost's shared_ptr
// adapter declares load(Archive&, SPT<U>&) for any class template SPT, and a
// load(ar, std::optional<T>&) call would make the compiler try it.

#ifdef RAYK_INTERNAL_STD_OPTIONAL
template <class Archive, class T>
void serialize(Archive& ar, std::optional<T>& value, const unsigned /*version*/) {
  if constexpr (Archive::is_saving::value) {
    bool present = value.has_value();
    ar << present;
    if (present) ar << *value;
  } else {
    bool present = false;
    ar >> present;
    if (!present) {
      value.reset();
      return;
    }
    // Loading in place (rather than into a temporary then moving) keeps the
    // object's address what Boost saw, should T hold tracked pointers.
    ar >> value.emplace();
  }
}
#endif

#ifdef RAYK_INTERNAL_STD_VARIANT
namespace rayk_detail {
template <size_t I, class Archive, class Variant>
void LoadAlternative(Archive& ar, Variant& value) {
  ar >> value.template emplace<I>();
}

template <class Archive, class Variant, size_t... I>
void LoadVariant(Archive& ar, Variant& value, uint32_t index, std::index_sequence<I...>) {
  using Loader = void (*)(Archive&, Variant&);
  static constexpr Loader kLoaders[] = {&LoadAlternative<I, Archive, Variant>...};
  kLoaders[index](ar, value);
}
}  // namespace rayk_detail

template <class Archive, class... T>
void serialize(Archive& ar, std::variant<T...>& value, const unsigned /*version*/) {
  if constexpr (Archive::is_saving::value) {
    if (value.valueless_by_exception()) {
      throw std::runtime_error("cannot serialize a std::variant that is valueless by exception");
    }
    uint32_t index = static_cast<uint32_t>(value.index());
    ar << index;
    std::visit([&ar](auto& alternative) { ar << alternative; }, value);
  } else {
    uint32_t index = 0;
    ar >> index;
    if (index >= sizeof...(T)) {
      throw std::runtime_error("std::variant alternative " + std::to_string(index) +
                               " is out of range (the type has " + std::to_string(sizeof...(T)) +
                               ")");
    }
    rayk_detail::LoadVariant(ar, value, index, std::index_sequence_for<T...>());
  }
}
#endif

// std::tuple: the elements in order. Saving and loading share one body
// because Boost's `&` does either.
template <class Archive, class... T>
void serialize(Archive& ar, std::tuple<T...>& value, const unsigned /*version*/) {
  std::apply([&ar](auto&... element) { ((ar & element), ...); }, value);
}

}  // namespace boost::serialization

#ifdef RAYK_INTERNAL_STD_OPTIONAL
RAYK_INTERNAL_PLAIN_SERIALIZABLE(class T, std::optional<T>)
#endif
#ifdef RAYK_INTERNAL_STD_VARIANT
RAYK_INTERNAL_PLAIN_SERIALIZABLE(class... T, std::variant<T...>)
#endif
RAYK_INTERNAL_PLAIN_SERIALIZABLE(class... T, std::tuple<T...>)
#undef RAYK_INTERNAL_PLAIN_SERIALIZABLE
