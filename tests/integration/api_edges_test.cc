// Rough edges of the user API found by porting Ray's own C++ API tests, end
// to end on an embedded cluster: IsInitialized inside workers, resource
// validation at the API edge, InitOptions::resources, the KV argument order,
// GetActor's class check, and a job whose driver calls only inline functions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "cluster_fixture.h"
#include "functions/edge_functions.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using edge_functions::Probe;
using test_functions::Add;
using test_functions::Counter;
using ::testing::HasSubstr;

// Runs `call`, which must throw a RuntimeError; returns its message.
std::string MessageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const RuntimeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a RuntimeError";
  return "";
}

class ApiEdgesTest : public testing::ClusterTest {
 protected:
  std::string GcsAddress() {
    return ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  }
};

TEST_F(ApiEdgesTest, IsInitializedInsideTasksAndActorMethods) {
  EXPECT_TRUE(rayk::IsInitialized());
  EXPECT_TRUE(*rayk::Get(rayk::Task(edge_functions::IsInitializedInTask).Remote()));
  auto probe = rayk::Actor(Probe::Create).Remote();
  EXPECT_TRUE(*rayk::Get(probe.Task(&Probe::IsInitialized).Remote()));
}

TEST_F(ApiEdgesTest, InvalidTaskResourcesFailAtTheCall) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THAT(MessageOf([] { rayk::Task(Add).SetResource("", 1); }),
              HasSubstr("rayk::Task(Add): a resource needs a name"));
  EXPECT_THAT(
      MessageOf([] { rayk::Task(Add).SetResource("dummy", 0); }),
      HasSubstr("resource 'dummy' = 0: demand a positive amount, or leave the resource out"));
  EXPECT_THAT(MessageOf([] { rayk::Task(Add).SetResource("GPU", -1); }),
              HasSubstr("resource 'GPU' = -1: an amount must be a finite number, 0 or more"));
  EXPECT_THAT(MessageOf([&] { rayk::Task(Add).SetResource("GPU", nan); }),
              HasSubstr("resource 'GPU' = nan"));
  EXPECT_THAT(MessageOf([&] { rayk::Task(Add).SetResource("GPU", inf); }),
              HasSubstr("resource 'GPU' = inf"));
  EXPECT_THAT(MessageOf([] { rayk::Task(Add).SetResource("GPU", 1e-6); }),
              HasSubstr("amounts below 0.0001 cannot be scheduled"));
  EXPECT_THAT(MessageOf([] { rayk::Task(Add).SetResource("my gpu", 1); }),
              HasSubstr("resource 'my gpu' has a space or control character in its name"));
  EXPECT_THAT(MessageOf([] {
                rayk::Task(Add).SetResources({{"CPU", 1}, {"", 2}});
              }),
              HasSubstr("a resource needs a name"));
  // Dropping the default CPU stays allowed, and such a task runs.
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).SetResource("CPU", 0).Remote(1, 2)), 3);
  EXPECT_EQ(*rayk::Get(rayk::Task(Add).SetResource("CPU", 0.5).Remote(2, 2)), 4);
}

TEST_F(ApiEdgesTest, InvalidActorResourcesFailAtTheCall) {
  EXPECT_THAT(MessageOf([] { rayk::Actor(Counter::Create).SetResource("", 1); }),
              HasSubstr("rayk::Actor(Counter::Create): a resource needs a name"));
  EXPECT_THAT(MessageOf([] { rayk::Actor(Counter::Create).SetResource("dummy", 0); }),
              HasSubstr("resource 'dummy' = 0"));
  EXPECT_THAT(MessageOf([] {
                rayk::Actor(Counter::Create)
                    .SetResources({{"GPU", std::numeric_limits<double>::quiet_NaN()}});
              }),
              HasSubstr("resource 'GPU' = nan"));
  auto counter = rayk::Actor(Counter::Create).SetResource("CPU", 1).Remote(1);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(1)), 2);
}

TEST_F(ApiEdgesTest, KvTakesTheKeyFirstAtEveryLayer) {
  ASSERT_TRUE(rayk::KvPut("model", "v7", "team-a"));
  EXPECT_EQ(rayk::KvGet("model", "team-a"), std::optional<std::string>("v7"));
  // Swapped anywhere below the API, the entry would sit under key "team-a".
  EXPECT_EQ(rayk::KvGet("team-a", "model"), std::nullopt);
  EXPECT_EQ(rayk::KvGet("model"), std::nullopt);
  EXPECT_EQ(rayk::KvList("mo", "team-a"), std::vector<std::string>{"model"});
  EXPECT_FALSE(rayk::KvPut("model", "v8", "team-a", /*overwrite=*/false));

  // The GCS keeps it where the CLI, which names both, looks for it.
  auto cli = testing::RunRayk("kv get model --namespace team-a --address " + GcsAddress());
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr("v7"));

  EXPECT_TRUE(rayk::KvDelete("model", "team-a"));
  EXPECT_FALSE(rayk::KvDelete("model", "team-a"));
}

TEST_F(ApiEdgesTest, GetActorChecksTheClass) {
  // Held so that the name stays taken while the lookups run.
  [[maybe_unused]] auto counter = rayk::Actor(Counter::Create).SetName("counted").Remote(5);
  EXPECT_THAT(MessageOf([] { rayk::GetActor<Probe>("counted"); }),
              HasSubstr("actor 'counted' is a test_functions::Counter, not a "
                        "edge_functions::Probe; call "
                        "rayk::GetActor<test_functions::Counter>(\"counted\")"));
  auto same = rayk::GetActor<Counter>("counted");
  EXPECT_EQ(*rayk::Get(same.Task(&Counter::Value).Remote()), 5);
}

TEST_F(ApiEdgesTest, AJobWhoseDriverCallsOnlyInlineFunctionsKeepsItsLibrary) {
  auto run =
      testing::RunCommand("RAYK_SESSION_ROOT=" + session_root_.path() + " " + RAYK_BINARY_DIR +
                          "/bin/rayk_inline_driver " + testing::TestConfigFile());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("task: hello task"));
  EXPECT_THAT(run.output, HasSubstr("actor: hi actor"));
}

// Defined here without a RAYK_REMOTE line anywhere.
int NeverRegistered(int x) { return x; }

TEST_F(ApiEdgesTest, AnUnregisteredFunctionNamesBothPossibleCauses) {
  std::string message = MessageOf([] { rayk::Task(NeverRegistered); });
  EXPECT_THAT(message, HasSubstr("function not registered with RAYK_REMOTE"));
  EXPECT_THAT(message, HasSubstr("add RAYK_REMOTE(...) naming it"));
  EXPECT_THAT(message, HasSubstr("the library with that line is not loaded in this process"));
  EXPECT_THAT(message, HasSubstr("librayk_test_functions.so"));  // what is loaded
  EXPECT_THAT(message, HasSubstr("-Wl,--no-as-needed"));
}

class NodeResourcesTest : public testing::ClusterTest {
  void Customize(InitOptions& options) override { options.resources = {{"accel_x", 2}}; }
};

TEST_F(NodeResourcesTest, InitOptionsResourcesAreAMap) {
  auto ref = rayk::Task(Add).SetResource("CPU", 0).SetResource("accel_x", 2).Remote(20, 22);
  EXPECT_EQ(*rayk::Get(ref), 42);
}

TEST(InitOptionsTest, InvalidNodeResourcesFailInitBeforeAnythingStarts) {
  testing::TempDir session_root;
  setenv("RAYK_SESSION_ROOT", session_root.path().c_str(), 1);
  InitOptions options;
  options.config_file = testing::TestConfigFile();
  options.resources = {{"GPU", -1}};
  EXPECT_THAT(MessageOf([&] { rayk::Init(options); }),
              HasSubstr("rayk::InitOptions::resources: resource 'GPU' = -1"));
  options.resources = {{"GPU", 0}};
  EXPECT_THAT(MessageOf([&] { rayk::Init(options); }),
              HasSubstr("resource 'GPU' = 0: give the node a positive amount"));
  options.resources = {{"", 1}};
  EXPECT_THAT(MessageOf([&] { rayk::Init(options); }), HasSubstr("a resource needs a name"));
  EXPECT_FALSE(rayk::IsInitialized());
  // Nothing was started: no session folder was made.
  EXPECT_FALSE(std::filesystem::exists(session_root.path() + "/session_latest"));
}

}  // namespace
}  // namespace rayk
