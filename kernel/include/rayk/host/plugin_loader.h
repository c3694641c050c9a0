// PluginLoader: finds plugin libraries, checks them, and creates slot objects.
//
// Search order for a plugin named NAME of kind KIND (file rayk_KIND_NAME.so):
//   1. the absolute folders in $RAYK_PLUGIN_PATH (colon-separated; relative
//      ones are skipped, as they would depend on the current folder),
//   2. the config's plugin_path,
//   3. lib/rayk/plugins beside the kernel library (the install, and the build
//      tree, which has the same layout),
//   4. the install prefix rayk was configured with.
// A `plugin` value containing a '/' or ending in ".so" is a path; it must be
// absolute (a relative one is an error).
//
// Before anything in a library runs (dlopen runs its constructors), the
// loader checks that the file and its folder are owned by root or the
// current user and not writable by group or others. Then it checks (in this
// order) that it is a shared library, that it exports a rayk descriptor, its ABI version,
// its kind and its name; each mismatch is a one-line error naming the file,
// what was found and what was expected. The objects it creates hold a
// reference to their library, so the library stays loaded as long as any of
// them lives. Thread-safe: every method may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "rayk/host/config.h"
#include "rayk/plugin/plugin.h"
#include "rayk/status.h"

namespace rayk {

class GcsStore;
class ObjectStore;
class Scheduler;
class Transport;

// What `rayk plugins list/info` shows of one plugin library.
struct PluginInfo {
  std::string path;
  PluginKind kind;
  std::string name;
  std::string version;
  std::string summary;
  std::vector<SettingSpec>
      settings;  // its strings live in the library, which `library` keeps loaded
  std::shared_ptr<void> library;
};

class PluginLoader {
 public:
  // Uses $RAYK_PLUGIN_PATH, `config_path` and the built-in folders, in that order.
  explicit PluginLoader(const std::vector<std::string>& config_path = {});

  const std::vector<std::string>& search_path() const { return search_path_; }

  // Every rayk plugin library on the search path (the first one of each
  // kind and name wins); libraries that fail the checks go to `errors`.
  std::vector<PluginInfo> List(std::vector<std::string>* errors = nullptr) const;

  // Checks (but does not create) the plugin library at `path`, of whatever
  // kind it declares. `slot` names the slot asking, for errors ("[scheduler]");
  // empty when any kind will do.
  static Result<PluginInfo> InspectFile(const std::string& path, const std::string& slot = "");

  // Finds and checks (but does not create) the plugin for `kind` named by
  // `name_or_path`.
  Result<PluginInfo> Find(PluginKind kind, const std::string& name_or_path) const;

  // Checks `table` against the plugin's declared settings: unknown keys (with
  // the nearest valid one), wrong types, bad values, missing required keys.
  // `source` and the lines in `table` place errors in the file.
  static Result<PluginSettings> ValidateSettings(const PluginInfo& plugin,
                                                 const RawSettingTable& table,
                                                 const std::string& source);

  // Finds, checks, validates the settings and creates the plugin for `kind`.
  // The loader fills in `context.settings()`.
  Result<std::shared_ptr<void>> Create(PluginKind kind, const std::string& name_or_path,
                                       const RawSettingTable& table, const std::string& source,
                                       PluginContext context) const;

  // The plugin the config selects for `kind`, created with the settings of
  // its table ([<slot>.<plugin name>], also when the plugin is named by path).
  Result<std::shared_ptr<void>> CreateFromConfig(PluginKind kind, const Config& config,
                                                 PluginContext context) const;

  // The same, typed: CreateSlot<Scheduler>(config, context).
  template <typename T>
  Result<std::shared_ptr<T>> CreateSlot(const Config& config, PluginContext context) const;

 private:
  std::vector<std::string> search_path_;
};

// Parses "64MiB", "2GiB", "512KB", "1000" into bytes.
Result<int64_t> ParseBytes(const std::string& text);

template <typename T>
struct SlotKindOf;
template <>
struct SlotKindOf<Scheduler> {
  static constexpr PluginKind value = PluginKind::kScheduler;
};
template <>
struct SlotKindOf<ObjectStore> {
  static constexpr PluginKind value = PluginKind::kStore;
};
template <>
struct SlotKindOf<Transport> {
  static constexpr PluginKind value = PluginKind::kTransport;
};
template <>
struct SlotKindOf<GcsStore> {
  static constexpr PluginKind value = PluginKind::kGcs;
};

template <typename T>
Result<std::shared_ptr<T>> PluginLoader::CreateSlot(const Config& config,
                                                    PluginContext context) const {
  auto created = CreateFromConfig(SlotKindOf<T>::value, config, std::move(context));
  if (!created.ok()) return created.status();
  // The void pointer came from create() as a T*; the aliasing constructor keeps
  // the deleter (which owns the library) attached.
  return std::shared_ptr<T>(*created, static_cast<T*>(created->get()));
}

}  // namespace rayk
