// Helpers for the conformance suites: every plugin of a slot found on the
// plugin search path (the build tree, plus $RAYK_PLUGIN_PATH) runs the same
// cases; or exactly the one plugin file $RAYK_CONFORMANCE_PLUGIN names, which
// is how `rayk plugins test FILE` runs an installed suite against a user's
// plugin. A suite with no plugin to run fails (gtest reports the suite as
// uninstantiated), and a plugin that does not load fails every case: a
// conformance run that checked nothing never passes.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "rayk/host/plugin_loader.h"

namespace rayk::testing {

// The environment variable naming the one plugin file a suite runs against.
inline constexpr char kConformancePluginEnv[] = "RAYK_CONFORMANCE_PLUGIN";

// The plugin file $RAYK_CONFORMANCE_PLUGIN names, else the names of every
// plugin of `kind` on the search path.
inline std::vector<std::string> PluginsOfKind(PluginKind kind) {
  if (const char* only = std::getenv(kConformancePluginEnv); only != nullptr && *only != '\0') {
    return {only};
  }
  PluginLoader loader;
  std::vector<std::string> names;
  for (const PluginInfo& info : loader.List()) {
    if (info.kind == kind) names.push_back(info.name);
  }
  return names;
}

// Creates the plugin `name` of slot T with `table` as its settings; fails the
// test (and returns null) when that does not work.
template <typename T>
std::shared_ptr<T> CreatePlugin(const std::string& name, const RawSettingTable& table = {},
                                PluginContext context = {}) {
  PluginLoader loader;
  auto created = loader.Create(SlotKindOf<T>::value, name, table, "<test>", context);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) return nullptr;
  return std::shared_ptr<T>(*created, static_cast<T*>(created->get()));
}

// gtest parameter names must be alphanumeric.
inline std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

}  // namespace rayk::testing
