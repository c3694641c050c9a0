// What `rayk start` leaves on disk is for its user only (root 0700, session
// folders 0700, logs, the GCS database and its WAL, address and pids files
// 0600), and `rayk stop` signals only the processes it recorded: a pid
// planted in the pids file (here a `sleep`) survives it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster_fixture.h"
#include "process/session.h"
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

class CliSessionFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sessions_ = root_.path() + "/sessions";  // rayk creates it
    env_ = "RAYK_SESSION_ROOT=" + sessions_ + " ";
    port_ = testing::FreePort();
  }
  void TearDown() override {
    testing::RunCommand(env_ + RAYK_CLI_PATH + " stop");
    if (sleeper_ > 0) {
      kill(sleeper_, SIGKILL);
      waitpid(sleeper_, nullptr, 0);
    }
  }
  testing::CommandResult Rayk(const std::string& args) {
    return testing::RunCommand(env_ + RAYK_CLI_PATH + " " + args);
  }
  // Starts a head node with the built-in configuration; returns its session folder.
  std::string StartHead() {
    auto start = Rayk("start --head --num-cpus 1 --format json --port " + std::to_string(port_));
    EXPECT_EQ(start.exit_code, 0) << start.output;
    if (start.exit_code != 0) return "";
    return nlohmann::json::parse(start.output)["session_dir"].get<std::string>();
  }

  testing::TempDir root_;
  std::string sessions_;
  std::string env_;
  int port_ = 0;
  pid_t sleeper_ = 0;
};

TEST_F(CliSessionFilesTest, EverythingStartWritesIsOwnerOnly) {
  std::string session = StartHead();
  ASSERT_FALSE(session.empty());
  // A KV write goes through the GCS database (and its WAL).
  auto put = Rayk("kv put secret hunter2 --address 127.0.0.1:" + std::to_string(port_));
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_EQ(ModeOf(sessions_), 0700u);
  EXPECT_EQ(ModeOf(session), 0700u);
  EXPECT_EQ(ModeOf(session + "/logs"), 0700u);
  // Without a config file the GCS keeps its tables in SQLite, as plugins.toml says.
  ASSERT_TRUE(fs::exists(session + "/gcs.sqlite"))
      << "the built-in defaults must select gcs sqlite";
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(session)) {
    if (entry.is_symlink()) continue;
    const std::string path = entry.path().string();
    if (entry.is_directory()) {
      EXPECT_EQ(ModeOf(path), 0700u) << path;
    } else {
      EXPECT_EQ(ModeOf(path), 0600u) << path;
      ++files;
    }
  }
  for (const char* name : {"/gcs.sqlite", "/pids", "/gcs_address", "/raylet_address",
                           "/logs/gcs_server.log", "/logs/raylet.log"}) {
    ASSERT_TRUE(fs::exists(session + name)) << name;
  }
  if (fs::exists(session + "/gcs.sqlite-wal")) {
    EXPECT_EQ(ModeOf(session + "/gcs.sqlite-wal"), 0600u);
  }
  EXPECT_GE(files, 6);
}

TEST_F(CliSessionFilesTest, StopLeavesAPlantedPidAlone) {
  std::string session = StartHead();
  ASSERT_FALSE(session.empty());
  auto spawned = SpawnProcess({"/bin/sleep", "300"}, root_.path() + "/sleep.log", false);
  ASSERT_TRUE(spawned.ok());
  sleeper_ = *spawned;
  // Plant the sleep twice: as a bare old-style line, and with the raylet's
  // recorded start time and executable copied (what a reused pid looks like).
  std::string raylet_line;
  std::ifstream pids(session + "/pids");
  for (std::string line; std::getline(pids, line);) {
    if (line.find(" raylet ") != std::string::npos) raylet_line = line;
  }
  ASSERT_THAT(raylet_line, HasSubstr(" start="));
  ASSERT_THAT(raylet_line, HasSubstr(" exe="));
  std::string identity = raylet_line.substr(raylet_line.find(" start="));
  AppendLine(session + "/pids", std::to_string(sleeper_) + " gcs-server");
  AppendLine(session + "/pids", std::to_string(sleeper_) + " raylet" + identity);

  auto stop = Rayk("stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_THAT(stop.output, HasSubstr("Stopped raylet"));
  EXPECT_THAT(stop.output, HasSubstr("Stopped gcs-server"));
  EXPECT_THAT(stop.output,
              HasSubstr("Left pid " + std::to_string(sleeper_) + " alone: it is not the raylet"));
  EXPECT_THAT(stop.output, HasSubstr("(it now runs " + fs::canonical("/bin/sleep").string() + ")"));
  EXPECT_THAT(stop.output, HasSubstr("records no start time or executable to check"));
  // The sleep is alive: not signalled, so not reaped either.
  EXPECT_EQ(waitpid(sleeper_, nullptr, WNOHANG), 0);
  EXPECT_TRUE(ProcessAlive(sleeper_));
}

TEST_F(CliSessionFilesTest, ARootOthersCanWriteIsRefused) {
  fs::create_directory(sessions_);
  ASSERT_EQ(chmod(sessions_.c_str(), 0777), 0);
  auto start = Rayk("start --head --num-cpus 1 --port " + std::to_string(port_));
  EXPECT_NE(start.exit_code, 0);
  EXPECT_THAT(start.output, HasSubstr("the session root " + sessions_ + " is owned by uid"));
  EXPECT_THAT(start.output, HasSubstr("mode 0777"));
  EXPECT_EQ(testing::CountLines(start.output), 1) << start.output;
  auto stop = Rayk("stop");
  EXPECT_NE(stop.exit_code, 0);
  EXPECT_THAT(stop.output, HasSubstr("mode 0777"));
  EXPECT_EQ(testing::CountProcessesMentioning(sessions_), 0);
}

}  // namespace
}  // namespace rayk
