// The cluster's internal key-value store: small shared facts (a service's
// address, a dataset's location, a run's settings) that every process of the
// cluster can read, kept by the GCS. With the durable gcs plugin (sqlite) the
// entries survive a GCS restart; with `memory` they live as long as the GCS.
//
//   rayk::KvPut("model/latest", "s3://bucket/v7");
//   std::optional<std::string> where = rayk::KvGet("model/latest");
//
// Keys and values are byte strings. A namespace keeps one application's keys
// apart from another's; the default is "". The same entries are reachable
// from a shell with `rayk kv get|put|list|delete`.
// Every call throws rayk::RuntimeError when the GCS cannot be reached or its
// store fails, and outside Init()/Shutdown(). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rayk {

// Stores `value` under `key`. With `overwrite` false an existing key is left
// alone and the call returns false; otherwise it returns true.
bool KvPut(const std::string& key, const std::string& value, const std::string& ns = "",
           bool overwrite = true);
// The value of `key`, or nullopt when there is none.
std::optional<std::string> KvGet(const std::string& key, const std::string& ns = "");
// Removes `key`; false when it did not exist.
bool KvDelete(const std::string& key, const std::string& ns = "");
// The keys of a namespace that start with `prefix`, in byte order.
std::vector<std::string> KvList(const std::string& prefix = "", const std::string& ns = "");

}  // namespace rayk
