// The GCS with many nodes (issue 19 item 9): thousands of simulated raylets
// against a real GCS server process, over the real transport (the default
// configuration's, authenticated, as clusters run). Up to
// --nodes-per-process (1,000) nodes share one simulator process; a larger
// cluster is split over several, since each node holds two connections of
// the process's one transport (zmq allows 4,096 sockets) and about eight
// descriptors (a process may open 20,000 here).
//
//   build/bin/gcs_scale_bench [--nodes 1000,5000] [--window 10] [--probes 5]
//                             [--nodes-per-process 1000] [--rayk PATH]
//
// Each simulated raylet does what a real idle one does towards the GCS: it
// registers (kRegisterNode), subscribes to the cluster view's changes (topic
// "view", its own subscription), and sends a heartbeat report
// (kReportResources) every node timeout / kHeartbeatsPerNodeTimeout. For each
// cluster size it prints:
//   - the time to register every node (all registrations pipelined);
//   - the GCS's CPU over a window of steady heartbeats (utime + stime of its
//     process, per second of wall time: 1.00 is one core busy);
//   - the time for a change of one node's resources to reach every node's
//     subscription (from the report to the last node that saw it: median
//     and slowest of --probes changes).
// The GCS runs with its defaults (the sqlite store, in a temporary session
// folder this program removes), started as `rayk gcs-server` is by `rayk start`.
// --rayk runs another build's `rayk` (default: this build's), to compare two
// builds' GCS servers against the same simulator.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/lease_policy.h"
#include "process/cluster_secret.h"
#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"
#include "rpc/protocol.h"

namespace {

using Clock = std::chrono::steady_clock;
using rayk::protocol::MessageType;

// The node timeout of a cluster's defaults (GcsServer::Options): heartbeats
// come every eighth of it.
constexpr auto kNodeTimeout = std::chrono::milliseconds(10000);

// The GCS running now, for Fail to stop and remove on the way out.
pid_t running_gcs = -1;
std::string running_session;
std::vector<pid_t> running_shards;  // the coordinator's simulator processes

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "gcs_scale_bench: %s\n", message.c_str());
  for (pid_t shard : running_shards) kill(shard, SIGKILL);
  if (running_gcs > 0) {
    kill(running_gcs, SIGKILL);
    int status = 0;
    waitpid(running_gcs, &status, 0);
  }
  std::error_code ignored;
  if (!running_session.empty()) std::filesystem::remove_all(running_session, ignored);
  std::exit(1);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::string stat = ReadWhole("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) Fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A `rayk gcs-server` in a temporary session folder, stopped and removed
// when this goes.
class GcsProcess {
 public:
  GcsProcess(const std::string& rayk, const std::string& secret) {
    char folder[] = "/tmp/rayk-gcs-scale-XXXXXX";
    if (mkdtemp(folder) == nullptr) Fail("cannot make a temporary folder");
    session_ = folder;
    running_session = session_;
    std::filesystem::create_directories(session_ + "/logs");
    std::fflush(stdout);  // or the child would print what is buffered again
    pid_ = fork();
    if (pid_ < 0) Fail("fork failed");
    if (pid_ == 0) {
      setenv(rayk::kAuthTokenEnv, secret.c_str(), 1);
      std::string log = session_ + "/logs/gcs_server.out";
      FILE* out = std::freopen(log.c_str(), "w", stdout);
      (void)out;
      dup2(STDOUT_FILENO, STDERR_FILENO);
      execl(rayk.c_str(), rayk.c_str(), "gcs-server", "--session-dir", session_.c_str(), "--port",
            "0", "--publisher-port", "0", "--metrics-port", "-1", "--node-ip-address", "127.0.0.1",
            "--exit-with-parent", static_cast<char*>(nullptr));
      _exit(127);
    }
    running_gcs = pid_;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!std::filesystem::exists(session_ + "/gcs_address")) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = running_gcs = -1;
        Fail("the GCS server exited at start: " + ReadWhole(session_ + "/logs/gcs_server.out"));
      }
      if (Clock::now() > deadline) Fail("the GCS server did not start within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    address_ = Endpoint(ReadWhole(session_ + "/gcs_address"));
    publisher_ = Endpoint(ReadWhole(session_ + "/gcs_publisher_address"));
  }
  ~GcsProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(session_, ignored);
    running_gcs = -1;
    running_session.clear();
  }
  pid_t pid() const { return pid_; }
  const std::string& session() const { return session_; }
  const std::string& address() const { return address_; }
  const std::string& publisher() const { return publisher_; }

 private:
  static std::string Endpoint(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.rfind("tcp://", 0) == 0 ? text : "tcp://" + text;
  }

  std::string session_;
  pid_t pid_ = -1;
  std::string address_;
  std::string publisher_;
};

// Deliveries of the view's changes, counted per probe.
struct ProbeCounter {
  std::mutex mu;
  std::condition_variable cv;
  double marker = -1;  // the available CPU of node 0 the probe looks for
  int seen = 0;
  Clock::time_point last;
};

struct SimulatedNode {
  rayk::protocol::NodeInfo info;
  std::unique_ptr<rayk::Channel> channel;
  std::unique_ptr<rayk::Subscription> subscription;
  bool saw_marker = false;  // of the current probe; with ProbeCounter::mu
};

rayk::protocol::NodeInfo MakeNodeInfo(int index) {
  rayk::protocol::NodeInfo info;
  info.node_id = rayk::NodeId::FromRandom();
  info.raylet_address = "tcp://127.0.0.1:" + std::to_string(20000 + index % 40000);
  info.total = rayk::ResourceSet{{"CPU", 2.0}};
  info.available = info.total;
  info.labels = {{"simulated", std::to_string(index)}};
  info.pid = getpid();
  return info;
}

int64_t Nanos(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

// One line from the coordinator's pipe (blocking); "" at its end.
std::string ReadLine(FILE* in) {
  char line[256];
  if (std::fgets(line, sizeof(line), in) == nullptr) return "";
  return line;
}

// A simulator process: nodes [first, first + count) of the cluster, node 0
// being the one whose resources the probes change. It answers the
// coordinator's commands on `in` with lines on `out`:
//   (at start)      -> "registered <register s> <subscribe s>"
//   "probe <marker>" -> ("sent <ns>" from the shard with node 0) "seen <count> <last ns>"
//   "stop"          -> exits
// Times are CLOCK_MONOTONIC (steady_clock), comparable between the
// processes of one machine.
[[noreturn]] void RunShard(int first, int count, const std::string& gcs_address,
                           const std::string& publisher, const std::string& secret, FILE* in,
                           FILE* out) {
  auto config = rayk::Config::LoadDefault("");
  if (!config.ok()) Fail(config.status().message());
  config->SelectPlugin(rayk::PluginKind::kTransport, "zmq");
  rayk::PluginLoader loader(config->plugin_path());
  rayk::PluginContext context;
  context.cluster_secret = secret;
  // One transport, as a raylet has: each node holds two of its sockets (a
  // channel and a subscription), within its default max_sockets of 4,096.
  auto created = loader.CreateSlot<rayk::Transport>(*config, context);
  if (!created.ok()) Fail(created.status().message());
  std::shared_ptr<rayk::Transport> transport = *created;

  std::vector<std::unique_ptr<SimulatedNode>> nodes;
  nodes.reserve(count);
  // Heartbeats, spread evenly over the period, from one thread, to each
  // node from the moment it is registered: the GCS marks a node that stays
  // silent for its node timeout dead, and registering thousands takes longer.
  std::atomic<bool> stop{false};
  std::atomic<int> reporting{0};  // nodes [0, reporting) are registered
  std::mutex report_mu;           // node 0's info changes during probes
  const auto period = kNodeTimeout / rayk::kHeartbeatsPerNodeTimeout;
  std::thread heartbeats([&] {
    auto next = Clock::now();
    const auto step = std::chrono::duration_cast<Clock::duration>(period) / count;
    for (int i = 0; !stop.load(); i = (i + 1) % count) {
      next += step;
      std::this_thread::sleep_until(next);
      if (i >= reporting.load()) continue;
      std::string report;
      {
        std::lock_guard<std::mutex> lock(report_mu);
        report = rayk::protocol::Encode(MessageType::kReportResources,
                                        rayk::protocol::ReportResources{nodes[i]->info});
      }
      (void)nodes[i]->channel->Send(std::move(report));
    }
  });

  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto node = std::make_unique<SimulatedNode>();
    node->info = MakeNodeInfo(first + i);
    auto channel = transport->Connect(gcs_address);
    if (!channel.ok())
      Fail("node " + std::to_string(first + i) + ": " + channel.status().message());
    node->channel = std::move(*channel);
    node->channel->Call(
        rayk::protocol::Encode(MessageType::kRegisterNode,
                               rayk::protocol::RegisterNode{node->info}),
        [&](rayk::Result<std::string> reply) {
          if (!reply.ok()) ++refused;
          ++answered;
        },
        std::chrono::seconds(120));
    nodes.push_back(std::move(node));  // reserved: no reallocation under the heartbeats
    reporting.store(i + 1);
  }
  while (answered.load() < count) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double register_s = SecondsSince(start);
  if (refused.load() > 0) Fail(std::to_string(refused.load()) + " registrations failed");

  // The probe node's id, which every shard learns from the first delta that
  // carries node 0 ("simulated" = "0").
  ProbeCounter counter;
  start = Clock::now();
  for (int i = 0; i < count; ++i) {
    SimulatedNode* node = nodes[i].get();
    auto subscription = transport->Subscribe(
        publisher, {rayk::protocol::kViewTopic},
        [node, &counter](const std::string&, std::string payload) {
          auto delta = rayk::protocol::Decode<rayk::protocol::ClusterViewDelta>(payload);
          if (!delta.ok()) return;
          std::lock_guard<std::mutex> lock(counter.mu);
          if (node->saw_marker || counter.marker < 0) return;
          for (const auto& info : delta->nodes) {
            auto label = info.labels.find("simulated");
            if (label != info.labels.end() && label->second == "0" &&
                info.available.Get("CPU") == counter.marker) {
              node->saw_marker = true;
              ++counter.seen;
              counter.last = Clock::now();
              counter.cv.notify_all();
            }
          }
        });
    if (!subscription.ok()) Fail(subscription.status().message());
    node->subscription = std::move(*subscription);
  }
  const double subscribe_s = SecondsSince(start);
  std::fprintf(out, "registered %.3f %.3f\n", register_s, subscribe_s);
  std::fflush(out);

  for (std::string command = ReadLine(in); command.rfind("probe ", 0) == 0;
       command = ReadLine(in)) {
    const double marker = std::atof(command.c_str() + 6);
    {
      std::lock_guard<std::mutex> lock(counter.mu);
      counter.marker = marker;
      counter.seen = 0;
      for (auto& node : nodes) node->saw_marker = false;
    }
    if (first == 0) {
      std::string report;
      {
        std::lock_guard<std::mutex> lock(report_mu);
        nodes[0]->info.available = rayk::ResourceSet{{"CPU", marker}};
        report = rayk::protocol::Encode(MessageType::kReportResources,
                                        rayk::protocol::ReportResources{nodes[0]->info});
      }
      std::fprintf(out, "sent %lld\n", static_cast<long long>(Nanos(Clock::now())));
      std::fflush(out);
      (void)nodes[0]->channel->Send(std::move(report));
    }
    std::unique_lock<std::mutex> lock(counter.mu);
    counter.cv.wait_for(lock, std::chrono::seconds(60), [&] { return counter.seen == count; });
    std::fprintf(out, "seen %d %lld\n", counter.seen, static_cast<long long>(Nanos(counter.last)));
    std::fflush(out);
    counter.marker = -1;
  }
  stop = true;
  heartbeats.join();
  for (auto& node : nodes) node->subscription.reset();
  nodes.clear();
  std::_Exit(0);
}

// A shard process and the coordinator's ends of its pipes.
struct Shard {
  pid_t pid = -1;
  FILE* to = nullptr;    // commands
  FILE* from = nullptr;  // answers
};

// The fields of the next answer of `shard`, which must begin with `word`.
std::vector<std::string> Expect(Shard& shard, const std::string& word) {
  std::string line = ReadLine(shard.from);
  std::istringstream fields(line);
  std::vector<std::string> out;
  for (std::string field; fields >> field;) out.push_back(field);
  if (out.empty() || out[0] != word) {
    Fail("a simulator process answered '" + line + "' where '" + word +
         "' was expected (it may have failed: see its message above)");
  }
  return out;
}

void RunSize(const std::string& rayk, int num_nodes, double window_s, int probes,
             int nodes_per_process, const std::string& secret) {
  GcsProcess gcs(rayk, secret);
  // Descriptors bound how many nodes one process can simulate (each holds
  // about eight: two zmq sockets with their wake-up eventfds and connections),
  // so large clusters are split over several simulator processes.
  std::vector<Shard> shards;
  for (int first = 0; first < num_nodes; first += nodes_per_process) {
    const int count = std::min(nodes_per_process, num_nodes - first);
    int commands[2];
    int answers[2];
    if (pipe(commands) != 0 || pipe(answers) != 0) Fail("pipe failed");
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) Fail("fork failed");
    if (pid == 0) {
      close(commands[1]);
      close(answers[0]);
      running_gcs = -1;  // the coordinator's to stop
      running_session.clear();
      running_shards.clear();
      RunShard(first, count, gcs.address(), gcs.publisher(), secret, fdopen(commands[0], "r"),
               fdopen(answers[1], "w"));
    }
    close(commands[0]);
    close(answers[1]);
    running_shards.push_back(pid);
    shards.push_back({pid, fdopen(commands[1], "w"), fdopen(answers[0], "r")});
  }
  double register_s = 0;
  double subscribe_s = 0;
  for (Shard& shard : shards) {
    auto fields = Expect(shard, "registered");
    register_s = std::max(register_s, std::stod(fields.at(1)));
    subscribe_s = std::max(subscribe_s, std::stod(fields.at(2)));
  }

  // Let every node's first heartbeat land, then measure the GCS at rest.
  const auto period = kNodeTimeout / rayk::kHeartbeatsPerNodeTimeout;
  std::this_thread::sleep_for(period + std::chrono::seconds(1));
  const double cpu_before = CpuSeconds(gcs.pid());
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
  const double gcs_cores = (CpuSeconds(gcs.pid()) - cpu_before) / SecondsSince(start);

  // Propagation: node 0's available CPU changes; every node waits for it.
  std::vector<double> reach_ms;
  int missed = 0;
  // Probe -1 is a warm-up, not counted: a subscription's connection (its
  // CURVE handshake with the GCS's publisher) may still be on its way when
  // Subscribe returns, and the probes measure the view's path, not that.
  for (int probe = -1; probe < probes; ++probe) {
    const double marker = (probe % 2 == 0) ? 1.0 : 2.0;
    for (Shard& shard : shards) {
      std::fprintf(shard.to, "probe %.1f\n", marker);
      std::fflush(shard.to);
    }
    const int64_t sent = std::stoll(Expect(shards[0], "sent").at(1));
    int64_t last = sent;
    int seen = 0;
    for (Shard& shard : shards) {
      auto fields = Expect(shard, "seen");
      seen += std::stoi(fields.at(1));
      last = std::max<int64_t>(last, std::stoll(fields.at(2)));
    }
    if (probe < 0) continue;
    if (seen < num_nodes) ++missed;
    reach_ms.push_back(static_cast<double>(last - sent) / 1e6);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  for (Shard& shard : shards) {
    std::fprintf(shard.to, "stop\n");
    std::fclose(shard.to);
    int status = 0;
    waitpid(shard.pid, &status, 0);
    std::fclose(shard.from);
  }
  running_shards.clear();
  if (missed > 0) {
    // What the GCS said, to tell a slow view from a broken one.
    for (const char* file : {"/logs/gcs_server.out", "/logs/gcs_server.log"}) {
      std::string log = ReadWhole(gcs.session() + file);
      if (log.size() > 2000) log = log.substr(log.size() - 2000);
      std::fprintf(stderr, "gcs_scale_bench: the end of %s:\n%s\n", file, log.c_str());
    }
  }
  std::sort(reach_ms.begin(), reach_ms.end());
  std::string note =
      missed > 0 ? std::to_string(missed) + " probe(s) did not reach every node in 60 s" : "";
  std::printf("%7d %9zu %13.2f %13.2f %13.3f %15.1f %15.1f %s\n", num_nodes, shards.size(),
              register_s, subscribe_s, gcs_cores, reach_ms[reach_ms.size() / 2], reach_ms.back(),
              note.c_str());
  std::fflush(stdout);
}

std::vector<int> ParseSizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    int size = std::atoi(item.c_str());
    if (size < 1)
      Fail("--nodes takes a comma-separated list of positive counts, not '" + text + "'");
    sizes.push_back(size);
  }
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {1000, 5000};
  double window_s = 10;
  int probes = 5;
  int nodes_per_process = 1000;  // two sockets each: within one transport's 4,096
  std::string rayk = RAYK_CLI_PATH;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Fail(flag + " needs a value; see the comment atop bench/gcs_scale_bench.cc");
    std::string value = argv[++i];
    if (flag == "--nodes") {
      sizes = ParseSizes(value);
    } else if (flag == "--window") {
      window_s = std::atof(value.c_str());
      if (window_s <= 0) Fail("--window takes seconds, more than 0");
    } else if (flag == "--probes") {
      probes = std::atoi(value.c_str());
      if (probes < 1) Fail("--probes takes a count, at least 1");
    } else if (flag == "--nodes-per-process") {
      nodes_per_process = std::atoi(value.c_str());
      if (nodes_per_process < 1 || nodes_per_process > 2000)
        Fail(
            "--nodes-per-process takes a count from 1 to 2000 (two sockets each, in one "
            "transport)");
    } else if (flag == "--rayk") {
      rayk = value;
      if (access(rayk.c_str(), X_OK) != 0)
        Fail("--rayk " + rayk + " is not an executable; give the path of a built rayk command");
    } else {
      Fail("unknown flag " + flag +
           "; the flags are --nodes, --window, --probes, --nodes-per-process and --rayk");
    }
  }
  signal(SIGPIPE, SIG_IGN);
  // Each simulated node holds a few descriptors here and two connections in
  // the GCS (which inherits this limit): 5,000 nodes need more than 1,024.
  // Root may raise the hard limit too; others get what the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    rlimit wanted{std::max<rlim_t>(files.rlim_cur, 200000),
                  std::max<rlim_t>(files.rlim_max, 200000)};
    if (setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
      files.rlim_cur = files.rlim_max;
      (void)setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  auto secret = rayk::NewClusterSecret();
  if (!secret.ok()) Fail(secret.status().message());
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("GCS server: %s gcs-server\n", rayk.c_str());
  std::printf(
      "simulated raylets against one GCS (heartbeat every %lld ms, window %.0f s, %d probes; "
      "load average %.2f %.2f %.2f)\n",
      static_cast<long long>(
          std::chrono::milliseconds(kNodeTimeout / rayk::kHeartbeatsPerNodeTimeout).count()),
      window_s, probes, load[0], load[1], load[2]);
  std::printf("%7s %9s %13s %13s %13s %15s %15s\n", "nodes", "processes", "register (s)",
              "subscribe (s)", "GCS cores", "reach p50 (ms)", "reach max (ms)");
  for (int size : sizes) RunSize(rayk, size, window_s, probes, nodes_per_process, *secret);
  return 0;
}
