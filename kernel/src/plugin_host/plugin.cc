#include "rayk/plugin/plugin.h"

namespace rayk {

const char* PluginKindName(PluginKind kind) {
  switch (kind) {
    case PluginKind::kScheduler: return "scheduler";
    case PluginKind::kStore: return "store";
    case PluginKind::kTransport: return "transport";
    case PluginKind::kGcs: return "gcs";
  }
  return "unknown";
}

const char* SettingTypeName(SettingType type) {
  switch (type) {
    case SettingType::kString: return "string";
    case SettingType::kInteger: return "integer";
    case SettingType::kFloat: return "float";
    case SettingType::kBool: return "bool";
    case SettingType::kBytes: return "bytes";
  }
  return "unknown";
}

namespace {
template <typename T>
const T* Lookup(const std::map<std::string, SettingValue>& values, const std::string& key) {
  auto it = values.find(key);
  return it == values.end() ? nullptr : std::get_if<T>(&it->second);
}
}  // namespace

std::string PluginSettings::GetString(const std::string& key, const std::string& fallback) const {
  const auto* v = Lookup<std::string>(values_, key);
  return v ? *v : fallback;
}

int64_t PluginSettings::GetInteger(const std::string& key, int64_t fallback) const {
  const auto* v = Lookup<int64_t>(values_, key);
  return v ? *v : fallback;
}

double PluginSettings::GetFloat(const std::string& key, double fallback) const {
  if (const auto* v = Lookup<double>(values_, key)) return *v;
  if (const auto* v = Lookup<int64_t>(values_, key)) return static_cast<double>(*v);
  return fallback;
}

bool PluginSettings::GetBool(const std::string& key, bool fallback) const {
  const auto* v = Lookup<bool>(values_, key);
  return v ? *v : fallback;
}

}  // namespace rayk
