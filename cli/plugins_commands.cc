#include "plugins_commands.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "rayk/host/plugin_loader.h"

extern char** environ;

namespace rayk::cli {

namespace fs = std::filesystem;

struct PluginsCommands::Options {
  CLI::App* test = nullptr;
  std::string test_file;
};

namespace {

int Fail(const std::string& message) {
  std::cerr << "rayk: " << message << "\n";
  return 1;
}

// The conformance suite of `kind`: in the install (lib/rayk/conformance
// beside bin/), else in the build tree (bin/, beside rayk itself).
std::vector<fs::path> SuiteCandidates(PluginKind kind) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::string binary = std::string(PluginKindName(kind)) + "_conformance_test";
  return {self.parent_path().parent_path() / "lib" / "rayk" / "conformance" / binary,
          self.parent_path() / binary};
}

// The parameterized suite of each slot's conformance binary, so that a run
// covers exactly the contract cases (not the binary's tests of built-in plugins).
std::string SuiteFilter(PluginKind kind) {
  switch (kind) {
    case PluginKind::kScheduler:
      return "AllSchedulers/SchedulerConformance.*";
    case PluginKind::kStore:
      return "AllStores/StoreConformance.*";
    case PluginKind::kTransport:
      return "AllTransports/TransportTest.*";
    case PluginKind::kGcs:
      return "AllGcsStores/GcsConformance.*";
  }
  return "*";
}

// Runs `argv` with `plugin` as the one plugin under test; returns its exit status.
int RunSuite(const std::vector<std::string>& argv, const std::string& plugin) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string(*e).starts_with("RAYK_CONFORMANCE_PLUGIN=")) env.push_back(*e);
  }
  env.push_back("RAYK_CONFORMANCE_PLUGIN=" + plugin);
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0].c_str(), nullptr, nullptr, args.data(), envp.data()) != 0) {
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The last line of a gtest failure text: the message, without the assertion.
std::string LastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto cut = text.rfind('\n');
  return cut == std::string::npos ? text : text.substr(cut + 1);
}

int TestPlugin(const std::string& given) {
  const std::string file = fs::absolute(given).lexically_normal().string();
  auto info = PluginLoader::InspectFile(file);
  if (!info.ok()) return Fail(info.status().message());
  const char* slot = PluginKindName(info->kind);
  fs::path suite;
  std::string looked;
  for (const fs::path& candidate : SuiteCandidates(info->kind)) {
    std::error_code ec;
    if (fs::exists(candidate, ec)) {
      suite = candidate;
      break;
    }
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  if (suite.empty()) {
    return Fail(std::string("no ") + slot + " conformance suite (looked for " + looked +
                "); install rayk built with RAYK_BUILD_TESTS=ON, which installs the suites");
  }
  std::string report_dir = (fs::temp_directory_path() / "rayk-plugins-test-XXXXXX").string();
  if (mkdtemp(report_dir.data()) == nullptr) return Fail("cannot make a temporary folder");
  const std::string report = report_dir + "/report.json";
  std::printf("testing %s plugin '%s' (%s) with %s\n", slot, info->name.c_str(), file.c_str(),
              suite.c_str());
  std::fflush(stdout);
  int code = RunSuite({suite.string(), "--gtest_filter=" + SuiteFilter(info->kind),
                       "--gtest_output=json:" + report},
                      file);
  nlohmann::json results;
  {
    std::ifstream in(report);
    results = nlohmann::json::parse(in, nullptr, false);
  }
  std::error_code ignored;
  fs::remove_all(report_dir, ignored);
  int ran = 0, skipped = 0, failed = 0;
  std::string first_failure;
  if (results.is_object()) {
    for (const auto& suite_result : results.value("testsuites", nlohmann::json::array())) {
      for (const auto& test : suite_result.value("testsuite", nlohmann::json::array())) {
        if (test.value("result", "") == "SKIPPED") {
          ++skipped;
          continue;
        }
        if (test.value("status", "") != "RUN") continue;
        ++ran;
        auto failures = test.value("failures", nlohmann::json::array());
        if (!failures.empty()) {
          ++failed;
          if (first_failure.empty()) {
            first_failure = test.value("name", "") + ": " +
                            LastLine(failures[0].value("failure", std::string()));
          }
        }
      }
    }
  }
  if (code != 0 || failed > 0) {
    if (!results.is_object()) {
      return Fail(std::string("the ") + slot + " conformance suite " + suite.string() +
                  " ended with status " + std::to_string(code) + " before writing its report");
    }
    return Fail(file + " failed " + std::to_string(failed) + " of " + std::to_string(ran) + " " +
                slot + " conformance cases; first: " + first_failure);
  }
  if (ran == 0) {
    return Fail(file + ": the " + slot + " conformance suite ran no case, so nothing was checked");
  }
  std::printf("%s: %s plugin '%s' passed %d %s conformance cases%s\n", file.c_str(), slot,
              info->name.c_str(), ran, slot,
              skipped > 0 ? (" (" + std::to_string(skipped) + " skipped)").c_str() : "");
  return 0;
}

}  // namespace

PluginsCommands::PluginsCommands(CLI::App* plugins) : options_(std::make_shared<Options>()) {
  Options& o = *options_;
  o.test = plugins->add_subcommand(
      "test", "run the conformance suite of a plugin's slot against a plugin file");
  o.test->add_option("PLUGIN", o.test_file, "the plugin's .so file")->required();
}

std::optional<int> PluginsCommands::Run() {
  const Options& o = *options_;
  if (o.test->parsed()) return TestPlugin(o.test_file);
  return std::nullopt;
}

}  // namespace rayk::cli
