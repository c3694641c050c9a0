// Bundle resources (scheduling/bundle_resources.h): what a committed bundle
// adds to its node, what work placed in it asks for, and that only the
// bundle's node can satisfy that demand.
#include "scheduling/bundle_resources.h"

#include <gtest/gtest.h>

namespace rayk {
namespace {

TEST(BundleResourcesTest, ACommittedBundleAddsPerBundleAndGroupWideNames) {
  PlacementGroupId group = PlacementGroupId::FromRandom();
  ResourceSet added = BundleResources(group, 1, ResourceSet{{"CPU", 2}, {"GPU", 1}});
  EXPECT_EQ(added.Get("CPU_group_1_" + group.Hex()), 2);
  EXPECT_EQ(added.Get("CPU_group_" + group.Hex()), 2);
  EXPECT_EQ(added.Get("GPU_group_1_" + group.Hex()), 1);
  EXPECT_EQ(added.Get("bundle_group_1_" + group.Hex()), kBundleMarkerAmount);
  EXPECT_EQ(added.Get("CPU"), 0);
  for (const auto& [name, amount] : added.amounts()) EXPECT_TRUE(IsBundleResource(name)) << name;
}

TEST(BundleResourcesTest, DemandFitsOnlyTheBundleItNames) {
  PlacementGroupId group = PlacementGroupId::FromRandom();
  ResourceSet node_with_0 = BundleResources(group, 0, ResourceSet{{"CPU", 1}});
  ResourceSet node_with_1 = BundleResources(group, 1, ResourceSet{{"CPU", 1}});
  ResourceSet in_0 = BundleDemand(ResourceSet{{"CPU", 1}}, group, 0);
  EXPECT_TRUE(node_with_0.Contains(in_0));
  EXPECT_FALSE(node_with_1.Contains(in_0));
  ResourceSet anywhere = BundleDemand(ResourceSet{{"CPU", 1}}, group, -1);
  EXPECT_TRUE(node_with_0.Contains(anywhere));
  EXPECT_TRUE(node_with_1.Contains(anywhere));
  EXPECT_FALSE((ResourceSet{{"CPU", 8}}.Contains(anywhere))) << "plain CPUs are not the bundle's";
  // An actor demanding nothing still lands on the bundle's node, by its marker.
  ResourceSet nothing = BundleDemand(ResourceSet{}, group, 1);
  EXPECT_FALSE(nothing.empty());
  EXPECT_TRUE(node_with_1.Contains(nothing));
  EXPECT_FALSE(node_with_0.Contains(nothing));
  // Another group's bundle does not fit.
  EXPECT_FALSE(
      BundleResources(PlacementGroupId::FromRandom(), 0, ResourceSet{{"CPU", 1}}).Contains(in_0));
}

TEST(BundleResourcesTest, StatusSumsWhatBundlesHoldInPlainNames) {
  PlacementGroupId a = PlacementGroupId::FromRandom(), b = PlacementGroupId::FromRandom();
  ResourceSet total{{"CPU", 4}, {"memory", 100}};
  total.Add(BundleResources(a, 0, ResourceSet{{"CPU", 1}}));
  total.Add(BundleResources(a, 1, ResourceSet{{"CPU", 1}}));
  total.Add(BundleResources(b, 0, ResourceSet{{"CPU", 0.5}, {"GPU", 1}}));
  EXPECT_EQ(ReservedInBundles(total), (ResourceSet{{"CPU", 2.5}, {"GPU", 1}}));
  EXPECT_EQ(WithoutBundleResources(total), (ResourceSet{{"CPU", 4}, {"memory", 100}}));
  std::string base;
  bool any = false;
  EXPECT_TRUE(IsBundleResource("CPU_group_" + a.Hex(), &base, &any));
  EXPECT_EQ(base, "CPU");
  EXPECT_TRUE(any);
  EXPECT_TRUE(IsBundleResource("my_group_thing_group_3_" + a.Hex(), &base, &any));
  EXPECT_EQ(base, "my_group_thing");
  EXPECT_FALSE(any);
  EXPECT_FALSE(IsBundleResource("CPU"));
  EXPECT_FALSE(IsBundleResource("my_group_x"));
  EXPECT_FALSE(IsBundleResource("CPU_group_x_" + a.Hex())) << "an index is digits";
  EXPECT_FALSE(IsBundleResource("CPU_group_" + std::string(32, 'z')));
}

}  // namespace
}  // namespace rayk
