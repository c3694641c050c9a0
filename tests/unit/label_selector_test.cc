// Label selectors (rayk/label_selector.h): each operator against nodes with
// and without the label, the syntax errors, and the node label rules.
#include "rayk/label_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rayk {
namespace {

using ::testing::HasSubstr;

const Labels kZoneA = {{"zone", "a"}, {"disk", "ssd"}};
const Labels kZoneB = {{"zone", "b"}};
const Labels kNoZone = {{"disk", "hdd"}};

bool Holds(const Labels& node, const std::string& condition) {
  return LabelConditionHolds(node, "zone", condition);
}

TEST(LabelSelectorTest, EqualsAndNotEquals) {
  EXPECT_TRUE(Holds(kZoneA, "a"));
  EXPECT_FALSE(Holds(kZoneB, "a"));
  EXPECT_FALSE(Holds(kNoZone, "a"));
  EXPECT_FALSE(Holds(kZoneA, "!a"));
  EXPECT_TRUE(Holds(kZoneB, "!a"));
  EXPECT_TRUE(Holds(kNoZone, "!a")) << "a node without the label is not in zone a";
}

TEST(LabelSelectorTest, InAndNotIn) {
  EXPECT_TRUE(Holds(kZoneA, "in(a,b)"));
  EXPECT_TRUE(Holds(kZoneB, "in(a,b)"));
  EXPECT_FALSE(Holds(kZoneB, "in(a,c)"));
  EXPECT_FALSE(Holds(kNoZone, "in(a,b)"));
  EXPECT_FALSE(Holds(kZoneA, "in(ab)")) << "whole values only";
  EXPECT_FALSE(Holds(kZoneA, "!in(a,b)"));
  EXPECT_TRUE(Holds(kZoneB, "!in(a,c)"));
  EXPECT_TRUE(Holds(kNoZone, "!in(a,b)"));
}

TEST(LabelSelectorTest, ExistsAndDoesNotExist) {
  EXPECT_TRUE(Holds(kZoneA, "exists()"));
  EXPECT_FALSE(Holds(kNoZone, "exists()"));
  EXPECT_FALSE(Holds(kZoneA, "!exists()"));
  EXPECT_TRUE(Holds(kNoZone, "!exists()"));
}

TEST(LabelSelectorTest, EveryConditionMustHold) {
  EXPECT_TRUE(LabelsMatch(kZoneA, {{"zone", "in(a,b)"}, {"disk", "ssd"}}));
  EXPECT_FALSE(LabelsMatch(kZoneA, {{"zone", "in(a,b)"}, {"disk", "!ssd"}}));
  EXPECT_TRUE(LabelsMatch(kZoneA, {}));
}

TEST(LabelSelectorTest, BadConditionsAreRefusedNamingTheEntryAndTheSyntax) {
  for (const char* bad :
       {"in()", "in(a,)", "in(a b)", "!", "", "a b", "exists(x)", "in(a", "!!a"}) {
    Status status = CheckLabelSelector({{"zone", bad}}, "rayk::Task(Add).SetLabelSelector");
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_THAT(status.message(), HasSubstr("rayk::Task(Add).SetLabelSelector"));
    EXPECT_THAT(status.message(), HasSubstr(std::string("'") + bad + "'"));
    EXPECT_THAT(status.message(), HasSubstr("\"in(v1,v2)\""));
    EXPECT_EQ(status.message().find('\n'), std::string::npos);
    EXPECT_FALSE(Holds(kZoneA, bad)) << "a refused condition never holds: " << bad;
  }
  Status key = CheckLabelSelector({{"my zone", "a"}}, "where");
  EXPECT_THAT(key.message(), HasSubstr("label key 'my zone' is not a label name"));
  EXPECT_TRUE(CheckLabelSelector({{"example.com/zone", "!in(a,b-c,d.e)"}}, "where").ok());
  EXPECT_FALSE(CheckLabelSelector({{"/zone", "a"}}, "where").ok());
  EXPECT_FALSE(CheckLabelSelector({{"zone", std::string(64, 'x')}}, "where").ok());
}

TEST(LabelSelectorTest, NodeLabelsKeepTheReservedPrefixForRayk) {
  EXPECT_TRUE(CheckNodeLabels({{"zone", "a"}, {"example.com/rack", "r1"}}, "--labels").ok());
  Status reserved = CheckNodeLabels({{"rayk.io/node-id", "x"}}, "--labels");
  ASSERT_FALSE(reserved.ok());
  EXPECT_THAT(reserved.message(), HasSubstr("--labels: label 'rayk.io/node-id' uses the prefix"));
  EXPECT_TRUE(CheckNodeLabels({{"rayk.io/node-index", "3"}}, "--labels", true).ok());
  Status value = CheckNodeLabels({{"zone", "!a"}}, "--labels");
  EXPECT_THAT(value.message(), HasSubstr("the value '!a' of label 'zone' is not valid"));
}

}  // namespace
}  // namespace rayk
