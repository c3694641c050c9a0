// The commands that start, inspect and stop clusters and run jobs:
// start, stop, status, run, and the daemons' own entry points (gcs-server,
// raylet, worker), which `rayk start` and rayk::Init() launch.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace rayk::cli {

class ClusterCommands {
 public:
  // Adds the subcommands to `app`; `format` is the shared --format value.
  ClusterCommands(CLI::App* app, std::string* format);
  // Runs the subcommand that was parsed, if it is one of these.
  std::optional<int> Run();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rayk::cli
