// The machine's floors, to read rayk's figures against: what no runtime on
// this machine can beat.
//
//   memcpy_gigabytes_per_second  one thread copying a 256 MiB buffer, counted
//                                in the gigabytes of `ray microbenchmark`
//                                (1 = 1000 MiB), the same unit as the put cases
//   transport_rtt_us             a request/reply round trip through the
//                                transport slot (the plugin plugins.toml
//                                selects, asio by default; inproc is refused as it
//                                cannot cross processes) to a server in another
//                                process on tcp loopback: median over calls
//   transport_pipelined_calls_per_second
//                                the same calls with 1000 in flight at a time
//   transport_large_gigabytes_per_second
//                                8 MiB requests echoed back (both ways counted)
// Then the same three for each transport plugin side by side, named
// <figure>.<plugin> (zmq, asio), to compare them in one run.
//
//   build/bin/baseline [seconds]     # seconds per measurement, default 2
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rayk/host/config.h"
#include "rayk/host/plugin_loader.h"
#include "rayk/plugin/transport.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::milliseconds(5000);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "baseline: %s\n", message.c_str());
  std::exit(1);
}

double MemcpyGigabytesPerSecond(double seconds) {
  constexpr size_t kBytes = 256u << 20;
  std::vector<char> from(kBytes, 1), to(kBytes, 0);  // both touched: no page faults while timed
  int64_t copies = 0;
  auto start = Clock::now();
  while (SecondsSince(start) < seconds) {
    std::memcpy(to.data(), from.data(), kBytes);
    from[copies % kBytes] =
        static_cast<char>(to[(copies * 4099) % kBytes] + 1);  // keep the copies live
    ++copies;
  }
  const double elapsed = SecondsSince(start);
  return copies * static_cast<double>(kBytes) / (1000.0 * (1 << 20)) / elapsed;
}

// The plugins measured side by side.
const char* const kPlugins[] = {"zmq", "asio"};

// The transport plugin plugins.toml selects (zmq when it is inproc).
std::string DefaultPlugin() {
  auto config = rayk::Config::LoadDefault("");
  if (!config.ok()) Fail(config.status().message());
  const std::string plugin = config->slot(rayk::PluginKind::kTransport).plugin;
  return plugin == "inproc" ? "zmq" : plugin;
}

std::shared_ptr<rayk::Transport> CreateTransport(const std::string& plugin) {
  auto config = rayk::Config::LoadDefault("");
  if (!config.ok()) Fail(config.status().message());
  config->SelectPlugin(rayk::PluginKind::kTransport, plugin);
  rayk::PluginLoader loader(config->plugin_path());
  // Both ends are this program's: a secret of its own, so that the floor is
  // measured with authentication and encryption on, as clusters run.
  rayk::PluginContext context;
  context.cluster_secret = "rayk-baseline-benchmark-secret";
  auto transport = loader.CreateSlot<rayk::Transport>(*config, context);
  if (!transport.ok()) Fail(transport.status().message());
  return *transport;
}

// The child: an echo server whose endpoint goes up `pipe_fd`; runs until killed.
[[noreturn]] void ServeEcho(const std::string& plugin, int pipe_fd) {
  std::shared_ptr<rayk::Transport> transport = CreateTransport(plugin);
  auto server = transport->Serve("tcp://127.0.0.1:0", [](std::string message, rayk::ReplyFn reply) {
    if (reply) reply(std::move(message));
  });
  if (!server.ok()) Fail(server.status().message());
  std::string endpoint = (*server)->endpoint() + "\n";
  if (write(pipe_fd, endpoint.data(), endpoint.size()) != static_cast<ssize_t>(endpoint.size()))
    Fail("pipe");
  for (;;) pause();
}

// An echo server of `plugin` in a child process; its endpoint.
std::string ForkEchoServer(const std::string& plugin, pid_t* child) {
  int fds[2];
  if (pipe(fds) != 0) Fail("pipe");
  *child = fork();
  if (*child < 0) Fail("fork");
  if (*child == 0) {
    close(fds[0]);
    ServeEcho(plugin, fds[1]);
  }
  close(fds[1]);
  std::string endpoint;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') endpoint += c;
  close(fds[0]);
  if (endpoint.empty()) Fail("the " + plugin + " echo server did not start");
  return endpoint;
}

struct TransportFigures {
  double rtt_us = 0;
  double pipelined_per_second = 0;
  double large_gigabytes_per_second = 0;
};

TransportFigures MeasureTransport(const std::string& plugin, const std::string& endpoint,
                                  double seconds) {
  TransportFigures figures;
  std::shared_ptr<rayk::Transport> transport = CreateTransport(plugin);
  auto channel = transport->Connect(endpoint);
  if (!channel.ok()) Fail(channel.status().message());
  const std::string request(64, 'x');  // about a small task's size

  // Sync round trips.
  std::vector<double> rtts;
  for (int i = 0; i < 200; ++i) (void)(*channel)->CallSync(request, kTimeout);  // warm up
  auto start = Clock::now();
  while (SecondsSince(start) < seconds) {
    auto call = Clock::now();
    auto reply = (*channel)->CallSync(request, kTimeout);
    if (!reply.ok()) Fail(reply.status().message());
    rtts.push_back(SecondsSince(call) * 1e6);
  }
  std::sort(rtts.begin(), rtts.end());
  figures.rtt_us = rtts[rtts.size() / 2];

  // Pipelined calls: batches of 1000 in flight.
  constexpr int kBatch = 1000;
  int64_t calls = 0;
  start = Clock::now();
  while (SecondsSince(start) < seconds) {
    std::atomic<int> left{kBatch};
    std::atomic<bool> failed{false};
    for (int i = 0; i < kBatch; ++i) {
      (*channel)->Call(
          request,
          [&](rayk::Result<std::string> reply) {
            if (!reply.ok()) failed = true;
            if (left.fetch_sub(1) == 1) left.notify_one();
          },
          kTimeout);
    }
    for (int now = left.load(); now != 0; now = left.load()) left.wait(now);
    if (failed) Fail("a pipelined call failed");
    calls += kBatch;
  }
  figures.pipelined_per_second = calls / SecondsSince(start);

  // Large messages: 8 MiB each way, one at a time (a fresh copy per call, as
  // a caller hands its buffer over).
  const std::string large(8u << 20, 'y');
  int64_t bytes = 0;
  start = Clock::now();
  while (SecondsSince(start) < seconds) {
    auto reply = (*channel)->CallSync(large, kTimeout);
    if (!reply.ok() || reply->size() != large.size()) Fail("a large call failed");
    bytes += 2 * static_cast<int64_t>(large.size());
  }
  figures.large_gigabytes_per_second = bytes / (1000.0 * (1 << 20)) / SecondsSince(start);
  channel->reset();
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (!(seconds > 0)) Fail("the seconds per measurement must be more than 0");

  std::printf("memcpy_gigabytes_per_second %.2f\n", MemcpyGigabytesPerSecond(seconds));
  std::fflush(stdout);

  // Fork every echo server before any transport exists: ZeroMQ contexts do
  // not survive fork.
  std::vector<std::pair<std::string, pid_t>> children;
  std::vector<std::string> endpoints;
  for (const char* plugin : kPlugins) {
    pid_t child;
    endpoints.push_back(ForkEchoServer(plugin, &child));
    children.emplace_back(plugin, child);
  }
  const std::string default_plugin = DefaultPlugin();
  for (size_t i = 0; i < children.size(); ++i) {
    const std::string& plugin = children[i].first;
    TransportFigures figures = MeasureTransport(plugin, endpoints[i], seconds);
    if (plugin == default_plugin) {
      std::printf("transport_rtt_us %.1f\n", figures.rtt_us);
      std::printf("transport_pipelined_calls_per_second %.0f\n", figures.pipelined_per_second);
      std::printf("transport_large_gigabytes_per_second %.2f\n",
                  figures.large_gigabytes_per_second);
    }
    std::printf("transport_rtt_us.%s %.1f\n", plugin.c_str(), figures.rtt_us);
    std::printf("transport_pipelined_calls_per_second.%s %.0f\n", plugin.c_str(),
                figures.pipelined_per_second);
    std::printf("transport_large_gigabytes_per_second.%s %.2f\n", plugin.c_str(),
                figures.large_gigabytes_per_second);
    std::fflush(stdout);
  }
  for (const auto& [plugin, child] : children) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  return 0;
}
