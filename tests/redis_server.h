// RedisServer: a real redis-server (Debian's package) for the tests of the
// redis gcs plugin, on a free loopback port with its files in a temporary
// folder. It keeps an append-only file (fsynced per write) and no RDB
// snapshots, so a SIGKILLed server restarted on the same folder reloads every
// acknowledged write. The server is stopped when the object goes, and dies
// with the test process should that crash (PR_SET_PDEATHSIG), so a failed
// test leaves neither a process nor a folder behind. Start and restart it
// from the test's main thread: the kernel sends PR_SET_PDEATHSIG when the
// thread that forked the server ends, not only the process.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "test_util.h"

namespace rayk::testing {

class RedisServer {
 public:
  // `extra` are more redis-server options ("--requirepass", "secret", ...).
  explicit RedisServer(std::vector<std::string> extra = {})
      : port_(FreePort()), extra_(std::move(extra)) {
    Start();
  }
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }

  // SIGKILLs the server, as a crash of its machine would (its append-only
  // file keeps what it acknowledged).
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  // Starts it again on the same port and folder: it reloads its append-only file.
  void Restart() {
    Kill();
    Start();
  }

  // Runs redis-cli against the server; its output, one reply per line.
  std::string Cli(const std::string& args, const std::string& password = "") const {
    std::string auth = password.empty() ? "" : "--no-auth-warning -a " + password + " ";
    return RunCommand("redis-cli -p " + std::to_string(port_) + " " + auth + args).output;
  }

 private:
  void Start() {
    std::vector<std::string> args = {"/usr/bin/redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.path(),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always",
                                     "--logfile",
                                     dir_.path() + "/log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Up when it answers PING ("+PONG", or "-NOAUTH" with a password).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Answers()) return;
      if (!ProcessRunning(pid_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) +
                             "; see " + dir_.path() + "/log");
  }

  bool Answers() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    bool up = false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
      char reply[64] = {};
      up = recv(fd, reply, sizeof(reply) - 1, 0) > 0 &&
           (std::string(reply).rfind("+PONG", 0) == 0 ||
            std::string(reply).rfind("-NOAUTH", 0) == 0);
    }
    close(fd);
    return up;
  }

  TempDir dir_;
  int port_;
  std::vector<std::string> extra_;
  pid_t pid_ = 0;
};

}  // namespace rayk::testing
