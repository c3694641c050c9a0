// The `rayk` command: one binary, one subcommand per verb (DESIGN.md section 6).
// Output is for people by default and for programs with --format json.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "cluster_commands.h"
#include "dev_commands.h"
#include "job_commands.h"
#include "microbenchmark_command.h"
#include "plugins_commands.h"
#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"
#include "sim_command.h"

namespace {

using rayk::Config;
using rayk::PluginInfo;
using rayk::PluginKind;
using rayk::PluginLoader;

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "rayk: " << message << "\n";
  std::exit(1);
}

// Options every command that reads plugins.toml shares.
struct ConfigOptions {
  std::string file;
  std::vector<std::string> sets;
  std::map<PluginKind, std::string> selected;

  void AddTo(CLI::App* command) {
    command->add_option("--config", file,
                        "plugins.toml to use (default: $RAYK_CONFIG, else the installed "
                        "share/rayk/plugins.toml, else built-in)");
    command->add_option("--set", sets,
                        "override a setting: SLOT.PLUGIN.KEY=VALUE or SLOT.plugin=NAME");
    for (PluginKind kind : Config::kSlots) {
      command->add_option_function<std::string>(
          std::string("--") + rayk::PluginKindName(kind),
          [this, kind](const std::string& name) { selected[kind] = name; },
          std::string("use this ") + rayk::PluginKindName(kind) + " plugin");
    }
  }

  Config Load(const std::string& positional_file = "") const {
    auto config = Config::LoadDefault(positional_file.empty() ? file : positional_file);
    if (!config.ok()) Fail(config.status().message());
    for (const std::string& set : sets) {
      rayk::Status status = config->ApplySet(set);
      if (!status.ok()) Fail(status.message());
    }
    for (const auto& [kind, name] : selected) config->SelectPlugin(kind, name);
    return std::move(*config);
  }
};

std::string Selected(const Config& config, const PluginInfo& info) {
  return config.slot(info.kind).plugin == info.name || config.slot(info.kind).plugin == info.path
             ? "*"
             : "";
}

int PluginsList(const Config& config, bool json) {
  PluginLoader loader(config.plugin_path());
  std::vector<std::string> errors;
  std::vector<PluginInfo> plugins = loader.List(&errors);
  // A plugin that plugins.toml names by path is listed too.
  for (PluginKind kind : Config::kSlots) {
    const std::string& plugin = config.slot(kind).plugin;
    if (plugin.find('/') == std::string::npos) continue;
    auto info = loader.Find(kind, plugin);
    if (info.ok()) {
      plugins.push_back(*info);
    } else {
      errors.push_back(info.status().message());
    }
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const PluginInfo& p : plugins) {
      out.push_back({{"kind", rayk::PluginKindName(p.kind)},
                     {"name", p.name},
                     {"version", p.version},
                     {"summary", p.summary},
                     {"path", p.path},
                     {"selected", !Selected(config, p).empty()}});
    }
    std::cout << nlohmann::json{{"plugins", out}, {"errors", errors}}.dump(2) << "\n";
    return 0;
  }
  std::printf("%-3s %-10s %-14s %-8s %s\n", "", "KIND", "NAME", "VERSION", "SUMMARY");
  for (const PluginInfo& p : plugins) {
    std::printf("%-3s %-10s %-14s %-8s %s\n", Selected(config, p).c_str(),
                rayk::PluginKindName(p.kind), p.name.c_str(), p.version.c_str(), p.summary.c_str());
    std::printf("%-3s %-10s %s\n", "", "", p.path.c_str());
  }
  std::printf("\n* = selected by %s\n", config.source().c_str());
  for (const std::string& error : errors) std::printf("warning: %s\n", error.c_str());
  return 0;
}

// What a setting's spec allows, as `rayk plugins info` shows it; "" for anything of its type.
std::string Allowed(const rayk::SettingSpec& spec) {
  if (spec.choices != nullptr) return std::string("one of ") + spec.choices;
  std::string max = spec.max == nullptr                 ? ""
                    : std::string(spec.max) == "memory" ? "RAM + swap"
                                                        : spec.max;
  if (spec.min && spec.max) return std::string("from ") + spec.min + " to " + max;
  if (spec.min) return std::string("at least ") + spec.min;
  if (spec.max) return "at most " + max;
  return "";
}

int PluginsInfo(const Config& config, const std::string& name, bool json) {
  PluginLoader loader(config.plugin_path());
  std::vector<PluginInfo> matches;
  for (PluginKind kind : Config::kSlots) {
    auto info = loader.Find(kind, name);
    if (info.ok()) matches.push_back(*info);
  }
  if (matches.empty()) {
    std::string available;
    for (const PluginInfo& p : loader.List()) {
      available += (available.empty() ? "" : ", ") + std::string(rayk::PluginKindName(p.kind)) +
                   "/" + p.name;
    }
    Fail("no plugin named '" + name + "'; available: " + (available.empty() ? "none" : available));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const PluginInfo& p : matches) {
    nlohmann::json settings = nlohmann::json::array();
    if (!json) {
      std::printf("%s plugin '%s' version %s\n  %s\n  file: %s\n", rayk::PluginKindName(p.kind),
                  p.name.c_str(), p.version.c_str(), p.summary.c_str(), p.path.c_str());
      std::printf("  settings ([%s.%s] in plugins.toml):%s\n", rayk::PluginKindName(p.kind),
                  p.name.c_str(), p.settings.empty() ? " none" : "");
    }
    for (const rayk::SettingSpec& s : p.settings) {
      const char* fallback = s.default_value ? s.default_value : "(required)";
      std::string allowed = Allowed(s);
      settings.push_back({{"key", s.key},
                          {"type", rayk::SettingTypeName(s.type)},
                          {"default", fallback},
                          {"help", s.help},
                          {"allowed", allowed}});
      if (!json) {
        std::printf("    %-18s %-8s default %-12s %s%s\n", s.key, rayk::SettingTypeName(s.type),
                    fallback, s.help,
                    allowed.empty() ? "" : (" Allowed: " + allowed + ".").c_str());
      }
    }
    out.push_back({{"kind", rayk::PluginKindName(p.kind)},
                   {"name", p.name},
                   {"version", p.version},
                   {"summary", p.summary},
                   {"path", p.path},
                   {"settings", settings}});
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

int ConfigCheck(const Config& config, bool json) {
  PluginLoader loader(config.plugin_path());
  nlohmann::json out = {{"source", config.source()}, {"plugin_path", loader.search_path()}};
  std::string text = "# resolved from " + config.source() + "\n";
  for (PluginKind kind : Config::kSlots) {
    const rayk::SlotConfig& slot = config.slot(kind);
    auto info = loader.Find(kind, slot.plugin);
    if (!info.ok()) {
      std::string where =
          slot.line > 0 ? config.source() + ":" + std::to_string(slot.line) + ": " : "";
      Fail(where + info.status().message());
    }
    auto settings =
        PluginLoader::ValidateSettings(*info, config.Table(kind, info->name), config.source());
    if (!settings.ok()) Fail(settings.status().message());
    if (rayk::Status st = rayk::cli::CheckPluginStarts(loader, config, kind); !st.ok()) {
      Fail(st.message());
    }
    const char* slot_name = rayk::PluginKindName(kind);
    text += std::string("\n[") + slot_name + "]\nplugin = \"" + info->name + "\"  # " + info->path +
            "\n";
    nlohmann::json values = nlohmann::json::object();
    if (!settings->values().empty())
      text += std::string("[") + slot_name + "." + info->name + "]\n";
    for (const auto& [key, value] : settings->values()) {
      text += key + " = " + rayk::SettingValueToString(value) + "\n";
      std::visit([&](const auto& v) { values[key] = v; }, value);
    }
    out[slot_name] = {{"plugin", info->name}, {"path", info->path}, {"settings", values}};
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << text << "\nconfiguration OK\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rayk: a distributed task and actor runtime for C++"};
  app.set_version_flag("--version", std::string("rayk ") + RAYK_VERSION + " (plugin ABI " +
                                        std::to_string(RAYK_PLUGIN_ABI_VERSION) + ")");
  app.require_subcommand(1);
  std::string format = "text";
  auto add_format = [&format](CLI::App* command) {
    command->add_option("--format", format, "text (for people) or json (for programs)")
        ->check(CLI::IsMember({"text", "json"}));
  };

  ConfigOptions options;
  CLI::App* plugins = app.add_subcommand("plugins", "list and describe the installed plugins");
  plugins->require_subcommand(1);
  CLI::App* list =
      plugins->add_subcommand("list", "every plugin on the search path; * marks the selected ones");
  options.AddTo(list);
  add_format(list);
  CLI::App* info = plugins->add_subcommand("info", "one plugin's version, file and settings");
  std::string info_name;
  info->add_option("NAME", info_name, "plugin name")->required();
  options.AddTo(info);
  add_format(info);
  rayk::cli::PluginsCommands plugin_commands(plugins);

  CLI::App* config = app.add_subcommand("config", "inspect configuration files");
  config->require_subcommand(1);
  CLI::App* check =
      config->add_subcommand("check", "validate plugins.toml and print the resolved configuration");
  std::string check_file;
  check->add_option("FILE", check_file,
                    "the file to check (default: $RAYK_CONFIG, else the installed one, else "
                    "built-in defaults)");
  options.AddTo(check);
  add_format(check);

  rayk::cli::ClusterCommands cluster(&app, &format);
  rayk::cli::DevCommands dev(&app, &format);
  rayk::cli::JobCommands job(&app, &format);
  rayk::cli::MicrobenchmarkCommand microbenchmark(&app, &format);
  rayk::cli::SimCommand sim(&app, &format);

  CLI11_PARSE(app, argc, argv);
  const bool json = format == "json";
  if (auto code = cluster.Run()) return *code;
  if (auto code = dev.Run()) return *code;
  if (auto code = job.Run()) return *code;
  if (auto code = microbenchmark.Run()) return *code;
  if (auto code = sim.Run()) return *code;
  if (auto code = plugin_commands.Run()) return *code;
  if (list->parsed()) return PluginsList(options.Load(), json);
  if (info->parsed()) return PluginsInfo(options.Load(), info_name, json);
  if (check->parsed()) return ConfigCheck(options.Load(check_file), json);
  return 0;
}
