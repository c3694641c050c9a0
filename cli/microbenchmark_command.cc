#include "microbenchmark_command.h"

#include <dlfcn.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "microbenchmark/microbenchmark.h"

namespace rayk::cli {

struct MicrobenchmarkCommand::Options {
  CLI::App* command = nullptr;
  std::string* format = nullptr;
  std::string address;
  std::string filter;
  double duration = 2.0;
  int trials = 4;
};

namespace {

int Fail(const std::string& message) {
  std::cerr << "rayk: " << message << "\n";
  return 1;
}

// lib/librayk_microbenchmark.so beside bin/rayk, as in the build tree and an install.
std::filesystem::path LibraryPath() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path().parent_path() / "lib" / RAYK_MICROBENCHMARK_LIBRARY;
}

}  // namespace

MicrobenchmarkCommand::MicrobenchmarkCommand(CLI::App* app, std::string* format)
    : options_(std::make_shared<Options>()) {
  Options& o = *options_;
  o.format = format;
  o.command = app->add_subcommand("microbenchmark",
                                  "Ray's `ray microbenchmark` cases on rayk, each as '<case> per "
                                  "second <mean> +- <std>' over trials");
  o.command->footer(
      "Cases (Ray's names and workloads): single_client_get_calls, single_client_put_calls,\n"
      "multi_client_put_calls, single_client_put_gigabytes, single_client_tasks_and_get_batch,\n"
      "multi_client_put_gigabytes, single_client_get_object_containing_10k_refs, "
      "single_client_wait_1k_refs,\n"
      "single_client_tasks_sync, single_client_tasks_async, multi_client_tasks_async, "
      "1_1_actor_calls_sync,\n"
      "1_1_actor_calls_async, 1_1_actor_calls_concurrent, 1_n_actor_calls_async, "
      "n_n_actor_calls_async,\n"
      "n_n_actor_calls_with_arg_async, 1_1_async_actor_calls_sync, 1_1_async_actor_calls_async,\n"
      "1_1_async_actor_calls_with_args_async, 1_n_async_actor_calls_async,\n"
      "n_n_async_actor_calls_async, placement_group_create_removal.\n"
      "bench/compare_ray.sh runs Ray's and rayk's side by side.");
  o.command->add_option("--address", o.address,
                        "run on this cluster (HOST:PORT; default: an embedded one)");
  o.command->add_option("--filter", o.filter,
                        "run the cases whose name matches this regular expression");
  o.command->add_option("--duration", o.duration, "seconds per trial")->capture_default_str();
  o.command->add_option("--trials", o.trials, "trials per case")->capture_default_str();
  o.command->add_option("--format", *format, "text (Ray's lines) or json (one document)")
      ->check(CLI::IsMember({"text", "json"}));
}

std::optional<int> MicrobenchmarkCommand::Run() {
  const Options& o = *options_;
  if (!o.command->parsed()) return std::nullopt;
  std::filesystem::path library = LibraryPath();
  if (!std::filesystem::exists(library)) {
    return Fail("cannot find " + library.string() +
                "; build it (ninja -C build rayk_microbenchmark) or install rayk");
  }
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) return Fail("cannot load " + library.string() + ": " + dlerror());
  auto entry = reinterpret_cast<RaykMicrobenchmarkEntry>(dlsym(handle, RAYK_MICROBENCHMARK_ENTRY));
  if (entry == nullptr)
    return Fail(library.string() + " has no " RAYK_MICROBENCHMARK_ENTRY "; rebuild it");
  nlohmann::json options = {{"address", o.address},
                            {"filter", o.filter},
                            {"duration", o.duration},
                            {"trials", o.trials},
                            {"format", *o.format}};
  return entry(options.dump().c_str());
}

}  // namespace rayk::cli
