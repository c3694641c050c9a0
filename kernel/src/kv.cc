#include "rayk/kv.h"

#include "rayk/errors.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"

namespace rayk {

namespace {

internal::KvRuntime& RequireKvRuntime() {
  internal::RequireRuntime();
  internal::KvRuntime* kv = internal::CurrentKvRuntime();
  if (kv == nullptr) throw RuntimeError("this runtime has no cluster KV store");
  return *kv;
}

template <typename T>
T ValueOrThrow(Result<T> result, const char* operation, const std::string& key) {
  if (!result.ok()) throw RuntimeError(std::string(operation) + " '" + key + "': " + result.status().message());
  return std::move(*result);
}

}  // namespace

bool KvPut(const std::string& key, const std::string& value, const std::string& ns, bool overwrite) {
  return ValueOrThrow(RequireKvRuntime().KvPut(ns, key, value, overwrite), "rayk::KvPut", key);
}

std::optional<std::string> KvGet(const std::string& key, const std::string& ns) {
  return ValueOrThrow(RequireKvRuntime().KvGet(ns, key), "rayk::KvGet", key);
}

bool KvDelete(const std::string& key, const std::string& ns) {
  return ValueOrThrow(RequireKvRuntime().KvDelete(ns, key), "rayk::KvDelete", key);
}

std::vector<std::string> KvList(const std::string& prefix, const std::string& ns) {
  return ValueOrThrow(RequireKvRuntime().KvList(ns, prefix), "rayk::KvList", prefix);
}

}  // namespace rayk
