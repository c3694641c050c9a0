// Workers' output on a real two-node dev cluster: log to driver (the driver,
// this test process, prints its job's lines with their task or actor, pid
// and node, repeats folded; off when asked) and `rayk logs` with each filter,
// --follow, and one-line errors for what it cannot find.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "dev_cluster.h"
#include "functions/log_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace log_functions;

// Sends this process's stdout (fd 1, where log to driver prints workers'
// stdout) or stderr (fd 2, their stderr) to a file for a scope, so that a
// test can read what the driver printed.
class CapturedStdout {
 public:
  explicit CapturedStdout(std::FILE* stream = stdout)
      : stream_(stream), fd_(fileno(stream)), path_(dir_.path() + "/captured") {
    std::fflush(stream_);
    saved_ = dup(fd_);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, fd_);
    close(fd);
  }
  ~CapturedStdout() {
    std::fflush(stream_);
    dup2(saved_, fd_);
    close(saved_);
  }
  std::string Text() const {
    std::fflush(stream_);
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Waits until the text matches `pattern` (ECMAScript regex).
  bool WaitFor(const std::string& pattern) const {
    std::regex re(pattern);
    return testing::PollUntil([&] { return std::regex_search(Text(), re); });
  }

 private:
  std::FILE* stream_;
  int fd_;
  testing::TempDir dir_;
  std::string path_;
  int saved_ = -1;
};

// InitOptions with log to driver off.
InitOptions Quiet() {
  InitOptions options;
  options.log_to_driver = false;
  return options;
}

// A node id's prefix as log lines show it: 8 hex digits.
constexpr char kPrefixTail[] = " pid=[0-9]+, node=[0-9a-f]{8}\\) ";

class LogsTest : public ::testing::Test {
 protected:
  testing::CommandResult Logs(const std::string& args) {
    return cluster_.Rayk("logs " + args + " --address " + cluster_.address());
  }
  // Waits until `rayk logs ARGS` prints `text`; returns its last output.
  testing::CommandResult WaitForLogs(const std::string& args, const std::string& text) {
    testing::CommandResult out;
    testing::PollUntil([&] {
      out = Logs(args);
      return out.exit_code == 0 && out.output.find(text) != std::string::npos;
    });
    return out;
  }
  // The value of `field` of the first element of `rayk ARGS --format json`.
  std::string JsonField(const std::string& args, const std::string& field) {
    auto out = cluster_.Rayk(args + " --format json --address " + cluster_.address());
    auto json = nlohmann::json::parse(out.output, nullptr, false);
    if (json.is_object() && json.contains("tasks")) json = json["tasks"];
    if (!json.is_array() || json.empty()) return "";
    return json[0].value(field, "");
  }

  testing::DevCluster cluster_{{.nodes = 2}};
};

TEST_F(LogsTest, TaskAndActorOutputReachTheDriverPrefixedAndFolded) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  CapturedStdout out;
  CapturedStdout err(stderr);
  testing::JoinedDriver driver(cluster_);
  ASSERT_EQ(*rayk::Get(rayk::Task(PrintLines).Remote(std::string("hello from a task"), 1)), 1);
  ASSERT_EQ(*rayk::Get(rayk::Task(PrintToStderr).Remote(std::string("hello on stderr"))), 1);
  auto speaker = rayk::Actor(Speaker::Create).SetName("speaker").Remote();
  ASSERT_EQ(*rayk::Get(speaker.Task(&Speaker::Say).Remote(std::string("hello from an actor"))), 1);
  ASSERT_EQ(*rayk::Get(rayk::Task(PrintLines).Remote(std::string("again and again"), 10)), 10);

  EXPECT_TRUE(out.WaitFor(std::string("\\(PrintLines") + kPrefixTail + "hello from a task\n"))
      << out.Text();
  // A worker's stderr lines go to the driver's stderr, not its stdout.
  EXPECT_TRUE(err.WaitFor(std::string("\\(PrintToStderr") + kPrefixTail + "hello on stderr\n"))
      << err.Text();
  EXPECT_TRUE(out.WaitFor(std::string("\\(speaker") + kPrefixTail + "hello from an actor\n"))
      << out.Text();
  // Ten identical lines: the first, then the nine repeats as one line once
  // the worker is quiet.
  EXPECT_TRUE(out.WaitFor(std::string("\\(PrintLines") + kPrefixTail +
                          "again and again \\[repeated 9x\\]\n"))
      << out.Text();
  std::string text = out.Text();
  size_t plain = 0;
  for (size_t at = 0; (at = text.find("again and again\n", at)) != std::string::npos; ++at) ++plain;
  EXPECT_EQ(plain, 1u) << text;
  // rayk's own log lines stay in the worker's log.
  EXPECT_THAT(text, Not(HasSubstr("[worker ")));
  EXPECT_THAT(text, Not(HasSubstr("hello on stderr")));
  EXPECT_THAT(err.Text(), Not(HasSubstr("hello from a task")));
}

TEST_F(LogsTest, SwitchedOffTheDriverPrintsNothing) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  CapturedStdout out;
  {
    testing::JoinedDriver driver(cluster_, Quiet());
    ASSERT_EQ(*rayk::Get(rayk::Task(PrintLines).Remote(std::string("only in the file"), 1)), 1);
    // The line is in the worker's log, where `rayk logs` finds it...
    WaitForLogs("", "only in the file");
    // ...and the monitor that would have published it polls every 100 ms:
    // twenty periods later the driver has still printed nothing.
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  EXPECT_THAT(out.Text(), Not(HasSubstr("only in the file")));
}

TEST_F(LogsTest, EnvironmentVariableSwitchesItAndIsChecked) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  setenv("RAYK_LOG_TO_DRIVER", "maybe", 1);
  try {
    testing::JoinedDriver driver(cluster_);
    ADD_FAILURE() << "Init accepted RAYK_LOG_TO_DRIVER=maybe";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("$RAYK_LOG_TO_DRIVER is 'maybe': set it to 0"));
  }
  setenv("RAYK_LOG_TO_DRIVER", "0", 1);
  CapturedStdout out;
  {
    testing::JoinedDriver driver(cluster_);
    ASSERT_EQ(*rayk::Get(rayk::Task(PrintLines).Remote(std::string("env says no"), 1)), 1);
    WaitForLogs("", "env says no");
    std::this_thread::sleep_for(std::chrono::seconds(2));  // as above
  }
  unsetenv("RAYK_LOG_TO_DRIVER");
  EXPECT_THAT(out.Text(), Not(HasSubstr("env says no")));
}

TEST_F(LogsTest, RaykLogsFiltersByActorTaskJobAndNode) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  testing::JoinedDriver driver(cluster_, Quiet());
  ASSERT_EQ(*rayk::Get(rayk::Task(PrintLines).Remote(std::string("a task's line"), 1)), 1);
  auto speaker = rayk::Actor(Speaker::Create).SetName("teller").Remote();
  ASSERT_EQ(*rayk::Get(speaker.Task(&Speaker::Say).Remote(std::string("an actor's line"))), 1);

  auto all = WaitForLogs("", "an actor's line");
  EXPECT_THAT(all.output,
              ContainsRegex(std::string("\\(PrintLines") + kPrefixTail + "a task's line\n"));
  EXPECT_THAT(all.output,
              ContainsRegex(std::string("\\(teller") + kPrefixTail + "an actor's line\n"));

  // Each stream alone; stderr lines are printed on the command's stderr.
  ASSERT_EQ(*rayk::Get(rayk::Task(PrintToStderr).Remote(std::string("an error line"))), 1);
  WaitForLogs("", "an error line");
  // (RunCommand adds 2>&1 at the end: "; true" keeps it off the rayk command.)
  auto errors =
      cluster_.Rayk("logs --stream stderr --address " + cluster_.address() + " 2>/dev/null; true");
  EXPECT_THAT(errors.output, Not(HasSubstr("an error line")));
  errors = Logs("--stream stderr");
  EXPECT_THAT(errors.output,
              ContainsRegex(std::string("\\(PrintToStderr") + kPrefixTail + "an error line\n"));
  EXPECT_THAT(errors.output, Not(HasSubstr("a task's line")));
  auto outputs = Logs("--stream stdout");
  EXPECT_THAT(outputs.output, HasSubstr("a task's line"));
  EXPECT_THAT(outputs.output, Not(HasSubstr("an error line")));

  auto actor = Logs("--actor teller");
  ASSERT_EQ(actor.exit_code, 0) << actor.output;
  EXPECT_THAT(actor.output, HasSubstr("an actor's line"));
  EXPECT_THAT(actor.output, Not(HasSubstr("a task's line")));

  // The task's id, once its events reached the GCS.
  std::string task_id;
  testing::PollUntil([&] {
    task_id = JsonField("list tasks --filter name=PrintLines", "task_id");
    return !task_id.empty();
  });
  ASSERT_FALSE(task_id.empty());
  auto task = Logs("--task " + task_id.substr(0, 12));
  ASSERT_EQ(task.exit_code, 0) << task.output;
  EXPECT_THAT(task.output, HasSubstr("a task's line"));
  EXPECT_THAT(task.output, Not(HasSubstr("an actor's line")));

  std::string job_id = JsonField("list jobs", "job_id");
  ASSERT_FALSE(job_id.empty());
  auto job = Logs("--job " + job_id.substr(0, 8));
  ASSERT_EQ(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr("a task's line"));
  EXPECT_THAT(job.output, HasSubstr("an actor's line"));

  // The actor's node shows its line; the other node does not.
  std::string actor_node = JsonField("list actors", "node_id");
  ASSERT_FALSE(actor_node.empty());
  std::string other_node =
      actor_node == cluster_.node_id(0) ? cluster_.node_id(1) : cluster_.node_id(0);
  auto on_node = Logs("--node " + actor_node.substr(0, 8));
  ASSERT_EQ(on_node.exit_code, 0) << on_node.output;
  EXPECT_THAT(on_node.output, HasSubstr("an actor's line"));
  auto off_node = Logs("--node " + other_node.substr(0, 8));
  ASSERT_EQ(off_node.exit_code, 0) << off_node.output;
  EXPECT_THAT(off_node.output, Not(HasSubstr("an actor's line")));
}

TEST_F(LogsTest, FollowPrintsLinesWrittenAfterItStarted) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  testing::JoinedDriver driver(cluster_, Quiet());
  auto speaker = rayk::Actor(Speaker::Create).SetName("follower").Remote();
  ASSERT_EQ(*rayk::Get(speaker.Task(&Speaker::Say).Remote(std::string("before following"))), 1);
  testing::TempDir dir;
  const std::string output = dir.path() + "/follow.txt";
  auto pid = SpawnProcess(
      {RAYK_CLI_PATH, "logs", "--follow", "--actor", "follower", "--address", cluster_.address()},
      output, /*new_session=*/false, {"RAYK_SESSION_ROOT=" + cluster_.session_root()});
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  auto printed = [&](const std::string& text) {
    return testing::PollUntil([&] {
      auto contents = ReadFile(output);
      return contents.ok() && contents->find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(printed("before following"));
  ASSERT_EQ(*rayk::Get(speaker.Task(&Speaker::Say).Remote(std::string("after following"))), 1);
  EXPECT_TRUE(printed("after following")) << testing::RunCommand("cat " + output).output;
  kill(*pid, SIGINT);
  int status = 0;
  waitpid(*pid, &status, 0);
}

TEST_F(LogsTest, BadInputIsOneLineNamingTheFix) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"--node ffffzz",
            "rayk: logs --node: no node with id prefix 'ffffzz'; run `rayk list "
            "nodes`"},
           {"--job 00zz", "rayk: logs --job: no job with id prefix '00zz'; run `rayk list jobs`"},
           {"--task 00zz",
            "rayk: logs --task: no task with id prefix '00zz'; run `rayk list "
            "tasks`"},
           {"--actor nobody", "rayk: logs --actor: no actor with id prefix 'nobody'"},
           {"--actor a --task b", "rayk: logs: give at most one of --actor, --task and --job"},
       }) {
    auto out = Logs(c.args);
    EXPECT_EQ(out.exit_code, 1) << c.args << ": " << out.output;
    EXPECT_THAT(out.output, HasSubstr(c.message)) << c.args;
    EXPECT_EQ(testing::CountLines(out.output), 1) << c.args << ": " << out.output;
  }
}

}  // namespace
}  // namespace rayk
