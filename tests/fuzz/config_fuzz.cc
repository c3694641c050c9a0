// Fuzz target: the config loader, on a plugins.toml anyone who can write the
// file (or pass --set) controls.
//
// The input is the file's text. Config::LoadString parses it and checks its
// shape; every settings table of a config that loads is then validated
// (PluginLoader::ValidateSettings) against a settings spec with every
// setting type, bounds and a list of choices, as the loader does before it
// creates a plugin. Each line of the input is also applied as a `--set`
// override (Config::ApplySet), the other way settings arrive, and validated
// the same way. Errors are expected; crashes and sanitizer reports are not.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"

namespace {

using namespace rayk;

// One setting of each type and kind of bound, as a plugin declares them.
const SettingSpec kSettings[] = {
    {"name", SettingType::kString, "\"x\"", "any string"},
    {"mode", SettingType::kString, "\"full\"", "one of three", nullptr, nullptr, "full|normal|off"},
    {"workers", SettingType::kInteger, "4", "a bounded integer", "1", "1024"},
    {"seed", SettingType::kInteger, "0", "an unbounded integer"},
    {"threshold", SettingType::kFloat, "0.5", "a bounded float", "0", "1"},
    {"enabled", SettingType::kBool, "true", "a bool"},
    {"capacity", SettingType::kBytes, "64MiB", "a size up to this machine's memory", "1MiB",
     "memory"},
    {"chunk", SettingType::kBytes, "1MiB", "a size with a fixed bound", "1KB", "1GiB"},
};

void ValidateEveryTable(const Config& config) {
  for (PluginKind kind : Config::kSlots) {
    for (const auto& [plugin_name, table] : config.slot(kind).tables) {
      PluginInfo plugin;
      plugin.path = "/fuzz/rayk_" + std::string(PluginKindName(kind)) + "_" + plugin_name + ".so";
      plugin.kind = kind;
      plugin.name = plugin_name;
      plugin.settings.assign(std::begin(kSettings), std::end(kSettings));
      (void)PluginLoader::ValidateSettings(plugin, table, config.source());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = Config::LoadString(text, "plugins.toml");
  if (config.ok()) ValidateEveryTable(*config);

  Config overridden = Config::Defaults();
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) (void)overridden.ApplySet(line);
  ValidateEveryTable(overridden);
  return 0;
}
