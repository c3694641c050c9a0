// Accelerator devices end to end (rayk/accelerators.h) on an embedded node
// that declares GPU: 2 (no real GPU is needed): which device ids a lease's
// worker is given, in CUDA_VISIBLE_DEVICES and rayk::GetGpuIds(); shares of
// one device; an actor keeping its device; a device given back and reused;
// an accelerator a node declares itself; and the errors for bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster_fixture.h"
#include "functions/accelerator_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using namespace accelerator_functions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kPatience;

class AcceleratorsTest : public testing::ClusterTest {
 protected:
  void Customize(InitOptions& options) override {
    options.num_cpus = 4;
    options.resources = {{"GPU", 2}};
  }
  // A task asking for `gpus` that holds its lease until Release(key).
  ObjectRef<DevicesSeen> Held(double gpus, const std::string& key) {
    auto task = rayk::Task(DevicesWhenReleased);
    if (gpus > 0) task.SetResource("GPU", gpus);
    return task.Remote(std::string("GPU"), std::string("CUDA_VISIBLE_DEVICES"), key);
  }
  // Waits until `n` tasks behind `key` run (each holds its lease), bounded.
  void AwaitStarted(const std::string& key, size_t n) {
    for (int i = 0; i < 1200 && rayk::KvList(key + "/started/", "tests").size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(rayk::KvList(key + "/started/", "tests").size(), n) << "tasks behind " << key;
  }
  void Release(const std::string& key) { rayk::KvPut(key, "open", "tests"); }
};

TEST_F(AcceleratorsTest, TwoWholeGpuTasksAtOnceGetDifferentDevices) {
  auto a = Held(1, "whole");
  auto b = Held(1, "whole");
  AwaitStarted("whole", 2);
  Release("whole");
  DevicesSeen first = *rayk::Get(a, kPatience);
  DevicesSeen second = *rayk::Get(b, kPatience);
  ASSERT_EQ(first.ids.size(), 1u);
  ASSERT_EQ(second.ids.size(), 1u);
  EXPECT_EQ((std::set<int>{first.ids[0], second.ids[0]}), (std::set<int>{0, 1}));
  EXPECT_TRUE(first.env_set);
  EXPECT_EQ(first.env, std::to_string(first.ids[0]));
  EXPECT_EQ(second.env, std::to_string(second.ids[0]));
}

TEST_F(AcceleratorsTest, HalfGpuTasksShareOneDevice) {
  auto a = Held(0.5, "halves");
  auto b = Held(0.5, "halves");
  auto whole = Held(1, "halves");  // fits beside them only on the other device
  AwaitStarted("halves", 3);
  Release("halves");
  DevicesSeen first = *rayk::Get(a, kPatience);
  DevicesSeen second = *rayk::Get(b, kPatience);
  DevicesSeen third = *rayk::Get(whole, kPatience);
  ASSERT_EQ(first.ids.size(), 1u);
  EXPECT_EQ(first.ids, second.ids);
  EXPECT_EQ(first.env, second.env);
  ASSERT_EQ(third.ids.size(), 1u);
  EXPECT_NE(third.ids, first.ids);
}

TEST_F(AcceleratorsTest, AGpuActorKeepsItsDeviceAcrossCalls) {
  auto actor = rayk::Actor(DeviceHolder::Create).SetResource("GPU", 1).Remote();
  auto seen = [&] {
    return *rayk::Get(actor.Task(&DeviceHolder::Seen)
                          .Remote(std::string("GPU"), std::string("CUDA_VISIBLE_DEVICES")),
                      kPatience);
  };
  DevicesSeen first = seen();
  ASSERT_EQ(first.ids.size(), 1u);
  EXPECT_EQ(first.env, std::to_string(first.ids[0]));
  // A task meanwhile gets the other device, and the actor's stays its own.
  DevicesSeen task = *rayk::Get(Held(1, ""), kPatience);
  ASSERT_EQ(task.ids.size(), 1u);
  EXPECT_NE(task.ids, first.ids);
  for (int i = 0; i < 3; ++i) {
    DevicesSeen again = seen();
    EXPECT_EQ(again.ids, first.ids);
    EXPECT_EQ(again.env, first.env);
  }
}

TEST_F(AcceleratorsTest, ATaskWithoutGpusSeesNoDevice) {
  // Run on the workers a GPU task used first: the variable is reset, as Ray
  // sets CUDA_VISIBLE_DEVICES to "" for a task given no GPU.
  DevicesSeen gpu = *rayk::Get(Held(1, ""), kPatience);
  ASSERT_EQ(gpu.ids.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    DevicesSeen none = *rayk::Get(Held(0, ""), kPatience);
    EXPECT_TRUE(none.env_set);
    EXPECT_EQ(none.env, "");
    EXPECT_TRUE(none.ids.empty());
  }
  EXPECT_TRUE(rayk::GetGpuIds().empty());  // the driver holds none
}

TEST_F(AcceleratorsTest, ReleasedDevicesAreReused) {
  auto a = Held(1, "first");
  auto b = Held(1, "first");
  AwaitStarted("first", 2);
  // Both devices are held: a third task waits for one of them.
  auto waiting = Held(1, "second");
  Release("first");
  rayk::Get(a, kPatience);
  rayk::Get(b, kPatience);
  Release("second");
  EXPECT_THAT(rayk::Get(waiting, kPatience)->ids, ::testing::AnyOf(ElementsAre(0), ElementsAre(1)));
  // Everything went back: one task can take both devices.
  DevicesSeen both = *rayk::Get(Held(2, ""), kPatience);
  EXPECT_THAT(both.ids, ElementsAre(0, 1));
  EXPECT_EQ(both.env, "0,1");
}

// `rayk status` shows which devices of each node leases hold, in text and JSON.
TEST_F(AcceleratorsTest, StatusShowsTheDevicesInUse) {
  auto whole = Held(1, "status");
  auto half = Held(0.5, "status");
  AwaitStarted("status", 2);
  const std::string address =
      ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto json = testing::RunRayk("status --format json --address " + address);
  auto text = testing::RunRayk("status --address " + address);
  Release("status");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json gpu = nlohmann::json::parse(json.output)["nodes"][0]["accelerators"]["GPU"];
  EXPECT_EQ(gpu["devices"], 2);
  EXPECT_EQ(gpu["in_use"], nlohmann::json::array({0, 1}));
  std::vector<double> used = gpu["used"].get<std::vector<double>>();
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, (std::vector<double>{0.5, 1}));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("Accelerator devices (ids in use per node)"));
  EXPECT_THAT(text.output, HasSubstr(" GPU: "));
  EXPECT_THAT(text.output, HasSubstr("(0.5 used)"));
  EXPECT_THAT(text.output, HasSubstr("of 2 devices in use"));
  rayk::Get(whole, kPatience);
  rayk::Get(half, kPatience);
  // Given back: none in use.
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto after = testing::RunRayk("status --address " + address);
        return after.output.find("GPU: none of 2 devices in use") != std::string::npos;
      },
      kPatience));
}

// GPU: 1.5 is neither a share of one device nor whole devices: refused at
// SetResource, on a task and on an actor, in one line naming the fix.
TEST_F(AcceleratorsTest, ANonIntegerGpuDemandAboveOneIsRefusedAtTheCall) {
  auto expect_refused = [](const std::function<void()>& call, const std::string& caller,
                           const std::string& amount = "1.5", const std::string& fix = "2") {
    try {
      call();
      ADD_FAILURE() << caller << " took GPU: " << amount;
    } catch (const RuntimeError& error) {
      const std::string message = error.what();
      EXPECT_THAT(message, HasSubstr(caller + ": GPU: " + amount + " cannot be granted"));
      EXPECT_THAT(message, HasSubstr("ask for " + fix + " or for at most 1"));
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  };
  expect_refused([] { rayk::Task(DevicesWhenReleased).SetResource("GPU", 1.5); },
                 "rayk::Task(DevicesWhenReleased)");
  expect_refused(
      [] {
        rayk::Task(DevicesWhenReleased).SetResources({{"GPU", 2.25}});
      },
      "rayk::Task(DevicesWhenReleased)", "2.25", "3");
  expect_refused([] { rayk::Actor(DeviceHolder::Create).SetResource("GPU", 1.5); },
                 "rayk::Actor(DeviceHolder::Create)");
  // Shares of one device and whole devices are taken.
  EXPECT_NO_THROW(rayk::Task(DevicesWhenReleased).SetResource("GPU", 0.25).SetResource("GPU", 2));
}

TEST_F(AcceleratorsTest, WorkInAPlacementGroupBundleGetsItsDevices) {
  auto group = rayk::CreatePlacementGroup({.bundles = {{{"CPU", 1}, {"GPU", 1}}}});
  ASSERT_TRUE(group.Wait(kPatience));
  auto in_bundle =
      rayk::Task(DevicesWhenReleased)
          .SetResource("GPU", 1)
          .SetPlacementGroup(group, 0)
          .Remote(std::string("GPU"), std::string("CUDA_VISIBLE_DEVICES"), std::string("bundle"));
  AwaitStarted("bundle", 1);
  // The other device is still free for work outside the group.
  DevicesSeen outside = *rayk::Get(Held(1, ""), kPatience);
  Release("bundle");
  DevicesSeen inside = *rayk::Get(in_bundle, kPatience);
  ASSERT_EQ(inside.ids.size(), 1u);
  ASSERT_EQ(outside.ids.size(), 1u);
  EXPECT_NE(inside.ids, outside.ids);
  EXPECT_EQ(inside.env, std::to_string(inside.ids[0]));
  rayk::RemovePlacementGroup(group);
}

class DeclaredAcceleratorTest : public testing::ClusterTest {
 protected:
  void Customize(InitOptions& options) override {
    options.resources = {{"neuron_cores", 2}};
    options.accelerators = {{"neuron_cores", "NEURON_RT_VISIBLE_CORES"}};
  }
};

TEST_F(DeclaredAcceleratorTest, ItsDevicesGoInItsVariable) {
  DevicesSeen seen = *rayk::Get(rayk::Task(DevicesWhenReleased)
                                    .SetResource("neuron_cores", 2)
                                    .Remote(std::string("neuron_cores"),
                                            std::string("NEURON_RT_VISIBLE_CORES"), std::string()),
                                kPatience);
  EXPECT_THAT(seen.ids, ElementsAre(0, 1));
  EXPECT_EQ(seen.env, "0,1");
}

// A declared accelerator is checked by the raylet (the caller does not know
// which resources a node declares): the task fails with the fix.
TEST_F(DeclaredAcceleratorTest, ANonIntegerDemandAboveOneFailsWithTheFix) {
  auto ref = rayk::Task(DevicesWhenReleased)
                 .SetResource("neuron_cores", 1.5)
                 .Remote(std::string("neuron_cores"), std::string("NEURON_RT_VISIBLE_CORES"),
                         std::string());
  try {
    rayk::Get(ref, kPatience);
    FAIL() << "a neuron_cores: 1.5 task ran";
  } catch (const RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("neuron_cores: 1.5 cannot be granted"));
    EXPECT_THAT(error.what(), HasSubstr("ask for 2 or for at most 1"));
  }
}

// Bad declarations fail before anything starts.
class AcceleratorDeclarationTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("RAYK_SESSION_ROOT", session_root_.path().c_str(), 1); }
  std::string InitError(const InitOptions& options) {
    try {
      rayk::Init(options);
      rayk::Shutdown();
    } catch (const RuntimeError& error) {
      return error.what();
    }
    return "";
  }
  testing::TempDir session_root_;
};

TEST_F(AcceleratorDeclarationTest, ABadVariableNameIsRefused) {
  InitOptions options;
  options.accelerators = {{"neuron_cores", "NEURON-CORES"}};
  EXPECT_THAT(InitError(options), HasSubstr("'NEURON-CORES', which is not a valid name"));
  auto cli = testing::RunRayk("start --head --accelerators '{\"neuron_cores\": \"1X\"}'");
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_THAT(cli.output, HasSubstr("--accelerators: accelerator 'neuron_cores'"));
  EXPECT_EQ(testing::CountLines(cli.output), 1) << cli.output;
}

TEST_F(AcceleratorDeclarationTest, AFractionOfADeviceOnANodeIsRefused) {
  InitOptions options;
  options.resources = {{"GPU", 1.5}};
  EXPECT_THAT(InitError(options), HasSubstr("declare a whole number"));
  auto cli = testing::RunRayk("start --head --resources '{\"GPU\": 0.5}'");
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_THAT(cli.output, HasSubstr("declare a whole number"));
  EXPECT_EQ(testing::CountLines(cli.output), 1) << cli.output;
  auto dev = testing::RunRayk(
      "dev up --nodes 2 --resources-per-node '[{}, {\"TPU\": 0.5}]' "
      "--accelerators '{\"TPU\": \"TPU_VISIBLE_CHIPS\"}'");
  EXPECT_NE(dev.exit_code, 0);
  EXPECT_THAT(dev.output, HasSubstr("--resources-per-node: the node declares TPU: 0.5"));
  EXPECT_EQ(testing::CountLines(dev.output), 1) << dev.output;
}

}  // namespace
}  // namespace rayk
