// The loader never runs code from a library it was not asked for: relative
// plugin paths are refused, and a file (or its folder) that someone other
// than root or this user could have written is refused before dlopen, which
// would run its constructors. The marker fixture writes a file when loaded.
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

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uid_t kNobody = 65534;

class PluginTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    marker_ = dir_.path() + "/marker";
    setenv("RAYK_TEST_MARKER", marker_.c_str(), 1);
    fs::create_directory(dir_.path() + "/x");
  }
  void TearDown() override { unsetenv("RAYK_TEST_MARKER"); }

  // A fresh copy of the marker plugin (a new file, so a new load) in dir_/x.
  std::string CopyPlugin(const std::string& name) {
    std::string copy = dir_.path() + "/x/" + name;
    fs::copy_file(std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_marker.so", copy);
    chmod(copy.c_str(), 0755);
    return copy;
  }
  bool ConstructorRan() const { return fs::exists(marker_); }

  Status FindError(const std::string& plugin) {
    auto found = PluginLoader().Find(PluginKind::kScheduler, plugin);
    EXPECT_FALSE(found.ok()) << plugin << " should have been refused";
    if (found.ok()) return Status::Ok();
    EXPECT_EQ(testing::CountLines(found.status().message()), 1) << found.status().message();
    return found.status();
  }

  testing::TempDir dir_;
  std::string marker_;
};

TEST_F(PluginTrustTest, ATrustedAbsolutePathLoads) {
  // The fixture works: loading it runs its constructor.
  std::string plugin = CopyPlugin("good.so");
  auto found = PluginLoader().Find(PluginKind::kScheduler, plugin);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->name, "marker");
  EXPECT_TRUE(ConstructorRan());
}

TEST_F(PluginTrustTest, RelativePathWithDotDotIsRefusedUnloaded) {
  std::string plugin = CopyPlugin("evil.so");
  // As the security report wrote it: up to / and down to the file.
  std::string relative = "../../../../../../../../.." + plugin;
  Status status = FindError(relative);
  EXPECT_THAT(status.message(),
              HasSubstr("[scheduler] plugin = \"" + relative + "\" is a relative path"));
  EXPECT_THAT(status.message(), HasSubstr("absolute path"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, PlainRelativeFileNameIsRefusedUnloaded) {
  CopyPlugin("evil.so");
  std::string previous = fs::current_path().string();
  ASSERT_EQ(chdir((dir_.path() + "/x").c_str()), 0);
  Status status = FindError("evil.so");
  ASSERT_EQ(chdir(previous.c_str()), 0);
  EXPECT_THAT(status.message(), HasSubstr("plugin = \"evil.so\" is a relative path"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, FileWritableByOthersIsRefusedUnloaded) {
  std::string plugin = CopyPlugin("writable.so");
  ASSERT_EQ(chmod(plugin.c_str(), 0666), 0);
  Status status = FindError(plugin);
  EXPECT_THAT(status.message(), HasSubstr("plugin file " + plugin));
  EXPECT_THAT(status.message(), HasSubstr("mode 0666"));
  EXPECT_THAT(status.message(), HasSubstr("chmod go-w"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, FileOfAnotherUserIsRefusedUnloaded) {
  if (geteuid() != 0) GTEST_SKIP() << "only root can give a file to another user";
  std::string plugin = CopyPlugin("theirs.so");
  ASSERT_EQ(chown(plugin.c_str(), kNobody, kNobody), 0);
  Status status = FindError(plugin);
  EXPECT_THAT(status.message(), HasSubstr("is owned by uid 65534 with mode 0755"));
  EXPECT_THAT(status.message(), HasSubstr("owned by root or by you"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, FolderWritableByOthersIsRefusedUnloaded) {
  std::string plugin = CopyPlugin("in_open_folder.so");
  ASSERT_EQ(chmod((dir_.path() + "/x").c_str(), 0777), 0);
  Status status = FindError(plugin);
  EXPECT_THAT(status.message(), HasSubstr("plugin folder " + dir_.path() + "/x"));
  EXPECT_THAT(status.message(), HasSubstr("mode 0777"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, SearchPathSkipsUntrustedFilesWithAWarning) {
  // An untrusted file on the search path is listed as an error, not loaded.
  std::string plugin = CopyPlugin("rayk_scheduler_marker.so");
  ASSERT_EQ(chmod(plugin.c_str(), 0666), 0);
  PluginLoader loader({dir_.path() + "/x"});
  std::vector<std::string> errors;
  loader.List(&errors);
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors.front(), HasSubstr("mode 0666"));
  auto found = loader.Find(PluginKind::kScheduler, "marker");
  ASSERT_FALSE(found.ok());
  EXPECT_THAT(found.status().message(), HasSubstr("mode 0666"));
  EXPECT_FALSE(ConstructorRan());
}

TEST_F(PluginTrustTest, RelativeFoldersInTheEnvironmentAreSkipped) {
  setenv("RAYK_PLUGIN_PATH", ("x:" + dir_.path() + "/x").c_str(), 1);
  PluginLoader loader;
  unsetenv("RAYK_PLUGIN_PATH");
  ASSERT_GE(loader.search_path().size(), 1u);
  EXPECT_EQ(loader.search_path().front(), dir_.path() + "/x");
  for (const std::string& folder : loader.search_path()) EXPECT_NE(folder, "x");
}

}  // namespace
}  // namespace rayk
