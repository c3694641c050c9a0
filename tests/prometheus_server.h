// PrometheusServer: a real Prometheus server (Debian's `prometheus`) for the
// test of the head's metrics, scraping the given targets every second, on a
// free loopback port with its configuration and data in a temporary folder.
// The server is stopped when the object goes and dies with the test process
// should that crash (PR_SET_PDEATHSIG), so a failed test leaves neither a
// process nor a folder behind. Start it from the test's main thread (the
// kernel sends PR_SET_PDEATHSIG when the forking thread ends).
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "http_client.h"
#include "test_util.h"

namespace rayk::testing {

class PrometheusServer {
 public:
  static constexpr char kBinary[] = "/usr/bin/prometheus";
  static bool Installed() { return access(kBinary, X_OK) == 0; }

  // Scrapes `targets` (HOST:PORT, path /metrics) as job `job`.
  PrometheusServer(const std::string& job, const std::vector<std::string>& targets)
      : port_(FreePort()) {
    std::string list;
    for (const auto& target : targets) list += (list.empty() ? "'" : ", '") + target + "'";
    config_ = dir_.Write("prometheus.yml",
                         "global:\n"
                         "  scrape_interval: 1s\n"
                         "  scrape_timeout: 1s\n"
                         "scrape_configs:\n"
                         "  - job_name: '" +
                             job +
                             "'\n"
                             "    static_configs:\n"
                             "      - targets: [" +
                             list + "]\n");
    Start();
  }
  ~PrometheusServer() { Stop(); }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  std::string log() const {
    std::ifstream file(dir_.path() + "/log");
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

  // GET /api/v1/query?query=QUERY (URL-encoded here): the "result" array of
  // an instant query, or null if the server did not answer with success.
  nlohmann::json Query(const std::string& query) const {
    auto reply = HttpCall("127.0.0.1", port_, "GET", "/api/v1/query?query=" + UrlEncode(query));
    if (reply.status != 200) return nullptr;
    auto json = nlohmann::json::parse(reply.body, nullptr, false);
    if (json.is_discarded() || json["status"] != "success") return nullptr;
    return json["data"]["result"];
  }

  // Polls Query until one series of its result has `value`, or `patience`
  // passes; the last result, for the failure message.
  nlohmann::json WaitForValue(const std::string& query, const std::string& value,
                              std::chrono::seconds patience) const {
    auto deadline = std::chrono::steady_clock::now() + patience;
    nlohmann::json result;
    while (std::chrono::steady_clock::now() < deadline) {
      result = Query(query);
      if (result.is_array()) {
        for (const auto& series : result) {
          if (series["value"][1] == value) return result;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return result;
  }

 private:
  static std::string UrlEncode(const std::string& text) {
    std::string out;
    const char* hex = "0123456789ABCDEF";
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }

  void Start() {
    std::vector<std::string> args = {
        kBinary, "--config.file=" + config_, "--storage.tsdb.path=" + dir_.path() + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::string log_path = dir_.path() + "/log";
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      // Its own working folder: Prometheus writes nothing outside it then.
      if (chdir(dir_.path().c_str()) != 0) _exit(1);
      FILE* out = freopen(log_path.c_str(), "w", stdout);
      if (out == nullptr || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Ready when /-/ready answers 200.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (HttpCall("127.0.0.1", port_, "GET", "/-/ready").status == 200) return;
      if (!ProcessRunning(pid_)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Stop();
    std::string why = log();
    throw std::runtime_error("prometheus did not become ready on port " + std::to_string(port_) +
                             ": " + why);
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    // It flushes its head block on SIGTERM; a stuck one is killed.
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  int port_;
  TempDir dir_;
  std::string config_;
  pid_t pid_ = 0;
};

}  // namespace rayk::testing
