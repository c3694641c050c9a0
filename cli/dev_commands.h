// `rayk dev up|add-node|down`: a multi-node cluster on one machine.
//
// `rayk dev up --nodes N` starts, in one new session, a supervised GCS and N
// raylets on loopback, each with its own port, resources, label
// rayk.io/node-index=<i> and folder <session>/nodes/<i>/ (its --session-dir:
// raylet_address, node.json, logs/ with its workers' logs). The session keeps
// the GCS's files, dev.json (how the cluster was started, so that add-node
// starts its raylets alike) and the `pids` file that `rayk dev down` and
// `rayk stop` read. It returns once every raylet is registered and alive in
// the GCS, so that multi-node behaviour (spillback, node death, nodes that
// join later) can be run and tested on one machine.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace rayk::cli {

class DevCommands {
 public:
  // Adds `dev` and its subcommands to `app`; `format` is the shared --format value.
  DevCommands(CLI::App* app, std::string* format);
  // Runs the subcommand that was parsed, if it is one of these.
  std::optional<int> Run();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rayk::cli
