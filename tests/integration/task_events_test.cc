// `rayk list tasks` and `rayk timeline` on a real dev cluster: a driver runs
// tasks (one of them throwing) and actor calls; the workers' task events
// reach the GCS, and the CLI shows them as a table and as JSON, filters and
// limits them, and writes a Chrome trace with a row per worker and a slice
// per task. Bad options are refused with one line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "dev_cluster.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class TaskEventsTest : public ::testing::Test {
 protected:
  // `rayk list tasks --format json ARGS`, parsed (null on failure).
  nlohmann::json ListJson(const std::string& args = "") {
    auto out =
        cluster_.Rayk("list tasks --format json --address " + cluster_.address() + " " + args);
    if (out.exit_code != 0) return nullptr;
    return nlohmann::json::parse(out.output, nullptr, false);
  }

  // Waits until `count` attempts have a final state.
  nlohmann::json WaitForFinished(size_t count) {
    nlohmann::json list;
    testing::PollUntil([&] {
      list = ListJson("--limit 1000");
      if (!list.is_object()) return false;
      size_t done = 0;
      for (const auto& task : list["tasks"])
        done += task["state"] == "FINISHED" || task["state"] == "FAILED" ? 1 : 0;
      return done >= count;
    });
    return list;
  }

  testing::DevCluster cluster_{{.nodes = 2}};
};

TEST_F(TaskEventsTest, ListAndTimelineShowWhatRan) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  nlohmann::json list;
  {
    // The driver stays until the events are in: its end kills its actor's
    // worker, which loses what it had not sent yet (up to a second's worth).
    testing::JoinedDriver driver(cluster_);
    std::vector<rayk::ObjectRef<int>> sums;
    for (int i = 0; i < 6; ++i) sums.push_back(rayk::Task(test_functions::Add).Remote(i, 1));
    for (int i = 0; i < 6; ++i) ASSERT_EQ(*rayk::Get(sums[i]), i + 1);
    auto thrown = rayk::Task(test_functions::Throws).Remote(std::string("boom"));
    EXPECT_THROW(rayk::Get(thrown), rayk::TaskError);
    auto counter = rayk::Actor(test_functions::Counter::Create).Remote(0);
    for (int i = 1; i <= 3; ++i)
      ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), i);
    // Named calls are listed under their names.
    ASSERT_EQ(*rayk::Get(rayk::Task(test_functions::Add).SetName("add one").Remote(1, 1)), 2);
    ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).SetName("bump").Remote(1)),
              4);
    EXPECT_THROW(rayk::Task(test_functions::Add).SetName(""), rayk::RuntimeError);
    EXPECT_THROW(counter.Task(&test_functions::Counter::Incr).SetName("a\nb"), rayk::RuntimeError);
    // 6 Add, 1 Throws, the actor's creation, 3 calls, and the 2 named calls.
    list = WaitForFinished(13);
  }
  ASSERT_TRUE(list.is_object()) << list.dump();
  ASSERT_GE(list["tasks"].size(), 13u) << list.dump(2);
  EXPECT_EQ(list["dropped_by_workers"], 0);
  EXPECT_EQ(list["dropped_by_gcs"], 0);
  std::map<std::string, int> by_name;
  std::set<std::string> nodes;
  for (const auto& task : list["tasks"]) {
    by_name[task["name"]]++;
    nodes.insert(task["node_id"].get<std::string>());
    EXPECT_GT(task["worker_pid"].get<int64_t>(), 0);
    EXPECT_GT(task["submitted_us"].get<int64_t>(), 0);
    EXPECT_LE(task["submitted_us"].get<int64_t>(), task["start_us"].get<int64_t>());
    EXPECT_LE(task["start_us"].get<int64_t>(), task["end_us"].get<int64_t>());
    EXPECT_EQ(task["task_id"].get<std::string>().size(), 32u);
    if (task["name"] == "Throws") {
      EXPECT_EQ(task["state"], "FAILED");
      EXPECT_THAT(task["error"].get<std::string>(), HasSubstr("boom"));
    } else {
      EXPECT_EQ(task["state"], "FINISHED") << task.dump();
      EXPECT_EQ(task["error"], "");
    }
  }
  EXPECT_EQ(by_name["Add"], 6) << list.dump(2);
  EXPECT_EQ(by_name["Throws"], 1);
  EXPECT_EQ(by_name["Counter::Incr"], 3) << nlohmann::json(by_name).dump();
  EXPECT_EQ(by_name["Counter::Create"], 1);
  EXPECT_EQ(by_name["add one"], 1);
  EXPECT_EQ(by_name["bump"], 1);
  for (const std::string& node : nodes) {
    EXPECT_TRUE(node == cluster_.node_id(0) || node == cluster_.node_id(1)) << node;
  }

  // Filters and the limit.
  nlohmann::json failed = ListJson("--filter state=failed");
  ASSERT_EQ(failed["tasks"].size(), 1u) << failed.dump();
  EXPECT_EQ(failed["tasks"][0]["name"], "Throws");
  nlohmann::json adds = ListJson("--filter name=Add --limit 4");
  EXPECT_EQ(adds["tasks"].size(), 4u);
  EXPECT_EQ(adds["total"], 6);
  std::string pid = std::to_string(adds["tasks"][0]["worker_pid"].get<int64_t>());
  // Kept in a variable: a range-for over a member of a temporary reads freed
  // memory (the temporary dies before the loop starts).
  nlohmann::json by_pid = ListJson("--filter worker_pid=" + pid);
  for (const auto& task : by_pid["tasks"])
    EXPECT_EQ(std::to_string(task["worker_pid"].get<int64_t>()), pid);
  std::string id = failed["tasks"][0]["task_id"];
  EXPECT_EQ(ListJson("--filter task_id=" + id.substr(0, 10))["tasks"].size(), 1u);

  // The table for people.
  auto text =
      cluster_.Rayk("list tasks --limit 2 --filter name=Add --address " + cluster_.address());
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("TASK      ATTEMPT  NAME"));
  EXPECT_THAT(text.output, HasSubstr("STATE     NODE      PID"));
  EXPECT_THAT(text.output, ::testing::ContainsRegex("  Add +FINISHED  "));
  EXPECT_THAT(text.output, HasSubstr("Showing 2 of 6 task attempts (--limit N shows more)"));

  // The timeline: Chrome trace events, a row per worker, a slice per task.
  testing::TempDir dir;
  std::string trace_file = dir.path() + "/trace.json";
  auto timeline = cluster_.Rayk("timeline -o " + trace_file + " --address " + cluster_.address());
  ASSERT_EQ(timeline.exit_code, 0) << timeline.output;
  EXPECT_THAT(timeline.output, HasSubstr("task slices to " + trace_file));
  std::ifstream file(trace_file);
  auto trace = nlohmann::json::parse(file, nullptr, false);
  ASSERT_TRUE(trace.is_object() && trace["traceEvents"].is_array());
  std::set<int64_t> named_rows, slice_rows;
  int slices = 0;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] == "M") {
      if (event["name"] == "thread_name") named_rows.insert(event["pid"].get<int64_t>());
      EXPECT_THAT(event["args"]["name"].get<std::string>(), HasSubstr("worker pid "));
      continue;
    }
    ASSERT_EQ(event["ph"], "X") << event.dump();
    ++slices;
    slice_rows.insert(event["pid"].get<int64_t>());
    EXPECT_EQ(event["pid"], event["tid"]) << "one row per worker";
    EXPECT_GT(event["ts"].get<int64_t>(), 0);
    EXPECT_GE(event["dur"].get<int64_t>(), 0);
    EXPECT_TRUE(event["cat"] == "task" || event["cat"] == "actor_task") << event.dump();
    EXPECT_EQ(event["args"]["task_id"].get<std::string>().size(), 32u);
  }
  EXPECT_EQ(slices, static_cast<int>(list["tasks"].size()));
  EXPECT_EQ(named_rows, slice_rows) << "every worker row is named";

  // --job keeps one job: the driver's job id, and an unknown one gives none.
  std::string job = list["tasks"][0]["job_id"];
  auto one_job = cluster_.Rayk("timeline --job " + job.substr(0, 8) + " -o " + trace_file +
                               " --address " + cluster_.address());
  EXPECT_THAT(one_job.output, HasSubstr("Wrote " + std::to_string(slices) + " task slices"));
  auto no_job = cluster_.Rayk("timeline --job ffffffffffff -o " + trace_file + " --address " +
                              cluster_.address());
  EXPECT_THAT(no_job.output, HasSubstr("Wrote 0 task slices"));
}

TEST_F(TaskEventsTest, BadOptionsAreOneLine) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  auto unknown = cluster_.Rayk("list tasks --filter colour=red --address " + cluster_.address());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(testing::CountLines(unknown.output), 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("--filter: unknown key 'colour'; keys: actor_id, job_id"));
  auto no_equals = cluster_.Rayk("list tasks --filter state --address " + cluster_.address());
  EXPECT_EQ(no_equals.exit_code, 1);
  EXPECT_THAT(no_equals.output, HasSubstr("--filter 'state' is not KEY=VALUE"));
  auto limit = cluster_.Rayk("list tasks --limit 0 --address " + cluster_.address());
  EXPECT_EQ(limit.exit_code, 1);
  EXPECT_THAT(limit.output, HasSubstr("--limit must be at least 1"));
  auto no_output = cluster_.Rayk("timeline --address " + cluster_.address());
  EXPECT_NE(no_output.exit_code, 0);
  EXPECT_THAT(no_output.output, HasSubstr("--output is required"));
  auto unwritable =
      cluster_.Rayk("timeline -o /nonexistent/dir/trace.json --address " + cluster_.address());
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_THAT(unwritable.output, HasSubstr("cannot write the timeline"));
}

}  // namespace
}  // namespace rayk
