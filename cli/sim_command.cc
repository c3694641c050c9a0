#include "sim_command.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/scheduler.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace rayk::cli {

struct SimCommand::Options {
  CLI::App* command = nullptr;
  std::string* format = nullptr;
  std::string trace;
  bool generate = false;
  sim::GenerateOptions generator;
  std::string schedulers = "hybrid";
  std::string config_file;
  std::vector<std::string> sets;
  std::string plot;
  std::string plot_resource = "CPU";
  std::string write_trace;
  std::string write_placements;
  double bandwidth = 1.25e9;
};

namespace {

int Fail(const std::string& message) {
  std::cerr << "rayk: " << message << "\n";
  return 1;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The scheduler `name` as a raylet would create it from `config`, with the
// run's seed when the plugin has a `seed` setting that the config leaves unset.
Result<std::shared_ptr<Scheduler>> CreateScheduler(const PluginLoader& loader, const Config& config,
                                                   const std::string& name, uint64_t seed) {
  auto info = loader.Find(PluginKind::kScheduler, name);
  if (!info.ok()) return info.status();
  RawSettingTable table = config.Table(PluginKind::kScheduler, info->name);
  for (const SettingSpec& spec : info->settings) {
    if (std::string(spec.key) == "seed" && spec.type == SettingType::kInteger &&
        !table.count("seed")) {
      table["seed"] = RawSetting{SettingValue(static_cast<int64_t>(seed)), 0};
    }
  }
  PluginContext context;
  context.role = ProcessRole::kTool;
  auto created = loader.Create(PluginKind::kScheduler, name, table, config.source(), context);
  if (!created.ok()) return created.status();
  return std::shared_ptr<Scheduler>(*created, static_cast<Scheduler*>(created->get()));
}

}  // namespace

SimCommand::SimCommand(CLI::App* app, std::string* format) : options_(std::make_shared<Options>()) {
  Options& o = *options_;
  o.format = format;
  o.command = app->add_subcommand(
      "sim",
      "replay a workload against scheduler plugins in simulated time and compare them: "
      "makespan, waiting time, utilisation, spillbacks, bytes moved, decision time");
  o.command->footer(
      "Examples:\n"
      "  rayk sim --generate --nodes 1000 --tasks 1000000 --scheduler "
      "hybrid,spread,binpack,random\n"
      "  rayk sim trace.jsonl --scheduler hybrid,/path/to/rayk_scheduler_mine.so --plot out.svg\n"
      "The trace format and the lease model: docs/scheduler-plugins.md, \"Evaluate your policy\".");
  o.command->add_option("TRACE", o.trace, "a JSON-lines workload trace");
  o.command->add_option("--format", *format, "text (a table) or json (one document)")
      ->check(CLI::IsMember({"text", "json"}));
  o.command->add_flag("--generate", o.generate, "generate the workload instead of reading one");
  o.command
      ->add_option("--scheduler", o.schedulers,
                   "comma-separated scheduler plugins to compare: names or paths to .so files")
      ->capture_default_str();
  o.command->add_option("--config", o.config_file,
                        "plugins.toml whose [scheduler.NAME] tables set the plugins' settings");
  o.command->add_option("--set", o.sets,
                        "override a setting: scheduler.PLUGIN.KEY=VALUE, or "
                        "scheduler.lease_reuse=false to model one task per lease");
  o.command->add_option("--plot", o.plot,
                        "draw utilisation and queue length over time to this .svg or .png "
                        "(needs gnuplot)");
  o.command->add_option("--plot-resource", o.plot_resource, "the resource the plot draws")
      ->capture_default_str();
  o.command->add_option("--write-trace", o.write_trace,
                        "write the workload (e.g. the generated one) as a trace file");
  o.command
      ->add_option("--bandwidth", o.bandwidth,
                   "bytes per second for pulling arguments between nodes")
      ->capture_default_str();
  o.command->add_option("--write-placements", o.write_placements,
                        "write where each task started, per policy, as JSON lines "
                        "{\"policy\", \"task\", \"node\"}");
  sim::GenerateOptions& g = o.generator;
  const char* gen = "Generator (--generate)";
  o.command
      ->add_option("--seed", g.seed,
                   "seed of the generator, of the node ids and of every policy's `seed` "
                   "setting the config leaves unset")
      ->capture_default_str();
  o.command->add_option("--nodes", g.nodes, "nodes")->capture_default_str()->group(gen);
  o.command->add_option("--node-resources", g.node_resources, "each node's resources (JSON)")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--tasks", g.tasks, "tasks")->capture_default_str()->group(gen);
  o.command->add_option("--actors", g.actors, "actors (living 100 task durations)")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--arrival-rate", g.arrival_rate, "arrivals per simulated second (Poisson)")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--duration-mean", g.duration_mean, "mean task duration in seconds")
      ->capture_default_str()
      ->group(gen);
  o.command
      ->add_option("--duration-sigma", g.duration_sigma,
                   "0: exponential durations; > 0: lognormal with this sigma")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--demands", g.demands, "JSON array of [weight, resources]")
      ->capture_default_str()
      ->group(gen);
  o.command
      ->add_option("--spread-fraction", g.spread_fraction,
                   "fraction of tasks with the SPREAD strategy")
      ->capture_default_str()
      ->group(gen);
  o.command
      ->add_option("--arg-fraction", g.arg_fraction,
                   "fraction of tasks with an argument on a random node")
      ->capture_default_str()
      ->group(gen);
  o.command
      ->add_option("--arg-bytes-mean", g.arg_bytes_mean,
                   "mean argument size in bytes (exponential)")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--owners", g.owners, "driver nodes submitting the tasks")
      ->capture_default_str()
      ->group(gen);
  o.command->add_option("--failures", g.failures, "nodes that fail during the run")
      ->capture_default_str()
      ->group(gen);
}

std::optional<int> SimCommand::Run() {
  const Options& o = *options_;
  if (!o.command->parsed()) return std::nullopt;
  if (o.generate == !o.trace.empty()) {
    return Fail("rayk sim needs a workload: a TRACE file or --generate (not both)");
  }
  auto config = Config::LoadDefault(o.config_file);
  if (!config.ok()) return Fail(config.status().message());
  for (const std::string& set : o.sets) {
    if (Status st = config->ApplySet(set); !st.ok()) return Fail(st.message());
  }
  std::vector<std::string> names = SplitList(o.schedulers);
  if (names.empty()) return Fail("--scheduler needs at least one plugin, e.g. hybrid,spread");
  // Every plugin loads before the first simulation runs, so a typo fails at once.
  PluginLoader loader(config->plugin_path());
  for (const std::string& name : names) {
    auto created = CreateScheduler(loader, *config, name, o.generator.seed);
    if (!created.ok()) return Fail("--scheduler " + name + ": " + created.status().message());
  }
  if (!o.plot.empty() && !o.plot.ends_with(".svg") && !o.plot.ends_with(".png")) {
    return Fail("--plot " + o.plot + ": the file must end in .svg or .png");
  }
  if (!(o.bandwidth > 0)) return Fail("--bandwidth must be positive, e.g. 1.25e9 (10 Gbit/s)");

  const bool json = *o.format == "json";
  auto start = std::chrono::steady_clock::now();
  auto workload = o.generate ? sim::Generate(o.generator) : sim::ReadTrace(o.trace);
  if (!workload.ok()) return Fail(workload.status().message());
  double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!json) {
    std::fprintf(stderr, "workload: %zu nodes, %zu tasks and actors, %zu failures (%s in %.1f s)\n",
                 workload->nodes.size(), workload->tasks.size(), workload->failures.size(),
                 o.generate ? "generated" : "read", load_seconds);
  }
  if (!o.write_trace.empty()) {
    if (Status st = sim::WriteTrace(*workload, o.write_trace); !st.ok()) return Fail(st.message());
  }

  sim::SimOptions options;
  options.bandwidth = o.bandwidth;
  options.seed = o.generator.seed;
  options.lease_reuse = config->lease_reuse();
  std::vector<sim::PolicyRun> runs;
  for (const std::string& name : names) {
    if (!json) std::fprintf(stderr, "simulating %s ...\n", name.c_str());
    auto result = sim::Simulate(
        *workload, [&] { return CreateScheduler(loader, *config, name, o.generator.seed); },
        options);
    if (!result.ok()) return Fail("--scheduler " + name + ": " + result.status().message());
    runs.push_back({name, std::move(*result)});
  }
  if (!o.write_placements.empty()) {
    std::ofstream out(o.write_placements);
    for (const sim::PolicyRun& run : runs) {
      for (size_t i = 0; i < run.result.placements.size(); ++i) {
        int32_t node = run.result.placements[i];
        out << nlohmann::json{{"policy", run.policy},
                              {"task", i},
                              {"node",
                               node < 0 ? nullptr : nlohmann::json(workload->nodes[node].name)}}
                   .dump()
            << "\n";
      }
    }
    out.flush();
    if (!out) return Fail("cannot write the placements to " + o.write_placements);
  }
  if (json) {
    nlohmann::json out = sim::ComparisonJson(runs);
    out["workload"] = {{"nodes", workload->nodes.size()},
                       {"tasks", workload->tasks.size()},
                       {"failures", workload->failures.size()}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << sim::FormatComparison(runs);
  }
  if (!o.plot.empty()) {
    if (Status st = sim::WritePlot(runs, o.plot, o.plot_resource); !st.ok()) {
      return Fail(st.message());
    }
    if (!json) std::fprintf(stderr, "plot: %s\n", o.plot.c_str());
  }
  return 0;
}

}  // namespace rayk::cli
