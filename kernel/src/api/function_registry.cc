#include "rayk/internal/function_registry.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace rayk::internal {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
};

// The link map of the binary holding `address`, or null.
const link_map* LinkMapOf(const void* address) {
  Dl_info info;
  link_map* map = nullptr;
  if (dladdr1(address, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0) return nullptr;
  return map;
}

const link_map* MainProgramLinkMap() {
  static const link_map* main_map = [] {
    link_map* map = nullptr;
    void* self = dlopen(nullptr, RTLD_LAZY | RTLD_NOLOAD);
    if (self != nullptr) {
      if (dlinfo(self, RTLD_DI_LINKMAP, &map) != 0) map = nullptr;
      dlclose(self);
    }
    return map;
  }();
  return main_map;
}

std::string ProgramPath() {
  static const std::string path = [] {
    boost::dll::fs::error_code error;
    return boost::dll::program_location(error).string();
  }();
  return path;
}

// An absolute, normalized path, so that one library found through two
// spellings (a relative rpath, a symlink) is listed once.
std::string Normalize(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  std::filesystem::path normal = std::filesystem::weakly_canonical(path, error);
  return error ? path : normal.string();
}

const char* KindName(FunctionKind kind) {
  switch (kind) {
    case FunctionKind::kFunction:
      return "function";
    case FunctionKind::kActorFactory:
      return "actor factory";
    case FunctionKind::kMethod:
      return "actor method";
  }
  return "function";
}

}  // namespace

struct FunctionRegistry::State {
  struct Entry {
    RegisteredFunction function;
    const void* anchor;
    uint64_t order;  // registration order, for stable listings
  };

  mutable std::shared_mutex mutex;
  std::unordered_map<std::string, std::unique_ptr<Entry>, StringHash, std::equal_to<>> by_name;
  std::unordered_map<std::string, std::string> name_by_key;
  std::vector<std::string> conflicts;
  uint64_t next_order = 0;
  // RAYK_CONCURRENCY_GROUP lines, which may load before or after the
  // RAYK_REMOTE lines of their methods: matched by key when asked.
  std::vector<std::pair<GroupMember, const void*>> group_members;
  // Entries of unloaded libraries, kept rather than freed: a thread may still
  // hold the pointer Find() gave it (a worker running a task while the
  // process exits and its static destructors unregister everything).
  std::vector<std::unique_ptr<Entry>> retired;

  std::vector<const Entry*> InOrder() const {
    std::vector<const Entry*> entries;
    entries.reserve(by_name.size());
    for (const auto& [name, entry] : by_name) entries.push_back(entry.get());
    std::sort(entries.begin(), entries.end(),
              [](const Entry* a, const Entry* b) { return a->order < b->order; });
    return entries;
  }
};

FunctionRegistry::FunctionRegistry() : state_(new State) {}

FunctionRegistry& FunctionRegistry::Instance() {
  // Leaked on purpose: libraries may unregister during static destruction,
  // after a static registry would already be gone.
  static FunctionRegistry* registry = new FunctionRegistry();
  return *registry;
}

const RegisteredFunction* FunctionRegistry::Find(std::string_view name) const {
  std::shared_lock lock(state_->mutex);
  auto it = state_->by_name.find(name);
  return it == state_->by_name.end() ? nullptr : &it->second->function;
}

std::optional<std::string> FunctionRegistry::NameOf(const FunctionKey& key) const {
  std::shared_lock lock(state_->mutex);
  auto it = state_->name_by_key.find(key.bytes());
  if (it == state_->name_by_key.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FunctionRegistry::Libraries() const {
  std::shared_lock lock(state_->mutex);
  std::vector<std::string> libraries;
  for (const State::Entry* entry : state_->InOrder()) {
    const RegisteredFunction& function = entry->function;
    if (function.in_executable || function.library.empty()) continue;
    if (std::find(libraries.begin(), libraries.end(), function.library) == libraries.end()) {
      libraries.push_back(function.library);
    }
  }
  return libraries;
}

namespace {

// Calls visit(base) for each public base class of `type`, nearest first and
// depth first, from the type information the Itanium C++ ABI keeps for every
// class (GCC and Clang); visit returns whether to go on into that base's own.
template <class Visit>
void ForEachPublicBase(const std::type_info* type, Visit&& visit) {
  if (const auto* single = dynamic_cast<const abi::__si_class_type_info*>(type)) {
    if (visit(single->__base_type)) ForEachPublicBase(single->__base_type, visit);
  } else if (const auto* multiple = dynamic_cast<const abi::__vmi_class_type_info*>(type)) {
    for (unsigned i = 0; i < multiple->__base_count; ++i) {
      const abi::__base_class_type_info& base = multiple->__base_info[i];
      if ((base.__offset_flags & abi::__base_class_type_info::__public_mask) == 0) continue;
      if (visit(base.__base_type)) ForEachPublicBase(base.__base_type, visit);
    }
  }
}

}  // namespace

bool FunctionRegistry::HasAsyncMethods(const std::type_info& actor_class) const {
  // A method registered as &Base::M names Base: an actor of a class derived
  // from it has that coroutine method too.
  std::vector<const std::type_info*> classes{&actor_class};
  ForEachPublicBase(&actor_class, [&classes](const std::type_info* base) {
    if (std::find_if(classes.begin(), classes.end(), [base](const std::type_info* seen) {
          return *seen == *base;
        }) != classes.end()) {
      return false;
    }
    classes.push_back(base);
    return true;
  });
  std::shared_lock lock(state_->mutex);
  for (const auto& [name, entry] : state_->by_name) {
    const RegisteredFunction& function = entry->function;
    if (!function.is_async || function.actor_class == nullptr) continue;
    for (const std::type_info* type : classes) {
      if (*function.actor_class == *type) return true;
    }
  }
  return false;
}

std::vector<std::string> FunctionRegistry::RegisteredInExecutable() const {
  std::shared_lock lock(state_->mutex);
  std::vector<std::string> names;
  for (const State::Entry* entry : state_->InOrder()) {
    if (entry->function.in_executable) names.push_back(entry->function.name);
  }
  return names;
}

std::vector<std::string> FunctionRegistry::Conflicts() const {
  std::shared_lock lock(state_->mutex);
  return state_->conflicts;
}

std::string FunctionRegistry::ConcurrencyGroupOf(std::string_view name) const {
  std::shared_lock lock(state_->mutex);
  auto it = state_->by_name.find(name);
  if (it == state_->by_name.end()) return "";
  for (const auto& [member, anchor] : state_->group_members) {
    if (member.key == it->second->function.key) return member.group;
  }
  return "";
}

std::vector<GroupMember> FunctionRegistry::GroupMembers(const std::type_info& actor_class) const {
  std::shared_lock lock(state_->mutex);
  std::vector<GroupMember> members;
  for (const auto& [member, anchor] : state_->group_members) {
    if (*member.actor_class == actor_class) members.push_back(member);
  }
  return members;
}

void FunctionRegistry::RegisterGroupMembers(std::vector<GroupMember> members, const void* anchor) {
  std::unique_lock lock(state_->mutex);
  for (GroupMember& member : members) state_->group_members.emplace_back(std::move(member), anchor);
}

void FunctionRegistry::Register(std::vector<RegisteredFunction> entries,
                                const std::string& location, const void* anchor) {
  // Where the line lives is the same for every entry: work it out once, and
  // outside the lock (it reads the file system).
  const link_map* map = LinkMapOf(anchor);
  const link_map* main_map = MainProgramLinkMap();
  // dladdr names the main program by argv[0], which may be relative or bare;
  // /proc/self/exe is not.
  const bool in_executable = map != nullptr && (map == main_map || map->l_name[0] == '\0');
  std::string library;
  if (in_executable) {
    library = ProgramPath();
  } else if (!location.empty()) {
    library = Normalize(location);
  } else if (map != nullptr) {
    library = Normalize(map->l_name);
  }

  std::unique_lock lock(state_->mutex);
  for (RegisteredFunction& function : entries) {
    function.library = library;
    function.in_executable = in_executable;
    auto existing = state_->by_name.find(function.name);
    if (existing != state_->by_name.end()) {
      // The same function seen twice (a RAYK_REMOTE line in a header included
      // by two files) is harmless; two functions under one name are not.
      if (!(existing->second->function.key == function.key)) {
        const RegisteredFunction& first = existing->second->function;
        state_->conflicts.push_back(
            std::string(KindName(function.kind)) + " " + function.name + " is registered by both " +
            first.library + " and " + function.library +
            " for different functions; calls run the first: qualify the names (ns::" +
            function.name + ") to tell them apart");
      }
      continue;
    }
    state_->name_by_key.emplace(function.key.bytes(), function.name);
    std::string name = function.name;
    state_->by_name.emplace(std::move(name),
                            std::make_unique<State::Entry>(
                                State::Entry{std::move(function), anchor, state_->next_order++}));
  }
}

void FunctionRegistry::Unregister(const void* anchor) {
  std::unique_lock lock(state_->mutex);
  std::erase_if(state_->group_members,
                [anchor](const auto& member) { return member.second == anchor; });
  for (auto it = state_->by_name.begin(); it != state_->by_name.end();) {
    if (it->second->anchor != anchor) {
      ++it;
      continue;
    }
    auto key = state_->name_by_key.find(it->second->function.key.bytes());
    if (key != state_->name_by_key.end() && key->second == it->first) {
      state_->name_by_key.erase(key);
    }
    state_->retired.push_back(std::move(it->second));
    it = state_->by_name.erase(it);
  }
}

Registrar::Registrar(const std::string& location, std::vector<RegisteredFunction> entries) {
  // `this` is a static object of the binary holding the RAYK_REMOTE line:
  // both the anchor that locates that binary and the key to unregister by.
  FunctionRegistry::Instance().Register(std::move(entries), location, this);
}

Registrar::~Registrar() { FunctionRegistry::Instance().Unregister(this); }

GroupRegistrar::GroupRegistrar(const char* group, std::vector<GroupMember> members) {
  for (GroupMember& member : members) member.group = group;
  FunctionRegistry::Instance().RegisterGroupMembers(std::move(members), this);
}

GroupRegistrar::~GroupRegistrar() { FunctionRegistry::Instance().Unregister(this); }

ErrorInfo RuntimeErrorInfo(std::string message) {
  ErrorInfo info;
  info.kind = ErrorInfo::Kind::kRuntime;
  info.message = std::move(message);
  return info;
}

namespace {

// The public base classes of a class type, nearest first, as names: a thrown
// std::system_error lists std::runtime_error, then std::exception.
void AddPublicBases(const std::type_info* type, std::vector<std::string>& bases) {
  ForEachPublicBase(type, [&bases](const std::type_info* base) {
    std::string name = Demangle(base->name());
    if (std::find(bases.begin(), bases.end(), name) != bases.end()) return false;
    bases.push_back(std::move(name));
    return true;
  });
}

}  // namespace

ErrorInfo ErrorFromCurrentException() {
  ErrorInfo info;
  info.kind = ErrorInfo::Kind::kTaskError;
  try {
    throw;
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (const std::exception& e) {
    info.remote_type = Demangle(typeid(e).name());
    AddPublicBases(&typeid(e), info.remote_bases);
    info.message = e.what();
  } catch (...) {
    // Not a std::exception: no message, but the runtime still knows the type
    // (throw 42 reports "int").
    const std::type_info* type = abi::__cxa_current_exception_type();
    info.remote_type = type != nullptr ? Demangle(type->name()) : "unknown";
    info.message = "an exception that does not derive from std::exception";
  }
  return info;
}

std::optional<ErrorInfo> CheckArgCount(const std::string& name, size_t expected, size_t got) {
  if (expected == got) return std::nullopt;
  return RuntimeErrorInfo(name + " takes " + std::to_string(expected) +
                          (expected == 1 ? " argument" : " arguments") + " but was called with " +
                          std::to_string(got));
}

InvokeResult WrongKindResult(const std::string& name, FunctionKind kind) {
  return {{},
          RuntimeErrorInfo(name + " is an " + KindName(kind) +
                           (kind == FunctionKind::kActorFactory
                                ? "; create actors with rayk::Actor, not rayk::Task"
                                : "; call it on an actor handle, not with rayk::Task"))};
}

}  // namespace rayk::internal
