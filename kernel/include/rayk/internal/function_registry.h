// FunctionRegistry: the process-wide table of remote functions, filled by
// RAYK_REMOTE (rayk/api.h) while libraries load.
//
// Each RAYK_REMOTE line registers its entries by name, as the macro spells
// them ("Add", "Counter::Create", "&Counter::Incr"), together with a key made
// of the function pointer's type and bytes (so rayk::Task(Add) finds the name
// from the pointer), a type-erased invoker that decodes serialized arguments,
// calls the function and encodes its result, and the path of the binary the
// line was compiled into (so rayk::Init knows which libraries workers must
// load, and can refuse functions that only exist in the driver executable).
//
// Three kinds of entries: plain functions (tasks), actor factories (a static
// function returning a pointer to a class) and actor methods (a
// member-function pointer). A worker runs an entry by name; the invoker never
// throws: user exceptions and undecodable arguments come back as ErrorInfo.
//
// Thread-safety: registration (static initialization of each library, which
// may happen on any thread that dlopens) and every lookup may run
// concurrently. A RegisteredFunction pointer stays valid for the life of the
// process, but once the library that registered it is unloaded its code is
// gone: callers keep the libraries they run loaded.
#pragma once

#include <boost/dll/runtime_symbol_info.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "rayk/async.h"
#include "rayk/generator.h"
#include "rayk/internal/function_traits.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/internal/serialization.h"
#include "rayk/internal/split_returns.h"

namespace rayk::internal {

enum class FunctionKind {
  kFunction,      // a task: R F(Args...)
  kActorFactory,  // static C* C::Create(Args...): constructs an actor
  kMethod,        // R (C::*)(Args...): called on an actor instance
};

// A task's or method's outcome: the serialized return value (empty for
// void), or what went wrong instead. A call split into several returns
// (SetNumReturns) has its first element in `value` and the rest in
// `more_values`. A large array (a raw-layout value over kUnencodedResultMin
// bytes) is left unencoded in `raw` instead of `value`, for the worker to
// write straight where it will be read; Encoded() encodes it.
struct InvokeResult {
  InvokeResult() = default;
  InvokeResult(std::string value_in, std::optional<ErrorInfo> error_in)
      : value(std::move(value_in)), error(std::move(error_in)) {}

  // `value`, after encoding `raw` into it if the result is there.
  std::string& Encoded() {
    if (raw) value = std::exchange(raw, {}).Encode();
    return value;
  }

  std::string value;
  UnencodedRaw raw;
  std::optional<ErrorInfo> error;
  std::vector<std::string> more_values;
  // A streaming generator (rayk/generator.h) in place of `value`: each call
  // runs the producer to its next co_yield and encodes that item into `item`
  // (true), or reports its end (false, with `error` set when it threw). The
  // producer and its arguments live as long as this function.
  using NextItemFn = std::function<bool(std::string& item, std::optional<ErrorInfo>& error)>;
  NextItemFn next_item;
};

// An actor factory's outcome: the new instance (deleted as its own class when
// the last copy goes), or what went wrong instead.
struct ActorCreateResult {
  std::shared_ptr<void> instance;
  std::optional<ErrorInfo> error;
};

// Serialized arguments, one per parameter, in order.
using ArgList = std::vector<std::string_view>;

// Identifies a function pointer or member-function pointer: the mangled name
// of its type followed by its bytes. The type keeps two member pointers with
// the same bytes (the same virtual slot of two classes) apart.
class FunctionKey {
 public:
  FunctionKey() = default;
  explicit FunctionKey(std::string bytes) : bytes_(std::move(bytes)) {}
  const std::string& bytes() const { return bytes_; }
  friend bool operator==(const FunctionKey& a, const FunctionKey& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  std::string bytes_;
};

template <class F>
FunctionKey KeyOf(F f) {
  static_assert(IsRemoteCallable<F>::value, "not a function or member-function pointer");
  std::string bytes(typeid(F).name());
  bytes.push_back('\0');
  bytes.append(reinterpret_cast<const char*>(&f), sizeof(F));
  return FunctionKey(std::move(bytes));
}

struct RegisteredFunction {
  std::string name;  // as RAYK_REMOTE spelled it
  FunctionKind kind = FunctionKind::kFunction;
  FunctionKey key;
  size_t num_args = 0;
  // kActorFactory: the class it constructs; kMethod: the class it is a
  // member of (for an inherited method, the base that declares it).
  const std::type_info* actor_class = nullptr;
  // The binary that holds the RAYK_REMOTE line: a shared library, or the
  // main executable (in_executable). An absolute path where one is known.
  std::string library;
  bool in_executable = false;

  // kFunction. Set for every kind, so that running a factory or method as a
  // task is an error rather than a crash. `split_into` > 0: the result is a
  // tuple or vector of that many elements, each encoded on its own
  // (split_returns.h); 0: the result is encoded whole.
  std::function<InvokeResult(const ArgList& args, size_t split_into)> invoke;
  // kActorFactory.
  std::function<ActorCreateResult(const ArgList& args)> create;
  // kMethod: `instance` is ActorCreateResult::instance.get() of the actor.
  // For a coroutine method (is_async) it answers with an error: such a call
  // needs an event loop, and runs through start_method.
  std::function<InvokeResult(void* instance, const ArgList& args, size_t split_into)> invoke_method;
  // kMethod returning rayk::Async<T>: starts the call on this thread and
  // calls `done` with its outcome when the coroutine finishes, which may be
  // before start_method returns or later, from the thread that resumed it.
  // The decoded arguments live until then.
  bool is_async = false;
  using DoneFn = std::function<void(InvokeResult)>;
  std::function<void(void* instance, const ArgList& args, size_t split_into, DoneFn done)>
      start_method;
};

// A method a RAYK_CONCURRENCY_GROUP line (rayk/concurrency_group.h) puts in a
// group.
struct GroupMember {
  std::string group;
  std::string method;  // as the line spells it, "&Service::Fetch"
  FunctionKey key;
  const std::type_info* actor_class = nullptr;  // the class that declares the method
};

class FunctionRegistry {
 public:
  // The process's registry. Never destroyed, so that registrations and
  // lookups during static destruction (a library unloading at exit) are safe.
  static FunctionRegistry& Instance();

  // The entry named `name`, or null. O(1).
  const RegisteredFunction* Find(std::string_view name) const;
  // The name a function pointer was registered under. O(1).
  std::optional<std::string> NameOf(const FunctionKey& key) const;
  // Every shared library that registered something, without the main
  // executable, in the order they registered: what workers must load.
  std::vector<std::string> Libraries() const;
  // Whether a method of `actor_class` (as declared in that class, not
  // inherited) registered so far is a coroutine: its actor is then async.
  bool HasAsyncMethods(const std::type_info& actor_class) const;
  // The names registered by the main executable, which workers cannot load.
  std::vector<std::string> RegisteredInExecutable() const;
  // One line per name registered twice for different functions (the first
  // registration wins): "function Add is registered by both A and B; ...".
  std::vector<std::string> Conflicts() const;
  // The concurrency group RAYK_CONCURRENCY_GROUP put the method registered
  // as `name` in (the first line's, if two name it), or "" for none.
  std::string ConcurrencyGroupOf(std::string_view name) const;
  // Every group assignment of a method declared in `actor_class`.
  std::vector<GroupMember> GroupMembers(const std::type_info& actor_class) const;

  // For Registrar. `location` is where boost::dll::this_line_location()
  // placed the RAYK_REMOTE line; `anchor` is an address inside the same
  // binary, which tells a library from the main executable.
  void Register(std::vector<RegisteredFunction> entries, const std::string& location,
                const void* anchor);
  // For GroupRegistrar, as Register.
  void RegisterGroupMembers(std::vector<GroupMember> members, const void* anchor);
  // Drops what Register() and RegisterGroupMembers() added with the same
  // anchor (a library unloading).
  void Unregister(const void* anchor);

 private:
  struct State;
  FunctionRegistry();
  State* state_;  // never freed, like the registry itself
};

// One per RAYK_REMOTE line: registers its entries when the binary that holds
// the line loads, and removes them when it unloads.
class Registrar {
 public:
  Registrar(const std::string& location, std::vector<RegisteredFunction> entries);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;
};

// One per RAYK_CONCURRENCY_GROUP line, as Registrar is per RAYK_REMOTE line.
class GroupRegistrar {
 public:
  GroupRegistrar(const char* group, std::vector<GroupMember> members);
  ~GroupRegistrar();
  GroupRegistrar(const GroupRegistrar&) = delete;
  GroupRegistrar& operator=(const GroupRegistrar&) = delete;
};

template <auto F>
GroupMember MakeGroupMember(const char* method) {
  using Fn = decltype(F);
  static_assert(std::is_member_function_pointer_v<Fn>,
                "RAYK_CONCURRENCY_GROUP takes actor methods: &Class::Method");
  return {"", method, KeyOf(F), &typeid(typename FunctionTraits<Fn>::Class)};
}

// ---------------------------------------------------------------------------
// Invokers. Errors are values: nothing below throws out of an invoker.

ErrorInfo RuntimeErrorInfo(std::string message);
// The ErrorInfo for the exception being handled (call inside a catch block):
// kTaskError with the dynamic type's readable name and what(). Rethrows the
// unwinding of a cancelled thread, which must not be swallowed.
ErrorInfo ErrorFromCurrentException();
std::optional<ErrorInfo> CheckArgCount(const std::string& name, size_t expected, size_t got);

template <class T>
bool DecodeArg(const std::string& name, size_t index, std::string_view bytes, T& out,
               std::optional<ErrorInfo>& error) {
  try {
    out = Deserialize<T>(bytes);
    return true;
  } catch (const DecodeError& e) {
    error = RuntimeErrorInfo("argument " + std::to_string(index + 1) + " of " + name +
                             " cannot be decoded as " + TypeName<T>() + ": " + e.detail());
  } catch (const std::exception& e) {
    error = RuntimeErrorInfo("argument " + std::to_string(index + 1) + " of " + name +
                             " cannot be decoded as " + TypeName<T>() + ": " + e.what());
  }
  return false;
}

// Decodes every argument into `values`, stopping at the first that fails.
template <class Values, size_t... I>
std::optional<ErrorInfo> DecodeArgs(const std::string& name, const ArgList& args, Values& values,
                                    std::index_sequence<I...>) {
  DecodingScope borrowing;  // the references in all the arguments register at once
  std::optional<ErrorInfo> error;
  (void)(DecodeArg(name, I, args[I], std::get<I>(values), error) && ...);
  return error;
}

// Array results at least this large are handed to the worker unencoded
// (InvokeResult::raw); smaller ones travel inline, encoded at once.
inline constexpr size_t kUnencodedResultMin = 64 << 10;

// Sets `result` from a whole value of type R: unencoded when it is a large
// array, else encoded.
template <class R, class V>
void SetWholeResult(V&& value, InvokeResult& result) {
  if constexpr (kHasRawLayout<R>) {
    if (value.size() * sizeof(typename RawElement<R>::type) >= kUnencodedResultMin) {
      result.raw = UnencodedRaw::Of(std::forward<V>(value));
      return;
    }
  }
  result.value = Serialize<R>(value);
}

// Calls `call` and encodes what it returns as the function's (decayed)
// return type: whole, or split into `split_into` elements.
template <class R, class Call>
InvokeResult RunAndEncode(const std::string& name, size_t split_into, Call&& call) {
  InvokeResult result;
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      if (split_into > 0) {
        result.error =
            RuntimeErrorInfo(name + " returns nothing, which SetNumReturns cannot split");
      }
    } else {
      decltype(auto) value = call();
      try {
        if (split_into == 0) {
          // A value returned is moved, one referred to is copied.
          SetWholeResult<std::decay_t<R>>(std::forward<decltype(value)>(value), result);
        } else {
          std::string error;
          if (!EncodeEach<std::decay_t<R>>(name, value, split_into, result.value,
                                           result.more_values, error)) {
            result.error = RuntimeErrorInfo(std::move(error));
          }
        }
      } catch (const std::exception& e) {
        result.error = RuntimeErrorInfo("the result of " + name + " cannot be encoded as " +
                                        TypeName<std::decay_t<R>>() + ": " + e.what());
      }
    }
  } catch (...) {
    result.error = ErrorFromCurrentException();
  }
  return result;
}

// Passes decoded values as the parameters want them: moved into by-value and
// rvalue-reference parameters, as lvalues to reference parameters.
template <auto F, class Values, size_t... I>
decltype(auto) CallDecoded(void* instance, Values& values, std::index_sequence<I...>) {
  using Traits = FunctionTraits<decltype(F)>;
  if constexpr (Traits::kIsMethod) {
    auto* self = static_cast<typename Traits::Class*>(instance);
    return std::invoke(F, self,
                       static_cast<typename Traits::template Param<I>&&>(std::get<I>(values))...);
  } else {
    (void)instance;
    return std::invoke(F,
                       static_cast<typename Traits::template Param<I>&&>(std::get<I>(values))...);
  }
}

// A streaming generator's call: the producer is made now (its body runs at
// the first item), and the decoded arguments it may refer to live with it.
template <auto F>
InvokeResult StartGenerator(const std::string& name, void* instance, const ArgList& args,
                            size_t split_into) {
  using Traits = FunctionTraits<decltype(F)>;
  using Indices = std::make_index_sequence<Traits::kArity>;
  using Item = typename GeneratorTraits<std::decay_t<typename Traits::Return>>::Item;
  struct Running {
    typename Traits::Values values;           // destroyed after the producer,
    std::optional<Generator<Item>> producer;  // which may refer to them
  };
  if (split_into > 0) {
    return {{},
            RuntimeErrorInfo(name + " is a generator: its items are objects already; "
                                    "call it without SetNumReturns")};
  }
  auto running = std::make_shared<Running>();
  if (auto error = DecodeArgs(name, args, running->values, Indices())) {
    return {{}, std::move(error)};
  }
  InvokeResult result;
  try {
    running->producer.emplace(CallDecoded<F>(instance, running->values, Indices()));
  } catch (...) {
    result.error = ErrorFromCurrentException();
    return result;
  }
  result.next_item = [name, running](std::string& item, std::optional<ErrorInfo>& error) {
    try {
      if (!running->producer->Next()) return false;
    } catch (...) {
      error = ErrorFromCurrentException();
      return false;
    }
    try {
      item = Serialize<Item>(running->producer->Value());
    } catch (const std::exception& e) {
      error = RuntimeErrorInfo("an item of " + name + " cannot be encoded as " + TypeName<Item>() +
                               ": " + e.what());
      return false;
    }
    return true;
  };
  return result;
}

template <auto F>
InvokeResult InvokeDecoded(const std::string& name, void* instance, const ArgList& args,
                           size_t split_into) {
  using Traits = FunctionTraits<decltype(F)>;
  using Indices = std::make_index_sequence<Traits::kArity>;
  if (auto error = CheckArgCount(name, Traits::kArity, args.size())) return {{}, std::move(error)};
  if constexpr (GeneratorTraits<std::decay_t<typename Traits::Return>>::kIsGenerator) {
    return StartGenerator<F>(name, instance, args, split_into);
  } else {
    typename Traits::Values values;
    if (auto error = DecodeArgs(name, args, values, Indices())) return {{}, std::move(error)};
    return RunAndEncode<typename Traits::Return>(name, split_into, [&]() -> decltype(auto) {
      return CallDecoded<F>(instance, values, Indices());
    });
  }
}

// A coroutine method: decodes the arguments into storage that lives until
// the coroutine ends (it may hold references to them), starts it, and
// encodes its outcome as InvokeDecoded does.
template <auto F>
void StartDecoded(const std::string& name, void* instance, const ArgList& args, size_t split_into,
                  RegisteredFunction::DoneFn done) {
  using Traits = FunctionTraits<decltype(F)>;
  using Indices = std::make_index_sequence<Traits::kArity>;
  using Value = typename std::decay_t<typename Traits::Return>::ValueType;
  if (auto error = CheckArgCount(name, Traits::kArity, args.size())) {
    return done({{}, std::move(error)});
  }
  auto values = std::make_shared<typename Traits::Values>();
  if (auto error = DecodeArgs(name, args, *values, Indices())) return done({{}, std::move(error)});
  std::optional<typename Traits::Return> task;
  try {
    task.emplace(CallDecoded<F>(instance, *values, Indices()));
  } catch (...) {
    return done({{}, ErrorFromCurrentException()});
  }
  StartAsync(
      std::move(*task), [name, values, split_into, done = std::move(done)](Async<Value>& finished) {
        done(RunAndEncode<Value>(name, split_into, [&]() -> Value { return finished.Take(); }));
      });
}

template <auto F>
ActorCreateResult CreateActor(const std::string& name, const ArgList& args) {
  using Traits = FunctionTraits<decltype(F)>;
  using Class = std::remove_pointer_t<typename Traits::Return>;
  using Indices = std::make_index_sequence<Traits::kArity>;
  ActorCreateResult result;
  if ((result.error = CheckArgCount(name, Traits::kArity, args.size()))) return result;
  typename Traits::Values values;
  if ((result.error = DecodeArgs(name, args, values, Indices()))) return result;
  try {
    std::shared_ptr<Class> instance(CallDecoded<F>(nullptr, values, Indices()));
    if (instance == nullptr) {
      result.error = RuntimeErrorInfo("actor factory " + name + " returned null");
    } else {
      result.instance = std::move(instance);
    }
  } catch (...) {
    result.error = ErrorFromCurrentException();
  }
  return result;
}

InvokeResult WrongKindResult(const std::string& name, FunctionKind kind);

// The entry for one function named in RAYK_REMOTE; the Registrar fills in
// where it lives.
template <auto F>
RegisteredFunction MakeEntry(const char* name) {
  using Fn = decltype(F);
  static_assert(IsRemoteCallable<Fn>::value,
                "RAYK_REMOTE takes functions, static member functions and &Class::Method; for an "
                "overloaded name, pick one with static_cast<int (*)(int, int)>(Add)");
  using Traits = FunctionTraits<Fn>;
  static_assert(!HasPointerParam<typename Traits::Values>::value,
                "remote functions take values and references, not raw pointers: the pointee "
                "would not exist in the process that runs the call");
  static_assert(Traits::kIsMethod || !IsAsync<std::decay_t<typename Traits::Return>>::value,
                "rayk::Async<T> is for actor methods (an async actor); a task is a plain "
                "function that returns its value");
  RegisteredFunction entry;
  entry.name = name;
  entry.key = KeyOf(F);
  entry.num_args = Traits::kArity;
  if constexpr (Traits::kIsMethod && IsAsync<std::decay_t<typename Traits::Return>>::value) {
    entry.kind = FunctionKind::kMethod;
    entry.actor_class = &typeid(typename Traits::Class);
    entry.is_async = true;
    entry.invoke_method = [n = entry.name](void*, const ArgList&, size_t) {
      return InvokeResult{
          {}, RuntimeErrorInfo(n + " is a coroutine: it runs on an actor's event loop")};
    };
    entry.start_method = [n = entry.name](void* instance, const ArgList& args, size_t split_into,
                                          RegisteredFunction::DoneFn done) {
      if (instance == nullptr) return done({{}, RuntimeErrorInfo(n + " called without an actor")});
      StartDecoded<F>(n, instance, args, split_into, std::move(done));
    };
  } else if constexpr (Traits::kIsMethod) {
    entry.kind = FunctionKind::kMethod;
    entry.actor_class = &typeid(typename Traits::Class);
    entry.invoke_method = [n = entry.name](void* instance, const ArgList& args, size_t split_into) {
      if (instance == nullptr)
        return InvokeResult{{}, RuntimeErrorInfo(n + " called without an actor")};
      return InvokeDecoded<F>(n, instance, args, split_into);
    };
  } else if constexpr (kIsActorFactory<Fn>) {
    entry.kind = FunctionKind::kActorFactory;
    entry.actor_class = &typeid(std::remove_pointer_t<typename Traits::Return>);
    entry.create = [n = entry.name](const ArgList& args) { return CreateActor<F>(n, args); };
  } else {
    entry.invoke = [n = entry.name](const ArgList& args, size_t split_into) {
      return InvokeDecoded<F>(n, nullptr, args, split_into);
    };
  }
  if (!entry.invoke) {
    entry.invoke = [n = entry.name, kind = entry.kind](const ArgList&, size_t) {
      return WrongKindResult(n, kind);
    };
  }
  return entry;
}

}  // namespace rayk::internal

// ---------------------------------------------------------------------------
// The RAYK_REMOTE expansion (the macro itself is in rayk/api.h).

#define RAYK_INTERNAL_CONCAT_IMPL(a, b) a##b
#define RAYK_INTERNAL_CONCAT(a, b) RAYK_INTERNAL_CONCAT_IMPL(a, b)

// RAYK_INTERNAL_FOR_EACH(m, a, b, c) is m(a), m(b), m(c): each rescan of
// RAYK_INTERNAL_EXPAND peels one argument, and 4^4 rescans allow 256 of them.
#define RAYK_INTERNAL_PARENS ()
#define RAYK_INTERNAL_EXPAND(...) \
  RAYK_INTERNAL_EXPAND3(          \
      RAYK_INTERNAL_EXPAND3(RAYK_INTERNAL_EXPAND3(RAYK_INTERNAL_EXPAND3(__VA_ARGS__))))
#define RAYK_INTERNAL_EXPAND3(...) \
  RAYK_INTERNAL_EXPAND2(           \
      RAYK_INTERNAL_EXPAND2(RAYK_INTERNAL_EXPAND2(RAYK_INTERNAL_EXPAND2(__VA_ARGS__))))
#define RAYK_INTERNAL_EXPAND2(...) \
  RAYK_INTERNAL_EXPAND1(           \
      RAYK_INTERNAL_EXPAND1(RAYK_INTERNAL_EXPAND1(RAYK_INTERNAL_EXPAND1(__VA_ARGS__))))
#define RAYK_INTERNAL_EXPAND1(...) __VA_ARGS__
#define RAYK_INTERNAL_FOR_EACH(macro, ...) \
  __VA_OPT__(RAYK_INTERNAL_EXPAND(RAYK_INTERNAL_FOR_EACH_STEP(macro, __VA_ARGS__)))
#define RAYK_INTERNAL_FOR_EACH_STEP(macro, first, ...) \
  macro(first) __VA_OPT__(, RAYK_INTERNAL_FOR_EACH_AGAIN RAYK_INTERNAL_PARENS(macro, __VA_ARGS__))
#define RAYK_INTERNAL_FOR_EACH_AGAIN() RAYK_INTERNAL_FOR_EACH_STEP

#define RAYK_INTERNAL_REMOTE_ENTRY(f) ::rayk::internal::MakeEntry<f>(#f)

// boost::dll::this_line_location() is a TU-local function, so calling it from
// the expansion names the binary that holds this very line.
#define RAYK_INTERNAL_REMOTE(...)                                                         \
  static const ::rayk::internal::Registrar RAYK_INTERNAL_CONCAT(rayk_internal_registrar_, \
                                                                __COUNTER__)(             \
      [] {                                                                                \
        ::boost::dll::fs::error_code rayk_error;                                          \
        return ::boost::dll::this_line_location(rayk_error).string();                     \
      }(),                                                                                \
      {RAYK_INTERNAL_FOR_EACH(RAYK_INTERNAL_REMOTE_ENTRY, __VA_ARGS__)})
