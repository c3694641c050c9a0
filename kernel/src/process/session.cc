#include "process/session.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace rayk {

namespace fs = std::filesystem;

namespace {

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool OwnedFolder(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

// Opens `path` for writing with mode 0600 (O_NOFOLLOW: a planted link is not followed).
int OpenPrivate(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  // open() applies the umask only to a new file; an old one keeps its mode.
  if (fd >= 0) fchmod(fd, 0600);
  return fd;
}

}  // namespace

std::string SessionRoot() {
  const char* root = std::getenv("RAYK_SESSION_ROOT");
  if (root && *root) return root;
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime && *runtime && OwnedFolder(runtime)) return std::string(runtime) + "/rayk";
  return "/tmp/rayk-" + std::to_string(geteuid());
}

Status EnsureSessionRoot(const std::string& root) {
  std::error_code ec;
  fs::path parent = fs::path(root).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create the session root " + root + ": " + std::strerror(errno) +
                           "; set RAYK_SESSION_ROOT to a folder you can write");
  }
  struct stat st {};
  if (lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("the session root " + root +
                                   " is not a folder (a link or a file?); remove it, or set "
                                   "RAYK_SESSION_ROOT to a folder of your own");
  }
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::InvalidArgument(
        "the session root " + root + " is owned by uid " + std::to_string(st.st_uid) +
        " with mode " + OctalMode(st.st_mode) + "; rayk keeps sessions only in a folder owned by " +
        "you (uid " + std::to_string(geteuid()) + ") that group and others cannot write: remove " +
        "it (or chmod 700 it), or set RAYK_SESSION_ROOT to such a folder");
  }
  return Status::Ok();
}

Result<std::string> CreateSessionDir() {
  const std::string root = SessionRoot();
  RAYK_RETURN_IF_ERROR(EnsureSessionRoot(root));
  std::time_t now = std::time(nullptr);
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H-%M-%S", std::localtime(&now));
  // Two sessions started in the same second by one process still differ.
  static std::atomic<int> counter{0};
  std::string dir =
      root + "/session_" + stamp + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  for (const std::string& folder : {dir, dir + "/logs"}) {
    if (mkdir(folder.c_str(), 0700) != 0) {
      return Status::IoError("cannot create the session folder " + folder + ": " +
                             std::strerror(errno) + "; set RAYK_SESSION_ROOT to a writable folder");
    }
  }
  std::error_code ec;
  std::string latest = root + "/session_latest";
  std::string temp = latest + ".tmp" + std::to_string(getpid());
  fs::remove(temp, ec);
  fs::create_directory_symlink(dir, temp, ec);
  if (!ec) fs::rename(temp, latest, ec);
  return dir;
}

Result<std::string> LatestSessionDir() {
  const std::string root = SessionRoot();
  std::string latest = root + "/session_latest";
  std::error_code ec;
  // A root someone else controls could point the link at their own pids file.
  if (fs::exists(root, ec)) RAYK_RETURN_IF_ERROR(EnsureSessionRoot(root));
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
                           bool new_session, const std::vector<std::string>& extra_env,
                           const std::string& err_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // No O_CLOEXEC here: this is the child's stdout, which must survive exec.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (err_file.empty()) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
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
        return Status::Unavailable("process " + std::to_string(watched) +
                                   " exited before it was ready; its log " + log_file +
                                   " ends: " + TailOfFile(log_file, 3));
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut("gave up after " + std::to_string(timeout.count()) +
                              " ms waiting for " + path + "; see " + log_file + ": " +
                              TailOfFile(log_file, 3));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  std::string temp = path + ".tmp" + std::to_string(getpid());
  int fd = OpenPrivate(temp, O_TRUNC);
  if (fd < 0) return Status::IoError("cannot write " + temp + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (written < contents.size()) return Status::IoError("cannot write " + temp + ": disk full?");
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
  int fd = OpenPrivate(path, O_APPEND);
  if (fd < 0) return;
  std::string text = line + "\n";
  // One write: O_APPEND keeps lines from concurrent writers whole.
  (void)!write(fd, text.data(), text.size());
  close(fd);
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
  char state = ProcessState(pid);
  return state != 0 && state != 'Z';
}

char ProcessState(pid_t pid) {
  if (pid <= 0) return 0;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return 0;
  // The command name (field 2) may hold spaces and parentheses: the state is
  // the first field after its closing parenthesis.
  size_t name_end = stat->rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat->size()) return 0;
  return (*stat)[name_end + 2];
}

Result<ProcessIdentity> ReadProcessIdentity(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  auto stat = ReadFile(proc + "/stat");
  std::error_code ec;
  fs::path exe = fs::read_symlink(proc + "/exe", ec);
  if (!stat.ok() || ec || pid <= 0) return Status::NotFound("no process " + std::to_string(pid));
  // The command name (field 2) may hold spaces and parentheses: count fields
  // after its closing parenthesis; the start time is field 22.
  size_t name_end = stat->rfind(')');
  if (name_end == std::string::npos) return Status::NotFound("no process " + std::to_string(pid));
  std::istringstream fields(stat->substr(name_end + 1));
  std::string field;
  for (int i = 3; i < 22 && fields >> field; ++i) {
  }
  ProcessIdentity identity;
  if (!(fields >> identity.start_time)) {
    return Status::NotFound("no process " + std::to_string(pid));
  }
  identity.executable = exe.string();
  // A rebuilt executable shows as deleted in running processes.
  const std::string deleted = " (deleted)";
  if (identity.executable.ends_with(deleted)) {
    identity.executable.resize(identity.executable.size() - deleted.size());
  }
  return identity;
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
