// Opening a gcs plugin as the GCS server does, for the tests of one plugin's
// own behaviour (its settings, its one-line errors) beyond the conformance
// suite.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/gcs_store.h"
#include "test_util.h"

namespace rayk::testing {

// A plugin's settings, as a config file would give them.
inline RawSettingTable Settings(const std::map<std::string, SettingValue>& values) {
  RawSettingTable table;
  for (const auto& [key, value] : values) table[key] = RawSetting{value, 1};
  return table;
}

// Creates the gcs plugin `plugin` with `table`, in role GCS with `session_dir`.
inline Result<std::shared_ptr<GcsStore>> OpenGcsStore(const std::string& plugin,
                                                      const RawSettingTable& table,
                                                      const std::string& session_dir = "") {
  PluginLoader loader;
  PluginContext context;
  context.role = ProcessRole::kGcs;
  context.session_dir = session_dir;
  auto created = loader.Create(PluginKind::kGcs, plugin, table, "test.toml", context);
  if (!created.ok()) return created.status();
  return std::shared_ptr<GcsStore>(*created, static_cast<GcsStore*>(created->get()));
}

// The error of an open that must fail; checks that it is one line.
inline std::string GcsOpenError(const std::string& plugin, const RawSettingTable& table,
                                const std::string& session_dir = "") {
  auto store = OpenGcsStore(plugin, table, session_dir);
  EXPECT_FALSE(store.ok()) << "opening should have failed";
  if (store.ok()) return "";
  EXPECT_EQ(CountLines(store.status().message()), 1) << store.status().message();
  return store.status().message();
}

}  // namespace rayk::testing
