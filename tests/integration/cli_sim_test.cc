// `rayk sim` as a user runs it: traces and generated workloads through real
// scheduler plugins, the comparison table, JSON, the plot, and a one-line
// error for each bad input (a bad trace line, a missing or broken plugin).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;
using testing::RunRayk;

// Two nodes; `tasks` one-CPU tasks arriving together on n0, each running 1 s.
std::string TwoNodeTrace(int tasks) {
  std::string trace =
      "{\"type\": \"node\", \"name\": \"n0\", \"resources\": {\"CPU\": 2}}\n"
      "{\"type\": \"node\", \"name\": \"n1\", \"resources\": {\"CPU\": 2}, \"labels\": {\"zone\": "
      "\"b\"}}\n";
  for (int i = 0; i < tasks; ++i) {
    trace += "{\"type\": \"task\", \"time\": 0, \"duration\": 1, \"resources\": {\"CPU\": 1}}\n";
  }
  return trace;
}

class CliSimTest : public ::testing::Test {
 protected:
  nlohmann::json Json(const std::string& args) {
    auto result = RunRayk("sim " + args + " --format json");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    auto parsed = nlohmann::json::parse(result.output, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << result.output;
    return parsed;
  }

  // Checks that `rayk sim ARGS` fails with one line containing `expected`.
  void ExpectFails(const std::string& args, const std::string& expected) {
    auto result = RunRayk("sim " + args);
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_THAT(result.output, HasSubstr(expected));
    EXPECT_EQ(testing::CountLines(result.output), 1) << result.output;
  }

  testing::TempDir dir_;
};

TEST_F(CliSimTest, TableComparesEveryBuiltInPolicy) {
  std::string trace = dir_.Write("trace.jsonl", TwoNodeTrace(8));
  auto result = RunRayk("sim " + trace + " --scheduler hybrid,spread,binpack,random");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* column : {"POLICY", "MAKESPAN", "WAIT MEAN", "WAIT P99", "UTIL CPU",
                             "SPILLBACKS", "BYTES MOVED", "SCHED CALLS", "US/CALL"}) {
    EXPECT_THAT(result.output, HasSubstr(column));
  }
  for (const char* policy : {"\nhybrid ", "\nspread ", "\nbinpack ", "\nrandom "}) {
    EXPECT_THAT(result.output, HasSubstr(policy));
  }
}

TEST_F(CliSimTest, JsonGivesTheMeasuresOfEachPolicy) {
  // 8 one-second tasks on 4 CPUs take at least two rounds.
  std::string trace = dir_.Write("trace.jsonl", TwoNodeTrace(8));
  auto out = Json(trace + " --scheduler hybrid,spread,binpack,random");
  ASSERT_EQ(out["policies"].size(), 4u);
  for (const auto& p : out["policies"]) {
    SCOPED_TRACE(p["policy"].get<std::string>());
    EXPECT_EQ(p["finished"], 8);
    EXPECT_EQ(p["unfinished"], 0);
    EXPECT_GE(p["makespan_s"].get<double>(), 2.0);
    double cpu = p["utilization"]["CPU"].get<double>();
    // Held by leases: at least the 8 CPU-seconds of work over the makespan
    // on 4 CPUs, plus what idle leases hold before they go back.
    EXPECT_GE(cpu, 8 / (4 * p["makespan_s"].get<double>()) - 1e-9);
    EXPECT_LE(cpu, 1.0);
    EXPECT_GE(p["scheduler_calls"].get<int>(), 1);
  }
  // Round robin puts two leases on each node at once: exactly two rounds.
  EXPECT_EQ(out["policies"][1]["policy"], "spread");
  EXPECT_DOUBLE_EQ(out["policies"][1]["makespan_s"].get<double>(), 2.0);
  EXPECT_EQ(out["workload"]["nodes"], 2);
}

TEST_F(CliSimTest, LeasesAreReusedWithinASchedulingClass) {
  // One CPU and a hundred tasks of one class: the first lease runs them all
  // one after another. The owner asks once, is granted, and keeps
  // kMaxLeaseRequests (8) more requests waiting while its queue is long:
  // nine requests for a hundred tasks.
  std::string trace = "{\"type\": \"node\", \"name\": \"n0\", \"resources\": {\"CPU\": 1}}\n";
  for (int i = 0; i < 100; ++i) {
    trace += "{\"type\": \"task\", \"time\": 0, \"duration\": 1, \"resources\": {\"CPU\": 1}}\n";
  }
  auto out = Json(dir_.Write("trace.jsonl", trace) + " --scheduler hybrid");
  const auto& p = out["policies"][0];
  EXPECT_EQ(p["finished"], 100);
  EXPECT_DOUBLE_EQ(p["makespan_s"].get<double>(), 100.0);
  EXPECT_EQ(p["lease_requests"], 9);
}

TEST_F(CliSimTest, WithoutLeaseReuseEveryTaskAsksThePolicy) {
  // The same hundred tasks with [scheduler] lease_reuse = false: each lease
  // goes back after one task, so each task is one more lease request.
  std::string trace = "{\"type\": \"node\", \"name\": \"n0\", \"resources\": {\"CPU\": 1}}\n";
  for (int i = 0; i < 100; ++i) {
    trace += "{\"type\": \"task\", \"time\": 0, \"duration\": 1, \"resources\": {\"CPU\": 1}}\n";
  }
  std::string file = dir_.Write("trace.jsonl", trace);
  auto out = Json(file + " --scheduler hybrid --set scheduler.lease_reuse=false");
  const auto& p = out["policies"][0];
  EXPECT_EQ(p["finished"], 100);
  EXPECT_DOUBLE_EQ(p["makespan_s"].get<double>(), 100.0);
  EXPECT_GE(p["lease_requests"].get<int>(), 100);
  EXPECT_GE(p["scheduler_calls"].get<int>(), 100);
  ExpectFails(file + " --set scheduler.lease_reuse=sometimes", "lease_reuse must be true or false");
}

TEST_F(CliSimTest, RequestsForwardedToAFullNodeMoveOnToFreeNodes) {
  // binpack sends every request of one report period to the same node; the
  // two it cannot grant move on to n2 once a newer view shows n2 free, as a
  // raylet does (multi_node_test has the same on a real cluster).
  std::string trace =
      TwoNodeTrace(0) + "{\"type\": \"node\", \"name\": \"n2\", \"resources\": {\"CPU\": 2}}\n";
  for (int i = 0; i < 6; ++i) {
    trace += "{\"type\": \"task\", \"time\": 0, \"duration\": 10, \"resources\": {\"CPU\": 1}}\n";
  }
  std::string placements = dir_.path() + "/placements.jsonl";
  auto out = Json(dir_.Write("trace.jsonl", trace) + " --scheduler binpack --write-placements " +
                  placements);
  EXPECT_EQ(out["policies"][0]["finished"], 6);
  std::map<std::string, int> per_node;
  std::ifstream in(placements);
  for (std::string line; std::getline(in, line);) {
    ++per_node[nlohmann::json::parse(line)["node"].get<std::string>()];
  }
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"n0", 2}, {"n1", 2}, {"n2", 2}}));
}

TEST_F(CliSimTest, ArgumentsOnAnotherNodeAreMoved) {
  // Hard affinity puts the task on n1; its 1000-byte argument lives on n0.
  std::string trace = TwoNodeTrace(0) +
                      "{\"type\": \"task\", \"time\": 0, \"duration\": 1, \"resources\": {\"CPU\": "
                      "1}, \"strategy\": \"node_affinity\", \"affinity_node\": \"n1\", \"args\": "
                      "[{\"node\": \"n0\", \"bytes\": 1000}]}\n";
  auto out = Json(dir_.Write("trace.jsonl", trace) + " --scheduler spread");
  EXPECT_EQ(out["policies"][0]["bytes_moved"], 1000);
  EXPECT_EQ(out["policies"][0]["finished"], 1);
}

TEST_F(CliSimTest, AnInfeasibleTaskStaysUnfinished) {
  std::string trace = TwoNodeTrace(1) +
                      "{\"type\": \"task\", \"time\": 0, \"duration\": 1, \"resources\": {\"GPU\": "
                      "1}}\n";
  auto out = Json(dir_.Write("trace.jsonl", trace) + " --scheduler hybrid");
  EXPECT_EQ(out["policies"][0]["finished"], 1);
  EXPECT_EQ(out["policies"][0]["unfinished"], 1);
  EXPECT_EQ(out["policies"][0]["infeasible_requests"], 1);
}

TEST_F(CliSimTest, GeneratedWorkloadWithFailuresAndActorsFinishes) {
  auto out = Json(
      "--generate --nodes 20 --tasks 2000 --actors 10 --failures 3 --arrival-rate 100 --seed 7 "
      "--scheduler hybrid,random");
  for (const auto& p : out["policies"]) {
    SCOPED_TRACE(p["policy"].get<std::string>());
    EXPECT_EQ(p["finished"], 2010);
    EXPECT_EQ(p["unfinished"], 0);
  }
  EXPECT_EQ(out["workload"]["failures"], 3);
}

TEST_F(CliSimTest, AWrittenTraceReplaysTheSame) {
  std::string trace = dir_.path() + "/generated.jsonl";
  std::string args = "--scheduler hybrid --seed 3";
  auto generated = Json("--generate --nodes 10 --tasks 500 --arrival-rate 50 --write-trace " +
                        trace + " " + args);
  auto replayed = Json(trace + " " + args);
  EXPECT_EQ(generated["policies"][0]["finished"], replayed["policies"][0]["finished"]);
  EXPECT_EQ(generated["policies"][0]["bytes_moved"], replayed["policies"][0]["bytes_moved"]);
  EXPECT_DOUBLE_EQ(generated["policies"][0]["makespan_s"].get<double>(),
                   replayed["policies"][0]["makespan_s"].get<double>());
}

TEST_F(CliSimTest, APluginNamedByPathIsCompared) {
  std::string spread = std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_scheduler_spread.so";
  auto out = Json(dir_.Write("trace.jsonl", TwoNodeTrace(4)) + " --scheduler hybrid," + spread);
  ASSERT_EQ(out["policies"].size(), 2u);
  EXPECT_EQ(out["policies"][1]["policy"], spread);
  EXPECT_EQ(out["policies"][1]["finished"], 4);
}

TEST_F(CliSimTest, PlotIsDrawnWithGnuplot) {
  std::string plot = dir_.path() + "/out.svg";
  std::string tmp = dir_.path() + "/tmp";
  std::filesystem::create_directory(tmp);
  auto result = testing::RunCommand("TMPDIR=" + tmp + " " + RAYK_CLI_PATH + " sim " +
                                    dir_.Write("trace.jsonl", TwoNodeTrace(8)) +
                                    " --scheduler hybrid,spread --plot " + plot);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream in(plot);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<svg"));
  EXPECT_THAT(svg.str(), HasSubstr("hybrid"));
  EXPECT_THAT(svg.str(), HasSubstr("queued tasks"));
  // gnuplot's data and script files are gone.
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
}

TEST_F(CliSimTest, ABadTraceLineIsOneLineNamingTheLine) {
  std::string trace = dir_.Write(
      "trace.jsonl", TwoNodeTrace(1) + "{\"type\": \"task\", \"time\": 0, \"duration\": -3}\n");
  ExpectFails(trace, trace + ":4: task: 'duration' must be a number >= 0");
  std::string broken = dir_.Write("broken.jsonl", TwoNodeTrace(1) + "{\"type\": \"task\",\n");
  ExpectFails(broken, broken + ":4: not valid JSON");
  std::string unknown =
      dir_.Write("unknown.jsonl", TwoNodeTrace(0) +
                                      "{\"type\": \"task\", \"time\": 0, \"duration\": 1, "
                                      "\"owner\": \"n7\"}\n");
  ExpectFails(unknown, unknown + ":3: unknown node 'n7' in 'owner'");
  std::string key = dir_.Write("key.jsonl", TwoNodeTrace(0) +
                                                "{\"type\": \"task\", \"time\": 0, "
                                                "\"duration\": 1, \"durration\": 1}\n");
  ExpectFails(key, key + ":3: task: unknown key 'durration'");
  ExpectFails(dir_.path() + "/missing.jsonl", "cannot read the trace");
}

TEST_F(CliSimTest, AMissingOrBrokenPluginIsOneLine) {
  std::string trace = dir_.Write("trace.jsonl", TwoNodeTrace(1));
  ExpectFails(trace + " --scheduler hybrid,nosuch", "--scheduler nosuch");
  std::string wrong_abi = std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_wrongabi.so";
  ExpectFails(trace + " --scheduler " + wrong_abi, "ABI");
  std::string not_plugin = std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_notplugin.so";
  ExpectFails(trace + " --scheduler " + not_plugin, not_plugin);
}

TEST_F(CliSimTest, BadOptionsAreOneLine) {
  std::string trace = dir_.Write("trace.jsonl", TwoNodeTrace(1));
  ExpectFails(trace + " --plot out.pdf", "must end in .svg or .png");
  ExpectFails("", "needs a workload");
  ExpectFails(trace + " --generate", "needs a workload");
  ExpectFails("--generate --demands '[1]'", "--demands must be a JSON array");
  ExpectFails(trace + " --set scheduler.hybrid.spread_threshold=7", "spread_threshold");
}

}  // namespace
}  // namespace rayk
