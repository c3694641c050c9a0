#include "rayk/plugin/plugin.h"

#include <stdexcept>

namespace rayk {

const char* PluginKindName(PluginKind kind) {
  switch (kind) {
    case PluginKind::kScheduler:
      return "scheduler";
    case PluginKind::kStore:
      return "store";
    case PluginKind::kTransport:
      return "transport";
    case PluginKind::kGcs:
      return "gcs";
  }
  return "unknown";
}

const char* SettingTypeName(SettingType type) {
  switch (type) {
    case SettingType::kString:
      return "string";
    case SettingType::kInteger:
      return "integer";
    case SettingType::kFloat:
      return "float";
    case SettingType::kBool:
      return "bool";
    case SettingType::kBytes:
      return "bytes";
  }
  return "unknown";
}

namespace {

// Finds `key` with the alternative T; throws when the plugin reads a key it
// did not declare, so that no default can hide in the plugin's code.
template <typename T>
const T& Lookup(const std::map<std::string, SettingValue>& values, const std::string& key,
                const char* type) {
  auto it = values.find(key);
  const T* value = it == values.end() ? nullptr : std::get_if<T>(&it->second);
  if (value == nullptr) {
    throw std::logic_error("the plugin reads the " + std::string(type) + " setting '" + key +
                           "', which its SettingSpec array does not declare with that type; "
                           "declare it there (with its default)");
  }
  return *value;
}

}  // namespace

const PluginSettings& PluginSettings::Empty() {
  static const PluginSettings kEmpty;
  return kEmpty;
}

std::string PluginSettings::GetString(const std::string& key) const {
  return Lookup<std::string>(values_, key, "string");
}

int64_t PluginSettings::GetInteger(const std::string& key) const {
  return Lookup<int64_t>(values_, key, "integer");
}

double PluginSettings::GetFloat(const std::string& key) const {
  auto it = values_.find(key);
  if (it != values_.end()) {
    if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  }
  return Lookup<double>(values_, key, "float");
}

bool PluginSettings::GetBool(const std::string& key) const {
  return Lookup<bool>(values_, key, "bool");
}

}  // namespace rayk
