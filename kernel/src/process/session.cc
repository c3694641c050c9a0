#include "process/session.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/dll/runtime_symbol_info.hpp>

extern char** environ;

namespace rayk {

namespace fs = std::filesystem;

std::string SessionRoot() {
  const char* root = std::getenv("RAYK_SESSION_ROOT");
  return root && *root ? root : "/tmp/rayk";
}

Result<std::string> CreateSessionDir() {
  std::time_t now = std::time(nullptr);
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H-%M-%S", std::localtime(&now));
  // Two sessions started in the same second by one process still differ.
  static std::atomic<int> counter{0};
  std::string dir = SessionRoot() + "/session_" + stamp + "_" + std::to_string(getpid()) + "_" +
                    std::to_string(counter++);
  std::error_code ec;
  fs::create_directories(dir + "/logs", ec);
  if (ec) {
    return Status::IoError("cannot create the session folder " + dir + ": " + ec.message() +
                           "; set RAYK_SESSION_ROOT to a writable folder");
  }
  std::string latest = SessionRoot() + "/session_latest";
  std::string temp = latest + ".tmp" + std::to_string(getpid());
  fs::remove(temp, ec);
  fs::create_directory_symlink(dir, temp, ec);
  if (!ec) fs::rename(temp, latest, ec);
  return dir;
}

Result<std::string> LatestSessionDir() {
  std::string latest = SessionRoot() + "/session_latest";
  std::error_code ec;
  fs::path target = fs::read_symlink(latest, ec);
  if (ec) {
    return Status::NotFound("no rayk session found at " + latest +
                            "; start a cluster with 'rayk start --head' or pass --address");
  }
  return target.string();
}

Result<std::string> RaykExecutable() {
  if (const char* env = std::getenv("RAYK_EXECUTABLE")) return std::string(env);
  boost::dll::fs::error_code ec;
  fs::path kernel = boost::dll::this_line_location(ec);
  if (!ec) {
    fs::path candidate = kernel.parent_path().parent_path() / "bin" / "rayk";
    if (fs::exists(candidate)) return candidate.string();
  }
  return Status::NotFound("cannot find the 'rayk' executable beside " + kernel.string() +
                          "; set RAYK_EXECUTABLE to its path");
}

namespace {

// This process's environment with `extra` ("NAME=VALUE") added or replacing
// variables of the same name. The strings live in `storage`.
std::vector<char*> ChildEnvironment(const std::vector<std::string>& extra,
                                    std::vector<std::string>* storage) {
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> replaced;
  for (const std::string& entry : extra) replaced.push_back(name_of(entry));
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (std::find(replaced.begin(), replaced.end(), name_of(entry)) == replaced.end()) {
      storage->push_back(std::move(entry));
    }
  }
  storage->insert(storage->end(), extra.begin(), extra.end());
  std::vector<char*> pointers;
  for (std::string& entry : *storage) pointers.push_back(entry.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const std::string& log_file,
                           bool new_session, const std::vector<std::string>& extra_env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  std::vector<std::string> env_storage;
  std::vector<char*> env = ChildEnvironment(extra_env, &env_storage);
  int error = posix_spawn(&pid, args[0], &actions, &attr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (error != 0) {
    return Status::IoError("cannot start " + argv[0] + ": " + std::strerror(error));
  }
  return pid;
}

Result<std::string> WaitForFile(const std::string& path, std::chrono::milliseconds timeout,
                                pid_t watched, const std::string& log_file) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (true) {
    auto contents = ReadFile(path);
    if (contents.ok() && !contents->empty()) return contents;
    if (watched > 0) {
      int status = 0;
      if (waitpid(watched, &status, WNOHANG) == watched || !ProcessAlive(watched)) {
        return Status::Unavailable("process " + std::to_string(watched) + " exited before it was ready; its log " +
                                   log_file + " ends: " + TailOfFile(log_file, 3));
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut("gave up after " + std::to_string(timeout.count()) + " ms waiting for " + path +
                              "; see " + log_file + ": " + TailOfFile(log_file, 3));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  std::string temp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << contents;
    if (!out) return Status::IoError("cannot write " + temp);
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) return Status::IoError("cannot rename " + temp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void AppendLine(const std::string& path, const std::string& line) {
  std::ofstream(path, std::ios::app) << line << "\n";
}

std::string TailOfFile(const std::string& path, int max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : " | ") + line;
  return out.empty() ? "(empty)" : out;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  // A zombie still answers kill(0); read its state.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  stat >> skip >> skip >> state;
  return state != "Z";
}

void TerminateProcess(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return;
    if (!ProcessAlive(pid)) {
      waitpid(pid, &status, WNOHANG);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace rayk
