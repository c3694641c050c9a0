#include "rayk/host/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/file_trust.h"
#include "rayk/plugin/gcs_store.h"
#include "rayk/plugin/object_store.h"
#include "rayk/plugin/scheduler.h"
#include "rayk/plugin/transport.h"

namespace rayk {

namespace fs = std::filesystem;

namespace {

constexpr char kDescriptorSymbol[] = "rayk_plugin";

std::string FileName(PluginKind kind, const std::string& name) {
  return std::string("rayk_") + PluginKindName(kind) + "_" + name + ".so";
}

bool IsPath(const std::string& name_or_path) {
  return name_or_path.find('/') != std::string::npos ||
         (name_or_path.size() > 3 && name_or_path.ends_with(".so"));
}

// Loading a library runs its constructors: common/file_trust.h says which
// files rayk trusts, and a folder others could swap the file in is refused too.
Status CheckTrusted(const fs::path& file, const char* what) {
  return CheckTrustedFile(file, std::string("plugin ") + what,
                          "install the plugin in a folder of the plugin path");
}

// Opens `path` and checks that it is a rayk plugin built for this ABI. The
// file is vetted before dlopen, as dlopen runs the library's constructors.
Result<PluginInfo> Inspect(const fs::path& given) {
  std::error_code ec;
  fs::path path = fs::canonical(given, ec);
  if (ec) {
    return Status::NotFound("plugin file " + given.string() +
                            " cannot be resolved: " + ec.message());
  }
  RAYK_RETURN_IF_ERROR(CheckTrusted(path.parent_path(), "folder"));
  RAYK_RETURN_IF_ERROR(CheckTrusted(path, "file"));
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // RTLD_NODELETE: objects a plugin made (a store's pinned buffers, say)
    // may outlive every handle to it; their code must stay mapped.
    library->load(path,
                  static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
  } catch (const std::exception& error) {
    return Status::InvalidArgument(
        "plugin file " + path.string() + " cannot be loaded as a shared library (" + error.what() +
        "); point the config at a rayk plugin .so built with rayk_add_plugin()");
  }
  if (!library->has(kDescriptorSymbol)) {
    return Status::InvalidArgument("plugin file " + path.string() +
                                   " is a shared library but not a rayk plugin (it exports no '" +
                                   kDescriptorSymbol +
                                   "' descriptor); build it with rayk_add_plugin() "
                                   "and end its .cc with RAYK_PLUGIN(...)");
  }
  const auto& descriptor = library->get<const PluginDescriptor>(kDescriptorSymbol);
  if (descriptor.abi_version != RAYK_PLUGIN_ABI_VERSION) {
    return Status::InvalidArgument(
        "plugin file " + path.string() + " was built for plugin ABI version " +
        std::to_string(descriptor.abi_version) + " but this rayk expects " +
        std::to_string(RAYK_PLUGIN_ABI_VERSION) +
        "; rebuild the plugin against this rayk's headers");
  }
  if (std::string(PluginKindName(descriptor.kind)) == "unknown" || descriptor.name == nullptr ||
      descriptor.create == nullptr) {
    return Status::InvalidArgument(
        "plugin file " + path.string() +
        " has a malformed descriptor (unknown kind, no name or no create "
        "function); declare it with RAYK_PLUGIN(...)");
  }
  PluginInfo info;
  info.path = given.string();  // as the config or the search path named it
  info.kind = descriptor.kind;
  info.name = descriptor.name;
  info.version = descriptor.version ? descriptor.version : "";
  info.summary = descriptor.summary ? descriptor.summary : "";
  if (descriptor.settings != nullptr) {
    info.settings.assign(descriptor.settings, descriptor.settings + descriptor.num_settings);
  }
  info.library = library;
  return info;
}

void DestroySlotObject(PluginKind kind, void* object) {
  switch (kind) {
    case PluginKind::kScheduler:
      delete static_cast<Scheduler*>(object);
      break;
    case PluginKind::kStore:
      delete static_cast<ObjectStore*>(object);
      break;
    case PluginKind::kTransport:
      delete static_cast<Transport*>(object);
      break;
    case PluginKind::kGcs:
      delete static_cast<GcsStore*>(object);
      break;
  }
}

std::string Place(const std::string& source, int line) {
  return line > 0 ? source + ":" + std::to_string(line) : source + " (command line)";
}

}  // namespace

PluginLoader::PluginLoader(const std::vector<std::string>& config_path) {
  if (const char* env = std::getenv("RAYK_PLUGIN_PATH")) {
    std::stringstream split(env);
    // Relative folders would depend on the current folder: they are skipped.
    for (std::string dir; std::getline(split, dir, ':');) {
      if (fs::path(dir).is_absolute()) search_path_.push_back(dir);
    }
  }
  search_path_.insert(search_path_.end(), config_path.begin(), config_path.end());
  // The kernel library sits in <prefix>/lib (or <build>/lib); plugins beside it.
  boost::dll::fs::error_code ec;
  fs::path kernel = boost::dll::this_line_location(ec);
  if (!ec) search_path_.push_back((kernel.parent_path() / "rayk" / "plugins").string());
  search_path_.push_back(RAYK_INSTALL_PLUGIN_DIR);
}

std::vector<PluginInfo> PluginLoader::List(std::vector<std::string>* errors) const {
  std::vector<PluginInfo> found;
  std::set<std::pair<PluginKind, std::string>> seen;
  std::set<std::string> seen_dirs;
  for (const std::string& dir : search_path_) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(dir, ec);
    if (ec || !seen_dirs.insert(canonical.string()).second || !fs::is_directory(canonical, ec))
      continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(canonical, ec)) {
      std::string file = entry.path().filename().string();
      if (file.starts_with("rayk_") && file.ends_with(".so")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      auto info = Inspect(file);
      if (!info.ok()) {
        if (errors) errors->push_back(info.status().message());
        continue;
      }
      if (seen.insert({info->kind, info->name}).second) found.push_back(std::move(*info));
    }
  }
  return found;
}

Result<PluginInfo> PluginLoader::InspectFile(const std::string& path, const std::string& slot) {
  // A relative path would load whatever the current folder holds.
  if (!fs::path(path).is_absolute()) {
    return Status::InvalidArgument(
        (slot.empty() ? "plugin file" : "[" + slot + "] plugin =") + " \"" + path +
        "\" is a relative path; name an installed plugin (rayk plugins list), or give the "
        "absolute path of its .so, or add its folder to plugin_path and use its name");
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Status::NotFound("plugin file " + path + (slot.empty() ? "" : " for [" + slot + "]") +
                            " does not exist; fix the path or name an installed plugin (rayk "
                            "plugins list)");
  }
  return Inspect(path);
}

Result<PluginInfo> PluginLoader::Find(PluginKind kind, const std::string& name_or_path) const {
  const std::string slot = PluginKindName(kind);
  std::optional<PluginInfo> info;
  if (IsPath(name_or_path)) {
    auto inspected = InspectFile(name_or_path, slot);
    if (!inspected.ok()) return inspected.status();
    info = std::move(*inspected);
  } else {
    const std::string file = FileName(kind, name_or_path);
    for (const std::string& dir : search_path_) {
      std::error_code ec;
      fs::path candidate = fs::path(dir) / file;
      if (!fs::exists(candidate, ec)) continue;
      auto inspected = Inspect(candidate);
      if (!inspected.ok()) return inspected.status();
      info = std::move(*inspected);
      break;
    }
    if (!info) {
      std::vector<std::string> names;
      std::string available;
      for (const PluginInfo& other : List()) {
        if (other.kind != kind) continue;
        names.push_back(other.name);
        available += (available.empty() ? "" : ", ") + other.name;
      }
      std::string nearest = NearestName(name_or_path, names);
      return Status::NotFound("no " + slot + " plugin named '" + name_or_path + "' (looked for " +
                              file + " in the plugin path); " +
                              (nearest.empty() ? "" : "did you mean '" + nearest + "'? ") +
                              "available: " + (available.empty() ? "none" : available) +
                              " (add folders with plugin_path or RAYK_PLUGIN_PATH)");
    }
    if (info->name != name_or_path) {
      return Status::InvalidArgument("plugin file " + info->path + " declares the name '" +
                                     info->name + "' but was found as '" + name_or_path +
                                     "'; rename the file to " + FileName(info->kind, info->name));
    }
  }
  if (info->kind != kind) {
    return Status::InvalidArgument("plugin file " + info->path + " is a " +
                                   PluginKindName(info->kind) + " plugin ('" + info->name +
                                   "'), but [" + slot + "] needs a " + slot +
                                   " plugin; choose one from 'rayk plugins list'");
  }
  return std::move(*info);
}

Result<std::shared_ptr<void>> PluginLoader::Create(PluginKind kind, const std::string& name_or_path,
                                                   const RawSettingTable& table,
                                                   const std::string& source,
                                                   PluginContext context) const {
  auto info = Find(kind, name_or_path);
  if (!info.ok()) return info.status();
  auto settings = ValidateSettings(*info, table, source);
  if (!settings.ok()) return settings.status();
  context.settings_ = &*settings;
  if (context.config_file.empty()) context.config_file = source;
  auto library = std::static_pointer_cast<boost::dll::shared_library>(info->library);
  const auto& descriptor = library->get<const PluginDescriptor>(kDescriptorSymbol);
  void* object = nullptr;
  try {
    object = descriptor.create(context);
  } catch (const std::exception& error) {
    return Status::InvalidArgument(std::string(PluginKindName(kind)) + " plugin '" + info->name +
                                   "' (" + info->path + ") failed to start: " + error.what());
  } catch (...) {
    return Status::InvalidArgument(std::string(PluginKindName(kind)) + " plugin '" + info->name +
                                   "' (" + info->path +
                                   ") failed to start with an unknown exception");
  }
  if (object == nullptr) {
    return Status::InvalidArgument(std::string(PluginKindName(kind)) + " plugin '" + info->name +
                                   "' (" + info->path + ") created nothing; see its log for why");
  }
  // The deleter owns the library: the object's code is unloaded only after
  // the object is gone.
  return std::shared_ptr<void>(object, [kind, library](void* p) { DestroySlotObject(kind, p); });
}

Result<std::shared_ptr<void>> PluginLoader::CreateFromConfig(PluginKind kind, const Config& config,
                                                             PluginContext context) const {
  const SlotConfig& slot = config.slot(kind);
  auto info = Find(kind, slot.plugin);
  if (!info.ok()) {
    if (slot.line > 0)
      return Status(info.status().code(),
                    Place(config.source(), slot.line) + ": " + info.status().message());
    return info.status();
  }
  context.config_file = config.source();
  return Create(kind, info->path, config.Table(kind, info->name), config.source(),
                std::move(context));
}

}  // namespace rayk
