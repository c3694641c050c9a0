// The machinery behind rayk/api.h: turning a call's arguments into TaskArgs,
// runtime results into values, and ErrorInfo into the exceptions of
// rayk/errors.h. Users do not include this directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "rayk/errors.h"
#include "rayk/internal/function_registry.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/internal/serialization.h"
#include "rayk/object_ref.h"
#include "rayk/view.h"

namespace rayk::internal {

inline constexpr std::chrono::milliseconds kForever{-1};

// Throws the rayk exception that `error` stands for (TaskError for
// kTaskError, and so on).
[[noreturn]] void ThrowError(const ErrorInfo& error);

// Waits for the objects and returns their values in order; throws
// GetTimeoutError when one is not ready in time and the mapped exception for
// the first object whose task failed.
std::vector<ObjectValue> GetValues(Runtime& runtime, const std::vector<ObjectId>& ids,
                                   std::chrono::milliseconds timeout);

// The bytes of a value (empty when the runtime stored none, as for void).
inline std::string_view BytesOf(const ObjectValue& value) {
  if (value.data == nullptr || value.data->size() == 0) return {};
  return {reinterpret_cast<const char*>(value.data->data()), value.data->size()};
}

template <class T>
std::shared_ptr<T> DecodeValue(const ObjectValue& value, const ObjectId& id) {
  DecodingScope borrowing;
  try {
    return std::make_shared<T>(Deserialize<T>(BytesOf(value)));
  } catch (const DecodeError& e) {
    throw RuntimeError("object " + id.Hex() + " cannot be decoded as " + TypeName<T>() + ": " +
                       e.detail());
  }
}

// A view of a raw-layout object's elements: in place when they are aligned
// for T (the case for store buffers, which start 16-aligned), otherwise from
// an aligned copy, so that a misaligned buffer costs a copy rather than
// undefined behaviour.
template <class T>
View<T> ViewValue(ObjectValue value, const ObjectId& id, const std::string& type) {
  RawPayload payload;
  try {
    payload = DecodeRaw(BytesOf(value), sizeof(T), type);
  } catch (const DecodeError& e) {
    throw RuntimeError("object " + id.Hex() + " cannot be viewed as " + type + ": " + e.detail());
  }
  if (payload.count == 0) return View<T>();
  if (reinterpret_cast<uintptr_t>(payload.data) % alignof(T) == 0) {
    return View<T>(std::move(value.data),
                   std::span<const T>(reinterpret_cast<const T*>(payload.data), payload.count));
  }
  auto copy = std::make_shared<std::vector<T>>(payload.count);
  std::memcpy(copy->data(), payload.data, payload.count * sizeof(T));
  std::span<const T> elements(copy->data(), copy->size());
  return View<T>(std::move(copy), elements);
}

// Throws RuntimeError unless `amount` of resource `name` is a demand a node
// could satisfy: a name without spaces or control characters, and an amount
// that is finite and at least kMinResourceAmount, or 0 for "CPU" (which drops
// a task's default CPU). `what` names the caller in the message, as in
// "rayk::Task(Add)"; the check runs where the user set the resource, so
// the error points at that line instead of leaving the task waiting forever.
// A task's or actor's GPU must also be a share of one device (at most 1) or
// whole devices (not 1.5), as the raylet grants devices.
inline constexpr double kMinResourceAmount = 0.0001;
void CheckResource(const std::string& what, const std::string& name, double amount);
// CheckResource without the GPU rule: for a placement-group bundle (GPU: 1.5 holds a task
// of 1 and one of 0.5) and a node's InitOptions::resources (whole devices: the node checks).
void CheckBundleResource(const std::string& what, const std::string& name, double amount);

// SetPlacementGroup of tasks and actors: checks the handle and the bundle
// index (-1: any bundle) and records them in `placement`; throws
// RuntimeError naming `what` ("rayk::Task(Add)") and the valid range.
void SetPlacementGroupOption(const std::string& what, const PlacementGroup& group, int bundle_index,
                             Placement* placement);

// SetLabelSelector of tasks and actors: throws RuntimeError naming `what`
// ("rayk::Task(Add)"), the entry and the syntax when a key or condition is
// not valid (rayk/label_selector.h).
void CheckLabelSelectorOption(const std::string& what,
                              const std::map<std::string, std::string>& selector);

// A namespace (InitOptions::namespace_name, SetNamespace, GetActor's ns):
// 1 to 64 letters, digits, '.', '_' or '-'; else throws RuntimeError naming
// `what` and the rule.
void CheckNamespaceOption(const std::string& what, const std::string& ns);

// Retry and restart counts take 0 or more, or kUnlimited (-1, as in Ray,
// runtime.h); anything else throws RuntimeError naming `what`
// ("SetMaxRetries") and the rule.
void CheckRetryCount(const std::string& what, int count);

// "Mul" when the symbol table knows the function at `address`, else its type
// and address: for the error of rayk::Task with an unregistered function.
std::string DescribeFunction(const void* address, const std::string& type);

template <class F>
std::string DescribeFunction(F function) {
  if constexpr (std::is_pointer_v<F>) {
    return DescribeFunction(reinterpret_cast<const void*>(function), TypeName<F>());
  } else {
    return "a member function of type " + TypeName<F>();
  }
}

// The error for a function no loaded RAYK_REMOTE line registered. Either the
// line is missing, or the library that has it is not loaded (dropped by the
// linker's --as-needed); the message names both causes and their fixes.
[[noreturn]] void ThrowNotRegistered(const char* what, const std::string& description);

// The name RAYK_REMOTE registered `function` under (a task function, an actor
// factory or a method: `what` says which, for the error). Every typed entry
// point looks names up here, so an unregistered function fails the same way
// wherever it is used, and before anything is sent.
template <class F>
std::string RegisteredName(F function, const char* what) {
  std::optional<std::string> name = FunctionRegistry::Instance().NameOf(KeyOf(function));
  if (!name) ThrowNotRegistered(what, DescribeFunction(function));
  return std::move(*name);
}

template <class T>
struct IsObjectRef : std::false_type {};
template <class T>
struct IsObjectRef<ObjectRef<T>> : std::true_type {};

// One argument of a call to `function` whose parameter `index` is a P. A
// top-level ObjectRef travels as a reference the runtime resolves before the
// call, unless the parameter itself is an ObjectRef; anything else is
// converted to the parameter's type first (so Remote(1, 2) calls
// Add(int, int) and Remote("x") a std::string parameter) and encoded as one.
template <class P, class A>
TaskArg MakeTaskArg([[maybe_unused]] Runtime& runtime, const std::string& function, size_t index,
                    A&& arg) {
  using Param = std::decay_t<P>;
  using Arg = std::decay_t<A>;
  TaskArg out;
  if constexpr (IsObjectRef<Arg>::value && !IsObjectRef<Param>::value) {
    static_assert(std::is_same_v<typename Arg::ValueType, Param>,
                  "an ObjectRef<U> argument must hold exactly the parameter's type: the worker "
                  "decodes the object's bytes as the parameter, and bytes are not converted");
    if (arg.IsNil()) {
      throw RuntimeError("argument " + std::to_string(index + 1) + " of " + function +
                         " is an empty ObjectRef");
    }
    out.is_ref = true;
    out.ref = arg.ID();
    // The submitting runtime resolves top-level refs itself and knows their
    // owners; asking OwnerAddress() here would take a serialization hold
    // (reference_counter.h) that nothing claims.
  } else {
    static_assert(std::is_convertible_v<A&&, Param>,
                  "an argument of Remote() does not convert to the function's parameter type");
    try {
      if constexpr (std::is_same_v<Arg, Param>) {
        out.value = Serialize<Param>(arg);
      } else {
        const Param converted = std::forward<A>(arg);
        out.value = Serialize<Param>(converted);
      }
    } catch (const RuntimeError&) {
      throw;
    } catch (const std::exception& e) {
      throw RuntimeError("argument " + std::to_string(index + 1) + " of " + function +
                         " cannot be encoded as " + TypeName<Param>() + ": " + e.what());
    }
  }
  return out;
}

template <class Traits, class... A, size_t... I>
std::vector<TaskArg> MakeTaskArgs(Runtime& runtime, const std::string& function,
                                  std::index_sequence<I...>, A&&... args) {
  std::vector<TaskArg> out;
  out.reserve(sizeof...(A));
  (out.push_back(MakeTaskArg<typename Traits::template Param<I>>(runtime, function, I,
                                                                 std::forward<A>(args))),
   ...);
  return out;
}

// A name for a call in task listings: throws RuntimeError naming the rule
// for an empty name or one with a control character.
void CheckCallName(const std::string& name);
// SetGeneratorBackpressure(count) on `call` ("rayk::Task(F)", "a call of
// &C::M"): the count as the call carries it; throws RuntimeError for 0 or
// one above 2^32 - 1.
uint32_t CheckGeneratorBackpressure(const std::string& call, size_t count);

// The options every call has, shared by rayk::TaskCaller and
// rayk::ActorTaskCaller (which derive from it, naming themselves as Caller).
template <class Caller>
class CallOptions {
 public:
  // Names the call wherever tasks are listed (`rayk list tasks`, `rayk
  // timeline`), as Ray's name option; by default a call is listed under its
  // function's or method's name. Throws RuntimeError for an empty name or
  // one with a control character.
  Caller& SetName(std::string name) {
    CheckCallName(name);
    call_name_ = std::move(name);
    return static_cast<Caller&>(*this);
  }
  // Retries a call that throws, as Ray's retry_exceptions=True: a task within
  // SetMaxRetries, an actor call within the actor's SetMaxTaskRetries. Once
  // the retries are spent Get() throws the last attempt's TaskError. Use it
  // for calls that are safe to run again. A retried actor call may run after
  // calls submitted later.
  Caller& SetRetryExceptions(bool retry = true) {
    retry_exceptions_ = {retry, {}};
    return static_cast<Caller&>(*this);
  }
  // Retries only exceptions of these types or of types derived from them
  // (public bases, as the worker's C++ runtime knows them), as Ray's
  // retry_exceptions=[...]: SetRetryExceptions<std::runtime_error>().
  template <class... E>
  requires(sizeof...(E) > 0) Caller& SetRetryExceptions() {
    retry_exceptions_ = {false, {TypeName<E>()...}};
    return static_cast<Caller&>(*this);
  }

 protected:
  RetryExceptions retry_exceptions_;
  std::string call_name_;  // "": the function's name
};

}  // namespace rayk::internal
