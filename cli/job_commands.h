// `rayk job submit|status|logs|stop|list`: clients of the head's Jobs API
// (job_submission/job_manager.h), over HTTP with the cluster secret; and
// `rayk job-supervisor`, the process the head starts to run a submitted
// driver (job_submission/job_supervisor.h).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace rayk::cli {

class JobCommands {
 public:
  // Adds the subcommands to `app`; `format` is the shared --format value.
  JobCommands(CLI::App* app, std::string* format);
  // Runs the subcommand that was parsed, if it is one of these.
  std::optional<int> Run();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rayk::cli
