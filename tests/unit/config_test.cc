// Config: parsing plugins.toml and its overrides, and the error for each
// kind of bad input.
#include "rayk/host/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, DefaultsSelectTheFirstPlugins) {
  Config config = Config::Defaults();
  EXPECT_EQ(config.slot(PluginKind::kScheduler).plugin, "hybrid");
  EXPECT_EQ(config.slot(PluginKind::kStore).plugin, "shm");
  EXPECT_EQ(config.slot(PluginKind::kTransport).plugin, "zmq");
  EXPECT_EQ(config.slot(PluginKind::kGcs).plugin, "memory");
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
)", "p.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->plugin_path(), (std::vector<std::string>{"/opt/a", "/opt/b"}));
  EXPECT_EQ(config->slot(PluginKind::kScheduler).plugin, "spread");
  EXPECT_EQ(config->slot(PluginKind::kScheduler).line, 4);
  const RawSettingTable& table = config->Table(PluginKind::kScheduler, "spread");
  EXPECT_EQ(std::get<int64_t>(table.at("seed").value), 7);
  EXPECT_EQ(table.at("seed").line, 6);
  EXPECT_DOUBLE_EQ(std::get<double>(table.at("threshold").value), 0.25);
  EXPECT_EQ(std::get<std::string>(config->Table(PluginKind::kStore, "big").at("capacity").value), "1GiB");
  // Slots the file does not mention keep their defaults.
  EXPECT_EQ(config->slot(PluginKind::kGcs).plugin, "memory");
}

TEST(ConfigTest, MissingFileNamesTheFile) {
  auto config = Config::LoadFile("/nonexistent/plugins.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/plugins.toml does not exist"));
}

TEST(ConfigTest, UnreadableFileSaysSo) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file; the unreadable case is covered as non-root";
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
  EXPECT_THAT(plugin.status().message(), HasSubstr("p.toml:2: [store] plugin must be a non-empty string"));
  auto path = Config::LoadString("plugin_path = \"/opt\"\n", "p.toml");
  ASSERT_FALSE(path.ok());
  EXPECT_THAT(path.status().message(), HasSubstr("p.toml:1: plugin_path must be an array"));
  auto setting = Config::LoadString("[store.memory]\ncapacity = [1, 2]\n", "p.toml");
  ASSERT_FALSE(setting.ok());
  EXPECT_THAT(setting.status().message(), HasSubstr("p.toml:2: [store.memory] capacity is a array"));
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
  EXPECT_EQ(std::get<std::string>(config.Table(PluginKind::kStore, "memory").at("capacity").value), "64MiB");
  EXPECT_DOUBLE_EQ(std::get<double>(config.Table(PluginKind::kScheduler, "spread").at("threshold").value), 0.75);
  config.SelectPlugin(PluginKind::kGcs, "sqlite");
  EXPECT_EQ(config.slot(PluginKind::kGcs).plugin, "sqlite");
}

TEST(ConfigTest, BadSetIsExplained) {
  Config config = Config::Defaults();
  EXPECT_THAT(config.ApplySet("store.memory.capacity").message(), HasSubstr("expected SLOT.KEY=VALUE"));
  EXPECT_THAT(config.ApplySet("stor.memory.capacity=1").message(), HasSubstr("did you mean 'store'?"));
  EXPECT_THAT(config.ApplySet("store.capacity=1").message(), HasSubstr("expected store.plugin=NAME"));
}

TEST(ConfigTest, NearestNameOnlySuggestsCloseWords) {
  EXPECT_EQ(NearestName("capactiy", {"capacity", "spill_dir"}), "capacity");
  EXPECT_EQ(NearestName("zzzzzzzz", {"capacity", "spill_dir"}), "");
}

}  // namespace
}  // namespace rayk
