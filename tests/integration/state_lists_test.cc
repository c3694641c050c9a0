// `rayk list objects|workers`, the largest objects of `rayk summary
// objects`, and tasks the driver submitted that no worker has taken, on a
// real dev cluster: the driver puts objects and creates a named actor; the
// lists show each object with its size, node and owner, each worker with its
// state and actor, and the driver itself, as text and JSON, filtered and
// limited. A bad filter is one line naming the valid keys. A task no node can
// run is listed as pending by its owner, and as failed once cancelled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dev_cluster.h"
#include "functions/test_functions.h"

namespace rayk {
namespace {

using nlohmann::json;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class StateListsTest : public ::testing::Test {
 protected:
  // `rayk ARGS --format json --address A`, parsed (null on failure).
  json Json(const std::string& args) {
    auto out = cluster_.Rayk(args + " --format json --address " + cluster_.address());
    if (out.exit_code != 0) return nullptr;
    return json::parse(out.output, nullptr, false);
  }

  testing::CommandResult Text(const std::string& args) {
    return cluster_.Rayk(args + " --address " + cluster_.address());
  }

  testing::DevCluster cluster_{{.nodes = 2}};
};

TEST_F(StateListsTest, ObjectsAndWorkersAsTextAndJson) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  testing::JoinedDriver driver(cluster_);
  const std::string pid = std::to_string(getpid());
  auto counter = rayk::Actor(test_functions::Counter::Create).SetName("listed").Remote(0);
  ASSERT_EQ(*rayk::Get(counter.Task(&test_functions::Counter::Incr).Remote(1)), 1);
  auto big = rayk::Put(std::vector<double>(1 << 20, 1.0));    // 8 MiB: in a store
  auto small = rayk::Put(std::vector<double>(1 << 17, 2.0));  // 1 MiB

  // list objects: largest first, the driver as their owner, on a node of the cluster.
  json objects = Json("list objects");
  ASSERT_TRUE(objects.is_object()) << Text("list objects").output;
  ASSERT_GE(objects["objects"].size(), 2u) << objects.dump(2);
  EXPECT_EQ(objects["total"], objects["objects"].size());
  EXPECT_TRUE(objects["errors"].empty());
  const json& largest = objects["objects"][0];
  EXPECT_GE(largest["size"].get<uint64_t>(), uint64_t{8} << 20) << largest.dump();
  EXPECT_EQ(largest["owner_pid"], getpid());
  EXPECT_THAT(largest["owner"].get<std::string>(), ContainsRegex("^driver of job [0-9a-f]{8}$"));
  EXPECT_EQ(largest["copy"], "primary");
  EXPECT_TRUE(largest["node_id"] == cluster_.node_id(0) ||
              largest["node_id"] == cluster_.node_id(1))
      << largest.dump();
  EXPECT_GE(objects["objects"][1]["size"].get<uint64_t>(), uint64_t{1} << 20);
  EXPECT_LT(objects["objects"][1]["size"].get<uint64_t>(), largest["size"].get<uint64_t>());

  json limited = Json("list objects --limit 1 --filter owner_pid=" + pid);
  ASSERT_TRUE(limited.is_object());
  ASSERT_EQ(limited["objects"].size(), 1u);
  EXPECT_EQ(limited["objects"][0], largest);
  EXPECT_GE(limited["total"].get<size_t>(), 2u);
  std::string node = largest["node_id"].get<std::string>().substr(0, 6);
  json on_node = Json("list objects --filter node_id=" + node + " --filter copy=primary");
  ASSERT_TRUE(on_node.is_object());
  for (const auto& row : on_node["objects"])
    EXPECT_TRUE(row["node_id"].get<std::string>().starts_with(node));

  auto objects_text = Text("list objects");
  ASSERT_EQ(objects_text.exit_code, 0) << objects_text.output;
  EXPECT_THAT(objects_text.output, ContainsRegex("OBJECT +SIZE +NODE +COPY +STATE +OWNER\n"));
  EXPECT_THAT(objects_text.output,
              ContainsRegex("[0-9a-f]{16} +8\\.0 MiB +[0-9a-f]{8} +primary +in memory[a-z, ]* +"
                            "driver of job [0-9a-f]{8} \\(pid " +
                            pid + "\\)"));
  EXPECT_THAT(objects_text.output, ContainsRegex("Showing [0-9]+ of [0-9]+ objects\n"));

  // list workers: the actor's worker, as ACTOR with its name, and the driver.
  json actors = Json("list actors");
  ASSERT_TRUE(actors.is_array() && actors.size() == 1u) << actors.dump();
  json workers = Json("list workers");
  ASSERT_TRUE(workers.is_object()) << Text("list workers").output;
  std::vector<json> actor_rows, driver_rows;
  for (const auto& row : workers["workers"]) {
    if (row["state"] == "ACTOR") actor_rows.push_back(row);
    if (row["state"] == "DRIVER") driver_rows.push_back(row);
  }
  ASSERT_EQ(actor_rows.size(), 1u) << workers.dump(2);
  EXPECT_EQ(actor_rows[0]["actor_name"], "listed");
  EXPECT_EQ(actor_rows[0]["pid"], actors[0]["pid"]);
  EXPECT_EQ(actor_rows[0]["node_id"], actors[0]["node_id"]);
  EXPECT_EQ(actor_rows[0]["actor_id"], actors[0]["actor_id"]);
  EXPECT_GT(actor_rows[0]["start_time_ms"].get<int64_t>(), 0);
  ASSERT_EQ(driver_rows.size(), 1u) << workers.dump(2);
  EXPECT_EQ(driver_rows[0]["pid"], getpid());

  json only_actor = Json("list workers --filter state=actor --filter actor_name=listed");
  ASSERT_TRUE(only_actor.is_object());
  ASSERT_EQ(only_actor["workers"].size(), 1u) << only_actor.dump(2);
  EXPECT_EQ(only_actor["workers"][0], actor_rows[0]);
  auto workers_text = Text("list workers");
  ASSERT_EQ(workers_text.exit_code, 0) << workers_text.output;
  EXPECT_THAT(workers_text.output,
              ContainsRegex("WORKER +NODE +PID +STATE +JOB +ACTOR +STARTED\n"));
  EXPECT_THAT(workers_text.output, ContainsRegex("[0-9a-f]{8} +[0-9a-f]{8} +[0-9]+ +ACTOR +"
                                                 "[0-9a-f]{8} +listed +[0-9]{4}-"));
  EXPECT_THAT(workers_text.output, ContainsRegex("- +- +" + pid + " +DRIVER +[0-9a-f]{8} +- +"));

  // summary objects: the largest objects, with their owner and node.
  json summary = Json("summary objects --top 1");
  ASSERT_TRUE(summary.is_object());
  ASSERT_EQ(summary["largest"].size(), 1u) << summary.dump(2);
  EXPECT_EQ(summary["largest"][0], largest);
  auto summary_text = Text("summary objects");
  ASSERT_EQ(summary_text.exit_code, 0) << summary_text.output;
  EXPECT_THAT(summary_text.output, ContainsRegex("\nLargest objects\n  OBJECT +SIZE +NODE"));
  EXPECT_THAT(summary_text.output, HasSubstr("(pid " + pid + ")"));

  // Bad filters and limits: one line naming the key and the valid ones.
  auto bad_key = Text("list workers --filter colour=red");
  EXPECT_EQ(bad_key.exit_code, 1);
  EXPECT_EQ(testing::CountLines(bad_key.output), 1) << bad_key.output;
  EXPECT_THAT(bad_key.output, HasSubstr("--filter: unknown key 'colour'; keys: actor_name, job_id, "
                                        "node_id, pid, state, worker_id"));
  auto no_equals = Text("list objects --filter big");
  EXPECT_EQ(no_equals.exit_code, 1);
  EXPECT_EQ(testing::CountLines(no_equals.output), 1) << no_equals.output;
  EXPECT_THAT(no_equals.output, HasSubstr("--filter 'big' is not KEY=VALUE; keys: copy, node_id, "
                                          "object_id, owner_pid, pinned, spilled"));
  auto bad_limit = Text("list objects --limit 0");
  EXPECT_EQ(bad_limit.exit_code, 1);
  EXPECT_THAT(bad_limit.output, HasSubstr("--limit must be at least 1"));
  (void)big;
  (void)small;
}

// A task no node can run waits with its owner, which lists it as pending
// (no node, no pid) once it has waited a while; cancelled, it is FAILED.
TEST_F(StateListsTest, AnUnschedulableTaskIsListedAsPendingByItsOwner) {
  ASSERT_TRUE(cluster_.ok()) << cluster_.up().output;
  testing::JoinedDriver driver(cluster_);
  auto stuck = rayk::Task(test_functions::Add).SetResources({{"GPU", 1}}).Remote(1, 2);
  json pending;
  ASSERT_TRUE(testing::PollUntil([&] {
    pending = Json("list tasks --filter state=pending_node_assignment");
    return pending.is_object() && pending["tasks"].size() == 1u;
  })) << pending.dump(2);
  const json& task = pending["tasks"][0];
  EXPECT_EQ(task["name"], "Add");
  EXPECT_EQ(task["worker_pid"], 0);
  EXPECT_EQ(task["node_id"], NodeId::Nil().Hex());
  EXPECT_GT(task["submitted_us"].get<int64_t>(), 0);
  EXPECT_EQ(task["start_us"], 0);
  auto text = Text("list tasks");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output,
              ContainsRegex("  [0-9a-f]{8} +0 +Add +PENDING_NODE_ASSIGNMENT +- +- +- +-\n"));

  rayk::Cancel(stuck);
  EXPECT_THROW(rayk::Get(stuck), rayk::TaskCancelledError);
  json failed;
  ASSERT_TRUE(testing::PollUntil([&] {
    failed = Json("get task " + task["task_id"].get<std::string>());
    return failed.is_object() && failed["attempts"][0]["state"] == "FAILED";
  })) << failed.dump(2);
  EXPECT_THAT(failed["attempts"][0]["error"].get<std::string>(), HasSubstr("cancel"));
}

}  // namespace
}  // namespace rayk
