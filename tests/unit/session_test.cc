// Session folders are private to their user: a per-user root created 0700
// and refused when someone else could write it, session folders 0700, files
// 0600; and a process is told from a later one with its pid by its identity.
#include "process/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "test_util.h"

namespace rayk {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets an environment variable for one test, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SessionTest, RootIsPerUser) {
  ScopedEnv no_override("RAYK_SESSION_ROOT", nullptr);
  {
    ScopedEnv no_runtime("XDG_RUNTIME_DIR", nullptr);
    EXPECT_EQ(SessionRoot(), "/tmp/rayk-" + std::to_string(geteuid()));
  }
  testing::TempDir runtime;
  {
    ScopedEnv mine("XDG_RUNTIME_DIR", runtime.path().c_str());
    EXPECT_EQ(SessionRoot(), runtime.path() + "/rayk");
  }
  if (geteuid() == 0) {
    // A runtime folder that is not ours is not used.
    ASSERT_EQ(chown(runtime.path().c_str(), 65534, 65534), 0);
    ScopedEnv theirs("XDG_RUNTIME_DIR", runtime.path().c_str());
    EXPECT_EQ(SessionRoot(), "/tmp/rayk-" + std::to_string(geteuid()));
  }
}

TEST(SessionTest, NewRootAndSessionAreOwnerOnly) {
  testing::TempDir dir;
  std::string root = dir.path() + "/sessions";
  ScopedEnv env("RAYK_SESSION_ROOT", root.c_str());
  mode_t old_umask = umask(0);  // even a careless umask gives private folders
  auto session = CreateSessionDir();
  umask(old_umask);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(ModeOf(root), 0700u);
  EXPECT_EQ(ModeOf(*session), 0700u);
  EXPECT_EQ(ModeOf(*session + "/logs"), 0700u);
  auto latest = LatestSessionDir();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, *session);
}

TEST(SessionTest, RootWritableByOthersIsRefused) {
  testing::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  ScopedEnv env("RAYK_SESSION_ROOT", dir.path().c_str());
  auto session = CreateSessionDir();
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.status().message(),
              HasSubstr("the session root " + dir.path() + " is owned by uid " +
                        std::to_string(geteuid()) + " with mode 0777"));
  EXPECT_THAT(session.status().message(), HasSubstr("RAYK_SESSION_ROOT"));
  EXPECT_EQ(testing::CountLines(session.status().message()), 1);
  EXPECT_FALSE(LatestSessionDir().ok());
}

TEST(SessionTest, RootOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "only root can give a folder to another user";
  testing::TempDir dir;
  ASSERT_EQ(chown(dir.path().c_str(), 65534, 65534), 0);
  Status status = EnsureSessionRoot(dir.path());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("is owned by uid 65534 with mode 0700"));
}

TEST(SessionTest, RootThatIsALinkIsRefused) {
  testing::TempDir dir;
  std::string link = dir.path() + "/link";
  fs::create_directory_symlink(dir.path(), link);
  Status status = EnsureSessionRoot(link);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("is not a folder (a link or a file?)"));
}

TEST(SessionTest, FilesAreOwnerOnly) {
  testing::TempDir dir;
  mode_t old_umask = umask(0);
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/address", "127.0.0.1:1").ok());
  AppendLine(dir.path() + "/pids", "1 raylet");
  std::string log = dir.path() + "/child.log";
  auto child = SpawnProcess({"/bin/true"}, log, false);
  umask(old_umask);
  ASSERT_TRUE(child.ok());
  int status = 0;
  waitpid(*child, &status, 0);
  EXPECT_EQ(ModeOf(dir.path() + "/address"), 0600u);
  EXPECT_EQ(ModeOf(dir.path() + "/pids"), 0600u);
  EXPECT_EQ(ModeOf(log), 0600u);
  EXPECT_EQ(*ReadFile(dir.path() + "/address"), "127.0.0.1:1");
}

TEST(SessionTest, IdentityTellsProcessesApart) {
  auto self = ReadProcessIdentity(getpid());
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->executable, fs::read_symlink("/proc/self/exe").string());
  EXPECT_GT(self->start_time, 0u);
  testing::TempDir dir;
  auto sleeper = SpawnProcess({"/bin/sleep", "30"}, dir.path() + "/sleep.log", false);
  ASSERT_TRUE(sleeper.ok());
  auto other = ReadProcessIdentity(*sleeper);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->executable, fs::canonical("/bin/sleep").string());
  EXPECT_FALSE(*other == *self);
  auto again = ReadProcessIdentity(*sleeper);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *other);
  TerminateProcess(*sleeper, std::chrono::milliseconds(1000));
  EXPECT_FALSE(ReadProcessIdentity(*sleeper).ok());
}

}  // namespace
}  // namespace rayk
