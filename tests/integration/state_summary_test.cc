// `rayk summary tasks|actors|objects` and `rayk get task|actor ID` on a real
// dev cluster: a driver runs tasks (one throwing), creates actors and puts a
// large object; the summaries count them by name, class and node, as text
// and JSON, and `rayk get` finds one task or actor by a unique id prefix (or
// an actor by name). Unknown and ambiguous prefixes are one line naming the
// fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <numeric>
#include <string>

#include "dev_cluster.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class StateSummaryTest : public ::testing::Test {
 protected:
  // `rayk ARGS --format json --address A`, parsed (null on failure).
  nlohmann::json Json(const std::string& args) {
    auto out = cluster_.Rayk(args + " --format json --address " + cluster_.address());
    if (out.exit_code != 0) return nullptr;
    return nlohmann::json::parse(out.output, nullptr, false);
  }

  testing::CommandResult Text(const std::string& args) {
    return cluster_.Rayk(args + " --address " + cluster_.address());
  }

  // Waits until the task summary counts `count` attempts in a final state:
  // workers send their events about once a second.
  nlohmann::json WaitForFinished(uint64_t count) {
    nlohmann::json summary;
    testing::PollUntil([&] {
      summary = Json("summary tasks");
      return summary.is_object() && summary["by_state"].value("FINISHED", uint64_t{0}) +
                                            summary["by_state"].value("FAILED", uint64_t{0}) >=
                                        count;
    });
    return summary;
  }

  testing::DevCluster cluster_{{.nodes = 2}};
};

TEST_F(StateSummaryTest, SummariesAndGetShowWhatRan) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  testing::JoinedDriver driver(cluster_);
  std::vector<rayk::ObjectRef<int>> sums;
  for (int i = 0; i < 4; ++i) sums.push_back(rayk::Task(test_functions::Add).Remote(i, 1));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(*rayk::Get(sums[i]), i + 1);
  EXPECT_THROW(rayk::Get(rayk::Task(test_functions::Throws).Remote(std::string("boom"))),
               rayk::TaskError);
  auto named = rayk::Actor(test_functions::Counter::Create).SetName("summarized").Remote(0);
  auto unnamed = rayk::Actor(test_functions::Counter::Create).Remote(10);
  ASSERT_EQ(*rayk::Get(named.Task(&test_functions::Counter::Incr).Remote(1)), 1);
  ASSERT_EQ(*rayk::Get(unnamed.Task(&test_functions::Counter::Incr).Remote(1)), 11);
  std::vector<double> values(1 << 20);  // 8 MiB: in the store, not inline
  std::iota(values.begin(), values.end(), 1.0);
  auto big = rayk::Put(values);

  // summary tasks: 4 Add, 1 Throws, 2 Counter::Create, 2 Counter::Incr.
  nlohmann::json tasks = WaitForFinished(9);
  ASSERT_TRUE(tasks.is_object()) << tasks.dump();
  EXPECT_EQ(tasks["total"], 9) << tasks.dump(2);
  EXPECT_EQ(tasks["by_state"]["FINISHED"], 8);
  EXPECT_EQ(tasks["by_state"]["FAILED"], 1);
  EXPECT_EQ(tasks["dropped_by_workers"], 0);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& group : tasks["by_name"]) by_name[group["name"]] = group;
  EXPECT_EQ(by_name["Add"]["total"], 4) << tasks.dump(2);
  EXPECT_EQ(by_name["Add"]["by_state"]["FINISHED"], 4);
  EXPECT_EQ(by_name["Throws"]["by_state"]["FAILED"], 1);
  EXPECT_EQ(by_name["Counter::Create"]["total"], 2);
  EXPECT_EQ(by_name["Counter::Incr"]["total"], 2);
  auto tasks_text = Text("summary tasks");
  ASSERT_EQ(tasks_text.exit_code, 0) << tasks_text.output;
  EXPECT_THAT(tasks_text.output, ContainsRegex("NAME +TOTAL +FAILED +FINISHED"));
  EXPECT_THAT(tasks_text.output, ContainsRegex("  Add +4 +- +4\n"));
  EXPECT_THAT(tasks_text.output, ContainsRegex("  Throws +1 +1 +-\n"));
  EXPECT_THAT(tasks_text.output, HasSubstr("Summarized 9 task attempts\n"));

  // summary actors: both Counters alive.
  nlohmann::json actors = Json("summary actors");
  ASSERT_TRUE(actors.is_object());
  EXPECT_EQ(actors["total"], 2) << actors.dump(2);
  EXPECT_EQ(actors["by_state"]["ALIVE"], 2);
  ASSERT_EQ(actors["by_class"].size(), 1u) << actors.dump(2);
  EXPECT_THAT(actors["by_class"][0]["class"].get<std::string>(), HasSubstr("Counter"));
  EXPECT_EQ(actors["by_class"][0]["by_state"]["ALIVE"], 2);
  auto actors_text = Text("summary actors");
  ASSERT_EQ(actors_text.exit_code, 0) << actors_text.output;
  EXPECT_THAT(actors_text.output, ContainsRegex("CLASS +TOTAL +ALIVE\n  [^ ]*Counter +2 +2\n"));
  EXPECT_THAT(actors_text.output, HasSubstr("Summarized 2 actors\n"));

  // summary objects: the 8 MiB put is in one node's store.
  nlohmann::json objects = Json("summary objects");
  ASSERT_TRUE(objects.is_object());
  EXPECT_GE(objects["total"]["num_objects"].get<uint64_t>(), 1u) << objects.dump(2);
  EXPECT_GE(objects["total"]["used_bytes"].get<uint64_t>(), uint64_t{8} << 20);
  ASSERT_EQ(objects["nodes"].size(), 2u);
  uint64_t used = 0;
  for (const auto& node : objects["nodes"]) {
    EXPECT_TRUE(node["node_id"] == cluster_.node_id(0) || node["node_id"] == cluster_.node_id(1));
    used += node["used_bytes"].get<uint64_t>();
  }
  EXPECT_EQ(used, objects["total"]["used_bytes"].get<uint64_t>());
  auto objects_text = Text("summary objects");
  ASSERT_EQ(objects_text.exit_code, 0) << objects_text.output;
  EXPECT_THAT(objects_text.output, ContainsRegex("NODE +OBJECTS +USED +PINNED +SPILLED +CAPACITY"));
  EXPECT_THAT(objects_text.output, HasSubstr(cluster_.node_id(0).substr(0, 8)));
  EXPECT_THAT(objects_text.output, ContainsRegex("  TOTAL +[0-9]+ +[0-9.]+ MiB"));

  // get task: the failed task by an 8-character prefix, as `rayk list tasks` shows.
  nlohmann::json failed = Json("list tasks --filter state=FAILED");
  ASSERT_EQ(failed["tasks"].size(), 1u) << failed.dump();
  std::string task_id = failed["tasks"][0]["task_id"];
  nlohmann::json task = Json("get task " + task_id.substr(0, 8));
  ASSERT_TRUE(task.is_object()) << Text("get task " + task_id.substr(0, 8)).output;
  EXPECT_EQ(task["task_id"], task_id);
  ASSERT_EQ(task["attempts"].size(), 1u);
  EXPECT_EQ(task["attempts"][0], failed["tasks"][0]);
  auto task_text = Text("get task " + task_id);
  ASSERT_EQ(task_text.exit_code, 0) << task_text.output;
  EXPECT_TRUE(task_text.output.starts_with("task_id: " + task_id + "\n")) << task_text.output;
  EXPECT_THAT(task_text.output, HasSubstr("name: Throws\n"));
  EXPECT_THAT(task_text.output, HasSubstr("state: FAILED\n"));
  EXPECT_THAT(task_text.output, ContainsRegex("error: .*boom"));

  // get actor: by name and by id prefix, the same record.
  nlohmann::json by_actor_name = Json("get actor summarized");
  ASSERT_TRUE(by_actor_name.is_object());
  EXPECT_EQ(by_actor_name["name"], "summarized");
  EXPECT_THAT(by_actor_name["class"].get<std::string>(), HasSubstr("Counter"));
  EXPECT_EQ(by_actor_name["state"], "ALIVE");
  std::string actor_id = by_actor_name["actor_id"];
  nlohmann::json by_prefix = Json("get actor " + actor_id.substr(0, 8));
  EXPECT_EQ(by_prefix, by_actor_name);
  auto actor_text = Text("get actor " + actor_id);
  ASSERT_EQ(actor_text.exit_code, 0) << actor_text.output;
  EXPECT_TRUE(actor_text.output.starts_with("actor_id: " + actor_id + "\n")) << actor_text.output;
  EXPECT_THAT(actor_text.output, ContainsRegex("class: [^\n]*Counter\n"));
  EXPECT_THAT(actor_text.output, HasSubstr("state: ALIVE\n"));

  // Unknown and ambiguous ids: one line naming the fix. Every id starts
  // with one of 16 hex digits, so one of them prefixes at least 2 of the 9.
  auto unknown = Text("get task zz");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(testing::CountLines(unknown.output), 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("no task with id prefix 'zz'; run `rayk list tasks`"));
  auto no_actor = Text("get actor nobody");
  EXPECT_EQ(no_actor.exit_code, 1);
  EXPECT_THAT(no_actor.output,
              HasSubstr("no actor with id prefix 'nobody'; run `rayk list actors`"));
  nlohmann::json all = Json("list tasks --limit 1000");
  std::map<char, int> first_digits;
  for (const auto& attempt : all["tasks"]) ++first_digits[attempt["task_id"].get<std::string>()[0]];
  char shared = 0;
  for (const auto& [digit, count] : first_digits)
    if (count > 1) shared = digit;
  ASSERT_NE(shared, 0) << all.dump(2);
  auto ambiguous = Text(std::string("get task ") + shared);
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_EQ(testing::CountLines(ambiguous.output), 1) << ambiguous.output;
  EXPECT_THAT(ambiguous.output, ContainsRegex(std::string("prefix '") + shared +
                                              "' matches [0-9]+ tasks; give more characters"));
  (void)big;
}

// A raylet that does not answer (stopped) is a row of "?" and a line saying
// why; the other node's store is still counted.
TEST_F(StateSummaryTest, ObjectsSummaryNamesAStoreThatDoesNotAnswer) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  ASSERT_EQ(kill(cluster_.raylet_pid(1), SIGSTOP), 0);
  auto text = Text("summary objects");
  nlohmann::json json = Json("summary objects");
  ASSERT_EQ(kill(cluster_.raylet_pid(1), SIGCONT), 0);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  std::string stopped = cluster_.node_id(1).substr(0, 8);
  EXPECT_THAT(text.output, ContainsRegex("  " + stopped + " +\\? +\\?"));
  EXPECT_THAT(text.output, HasSubstr("node " + stopped + ": no answer from its raylet at "));
  ASSERT_TRUE(json.is_object());
  ASSERT_EQ(json["nodes"].size(), 2u) << json.dump(2);
  for (const auto& node : json["nodes"]) {
    if (node["node_id"] == cluster_.node_id(1)) {
      EXPECT_FALSE(node["error"].get<std::string>().empty()) << node.dump();
      EXPECT_FALSE(node.contains("used_bytes"));
    } else {
      EXPECT_GT(node["capacity_bytes"].get<uint64_t>(), 0u) << node.dump();
    }
  }
  EXPECT_EQ(json["total"]["capacity_bytes"],
            json["nodes"][0].value("capacity_bytes", uint64_t{0}) +
                json["nodes"][1].value("capacity_bytes", uint64_t{0}));
}

TEST_F(StateSummaryTest, EmptyClusterAndBadCommands) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  auto tasks = Text("summary tasks");
  ASSERT_EQ(tasks.exit_code, 0) << tasks.output;
  EXPECT_EQ(tasks.output, "(no task attempts)\nSummarized 0 task attempts\n");
  EXPECT_EQ(Json("summary actors")["total"], 0);
  auto actors = Text("summary actors");
  EXPECT_EQ(actors.output, "(no actors)\nSummarized 0 actors\n");
  // Each bad command: its exit code and what its one line says.
  struct Bad {
    std::string command;
    int exit_code;  // 1: rayk's own error; CLI11's parse errors have their own codes
    std::string says;
  };
  std::string at = " --address " + cluster_.address();
  for (const Bad& bad : std::vector<Bad>{
           {"get task 0123abcd" + at, 1, "no task with id prefix '0123abcd'"},
           {"summary", 1, "summary: say what to summarize: rayk summary tasks|actors|objects"},
           {"get", 1, "get: say what to show: rayk get task ID or rayk get actor ID|NAME"},
           {"summary workers", 109, "not expected: workers"},
           {"get actor" + at, 106, "ID is required"}}) {
    auto out = cluster_.Rayk(bad.command);
    EXPECT_EQ(out.exit_code, bad.exit_code) << bad.command << ": " << out.output;
    EXPECT_THAT(out.output, HasSubstr(bad.says)) << bad.command;
  }
}

}  // namespace
}  // namespace rayk
