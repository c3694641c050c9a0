// PluginLoader: finding, checking and creating plugins, and the one-line
// error for each way a plugin can be wrong.
#include "rayk/host/plugin_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "rayk/plugin/scheduler.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  return std::string(RAYK_FIXTURE_DIR) + "/rayk_scheduler_" + name + ".so";
}

Status CreateError(PluginKind kind, const std::string& plugin, const RawSettingTable& table = {}) {
  PluginLoader loader;
  auto created = loader.Create(kind, plugin, table, "p.toml", {});
  EXPECT_FALSE(created.ok()) << plugin << " should have failed";
  EXPECT_EQ(testing::CountLines(created.status().message()), 1) << created.status().message();
  return created.status();
}

TEST(PluginLoaderTest, FindsTheBuiltInPlugins) {
  PluginLoader loader;
  std::vector<std::string> errors;
  std::vector<PluginInfo> plugins = loader.List(&errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  auto has = [&](PluginKind kind, const std::string& name) {
    for (const PluginInfo& p : plugins) {
      if (p.kind == kind && p.name == name) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(PluginKind::kScheduler, "random"));
  EXPECT_TRUE(has(PluginKind::kStore, "memory"));
  EXPECT_TRUE(has(PluginKind::kTransport, "inproc"));
  EXPECT_TRUE(has(PluginKind::kGcs, "memory"));
}

TEST(PluginLoaderTest, CreatesFromConfigAndKeepsLibraryAlive) {
  PluginLoader loader;
  std::shared_ptr<Scheduler> scheduler;
  {
    auto created = loader.CreateSlot<Scheduler>(Config::Defaults(), {});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    scheduler = *created;
  }
  // The loader and the result are gone; the object (and its code) still work.
  ClusterView view;
  NodeView node;
  node.node_id = NodeId::FromRandom();
  node.total = node.available = ResourceSet{{"CPU", 2}};
  view.nodes.push_back(node);
  SchedulingRequest request;
  request.demand = ResourceSet{{"CPU", 1}};
  SchedulingDecision decision = scheduler->Schedule(request, view);
  EXPECT_EQ(decision.kind, SchedulingDecision::Kind::kNode);
  EXPECT_EQ(decision.node, node.node_id);
}

TEST(PluginLoaderTest, EnvironmentPathComesFirst) {
  setenv("RAYK_PLUGIN_PATH", "/first:/second", 1);
  PluginLoader loader({"/third"});
  unsetenv("RAYK_PLUGIN_PATH");
  ASSERT_GE(loader.search_path().size(), 4u);
  EXPECT_EQ(loader.search_path()[0], "/first");
  EXPECT_EQ(loader.search_path()[1], "/second");
  EXPECT_EQ(loader.search_path()[2], "/third");
}

TEST(PluginLoaderTest, UnknownNameListsTheAvailableOnes) {
  Status status = CreateError(PluginKind::kScheduler, "randon");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("no scheduler plugin named 'randon'"));
  EXPECT_THAT(status.message(), HasSubstr("did you mean 'random'?"));
  EXPECT_THAT(status.message(), HasSubstr("available: "));
}

TEST(PluginLoaderTest, MissingPathIsNamed) {
  Status status = CreateError(PluginKind::kScheduler, "/nonexistent/rayk_scheduler_x.so");
  EXPECT_THAT(status.message(),
              HasSubstr("/nonexistent/rayk_scheduler_x.so for [scheduler] does not exist"));
}

TEST(PluginLoaderTest, FileThatIsNotALibrary) {
  Status status = CreateError(PluginKind::kScheduler, Fixture("garbage"));
  EXPECT_THAT(status.message(), HasSubstr("cannot be loaded as a shared library"));
  EXPECT_THAT(status.message(), HasSubstr(Fixture("garbage")));
}

TEST(PluginLoaderTest, LibraryThatIsNotARaykPlugin) {
  Status status = CreateError(PluginKind::kScheduler, Fixture("notplugin"));
  EXPECT_THAT(status.message(), HasSubstr("is a shared library but not a rayk plugin"));
  EXPECT_THAT(status.message(), HasSubstr("RAYK_PLUGIN"));
}

TEST(PluginLoaderTest, AbiMismatchSaysBothVersions) {
  Status status = CreateError(PluginKind::kScheduler, Fixture("wrongabi"));
  EXPECT_THAT(status.message(),
              HasSubstr("built for plugin ABI version 999 but this rayk expects " +
                        std::to_string(RAYK_PLUGIN_ABI_VERSION)));
  EXPECT_THAT(status.message(), HasSubstr("rebuild the plugin"));
}

TEST(PluginLoaderTest, WrongKindForTheSlot) {
  std::string store = std::string(RAYK_PLUGIN_OUTPUT_DIR) + "/rayk_store_memory.so";
  Status status = CreateError(PluginKind::kScheduler, store);
  EXPECT_THAT(status.message(),
              HasSubstr("is a store plugin ('memory'), but [scheduler] needs a scheduler plugin"));
}

TEST(PluginLoaderTest, FactoryThatThrows) {
  Status status = CreateError(PluginKind::kScheduler, Fixture("throws"));
  EXPECT_THAT(status.message(), HasSubstr("scheduler plugin 'throws'"));
  EXPECT_THAT(status.message(), HasSubstr("failed to start: backend unreachable"));
}

TEST(PluginLoaderTest, FactoryThatReturnsNothing) {
  Status status = CreateError(PluginKind::kScheduler, Fixture("null"));
  EXPECT_THAT(status.message(), HasSubstr("scheduler plugin 'null'"));
  EXPECT_THAT(status.message(), HasSubstr("created nothing"));
}

TEST(PluginLoaderTest, UnknownSettingSuggestsTheNearest) {
  Status status =
      CreateError(PluginKind::kStore, "memory", {{"capactiy", {std::string("1GiB"), 7}}});
  EXPECT_THAT(status.message(), HasSubstr("p.toml:7: unknown key 'capactiy' in [store.memory]"));
  EXPECT_THAT(status.message(), HasSubstr("did you mean 'capacity'?"));
}

TEST(PluginLoaderTest, WrongSettingType) {
  Status status =
      CreateError(PluginKind::kScheduler, "random", {{"seed", {std::string("abc"), 3}}});
  EXPECT_THAT(status.message(),
              HasSubstr("p.toml:3: [scheduler.random] seed = \"abc\" must be an integer"));
}

TEST(PluginLoaderTest, BadSizeValue) {
  Status status =
      CreateError(PluginKind::kStore, "memory", {{"capacity", {std::string("2XB"), 4}}});
  EXPECT_THAT(status.message(),
              HasSubstr("p.toml:4: [store.memory] capacity = \"2XB\" is not a size"));
}

TEST(PluginLoaderTest, ValidSettingsAreTypedWithDefaults) {
  PluginLoader loader;
  auto info = loader.Find(PluginKind::kStore, "memory");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto settings =
      PluginLoader::ValidateSettings(*info, {{"capacity", {std::string("64MiB"), 1}}}, "p.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->GetInteger("capacity"), 64 << 20);
}

TEST(ParseBytesTest, Units) {
  EXPECT_EQ(*ParseBytes("1000"), 1000);
  EXPECT_EQ(*ParseBytes("64MiB"), 64 << 20);
  EXPECT_EQ(*ParseBytes("2GiB"), 2ll << 30);
  EXPECT_EQ(*ParseBytes("1.5KB"), 1500);
  EXPECT_FALSE(ParseBytes("lots").ok());
  EXPECT_FALSE(ParseBytes("-1MiB").ok());
  EXPECT_FALSE(ParseBytes("3 parsecs").ok());
}

}  // namespace
}  // namespace rayk
