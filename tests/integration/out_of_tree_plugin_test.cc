// A plugin author's whole path: install rayk, build examples/custom_scheduler
// against the installed package with find_package(rayk), name the plugin in a
// plugins.toml, and see rayk load it and use it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/scheduler.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

class OutOfTreePluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    prefix_ = dir_->path() + "/prefix";
    build_ = dir_->path() + "/build";
    auto install = testing::RunCommand("cmake --install " + std::string(RAYK_BINARY_DIR) +
                                       " --prefix " + prefix_);
    ASSERT_EQ(install.exit_code, 0) << install.output;
    auto configure = testing::RunCommand("cmake -S " + std::string(RAYK_SOURCE_DIR) +
                                         "/examples/custom_scheduler -B " + build_ +
                                         " -DCMAKE_PREFIX_PATH=" + prefix_);
    ASSERT_EQ(configure.exit_code, 0) << configure.output;
    auto build = testing::RunCommand("cmake --build " + build_);
    ASSERT_EQ(build.exit_code, 0) << build.output;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string PluginFile() { return build_ + "/rayk_scheduler_least_loaded.so"; }

  static testing::TempDir* dir_;
  static std::string prefix_;
  static std::string build_;
};
testing::TempDir* OutOfTreePluginTest::dir_ = nullptr;
std::string OutOfTreePluginTest::prefix_;
std::string OutOfTreePluginTest::build_;

TEST_F(OutOfTreePluginTest, InstalledCliListsItByPluginPath) {
  std::string config =
      dir_->Write("by_path.toml",
                  "plugin_path = [\"" + build_ + "\"]\n[scheduler]\nplugin = \"least_loaded\"\n");
  auto list = testing::RunCommand(prefix_ + "/bin/rayk plugins list --config " + config);
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("least_loaded"));
  EXPECT_THAT(list.output, HasSubstr(PluginFile()));
  // The installed CLI finds the installed plugins beside its kernel.
  EXPECT_THAT(list.output, HasSubstr(prefix_ + "/lib/rayk/plugins/rayk_store_memory.so"));
  auto check = testing::RunCommand(prefix_ + "/bin/rayk config check " + config);
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("plugin = \"least_loaded\""));
  EXPECT_THAT(check.output, HasSubstr("resource = \"CPU\""));
}

TEST_F(OutOfTreePluginTest, LoadedByPathItSchedulesOnTheLeastLoadedNode) {
  auto config = Config::LoadString("[scheduler]\nplugin = \"" + PluginFile() +
                                       "\"\n[scheduler.least_loaded]\nresource = \"CPU\"\n",
                                   "plugins.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  PluginLoader loader(config->plugin_path());
  auto scheduler = loader.CreateSlot<Scheduler>(*config, {});
  ASSERT_TRUE(scheduler.ok()) << scheduler.status().ToString();
  ClusterView view;
  for (double free_cpus : {1.0, 6.0, 3.0}) {
    NodeView node;
    node.node_id = NodeId::FromRandom();
    node.total = ResourceSet{{"CPU", 8}};
    node.available = ResourceSet{{"CPU", free_cpus}};
    view.nodes.push_back(node);
  }
  SchedulingRequest request;
  request.demand = ResourceSet{{"CPU", 1}};
  SchedulingDecision decision = (*scheduler)->Schedule(request, view);
  ASSERT_EQ(decision.kind, SchedulingDecision::Kind::kNode);
  EXPECT_EQ(decision.node, view.nodes[1].node_id);
}

TEST_F(OutOfTreePluginTest, BadSettingIsAOneLineErrorNamingTheFile) {
  auto config = Config::LoadString(
      "[scheduler]\nplugin = \"" + PluginFile() + "\"\n[scheduler.least_loaded]\nresource = \"\"\n",
      "my_plugins.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  PluginLoader loader(config->plugin_path());
  auto scheduler = loader.CreateSlot<Scheduler>(*config, {});
  ASSERT_FALSE(scheduler.ok());
  EXPECT_EQ(testing::CountLines(scheduler.status().message()), 1) << scheduler.status().message();
  EXPECT_THAT(scheduler.status().message(),
              HasSubstr("my_plugins.toml: [scheduler.least_loaded] resource is empty"));
}

// docs/scheduler-plugins.md's last step: the scheduler conformance suite
// picks up the plugin from RAYK_PLUGIN_PATH and runs every case on it.
TEST_F(OutOfTreePluginTest, PassesTheSchedulerConformanceSuite) {
  auto run = testing::RunCommand("RAYK_PLUGIN_PATH=" + build_ + " " + std::string(RAYK_BINARY_DIR) +
                                 "/bin/scheduler_conformance_test --gtest_filter='*/least_loaded'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output,
              HasSubstr("SchedulerConformance.SpreadTouchesEveryNodeAsResourcesFill/least_loaded"));
  EXPECT_THAT(run.output, HasSubstr("[  PASSED  ]"));
  EXPECT_THAT(run.output, ::testing::Not(HasSubstr("[  FAILED  ]")));
}

}  // namespace
}  // namespace rayk
