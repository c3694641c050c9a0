// The plugin ABI: how a shared library offers an implementation of one slot
// (scheduler, store, transport or gcs) to the kernel.
//
// A plugin library exports exactly one PluginDescriptor under the symbol name
// "rayk_plugin" (use RAYK_PLUGIN at the bottom of the plugin's .cc). The loader
// (plugin_loader.h) checks abi_version, kind and name before it calls anything
// else, validates the plugin's TOML table against `settings`, then calls
// create(). The object create() returns is owned by the kernel, which keeps the
// library loaded for as long as that object lives.
//
// Plugins must be built with the same compiler and standard library as the
// kernel (they exchange C++ types), which find_package(rayk) and
// rayk_add_plugin() arrange.
#pragma once

#include <boost/config.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "rayk/ids.h"
#include "rayk/status.h"

// Bumped whenever a slot interface, PluginDescriptor or PluginContext changes shape: the
// abi_digest test fails until it is (tests/abi/slot_headers.sha256, scripts/update-abi-digest.sh).
// 2: ObjectStore::List. 3: ObjectStore::SharedByTheNode (a virtual before List), SettingSpec
// bounds, PluginContext::settings() and PluginContext::cluster_secret.
#define RAYK_PLUGIN_ABI_VERSION 3u

namespace rayk {

enum class PluginKind : uint32_t { kScheduler = 1, kStore = 2, kTransport = 3, kGcs = 4 };

// "scheduler", "store", "transport", "gcs"; "unknown" for any other value.
const char* PluginKindName(PluginKind kind);

// The type of one plugin setting. kBytes accepts an integer or a string with a
// unit ("64MiB", "2GiB", "512KB") and is stored as a byte count.
enum class SettingType : uint32_t { kString = 1, kInteger, kFloat, kBool, kBytes };

const char* SettingTypeName(SettingType type);

// One setting a plugin accepts in its TOML table. Plugins describe their
// settings in a static array so that `rayk config check` and
// `rayk plugins info` can validate and document them without creating the
// plugin, and so that each default lives in one place: here.
//
// The loader checks every value (the default too) against the spec before
// create() runs, so a plugin never sees a value outside it: floats are always
// finite, sizes never negative; a value out of range is an error, never clamped.
struct SettingSpec {
  const char* key;
  SettingType type;
  const char*
      default_value;  // TOML-like text: "0.5", "true", "\"/tmp\"", "64MiB"; nullptr: required
  const char* help;
  // Inclusive bounds for kInteger, kFloat and kBytes, written as a default is
  // ("1", "0.5", "1GiB"); nullptr: unbounded on that side. A kBytes max of
  // "memory" is this machine's RAM plus swap.
  const char* min = nullptr;
  const char* max = nullptr;
  // kString: the accepted values separated by '|' ("full|normal"); nullptr: any string.
  const char* choices = nullptr;
};

using SettingValue = std::variant<bool, int64_t, double, std::string>;

// The validated settings of one plugin: every key of its SettingSpec array,
// from the TOML table or from the default. Immutable once built.
class PluginSettings {
 public:
  PluginSettings() = default;
  explicit PluginSettings(std::map<std::string, SettingValue> values)
      : values_(std::move(values)) {}

  // Settings with no keys: what a context holds before the loader fills it in.
  static const PluginSettings& Empty();

  // The typed accessors take no fallback: the default lives in the
  // SettingSpec. Asking for a key the plugin did not declare (or with the
  // wrong type) throws std::logic_error, which the loader reports as the
  // plugin failing to start.
  std::string GetString(const std::string& key) const;
  int64_t GetInteger(const std::string& key) const;
  double GetFloat(const std::string& key) const;  // an integer setting reads as a double too
  bool GetBool(const std::string& key) const;
  const std::map<std::string, SettingValue>& values() const { return values_; }

 private:
  std::map<std::string, SettingValue> values_;
};

// Which process a plugin instance serves. A store plugin, for example, owns the
// node's segment in the raylet and attaches to it as a client in a worker.
enum class ProcessRole : uint32_t { kTool = 0, kGcs, kRaylet, kWorker, kDriver };

class PluginLoader;

// Everything a plugin's factory gets. Valid only during create(); copy what
// you keep.
struct PluginContext {
  ProcessRole role = ProcessRole::kTool;
  std::string session_dir;  // empty outside a cluster (tests, `rayk config check`)
  NodeId node_id;           // Nil outside a node
  std::string config_file;  // for error messages: where the settings came from
  // The cluster's shared secret, which a transport authenticates peers with
  // (whoever holds it is a member). Filled by the host; empty outside a
  // cluster. Never log it.
  std::string cluster_secret;

  // The plugin's validated settings (every key its SettingSpec array
  // declares), which the loader fills in before create().
  const PluginSettings& settings() const { return *settings_; }

 private:
  friend class PluginLoader;
  const PluginSettings* settings_ = &PluginSettings::Empty();
};

struct PluginDescriptor {
  uint32_t abi_version;  // RAYK_PLUGIN_ABI_VERSION when the plugin was built
  PluginKind kind;
  const char* name;     // "hybrid", "shm", "zmq", "sqlite"
  const char* version;  // the plugin's own version
  const char* summary;  // one line for `rayk plugins list`
  const SettingSpec* settings;
  uint32_t num_settings;
  // Returns a new object of the slot interface for `kind` (Scheduler*,
  // ObjectStore*, Transport*, GcsStore*) as void*, or nullptr on failure. It
  // may throw; the loader turns either into a clear error.
  void* (*create)(const PluginContext& context);
};

}  // namespace rayk

// Registers a plugin: one line at the bottom of the plugin's .cc.
//
//   RAYK_PLUGIN(rayk::PluginKind::kScheduler, "least_loaded", "1.0",
//               "Picks the feasible node with the most free CPU", LeastLoaded,
//               kLeastLoadedSettings);
//
// `Class` must be constructible from (const rayk::PluginContext&) and derive
// from the slot interface of `kind`. `settings_array` is a static array of
// rayk::SettingSpec (use RAYK_NO_SETTINGS when there are none).
#define RAYK_NO_SETTINGS nullptr
#define RAYK_PLUGIN(kind, name, version, summary, Class, settings_array)             \
  namespace {                                                                        \
  void* RaykPluginCreate(const ::rayk::PluginContext& ctx) {                         \
    return static_cast<typename ::rayk::SlotInterface<kind>::type*>(new Class(ctx)); \
  }                                                                                  \
  template <typename T, size_t N>                                                    \
  constexpr uint32_t RaykCount(const T (&)[N]) {                                     \
    return N;                                                                        \
  }                                                                                  \
  constexpr uint32_t RaykCount(std::nullptr_t) { return 0; }                         \
  }                                                                                  \
  extern "C" BOOST_SYMBOL_EXPORT const ::rayk::PluginDescriptor rayk_plugin;         \
  const ::rayk::PluginDescriptor rayk_plugin = {RAYK_PLUGIN_ABI_VERSION,             \
                                                kind,                                \
                                                name,                                \
                                                version,                             \
                                                summary,                             \
                                                settings_array,                      \
                                                RaykCount(settings_array),           \
                                                &RaykPluginCreate};

namespace rayk {
class Scheduler;
class ObjectStore;
class Transport;
class GcsStore;
// Maps a PluginKind to its slot interface type.
template <PluginKind K>
struct SlotInterface;
template <>
struct SlotInterface<PluginKind::kScheduler> {
  using type = Scheduler;
};
template <>
struct SlotInterface<PluginKind::kStore> {
  using type = ObjectStore;
};
template <>
struct SlotInterface<PluginKind::kTransport> {
  using type = Transport;
};
template <>
struct SlotInterface<PluginKind::kGcs> {
  using type = GcsStore;
};
}  // namespace rayk
