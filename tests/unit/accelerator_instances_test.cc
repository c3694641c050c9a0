// The devices of accelerator resources (scheduling/accelerators.h): which
// device a share or a whole-number demand gets, that a fragmented node makes
// a demand wait, that giving back returns what was taken, and the errors for
// demands and declarations no node can honour.
#include <gtest/gtest.h>

#include "scheduling/accelerators.h"
#include "scheduling/bundle_resources.h"

namespace rayk {
namespace {

std::vector<int> Devices(const std::vector<DeviceShares::Taken>& taken) {
  std::vector<int> out;
  for (const auto& t : taken) out.push_back(t.device);
  return out;
}

TEST(DeviceSharesTest, WholeDevicesGoOneEachInOrder) {
  DeviceShares gpus(2);
  auto first = gpus.Take(1);
  auto second = gpus.Take(1);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(Devices(*first), std::vector<int>{0});
  EXPECT_EQ(Devices(*second), std::vector<int>{1});
  EXPECT_FALSE(gpus.Take(1));
  EXPECT_FALSE(gpus.Take(0.1));
}

TEST(DeviceSharesTest, SharesFillTheFullestDeviceThatFits) {
  DeviceShares gpus(2);
  auto half = gpus.Take(0.5);
  ASSERT_TRUE(half);
  EXPECT_EQ(Devices(*half), std::vector<int>{0});
  // Best fit: the second half goes beside the first, keeping GPU 1 whole.
  auto other_half = gpus.Take(0.5);
  ASSERT_TRUE(other_half);
  EXPECT_EQ(Devices(*other_half), std::vector<int>{0});
  auto whole = gpus.Take(1);
  ASSERT_TRUE(whole);
  EXPECT_EQ(Devices(*whole), std::vector<int>{1});
  EXPECT_EQ(gpus.free(), (std::vector<double>{0, 0}));
}

TEST(DeviceSharesTest, BestFitPrefersThePartlyUsedDevice) {
  DeviceShares gpus(3);
  auto a = gpus.Take(1);    // GPU 0
  auto b = gpus.Take(0.3);  // GPU 1, 0.7 left
  gpus.Give(*a);            // GPU 0 whole again
  auto c = gpus.Take(0.5);
  ASSERT_TRUE(b && c);
  EXPECT_EQ(Devices(*c), std::vector<int>{1});
  EXPECT_EQ(gpus.free(), (std::vector<double>{1, 0.2, 1}));
}

TEST(DeviceSharesTest, AFragmentedNodeRefusesWhatItsTotalWouldFit) {
  DeviceShares gpus(2);
  auto on_0 = gpus.Take(0.6);
  auto on_1 = gpus.Take(0.6);  // does not fit beside the first: GPU 1
  ASSERT_TRUE(on_0 && on_1);
  EXPECT_EQ(Devices(*on_1), std::vector<int>{1});
  // 0.8 is free in all, but no device has 0.8, nor is one whole.
  EXPECT_FALSE(gpus.Take(0.8));
  EXPECT_FALSE(gpus.Take(1));
  EXPECT_TRUE(gpus.Take(0.4));
}

TEST(DeviceSharesTest, SeveralWholeDevicesNeedThatManyFreeOnes) {
  DeviceShares gpus(4);
  auto part = gpus.Take(0.25);  // GPU 0
  auto three = gpus.Take(3);
  ASSERT_TRUE(part && three);
  EXPECT_EQ(Devices(*three), (std::vector<int>{1, 2, 3}));
  gpus.Give(*three);
  EXPECT_FALSE(gpus.Take(4));  // GPU 0 is partly used
  gpus.Give(*part);
  auto all = gpus.Take(4);
  ASSERT_TRUE(all);
  EXPECT_EQ(Devices(*all), (std::vector<int>{0, 1, 2, 3}));
}

TEST(DeviceSharesTest, GivingBackReturnsExactlyWhatWasTaken) {
  DeviceShares gpus(1);
  // Tenths add up exactly: ten of them fill the device and free it again.
  std::vector<std::vector<DeviceShares::Taken>> tenths;
  for (int i = 0; i < 10; ++i) {
    auto t = gpus.Take(0.1);
    ASSERT_TRUE(t) << i;
    tenths.push_back(*t);
  }
  EXPECT_FALSE(gpus.Take(0.1));
  for (const auto& t : tenths) gpus.Give(t);
  EXPECT_EQ(gpus.free(), std::vector<double>{1});
  EXPECT_TRUE(gpus.Take(1));
}

TEST(NodeAcceleratorsTest, GpuIsAlwaysAnAcceleratorAndOthersAreDeclared) {
  auto declared = CheckAcceleratorDeclarations({{"neuron_cores", "NEURON_RT_VISIBLE_CORES"}});
  ASSERT_TRUE(declared.ok()) << declared.status().message();
  EXPECT_EQ(declared->at("GPU"), "CUDA_VISIBLE_DEVICES");
  auto node =
      NodeAccelerators::Make(ResourceSet{{"CPU", 4}, {"GPU", 2}, {"neuron_cores", 1}}, *declared);
  ASSERT_TRUE(node.ok()) << node.status().message();
  auto held = node->Take(ResourceSet{{"CPU", 1}, {"GPU", 1}});
  ASSERT_TRUE(held);
  auto visible = node->VisibleTo(*held);
  ASSERT_EQ(visible.size(), 2u);
  EXPECT_EQ(visible[0].resource, "GPU");
  EXPECT_EQ(visible[0].env_var, "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(visible[0].ids, std::vector<int>{0});
  EXPECT_EQ(visible[1].env_var, "NEURON_RT_VISIBLE_CORES");
  EXPECT_TRUE(visible[1].ids.empty());  // held none: its workers see none
  EXPECT_EQ(node->Find("CPU"), nullptr);
}

TEST(NodeAcceleratorsTest, TakeIsAllOrNothing) {
  auto declared = CheckAcceleratorDeclarations({{"TPU", "TPU_VISIBLE_CHIPS"}});
  ASSERT_TRUE(declared.ok());
  auto node = NodeAccelerators::Make(ResourceSet{{"GPU", 1}, {"TPU", 1}}, *declared);
  ASSERT_TRUE(node.ok());
  auto tpu = node->Take(ResourceSet{{"TPU", 1}});
  ASSERT_TRUE(tpu);
  EXPECT_FALSE(node->Take(ResourceSet{{"GPU", 1}, {"TPU", 1}}));
  EXPECT_EQ(node->Find("GPU")->free(), std::vector<double>{1});  // the GPU went back
  node->Give(*tpu);
  EXPECT_TRUE(node->Take(ResourceSet{{"GPU", 1}, {"TPU", 1}}));
}

TEST(NodeAcceleratorsTest, WorkInABundleTakesDevicesForTheBundlesAmount) {
  auto node = NodeAccelerators::Make(ResourceSet{{"GPU", 2}}, *CheckAcceleratorDeclarations({}));
  ASSERT_TRUE(node.ok());
  PlacementGroupId group = PlacementGroupId::FromRandom();
  // Bundle 1 of the group, and any bundle of it: GPU: 1 each time, not 2.
  for (int64_t index : {int64_t{1}, int64_t{-1}}) {
    auto held = node->Take(BundleDemand(ResourceSet{{"GPU", 1}}, group, index));
    ASSERT_TRUE(held) << index;
    EXPECT_EQ(node->VisibleTo(*held)[0].ids.size(), 1u) << index;
  }
  EXPECT_FALSE(node->Take(ResourceSet{{"GPU", 0.5}}));
}

TEST(NodeAcceleratorsTest, ANonIntegerDemandAboveOneIsRefusedWithTheFix) {
  auto declared = CheckAcceleratorDeclarations({});
  auto node = NodeAccelerators::Make(ResourceSet{{"GPU", 4}}, *declared);
  ASSERT_TRUE(node.ok());
  EXPECT_TRUE(node->CheckDemand(ResourceSet{{"GPU", 0.5}}).ok());
  EXPECT_TRUE(node->CheckDemand(ResourceSet{{"GPU", 3}}).ok());
  EXPECT_TRUE(node->CheckDemand(ResourceSet{{"CPU", 1.5}}).ok());  // not an accelerator
  Status bad = node->CheckDemand(ResourceSet{{"GPU", 1.5}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("GPU: 1.5"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("ask for 2 or for at most 1"), std::string::npos) << bad.message();
}

TEST(NodeAcceleratorsTest, BadDeclarationsAreRefusedWithTheFix) {
  auto bad_env = CheckAcceleratorDeclarations({{"neuron_cores", "NEURON-CORES"}});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.status().message().find("'NEURON-CORES', which is not a valid name"),
            std::string::npos)
      << bad_env.status().message();
  EXPECT_FALSE(CheckAcceleratorDeclarations({{"x", "1X"}}).ok());
  EXPECT_FALSE(CheckAcceleratorDeclarations({{"x", ""}}).ok());
  EXPECT_FALSE(CheckAcceleratorDeclarations({{"", "X"}}).ok());
  auto fractional =
      NodeAccelerators::Make(ResourceSet{{"GPU", 1.5}}, *CheckAcceleratorDeclarations({}));
  ASSERT_FALSE(fractional.ok());
  EXPECT_NE(fractional.status().message().find("declare a whole number"), std::string::npos)
      << fractional.status().message();
}

}  // namespace
}  // namespace rayk
