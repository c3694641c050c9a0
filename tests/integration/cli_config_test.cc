// The rayk command as a user types it: --version, plugins list/info, and
// `config check` on good and bad files, each bad one a one-line error and a
// non-zero exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
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
  for (const char* row : {"scheduler  random", "store      memory", "transport  inproc",
                          "gcs        memory", "scheduler  spread", "scheduler  binpack"}) {
    EXPECT_THAT(result.output, HasSubstr(row));
  }
  // The repository's plugins.toml selects Ray's default policy.
  EXPECT_THAT(result.output, HasSubstr("*   scheduler  hybrid"));
}

TEST_F(CliConfigTest, PluginsListJson) {
  auto result = RunRayk("plugins list --format json --config " + std::string(RAYK_SOURCE_DIR) +
                        "/plugins.toml");
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
  std::string file = dir_.Write(
      "plugins.toml", "[store]\nplugin = \"memory\"\n[store.memory]\ncapacity = \"64MiB\"\n");
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
  ExpectCheckFails("[stor]\nplugin = \"memory\"\n",
                   ":1: unknown section [stor]; did you mean 'store'?");
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
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("notplugin") + "\"\n",
                   "is a shared library but not a rayk plugin");
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("garbage") + "\"\n",
                   "cannot be loaded as a shared library");
}

TEST_F(CliConfigTest, WrongKind) {
  ExpectCheckFails(
      "[scheduler]\nplugin = \"" + std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_gcs_memory.so\"\n",
      "is a gcs plugin ('memory'), but [scheduler] needs a scheduler plugin");
}

TEST_F(CliConfigTest, AbiMismatch) {
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("wrongabi") + "\"\n",
                   "built for plugin ABI version 999");
}

// The values the security report found passing `config check` and failing
// only at `rayk start` (or silently clamped): each is now a one-line error
// naming the key, the value and what is allowed.
TEST_F(CliConfigTest, NonFiniteNumbers) {
  ExpectCheckFails("[scheduler.hybrid]\nspread_threshold = nan\n",
                   ":2: [scheduler.hybrid] spread_threshold = nan is not a finite number");
}

TEST_F(CliConfigTest, NegativeCount) {
  ExpectCheckFails("[scheduler.hybrid]\ntop_k_absolute = -3\n",
                   ":2: [scheduler.hybrid] top_k_absolute = -3 is out of range; the allowed values "
                   "are from 1 to 100000");
}

TEST_F(CliConfigTest, CapacityAboveTheMachine) {
  ExpectCheckFails("[store.shm]\ncapacity = \"100TiB\"\n",
                   ":2: [store.shm] capacity = \"100TiB\" is out of range; the allowed values are "
                   "from 0 to this machine's RAM + swap");
}

TEST_F(CliConfigTest, AbsurdValueIsNotClamped) {
  // zmq selected: only the selected plugin's table is checked.
  ExpectCheckFails("[transport]\nplugin = \"zmq\"\n[transport.zmq]\nmax_sockets = 99999999999\n",
                   ":4: [transport.zmq] max_sockets = 99999999999 is out of range; the allowed "
                   "values are from 16 to 65536");
}

TEST_F(CliConfigTest, SetOverridesAreCheckedToo) {
  auto result = RunRayk("config check --set scheduler.hybrid.top_k_fraction=2");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("(command line): [scheduler.hybrid] top_k_fraction = 2 is "
                                       "out of range"));
}

TEST_F(CliConfigTest, ThePluginsOwnChecksRun) {
  // The plugin refuses a negative seed when it is created, beyond what its
  // SettingSpec says: config check shows its message, as a cluster would.
  ExpectCheckFails("[scheduler]\nplugin = \"" + Fixture("validating") +
                       "\"\n[scheduler.validating]\nseed = -5\n",
                   "seed = -5 is negative; use 0 to seed from the clock, or a positive seed");
  std::string good = dir_.Write("good.toml", "[scheduler]\nplugin = \"" + Fixture("validating") +
                                                 "\"\n[scheduler.validating]\nseed = 5\n");
  auto result = RunRayk("config check " + good);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("configuration OK"));
}

TEST_F(CliConfigTest, DevUpRefusesWhatThePluginRefuses) {
  // Before it starts anything, so no supervisor retries a config that cannot work.
  std::string file = dir_.Write("plugins.toml", "[scheduler]\nplugin = \"" + Fixture("validating") +
                                                    "\"\n[scheduler.validating]\nseed = -5\n");
  auto result = testing::RunCommand("RAYK_SESSION_ROOT=" + dir_.path() + " " + RAYK_CLI_PATH +
                                    " dev up --nodes 1 --config " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("seed = -5 is negative"));
  EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
}

TEST_F(CliConfigTest, RelativePluginPathRunsNothing) {
  // The report's file: a relative path up to / and down to a library whose
  // constructor writes a marker. The loader must refuse it before dlopen.
  std::filesystem::create_directory(dir_.path() + "/x");
  std::string evil = dir_.path() + "/x/evil.so";
  std::filesystem::copy_file(Fixture("marker"), evil);
  std::string marker = dir_.path() + "/marker";
  std::string file =
      dir_.Write("plugins.toml", "[scheduler]\nplugin = \"../../../../../../../.." + evil + "\"\n");
  auto result = testing::RunCommand("cd " + dir_.path() + " && RAYK_TEST_MARKER=" + marker + " " +
                                    RAYK_CLI_PATH + " config check " + file);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr(file + ":2: [scheduler] plugin = \"../../"));
  EXPECT_THAT(result.output, HasSubstr("is a relative path"));
  EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
  EXPECT_FALSE(std::filesystem::exists(marker));
  // The same file by its absolute path, made writable by others: refused unloaded too.
  std::filesystem::permissions(evil, std::filesystem::perms::all);
  std::string absolute = dir_.Write("abs.toml", "[scheduler]\nplugin = \"" + evil + "\"\n");
  auto writable = testing::RunCommand("RAYK_TEST_MARKER=" + marker + " " + RAYK_CLI_PATH +
                                      " config check " + absolute);
  EXPECT_NE(writable.exit_code, 0);
  EXPECT_THAT(writable.output, HasSubstr("plugin file " + evil));
  EXPECT_THAT(writable.output, HasSubstr("mode 0777"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(CliConfigTest, TheCurrentFolderIsNotAConfigSource) {
  // A plugins.toml where rayk happens to run is ignored; $RAYK_CONFIG is not.
  dir_.Write("plugins.toml", "[scheduler]\nplugin = \"spread\"\n");
  auto here = testing::RunCommand("cd " + dir_.path() + " && env -u RAYK_CONFIG " + RAYK_CLI_PATH +
                                  " config check");
  ASSERT_EQ(here.exit_code, 0) << here.output;
  EXPECT_THAT(here.output, HasSubstr("# resolved from <built-in defaults>"));
  EXPECT_THAT(here.output, HasSubstr("plugin = \"hybrid\""));
  EXPECT_THAT(here.output, HasSubstr("plugin = \"sqlite\""));
  auto named = testing::RunCommand("cd " + dir_.path() + " && RAYK_CONFIG=" + dir_.path() +
                                   "/plugins.toml " + RAYK_CLI_PATH + " config check");
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_THAT(named.output, HasSubstr("plugin = \"spread\""));
}

}  // namespace
}  // namespace rayk
