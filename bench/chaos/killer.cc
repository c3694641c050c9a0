#include "killer.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "segment.h"  // plugins/store/shm: ReapOrphanedSegments

namespace rayk::chaos {

namespace {

using Clock = std::chrono::steady_clock;

// A raylet of the cluster, as its node.json records it.
struct Raylet {
  std::string node_id;
  pid_t pid = 0;
};

std::vector<Raylet> Raylets(const std::string& session_dir) {
  std::vector<Raylet> raylets;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(session_dir + "/nodes", ec)) {
    std::ifstream file(entry.path() / "node.json");
    auto json = nlohmann::json::parse(file, nullptr, false);
    if (!json.is_object() || !json.contains("pid") || !json.contains("node_id")) continue;
    raylets.push_back({json["node_id"].get<std::string>(), json["pid"].get<pid_t>()});
  }
  return raylets;
}

pid_t GcsServerPid(const std::string& session_dir) {
  std::ifstream file(session_dir + "/gcs_server.pid");
  long pid = 0;
  return file >> pid ? static_cast<pid_t>(pid) : 0;
}

// Waits (up to `patience`) for `pid` to be gone; true if it is.
bool AwaitExit(pid_t pid, std::chrono::milliseconds patience) {
  for (auto deadline = Clock::now() + patience; Running(pid);) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

std::vector<pid_t> ProcessesOf(const std::string& text, const std::string& role) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream file(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) == std::string::npos) continue;
    if (!role.empty()) {
      // argv[1], between the first two NULs.
      size_t first = cmdline.find('\0');
      size_t second = first == std::string::npos ? first : cmdline.find('\0', first + 1);
      if (second == std::string::npos || cmdline.substr(first + 1, second - first - 1) != role) {
        continue;
      }
    }
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid != getpid() && Running(pid)) pids.push_back(pid);
  }
  return pids;
}

bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  const char state = close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 'X';
  return state != 'Z' && state != 'X';
}

Killer::Killer(KillerOptions options) : options_(std::move(options)) {
  random_ = options_.seed != 0 ? options_.seed
                               : static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

Killer::~Killer() { Stop(); }

void Killer::Start() {
  thread_ = std::thread([this] { Run(); });
}

KillCounts Killer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return Counts();
}

KillCounts Killer::Counts() {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

bool Killer::Sleep(std::chrono::milliseconds how_long) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, how_long, [this] { return stopping_; });
}

void Killer::Run() {
  // Each kind runs on its own schedule; one thread does them in turn, so a
  // raylet is never killed while the GCS is coming back (add-node would wait
  // for it) and two kills never race.
  const auto start = Clock::now();
  auto next_worker = start + options_.worker_period;
  auto next_raylet = start + options_.raylet_period;
  auto next_gcs = start + options_.gcs_period;
  auto reached = [](int count, int limit) { return limit >= 0 && count >= limit; };
  while (Sleep(std::chrono::milliseconds(20))) {
    KillCounts counts = Counts();
    const bool workers_done = reached(counts.workers, options_.max_worker_kills);
    const bool raylets_done = reached(counts.raylets, options_.max_raylet_kills);
    const bool gcs_done = reached(counts.gcs, options_.gcs_kills);
    done_ = (options_.max_worker_kills >= 0 || options_.max_raylet_kills >= 0) && workers_done &&
            raylets_done && gcs_done;
    const auto now = Clock::now();
    if (!gcs_done && now >= next_gcs) {
      KillGcs();
      next_gcs = Clock::now() + options_.gcs_period;
    } else if (!raylets_done && now >= next_raylet) {
      KillRaylet();
      next_raylet = Clock::now() + options_.raylet_period;
    } else if (!workers_done && now >= next_worker) {
      KillWorker();
      next_worker += options_.worker_period;
      if (next_worker < now) next_worker = now + options_.worker_period;
    }
  }
}

void Killer::KillWorker() {
  std::vector<pid_t> workers = ProcessesOf(options_.session_dir, "worker");
  if (workers.empty()) return;  // none runs at the moment: nothing to do
  random_ = random_ * 6364136223846793005ULL + 1442695040888963407ULL;
  const pid_t pid = workers[(random_ >> 33) % workers.size()];
  if (kill(pid, SIGKILL) == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.workers;
  }
}

void Killer::KillRaylet() {
  std::vector<Raylet> candidates;
  for (const Raylet& raylet : Raylets(options_.session_dir)) {
    if (raylet.node_id != options_.spare_node_id && Running(raylet.pid)) {
      candidates.push_back(raylet);
    }
  }
  if (candidates.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_.errors.push_back("no raylet to kill but the driver's");
    return;
  }
  random_ = random_ * 6364136223846793005ULL + 1442695040888963407ULL;
  const Raylet victim = candidates[(random_ >> 33) % candidates.size()];
  if (kill(victim.pid, SIGKILL) != 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.raylets;
  }
  AwaitExit(victim.pid, std::chrono::seconds(30));
  std::string error = options_.add_node ? options_.add_node() : "no add_node given";
  std::lock_guard<std::mutex> lock(mu_);
  if (error.empty()) {
    ++counts_.nodes_added;
  } else {
    counts_.errors.push_back("adding a node after killing node " + victim.node_id.substr(0, 8) +
                             ": " + error);
  }
}

void Killer::KillGcs() {
  const pid_t old_pid = GcsServerPid(options_.session_dir);
  if (old_pid <= 0 || !Running(old_pid) || kill(old_pid, SIGKILL) != 0) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_.errors.push_back(
        "no running GCS server to kill (gcs_server.pid: " + std::to_string(old_pid) + ")");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.gcs;
  }
  // Its supervisor starts a new one, which records its pid once it serves.
  for (auto deadline = Clock::now() + std::chrono::seconds(60); Clock::now() < deadline;) {
    const pid_t pid = GcsServerPid(options_.session_dir);
    if (pid > 0 && pid != old_pid && Running(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::lock_guard<std::mutex> lock(mu_);
  counts_.errors.push_back("the GCS server killed (pid " + std::to_string(old_pid) +
                           ") was not restarted within 60 s");
}

Watchdog::Watchdog(std::string session_root, std::chrono::milliseconds after, std::string what) {
  thread_ =
      std::thread([this, session_root = std::move(session_root), after, what = std::move(what)] {
        std::unique_lock<std::mutex> lock(mu_);
        if (wake_.wait_for(lock, after, [this] { return disarmed_; })) return;
        std::fprintf(stderr,
                     "chaos: %s still runs after %lld s, a hang: killing the cluster's processes "
                     "and exiting\n",
                     what.c_str(), static_cast<long long>(after.count() / 1000));
        for (int round = 0; round < 3; ++round) {
          for (pid_t pid : ProcessesOf(session_root)) kill(pid, SIGKILL);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        rayk::shm::ReapOrphanedSegments();
        std::error_code ec;
        std::filesystem::remove_all(session_root, ec);
        std::fflush(stdout);
        _exit(3);
      });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    disarmed_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace rayk::chaos
