// The cluster secret's life outside the transport: made at random, kept in a
// 0600 file, found in the environment or the session, and refused clearly
// when it is malformed or its file is not private.
#include "process/cluster_secret.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class ClusterSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("RAYK_SESSION_ROOT", root_.path().c_str(), 1);
    unsetenv(kAuthTokenEnv);
  }
  void TearDown() override { unsetenv(kAuthTokenEnv); }

  std::string Session() {
    std::string dir = root_.path() + "/session_x";
    std::filesystem::create_directories(dir);
    return dir;
  }

  testing::TempDir root_;
};

TEST_F(ClusterSecretTest, NewSecretsAreLongRandomAndValid) {
  auto a = NewClusterSecret();
  auto b = NewClusterSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(ValidateClusterSecret(*a, "x").ok());
}

TEST_F(ClusterSecretTest, MalformedTokensAreRefusedWithTheFix) {
  Status short_one = ValidateClusterSecret("short", "--auth-token");
  EXPECT_FALSE(short_one.ok());
  EXPECT_THAT(short_one.message(), HasSubstr("--auth-token must be 16 to 1024"));
  EXPECT_THAT(short_one.message(), HasSubstr("openssl rand -hex 32"));
  EXPECT_FALSE(ValidateClusterSecret("has a blank in the middle", "x").ok());
  EXPECT_FALSE(ValidateClusterSecret("a-token-with-newline\n", "x").ok());
  EXPECT_FALSE(ValidateClusterSecret(std::string(2000, 'a'), "x").ok());
}

TEST_F(ClusterSecretTest, TheFileIsPrivateFromTheStartAndNeverOverwritten) {
  std::string dir = Session();
  ASSERT_TRUE(WriteClusterSecret(dir, "a-secret-of-sixteen-or-more").ok());
  struct stat info;
  ASSERT_EQ(stat((dir + "/auth_token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadClusterSecretFile(dir + "/auth_token").value(), "a-secret-of-sixteen-or-more");
  Status again = WriteClusterSecret(dir, "another-secret-0123456789");
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.message(), HasSubstr(dir + "/auth_token"));
}

TEST_F(ClusterSecretTest, AFileOthersCanReadIsRefused) {
  std::string file = root_.Write("token", "a-secret-of-sixteen-or-more\n");
  chmod(file.c_str(), 0644);
  auto read = ReadClusterSecretFile(file);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("chmod 600 " + file));
  chmod(file.c_str(), 0600);
  EXPECT_EQ(ReadClusterSecretFile(file).value(), "a-secret-of-sixteen-or-more");
}

TEST_F(ClusterSecretTest, FoundInTheEnvironmentFirstThenTheSession) {
  EXPECT_EQ(FindClusterSecret("").value(), "") << "no session, no variable: none";
  std::string dir = Session();
  ASSERT_TRUE(WriteClusterSecret(dir, "the-session-secret-0123").ok());
  EXPECT_EQ(FindClusterSecret(dir).value(), "the-session-secret-0123");
  std::filesystem::create_directory_symlink(dir, root_.path() + "/session_latest");
  EXPECT_EQ(FindClusterSecret("").value(), "the-session-secret-0123");
  setenv(kAuthTokenEnv, "the-environment-secret-01", 1);
  EXPECT_EQ(FindClusterSecret(dir).value(), "the-environment-secret-01");
  setenv(kAuthTokenEnv, "bad", 1);
  auto bad = FindClusterSecret(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("$RAYK_AUTH_TOKEN"));
}

TEST_F(ClusterSecretTest, ChildrenGetItAsAnEnvironmentEntry) {
  EXPECT_EQ(ClusterSecretEnvironmentEntry("s"), "RAYK_AUTH_TOKEN=s");
}

}  // namespace
}  // namespace rayk
