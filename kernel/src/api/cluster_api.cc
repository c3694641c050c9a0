#include "rayk/cluster.h"
#include "rayk/errors.h"
#include "rayk/internal/runtime.h"
#include "rayk/internal/runtime_registry.h"
#include "rayk/kv.h"

namespace rayk {

namespace {

using internal::RequireClusterRuntime;

template <typename T>
T ValueOrThrow(Result<T> result, const char* operation, const std::string& key) {
  if (!result.ok())
    throw RuntimeError(std::string(operation) + " '" + key + "': " + result.status().message());
  return std::move(*result);
}

}  // namespace

std::vector<NodeView> Nodes() {
  return ValueOrThrow(RequireClusterRuntime().Nodes(), "rayk::Nodes", "");
}

NodeId CurrentNodeId() { return RequireClusterRuntime().CurrentNodeId(); }

bool KvPut(const std::string& key, const std::string& value, const std::string& ns,
           bool overwrite) {
  return ValueOrThrow(RequireClusterRuntime().KvPut(key, value, ns, overwrite), "rayk::KvPut", key);
}

std::optional<std::string> KvGet(const std::string& key, const std::string& ns) {
  return ValueOrThrow(RequireClusterRuntime().KvGet(key, ns), "rayk::KvGet", key);
}

bool KvDelete(const std::string& key, const std::string& ns) {
  return ValueOrThrow(RequireClusterRuntime().KvDelete(key, ns), "rayk::KvDelete", key);
}

std::vector<std::string> KvList(const std::string& prefix, const std::string& ns) {
  return ValueOrThrow(RequireClusterRuntime().KvList(prefix, ns), "rayk::KvList", prefix);
}

namespace internal {

ClusterRuntime& RequireClusterRuntime() {
  RequireRuntime();
  ClusterRuntime* cluster = CurrentClusterRuntime();
  if (cluster == nullptr) {
    throw RuntimeError("this runtime has no cluster services (nodes, KV, placement groups)");
  }
  return *cluster;
}

}  // namespace internal

}  // namespace rayk
