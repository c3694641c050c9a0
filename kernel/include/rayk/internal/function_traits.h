// FunctionTraits<F>: the return type, class and parameter types of a function
// pointer or member-function pointer, which RAYK_REMOTE registers and
// rayk::Task calls. Compile-time only.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>

namespace rayk::internal {

// Not defined for anything but function and member-function pointers, so
// that a lambda or functor named in RAYK_REMOTE or rayk::Task fails to compile
// at the call (see IsRemoteCallable).
template <class F>
struct FunctionTraits;

template <class R, class... A>
struct FunctionTraits<R (*)(A...)> {
  using Return = R;
  using Class = void;
  using Params = std::tuple<A...>;
  // The types arguments are decoded into: the parameters without reference or const.
  using Values = std::tuple<std::decay_t<A>...>;
  template <size_t I>
  using Param = std::tuple_element_t<I, Params>;
  static constexpr size_t kArity = sizeof...(A);
  static constexpr bool kIsMethod = false;
};

template <class R, class... A>
struct FunctionTraits<R (*)(A...) noexcept> : FunctionTraits<R (*)(A...)> {};

template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...)> : FunctionTraits<R (*)(A...)> {
  using Class = C;
  static constexpr bool kIsMethod = true;
};

template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) const> : FunctionTraits<R (C::*)(A...)> {};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) noexcept> : FunctionTraits<R (C::*)(A...)> {};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) const noexcept> : FunctionTraits<R (C::*)(A...)> {};

template <class F, class = void>
struct IsRemoteCallable : std::false_type {};
template <class F>
struct IsRemoteCallable<F, std::void_t<typename FunctionTraits<F>::Return>> : std::true_type {};

template <class Values>
struct HasPointerParam;
template <class... T>
struct HasPointerParam<std::tuple<T...>> : std::bool_constant<(std::is_pointer_v<T> || ...)> {};

// A static function returning a pointer to a class is an actor factory
// (static Counter* Create(int start)), as in Ray's C++ API.
template <class F>
inline constexpr bool kIsActorFactory =
    !FunctionTraits<F>::kIsMethod && std::is_pointer_v<typename FunctionTraits<F>::Return> &&
    std::is_class_v<std::remove_pointer_t<typename FunctionTraits<F>::Return>>;

}  // namespace rayk::internal
