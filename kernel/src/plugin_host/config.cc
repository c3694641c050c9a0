#include "rayk/host/config.h"

#include <toml++/toml.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rayk {

namespace {

std::string At(const std::string& source, int line) {
  return line > 0 ? source + ":" + std::to_string(line) : source;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates,
                       const std::string& fallback) {
  std::string nearest = NearestName(word, candidates);
  return nearest.empty() ? fallback : "did you mean '" + nearest + "'?";
}

std::vector<std::string> SlotNames() {
  std::vector<std::string> names;
  for (PluginKind kind : Config::kSlots) names.push_back(PluginKindName(kind));
  return names;
}

// Converts one TOML scalar; nullopt for arrays, tables and dates.
std::optional<SettingValue> ToSettingValue(const toml::node& node) {
  if (auto v = node.as_boolean()) return SettingValue(v->get());
  if (auto v = node.as_integer()) return SettingValue(static_cast<int64_t>(v->get()));
  if (auto v = node.as_floating_point()) return SettingValue(v->get());
  if (auto v = node.as_string()) return SettingValue(v->get());
  return std::nullopt;
}

const char* TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "bool";
    default:
      return "date/time";
  }
}

// `lease_reuse` is set from [scheduler] lease_reuse; null for other slots.
Status ParseSlot(const std::string& source, PluginKind kind, const toml::table& table,
                 SlotConfig* slot, bool* lease_reuse) {
  const std::string section = PluginKindName(kind);
  for (const auto& [key_view, node] : table) {
    const std::string key(key_view.str());
    const int line = static_cast<int>(node.source().begin.line);
    if (key == "plugin") {
      const auto* name = node.as_string();
      if (!name || name->get().empty()) {
        return Status::InvalidArgument(At(source, line) + ": [" + section +
                                       "] plugin must be a non-empty string naming a plugin, as in "
                                       "plugin = \"hybrid\" (found " +
                                       TomlTypeName(node) + ")");
      }
      slot->plugin = name->get();
      slot->line = line;
      continue;
    }
    if (lease_reuse != nullptr && key == "lease_reuse") {
      const auto* value = node.as_boolean();
      if (!value) {
        return Status::InvalidArgument(At(source, line) +
                                       ": [scheduler] lease_reuse must be true or false (found " +
                                       TomlTypeName(node) + ")");
      }
      *lease_reuse = value->get();
      continue;
    }
    const auto* settings = node.as_table();
    if (!settings) {
      std::vector<std::string> keys = {"plugin"};
      if (lease_reuse != nullptr) keys.push_back("lease_reuse");
      return Status::InvalidArgument(
          At(source, line) + ": unknown key '" + key + "' in [" + section + "]; " +
          DidYouMean(key, keys,
                     "a slot section holds only 'plugin'" +
                         std::string(lease_reuse != nullptr ? ", 'lease_reuse'" : "") + " and [" +
                         section + ".<plugin>] tables"));
    }
    RawSettingTable& raw = slot->tables[key];
    for (const auto& [setting_key, value_node] : *settings) {
      const int value_line = static_cast<int>(value_node.source().begin.line);
      auto value = ToSettingValue(value_node);
      if (!value) {
        return Status::InvalidArgument(At(source, value_line) + ": [" + section + "." + key + "] " +
                                       std::string(setting_key.str()) + " is a " +
                                       TomlTypeName(value_node) +
                                       "; plugin settings are strings, numbers or booleans");
      }
      raw[std::string(setting_key.str())] = RawSetting{*value, value_line};
    }
  }
  return Status::Ok();
}

}  // namespace

std::string NearestName(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    size_t d = distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string SettingValueToString(const SettingValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          std::string quoted = "\"";
          for (char c : v) {
            if (c == '"' || c == '\\') quoted += '\\';
            quoted += c;
          }
          return quoted + "\"";
        } else {
          std::ostringstream out;
          out << v;
          return out.str();
        }
      },
      value);
}

Result<SettingValue> ParseSettingText(const std::string& text) {
  try {
    toml::table parsed = toml::parse("v = " + text);
    if (auto value = ToSettingValue(*parsed.get("v"))) return *value;
  } catch (const toml::parse_error&) {
  }
  // Bare words on the command line (--set store.shm.spill_dir=/tmp/x) are strings.
  return SettingValue(text);
}

Config Config::Defaults() {
  Config config;
  config.slots_[PluginKind::kScheduler].plugin = "hybrid";
  config.slots_[PluginKind::kStore].plugin =
      "shm";  // as plugins.toml: drivers without one still share the node's store
  config.slots_[PluginKind::kTransport].plugin = "asio";
  // As plugins.toml: a GCS restarted by its supervisor keeps its tables.
  config.slots_[PluginKind::kGcs].plugin = "sqlite";
  return config;
}

Result<Config> Config::LoadFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("config file " + path +
                            " does not exist; pass an existing plugins.toml (the repository's "
                            "plugins.toml is a complete example)");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("config file " + path +
                                   " is a folder; pass the plugins.toml file inside it");
  }
  std::ifstream in(path);
  if (!in) {
    return Status::IoError("config file " + path +
                           " cannot be read; check its permissions (chmod a+r " + path + ")");
  }
  std::stringstream text;
  text << in.rdbuf();
  return LoadString(text.str(), path);
}

Result<Config> Config::LoadString(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    return Status::InvalidArgument(At(source, static_cast<int>(error.source().begin.line)) +
                                   ": TOML syntax error: " + std::string(error.description()) +
                                   "; fix the line (see the repository's plugins.toml)");
  }
  Config config = Defaults();
  config.source_ = source;
  for (const auto& [key_view, node] : root) {
    const std::string key(key_view.str());
    const int line = static_cast<int>(node.source().begin.line);
    if (key == "plugin_path") {
      const auto* list = node.as_array();
      bool all_strings = list != nullptr;
      if (list) {
        for (const auto& entry : *list) all_strings = all_strings && entry.is_string();
      }
      if (!all_strings) {
        return Status::InvalidArgument(At(source, line) +
                                       ": plugin_path must be an array of folder names, as in "
                                       "plugin_path = [\"/opt/rayk-plugins\"]");
      }
      for (const auto& entry : *list) {
        const std::string& dir = entry.as_string()->get();
        if (!std::filesystem::path(dir).is_absolute()) {
          return Status::InvalidArgument(
              At(source, line) + ": plugin_path entry \"" + dir +
              "\" is a relative folder; write its absolute path (a relative one would load "
              "plugins from wherever rayk is run)");
        }
        config.plugin_path_.push_back(dir);
      }
      continue;
    }
    std::optional<PluginKind> kind;
    for (PluginKind slot : kSlots) {
      if (key == PluginKindName(slot)) kind = slot;
    }
    if (!kind) {
      std::vector<std::string> known = SlotNames();
      known.push_back("plugin_path");
      return Status::InvalidArgument(
          At(source, line) + ": unknown section [" + key + "]; " +
          DidYouMean(key, known, "the sections are [scheduler], [store], [transport] and [gcs]"));
    }
    const auto* table = node.as_table();
    if (!table) {
      return Status::InvalidArgument(At(source, line) + ": " + key + " must be a section ([" + key +
                                     "] with plugin = \"...\"), not a " + TomlTypeName(node));
    }
    RAYK_RETURN_IF_ERROR(
        ParseSlot(source, *kind, *table, &config.slots_[*kind],
                  *kind == PluginKind::kScheduler ? &config.lease_reuse_ : nullptr));
  }
  return config;
}

std::string Config::InstalledFile() {
  // The kernel library sits in <prefix>/lib; the file in <prefix>/share/rayk.
  boost::dll::fs::error_code ec;
  std::filesystem::path kernel = boost::dll::this_line_location(ec);
  if (ec) return "";
  return (kernel.parent_path().parent_path() / "share" / "rayk" / "plugins.toml").string();
}

Result<Config> Config::LoadDefault(const std::string& path) {
  // Never ./plugins.toml: a file in whatever folder rayk runs from could name
  // any library to load.
  if (!path.empty()) return LoadFile(path);
  if (const char* env = std::getenv("RAYK_CONFIG"); env != nullptr && *env != '\0') {
    return LoadFile(env);
  }
  std::string installed = InstalledFile();
  std::error_code ec;
  if (!installed.empty() && std::filesystem::is_regular_file(installed, ec)) {
    return LoadFile(installed);
  }
  return Defaults();
}

Status Config::ApplySet(const std::string& assignment) {
  const std::string where = "--set " + assignment;
  auto equals = assignment.find('=');
  if (equals == std::string::npos) {
    return Status::InvalidArgument(
        where + ": expected SLOT.KEY=VALUE, as in --set store.memory.capacity=1GiB");
  }
  std::string path = assignment.substr(0, equals);
  std::string text = assignment.substr(equals + 1);
  std::vector<std::string> parts;
  std::stringstream split(path);
  for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
  std::optional<PluginKind> kind;
  for (PluginKind slot : kSlots) {
    if (!parts.empty() && parts[0] == PluginKindName(slot)) kind = slot;
  }
  if (!kind) {
    std::string first = parts.empty() ? "" : parts[0];
    return Status::InvalidArgument(
        where + ": unknown section '" + first + "'; " +
        DidYouMean(first, SlotNames(), "use scheduler, store, transport or gcs"));
  }
  SlotConfig& slot = slots_[*kind];
  if (parts.size() == 2 && parts[1] == "plugin") {
    SelectPlugin(*kind, text);
    return Status::Ok();
  }
  if (parts.size() == 2 && parts[1] == "lease_reuse" && *kind == PluginKind::kScheduler) {
    if (text != "true" && text != "false") {
      return Status::InvalidArgument(where + ": lease_reuse must be true or false");
    }
    lease_reuse_ = text == "true";
    return Status::Ok();
  }
  if (parts.size() != 3) {
    return Status::InvalidArgument(where + ": expected " + parts[0] + ".plugin=NAME or " +
                                   parts[0] + ".<plugin>.<key>=VALUE");
  }
  auto value = ParseSettingText(text);
  slot.tables[parts[1]][parts[2]] = RawSetting{*value, 0};
  return Status::Ok();
}

void Config::SelectPlugin(PluginKind kind, const std::string& plugin) {
  slots_[kind].plugin = plugin;
  slots_[kind].line = 0;
}

std::map<std::string, std::string> Config::SelectedPlugins() const {
  std::map<std::string, std::string> plugins;
  for (PluginKind kind : kSlots) plugins[PluginKindName(kind)] = slot(kind).plugin;
  return plugins;
}

std::string FormatSelectedPlugins(const std::map<std::string, std::string>& plugins) {
  std::string text;
  for (const std::string& slot : SlotNames()) {
    auto it = plugins.find(slot);
    if (it == plugins.end()) continue;
    text += (text.empty() ? "" : ", ") + slot + " " + it->second;
  }
  return text;
}

const SlotConfig& Config::slot(PluginKind kind) const { return slots_.at(kind); }
SlotConfig& Config::slot(PluginKind kind) { return slots_[kind]; }

const RawSettingTable& Config::Table(PluginKind kind, const std::string& plugin_name) const {
  static const RawSettingTable kEmpty;
  const SlotConfig& s = slot(kind);
  auto it = s.tables.find(plugin_name);
  return it == s.tables.end() ? kEmpty : it->second;
}

}  // namespace rayk
