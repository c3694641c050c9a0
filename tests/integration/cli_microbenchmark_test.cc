// `rayk microbenchmark` as a user runs it: a couple of fast cases with a tiny
// duration, as Ray-style lines and as one JSON document, and each bad option
// as a one-line error. The figures themselves are not checked beyond being
// positive: they belong in bench/README.md, not in a test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;

// Two cheap cases: one on the driver alone, one through a worker.
constexpr char kFilter[] = "'^(single_client_put_calls|single_client_tasks_sync)$'";

class CliMicrobenchmarkTest : public ::testing::Test {
 protected:
  // Runs `rayk microbenchmark ARGS` with its own session root; stdout goes to
  // `stdout_file` when given (so that logs on stderr stay out of it).
  testing::CommandResult Run(const std::string& args, const std::string& stdout_file = "") {
    std::string command =
        "RAYK_SESSION_ROOT=" + root_.path() + " " + RAYK_CLI_PATH + " microbenchmark " + args;
    if (!stdout_file.empty()) command += " > " + stdout_file;
    return RunCommand(command);
  }
  testing::TempDir root_;
};

TEST_F(CliMicrobenchmarkTest, PrintsOneRayStyleLinePerSelectedCase) {
  std::string out = root_.path() + "/out.txt";
  auto result = Run(std::string("--duration 0.05 --trials 2 --filter ") + kFilter, out);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream file(out);
  std::string line;
  std::vector<std::string> names;
  const std::regex shape(R"(^(\S+) per second ([0-9]+\.[0-9]{2}) \+- ([0-9]+\.[0-9]{2})$)");
  while (std::getline(file, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, shape)) << "unexpected line: " << line;
    names.push_back(m[1]);
    EXPECT_GT(std::stod(m[2]), 0) << line;
  }
  EXPECT_THAT(names, ::testing::ElementsAre("single_client_put_calls", "single_client_tasks_sync"));
}

TEST_F(CliMicrobenchmarkTest, JsonIsOneDocumentWithEveryTrial) {
  std::string out = root_.path() + "/out.json";
  auto result =
      Run(std::string("--duration 0.05 --trials 3 --format json --filter ") + kFilter, out);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  auto json = nlohmann::json::parse(text.str());
  EXPECT_EQ(json["trials"], 3);
  EXPECT_EQ(json["duration_s"], 0.05);
  ASSERT_EQ(json["cases"].size(), 2u) << json.dump(2);
  EXPECT_EQ(json["cases"][0]["name"], "single_client_put_calls");
  EXPECT_EQ(json["cases"][1]["name"], "single_client_tasks_sync");
  for (const auto& c : json["cases"]) {
    EXPECT_EQ(c["unit"], "per second");
    EXPECT_GT(c["mean"].get<double>(), 0);
    EXPECT_GE(c["std"].get<double>(), 0);
    ASSERT_EQ(c["trials"].size(), 3u);
    for (const auto& sample : c["trials"]) EXPECT_GT(sample.get<double>(), 0);
  }
}

// Ray's five async-actor cases run on an actor whose methods are coroutines.
TEST_F(CliMicrobenchmarkTest, AsyncActorCasesRun) {
  std::string out = root_.path() + "/out.json";
  auto result = Run("--duration 0.05 --trials 1 --format json --filter async_actor", out);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  auto json = nlohmann::json::parse(text.str());
  std::vector<std::string> names;
  for (const auto& c : json["cases"]) {
    names.push_back(c["name"]);
    EXPECT_GT(c["mean"].get<double>(), 0) << c["name"];
  }
  EXPECT_THAT(names,
              ::testing::ElementsAre("1_1_async_actor_calls_sync", "1_1_async_actor_calls_async",
                                     "1_1_async_actor_calls_with_args_async",
                                     "1_n_async_actor_calls_async", "n_n_async_actor_calls_async"));
}

TEST_F(CliMicrobenchmarkTest, BadOptionsAreOneLineErrors) {
  struct Bad {
    std::string args;
    std::string expected;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"--filter '(unclosed'", "--filter '(unclosed' is not a valid regular expression"},
           {"--filter nosuchcase",
            "--filter 'nosuchcase' matches none of the cases: single_client_get_calls, "},
           {"--duration 0", "--duration must be more than 0 seconds"},
           {"--duration -1", "--duration must be more than 0 seconds"},
           {"--trials 0", "--trials must be at least 1"},
       }) {
    auto result = Run(bad.args);
    EXPECT_NE(result.exit_code, 0) << bad.args;
    EXPECT_THAT(result.output, HasSubstr("rayk: " + bad.expected)) << bad.args;
    EXPECT_EQ(testing::CountLines(result.output), 1) << bad.args << ": " << result.output;
  }
}

TEST_F(CliMicrobenchmarkTest, AnUnreachableClusterIsAnError) {
  // Port 1 has no GCS: joining fails with one line instead of benchmarking nothing.
  auto result = Run("--address 127.0.0.1:1 --duration 0.05 --filter single_client_put_calls");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("rayk: microbenchmark: cannot start rayk: "));
}

}  // namespace
}  // namespace rayk
