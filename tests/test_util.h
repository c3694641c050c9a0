// Small helpers shared by the test suites: temporary folders, files, and
// running the rayk command as a user would.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace rayk::testing {

// A fresh folder under /tmp, removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rayk_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and collects what it printed.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The plugins.toml of a test's cluster: $RAYK_CONFIG when set (to run the
// integration tests on other plugins, e.g. `[transport] plugin = "zmq"`; the
// `rayk` commands the tests run read it too), else the source tree's.
inline std::string TestConfigFile() {
  if (const char* file = std::getenv("RAYK_CONFIG"); file != nullptr && *file != '\0') {
    return file;
  }
  return std::string(RAYK_SOURCE_DIR) + "/plugins.toml";
}

// Runs the rayk command built in this tree.
inline CommandResult RunRayk(const std::string& args) {
  return RunCommand(std::string(RAYK_CLI_PATH) + " " + args);
}

// Counts the lines of `text` (a one-line error has exactly one).
// Whether process `pid` runs: it exists and is neither a zombie nor dead
// (a daemon's zombie lingers when nothing reaps orphans).
inline bool ProcessRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t close = line.rfind(')');
  char state = close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 'X';
  return state != 'Z' && state != 'X';
}

// Calls `done` every 200 ms until it returns true or `patience` has passed;
// returns its last answer. For state that arrives on its own schedule (task
// events reach the GCS about once a second): assert the state, not the time.
template <class Done>
bool PollUntil(Done done, std::chrono::milliseconds patience = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

inline int CountLines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

// Live processes (not zombies) whose command line mentions `text` (and `also`).
inline std::vector<pid_t> ProcessesMentioning(const std::string& text,
                                              const std::string& also = "") {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find(text) == std::string::npos || args.find(also) == std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string pid, name, state;
    stat >> pid >> name >> state;
    if (state != "Z" && !pid.empty()) pids.push_back(static_cast<pid_t>(std::stol(pid)));
  }
  return pids;
}

inline int CountProcessesMentioning(const std::string& text, const std::string& also = "") {
  return static_cast<int>(ProcessesMentioning(text, also).size());
}

// The message of what `call` throws, or "" when it does not throw.
template <class F>
std::string ErrorOf(F call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace rayk::testing
