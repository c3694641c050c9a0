// `rayk microbenchmark`: Ray's microbenchmark cases on rayk (an embedded
// cluster, or --address). The cases live in librayk_microbenchmark.so
// (cli/microbenchmark/), which this command loads; see microbenchmark.h.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace rayk::cli {

class MicrobenchmarkCommand {
 public:
  // Adds the subcommand to `app`; `format` is the shared --format value.
  MicrobenchmarkCommand(CLI::App* app, std::string* format);
  // Runs it if it was parsed.
  std::optional<int> Run();

 private:
  struct Options;
  std::shared_ptr<Options> options_;
};

}  // namespace rayk::cli
