// Concurrency groups end to end on an embedded cluster (real GCS, raylet and
// worker processes): a plain actor runs each group on threads of its own, an
// async actor bounds each group's calls on its one loop; methods run in the
// group RAYK_CONCURRENCY_GROUP gave them, calls may choose another, the
// default group is sized by SetMaxConcurrency; bad group names fail with one
// clear line where they are given. Concurrency is proven with barriers (calls
// that return only when all parties are in at once) and gates, never timing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "functions/group_functions.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using testing::ErrorOf;
using testing::kPatience;

// The actors under test, and their barriers and gates: group_functions.h.
using group_functions::AsyncGrouped;
using group_functions::GroupedActor;

class ConcurrencyGroupsTest : public testing::ClusterTest {
 protected:
  static ActorHandle<GroupedActor> GroupsOfOne(int max_concurrency = 1) {
    return rayk::Actor(GroupedActor::Create)
        .SetMaxConcurrency(max_concurrency)
        .SetConcurrencyGroup("a", 1)
        .SetConcurrencyGroup("b", 1)
        .Remote();
  }
};

// MeetInA and MeetInB return only if both run at once: groups "a" and "b"
// (one call each) run beside each other, and beside the default group.
TEST_F(ConcurrencyGroupsTest, TwoGroupsOfOneRunBesideEachOther) {
  auto actor = GroupsOfOne();
  auto in_a = actor.Task(&GroupedActor::MeetInA).Remote("ab", 3);
  auto in_b = actor.Task(&GroupedActor::MeetInB).Remote("ab", 3);
  auto in_default = actor.Task(&GroupedActor::Meet).Remote("ab", 3);
  EXPECT_TRUE(*rayk::Get(in_a, kPatience));
  EXPECT_TRUE(*rayk::Get(in_b, kPatience));
  EXPECT_TRUE(*rayk::Get(in_default, kPatience));
}

// Group "a" has one place: the second HoldInA enters only once the first has
// left, although its own gate opened first.
TEST_F(ConcurrencyGroupsTest, AGroupOfOneRunsItsCallsOneAtATime) {
  auto actor = GroupsOfOne();
  auto first = actor.Task(&GroupedActor::HoldInA).Remote("1");
  auto second = actor.Task(&GroupedActor::HoldInA).Remote("2");
  EXPECT_TRUE(*rayk::Get(actor.Task(&GroupedActor::Entered).Remote("1"), kPatience));
  rayk::Get(actor.Task(&GroupedActor::Open).Remote("2"), kPatience);
  EXPECT_THAT(*rayk::Get(actor.Task(&GroupedActor::Log).Remote(), kPatience),
              ::testing::ElementsAre("enter 1"));
  rayk::Get(actor.Task(&GroupedActor::Open).Remote("1"), kPatience);
  rayk::Get(first, kPatience);
  rayk::Get(second, kPatience);
  EXPECT_THAT(*rayk::Get(actor.Task(&GroupedActor::Log).Remote(), kPatience),
              ::testing::ElementsAre("enter 1", "leave 1", "enter 2", "leave 2"));
}

// Meet is in no group: three of them meet only if the default group has
// three places, SetMaxConcurrency(3), besides "a" and "b".
TEST_F(ConcurrencyGroupsTest, TheDefaultGroupIsSizedByMaxConcurrency) {
  auto actor = GroupsOfOne(3);
  std::vector<rayk::ObjectRef<bool>> meets;
  for (int i = 0; i < 3; ++i) meets.push_back(actor.Task(&GroupedActor::Meet).Remote("d", 3));
  for (const auto& met : rayk::Get(meets, kPatience)) EXPECT_TRUE(*met);
}

// While HoldInA holds group "a"'s one place: Meet moved into "b" meets a
// Meet in the default group, and MeetInA moved into "default" meets MeetInB.
TEST_F(ConcurrencyGroupsTest, APerCallOverrideRunsTheCallInThatGroup) {
  auto actor = GroupsOfOne();
  auto hold = actor.Task(&GroupedActor::HoldInA).Remote("h");
  auto moved = actor.Task(&GroupedActor::Meet).SetConcurrencyGroup("b").Remote("o", 2);
  auto stays = actor.Task(&GroupedActor::Meet).Remote("o", 2);
  EXPECT_TRUE(*rayk::Get(moved, kPatience));
  EXPECT_TRUE(*rayk::Get(stays, kPatience));
  auto out_of_a = actor.Task(&GroupedActor::MeetInA).SetConcurrencyGroup("default").Remote("p", 2);
  auto in_b = actor.Task(&GroupedActor::MeetInB).Remote("p", 2);
  EXPECT_TRUE(*rayk::Get(out_of_a, kPatience));
  EXPECT_TRUE(*rayk::Get(in_b, kPatience));
  rayk::Get(actor.Task(&GroupedActor::Open).Remote("h"), kPatience);
  rayk::Get(hold, kPatience);
}

// An async actor: group "a" (one call in flight) holds its second call while
// the first awaits, without holding up calls of the default group or "b",
// which start meanwhile in arrival order on the same loop.
TEST_F(ConcurrencyGroupsTest, AnAsyncActorBoundsEachGroupOnItsLoop) {
  auto actor = rayk::Actor(AsyncGrouped::Create)
                   .SetConcurrencyGroup("a", 1)
                   .SetConcurrencyGroup("b", 1)
                   .Remote();
  auto gate = [](const std::string& key) {
    return rayk::Task(test_functions::NodeWhenReleased).Remote("groups/" + key);
  };
  auto release = [](const std::string& key) { rayk::KvPut("groups/" + key, "open", "tests"); };
  auto a0 = actor.Task(&AsyncGrouped::PassGateInA).Remote(gate("0"), 0);
  auto a1 = actor.Task(&AsyncGrouped::PassGateInA).Remote(gate("1"), 1);
  auto in_default = actor.Task(&AsyncGrouped::PassGate).Remote(gate("2"), 2);
  auto in_b = actor.Task(&AsyncGrouped::PassGate).SetConcurrencyGroup("b").Remote(gate("3"), 3);
  EXPECT_THAT(*rayk::Get(actor.Task(&AsyncGrouped::Log).Remote(), kPatience),
              ::testing::ElementsAre("enter 0", "enter 2", "enter 3"));
  release("1");
  release("0");
  EXPECT_EQ(*rayk::Get(a1, kPatience), 1);
  EXPECT_EQ(*rayk::Get(a0, kPatience), 0);
  release("2");
  release("3");
  EXPECT_EQ(*rayk::Get(in_default, kPatience), 2);
  EXPECT_EQ(*rayk::Get(in_b, kPatience), 3);
  auto log = *rayk::Get(actor.Task(&AsyncGrouped::Log).Remote(), kPatience);
  ASSERT_EQ(log.size(), 8u);
  EXPECT_THAT(
      std::vector<std::string>(log.begin(), log.begin() + 6),
      ::testing::ElementsAre("enter 0", "enter 2", "enter 3", "leave 0", "enter 1", "leave 1"));
}

TEST_F(ConcurrencyGroupsTest, BadGroupsAtCreationAreRefused) {
  EXPECT_EQ(ErrorOf([] { rayk::Actor(GroupedActor::Create).SetConcurrencyGroup("i o", 1); }),
            "SetConcurrencyGroup(\"i o\", 1) on rayk::Actor(GroupedActor::Create): concurrency "
            "group 'i o' is not a valid name; use 1 to 64 letters, digits, '.', '_' or '-'");
  EXPECT_EQ(ErrorOf([] { rayk::Actor(GroupedActor::Create).SetConcurrencyGroup("io", 0); }),
            "SetConcurrencyGroup(\"io\", 0) on rayk::Actor(GroupedActor::Create): give 1 or more "
            "calls at once");
  EXPECT_EQ(ErrorOf([] { rayk::Actor(GroupedActor::Create).SetConcurrencyGroup("default", 2); }),
            "SetConcurrencyGroup(\"default\", 2) on rayk::Actor(GroupedActor::Create): the "
            "default group's limit is SetMaxConcurrency(n)");
}

// A method registered in a group the actor does not declare, or in two.
TEST_F(ConcurrencyGroupsTest, MethodsInGroupsTheActorLacksAreRefusedAtCreation) {
  EXPECT_EQ(ErrorOf([] { rayk::Actor(GroupedActor::Create).SetConcurrencyGroup("a", 1).Remote(); }),
            "rayk::Actor(GroupedActor::Create): &GroupedActor::MeetInB is in concurrency group "
            "'b' (RAYK_CONCURRENCY_GROUP), which the actor does not declare; add "
            ".SetConcurrencyGroup(\"b\", n)");
  EXPECT_THROW(rayk::Actor(GroupedActor::Create).Remote(), rayk::RuntimeError);
  std::string two = ErrorOf([] {
    rayk::Actor(group_functions::TwoGroups::Create)
        .SetConcurrencyGroup("x", 1)
        .SetConcurrencyGroup("y", 1)
        .Remote();
  });
  EXPECT_THAT(two, ::testing::HasSubstr("&TwoGroups::Run is in two concurrency groups"));
  EXPECT_THAT(two, ::testing::HasSubstr("keep one"));
}

TEST_F(ConcurrencyGroupsTest, BadGroupsOfACallAreRefused) {
  auto actor = GroupsOfOne();
  EXPECT_EQ(ErrorOf([&] { actor.Task(&GroupedActor::Meet).SetConcurrencyGroup(""); }),
            "SetConcurrencyGroup on a call of &GroupedActor::Meet: concurrency group '' is not a "
            "valid name; use 1 to 64 letters, digits, '.', '_' or '-'");
  // This process created the actor: it knows the groups, and refuses at once.
  std::string unknown =
      ErrorOf([&] { actor.Task(&GroupedActor::Meet).SetConcurrencyGroup("c").Remote("c", 1); });
  EXPECT_THAT(unknown,
              ::testing::StartsWith("concurrency group 'c' of call &GroupedActor::Meet: actor "));
  EXPECT_THAT(unknown,
              ::testing::HasSubstr("has no such group (it has default, a, b); name one of these in "
                                   "SetConcurrencyGroup, or declare it with "
                                   "rayk::Actor(...).SetConcurrencyGroup(\"c\", n)"));
  EXPECT_THROW(actor.Task(&GroupedActor::Meet).SetConcurrencyGroup("c").Remote("c", 1),
               rayk::RuntimeError);
  // A task did not create it: the actor's worker refuses the call, in the same words.
  std::string from_task =
      *rayk::Get(rayk::Task(group_functions::MeetInGroupFromATask).Remote(actor, "c"), kPatience);
  EXPECT_THAT(from_task, ::testing::HasSubstr("has no such group (it has default, a, b)"));
  EXPECT_THAT(from_task, ::testing::HasSubstr("concurrency group 'c' of call &GroupedActor::Meet"));
  // The actor keeps serving, and a known group passes from the task too.
  EXPECT_EQ(
      *rayk::Get(rayk::Task(group_functions::MeetInGroupFromATask).Remote(actor, "b"), kPatience),
      "no error");
}

// A handle got by name knows the actor's groups from the GCS: a bad group
// fails at submission there too; `rayk list actors` shows the groups.
TEST_F(ConcurrencyGroupsTest, AHandleByNameAndTheListingKnowTheGroups) {
  [[maybe_unused]] auto created = rayk::Actor(GroupedActor::Create)
                                      .SetName("grouped")
                                      .SetConcurrencyGroup("a", 1)
                                      .SetConcurrencyGroup("b", 2)
                                      .Remote();
  auto by_name = rayk::GetActor<GroupedActor>("grouped");
  EXPECT_THAT(
      ErrorOf([&] { by_name.Task(&GroupedActor::Meet).SetConcurrencyGroup("c").Remote("c", 1); }),
      ::testing::HasSubstr("has no such group (it has default, a, b)"));
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto text = testing::RunRayk("list actors --address " + address);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, ::testing::HasSubstr("GROUPS"));
  EXPECT_THAT(text.output, ::testing::HasSubstr("a:1,b:2"));
  auto json = testing::RunRayk("list actors --format json --address " + address);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto actors = nlohmann::json::parse(json.output);
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0]["concurrency_groups"], (nlohmann::json{{"a", 1}, {"b", 2}}));
}

}  // namespace
}  // namespace rayk
