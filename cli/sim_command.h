// `rayk sim`: replays a workload (a JSON-lines trace, or one it generates)
// against one or more scheduler plugins in simulated time, and compares them
// (cli/sim/: the workload, the simulator, the report). The plugins are
// created by the same PluginLoader, with the same settings tables, as a
// raylet creates its scheduler.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace rayk::cli {

class SimCommand {
 public:
  // Adds the subcommand to `app`; `format` is the shared --format value.
  SimCommand(CLI::App* app, std::string* format);
  // Runs it if it was parsed.
  std::optional<int> Run();

 private:
  struct Options;
  std::shared_ptr<Options> options_;
};

}  // namespace rayk::cli
