// Config: parsing plugins.toml and its overrides, and the error for each
// kind of bad input.
#include "rayk/host/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "rayk/host/plugin_loader.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, DefaultsSelectTheFirstPlugins) {
  Config config = Config::Defaults();
  EXPECT_EQ(config.slot(PluginKind::kScheduler).plugin, "hybrid");
  EXPECT_EQ(config.slot(PluginKind::kStore).plugin, "shm");
  EXPECT_EQ(config.slot(PluginKind::kTransport).plugin, "asio");
  EXPECT_EQ(config.slot(PluginKind::kGcs).plugin, "sqlite");
}

TEST(ConfigTest, RepositoryFileParses) {
  auto config = Config::LoadFile(std::string(RAYK_SOURCE_DIR) + "/plugins.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
}

TEST(ConfigTest, ReadsSlotsTablesAndPluginPath) {
  auto config = Config::LoadString(R"(
plugin_path = ["/opt/a", "/opt/b"]
[scheduler]
plugin = "spread"
[scheduler.spread]
seed = 7
threshold = 0.25
[store]
plugin = "/x/rayk_store_big.so"
[store.big]
capacity = "1GiB"
)",
                                   "p.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->plugin_path(), (std::vector<std::string>{"/opt/a", "/opt/b"}));
  EXPECT_EQ(config->slot(PluginKind::kScheduler).plugin, "spread");
  EXPECT_EQ(config->slot(PluginKind::kScheduler).line, 4);
  const RawSettingTable& table = config->Table(PluginKind::kScheduler, "spread");
  EXPECT_EQ(std::get<int64_t>(table.at("seed").value), 7);
  EXPECT_EQ(table.at("seed").line, 6);
  EXPECT_DOUBLE_EQ(std::get<double>(table.at("threshold").value), 0.25);
  EXPECT_EQ(std::get<std::string>(config->Table(PluginKind::kStore, "big").at("capacity").value),
            "1GiB");
  // Slots the file does not mention keep their defaults.
  EXPECT_EQ(config->slot(PluginKind::kGcs).plugin, "sqlite");
}

TEST(ConfigTest, MissingFileNamesTheFile) {
  auto config = Config::LoadFile("/nonexistent/plugins.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/plugins.toml does not exist"));
}

TEST(ConfigTest, UnreadableFileSaysSo) {
  if (geteuid() == 0)
    GTEST_SKIP() << "root reads any file; the unreadable case is covered as non-root";
  testing::TempDir dir;
  std::string file = dir.Write("plugins.toml", "[store]\n");
  chmod(file.c_str(), 0);
  auto config = Config::LoadFile(file);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("cannot be read"));
}

TEST(ConfigTest, AFolderIsNotAConfigFile) {
  testing::TempDir dir;
  auto config = Config::LoadFile(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr(dir.path()));
}

TEST(ConfigTest, SyntaxErrorGivesFileAndLine) {
  auto config = Config::LoadString("[store]\nplugin = \"memory\"\n[scheduler\n", "p.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("p.toml:3: TOML syntax error"));
  EXPECT_EQ(testing::CountLines(config.status().message()), 1);
}

TEST(ConfigTest, UnknownSectionSuggestsTheNearest) {
  auto config = Config::LoadString("[schedular]\nplugin = \"random\"\n", "p.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("p.toml:1: unknown section [schedular]"));
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'scheduler'?"));
}

TEST(ConfigTest, UnknownKeyInSlotSuggestsPlugin) {
  auto config = Config::LoadString("[store]\nplugn = \"memory\"\n", "p.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("p.toml:2: unknown key 'plugn' in [store]"));
  EXPECT_THAT(config.status().message(), HasSubstr("did you mean 'plugin'?"));
}

TEST(ConfigTest, WrongTypesAreNamed) {
  auto plugin = Config::LoadString("[store]\nplugin = 3\n", "p.toml");
  ASSERT_FALSE(plugin.ok());
  EXPECT_THAT(plugin.status().message(),
              HasSubstr("p.toml:2: [store] plugin must be a non-empty string"));
  auto path = Config::LoadString("plugin_path = \"/opt\"\n", "p.toml");
  ASSERT_FALSE(path.ok());
  EXPECT_THAT(path.status().message(), HasSubstr("p.toml:1: plugin_path must be an array"));
  auto setting = Config::LoadString("[store.memory]\ncapacity = [1, 2]\n", "p.toml");
  ASSERT_FALSE(setting.ok());
  EXPECT_THAT(setting.status().message(),
              HasSubstr("p.toml:2: [store.memory] capacity is a array"));
  auto section = Config::LoadString("store = 1\n", "p.toml");
  ASSERT_FALSE(section.ok());
  EXPECT_THAT(section.status().message(), HasSubstr("store must be a section"));
}

TEST(ConfigTest, SetOverridesSelectAndConfigure) {
  Config config = Config::Defaults();
  ASSERT_TRUE(config.ApplySet("scheduler.plugin=spread").ok());
  ASSERT_TRUE(config.ApplySet("store.memory.capacity=64MiB").ok());
  ASSERT_TRUE(config.ApplySet("scheduler.spread.threshold=0.75").ok());
  EXPECT_EQ(config.slot(PluginKind::kScheduler).plugin, "spread");
  EXPECT_EQ(std::get<std::string>(config.Table(PluginKind::kStore, "memory").at("capacity").value),
            "64MiB");
  EXPECT_DOUBLE_EQ(
      std::get<double>(config.Table(PluginKind::kScheduler, "spread").at("threshold").value), 0.75);
  config.SelectPlugin(PluginKind::kGcs, "memory");
  EXPECT_EQ(config.slot(PluginKind::kGcs).plugin, "memory");
}

TEST(ConfigTest, BadSetIsExplained) {
  Config config = Config::Defaults();
  EXPECT_THAT(config.ApplySet("store.memory.capacity").message(),
              HasSubstr("expected SLOT.KEY=VALUE"));
  EXPECT_THAT(config.ApplySet("stor.memory.capacity=1").message(),
              HasSubstr("did you mean 'store'?"));
  EXPECT_THAT(config.ApplySet("store.capacity=1").message(),
              HasSubstr("expected store.plugin=NAME"));
}

TEST(ConfigTest, NearestNameOnlySuggestsCloseWords) {
  EXPECT_EQ(NearestName("capactiy", {"capacity", "spill_dir"}), "capacity");
  EXPECT_EQ(NearestName("zzzzzzzz", {"capacity", "spill_dir"}), "");
}

// The settings a slot resolves to: its plugin's table checked against the
// plugin's SettingSpec array (defaults filled in).
std::map<std::string, SettingValue> Resolved(const PluginLoader& loader, PluginKind kind,
                                             const std::string& plugin,
                                             const RawSettingTable& table) {
  auto info = loader.Find(kind, plugin);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  if (!info.ok()) return {};
  auto settings = PluginLoader::ValidateSettings(*info, table, "plugins.toml");
  EXPECT_TRUE(settings.ok()) << settings.status().ToString();
  return settings.ok() ? settings->values() : std::map<std::string, SettingValue>{};
}

TEST(ConfigTest, BuiltInDefaultsEqualTheShippedFile) {
  auto shipped = Config::LoadFile(std::string(RAYK_SOURCE_DIR) + "/plugins.toml");
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  Config defaults = Config::Defaults();
  PluginLoader loader;
  EXPECT_EQ(shipped->plugin_path(), defaults.plugin_path());
  EXPECT_EQ(shipped->lease_reuse(), defaults.lease_reuse());
  for (PluginKind kind : Config::kSlots) {
    const SlotConfig& slot = shipped->slot(kind);
    EXPECT_EQ(slot.plugin, defaults.slot(kind).plugin) << PluginKindName(kind);
    // Every table the file writes out (the selected plugin's and the others')
    // must say what the plugin's SettingSpec defaults say.
    for (const auto& [plugin, table] : slot.tables) {
      EXPECT_EQ(Resolved(loader, kind, plugin, table), Resolved(loader, kind, plugin, {}))
          << "[" << PluginKindName(kind) << "." << plugin << "] in plugins.toml differs from the "
          << "plugin's SettingSpec defaults";
    }
  }
}

TEST(ConfigTest, LeaseReuseIsASchedulerKernelSetting) {
  EXPECT_TRUE(Config::Defaults().lease_reuse());
  auto off =
      Config::LoadString("[scheduler]\nplugin = \"spread\"\nlease_reuse = false\n", "p.toml");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->lease_reuse());
  EXPECT_EQ(off->slot(PluginKind::kScheduler).plugin, "spread");

  Config config = Config::Defaults();
  ASSERT_TRUE(config.ApplySet("scheduler.lease_reuse=false").ok());
  EXPECT_FALSE(config.lease_reuse());
  ASSERT_TRUE(config.ApplySet("scheduler.lease_reuse=true").ok());
  EXPECT_TRUE(config.lease_reuse());

  auto wrong_type = Config::LoadString("[scheduler]\nlease_reuse = \"no\"\n", "p.toml");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(wrong_type.status().message(),
              HasSubstr("p.toml:2: [scheduler] lease_reuse must be true or false (found string)"));
  EXPECT_THAT(config.ApplySet("scheduler.lease_reuse=maybe").message(),
              HasSubstr("lease_reuse must be true or false"));
  // Only the scheduler slot has it.
  auto other_slot = Config::LoadString("[store]\nlease_reuse = false\n", "p.toml");
  ASSERT_FALSE(other_slot.ok());
  EXPECT_THAT(other_slot.status().message(), HasSubstr("unknown key 'lease_reuse' in [store]"));
  auto typo = Config::LoadString("[scheduler]\nlease_reus = false\n", "p.toml");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("lease_reuse"));
}

TEST(ConfigTest, RelativePluginPathIsRefused) {
  auto config = Config::LoadString("plugin_path = [\"/opt/ok\", \"plugins\"]\n", "p.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("p.toml:1: plugin_path entry \"plugins\" is a relative folder"));
  EXPECT_THAT(config.status().message(), HasSubstr("absolute path"));
}

// Runs `body` in `dir` as the current folder, with RAYK_CONFIG set to `env` ("" unsets it).
template <typename Body>
void InFolderWithEnv(const std::string& dir, const std::string& env, Body body) {
  std::string previous = std::filesystem::current_path().string();
  ASSERT_EQ(chdir(dir.c_str()), 0);
  if (env.empty()) {
    unsetenv("RAYK_CONFIG");
  } else {
    setenv("RAYK_CONFIG", env.c_str(), 1);
  }
  body();
  unsetenv("RAYK_CONFIG");
  ASSERT_EQ(chdir(previous.c_str()), 0);
}

TEST(ConfigTest, ThePluginsTomlOfTheCurrentFolderIsNeverRead) {
  testing::TempDir dir;
  dir.Write("plugins.toml", "[scheduler]\nplugin = \"spread\"\n");
  InFolderWithEnv(dir.path(), "", [] {
    auto config = Config::LoadDefault("");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    // The build tree has no share/rayk/plugins.toml: the built-in defaults.
    EXPECT_EQ(config->source(), "<built-in defaults>");
    EXPECT_EQ(config->slot(PluginKind::kScheduler).plugin, "hybrid");
  });
}

TEST(ConfigTest, RaykConfigNamesTheFile) {
  testing::TempDir dir;
  std::string file = dir.Write("mine.toml", "[scheduler]\nplugin = \"spread\"\n");
  InFolderWithEnv(dir.path(), file, [&file] {
    auto config = Config::LoadDefault("");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->source(), file);
    EXPECT_EQ(config->slot(PluginKind::kScheduler).plugin, "spread");
    // An explicit --config wins over the variable.
    auto explicit_file = Config::LoadDefault(std::string(RAYK_SOURCE_DIR) + "/plugins.toml");
    ASSERT_TRUE(explicit_file.ok());
    EXPECT_EQ(explicit_file->slot(PluginKind::kScheduler).plugin, "hybrid");
  });
  InFolderWithEnv(dir.path(), dir.path() + "/missing.toml", [] {
    auto config = Config::LoadDefault("");
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(config.status().message(), HasSubstr("missing.toml does not exist"));
  });
}

TEST(ConfigTest, InstalledFileIsBesideTheKernelLibrary) {
  // <prefix>/lib/librayk.so -> <prefix>/share/rayk/plugins.toml
  EXPECT_EQ(Config::InstalledFile(), std::string(RAYK_BINARY_DIR) + "/share/rayk/plugins.toml");
}

}  // namespace
}  // namespace rayk
