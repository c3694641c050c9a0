// The progress line of long commands (cli/progress.h): `rayk dev up`,
// `rayk microbenchmark` and `rayk job logs --follow` each run once through a
// pipe, where not one byte of progress may appear, and once on a
// pseudo-terminal (util-linux `script`), where the line must.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "dev_cluster.h"
#include "process/session.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The carriage return and erase-to-end-of-line the progress line is made of.
constexpr char kErase[] = "\033[K";

// Runs a shell command line on a pseudo-terminal (stdin, stdout and stderr
// all on it) and returns what the terminal showed.
testing::CommandResult OnTerminal(const std::string& command) {
  std::string quoted;
  for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return testing::RunCommand("script -qec '" + quoted + "' /dev/null < /dev/null");
}

// What a command run through a pipe printed: it succeeded, printed
// `expected`, and not one byte of a progress line (`progress` nor the control
// characters).
void ExpectNoProgress(const testing::CommandResult& piped, const std::string& expected,
                      const std::string& progress) {
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_THAT(piped.output, HasSubstr(expected));
  EXPECT_THAT(piped.output, Not(HasSubstr(progress)));
  EXPECT_THAT(piped.output, Not(HasSubstr(kErase)));
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
}

class CliProgressTest : public ::testing::Test {
 protected:
  void TearDown() override {
    Rayk("dev down");
    Rayk("stop");
    for (pid_t pid : testing::ProcessesMentioning(root_.path())) kill(pid, SIGKILL);
    for (int i = 0; i < 100 && !testing::ProcessesMentioning(root_.path()).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    rayk::shm::ReapOrphanedSegments();
  }

  // `rayk ARGS` in this test's session root, as a shell command line.
  std::string Command(const std::string& args) const {
    return "RAYK_SESSION_ROOT=" + root_.path() + " " + RAYK_CLI_PATH + " " + args;
  }
  testing::CommandResult Rayk(const std::string& args) const {
    return testing::RunCommand(Command(args));
  }

  testing::TempDir root_;
};

TEST_F(CliProgressTest, DevUpCountsNodesOnATerminalOnly) {
  std::string up = "dev up --nodes 3 --port 0 --config " + testing::TestConfigFile();
  ExpectNoProgress(Rayk(up), "Started a rayk dev cluster of 3 nodes", "nodes up");
  ASSERT_EQ(Rayk("dev down").exit_code, 0);

  auto shown = OnTerminal(Command(up));
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("\rnodes up 3/3" + std::string(kErase)));
  // Erased before the command's own output, which starts on a clean line.
  EXPECT_THAT(shown.output, HasSubstr("\r" + std::string(kErase) + "Started a rayk dev cluster"));
}

TEST_F(CliProgressTest, MicrobenchmarkNamesCaseAndTrialOnATerminalOnly) {
  std::string run =
      "microbenchmark --duration 0.05 --trials 2 --filter '^single_client_put_calls$'";
  ExpectNoProgress(Rayk(run), "single_client_put_calls per second", "case 1/1");

  auto shown = OnTerminal(Command(run));
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("\rcase 1/1 single_client_put_calls warm-up"));
  EXPECT_THAT(shown.output, HasSubstr("\rcase 1/1 single_client_put_calls trial 2/2"));
  EXPECT_THAT(shown.output,
              HasSubstr("\r" + std::string(kErase) + "single_client_put_calls per second"));
}

// While a followed job prints nothing, a terminal shows how it stands.
TEST_F(CliProgressTest, JobLogsFollowShowsTheJobsStateOnATerminalOnly) {
  ASSERT_EQ(
      Rayk("start --head --num-cpus 1 --port " + std::to_string(testing::FreePort())).exit_code, 0);
  std::string job = "-- /bin/sh -c 'echo first; sleep 4; echo second'";
  ASSERT_EQ(Rayk("job submit --no-wait --submission-id shown " + job).exit_code, 0);
  auto shown = OnTerminal(Command("job logs shown --follow"));
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("first"));
  EXPECT_THAT(shown.output, HasSubstr("second"));
  EXPECT_THAT(shown.output, ::testing::ContainsRegex("\rjob shown RUNNING for [0-9]+ s; no output "
                                                     "for [0-9]+ s"));

  ASSERT_EQ(Rayk("job submit --no-wait --submission-id piped " + job).exit_code, 0);
  auto piped = Rayk("job logs piped --follow");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(piped.output, "first\nsecond\n");
}

}  // namespace
}  // namespace rayk
