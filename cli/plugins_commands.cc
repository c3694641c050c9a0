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
#include "sim/workload.h"

extern char** environ;

namespace rayk::cli {

namespace fs = std::filesystem;

struct PluginsCommands::Options {
  CLI::App* test = nullptr;
  std::string test_file;
  CLI::App* create = nullptr;
  std::string kind;
  std::string name;
  std::string dir;
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

// my_policy -> MyPolicy
std::string CamelCase(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::string text;
  std::getline(in, text, '\0');
  return text;
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

// The small workload the project's sim test replays: 8 nodes of 4 CPUs kept
// about 80% busy, 2000 tasks.
Status WriteSmallWorkload(const fs::path& path) {
  sim::GenerateOptions options;
  options.nodes = 8;
  options.node_resources = R"({"CPU": 4})";
  options.tasks = 2000;
  options.arrival_rate = 17;
  options.duration_mean = 1;
  options.arg_bytes_mean = 1e6;
  auto workload = sim::Generate(options);
  if (!workload.ok()) return workload.status();
  return sim::WriteTrace(*workload, path.string());
}

int NewProject(const std::string& kind, const std::string& name, const std::string& dir_given) {
  if (kind != "scheduler") {
    return Fail(
        "rayk plugins new makes scheduler projects only, so far: rayk plugins new scheduler " +
        (name.empty() ? std::string("NAME") : name));
  }
  bool valid = !name.empty() && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    valid = valid && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!valid) {
    return Fail("plugin name '" + name +
                "' must start with a lowercase letter and hold only a-z, 0-9 and _ (it names the "
                "file rayk_scheduler_NAME.so), e.g. fair_share");
  }
  const fs::path dir = fs::absolute(dir_given.empty() ? name : dir_given);
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return Fail(dir.string() + " already exists and is not an empty folder; name a new one");
  }
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path templates =
      self.parent_path().parent_path() / "share" / "rayk" / "plugin_template" / kind;
  auto cmake = ReadFile(templates / "CMakeLists.txt.in");
  auto readme = ReadFile(templates / "README.md.in");
  auto policy = ReadFile(templates / "policy.cc");
  for (const auto* file : {&cmake, &readme, &policy}) {
    if (!file->ok()) {
      return Fail("the plugin project template is missing (" + file->status().message() +
                  "); reinstall rayk");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return Fail("cannot make the folder " + dir.string() + ": " + ec.message());
  std::string source =
      ReplaceAll(ReplaceAll(*policy, "least_loaded", name), "LeastLoaded", CamelCase(name));
  for (Status st :
       {WriteFile(dir / "CMakeLists.txt", ReplaceAll(*cmake, "@NAME@", name)),
        WriteFile(dir / "README.md", ReplaceAll(*readme, "@NAME@", name)),
        WriteFile(dir / (name + ".cc"), source), WriteSmallWorkload(dir / "workload.jsonl")}) {
    if (!st.ok()) return Fail(st.message());
  }
  std::printf(
      "wrote the scheduler plugin project '%s' in %s:\n"
      "  %s.cc  CMakeLists.txt  README.md  workload.jsonl\n"
      "build and test it:\n"
      "  cmake -S %s -B %s/build -DCMAKE_PREFIX_PATH=%s\n"
      "  cmake --build %s/build && ctest --test-dir %s/build --output-on-failure\n",
      name.c_str(), dir.c_str(), name.c_str(), dir.c_str(), dir.c_str(),
      self.parent_path().parent_path().c_str(), dir.c_str(), dir.c_str());
  return 0;
}

}  // namespace

PluginsCommands::PluginsCommands(CLI::App* plugins) : options_(std::make_shared<Options>()) {
  Options& o = *options_;
  o.test = plugins->add_subcommand(
      "test", "run the conformance suite of a plugin's slot against a plugin file");
  o.test->add_option("PLUGIN", o.test_file, "the plugin's .so file")->required();
  o.create = plugins->add_subcommand(
      "new",
      "write a buildable out-of-tree plugin project: the policy, CMakeLists.txt, a README "
      "and tests");
  o.create->add_option("KIND", o.kind, "the slot: scheduler")->required();
  o.create->add_option("NAME", o.name, "the plugin's name, e.g. fair_share")->required();
  o.create->add_option("DIR", o.dir, "the folder to write (default: ./NAME)");
}

std::optional<int> PluginsCommands::Run() {
  const Options& o = *options_;
  if (o.test->parsed()) return TestPlugin(o.test_file);
  if (o.create->parsed()) return NewProject(o.kind, o.name, o.dir);
  return std::nullopt;
}

}  // namespace rayk::cli
