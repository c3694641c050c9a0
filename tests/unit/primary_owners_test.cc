// PrimaryOwners (object_manager/primary_owners.h): the raylet's record of
// whose primaries its store holds, which frees those of dead owners.
#include "object_manager/primary_owners.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

namespace rayk {
namespace {

using ::testing::UnorderedElementsAre;

std::vector<ObjectId> Ids(size_t n) {
  std::vector<ObjectId> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(ObjectId::FromRandom());
  return ids;
}

TEST(PrimaryOwnersTest, AnOwnersObjectsAreTakenOnceAtItsDeath) {
  PrimaryOwners owners([](const ObjectId&) { return true; });
  auto a = Ids(2);
  auto b = Ids(1);
  owners.Record("tcp://a", 0, a);
  owners.Record("tcp://b", 0, b);
  owners.Forget({a[1]});  // its owner freed it
  EXPECT_THAT(owners.TakeOwnedBy("tcp://a"), UnorderedElementsAre(a[0]));
  EXPECT_TRUE(owners.TakeOwnedBy("tcp://a").empty());
  EXPECT_TRUE(owners.TakeOwnedBy("tcp://nobody").empty());
  EXPECT_EQ(owners.size(), 1u);
  EXPECT_THAT(owners.TakeOwnedBy("tcp://b"), UnorderedElementsAre(b[0]));
  EXPECT_EQ(owners.size(), 0u);
}

TEST(PrimaryOwnersTest, AnIdRecordedAgainBelongsToItsLastOwner) {
  PrimaryOwners owners([](const ObjectId&) { return true; });
  auto id = Ids(1);
  owners.Record("tcp://a", 0, id);
  owners.Record("tcp://b", 0, id);
  EXPECT_TRUE(owners.TakeOwnedBy("tcp://a").empty());
  EXPECT_THAT(owners.TakeOwnedBy("tcp://b"), UnorderedElementsAre(id[0]));
}

TEST(PrimaryOwnersTest, LocalOwnersWhoseProcessIsGoneAreDead) {
  PrimaryOwners owners([](const ObjectId&) { return true; });
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  owners.Record("tcp://gone", child, Ids(1));
  owners.Record("tcp://alive", getpid(), Ids(1));
  owners.Record("tcp://remote", 0, Ids(1));  // no pid: known dead only when told
  EXPECT_THAT(owners.DeadLocalOwners(), UnorderedElementsAre("tcp://gone"));
}

TEST(PrimaryOwnersTest, ObjectsFreedWithoutTellingArePrunedAsTheTableGrows) {
  std::unordered_set<ObjectId> stored;
  PrimaryOwners owners([&](const ObjectId& id) { return stored.count(id) > 0; },
                       std::chrono::seconds(0));
  auto kept = Ids(10);
  stored.insert(kept.begin(), kept.end());
  owners.Record("tcp://a", 0, kept);
  // Freed by their owner straight in the store: the table is not told.
  for (size_t i = 0; i + kept.size() < PrimaryOwners::kPruneFloor; ++i) {
    owners.Record("tcp://a", 0, Ids(1));
  }
  EXPECT_EQ(owners.size(), kept.size());
  auto taken = owners.TakeOwnedBy("tcp://a");
  std::sort(taken.begin(), taken.end());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(taken, kept);
}

}  // namespace
}  // namespace rayk
