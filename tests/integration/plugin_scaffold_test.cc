// `rayk plugins new scheduler NAME DIR` as a new plugin author runs it, from
// an install: the project it writes configures against the installed package
// with find_package(rayk), builds, and passes its own tests (the conformance
// suite through `rayk plugins test`, and a `rayk sim` run), in one command each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using testing::RunRayk;

TEST(PluginScaffoldTest, TheProjectBuildsAndPassesItsTests) {
  testing::TempDir dir;
  const std::string prefix = dir.path() + "/prefix";
  const std::string project = dir.path() + "/fair_share";
  auto install = testing::RunCommand("cmake --install " + std::string(RAYK_BINARY_DIR) +
                                     " --prefix " + prefix);
  ASSERT_EQ(install.exit_code, 0) << install.output;
  auto scaffold =
      testing::RunCommand(prefix + "/bin/rayk plugins new scheduler fair_share " + project);
  ASSERT_EQ(scaffold.exit_code, 0) << scaffold.output;
  for (const char* file : {"CMakeLists.txt", "README.md", "fair_share.cc", "workload.jsonl"}) {
    EXPECT_TRUE(std::filesystem::exists(project + "/" + file)) << file;
  }
  auto configure = testing::RunCommand("cmake -S " + project + " -B " + project +
                                       "/build -DCMAKE_PREFIX_PATH=" + prefix);
  ASSERT_EQ(configure.exit_code, 0) << configure.output;
  auto build = testing::RunCommand("cmake --build " + project + "/build");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_TRUE(std::filesystem::exists(project + "/build/rayk_scheduler_fair_share.so"));
  auto test = testing::RunCommand("ctest --test-dir " + project + "/build --output-on-failure");
  ASSERT_EQ(test.exit_code, 0) << test.output;
  EXPECT_THAT(test.output, HasSubstr("100% tests passed, 0 tests failed out of 2"));
  // The conformance test ran the installed suite on the built plugin.
  EXPECT_THAT(test.output, ::testing::Not(HasSubstr("ran no case")));
}

TEST(PluginScaffoldTest, BadRequestsAreOneLine) {
  testing::TempDir dir;
  auto bad_name = RunRayk("plugins new scheduler Fair-Share " + dir.path() + "/x");
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_THAT(bad_name.output, HasSubstr("plugin name 'Fair-Share' must start with a lowercase"));
  EXPECT_EQ(testing::CountLines(bad_name.output), 1) << bad_name.output;
  dir.Write("taken", "");
  auto taken = RunRayk("plugins new scheduler fair " + dir.path());
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_THAT(taken.output, HasSubstr("already exists and is not an empty folder"));
  EXPECT_EQ(testing::CountLines(taken.output), 1) << taken.output;
  auto kind = RunRayk("plugins new store fast " + dir.path() + "/y");
  EXPECT_NE(kind.exit_code, 0);
  EXPECT_THAT(kind.output, HasSubstr("scheduler projects only"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/y"));
}

}  // namespace
}  // namespace rayk
