// `rayk plugins test FILE` as a plugin author runs it: the conformance suite
// of the plugin's slot against one file, from the build tree and from an
// install; a broken plugin fails with a clear line, never a silent pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using testing::RunRayk;

std::string Fixture(const std::string& name) {
  return std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_" + name + ".so";
}

std::string LastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

TEST(CliPluginsTest, AGoodPluginPassesEveryCase) {
  auto result =
      RunRayk("plugins test " + std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_scheduler_binpack.so");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(LastLine(result.output),
              ContainsRegex("scheduler plugin 'binpack' passed [1-9][0-9]* scheduler conformance "
                            "cases"));
}

TEST(CliPluginsTest, AWrongAbiIsOneLine) {
  auto result = RunRayk("plugins test " + Fixture("wrongabi"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("was built for plugin ABI version 999"));
  EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
}

TEST(CliPluginsTest, ALibraryThatIsNoPluginIsOneLine) {
  for (const char* name : {"notplugin", "garbage"}) {
    auto result = RunRayk("plugins test " + Fixture(name));
    EXPECT_NE(result.exit_code, 0);
    EXPECT_THAT(result.output, HasSubstr(Fixture(name)));
    EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
  }
  auto missing = RunRayk("plugins test /nonexistent/rayk_scheduler_x.so");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.output, HasSubstr("does not exist"));
}

TEST(CliPluginsTest, APluginThatCannotStartFailsEveryCase) {
  auto result = RunRayk("plugins test " + Fixture("throws"));
  EXPECT_NE(result.exit_code, 0);
  // Every case fails: a plugin that does not start passes nothing.
  EXPECT_TRUE(
      std::regex_search(LastLine(result.output), std::regex("failed ([0-9]+) of \\1 scheduler")))
      << result.output;
  EXPECT_THAT(LastLine(result.output), HasSubstr("backend unreachable"));
}

TEST(CliPluginsTest, TheInstallCarriesTheSuites) {
  testing::TempDir dir;
  std::string prefix = dir.path() + "/prefix";
  auto install = testing::RunCommand("cmake --install " + std::string(RAYK_BINARY_DIR) +
                                     " --prefix " + prefix);
  ASSERT_EQ(install.exit_code, 0) << install.output;
  auto result = testing::RunCommand(prefix + "/bin/rayk plugins test " + prefix +
                                    "/lib/rayk/plugins/rayk_scheduler_spread.so");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output,
              HasSubstr(prefix + "/lib/rayk/conformance/scheduler_conformance_test"));
  EXPECT_THAT(LastLine(result.output), HasSubstr("passed"));
}

}  // namespace
}  // namespace rayk
