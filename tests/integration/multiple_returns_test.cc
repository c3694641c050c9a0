// Multiple returns (TaskCaller::SetNumReturns) end to end on an embedded
// two-CPU cluster: a tuple result as a tuple of refs, a vector split into N
// refs (3,000, as Ray's release test), large elements stored and freed one
// by one, refs passed on to other tasks, and the faults: a vector of the
// wrong length, a throw, bad counts; and the same on actor method calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster_fixture.h"
#include "functions/return_functions.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using namespace return_functions;
using ::testing::HasSubstr;

class MultipleReturnsTest : public testing::ClusterTest {
 protected:
  // Get(ref) must throw E; returns its message.
  template <class E, class T>
  static std::string ErrorOf(const rayk::ObjectRef<T>& ref) {
    try {
      rayk::Get(ref, testing::kPatience);
    } catch (const E& error) {
      return error.what();
    } catch (const std::exception& error) {
      ADD_FAILURE() << "expected another exception type, got " << error.what();
      return "";
    }
    ADD_FAILURE() << "expected an exception, got a value";
    return "";
  }
};

TEST_F(MultipleReturnsTest, ATupleResultIsATupleOfRefs) {
  auto [number, text, values] = rayk::Task(Describe).SetNumReturns(3).Remote(4);
  static_assert(std::is_same_v<decltype(number), rayk::ObjectRef<int>>);
  static_assert(std::is_same_v<decltype(text), rayk::ObjectRef<std::string>>);
  static_assert(std::is_same_v<decltype(values), rayk::ObjectRef<std::vector<double>>>);
  EXPECT_EQ(*rayk::Get(number, testing::kPatience), 4);
  EXPECT_EQ(*rayk::Get(text, testing::kPatience), "n=4");
  EXPECT_EQ(*rayk::Get(values, testing::kPatience), (std::vector<double>{0.5, 1.5, 2.5, 3.5}));
  // Each is its own object, with its own id.
  EXPECT_NE(number.ID(), text.ID());
  EXPECT_NE(text.ID(), values.ID());
}

TEST_F(MultipleReturnsTest, AVectorResultSplitsIntoThreeThousandRefs) {
  constexpr int kCount = 3000;  // Ray's release test (many_returns)
  std::vector<rayk::ObjectRef<int>> refs = rayk::Task(Range).SetNumReturns(kCount).Remote(kCount);
  ASSERT_EQ(refs.size(), size_t{kCount});
  std::vector<std::shared_ptr<int>> values = rayk::Get(refs, testing::kPatience);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(*values[i], i) << "ref " << i;
}

TEST_F(MultipleReturnsTest, OneOfTheRefsIsPassedToAnotherTask) {
  auto refs = rayk::Task(Range).SetNumReturns(3).Remote(3);
  auto sum = rayk::Task(test_functions::Add).Remote(refs[1], refs[2]);
  EXPECT_EQ(*rayk::Get(sum, testing::kPatience), 3);
}

TEST_F(MultipleReturnsTest, LargeElementsAreStoredAndFreedOneByOne) {
  constexpr int64_t kBytes = 2 << 20;  // each element goes to the store
  auto refs = rayk::Task(Chunks).SetNumReturns(3).Remote(3, kBytes);
  for (auto& ref : refs) ASSERT_EQ(rayk::Get(ref, testing::kPatience)->size(), size_t{kBytes});
  ASSERT_TRUE(testing::PollUntil([&] { return StoredObjects() == 3; }, testing::kPatience));
  // Dropping two refs frees their objects; the third stays and reads right.
  refs[0] = {};
  refs[2] = {};
  EXPECT_TRUE(testing::PollUntil([&] { return StoredObjects() == 1; }, testing::kPatience));
  EXPECT_EQ(*rayk::Get(refs[1], testing::kPatience), std::string(kBytes, 'b'));
  EXPECT_EQ(*rayk::Get(rayk::Task(LengthOf).Remote(refs[1]), testing::kPatience), kBytes);
  refs[1] = {};
  EXPECT_TRUE(testing::PollUntil([&] { return StoredObjects() == 0; }, testing::kPatience));
}

TEST_F(MultipleReturnsTest, AVectorOfTheWrongLengthFailsEveryRef) {
  auto refs = rayk::Task(Range).SetNumReturns(4).Remote(3);
  for (const auto& ref : refs) {
    EXPECT_THAT(ErrorOf<rayk::RuntimeError>(ref),
                HasSubstr("Range returned 3 values where SetNumReturns(4) "
                          "promised 4"));
  }
}

TEST_F(MultipleReturnsTest, AThrowFailsEveryRef) {
  auto refs = rayk::Task(ThrowsInstead).SetNumReturns(2).Remote();
  for (const auto& ref : refs)
    EXPECT_THAT(ErrorOf<rayk::TaskError>(ref), HasSubstr("no values today"));
}

TEST_F(MultipleReturnsTest, BadCountsAreRefusedAtTheCall) {
  try {
    (void)rayk::Task(Range).SetNumReturns(0);
    ADD_FAILURE() << "SetNumReturns(0) was accepted";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetNumReturns(0) on rayk::Task(Range): give 1 to"));
  }
  try {
    (void)rayk::Task(Describe).SetNumReturns(2);
    ADD_FAILURE() << "SetNumReturns(2) of a 3-tuple was accepted";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("the function returns a tuple of 3; give that count"));
  }
}

TEST_F(MultipleReturnsTest, OptionsBeforeAndAfterSetNumReturnsApply) {
  auto refs = rayk::Task(Range)
                  .SetName("ranged")
                  .SetNumReturns(2)
                  .SetResource("CPU", 0.5)
                  .SetMaxRetries(0)
                  .Remote(2);
  EXPECT_EQ(*rayk::Get(refs[0], testing::kPatience), 0);
  EXPECT_EQ(*rayk::Get(refs[1], testing::kPatience), 1);
}

TEST_F(MultipleReturnsTest, AnActorMethodReturnsATupleAndAVectorAsRefs) {
  auto splitter = rayk::Actor(Splitter::Create).Remote(100);
  auto [number, text] = splitter.Task(&Splitter::Pair).SetNumReturns(2).Remote(5);
  static_assert(std::is_same_v<decltype(number), rayk::ObjectRef<int>>);
  static_assert(std::is_same_v<decltype(text), rayk::ObjectRef<std::string>>);
  EXPECT_EQ(*rayk::Get(number, testing::kPatience), 105);
  EXPECT_EQ(*rayk::Get(text, testing::kPatience), "base+5");
  std::vector<rayk::ObjectRef<int>> refs =
      splitter.Task(&Splitter::Range).SetName("split range").SetNumReturns(3).Remote(3);
  ASSERT_EQ(refs.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*rayk::Get(refs[i], testing::kPatience), 100 + i);
  // A result passed on to a task, and the actor's state kept across the calls.
  auto sum = rayk::Task(test_functions::Add).Remote(refs[0], refs[2]);
  EXPECT_EQ(*rayk::Get(sum, testing::kPatience), 202);
  EXPECT_EQ(*rayk::Get(splitter.Task(&Splitter::Calls).Remote(), testing::kPatience), 2);
}

TEST_F(MultipleReturnsTest, AnActorMethodsVectorOfTheWrongLengthFailsEveryRef) {
  auto splitter = rayk::Actor(Splitter::Create).Remote(0);
  auto refs = splitter.Task(&Splitter::Range).SetNumReturns(4).Remote(2);
  ASSERT_EQ(refs.size(), 4u);
  for (const auto& ref : refs) {
    EXPECT_THAT(ErrorOf<rayk::RuntimeError>(ref),
                HasSubstr("returned 2 values where SetNumReturns(4) promised 4"));
  }
  // The actor lives on: the next call answers.
  auto [number, text] = splitter.Task(&Splitter::Pair).SetNumReturns(2).Remote(1);
  EXPECT_EQ(*rayk::Get(number, testing::kPatience), 1);
}

TEST_F(MultipleReturnsTest, BadCountsOnAnActorCallAreRefusedAtTheCall) {
  auto splitter = rayk::Actor(Splitter::Create).Remote(0);
  try {
    (void)splitter.Task(&Splitter::Pair).SetNumReturns(3);
    ADD_FAILURE() << "SetNumReturns(3) of a 2-tuple was accepted";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetNumReturns(3) on a call of"));
    EXPECT_THAT(error.what(), HasSubstr("the function returns a tuple of 2; give that count"));
  }
  try {
    (void)splitter.Task(&Splitter::Range).SetNumReturns(0);
    ADD_FAILURE() << "SetNumReturns(0) was accepted";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetNumReturns(0) on a call of"));
  }
}

}  // namespace
}  // namespace rayk
