// `rayk plugins test FILE`: runs the installed conformance suite of the
// plugin's slot (lib/rayk/conformance/<slot>_conformance_test) against one
// plugin file, and fails unless every case that ran passed and at least one
// ran. `rayk plugins new scheduler NAME [DIR]`: writes an out-of-tree plugin
// project to start from (cli/plugin_template/).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace rayk::cli {

class PluginsCommands {
 public:
  // Adds `test` and `new` under `plugins` (the `rayk plugins` subcommand).
  explicit PluginsCommands(CLI::App* plugins);
  // Runs the one that was parsed, if any.
  std::optional<int> Run();

 private:
  struct Options;
  std::shared_ptr<Options> options_;
};

}  // namespace rayk::cli
