// The rayk command as a user types it: --version, plugins list/info, and
// `config check` on good and bad files, each bad one a one-line error and a
// non-zero exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using testing::RunRayk;

std::string Fixture(const std::string& name) {
  return std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_" + name + ".so";
}

class CliConfigTest : public ::testing::Test {
 protected:
  // Checks that `config check` on `toml` fails with one line containing `expected`.
  void ExpectCheckFails(const std::string& toml, const std::string& expected) {
    std::string file = dir_.Write("plugins.toml", toml);
    auto result = RunRayk("config check " + file);
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr(expected));
    EXPECT_THAT(result.output, HasSubstr(file));
    EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
  }
  testing::TempDir dir_;
};

TEST_F(CliConfigTest, Version) {
  auto result = RunRayk("--version");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("rayk 0."));
}

TEST_F(CliConfigTest, PluginsListShowsTheFourFirstPlugins) {
  auto result = RunRayk("plugins list --config " + std::string(RAYK_SOURCE_DIR) + "/plugins.toml");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* row : {"scheduler  random", "store      memory", "transport  inproc", "gcs        memory",
                          "scheduler  spread", "scheduler  binpack"}) {
    EXPECT_THAT(result.output, HasSubstr(row));
  }
  // The repository's plugins.toml selects Ray's default policy.
  EXPECT_THAT(result.output, HasSubstr("*   scheduler  hybrid"));
}

TEST_F(CliConfigTest, PluginsListJson) {
  auto result = RunRayk("plugins list --format json --config " + std::string(RAYK_SOURCE_DIR) + "/plugins.toml");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto json = nlohmann::json::parse(result.output);
  int selected = 0;
  for (const auto& plugin : json["plugins"]) selected += plugin["selected"].get<bool>();
  EXPECT_EQ(selected, 4);
}

TEST_F(CliConfigTest, PluginsInfoListsSettings) {
  auto result = RunRayk("plugins info random");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("scheduler plugin 'random'"));
  EXPECT_THAT(result.output, HasSubstr("seed"));
  auto missing = RunRayk("plugins info nosuch");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.output, HasSubstr("no plugin named 'nosuch'; available: "));
}

TEST_F(CliConfigTest, CheckPrintsTheResolvedConfiguration) {
  std::string file = dir_.Write("plugins.toml", "[store]\nplugin = \"memory\"\n[store.memory]\ncapacity = \"64MiB\"\n");
  auto result = RunRayk("config check " + file);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("capacity = 67108864"));
  EXPECT_THAT(result.output, HasSubstr("configuration OK"));
}

TEST_F(CliConfigTest, OverridesOnTheCommandLine) {
  std::string file = dir_.Write("plugins.toml", "[store]\nplugin = \"memory\"\n");
  auto result = RunRayk("config check " + file + " --set store.memory.capacity=1MiB --format json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(nlohmann::json::parse(result.output)["store"]["settings"]["capacity"], 1 << 20);
  auto bad = RunRayk("config check " + file + " --scheduler nosuch");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("no scheduler plugin named 'nosuch'"));
}

TEST_F(CliConfigTest, MissingFile) {
  auto result = RunRayk("config check " + dir_.path() + "/nope.toml");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("nope.toml does not exist"));
  EXPECT_EQ(testing::CountLines(result.output), 1);
}

TEST_F(CliConfigTest, UnreadableFile) {
  auto result = RunRayk("config check " + dir_.path());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("is a folder"));
}

TEST_F(CliConfigTest, SyntaxError) { ExpectCheckFails("[store\n", ":1: TOML syntax error"); }

TEST_F(CliConfigTest, UnknownSection) {
  ExpectCheckFails("[stor]\nplugin = \"memory\"\n", ":1: unknown section [stor]; did you mean 'store'?");
}

TEST_F(CliConfigTest, UnknownPluginKey) {
  ExpectCheckFails("[store]\nplugin = \"memory\"\n[store.memory]\ncapactiy = \"1GiB\"\n",
                   ":4: unknown key 'capactiy' in [store.memory]; did you mean 'capacity'?");
}

TEST_F(CliConfigTest, WrongValueType) {
  ExpectCheckFails("[scheduler.hybrid]\nspread_threshold = \"x\"\n",
                   ":2: [scheduler.hybrid] spread_threshold = \"x\" must be a number");
}

TEST_F(CliConfigTest, PluginNotFound) {
  ExpectCheckFails("[scheduler]\nplugin = \"hybird\"\n", ":2: no scheduler plugin named 'hybird'");
}

TEST_F(CliConfigTest, NotARaykPlugin) {
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("notplugin") + "\"\n", "is a shared library but not a rayk plugin");
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("garbage") + "\"\n", "cannot be loaded as a shared library");
}

TEST_F(CliConfigTest, WrongKind) {
  ExpectCheckFails("[scheduler]\nplugin = \"" + std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_gcs_memory.so\"\n",
                   "is a gcs plugin ('memory'), but [scheduler] needs a scheduler plugin");
}

TEST_F(CliConfigTest, AbiMismatch) {
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("wrongabi") + "\"\n", "built for plugin ABI version 999");
}

}  // namespace
}  // namespace rayk
