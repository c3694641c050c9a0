// Config: the parsed plugins.toml, with command-line overrides applied.
//
// The file has one section per slot; `plugin` names the plugin for that slot
// (a name found on the plugin search path, or a path to a .so) and the table
// [<slot>.<plugin>] holds that plugin's settings:
//
//   plugin_path = ["/opt/my-plugins"]
//   [scheduler]
//   plugin = "hybrid"
//   [scheduler.hybrid]
//   spread_threshold = 0.5
//
// Besides plugin names and tables, [scheduler] takes one setting of the kernel
// itself: lease_reuse (see lease_reuse() below).
//
// Loading checks the file's shape (sections, keys, types of `plugin` and
// `plugin_path`); each plugin's own keys are checked against the settings it
// declares when the plugin is loaded (plugin_loader.h). Every error is one line
// that names the file, the line and the key, and says what to do.
// A Config is a plain value; not synchronized.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "rayk/plugin/plugin.h"
#include "rayk/status.h"

namespace rayk {

// One key of a plugin's table as written in the file, before validation.
struct RawSetting {
  SettingValue value;
  int line = 0;  // 0: from the command line
};
using RawSettingTable = std::map<std::string, RawSetting>;

struct SlotConfig {
  std::string plugin;  // a name or a path to a .so
  int line = 0;        // where `plugin` was set; 0: built in or command line
  // Settings tables by plugin name: [store.shm] is tables["shm"].
  std::map<std::string, RawSettingTable> tables;
};

class Config {
 public:
  static constexpr std::array<PluginKind, 4> kSlots = {PluginKind::kScheduler, PluginKind::kStore,
                                                       PluginKind::kTransport, PluginKind::kGcs};

  // The configuration used when there is no plugins.toml: the same as the
  // shipped plugins.toml (a test compares them).
  static Config Defaults();
  static Result<Config> LoadFile(const std::string& path);
  // `source` names the text in error messages ("plugins.toml", "<string>").
  static Result<Config> LoadString(const std::string& text, const std::string& source);
  // The file named by `path` if not empty, else the file $RAYK_CONFIG names,
  // else the install's share/rayk/plugins.toml if present, else Defaults().
  // Never a plugins.toml of the current folder.
  static Result<Config> LoadDefault(const std::string& path);
  // <prefix>/share/rayk/plugins.toml of the install this kernel belongs to.
  static std::string InstalledFile();

  // `--set store.shm.capacity=2GiB` or `--set scheduler.plugin=spread`.
  Status ApplySet(const std::string& assignment);
  // `--scheduler spread` and friends.
  void SelectPlugin(PluginKind slot, const std::string& plugin);

  // Each slot's plugin, name or path, by slot name ("scheduler" -> "hybrid"):
  // what a running cluster reports it uses (`rayk status`, the logs).
  std::map<std::string, std::string> SelectedPlugins() const;
  const SlotConfig& slot(PluginKind kind) const;
  SlotConfig& slot(PluginKind kind);
  // The settings table [<slot>.<plugin_name>] (empty if the file has none).
  const RawSettingTable& Table(PluginKind kind, const std::string& plugin_name) const;
  const std::vector<std::string>& plugin_path() const { return plugin_path_; }
  // [scheduler] lease_reuse (default true): a granted worker lease runs its
  // owner's queued tasks of the same class one after another without asking
  // the scheduler again (Ray's model). false: the owner gives the lease back
  // after one task, so the policy decides every task, at the cost of a lease
  // round trip per task (docs/scheduler-plugins.md).
  bool lease_reuse() const { return lease_reuse_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_ = "<built-in defaults>";
  std::vector<std::string> plugin_path_;
  std::map<PluginKind, SlotConfig> slots_;
  bool lease_reuse_ = true;
};

// "scheduler hybrid, store shm, transport zmq, gcs sqlite", in slot order.
std::string FormatSelectedPlugins(const std::map<std::string, std::string>& plugins);

// Parses one TOML scalar written as text ("0.5", "true", "\"x\""); bare words are strings.
Result<SettingValue> ParseSettingText(const std::string& text);

// Renders a setting value as TOML would write it.
std::string SettingValueToString(const SettingValue& value);

// The closest of `candidates` to `word` by edit distance, or "" if none is close.
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace rayk
