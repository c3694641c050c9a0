#include "rayk/api.h"

#include <dlfcn.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "rayk/label_selector.h"
#include "scheduling/accelerators.h"

namespace rayk {

namespace internal {

namespace {

// 0.5, 1e-05, nan: as short as the number is, unlike std::to_string.
std::string FormatAmount(double amount) {
  std::ostringstream out;
  out << amount;
  return out.str();
}

std::string WithWhere(const ErrorInfo& error) {
  if (error.where.empty()) return error.message;
  return error.message + " (" + error.where + ")";
}

}  // namespace

void ThrowError(const ErrorInfo& error) {
  switch (error.kind) {
    case ErrorInfo::Kind::kTaskError:
      throw TaskError(error.remote_type.empty() ? "unknown" : error.remote_type, error.message,
                      error.where.empty() ? "where it ran is unknown" : error.where);
    case ErrorInfo::Kind::kWorkerCrashed:
      throw WorkerCrashedError(WithWhere(error));
    case ErrorInfo::Kind::kUnschedulable:
      throw UnschedulableError(WithWhere(error));
    case ErrorInfo::Kind::kObjectLost:
      throw ObjectLostError(WithWhere(error));
    case ErrorInfo::Kind::kActorDied:
      throw ActorDiedError(WithWhere(error));
    case ErrorInfo::Kind::kObjectStoreFull:
      throw ObjectStoreFullError(WithWhere(error));
    case ErrorInfo::Kind::kTaskTimedOut:
      throw TaskTimedOutError(WithWhere(error));
    case ErrorInfo::Kind::kOwnerDied:
      throw OwnerDiedError(WithWhere(error));
    case ErrorInfo::Kind::kTaskCancelled:
      throw TaskCancelledError(WithWhere(error));
    case ErrorInfo::Kind::kRuntime:
      break;
  }
  throw RuntimeError(WithWhere(error));
}

std::vector<ObjectValue> GetValues(Runtime& runtime, const std::vector<ObjectId>& ids,
                                   std::chrono::milliseconds timeout) {
  Result<std::vector<ObjectValue>> values = runtime.Get(ids, timeout);
  if (!values.ok()) {
    if (values.status().code() == StatusCode::kTimedOut) {
      throw GetTimeoutError(values.status().message());
    }
    throw RuntimeError(values.status().message());
  }
  if (values->size() != ids.size()) {
    throw RuntimeError("rayk::Get: the runtime returned " + std::to_string(values->size()) +
                       " values for " + std::to_string(ids.size()) + " objects (a bug in rayk)");
  }
  for (const ObjectValue& value : *values) {
    if (value.error) ThrowError(*value.error);
  }
  return std::move(values).value();
}

std::optional<ObjectId> NextStreamItem(const ObjectId& stream, std::chrono::milliseconds timeout) {
  Runtime& runtime = RequireRuntime();
  Result<std::optional<ObjectId>> item = runtime.NextStreamItem(stream, timeout);
  if (!item.ok()) {
    if (item.status().code() == StatusCode::kTimedOut)
      throw GetTimeoutError(item.status().message());
    throw RuntimeError("ObjectRefGenerator::Next: " + item.status().message());
  }
  return *item;
}

void CloseStream(const ObjectId& stream) {
  // After Shutdown there is nothing left to stop or free.
  if (Runtime* runtime = CurrentRuntime()) runtime->CloseStream(stream);
}

void CheckNamespaceOption(const std::string& what, const std::string& ns) {
  bool valid = !ns.empty() && ns.size() <= 64;
  for (char c : ns) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      valid = false;
    }
  }
  if (!valid) {
    throw RuntimeError(what + ": namespace '" + ns +
                       "' is not valid; use 1 to 64 letters, digits, '.', '_' or '-'");
  }
}

void CheckMethodGroups(const std::string& what, const std::type_info& actor_class,
                       const std::map<std::string, int>& declared) {
  std::vector<GroupMember> members = FunctionRegistry::Instance().GroupMembers(actor_class);
  for (const GroupMember& member : members) {
    for (const GroupMember& other : members) {
      if (other.key == member.key && other.group != member.group) {
        throw RuntimeError(what + ": " + member.method + " is in two concurrency groups, '" +
                           member.group + "' and '" + other.group +
                           "' (two RAYK_CONCURRENCY_GROUP lines); keep one");
      }
    }
    if (member.group != kDefaultConcurrencyGroup && !declared.contains(member.group)) {
      throw RuntimeError(what + ": " + member.method + " is in concurrency group '" + member.group +
                         "' (RAYK_CONCURRENCY_GROUP), which the actor does not " +
                         "declare; add .SetConcurrencyGroup(\"" + member.group + "\", n)");
    }
  }
}

void CheckLabelSelectorOption(const std::string& what,
                              const std::map<std::string, std::string>& selector) {
  Status status = CheckLabelSelector(selector, what + ".SetLabelSelector");
  if (!status.ok()) throw RuntimeError(status.message());
}

void CheckCallName(const std::string& name) {
  if (name.empty()) throw RuntimeError("SetName(\"\"): give the call a name, or leave it unset");
  for (char c : name) {
    if (std::iscntrl(static_cast<unsigned char>(c))) {
      throw RuntimeError(
          "SetName: a call's name cannot hold a control character (a newline, a tab); use "
          "printable characters");
    }
  }
}

uint32_t CheckGeneratorBackpressure(const std::string& call, size_t count) {
  if (count == 0 || count > UINT32_MAX) {
    throw RuntimeError("SetGeneratorBackpressure(" + std::to_string(count) + ") on " + call +
                       ": give 1 or more items, or leave it unset for no bound");
  }
  return static_cast<uint32_t>(count);
}

void CheckRetryCount(const std::string& what, int count) {
  if (count >= 0 || count == kUnlimited) return;
  throw RuntimeError(what + "(" + std::to_string(count) +
                     "): give 0 or more, or -1 for no limit (as in Ray)");
}

void CheckBundleResource(const std::string& what, const std::string& name, double amount) {
  const std::string where = what + ": resource '" + name + "'";
  if (name.empty()) {
    throw RuntimeError(what + ": a resource needs a name, as in SetResource(\"GPU\", 1)");
  }
  for (unsigned char c : name) {
    if (std::isspace(c) || std::iscntrl(c)) {
      throw RuntimeError(where + " has a space or control character in its name; " +
                         "resource names are single words such as \"GPU\" or \"accel_x\"");
    }
  }
  if (!std::isfinite(amount) || amount < 0) {
    throw RuntimeError(where + " = " + FormatAmount(amount) +
                       ": an amount must be a finite number, 0 or more");
  }
  if (amount == 0 && name != "CPU") {
    // Zero demands nothing; taking it silently hides a typo (0 for 10).
    throw RuntimeError(where + " = 0: demand a positive amount, or leave the resource out " +
                       "(only CPU may be 0, to drop a task's default CPU)");
  }
  if (amount > 0 && amount < kMinResourceAmount) {
    throw RuntimeError(where + " = " + FormatAmount(amount) + ": amounts below " +
                       FormatAmount(kMinResourceAmount) +
                       " cannot be scheduled; use at least that");
  }
}

void CheckResource(const std::string& what, const std::string& name, double amount) {
  CheckBundleResource(what, name, amount);
  // GPU is an accelerator on every node (others are declared per node, and
  // the raylet checks those): refuse a demand no node could ever grant.
  if (name == kGpuResource) {
    Status accelerator = CheckAcceleratorAmount(name, amount);
    if (!accelerator.ok()) throw RuntimeError(what + ": " + accelerator.message());
  }
}

void ThrowNotRegistered(const char* what, const std::string& description) {
  std::string loaded;
  for (const std::string& library : FunctionRegistry::Instance().Libraries()) {
    loaded += (loaded.empty() ? "" : ", ") + library;
  }
  throw RuntimeError(
      std::string(what) + " not registered with RAYK_REMOTE: " + description +
      ". Either no RAYK_REMOTE line names it: add RAYK_REMOTE(...) naming it at namespace scope " +
      "of a file of the job; or the library with that line is not loaded in this process " +
      "(loaded: " + (loaded.empty() ? "none" : loaded) + "): a linker with --as-needed, " +
      "Debian's default, drops a library none of whose symbols is used, as when only " +
      "functions defined inline in its headers are called; build the program with " +
      "rayk_add_job(... LIBRARIES <library>) or link it with -Wl,--no-as-needed (docs/jobs.md)");
}

std::string DescribeFunction(const void* address, const std::string& type) {
  // Only symbols in the dynamic symbol table have names here: those of
  // shared libraries, and of executables linked with -rdynamic.
  Dl_info info;
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr && info.dli_saddr == address) {
    return Demangle(info.dli_sname);
  }
  char where[32];
  std::snprintf(where, sizeof(where), "%p", address);
  return "the function of type " + type + " at " + where;
}

void CancelObject(const ObjectId& id, const CancelOptions& options) {
  Runtime& runtime = RequireRuntime();
  if (id.IsNil()) throw RuntimeError("rayk::Cancel of an empty ObjectRef");
  Status status = runtime.Cancel(id, options.force, options.recursive);
  if (!status.ok()) throw RuntimeError("rayk::Cancel: " + status.message());
}

}  // namespace internal

bool IsCancelled() {
  internal::Runtime* runtime = internal::CurrentRuntime();
  return runtime != nullptr && runtime->IsCancelled();
}

void Get(const ObjectRef<void>& ref, std::chrono::milliseconds timeout) {
  internal::Runtime& runtime = internal::RequireRuntime();
  if (ref.IsNil()) throw RuntimeError("rayk::Get of an empty ObjectRef");
  internal::GetValues(runtime, {ref.ID()}, timeout);
}

void Get(const std::vector<ObjectRef<void>>& refs, std::chrono::milliseconds timeout) {
  internal::Runtime& runtime = internal::RequireRuntime();
  std::vector<ObjectId> ids;
  ids.reserve(refs.size());
  for (const ObjectRef<void>& ref : refs) {
    if (ref.IsNil()) throw RuntimeError("rayk::Get of an empty ObjectRef");
    ids.push_back(ref.ID());
  }
  internal::GetValues(runtime, ids, timeout);
}

View<uint8_t> GetView(const ObjectRef<Buffer>& ref, std::chrono::milliseconds timeout) {
  internal::Runtime& runtime = internal::RequireRuntime();
  if (ref.IsNil()) throw RuntimeError("rayk::GetView of an empty ObjectRef");
  std::vector<internal::ObjectValue> values = internal::GetValues(runtime, {ref.ID()}, timeout);
  return internal::ViewValue<uint8_t>(std::move(values[0]), ref.ID(), "rayk::Buffer");
}

}  // namespace rayk
