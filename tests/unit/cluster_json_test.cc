// The dashboard's JSON (GET /api/cluster) rendered from a cluster snapshot
// without a cluster: every section and field the page reads, a dead node
// and a store that did not answer, and names that are not valid UTF-8.
#include "observability/cluster_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace rayk::observability {
namespace {

TEST(ClusterJsonTest, RendersEverySection) {
  ClusterSnapshot snapshot;
  protocol::NodeInfo alive;
  alive.node_id = NodeId::FromRandom();
  alive.raylet_address = "tcp://127.0.0.1:7001";
  alive.total = ResourceSet{{"CPU", 2}, {"GPU", 1}};
  alive.available = ResourceSet{{"CPU", 0.5}};
  alive.labels = {{"zone", "a"}};
  alive.num_workers = 3;
  protocol::NodeInfo dead = alive;
  dead.node_id = NodeId::FromRandom();
  dead.alive = false;
  dead.death_cause = "missed heartbeats";
  protocol::NodeInfo silent = alive;  // alive, but its raylet did not answer
  silent.node_id = NodeId::FromRandom();
  snapshot.nodes = {alive, dead, silent};
  protocol::StoreStats stats;
  stats.plugin = "shm";
  stats.capacity_bytes = 1 << 30;
  stats.used_bytes = 4096;
  stats.num_objects = 2;
  snapshot.stores[alive.node_id] = stats;
  protocol::ActorInfo actor;
  actor.actor_id = ActorId::FromRandom();
  actor.state = protocol::ActorState::kPending;
  actor.name = "quote\" \xff";  // not valid UTF-8
  actor.class_name = "Counter";
  actor.pending_reason = "no node has {\"GPU\": 8}";
  snapshot.actors = {actor};
  protocol::JobInfo job;
  job.job_id = JobId::FromRandom();
  job.driver_pid = 42;
  job.finished = true;
  snapshot.jobs = {job};
  snapshot.tasks.total = 3;
  snapshot.tasks.by_state = {{"FINISHED", 2}, {"FAILED", 1}};
  snapshot.tasks.by_name = {{"Add", {{"FINISHED", 2}, {"FAILED", 1}}}};

  nlohmann::json out = nlohmann::json::parse(RenderClusterJson(snapshot), nullptr, false);
  ASSERT_TRUE(out.is_object());

  ASSERT_EQ(out["nodes"].size(), 3u);
  const nlohmann::json& node = out["nodes"][0];
  EXPECT_EQ(node["node_id"], alive.node_id.Hex());
  EXPECT_EQ(node["address"], "tcp://127.0.0.1:7001");
  EXPECT_EQ(node["state"], "ALIVE");
  EXPECT_EQ(node["total"], (nlohmann::json{{"CPU", 2.0}, {"GPU", 1.0}}));
  EXPECT_EQ(node["available"]["CPU"], 0.5);
  EXPECT_EQ(node["alive"], true);
  EXPECT_EQ(node["labels"]["zone"], "a");
  EXPECT_EQ(node["workers"], 3);
  EXPECT_EQ(out["nodes"][1]["state"], "DEAD");
  EXPECT_EQ(out["nodes"][1]["death_cause"], "missed heartbeats");

  // One store per alive node: the dead one has none, the silent one is down.
  ASSERT_EQ(out["object_stores"].size(), 2u);
  EXPECT_EQ(out["object_stores"][0]["node_id"], alive.node_id.Hex());
  EXPECT_EQ(out["object_stores"][0]["up"], true);
  EXPECT_EQ(out["object_stores"][0]["plugin"], "shm");
  EXPECT_EQ(out["object_stores"][0]["capacity_bytes"], 1 << 30);
  EXPECT_EQ(out["object_stores"][0]["used_bytes"], 4096);
  EXPECT_EQ(out["object_stores"][0]["num_objects"], 2);
  EXPECT_EQ(out["object_stores"][1],
            (nlohmann::json{{"node_id", silent.node_id.Hex()}, {"up", false}}));

  ASSERT_EQ(out["actors"].size(), 1u);
  EXPECT_EQ(out["actors"][0]["actor_id"], actor.actor_id.Hex());
  EXPECT_EQ(out["actors"][0]["state"], "PENDING");
  EXPECT_EQ(out["actors"][0]["node_id"], NodeId().Hex()) << "not placed yet";
  EXPECT_EQ(out["actors"][0]["class"], "Counter");
  EXPECT_EQ(out["actors"][0]["name"], "quote\" \xef\xbf\xbd") << "U+FFFD for the bad byte";
  EXPECT_EQ(out["actors"][0]["pending_reason"], "no node has {\"GPU\": 8}");

  ASSERT_EQ(out["jobs"].size(), 1u);
  EXPECT_EQ(out["jobs"][0]["job_id"], job.job_id.Hex());
  EXPECT_EQ(out["jobs"][0]["status"], "FINISHED");
  EXPECT_EQ(out["jobs"][0]["driver_pid"], 42);

  EXPECT_EQ(out["tasks"]["total"], 3);
  EXPECT_EQ(out["tasks"]["by_state"]["FAILED"], 1);
  ASSERT_EQ(out["tasks"]["by_name"].size(), 1u);
  EXPECT_EQ(out["tasks"]["by_name"][0],
            (nlohmann::json{
                {"name", "Add"}, {"total", 3}, {"by_state", {{"FAILED", 1}, {"FINISHED", 2}}}}));
}

TEST(ClusterJsonTest, AnEmptyClusterHasEmptyLists) {
  nlohmann::json out = nlohmann::json::parse(RenderClusterJson(ClusterSnapshot{}));
  for (const char* list : {"nodes", "object_stores", "actors", "jobs"}) {
    EXPECT_TRUE(out[list].is_array() && out[list].empty()) << list << ": " << out.dump();
  }
  EXPECT_TRUE(out["tasks"]["by_name"].is_array());
  EXPECT_EQ(out["tasks"]["total"], 0);
}

}  // namespace
}  // namespace rayk::observability
