// Settings are checked against their SettingSpec before a plugin is created:
// non-finite numbers, negative and out-of-range values and unknown choices
// are one-line errors naming the key, the value and what is allowed; nothing
// is clamped. Plugins read settings by reference, with no defaults of their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "rayk/host/plugin_loader.h"
#include "test_util.h"

namespace rayk {
namespace {

using ::testing::HasSubstr;

// The error ValidateSettings gives for one setting of a built-in plugin.
std::string SettingError(PluginKind kind, const std::string& plugin, const std::string& key,
                         SettingValue value) {
  auto info = PluginLoader().Find(kind, plugin);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  if (!info.ok()) return "";
  auto settings = PluginLoader::ValidateSettings(*info, {{key, {value, 9}}}, "p.toml");
  EXPECT_FALSE(settings.ok()) << key << " should have been refused";
  if (settings.ok()) return "";
  EXPECT_EQ(testing::CountLines(settings.status().message()), 1) << settings.status().message();
  return settings.status().message();
}

TEST(PluginSettingsTest, NanAndInfinityAreNotNumbers) {
  std::string nan = SettingError(PluginKind::kScheduler, "hybrid", "spread_threshold",
                                 std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(
      nan, HasSubstr("p.toml:9: [scheduler.hybrid] spread_threshold = nan is not a finite number"));
  std::string inf = SettingError(PluginKind::kScheduler, "hybrid", "top_k_fraction",
                                 std::numeric_limits<double>::infinity());
  EXPECT_THAT(inf, HasSubstr("top_k_fraction = inf is not a finite number"));
}

TEST(PluginSettingsTest, OutOfRangeNamesTheRange) {
  std::string negative =
      SettingError(PluginKind::kScheduler, "hybrid", "top_k_absolute", int64_t{-3});
  EXPECT_THAT(negative,
              HasSubstr("[scheduler.hybrid] top_k_absolute = -3 is out of range; the allowed "
                        "values are from 1 to 100000"));
  std::string above = SettingError(PluginKind::kScheduler, "hybrid", "spread_threshold", 1.5);
  EXPECT_THAT(
      above,
      HasSubstr("spread_threshold = 1.5 is out of range; the allowed values are from 0 to 1"));
  std::string sockets =
      SettingError(PluginKind::kTransport, "zmq", "max_sockets", int64_t{99999999999});
  EXPECT_THAT(sockets, HasSubstr("[transport.zmq] max_sockets = 99999999999 is out of range; the "
                                 "allowed values are from 16 to 65536"));
}

TEST(PluginSettingsTest, SizesAreBoundedByTheMachine) {
  std::string capacity = SettingError(PluginKind::kStore, "shm", "capacity", std::string("100TiB"));
  EXPECT_THAT(capacity, HasSubstr("[store.shm] capacity = \"100TiB\" is out of range; the allowed "
                                  "values are from 0 to this machine's RAM + swap ("));
  std::string memory =
      SettingError(PluginKind::kStore, "memory", "capacity", std::string("100TiB"));
  EXPECT_THAT(memory, HasSubstr("RAM + swap"));
  std::string negative = SettingError(PluginKind::kStore, "memory", "capacity", int64_t{-1});
  EXPECT_THAT(negative, HasSubstr("capacity = -1 must not be negative"));
  std::string huge =
      SettingError(PluginKind::kGcs, "sqlite", "max_size", std::string("9999999TiB"));
  EXPECT_THAT(huge, HasSubstr("max_size = \"9999999TiB\" is not a size"));
}

TEST(PluginSettingsTest, ChoicesAreListed) {
  std::string order =
      SettingError(PluginKind::kScheduler, "spread", "order", std::string("random"));
  EXPECT_THAT(order,
              HasSubstr("[scheduler.spread] order = \"random\" is not one of the allowed values "
                        "\"round_robin\", \"least_loaded\""));
  std::string sync = SettingError(PluginKind::kGcs, "sqlite", "synchronous", std::string("off"));
  EXPECT_THAT(
      sync,
      HasSubstr("synchronous = \"off\" is not one of the allowed values \"full\", \"normal\""));
}

TEST(PluginSettingsTest, CreateRefusesWhatConfigCheckRefuses) {
  // Creation runs the same check: the plugin's constructor never sees the value.
  PluginLoader loader;
  auto created = loader.Create(PluginKind::kScheduler, "hybrid",
                               {{"top_k_absolute", {int64_t{-3}, 2}}}, "p.toml", {});
  ASSERT_FALSE(created.ok());
  EXPECT_THAT(created.status().message(),
              HasSubstr("p.toml:2: [scheduler.hybrid] top_k_absolute = -3 is out of range"));
}

TEST(PluginSettingsTest, ValuesAtTheBoundsAreAccepted) {
  auto info = PluginLoader().Find(PluginKind::kScheduler, "hybrid");
  ASSERT_TRUE(info.ok());
  auto settings = PluginLoader::ValidateSettings(
      *info, {{"spread_threshold", {int64_t{1}, 1}}, {"top_k_fraction", {0.0, 2}}}, "p.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_DOUBLE_EQ(settings->GetFloat("spread_threshold"), 1.0);
  EXPECT_DOUBLE_EQ(settings->GetFloat("top_k_fraction"), 0.0);
  EXPECT_EQ(settings->GetInteger("top_k_absolute"), 1);  // the spec's default
}

TEST(PluginSettingsTest, ReadingAnUndeclaredKeyThrows) {
  PluginSettings settings({{"seed", SettingValue(int64_t{4})}});
  EXPECT_EQ(settings.GetInteger("seed"), 4);
  EXPECT_THROW(settings.GetInteger("sede"), std::logic_error);
  EXPECT_THROW(settings.GetString("seed"), std::logic_error);
  try {
    settings.GetBool("prefault");
  } catch (const std::logic_error& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("'prefault', which its SettingSpec array does not declare"));
  }
}

TEST(PluginSettingsTest, AContextAlwaysHasSettings) {
  PluginContext context;
  EXPECT_TRUE(context.settings().values().empty());
}

TEST(ParseBytesTest, RefusesWhatDoesNotFit) {
  EXPECT_FALSE(ParseBytes("8EiB").ok());
  EXPECT_FALSE(ParseBytes("10000000TiB").ok());
  EXPECT_FALSE(ParseBytes("inf").ok());
  EXPECT_FALSE(ParseBytes("nan").ok());
  EXPECT_EQ(*ParseBytes("1024TiB"), int64_t{1} << 50);
}

}  // namespace
}  // namespace rayk
