// Namespaces end to end (InitOptions::namespace_name): names of actors and
// placement groups are per namespace, a job without one has an anonymous
// namespace of its own, and a worker looks names up in its job's namespace.
// Real processes: an embedded cluster, a second driver, the `rayk` CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using test_functions::Counter;
using ::testing::HasSubstr;

template <class F>
std::string ErrorOf(F&& call) {
  try {
    call();
  } catch (const rayk::RaykError& error) {
    return error.what();
  }
  return "(no error)";
}

class NamespaceTest : public testing::ClusterTest {
 protected:
  void Customize(InitOptions& options) override { options.namespace_name = "alpha"; }
  std::string Address() {
    return ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  }
};

TEST_F(NamespaceTest, TheSameNameLivesOnceInEachNamespace) {
  [[maybe_unused]] auto mine = rayk::Actor(Counter::Create).SetName("svc").Remote(10);
  [[maybe_unused]] auto theirs =
      rayk::Actor(Counter::Create).SetName("svc").SetNamespace("beta").Remote(20);
  EXPECT_EQ(*rayk::Get(rayk::GetActor<Counter>("svc").Task(&Counter::Value).Remote()), 10);
  EXPECT_EQ(*rayk::Get(rayk::GetActor<Counter>("svc", "alpha").Task(&Counter::Value).Remote()), 10);
  EXPECT_EQ(*rayk::Get(rayk::GetActor<Counter>("svc", "beta").Task(&Counter::Value).Remote()), 20);
  EXPECT_THAT(ErrorOf([] { rayk::Actor(Counter::Create).SetName("svc").Remote(0); }),
              HasSubstr("an actor named 'svc' already exists in namespace 'alpha'"));
  EXPECT_THAT(ErrorOf([] { rayk::GetActor<Counter>("svc", "gamma"); }),
              HasSubstr("no actor named 'svc' in namespace 'gamma'"));
}

TEST_F(NamespaceTest, AWorkerLooksNamesUpInItsJobsNamespace) {
  [[maybe_unused]] auto counter = rayk::Actor(Counter::Create).SetName("inside").Remote(1);
  EXPECT_EQ(
      *rayk::Get(rayk::Task(test_functions::IncrNamedCounter).Remote(std::string("inside"), 2)), 3);
}

TEST_F(NamespaceTest, AnotherJobSeesNamesOnlyInItsNamespace) {
  auto counter = rayk::Actor(Counter::Create).SetName("shared").Remote(40);
  rayk::Get(counter.Task(&Counter::Value).Remote());
  const std::string driver =
      "RAYK_ADDRESS=" + Address() + " " + RAYK_BINARY_DIR + "/bin/rayk_second_driver incr shared 1";
  auto same = testing::RunCommand("RAYK_NAMESPACE=alpha " + driver);
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_THAT(same.output, HasSubstr("value 41"));
  auto other = testing::RunCommand("RAYK_NAMESPACE=beta " + driver);
  EXPECT_NE(other.exit_code, 0);
  EXPECT_THAT(other.output, HasSubstr("no actor named 'shared' in namespace 'beta'"));
  auto bad = testing::RunCommand("RAYK_NAMESPACE='no spaces' " + driver);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("$RAYK_NAMESPACE: namespace 'no spaces' is not valid"));
}

TEST_F(NamespaceTest, PlacementGroupNamesArePerNamespace) {
  auto group = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}}}, .name = "pg"});
  ASSERT_TRUE(group.Wait(std::chrono::seconds(60)));
  EXPECT_EQ(rayk::GetPlacementGroup("pg").ID(), group.ID());
  EXPECT_EQ(rayk::GetPlacementGroup("pg", "alpha").ID(), group.ID());
  EXPECT_THAT(ErrorOf([] { rayk::GetPlacementGroup("pg", "beta"); }),
              HasSubstr("no placement group named 'pg' in namespace 'beta'"));
  rayk::RemovePlacementGroup(group);
}

TEST_F(NamespaceTest, ListActorsFiltersByNamespace) {
  auto a = rayk::Actor(Counter::Create).SetName("in-alpha").Remote(0);
  auto b = rayk::Actor(Counter::Create).SetName("in-beta").SetNamespace("beta").Remote(0);
  rayk::Get(a.Task(&Counter::Value).Remote());
  rayk::Get(b.Task(&Counter::Value).Remote());
  auto listed =
      testing::RunRayk("list actors --namespace beta --format json --address " + Address());
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  auto actors = nlohmann::json::parse(listed.output.substr(listed.output.find('[')));
  ASSERT_EQ(actors.size(), 1u) << listed.output;
  EXPECT_EQ(actors[0]["name"], "in-beta");
  EXPECT_EQ(actors[0]["namespace"], "beta");
  auto text = testing::RunRayk("list actors --namespace alpha --address " + Address());
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("in-alpha"));
  EXPECT_THAT(text.output, ::testing::Not(HasSubstr("in-beta")));
}

TEST_F(NamespaceTest, BadNamespacesGetOneLineErrors) {
  EXPECT_EQ(ErrorOf([] { rayk::Actor(Counter::Create).SetNamespace("a/b"); }),
            "rayk::Actor(...).SetNamespace: namespace 'a/b' is not valid; use 1 to 64 letters, "
            "digits, '.', '_' or '-'");
  EXPECT_THAT(ErrorOf([] { rayk::GetActor<Counter>("x", std::string(65, 'n')); }),
              HasSubstr("rayk::GetActor: namespace 'nnn"));
}

// A job that gives no namespace has one of its own: its names are hidden
// from every other job.
class AnonymousNamespaceTest : public testing::ClusterTest {};

TEST_F(AnonymousNamespaceTest, ItsNamesAreItsOwn) {
  unsetenv("RAYK_NAMESPACE");
  [[maybe_unused]] auto counter = rayk::Actor(Counter::Create).SetName("solo").Remote(0);
  EXPECT_EQ(*rayk::Get(rayk::GetActor<Counter>("solo").Task(&Counter::Incr).Remote(1)), 1);
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto listed = testing::RunRayk("list actors --format json --address " + address);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("\"namespace\": \"anonymous-"));
  auto other = testing::RunCommand("RAYK_ADDRESS=" + address + " " + RAYK_BINARY_DIR +
                                   "/bin/rayk_second_driver incr solo 1");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_THAT(other.output, HasSubstr("no actor named 'solo' in namespace 'second-driver'"));
}

TEST(NamespaceInitTest, AnInvalidNamespaceFailsInitBeforeAnythingStarts) {
  testing::TempDir root;
  setenv("RAYK_SESSION_ROOT", root.path().c_str(), 1);
  rayk::InitOptions options;
  options.namespace_name = "has space";
  EXPECT_EQ(ErrorOf([&] { rayk::Init(options); }),
            "rayk::Init: InitOptions::namespace_name: namespace 'has space' is not valid; use 1 "
            "to 64 letters, digits, '.', '_' or '-'");
  EXPECT_FALSE(rayk::IsInitialized());
}

}  // namespace
}  // namespace rayk
